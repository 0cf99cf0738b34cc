package store

import "testing"

// TestBudget: every part scales with the bound and the parts add up to it.
func TestBudget(t *testing.T) {
	tests := []struct {
		name     string
		mb       int
		wantMB   int
		memtable int64
	}{
		{"default", 0, DefaultMemoryLimitMB, 8 << 20},
		{"small", 64, 64, 4 << 20},
		{"large", 4096, 4096, 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Budget(tt.mb)
			if b.LimitMB != tt.wantMB || b.MemTableSize != tt.memtable {
				t.Fatalf("budget %+v", b)
			}
			if b.GoLimit+b.FileRSS != int64(tt.wantMB)<<20 || b.GoLimit <= 0 || b.FileRSS <= 0 {
				t.Fatalf("the parts do not add up to the bound: %+v", b)
			}
			// Three memtables (one filling, one queued, one flushing), the caches and room
			// for the table builders must fit the Go share.
			heap := 3*b.MemTableSize*13/10 + b.BlockCacheSize + b.IndexCacheSize
			if heap > b.GoLimit*3/4 {
				t.Fatalf("Badger's heap %d MiB leaves too little of the Go limit %d MiB", heap>>20, b.GoLimit>>20)
			}
			if b.IndexCacheSize <= 0 {
				t.Fatal("no index cache: every table's index would stay in memory")
			}
		})
	}
}
