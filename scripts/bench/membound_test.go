package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/store"
)

// The memory-bound measurement runs only when asked for, with the size of
// the synthetic ledger: GOVSHARE_MEMBOUND_TXS=100000 go test -run
// TestMemoryBound -v -timeout 30m ./scripts/bench. It needs no consortium:
// it builds the benchmark's synthetic ledger, replays it from genesis in a
// child process of its own (so that the ledger held in memory here is not
// counted) and then serves the fresh mirror from a real indexer process,
// sampling both processes' resident sets, as `make bench` does.
const (
	memboundTxs   = "GOVSHARE_MEMBOUND_TXS"
	memboundChild = "GOVSHARE_MEMBOUND_CHILD" // blocks file and mirror folder, for the replaying child
	memboundLimit = "GOVSHARE_MEMBOUND_GOLIMIT"
	memboundOut   = "GOVSHARE_MEMBOUND_OUT" // where to write the figures as JSON
)

// memboundResult is what one measurement found.
type memboundResult struct {
	Txs, Blocks      int
	ReplaySeconds    float64
	ReplayTxPerSec   float64
	ReplayPeakMB     float64 // VmHWM of the replaying process
	ReplayAnonMB     float64 // RssAnon sampled at its largest RSS
	ReplayFileMB     float64
	ServePeakMB      float64 // VmHWM of the indexer process serving the fresh mirror
	ServeSettleS     float64
	ServeAnonMB      float64
	ServeFileMB      float64
	DiskMB           float64
	Digest           string
	ServeQueryPeakMB float64
	DigestPeakMB     float64 // VmHWM of the replaying process once it also read the whole mirror for its digest
}

func TestMemoryBound(t *testing.T) {
	if spec := os.Getenv(memboundChild); spec != "" {
		memboundReplayChild(t, spec)
		return
	}
	n, _ := strconv.Atoi(os.Getenv(memboundTxs))
	if n <= 0 {
		t.Skip("set " + memboundTxs + " to the synthetic ledger's size to measure the memory bound")
	}
	work := t.TempDir()
	blocksPath := os.Getenv("GOVSHARE_MEMBOUND_BLOCKS") // kept, and reused when it exists: the same ledger for two builds
	if blocksPath == "" {
		blocksPath = filepath.Join(work, "blocks")
	}
	start := time.Now()
	syn, err := BuildSynthetic(SyntheticSpec{Channel: "datashare", Txs: n, TxsPerBlock: 32, HotEvents: min(10000, n/10),
		Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Span: 30 * 24 * time.Hour, Flows: 32, People: testPeople()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(blocksPath); err != nil {
		f, err := os.Create(blocksPath)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		var size [4]byte
		for _, raw := range syn.Blocks {
			binary.BigEndian.PutUint32(size[:], uint32(len(raw)))
			w.Write(size[:])
			w.Write(raw)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	res := memboundResult{Txs: syn.Txs, Blocks: len(syn.Blocks)}
	syn.Blocks = nil
	t.Logf("built %d tx in %d blocks in %.1f s", res.Txs, res.Blocks, time.Since(start).Seconds())

	// The replay, in a child process of this test binary.
	mirror := filepath.Join(work, "mirror")
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryBound$", "-test.v")
	cmd.Env = append(os.Environ(), memboundChild+"="+blocksPath+"|"+mirror)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mem := startMemSampler(cmd.Process.Pid, 50*time.Millisecond, "replay")
	var child memboundResult
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line := sc.Bytes(); len(line) > 0 && line[0] == '{' {
			if err := json.Unmarshal(line, &child); err != nil {
				t.Fatalf("child said %s: %v", line, err)
			}
		}
	}
	peaks := mem.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("replay child: %v", err)
	}
	res.ReplaySeconds, res.ReplayTxPerSec, res.ReplayPeakMB, res.Digest = child.ReplaySeconds, child.ReplayTxPerSec, child.ReplayPeakMB, child.Digest
	res.ReplayAnonMB, res.ReplayFileMB = mb(peaks[0].Mem.Anon), mb(peaks[0].Mem.File)
	disk, _, _ := diskUsage(mirror)
	res.DiskMB = round3(float64(disk) / (1 << 20))
	res.DigestPeakMB = child.DigestPeakMB
	t.Logf("replayed in %.1f s: %.0f tx/s, peak RSS %.0f MB (anon %.0f, file %.0f at the largest sample; %.0f MB once the digest read the mirror), %.0f MB on disk",
		res.ReplaySeconds, res.ReplayTxPerSec, res.ReplayPeakMB, res.ReplayAnonMB, res.ReplayFileMB, res.DigestPeakMB, res.DiskMB)

	// The real indexer serving the fresh mirror, while Badger compacts it.
	bin := filepath.Join(work, "indexer")
	if b, err := exec.Command("go", "build", "-o", bin, "github.com/govshare/ledger/indexer/cmd/indexer").CombinedOutput(); err != nil {
		t.Fatalf("build indexer: %v: %s", err, b)
	}
	ctx := context.Background()
	ix, err := startIndexer(ctx, bin, work, mirror, filepath.Join(work, "cert.pem"), "datashare", "ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Stop()
	smem := startMemSampler(ix.PID(), 50*time.Millisecond, "settle")
	settled, err := waitIdle(ix.PID(), 3*time.Minute)
	if err != nil {
		t.Logf("indexer: %v", err)
	}
	res.ServeSettleS = round3(settled.Seconds())
	smem.Phase("queries")
	au := asker{hc: ix.HC, base: ix.URL, header: callerHeaders("BureauMSP", "auditor", "auditor1")}
	ev := asker{hc: ix.HC, base: ix.URL, header: callerHeaders("BureauMSP", "evaluator", "evaluator1")}
	qs := []QueryResult{
		ev.measure(ctx, "scores", "synthetic", "/v1/scores?period="+syn.Period, 1, 5, countItems),
		au.measure(ctx, "trace export", "synthetic", "/v1/audit/export?dataset="+syn.HotDataset+"&format=json", 1, 5, countArray),
		au.measure(ctx, "metering", "synthetic", "/v1/metering?bucket=day&dataset="+syn.HotDataset, 1, 5, countItems),
	}
	for _, q := range qs {
		t.Logf("query %s: p50 %.1f ms, %d items %s", q.Name, q.Latency.P50, q.Items, q.Error)
	}
	speaks := smem.Stop()
	m, err := readMem(ix.PID(), "")
	if err != nil {
		t.Fatal(err)
	}
	res.ServePeakMB, res.ServeAnonMB, res.ServeFileMB = mb(m.HWM), mb(speaks[0].Mem.Anon), mb(speaks[0].Mem.File)
	res.ServeQueryPeakMB = mb(speaks[1].Mem.RSS)
	t.Logf("indexer serving the fresh mirror: peak RSS %.0f MB (while compacting: largest sample %.0f MB, anon %.0f, file %.0f; idle after %.1f s); queries: largest sample %.0f MB",
		res.ServePeakMB, mb(speaks[0].Mem.RSS), res.ServeAnonMB, res.ServeFileMB, res.ServeSettleS, res.ServeQueryPeakMB)
	t.Logf("mirror digest %s", res.Digest)
	if p := os.Getenv(memboundOut); p != "" {
		raw, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// memboundReplayChild replays the blocks file into a fresh mirror, as the
// follower applies a peer's blocks, and prints its figures as one JSON line.
func memboundReplayChild(t *testing.T, spec string) {
	blocksPath, mirror, _ := strings.Cut(spec, "|")
	if v, err := strconv.ParseInt(os.Getenv(memboundLimit), 10, 64); err == nil && v > 0 {
		debug.SetMemoryLimit(v << 20) // as the indexer sets it; else store.Open's own
	}
	f, err := os.Open(blocksPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	st, err := store.Open(mirror, store.Options{Channel: "datashare", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	scores.Attach(st, nil)
	dec := block.Decoder{Chaincode: "ledger"}
	ctx := context.Background()
	txs := 0
	start := time.Now()
	var size [4]byte
	for i := 0; ; i++ {
		if _, err := io.ReadFull(r, size[:]); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(r, raw); err != nil {
			t.Fatal(err)
		}
		var b common.Block
		if err := proto.Unmarshal(raw, &b); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		d, err := dec.Decode(&b)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if i > 0 {
			txs += len(d.Txs)
		}
		if err := st.ApplyBlock(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	applied, err := readMem(os.Getpid(), "")
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("GOVSHARE_MEMBOUND_HEAPPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	digest, err := st.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := readMem(os.Getpid(), "")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(memboundResult{Txs: txs, ReplaySeconds: round3(elapsed.Seconds()),
		ReplayTxPerSec: round3(float64(txs) / elapsed.Seconds()), ReplayPeakMB: mb(applied.HWM), DigestPeakMB: mb(m.HWM), Digest: hex.EncodeToString(digest)})
	fmt.Printf("\n%s\n", raw)
}
