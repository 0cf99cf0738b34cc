package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

const (
	digestA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var admin = &identity.Person{MSPID: "Dept1MSP", User: "admin1", Role: domain.RoleAdmin}

// fakeLedger holds snapshots and attestations and judges AttestScores as
// the contract does (domain's Validate and Check, one per department).
type fakeLedger struct {
	mu        sync.Mutex
	snapshots map[string]*domain.ScoreSnapshot
	attested  map[string][]domain.ScoreAttestation
	submits   []domain.AttestationInput
	users     []string
	listErr   error
	submitErr error
}

func newLedger(snaps ...domain.Scores) *fakeLedger {
	l := &fakeLedger{snapshots: map[string]*domain.ScoreSnapshot{}, attested: map[string][]domain.ScoreAttestation{}}
	for _, s := range snaps {
		l.snapshots[s.Period] = &domain.ScoreSnapshot{Scores: s, ID: s.Period}
	}
	return l
}

func (l *fakeLedger) Evaluate(ctx context.Context, p *identity.Person, tx string, args ...string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users = append(l.users, p.User)
	switch tx {
	case "ListScoreSnapshots":
		if l.listErr != nil {
			return nil, l.listErr
		}
		out := []domain.SnapshotListing{}
		for _, s := range l.snapshots {
			by := []string{}
			for _, a := range l.attested[s.Period] {
				by = append(by, a.MSPID)
			}
			out = append(out, domain.SnapshotListing{Period: s.Period, AsOfBlock: s.AsOfBlock, AttestedBy: by})
		}
		slices.SortFunc(out, func(a, b domain.SnapshotListing) int { return strings.Compare(a.Period, b.Period) })
		return json.Marshal(out)
	case "GetScoreSnapshot":
		s, ok := l.snapshots[args[0]]
		if !ok {
			return nil, domain.Errorf(domain.CodeNotFound, "snapshot %s does not exist", args[0])
		}
		return json.Marshal(s)
	}
	return nil, fmt.Errorf("unexpected evaluate %s", tx)
}

func (l *fakeLedger) Submit(ctx context.Context, p *identity.Person, tx string, args ...string) ([]byte, string, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tx != "AttestScores" {
		return nil, "", 0, fmt.Errorf("unexpected submit %s", tx)
	}
	if l.submitErr != nil {
		return nil, "tx-x", 0, l.submitErr
	}
	var in domain.AttestationInput
	dec := json.NewDecoder(strings.NewReader(args[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, "", 0, domain.Errorf(domain.CodeInvalid, "AttestationInput JSON: %v", err)
	}
	l.submits = append(l.submits, in)
	if err := in.Validate(); err != nil {
		return nil, "tx-x", 0, err
	}
	s := l.snapshots[in.Period]
	if err := in.Check(s); err != nil {
		return nil, "tx-x", 0, err
	}
	for _, a := range l.attested[in.Period] {
		if a.MSPID == p.MSPID {
			return nil, "tx-x", 0, domain.Errorf(domain.CodeConflict, "%s has already attested the scores of %s", p.MSPID, in.Period)
		}
	}
	a := domain.ScoreAttestation{ID: domain.AttestationID(in.Period, p.MSPID), Period: in.Period, MSPID: p.MSPID, AsOfBlock: s.AsOfBlock,
		SnapshotDigest: in.SnapshotDigest, InputDigest: in.InputDigest, ScoresDigest: in.ScoresDigest, Matched: in.Matched, Detail: in.Detail}
	l.attested[in.Period] = append(l.attested[in.Period], a)
	b, _ := json.Marshal(a)
	return b, "tx-" + in.Period, 42, nil
}

// fakeIndex answers scores per period, as of the blocks it has applied.
type fakeIndex struct {
	mu           sync.Mutex
	height       uint64 // blocks applied
	ledgerHeight *uint64
	docs         map[string]domain.Scores // by period; asOfBlock is set from the query
	scoresStatus int
	headers      []http.Header
	queries      []string
}

func (ix *fakeIndex) Get(ctx context.Context, path, rawQuery string, h http.Header) (*http.Response, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	rec := httptest.NewRecorder()
	switch path {
	case "/internal/status":
		_ = json.NewEncoder(rec).Encode(map[string]any{"height": ix.height, "ledgerHeight": ix.ledgerHeight})
	case "/v1/scores":
		ix.headers = append(ix.headers, h)
		ix.queries = append(ix.queries, rawQuery)
		if ix.scoresStatus != 0 {
			rec.WriteHeader(ix.scoresStatus)
			_, _ = io.WriteString(rec, `{"error":{"code":"internal","message":"boom"}}`)
			break
		}
		q, _ := url.ParseQuery(rawQuery)
		doc := ix.docs[q.Get("period")]
		doc.Period = q.Get("period")
		fmt.Sscan(q.Get("asOfBlock"), &doc.AsOfBlock)
		_ = json.NewEncoder(rec).Encode(doc)
	default:
		rec.WriteHeader(http.StatusNotFound)
	}
	return rec.Result(), nil
}

func (ix *fakeIndex) WaitForBlock(ctx context.Context, block uint64, timeout time.Duration) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if block < ix.height {
		return nil
	}
	return indexclient.ErrWaitTimeout
}

// The attestor reads through the real index client; its requests reach
// Get over fakeTransport.
type fakeTransport struct{ ix *fakeIndex }

func (t fakeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.ix.Get(r.Context(), r.URL.Path, r.URL.RawQuery, r.Header)
}

func (ix *fakeIndex) client() *indexclient.Client {
	c, err := indexclient.New("http://indexer", &http.Client{Transport: fakeTransport{ix}})
	if err != nil {
		panic(err)
	}
	return c
}

func (ix *fakeIndex) Scores(ctx context.Context, c indexclient.Caller, f indexclient.Filter) (json.RawMessage, error) {
	return ix.client().Scores(ctx, c, f)
}

func (ix *fakeIndex) Status(ctx context.Context) (indexclient.Status, error) {
	return ix.client().Status(ctx)
}

func height(n uint64) *uint64 { return &n }

// honest is the document every honest index computes for 2026-02 at block 30.
func honest() domain.Scores {
	return domain.Scores{Period: "2026-02", AsOfBlock: 30, InputDigest: digestA, Items: []domain.ScoreItem{
		{MSPID: "Dept2MSP", Rank: 1, Score: 61.25, Breakdown: map[string]float64{"supply": 120, "supply.norm": 1}},
		{MSPID: "Dept1MSP", Rank: 2, Score: 12.5, Breakdown: map[string]float64{"supply": 0, "supply.norm": 0}},
	}}
}

// fabricated is what a dishonest evaluator published: Dept1 at 100.
func fabricated() domain.Scores {
	s := honest()
	s.InputDigest = digestB
	s.Items = []domain.ScoreItem{
		{MSPID: "Dept1MSP", Rank: 1, Score: 100, Breakdown: map[string]float64{"supply": 1e6, "supply.norm": 1}},
		{MSPID: "Dept2MSP", Rank: 2, Score: 0, Breakdown: map[string]float64{"supply": 0, "supply.norm": 0}},
	}
	return s
}

func newAttestor(t *testing.T, l Ledger, ix Index, opts ...Option) *Attestor {
	t.Helper()
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	a, err := New(l, ix, admin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAttestsWhatItsIndexComputes(t *testing.T) {
	published := honest()
	l := newLedger(published)
	ix := &fakeIndex{height: 31, docs: map[string]domain.Scores{"2026-02": honest()}}
	a := newAttestor(t, l, ix)
	done, err := a.Once(context.Background())
	if err != nil || len(done) != 1 {
		t.Fatalf("Once = %+v, %v", done, err)
	}
	in := l.submits[0]
	if !in.Matched || in.Detail != "" || in.SnapshotDigest != published.Digest() || in.InputDigest != digestA || in.ScoresDigest != domain.ItemsDigest(published.Items) {
		t.Fatalf("attestation %+v", in)
	}
	h := ix.headers[0]
	if h.Get("X-Caller-Msp") != "Dept1MSP" || h.Get("X-Caller-Role") != "admin" || h.Get("X-Caller-User") != "admin1" || ix.queries[0] != "asOfBlock=30&period=2026-02" {
		t.Fatalf("index asked %q with %v", ix.queries[0], h)
	}
	if slices.ContainsFunc(l.users, func(u string) bool { return u != "admin1" }) {
		t.Fatalf("ledger calls as %v, want the admin only", l.users)
	}
	// Attested: the next rounds leave it alone.
	done, err = a.Once(context.Background())
	if err != nil || len(done) != 0 || len(l.submits) != 1 {
		t.Fatalf("second round: %+v, %v, %d submits", done, err, len(l.submits))
	}
}

func TestAttestsAFabricatedDocumentAsNotMatched(t *testing.T) {
	l := newLedger(fabricated())
	ix := &fakeIndex{height: 31, docs: map[string]domain.Scores{"2026-02": honest()}}
	done, err := newAttestor(t, l, ix).Once(context.Background())
	if err != nil || len(done) != 1 {
		t.Fatalf("Once = %+v, %v", done, err)
	}
	in := l.submits[0]
	if in.Matched || in.InputDigest != digestA || in.ScoresDigest != domain.ItemsDigest(honest().Items) {
		t.Fatalf("attestation %+v", in)
	}
	for _, want := range []string{"inputDigest " + digestA + ", published " + digestB, "Dept2MSP scores 61.25 (rank 1), published 0 (rank 2)", "Dept1MSP scores 12.5 (rank 2), published 100 (rank 1)"} {
		if !strings.Contains(in.Detail, want) {
			t.Errorf("detail %q lacks %q", in.Detail, want)
		}
	}
}

func TestWaitsForItsIndex(t *testing.T) {
	l := newLedger(honest())
	ix := &fakeIndex{height: 20, ledgerHeight: height(35), docs: map[string]domain.Scores{"2026-02": honest()}}
	a := newAttestor(t, l, ix)
	done, err := a.Once(context.Background())
	if err != nil || len(done) != 0 || len(l.submits) != 0 || len(ix.queries) != 0 {
		t.Fatalf("attested before its index had block 30: %+v, %v", done, err)
	}
	ix.height = 36
	if done, err := a.Once(context.Background()); err != nil || len(done) != 1 || !l.submits[0].Matched {
		t.Fatalf("once the index caught up: %+v, %v", done, err)
	}
}

func TestAsOfBlockBeyondTheLedger(t *testing.T) {
	published := honest()
	published.AsOfBlock = 1_000_000
	l := newLedger(published)
	ix := &fakeIndex{height: 36, ledgerHeight: height(36)}
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	a := newAttestor(t, l, ix, WithGrace(30*time.Second), WithClock(func() time.Time { return now }))
	for range 2 {
		if done, err := a.Once(context.Background()); err != nil || len(done) != 0 {
			t.Fatalf("within the grace period: %+v, %v", done, err)
		}
		now = now.Add(20 * time.Second)
	}
	done, err := a.Once(context.Background())
	if err != nil || len(done) != 1 {
		t.Fatalf("after the grace period: %+v, %v", done, err)
	}
	in := l.submits[0]
	if in.Matched || !strings.Contains(in.Detail, "asOfBlock 1000000 is beyond the ledger, whose height has stayed 36") {
		t.Fatalf("attestation %+v", in)
	}
	// An unknown ledger height never counts as beyond.
	l = newLedger(published)
	ix.ledgerHeight = nil
	a = newAttestor(t, l, ix, WithGrace(0))
	if done, err := a.Once(context.Background()); err != nil || len(done) != 0 {
		t.Fatalf("ledger height unknown: %+v, %v", done, err)
	}
}

func TestFailuresAreRetried(t *testing.T) {
	l := newLedger(honest())
	ix := &fakeIndex{height: 31, scoresStatus: http.StatusInternalServerError}
	a := newAttestor(t, l, ix)
	if _, err := a.Once(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 500") || len(l.submits) != 0 {
		t.Fatalf("index failure: %v, %d submits", err, len(l.submits))
	}
	ix.scoresStatus = 0
	ix.docs = map[string]domain.Scores{"2026-02": honest()}
	l.submitErr = domain.Errorf(domain.CodeUnavailable, "the ledger is unavailable")
	if _, err := a.Once(context.Background()); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("ledger failure: %v", err)
	}
	// Another instance of the gateway attested first: nothing to do.
	l.submitErr = domain.Errorf(domain.CodeConflict, "Dept1MSP has already attested the scores of 2026-02")
	if done, err := a.Once(context.Background()); err != nil || len(done) != 0 {
		t.Fatalf("already attested: %+v, %v", done, err)
	}
	l.listErr = errors.New("peer down")
	if _, err := a.Once(context.Background()); err == nil || !strings.Contains(err.Error(), "peer down") {
		t.Fatalf("list failure: %v", err)
	}
}

func TestRunAttestsUntilCancelled(t *testing.T) {
	l := newLedger(honest())
	ix := &fakeIndex{height: 31, docs: map[string]domain.Scores{"2026-02": honest()}}
	a := newAttestor(t, l, ix, WithInterval(5*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { a.Run(ctx); close(stopped) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		n := len(l.attested["2026-02"])
		l.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not attest")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestNewNeedsTheAdmin(t *testing.T) {
	op := &identity.Person{MSPID: "Dept1MSP", User: "op", Role: domain.RoleOperator}
	if _, err := New(newLedger(), &fakeIndex{}, op); err == nil {
		t.Fatal("an operator may not sign attestations")
	}
	if got := Admin([]*identity.Person{op, admin}); got != admin {
		t.Fatalf("Admin = %+v", got)
	}
	if Admin([]*identity.Person{op}) != nil {
		t.Fatal("Admin found one among operators")
	}
}

func TestDifferences(t *testing.T) {
	pub := honest()
	mine := honest()
	mine.ModelDigest = digestA
	mine.Items = append(mine.Items, domain.ScoreItem{MSPID: "Dept3MSP", Rank: 3, Score: 1})
	mine.Items[1].Breakdown = map[string]float64{"supply": 0, "supply.norm": 0.5}
	got := Differences(pub, mine)
	want := "modelDigest " + digestA + ", published none; the published document lacks Dept3MSP; Dept1MSP's breakdown differs"
	if got != want {
		t.Fatalf("Differences\n got %q\nwant %q", got, want)
	}
	if err := domain.CheckText("detail", got, false, domain.MaxAttestationDetail); err != nil {
		t.Fatal(err)
	}
	many := domain.Scores{InputDigest: digestA}
	for i := range 500 {
		many.Items = append(many.Items, domain.ScoreItem{MSPID: fmt.Sprintf("Dept%dMSP", i), Rank: i + 1, Score: float64(i)})
	}
	if d := Differences(domain.Scores{InputDigest: digestB}, many); domain.CheckText("detail", d, false, domain.MaxAttestationDetail) != nil {
		t.Fatalf("a long detail is refused: %d characters", len([]rune(d)))
	}
}
