package indexclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeIndexer answers like the indexer: height 10, so blocks 0-9 are applied.
func fakeIndexer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/internal/status":
			_, _ = io.WriteString(w, `{"channel":"datashare","genesisHash":"ab","height":10,"lastBlockTime":"2026-01-02T03:04:05Z","lagBlocks":2}`)
		case "/internal/wait":
			n, err := strconv.ParseUint(r.URL.Query().Get("block"), 10, 64)
			if err != nil || r.URL.Query().Get("timeout") == "" {
				http.Error(w, "bad wait", http.StatusBadRequest)
				return
			}
			if n >= 10 {
				w.WriteHeader(http.StatusGatewayTimeout)
				return
			}
		case "/v1/datasets":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"items":[],"q":"`+r.URL.RawQuery+`","msp":"`+r.Header.Get("X-Caller-Msp")+`"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	srv := fakeIndexer(t)
	c, err := New(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	s, err := c.Status(ctx)
	if err != nil || s.Height != 10 || s.LagBlocks != 2 || s.Channel != "datashare" {
		t.Fatalf("Status = %+v, %v", s, err)
	}

	waits := []struct {
		block uint64
		want  error
	}{{0, nil}, {9, nil}, {10, ErrWaitTimeout}}
	for _, w := range waits {
		t.Run("wait "+strconv.FormatUint(w.block, 10), func(t *testing.T) {
			if err := c.WaitForBlock(ctx, w.block, time.Second); !errors.Is(err, w.want) {
				t.Fatalf("WaitForBlock(%d) = %v, want %v", w.block, err, w.want)
			}
		})
	}

	body, err := c.Datasets(ctx, Caller{MSPID: "Dept2MSP", Role: "operator"}, Filter{"owner": {"Dept1MSP"}})
	if err != nil || !strings.Contains(string(body), `"q":"owner=Dept1MSP"`) || !strings.Contains(string(body), `"msp":"Dept2MSP"`) {
		t.Fatalf("Datasets = %s, %v", body, err)
	}
}

func TestClientErrors(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:7108", "ftp://x", "unix:indexer.sock"} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%q) succeeded", bad)
		}
	}
	srv := fakeIndexer(t)
	c, _ := New(srv.URL, nil)
	srv.Close()
	if _, err := c.Status(context.Background()); err == nil {
		t.Error("Status of a stopped indexer succeeded")
	}
	if err := c.WaitForBlock(context.Background(), 1, time.Second); err == nil || errors.Is(err, ErrWaitTimeout) {
		t.Errorf("WaitForBlock of a stopped indexer = %v, want a connection error", err)
	}
}

// TestClientUnixSocket reaches an indexer on a Unix socket: the URL's host
// does not matter, the socket does.
func TestClientUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "indexer.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(fakeIndexer(t).Config.Handler)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	c, err := New("unix:"+sock, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.Status(context.Background()); err != nil || s.Height != 10 {
		t.Fatalf("Status over the socket = %+v, %v", s, err)
	}
	hc, base, err := HTTPClient("unix:"+sock, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(base + "/internal/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET over the socket = %d", resp.StatusCode)
	}
	srv.Close()
	if _, err := c.Status(context.Background()); err == nil {
		t.Error("Status over a closed socket succeeded")
	}
}
