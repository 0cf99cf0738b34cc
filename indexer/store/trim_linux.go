package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim the range's pages now.
// Unlike MADV_DONTNEED it never changes what the memory holds: file pages
// are written back if dirty, dropped, and read back from the file when next
// touched; anonymous ones are left alone without swap (swapped out with
// it), so a range that was unmapped and reused between reading
// /proc/self/maps and the call loses nothing.
const madvPageout = 21

// trimmer returns the resident pages of the mirror's mapped files to the
// kernel once they exceed a budget. Badger maps every table and value log
// file and writes new tables through the mapping: without this, every page
// of every table the process wrote or compacted stays in its resident set,
// which then grows with the ledger (a fresh 100,000-transaction mirror:
// 200 MB of it), although the kernel could drop those pages at any time.
type trimmer struct {
	dirs   []string     // the mirror's folder and a rebuild's scratch (rebuild.go), with a separator
	budget atomic.Int64 // bytes of mapped file pages allowed
}

// setBudget changes how many bytes of mapped file pages are allowed.
func (t *trimmer) setBudget(n int64) { t.budget.Store(n) }

func newTrimmer(dir string, budget int64) (*trimmer, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	t := &trimmer{dirs: []string{abs + string(filepath.Separator), abs + rebuildSuffix + string(filepath.Separator)}}
	t.budget.Store(budget)
	return t, nil
}

// trim pages out the mirror's tables, value log and memtable logs when the process's
// mapped file pages exceed the budget; it returns how many bytes of
// mappings it advised, 0 when under budget.
func (t *trimmer) trim() (int64, error) {
	// Compactions read and write tables faster than one trim per tick
	// keeps up with: trim from half the budget, so that the other half
	// absorbs what comes between two ticks.
	file, err := rssFile()
	if err != nil || file <= t.budget.Load()/2 {
		return 0, err
	}
	raw, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	var advised int64
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		// 7f..-7f.. rw-s 00000000 fd:01 1234   /path/000012.sst
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		path := strings.Join(f[5:], " ")
		if !slices.ContainsFunc(t.dirs, func(d string) bool { return strings.HasPrefix(path, d) }) || !(strings.HasSuffix(path, ".sst") || strings.HasSuffix(path, ".vlog") || strings.HasSuffix(path, ".mem")) {
			continue
		}
		from, to, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(from, 16, 64)
		end, err2 := strconv.ParseUint(to, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout)
		switch {
		case errno == 0:
			advised += int64(end - start)
		case errno == syscall.EINVAL:
			return advised, errTrimUnsupported
		case errno == syscall.ENOMEM:
			// Unmapped meanwhile: Badger deleted the table.
		default:
			return advised, fmt.Errorf("madvise %s: %w", path, errno)
		}
	}
	return advised, sc.Err()
}

var errTrimUnsupported = errors.New("this kernel has no MADV_PAGEOUT (Linux 5.4)")

// rssFile is the process's resident file-backed pages (RssFile), in bytes.
func rssFile() (int64, error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no RssFile in /proc/self/status")
}
