package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/govshare/ledger/gateway/indexclient"
)

// findings is an index of findings, answering pages as the indexer does:
// those of the department changed at or after changedFrom, in the order
// (changedAtBlock, id), two a page.
type findings struct {
	mu    sync.Mutex
	items []Finding
}

func (s *findings) set(f Finding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = slices.DeleteFunc(s.items, func(x Finding) bool { return x.ID == f.ID })
	s.items = append(s.items, f)
	slices.SortFunc(s.items, func(a, b Finding) int {
		if a.ChangedAtBlock != b.ChangedAtBlock {
			return int(a.ChangedAtBlock) - int(b.ChangedAtBlock)
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
}

func (s *findings) Findings(_ context.Context, c indexclient.Caller, f indexclient.Filter) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, _ := strconv.ParseUint(f.Get("changedFrom"), 10, 64)
	start, _ := strconv.Atoi(f.Get("cursor"))
	var page []Finding
	for _, x := range s.items {
		if x.Department == c.MSPID && x.ChangedAtBlock >= from {
			page = append(page, x)
		}
	}
	page = page[min(start, len(page)):]
	next := ""
	if len(page) > 2 {
		page, next = page[:2], strconv.Itoa(start+2)
	}
	return json.Marshal(map[string]any{"items": page, "nextCursor": next})
}

// receiver is a webhook that checks every signature, fails the first
// failures posts and records the deliveries it took.
type receiver struct {
	mu       sync.Mutex
	secret   []byte
	failures int
	got      []string
	bad      []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := Verify(r.secret, req.Header.Get(HeaderSignature), body, time.Now(), time.Minute); err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if r.failures > 0 {
		r.failures--
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil || p.Delivery != req.Header.Get(HeaderDelivery) {
		r.bad = append(r.bad, "payload "+string(body))
	}
	r.got = append(r.got, p.Delivery)
}

func TestPostsEachChangeOnceInOrderThroughFailuresAndRestarts(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	rc := &receiver{secret: secret, failures: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	src := &findings{}
	state := filepath.Join(t.TempDir(), "webhook.json")
	cfg := Config{MSPID: "Dept2MSP", URL: srv.URL, Secret: secret, StateFile: state, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	n, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src.set(Finding{ID: "receipt-overdue/d1", State: "open", Department: "Dept2MSP", ChangedAtBlock: 10})
	src.set(Finding{ID: "overuse/r1/tx", State: "open", Department: "Dept2MSP", ChangedAtBlock: 10})
	src.set(Finding{ID: "receipt-overdue/dX", State: "open", Department: "Dept1MSP", ChangedAtBlock: 10})
	src.set(Finding{ID: "copy-not-destroyed/d2", State: "open", Department: "Dept2MSP", ChangedAtBlock: 11})
	if err := n.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Once(ctx); err != nil { // nothing new: nothing posted
		t.Fatal(err)
	}
	// The receipt arrives: the finding changes; a restarted notifier posts
	// that change only.
	src.set(Finding{ID: "receipt-overdue/d1", State: "closed", Department: "Dept2MSP", ChangedAtBlock: 12})
	n2, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Once(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"overuse/r1/tx@open@10", "receipt-overdue/d1@open@10", "copy-not-destroyed/d2@open@11", "receipt-overdue/d1@closed@12"}
	if !slices.Equal(rc.got, want) || len(rc.bad) != 0 {
		t.Fatalf("received %v (bad %v), want %v", rc.got, rc.bad, want)
	}
	if n.Failed() != 2 || n.Posted() != 3 || n2.Posted() != 1 {
		t.Fatalf("posted %d+%d, failed %d", n.Posted(), n2.Posted(), n.Failed())
	}
}

func TestVerifyRefusesForgedStaleAndMalformed(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	body := []byte(`{"a":1}`)
	now := time.Now()
	h := Sign(secret, now, body)
	if err := Verify(secret, h, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"other body":   Verify(secret, h, []byte(`{"a":2}`), now, time.Minute),
		"other secret": Verify([]byte("another secret of 16+"), h, body, now, time.Minute),
		"stale":        Verify(secret, h, body, now.Add(2*time.Minute), time.Minute),
		"malformed":    Verify(secret, "sha256=00", body, now, time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestNewRefusesABadConfig(t *testing.T) {
	ok := Config{MSPID: "D", URL: "https://hooks.example/x", Secret: []byte("0123456789abcdef"), StateFile: "/tmp/x"}
	for name, c := range map[string]func(*Config){
		"url":    func(c *Config) { c.URL = "ftp://x" },
		"secret": func(c *Config) { c.Secret = []byte("short") },
		"state":  func(c *Config) { c.StateFile = "" },
	} {
		cfg := ok
		c(&cfg)
		if _, err := New(cfg, &findings{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
