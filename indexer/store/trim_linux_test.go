package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestTrimmer maps a file under the mirror's folder, touches its pages and
// has the trimmer page them out: the mapping's content is unchanged.
func TestTrimmer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "000001.sst")
	const size = 8 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	sum := 0
	for i := 0; i < size; i += 4096 {
		sum += int(m[i])
	}
	tr, err := newTrimmer(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	advised, err := tr.trim()
	if err == errTrimUnsupported {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if advised < size {
		t.Fatalf("advised %d bytes, want at least the %d mapped", advised, size)
	}
	for i := range m {
		if m[i] != byte(i*7) {
			t.Fatalf("byte %d changed after the trim", i)
		}
	}
	// Under budget, nothing is done.
	tr.setBudget(1 << 40)
	if advised, err := tr.trim(); err != nil || advised != 0 {
		t.Fatalf("under budget: advised %d, %v", advised, err)
	}
	_ = sum
}
