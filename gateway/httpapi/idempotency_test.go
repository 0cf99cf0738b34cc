package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

// keyedLedger is a fakeLedger that keeps keyed writes as the ledger does:
// by the transaction ID that the person and the key decide.
type keyedLedger struct {
	*fakeLedger
	committed map[string]ledgerCall
	results   map[string][]byte
	blocks    map[string]uint64
}

func (k *keyedLedger) SubmitKeyed(ctx context.Context, p *identity.Person, key, tx string, args ...string) ([]byte, string, uint64, bool, error) {
	txID := "tx-" + p.User + "-" + key
	if c, ok := k.committed[txID]; ok {
		if c.tx != tx || strings.Join(c.args, "\x00") != strings.Join(args, "\x00") {
			return nil, txID, k.blocks[txID], false, txError{domain.Errorf(domain.CodeConflict, "Idempotency-Key reused with another body"), txID}
		}
		return k.results[txID], txID, k.blocks[txID], true, nil
	}
	k.fakeLedger.txID = txID
	k.fakeLedger.block++
	r, id, b, err := k.fakeLedger.Submit(ctx, p, tx, args...)
	if err == nil {
		k.committed[txID], k.results[txID], k.blocks[txID] = ledgerCall{"submit", p.User, tx, args}, r, b
	}
	return r, id, b, false, err
}

func newKeyedFixture(t *testing.T) (*fixture, *keyedLedger) {
	t.Helper()
	f := &fixture{ledger: &fakeLedger{block: 7, result: []byte(`{"id":"us-abc","calls":3}`)}, index: &fakeIndex{status: indexclient.Status{Height: 8}}}
	k := &keyedLedger{fakeLedger: f.ledger, committed: map[string]ledgerCall{}, results: map[string][]byte{}, blocks: map[string]uint64{}}
	r, err := NewRouter(Options{Ledger: k, Index: f.index, Auth: testPeople, Policy: grantingDept1,
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	f.router = r
	return f, k
}

func keyed(f *fixture, key []string, role, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v1/usage", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+role)
	req.Header.Set("Content-Type", "application/json")
	for _, k := range key {
		req.Header.Add(IdempotencyKeyHeader, k)
	}
	rec := httptest.NewRecorder()
	f.router.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) submits() int {
	f.ledger.mu.Lock()
	defer f.ledger.mu.Unlock()
	n := 0
	for _, c := range f.ledger.calls {
		if c.kind == "submit" {
			n++
		}
	}
	return n
}

func TestIdempotencyKey(t *testing.T) {
	const body = `{"requestId":"rq-1","calls":3,"records":600}`
	t.Run("same key, same body: one submit, the same answer", func(t *testing.T) {
		f, _ := newKeyedFixture(t)
		first := keyed(f, []string{"retry-7"}, "operator", body)
		// The same body spelt otherwise is the same write.
		again := keyed(f, []string{"retry-7"}, "operator", `{ "records": 600, "calls": 3, "requestId": "rq-1" }`)
		if first.Code != http.StatusCreated || again.Code != http.StatusCreated {
			t.Fatalf("statuses %d, %d: %s %s", first.Code, again.Code, first.Body, again.Body)
		}
		if first.Body.String() != again.Body.String() {
			t.Errorf("answers differ:\n%s\n%s", first.Body, again.Body)
		}
		var r WriteResult
		if err := json.Unmarshal(again.Body.Bytes(), &r); err != nil || r["txId"] != "tx-operator-user-retry-7" {
			t.Errorf("answer %s: %v", again.Body, err)
		}
		if f.submits() != 1 {
			t.Errorf("%d submits, want 1", f.submits())
		}
		if first.Header().Get(ReplayedHeader) != "" || again.Header().Get(ReplayedHeader) != "true" {
			t.Errorf("%s: %q then %q", ReplayedHeader, first.Header().Get(ReplayedHeader), again.Header().Get(ReplayedHeader))
		}
	})
	t.Run("same key, other body: 409", func(t *testing.T) {
		f, _ := newKeyedFixture(t)
		keyed(f, []string{"retry-7"}, "operator", body)
		rec := keyed(f, []string{"retry-7"}, "operator", `{"requestId":"rq-1","calls":4,"records":600}`)
		if rec.Code != http.StatusConflict {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if e := errorOf(t, rec); !strings.Contains(e.Message, "Idempotency-Key reused with another body") || e.TxID == "" {
			t.Errorf("error %+v", e)
		}
		if f.submits() != 1 {
			t.Errorf("%d submits, want 1", f.submits())
		}
	})
	t.Run("no key: every call submits", func(t *testing.T) {
		f, k := newKeyedFixture(t)
		f.ledger.txID = "tx-plain"
		for i := 0; i < 2; i++ {
			if rec := keyed(f, nil, "operator", body); rec.Code != http.StatusCreated || rec.Header().Get(ReplayedHeader) != "" {
				t.Fatalf("status %d %s", rec.Code, rec.Body)
			}
		}
		if f.submits() != 2 || len(k.committed) != 0 {
			t.Errorf("%d submits, %d keyed; want 2, 0", f.submits(), len(k.committed))
		}
	})
	for name, key := range map[string][]string{
		"empty":       {""},
		"too long":    {strings.Repeat("k", 129)},
		"not ASCII":   {"clé"},
		"control":     {"a\tb"},
		"two headers": {"a", "b"},
		"DEL":         {"a\x7f"},
	} {
		t.Run("bad key: "+name, func(t *testing.T) {
			f, _ := newKeyedFixture(t)
			rec := keyed(f, key, "operator", body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if e := errorOf(t, rec); e.Details["field"] != IdempotencyKeyHeader {
				t.Errorf("error %+v", e)
			}
			if f.submits() != 0 {
				t.Errorf("%d submits, want 0", f.submits())
			}
		})
	}
	t.Run("longest key", func(t *testing.T) {
		f, _ := newKeyedFixture(t)
		if rec := keyed(f, []string{strings.Repeat("~", 128)}, "operator", body); rec.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
	t.Run("a ledger without keyed writes refuses the key", func(t *testing.T) {
		f := newFixture(t)
		req := httptest.NewRequest("POST", "/v1/usage", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer operator")
		req.Header.Set(IdempotencyKeyHeader, "k")
		rec := httptest.NewRecorder()
		f.router.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || len(f.ledger.calls) != 0 {
			t.Fatalf("status %d, %d calls: %s", rec.Code, len(f.ledger.calls), rec.Body)
		}
	})
}
