package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// chainLedger serves a fixed chain, then waits, as a peer's stream would.
type chainLedger struct{ chain []*common.Block }

func (l chainLedger) Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error) {
	ch := make(chan *common.Block)
	go func() {
		defer close(ch)
		for i := int(start); i < len(l.chain); i++ {
			select {
			case ch <- l.chain[i]:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return ch, nil
}

func (l chainLedger) Height(context.Context) (uint64, error) { return uint64(len(l.chain)), nil }

// consortium makes a chain of n blocks after genesis, one dataset each.
func consortium(n int) []*common.Block {
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	c := blocktest.NewChain("datashare")
	out := []*common.Block{c.Genesis(op)}
	for i := range n {
		d := domain.Dataset{ID: fmt.Sprintf("ds%d", i), Owner: "Dept1MSP", Title: "t", Fields: []string{"f"},
			UpdateFrequency: "daily", ShareType: domain.ShareConditional, OpenType: domain.OpenClosed, Grade: 2,
			Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
		out = append(out, c.Block(blocktest.Tx{Signer: op, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, op.Actor(domain.RoleOperator), d)}))
	}
	return out
}

func testMain(t *testing.T, dir string, ledger chainLedger) *Main {
	t.Helper()
	m := NewMain(quiet)
	m.Config.MSPID = "Dept1MSP"
	m.Config.Listen = "127.0.0.1:0"
	m.Config.DataDir = dir
	m.Ledger = ledger
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestMainFollowsServesAndResumes(t *testing.T) {
	dir := t.TempDir()
	chain := consortium(6)

	m := testMain(t, dir, chainLedger{chain[:4]})
	base := "http://" + m.Addr()
	if code := getJSON(t, base+"/internal/wait?block=3&timeout=10s", nil); code != 200 {
		t.Fatalf("wait for block 3: %d", code)
	}
	var list struct {
		Items []domain.Dataset `json:"items"`
	}
	if code := getJSON(t, base+"/v1/datasets?owner=Dept1MSP", &list); code != 200 || len(list.Items) != 3 {
		t.Fatalf("datasets: %d %+v", code, list)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// A second run resumes from the checkpoint and takes the new blocks.
	m = testMain(t, dir, chainLedger{chain})
	var st struct {
		Height    uint64 `json:"height"`
		LagBlocks uint64 `json:"lagBlocks"`
	}
	base = "http://" + m.Addr()
	if code := getJSON(t, base+"/internal/wait?block=6&timeout=10s", nil); code != 200 {
		t.Fatalf("wait for block 6: %d", code)
	}
	if getJSON(t, base+"/internal/status", &st); st.Height != 7 {
		t.Fatalf("status after resume: %+v", st)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// rebuild drops the mirror.
	cfg := filepath.Join(t.TempDir(), "indexer.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"mspId":"Dept1MSP","channel":"datashare","chaincode":"ledger","dataDir":%q}`, dir)), 0o600)
	if err := run(context.Background(), []string{"rebuild", "-config", cfg}, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatal(err)
	}
	m = testMain(t, dir, chainLedger{chain[:1]})
	defer m.Close()
	if code := getJSON(t, "http://"+m.Addr()+"/internal/wait?block=0&timeout=10s", nil); code != 200 {
		t.Fatalf("replay after rebuild: %d", code)
	}
	if getJSON(t, "http://"+m.Addr()+"/internal/status", &st); st.Height != 1 {
		t.Fatalf("height after rebuild and one block: %d", st.Height)
	}
}

func TestMainReportsForeignLedger(t *testing.T) {
	dir := t.TempDir()
	m := testMain(t, dir, chainLedger{consortium(2)})
	if code := getJSON(t, "http://"+m.Addr()+"/internal/wait?block=2&timeout=10s", nil); code != 200 {
		t.Fatalf("wait: %d", code)
	}
	m.Close()
	m = testMain(t, dir, chainLedger{consortium(3)}) // another genesis
	defer m.Close()
	select {
	case err := <-m.Fatal():
		if !strings.Contains(err.Error(), "not from the ledger") {
			t.Fatalf("fatal error = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a foreign ledger was not reported")
	}
}

func TestRunShutsDownOnSignal(t *testing.T) {
	// The real wiring: a gateway to a peer that is not there. The follower
	// keeps retrying; cancelling the context (SIGTERM) stops it cleanly.
	dir := t.TempDir()
	id := blocktest.NewIdentity("Dept1MSP", "indexer")
	der, _ := x509.MarshalPKCS8PrivateKey(id.Key)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "keystore")
	os.WriteFile(cert, id.CertPEM, 0o600)
	os.MkdirAll(key, 0o700)
	os.WriteFile(filepath.Join(key, "priv_sk"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	cfg := filepath.Join(dir, "indexer.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"mspId":"Dept1MSP","listen":"127.0.0.1:1","channel":"datashare","chaincode":"ledger",
		"peer":{"endpoint":"127.0.0.1:1","tlsCACert":%q},"identity":{"certPath":%q,"keyPath":%q},"dataDir":"/nonexistent"}`, cert, cert, key)), 0o600)
	env := map[string]string{"INDEXER_LISTEN": "127.0.0.1:0", "INDEXER_DATA_DIR": filepath.Join(dir, "data")}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", cfg}, func(k string) string { return env[k] }, io.Discard)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop on cancel")
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("the data dir override was not used: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"mspId":"Dept1MSP","listen":"127.0.0.1:7108","channel":"datashare","chaincode":"ledger",
		"peer":{"endpoint":"127.0.0.1:7101","tlsCACert":"/ca.pem","hostOverride":"peer0"},
		"identity":{"certPath":"/c.pem","keyPath":"/k"},"dataDir":"/data","scoring":"/s.json"}`), 0o600)
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"mspId":"x","peerEndpoint":"127.0.0.1:7101"}`), 0o600)
	tests := []struct {
		name    string
		path    string
		env     map[string]string
		edit    func(*Config)
		wantErr string
	}{
		{"good", good, nil, nil, ""},
		{"env overrides", good, map[string]string{"INDEXER_LISTEN": "127.0.0.1:9", "INDEXER_DATA_DIR": "/other"}, nil, ""},
		{"missing file", filepath.Join(dir, "none.json"), nil, nil, "read config"},
		{"unknown field", unknown, nil, nil, "unknown field"},
		{"relative data dir", good, map[string]string{"INDEXER_DATA_DIR": "data"}, nil, "dataDir"},
		{"public listen", good, map[string]string{"INDEXER_LISTEN": "0.0.0.0:7108"}, nil, "loopback"},
		{"relative socket", good, map[string]string{"INDEXER_LISTEN": "unix:run/indexer.sock"}, nil, "absolute"},
		{"socket", good, map[string]string{"INDEXER_LISTEN": "unix:/run/sock/indexer.sock"}, nil, ""},
		{"relative key", good, nil, func(c *Config) { c.Identity.KeyPath = "k" }, "identity.keyPath"},
		{"no endpoint", good, nil, func(c *Config) { c.Peer.Endpoint = "" }, "peer.endpoint"},
		{"relative scoring model", good, nil, func(c *Config) { c.Scoring = "s.json" }, "scoring"},
		{"memory limit from the environment", good, map[string]string{"INDEXER_MEMORY_LIMIT_MB": "512"}, nil, ""},
		{"memory limit too small", good, map[string]string{"INDEXER_MEMORY_LIMIT_MB": "32"}, nil, "memoryLimitMB"},
		{"memory limit not a number", good, map[string]string{"INDEXER_MEMORY_LIMIT_MB": "lots"}, nil, "INDEXER_MEMORY_LIMIT_MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(tt.path, func(k string) string { return tt.env[k] })
			if err == nil {
				if tt.edit != nil {
					tt.edit(&c)
				}
				err = c.validate(true)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if v := tt.env["INDEXER_LISTEN"]; v != "" && c.Listen != v {
					t.Fatalf("listen = %q, want %q", c.Listen, v)
				}
				if v := tt.env["INDEXER_DATA_DIR"]; v != "" && c.DataDir != v {
					t.Fatalf("dataDir = %q, want %q", c.DataDir, v)
				}
				if want := tt.env["INDEXER_MEMORY_LIMIT_MB"]; (want == "" && c.MemoryLimitMB != 256) || (want == "512" && c.MemoryLimitMB != 512) {
					t.Fatalf("memoryLimitMB = %d", c.MemoryLimitMB)
				}
				if c.Peer.HostOverride != "peer0" || c.Scoring != "/s.json" {
					t.Fatalf("config = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestMainScoringModel(t *testing.T) {
	dir := t.TempDir()
	m := NewMain(quiet)
	m.Config.MSPID, m.Config.Listen, m.Config.DataDir = "Dept1MSP", "127.0.0.1:0", filepath.Join(dir, "a")
	m.Ledger = chainLedger{consortium(1)}
	m.Config.Scoring = filepath.Join(dir, "missing.json")
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "scoring model") {
		m.Close()
		t.Fatalf("a missing model file: %v", err)
	}
	model := filepath.Join(dir, "model.json")
	os.WriteFile(model, []byte(`{"version":1,"weights":{"supply":1},"shareTypeWeights":{"unconditional":1,"conditional":0.5,"none":0},
		"openTypeWeights":{"open":1,"restricted":0.5,"closed":0},"neutral":0.5,"pageRank":{"damping":0.85,"maxIterations":100,"tolerance":1e-12}}`), 0o600)
	m = NewMain(quiet)
	m.Config.MSPID, m.Config.Listen, m.Config.DataDir, m.Config.Scoring = "Dept1MSP", "127.0.0.1:0", filepath.Join(dir, "b"), model
	m.Ledger = chainLedger{consortium(1)}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Addr()
	if code := getJSON(t, base+"/internal/wait?block=1&timeout=10s", nil); code != 200 {
		t.Fatalf("wait: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/scores?period=2025-01", nil)
	req.Header.Set("X-Caller-Msp", "BureauMSP")
	req.Header.Set("X-Caller-Role", "evaluator")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc domain.Scores
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("scores: %d %v", resp.StatusCode, err)
	}
	if doc.ModelDigest == "" || doc.ModelDigest == score.Default().Digest() || len(doc.Items) != 1 {
		t.Fatalf("the configured model was not used: %+v", doc)
	}
}

func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	tests := []struct {
		name string
		env  string
		set  int64 // the limit in force before the call
		mb   int   // the configured bound
		want int64
	}{
		{"default when GOMEMLIMIT is unset", "", math.MaxInt64, store.DefaultMemoryLimitMB, 160 << 20},
		{"from the configured bound", "", math.MaxInt64, 512, 320 << 20},
		{"GOMEMLIMIT wins", "1GiB", 1 << 30, 256, 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.set)
			got := setMemoryLimit(func(k string) string {
				if k == "GOMEMLIMIT" {
					return tt.env
				}
				return ""
			}, tt.mb)
			if got != tt.want || debug.SetMemoryLimit(-1) != tt.want {
				t.Fatalf("limit %d (runtime %d), want %d", got, debug.SetMemoryLimit(-1), tt.want)
			}
		})
	}
}

// TestListenUnixSocket: the socket is 0600 in a 0700 folder, a stale one
// is replaced and a live one is left alone.
func TestListenUnixSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sock")
	sock := filepath.Join(dir, "indexer.sock")
	ln, err := listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, sock: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	if _, err := listen("unix:" + sock); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second listen on a live socket = %v", err)
	}
	// A socket whose server died without unlinking it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatal(err)
	}
	ln, err = listen("unix:" + sock)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	ln.Close()
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listen("unix:" + sock); err == nil {
		t.Error("listen over a regular file succeeded")
	}
}
