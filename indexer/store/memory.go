package store

import (
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// DefaultMemoryLimitMB is the resident set an indexer is held to unless
// configured otherwise, at any ledger size.
const DefaultMemoryLimitMB = 256

// MemoryBudget shares one bound on the indexer's resident set among
// Badger's parts and the Go runtime; indexer/README.md says why each part
// gets what it gets. Every figure scales with the bound, within limits
// that keep Badger working (a memtable must hold the largest block).
type MemoryBudget struct {
	LimitMB int
	// GoLimit is the Go runtime's soft memory limit (debug.SetMemoryLimit):
	// the heap, which holds Badger's memtables, caches and table builders
	// (Badger's allocator is plain Go memory without the jemalloc build tag).
	GoLimit int64
	// FileRSS is how many resident pages of the mirror's mapped files
	// (Badger's tables and value log) the trimmer lets the process keep:
	// the rest of the bound, beyond the Go limit.
	FileRSS int64

	MemTableSize   int64
	NumMemtables   int
	BlockCacheSize int64
	IndexCacheSize int64
	BaseTableSize  int64
	NumCompactors  int
	L0Tables       int
	L0Stall        int
	// Uncompressed writes tables without Snappy (the loading options).
	Uncompressed bool
}

// Budget derives the Badger options and the Go limit from a bound in MiB
// (DefaultMemoryLimitMB when not positive).
func Budget(limitMB int) MemoryBudget {
	if limitMB <= 0 {
		limitMB = DefaultMemoryLimitMB
	}
	total := int64(limitMB) << 20
	clamp := func(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }
	b := MemoryBudget{
		LimitMB: limitMB,
		GoLimit: total * 5 / 8,
		// A memtable costs 1.3 times its size in Go heap (Badger's arena
		// adds room for one more batch), as much again in its mapped
		// write-ahead log, and about 6 times its size while it is flushed
		// (the level 0 table builder holds the table uncompressed and
		// compressed, in buffers that double as they fill); with one
		// waiting to be flushed, three can be alive. 8 MiB at the default
		// bound: a transaction may then hold 1.2 MiB (Badger's 15%), some
		// 200 of our transactions; a bigger block is applied in parts.
		MemTableSize:   clamp(total/32, 4<<20, 64<<20),
		NumMemtables:   1,
		BlockCacheSize: clamp(total/16, 4<<20, 256<<20),
		// Without an index cache Badger keeps every table's index and
		// Bloom filter in memory: that is what grows with the ledger.
		IndexCacheSize: clamp(total/32, 2<<20, 128<<20),
		// A compaction builds up to 8 tables at once (plus one per split of
		// its key range), each holding about twice its size: tables of one
		// size at every level (TableSizeMultiplier 1), or a compaction into
		// level 6 of a 10-million-transaction mirror would build 64 MiB ones.
		BaseTableSize: 2 << 20,
		NumCompactors: 2,
		L0Tables:      2,
		L0Stall:       8,
	}
	b.FileRSS = total - b.GoLimit
	return b
}

// loading is the budget's options while a mirror loads (bulk.go): the
// same bound, spent on fewer compactions. Level 0 may hold more tables
// before it is compacted into level 1, so that each compaction merges more
// at once: with our keys spread over the whole key space (transaction IDs,
// entity IDs, metering rows), every level-0 compaction rewrites most of
// level 1, and its cost is per compaction, not per table. Memtables are
// half the size (not below 4 MiB) and level 0 holds twice as many (32,
// writes stall at 64): the same data per compaction, but each flush's table
// builder is half as big, and Badger keeps up to 8 spent builders' buffers
// for reuse (its allocator pool), so their size is what the heap holds
// between flushes (indexer/README.md, "Rebuilds from genesis").
func (b MemoryBudget) loading() MemoryBudget {
	if b.MemTableSize >= 8<<20 {
		b.MemTableSize /= 2
		b.L0Tables, b.L0Stall = 32, 64
	} else {
		b.L0Tables, b.L0Stall = 16, 32
	}
	b.BaseTableSize /= 2
	return b
}

// rebuilding is the Go share and the mapped files' share of the bound
// while a sorted rebuild runs (rebuild.go): it maps little (the hooks'
// small Badger, then the tables it writes), and its heap is what its
// collector works against: at 1M transactions the Go share's 5/8 kept
// the collector at 30% of the CPU, 3/4 halved that. The trimmer then pages
// out from an eighth of the bound.
func (b MemoryBudget) rebuilding() (goLimit, fileRSS int64) {
	total := int64(b.LimitMB) << 20
	return total * 3 / 4, total / 4
}

// sortBuffer is how many bytes of writes a rebuild's sorter holds before
// it writes a run (rebuild.go): an eighth of the bound, 32 MiB at the
// default, within the Go share beside the hooks' Badger and the decoding.
func (b MemoryBudget) sortBuffer() int {
	if sortBufferForTests > 0 {
		return sortBufferForTests
	}
	return int(max(4<<20, min(int64(b.LimitMB)<<20/8, 256<<20)))
}

// sortBufferForTests, when set, is every sorter's buffer: tests make runs
// of a few writes, to merge many of them in tiers.
var sortBufferForTests int

// hooksOptions are the options of a rebuild's Badger of the hooks' keys
// (the scores' points, the watch's entries): a few MiB of writes a
// block at most, so the smallest memtables and caches that hold one.
func (b MemoryBudget) hooksOptions(dir string) badger.Options {
	h := b
	h.MemTableSize, h.BlockCacheSize, h.IndexCacheSize, h.BaseTableSize = 2<<20, 4<<20, 2<<20, 512<<10
	h.L0Tables, h.L0Stall = 4, 16
	// The scores' points (about 140 KB each) go to the value log: in the
	// tree, a compaction's table builders would hold each point's blocks
	// in buffers doubled to a quarter MiB.
	return h.apply(badger.DefaultOptions(dir).WithNumVersionsToKeep(1)).WithValueThreshold(1 << 10)
}

// apply sets the budget's figures on Badger's options.
func (b MemoryBudget) apply(bo badger.Options) badger.Options {
	bo = bo.WithMemTableSize(b.MemTableSize).
		WithNumMemtables(b.NumMemtables).
		WithBlockCacheSize(b.BlockCacheSize).
		WithIndexCacheSize(b.IndexCacheSize).
		WithBaseTableSize(b.BaseTableSize).
		WithNumCompactors(b.NumCompactors).
		WithNumLevelZeroTables(b.L0Tables).
		WithNumLevelZeroTablesStall(b.L0Stall)
	bo.TableSizeMultiplier = 1 // no With method in Badger v4
	if b.Uncompressed {
		bo = bo.WithCompression(options.None)
	}
	// One writer, the follower, applies the blocks: no transaction can
	// conflict with another, so Badger need not track what each one read.
	bo = bo.WithDetectConflicts(false)
	// Badger refuses values kept in the LSM tree that are larger than one
	// transaction may be: keep the threshold below the memtable's limit.
	// Our values (entity states, events) are a few KiB, so all of them
	// stay in the tree, where reads and compactions find them in order.
	if limit := b.MemTableSize * 15 / 100 / 2; limit < bo.ValueThreshold {
		bo = bo.WithValueThreshold(limit)
	}
	return bo
}
