package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

// ledgerCall is one call the router made to the ledger.
type ledgerCall struct {
	kind string // submit or evaluate
	user string
	tx   string
	args []string
}

// fakeLedger records calls and answers what the test sets.
type fakeLedger struct {
	mu       sync.Mutex
	calls    []ledgerCall
	result   []byte            // Submit's result; "{}" if nil
	txID     string            // Submit's transaction ID
	block    uint64            // Submit's block
	err      error             // Submit's and Evaluate's error
	evals    map[string][]byte // Evaluate's result by transaction name
	readyErr error
}

func (f *fakeLedger) Submit(ctx context.Context, p *identity.Person, tx string, args ...string) ([]byte, string, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, ledgerCall{"submit", p.User, tx, args})
	if f.err != nil {
		return nil, f.txID, 0, f.err
	}
	if f.result == nil {
		return []byte(`{"id":"x1"}`), f.txID, f.block, nil
	}
	return f.result, f.txID, f.block, nil
}

func (f *fakeLedger) Evaluate(ctx context.Context, p *identity.Person, tx string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, ledgerCall{"evaluate", p.User, tx, args})
	if f.err != nil {
		return nil, f.err
	}
	return f.evals[tx], nil
}

func (f *fakeLedger) Ready(ctx context.Context) error { return f.readyErr }

func (f *fakeLedger) last(t *testing.T) ledgerCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("no ledger call")
	}
	return f.calls[len(f.calls)-1]
}

// indexGet is one read the router forwarded.
type indexGet struct {
	path, query string
	header      http.Header
}

// fakeIndex records waits and forwarded reads.
type fakeIndex struct {
	mu        sync.Mutex
	waits     []uint64
	waitErr   error
	status    indexclient.Status
	statusErr error
	gets      []indexGet
	getStatus int
	getBody   string
	getErr    error
}

func (f *fakeIndex) Get(ctx context.Context, path, rawQuery string, h http.Header) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, indexGet{path, rawQuery, h})
	if f.getErr != nil {
		return nil, f.getErr
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	st := f.getStatus
	if st == 0 {
		st = http.StatusOK
	}
	rec.WriteHeader(st)
	_, _ = io.WriteString(rec, f.getBody)
	return rec.Result(), nil
}

func (f *fakeIndex) WaitForBlock(ctx context.Context, block uint64, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, block)
	return f.waitErr
}

func (f *fakeIndex) Status(ctx context.Context) (indexclient.Status, error) {
	return f.status, f.statusErr
}

// The router reads through the real index client (indexclient.Query); its
// requests reach Get, which records them, over fakeTransport.
type fakeTransport struct{ f *fakeIndex }

func (t fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.f.Get(r.Context(), r.URL.Path, r.URL.RawQuery, r.Header)
}

func (f *fakeIndex) reads() *indexclient.Client {
	c, err := indexclient.New("http://indexer", &http.Client{Transport: fakeTransport{f}})
	if err != nil {
		panic(err)
	}
	return c
}

func (f *fakeIndex) Datasets(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Datasets(ctx, c, q)
}

func (f *fakeIndex) Requests(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Requests(ctx, c, q)
}

func (f *fakeIndex) Deliveries(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Deliveries(ctx, c, q)
}

func (f *fakeIndex) Usages(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Usages(ctx, c, q)
}

func (f *fakeIndex) Contributions(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Contributions(ctx, c, q)
}

func (f *fakeIndex) Corrections(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Corrections(ctx, c, q)
}

func (f *fakeIndex) Metering(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Metering(ctx, c, q)
}

func (f *fakeIndex) Scores(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Scores(ctx, c, q)
}

func (f *fakeIndex) Trace(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Trace(ctx, c, q)
}

func (f *fakeIndex) Chain(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Chain(ctx, c, q)
}

func (f *fakeIndex) Anomalies(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Anomalies(ctx, c, q)
}

func (f *fakeIndex) Findings(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().Findings(ctx, c, q)
}

func (f *fakeIndex) Dataset(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Dataset(ctx, c, id)
}

func (f *fakeIndex) Request(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Request(ctx, c, id)
}

func (f *fakeIndex) Delivery(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Delivery(ctx, c, id)
}

func (f *fakeIndex) Usage(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Usage(ctx, c, id)
}

func (f *fakeIndex) Contribution(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Contribution(ctx, c, id)
}

func (f *fakeIndex) Correction(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Correction(ctx, c, id)
}

func (f *fakeIndex) Lineage(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Lineage(ctx, c, id)
}

func (f *fakeIndex) Verify(ctx context.Context, c indexclient.Caller, id string) (json.RawMessage, error) {
	return f.reads().Verify(ctx, c, id)
}

func (f *fakeIndex) DepartmentScore(ctx context.Context, c indexclient.Caller, mspID string, q indexclient.Filter) (json.RawMessage, error) {
	return f.reads().DepartmentScore(ctx, c, mspID, q)
}

func (f *fakeIndex) Export(ctx context.Context, c indexclient.Caller, q indexclient.Filter) (*http.Response, error) {
	return f.reads().Export(ctx, c, q)
}

// fakeAuth maps tokens to people.
type fakeAuth map[string]*identity.Person

func (a fakeAuth) Authenticate(token string) (*identity.Person, bool) {
	p, ok := a[token]
	return p, ok
}

// The people of the test department, one per role; the token is the role's name.
var testPeople = fakeAuth{}

func init() {
	for _, r := range domain.Roles {
		testPeople[string(r)] = &identity.Person{MSPID: "Dept1MSP", User: string(r) + "-user", Role: r}
	}
}

// txError is an error from the ledger that names its transaction.
type txError struct {
	de *domain.Error
	tx string
}

func (e txError) Error() string         { return e.de.Error() + " in " + e.tx }
func (e txError) TransactionID() string { return e.tx }
func (e txError) Unwrap() error         { return e.de }

type fixture struct {
	router *gin.Engine
	ledger *fakeLedger
	index  *fakeIndex
	logs   *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		ledger: &fakeLedger{txID: "tx-1", block: 7},
		index:  &fakeIndex{status: indexclient.Status{Height: 8, LagBlocks: 0}},
		logs:   &bytes.Buffer{},
	}
	r, err := NewRouter(Options{
		Ledger: f.ledger,
		Index:  f.index,
		Auth:   testPeople,
		Policy: grantingDept1, // policy_test.go
		Logger: f.logger(),
		Now:    func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.router = r
	return f
}

func (f *fixture) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(f.logs, nil)) }

// do sends one request to the real router; token "" sends no Authorization.
func (f *fixture) do(t *testing.T, method, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.router.ServeHTTP(rec, req)
	return rec
}

// errorOf decodes an error answer, failing when the body has another shape.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) ErrorInfo {
	t.Helper()
	var b ErrorBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("body %q is not an error body: %v", rec.Body.String(), err)
	}
	return b.Error
}
