package store

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/s2"
)

// The sorter is the external sort of a rebuild (rebuild.go): every write
// of the blocks loaded goes into a buffer, which is sorted by key and
// written to a run file when full; the runs are merged into one stream in
// key order at the end. Writes to one key fold in the order they came:
// the last set or delete wins, and an add adds its counters (metering rows,
// five big-endian integers) to what the key held before. Runs are merged
// in tiers of sorterFanIn, so that however many there are, a merge reads
// at most sorterFanIn runs per tier at once and each write is rewritten
// only once per tier.

// The kinds of write.
const (
	opSet byte = iota + 1
	opDel
	opAdd
)

// sorterFanIn is how many runs of one tier are merged into one of the next:
// a merge reads a block of each at once (sorterBlock, about 150 KiB with
// its buffers), so at most a few times 10 MiB, and 10M transactions (some
// 1,700 runs of 32 MiB) rewrite each write once before the last merge.
const sorterFanIn = 64

// sorterBlock is the size of the compressed blocks of a run file: what a
// reader of a run holds in memory, twice (compressed and not).
const sorterBlock = 64 << 10

type sortRun struct {
	path string
	tier int
}

type sorter struct {
	dir   string
	limit int // bytes of writes held in one buffer before it is written as a run

	cur   *held        // being filled
	spare *held        // the buffer the last run was written from, for the next
	busy  chan spilled // the run being written in the background, nil when none

	// The runs and the names of their files: the spiller's while one is
	// busy, the caller's after wait.
	runs []sortRun
	seq  int
}

// held is a buffer of writes: op, key length, value length, key, value.
type held struct {
	buf  []byte
	offs []heldKey // each write held, in the order it came
}

type spilled struct {
	h   *held
	err error
}

// newSorter makes a sorter holding at most limit bytes of writes in
// memory: two buffers of half that, one filled while the other is sorted
// and written on another goroutine (and so on the second core).
func newSorter(dir string, limit int) (*sorter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sorter: %w", err)
	}
	return &sorter{dir: dir, limit: max(limit/2, 1)}, nil
}

// add holds one write; a full buffer is written as a run in the
// background, once the run before it is.
func (s *sorter) add(op byte, key, val []byte) error {
	h := s.cur
	if h == nil { // whole at once: a buffer grown by doubling would hold its old copy meanwhile
		h = &held{buf: make([]byte, 0, s.limit+64<<10)}
		s.cur = h
	}
	h.offs = append(h.offs, heldKey{prefix: keyPrefix(key), off: uint32(len(h.buf))})
	h.buf = append(h.buf, op)
	h.buf = binary.AppendUvarint(h.buf, uint64(len(key)))
	h.buf = binary.AppendUvarint(h.buf, uint64(len(val)))
	h.buf = append(h.buf, key...)
	h.buf = append(h.buf, val...)
	if len(h.buf) < s.limit {
		return nil
	}
	if err := s.wait(); err != nil {
		return err
	}
	s.cur, s.spare = s.spare, nil
	ch := make(chan spilled, 1)
	s.busy = ch
	go func() { ch <- spilled{h, s.spill(h)} }()
	return nil
}

// wait waits for the run being written, if any, and keeps its buffer.
func (s *sorter) wait() error {
	if s.busy == nil {
		return nil
	}
	r := <-s.busy
	s.busy = nil
	r.h.buf, r.h.offs = r.h.buf[:0], r.h.offs[:0]
	s.spare = r.h
	return r.err
}

// at decodes the write held at off.
func (h *held) at(off uint32) (op byte, key, val []byte) {
	b := h.buf[off:]
	op = b[0]
	kl, n := binary.Uvarint(b[1:])
	vl, m := binary.Uvarint(b[1+n:])
	b = b[1+n+m:]
	return op, b[:kl], b[kl : kl+vl]
}

// spill writes the writes h holds as one run, sorted by key, each key's
// writes folded into one, and merges runs of a tier that is full.
func (s *sorter) spill(h *held) error {
	if len(h.offs) == 0 {
		return nil
	}
	// By key, and for one key in the order the writes came (their offsets
	// grow): most keys differ in their first eight bytes' word, compared
	// without decoding the writes.
	slices.SortFunc(h.offs, func(a, b heldKey) int {
		if a.prefix != b.prefix {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		_, ka, _ := h.at(a.off)
		_, kb, _ := h.at(b.off)
		if c := bytes.Compare(ka, kb); c != 0 {
			return c
		}
		return int(a.off) - int(b.off)
	})
	w, err := s.create(0)
	if err != nil {
		return err
	}
	var cur entry
	for i, hk := range h.offs {
		op, key, val := h.at(hk.off)
		if i > 0 && bytes.Equal(key, cur.key) {
			if err := cur.fold(op, val); err != nil {
				w.abort()
				return err
			}
			continue
		}
		if i > 0 {
			if err := w.write(cur); err != nil {
				w.abort()
				return err
			}
		}
		cur = entry{op: op, key: key, val: append(cur.val[:0], val...)}
	}
	if err := w.write(cur); err != nil {
		w.abort()
		return err
	}
	if err := w.close(); err != nil {
		return err
	}
	return s.mergeTiers()
}

// mergeTiers merges the runs of any tier that holds sorterFanIn of them
// into one run of the next tier, in place of the first of them: runs stay
// in the order of their writes.
func (s *sorter) mergeTiers() error {
	for {
		tier, first, n := -1, 0, 0
		for i, r := range s.runs {
			if i == 0 || r.tier != s.runs[i-1].tier {
				first, n = i, 0
			}
			if n++; n == sorterFanIn {
				tier = r.tier
				break
			}
		}
		if tier < 0 {
			return nil
		}
		group := s.runs[first : first+sorterFanIn]
		m, err := s.openMerge(group)
		if err != nil {
			return err
		}
		w, err := s.createRun()
		if err != nil {
			m.close()
			return err
		}
		for m.next() {
			if err := w.write(m.cur); err != nil {
				m.close()
				w.abort()
				return err
			}
		}
		m.close()
		if m.err != nil {
			w.abort()
			return m.err
		}
		if err := w.close(); err != nil {
			return err
		}
		for _, r := range group {
			os.Remove(r.path)
		}
		merged := sortRun{path: w.path, tier: tier + 1}
		s.runs = slices.Concat(s.runs[:first], []sortRun{merged}, s.runs[first+sorterFanIn:])
	}
}

// each hands fn every key in order with its folded value, after writing
// what the buffer holds; deleted keys are left out. The runs stay: each
// may be called again.
func (s *sorter) each(fn func(key, val []byte) error) error {
	if err := s.wait(); err != nil {
		return err
	}
	if s.cur != nil {
		if err := s.spill(s.cur); err != nil {
			return err
		}
	}
	s.cur, s.spare = nil, nil // the merge holds only its runs' blocks
	m, err := s.openMerge(s.runs)
	if err != nil {
		return err
	}
	defer m.close()
	for m.next() {
		if m.cur.op == opDel {
			continue
		}
		if err := fn(m.cur.key, m.cur.val); err != nil {
			return err
		}
	}
	return m.err
}

// heldKey is one write held: where it is in the buffer, and the first
// eight bytes of its key as a number, which orders most keys alone.
type heldKey struct {
	prefix uint64
	off    uint32
}

// keyPrefix is the first eight bytes of key, big-endian, zero-padded.
func keyPrefix(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

// entry is one key's writes folded.
type entry struct {
	op       byte
	key, val []byte
}

// fold applies a later write to the key to e.
func (e *entry) fold(op byte, val []byte) error {
	switch op {
	case opSet, opDel:
		e.op, e.val = op, append(e.val[:0], val...)
	case opAdd:
		if e.op == opDel {
			e.op, e.val = opSet, append(e.val[:0], val...)
			return nil
		}
		if len(val) != len(e.val) || len(val)%8 != 0 {
			return fmt.Errorf("sorter: counters of %d bytes added to %d at %q", len(val), len(e.val), e.key)
		}
		for i := 0; i < len(val); i += 8 {
			binary.BigEndian.PutUint64(e.val[i:], binary.BigEndian.Uint64(e.val[i:])+binary.BigEndian.Uint64(val[i:]))
		}
	default:
		return fmt.Errorf("sorter: unknown write kind %d at %q", op, e.key)
	}
	return nil
}

// runWriter writes one run file.
type runWriter struct {
	path string
	f    *os.File
	z    *s2.Writer
	b    *bufio.Writer
	hdr  []byte
}

func (s *sorter) create(tier int) (*runWriter, error) {
	w, err := s.createRun()
	if err != nil {
		return nil, err
	}
	s.runs = append(s.runs, sortRun{path: w.path, tier: tier})
	return w, nil
}

func (s *sorter) createRun() (*runWriter, error) {
	s.seq++
	path := filepath.Join(s.dir, fmt.Sprintf("run-%06d", s.seq))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("sorter: %w", err)
	}
	z := s2.NewWriter(f, s2.WriterBlockSize(sorterBlock), s2.WriterConcurrency(1))
	return &runWriter{path: path, f: f, z: z, b: bufio.NewWriterSize(z, sorterBlock)}, nil
}

func (w *runWriter) write(e entry) error {
	w.hdr = append(w.hdr[:0], e.op)
	w.hdr = binary.AppendUvarint(w.hdr, uint64(len(e.key)))
	w.hdr = binary.AppendUvarint(w.hdr, uint64(len(e.val)))
	w.b.Write(w.hdr)
	w.b.Write(e.key)
	_, err := w.b.Write(e.val)
	return err
}

func (w *runWriter) close() error {
	err := errors.Join(w.b.Flush(), w.z.Close(), w.f.Close())
	if err != nil {
		os.Remove(w.path)
		return fmt.Errorf("sorter: write %s: %w", w.path, err)
	}
	return nil
}

func (w *runWriter) abort() {
	w.z.Close()
	w.f.Close()
	os.Remove(w.path)
}

// runReader reads one run file, one entry at a time.
type runReader struct {
	f   *os.File
	b   *bufio.Reader
	cur entry
	idx int // the run's place among those merged: earlier writes first
}

func (r *runReader) next() (bool, error) {
	op, err := r.b.ReadByte()
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	kl, err := binary.ReadUvarint(r.b)
	if err != nil {
		return false, err
	}
	vl, err := binary.ReadUvarint(r.b)
	if err != nil {
		return false, err
	}
	r.cur.op = op
	r.cur.key = slices.Grow(r.cur.key[:0], int(kl))[:kl]
	r.cur.val = slices.Grow(r.cur.val[:0], int(vl))[:vl]
	if _, err := io.ReadFull(r.b, r.cur.key); err != nil {
		return false, err
	}
	if _, err := io.ReadFull(r.b, r.cur.val); err != nil {
		return false, err
	}
	return true, nil
}

// merge is a k-way merge of runs: each key once, its writes folded in the
// runs' order.
type merge struct {
	h   runHeap
	all []*runReader
	cur entry
	err error
}

func (s *sorter) openMerge(runs []sortRun) (*merge, error) {
	m := &merge{}
	for i, run := range runs {
		f, err := os.Open(run.path)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("sorter: %w", err)
		}
		r := &runReader{f: f, b: bufio.NewReaderSize(s2.NewReader(f, s2.ReaderMaxBlockSize(sorterBlock)), 16<<10), idx: i}
		m.all = append(m.all, r)
		ok, err := r.next()
		if err != nil {
			m.close()
			return nil, fmt.Errorf("sorter: read %s: %w", run.path, err)
		}
		if ok {
			m.h = append(m.h, r)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// next folds the smallest key's writes into m.cur; false at the end or on
// an error (m.err).
func (m *merge) next() bool {
	if m.err != nil || len(m.h) == 0 {
		return false
	}
	top := m.h[0]
	m.cur = entry{op: top.cur.op, key: append(m.cur.key[:0], top.cur.key...), val: append(m.cur.val[:0], top.cur.val...)}
	first := true
	for len(m.h) > 0 && bytes.Equal(m.h[0].cur.key, m.cur.key) {
		r := m.h[0]
		if !first {
			if err := m.cur.fold(r.cur.op, r.cur.val); err != nil {
				m.err = err
				return false
			}
		}
		first = false
		ok, err := r.next()
		if err != nil {
			m.err = fmt.Errorf("sorter: read run: %w", err)
			return false
		}
		if ok {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
	}
	return true
}

func (m *merge) close() {
	for _, r := range m.all {
		r.f.Close()
	}
}

// runHeap orders the runs by their current key, then by their place: a
// key's writes are folded in the order they were made.
type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].cur.key, h[j].cur.key); c != 0 {
		return c < 0
	}
	return h[i].idx < h[j].idx
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}
