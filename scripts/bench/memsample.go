package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memSampler reads a process's memory every interval and keeps the largest
// resident set seen in each phase of the benchmark: VmHWM tells how high a
// process went, not when.
type memSampler struct {
	pid   int
	mu    sync.Mutex
	phase string
	order []string
	peaks map[string]procMem
	stop  chan struct{}
	done  chan struct{}
}

func startMemSampler(pid int, every time.Duration, phase string) *memSampler {
	s := &memSampler{pid: pid, phase: phase, order: []string{phase}, peaks: map[string]procMem{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *memSampler) sample() {
	m, err := readMem(s.pid, "")
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.RSS > s.peaks[s.phase].RSS {
		s.peaks[s.phase] = m
	}
}

// Phase names what comes next.
func (s *memSampler) Phase(p string) {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.peaks[p]; !seen {
		s.order = append(s.order, p)
	}
	s.phase = p
}

// phasePeak is the largest resident set sampled in one phase.
type phasePeak struct {
	Phase string
	Mem   procMem
}

// Stop ends the sampling and returns each phase's peak, in phase order.
func (s *memSampler) Stop() []phasePeak {
	s.sample()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []phasePeak
	for _, p := range s.order {
		out = append(out, phasePeak{Phase: p, Mem: s.peaks[p]})
	}
	return out
}

// cpuTicks is the CPU time a process has used, in clock ticks (utime +
// stime from /proc/<pid>/stat).
func cpuTicks(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) starts.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return utime + stime, nil
}

// waitIdle waits until the process has used under 5% of one CPU over a
// whole second, or for at most max; it reports how long it waited.
func waitIdle(pid int, max time.Duration) (time.Duration, error) {
	const tick = 100 // clock ticks per second (USER_HZ)
	start := time.Now()
	prev, err := cpuTicks(pid)
	if err != nil {
		return 0, err
	}
	for time.Since(start) < max {
		time.Sleep(time.Second)
		cur, err := cpuTicks(pid)
		if err != nil {
			return time.Since(start), err
		}
		if cur-prev < tick/20 {
			return time.Since(start), nil
		}
		prev = cur
	}
	return time.Since(start), fmt.Errorf("still busy after %s", max)
}
