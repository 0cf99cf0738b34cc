//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govshare/ledger/network"
)

// The indexer under test: Dept3's. The load goes through the other
// departments' gateways, whose own indexers are never killed and serve as
// the reference mirror.
const crashIndexer = "indexer-dept3"

// consortiumCmd runs the consortium command that scripts/integration.sh
// passes in CONSORTIUM.
func consortiumCmd(t *testing.T, args ...string) {
	t.Helper()
	cmd := strings.Fields(os.Getenv("CONSORTIUM"))
	if len(cmd) == 0 {
		t.Fatal("CONSORTIUM is not set; run the integration tests through scripts/integration.sh")
	}
	out, err := exec.Command(cmd[0], append(cmd[1:], args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("consortium %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type mirrorDigest struct {
	Height uint64 `json:"height"`
	Digest string `json:"digest"`
}

// indexerURL is the base URL of msp's indexer routes, to call with
// indexerClient(t, msp): the indexer listens on a Unix socket only.
func indexerURL(t *testing.T, msp string) string {
	t.Helper()
	_, base := indexerAt(t, msp)
	return base
}

// indexerClient is an HTTP client that reaches msp's indexer over its socket.
func indexerClient(t *testing.T, msp string) *http.Client {
	t.Helper()
	hc, _ := indexerAt(t, msp)
	return hc
}

func indexerAt(t *testing.T, msp string) (*http.Client, string) {
	t.Helper()
	for _, d := range shared.eps.Departments {
		if d.MSPID == msp {
			hc, base, err := network.IndexerClient(d.Indexer, 0)
			if err != nil {
				t.Fatalf("indexer of %s: %v", msp, err)
			}
			return hc, base
		}
	}
	t.Fatalf("no department %s", msp)
	return nil, ""
}

func getJSON(hc *http.Client, url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// digestAt waits until the indexer of msp has applied exactly height
// blocks and returns the digest of its whole mirror.
func digestAt(t *testing.T, msp string, height uint64) mirrorDigest {
	t.Helper()
	var d mirrorDigest
	eventually(t, 60*time.Second, func() error {
		if err := getJSON(indexerClient(t, msp), indexerURL(t, msp)+"/internal/digest", &d); err != nil {
			return err
		}
		if d.Height != height {
			return fmt.Errorf("indexer of %s at height %d, want %d", msp, d.Height, height)
		}
		return nil
	})
	return d
}

// ledgerHeight waits for the reference indexer to be quiet and returns its height.
func settledHeight(t *testing.T) uint64 {
	t.Helper()
	var last uint64
	stable := 0
	for i := 0; i < 200 && stable < 5; i++ {
		var st struct {
			Height uint64 `json:"height"`
		}
		if err := getJSON(indexerClient(t, "Dept1MSP"), indexerURL(t, "Dept1MSP")+"/internal/status", &st); err != nil {
			t.Fatal(err)
		}
		if st.Height == last {
			stable++
		} else {
			stable, last = 0, st.Height
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// load writes datasets through two departments' gateways until stopped.
type load struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	writes atomic.Int64
	errs   atomic.Int64
}

func startLoad(t *testing.T, workers int) *load {
	l := &load{stop: make(chan struct{})}
	people := []*person{shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept2MSP", "operator")}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			p := people[w%len(people)]
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				r := p.do(http.MethodPost, "/v1/datasets", newDataset(fmt.Sprintf("%s-w%d-%d", uniqueID("load"), w, i), "unconditional"))
				if r.status == http.StatusCreated {
					l.writes.Add(1)
				} else {
					l.errs.Add(1)
				}
			}
		}(w)
	}
	return l
}

func (l *load) finish() (writes, errs int64) {
	close(l.stop)
	l.wg.Wait()
	return l.writes.Load(), l.errs.Load()
}

// TestIndexerSurvivesSIGKILL kills an indexer with SIGKILL again and again,
// first under live load, then while it replays the ledger from genesis
// after a rebuild; after each restart it resumes from its own checkpoint.
// The mirror must end byte-identical (same digest) to the mirror of an
// indexer that was never killed and to a clean rebuild: no event lost, none
// applied twice.
func TestIndexerSurvivesSIGKILL(t *testing.T) {
	spec := readProcSpec(t, crashIndexer)

	l := startLoad(t, 8)
	for i := 0; i < 8; i++ {
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		consortiumCmd(t, "kill", crashIndexer)
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		consortiumCmd(t, "start", crashIndexer)
	}
	writes, errs := l.finish()
	if writes == 0 {
		t.Fatal("the load committed nothing")
	}
	t.Logf("load: %d writes committed, %d failed, while %s was killed 8 times", writes, errs, crashIndexer)

	height := settledHeight(t)
	reference := digestAt(t, "Dept1MSP", height)
	resumed := digestAt(t, "Dept3MSP", height)
	if resumed.Digest != reference.Digest {
		t.Fatalf("after SIGKILLs under load: mirror %s, reference %s at height %d", resumed.Digest, reference.Digest, height)
	}

	// A clean rebuild, killed repeatedly while it replays from genesis.
	consortiumCmd(t, "stop", crashIndexer)
	if out, err := execOut(spec.Bin, "rebuild", "-config", spec.Args[len(spec.Args)-1]); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	// Start without waiting for readiness and kill at a random moment soon
	// after, so that some kills land in the middle of the replay.
	kills := 0
	for i := 0; i < 12; i++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			cmd := strings.Fields(os.Getenv("CONSORTIUM"))
			_ = exec.Command(cmd[0], append(cmd[1:], "start", crashIndexer)...).Run() // fails when killed first
		}()
		time.Sleep(time.Duration(40+rand.IntN(260)) * time.Millisecond)
		consortiumCmd(t, "kill", crashIndexer)
		<-done
		kills++
	}
	consortiumCmd(t, "start", crashIndexer)
	rebuilt := digestAt(t, "Dept3MSP", height)
	t.Logf("replay from genesis of %d blocks killed %d times; restarts that resumed mid-replay, at heights: %v",
		height, kills, resumedHeights(t, height))
	if rebuilt.Digest != reference.Digest {
		t.Fatalf("after a rebuild killed %d times: mirror %s, reference %s at height %d", kills, rebuilt.Digest, reference.Digest, height)
	}
}

type procSpec struct {
	Bin  string   `json:"bin"`
	Args []string `json:"args"`
}

func readProcSpec(t *testing.T, name string) procSpec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared.run, "pids", name+".spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s procSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// resumedHeights lists the heights, strictly between 0 and full, from which
// the crash indexer's restarts since its last rebuild resumed, as its log
// says: evidence that kills landed in the middle of a replay.
func resumedHeights(t *testing.T, full uint64) []uint64 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared.run, "logs", crashIndexer+".log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, line := range strings.Split(string(raw), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Height uint64 `json:"height"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "indexer started" {
			continue
		}
		if rec.Height == 0 {
			out = out[:0] // a rebuild: only restarts after the last one count
			continue
		}
		if rec.Height < full {
			out = append(out, rec.Height)
		}
	}
	return out
}

func execOut(bin string, args ...string) ([]byte, error) {
	return exec.Command(bin, args...).CombinedOutput()
}
