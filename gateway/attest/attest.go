// Package attest is a department's attestor: a small background loop in
// its gateway that checks every score snapshot published on the ledger
// against the department's own indexer and records the outcome on the
// ledger, signed by the department's admin (AttestScores).
//
// For each published period its department has not attested yet, it reads
// the snapshot from the department's own peer, waits until its own indexer
// has applied the snapshot's asOfBlock, asks that indexer for the scores of
// the period at exactly that block, and compares the input digest and the
// score items (their canonical JSON, byte for byte: domain.ItemsDigest) with
// the published document. Matched or not, it attests once; the contract
// refuses a second attestation and one that contradicts its own digests.
// A snapshot whose asOfBlock the ledger has not reached (a fabricated
// height) is attested as not matched once the ledger has stayed below it
// for a grace period. Nothing is kept between runs: the ledger says what is
// attested, so a restarted gateway carries on where it stopped.
package attest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

// Ledger evaluates and submits the ledger chaincode's transactions as a
// person: the gateway's fabric.Ledger.
type Ledger interface {
	Evaluate(ctx context.Context, p *identity.Person, txName string, args ...string) ([]byte, error)
	Submit(ctx context.Context, p *identity.Person, txName string, args ...string) (result []byte, txID string, blockNumber uint64, err error)
}

// Index is the department's own indexer: the gateway's indexclient.Client.
type Index interface {
	Scores(ctx context.Context, c indexclient.Caller, f indexclient.Filter) (json.RawMessage, error)
	Status(ctx context.Context) (indexclient.Status, error)
	WaitForBlock(ctx context.Context, block uint64, timeout time.Duration) error
}

// Defaults.
const (
	DefaultInterval = 5 * time.Second
	DefaultWait     = 2 * time.Second  // for the index to reach asOfBlock, per attempt
	DefaultGrace    = 30 * time.Second // the ledger below asOfBlock this long: the height is fabricated
)

// Attestor attests its department's view of every published snapshot.
type Attestor struct {
	ledger   Ledger
	index    Index
	admin    *identity.Person
	log      *slog.Logger
	interval time.Duration
	wait     time.Duration
	grace    time.Duration
	now      func() time.Time

	mu     sync.Mutex
	beyond map[string]time.Time // period -> when its asOfBlock was first seen beyond the ledger
}

// Option configures an Attestor.
type Option func(*Attestor)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(a *Attestor) { a.log = l } }

// WithInterval sets how often the ledger is polled for snapshots.
func WithInterval(d time.Duration) Option { return func(a *Attestor) { a.interval = d } }

// WithWait sets how long one attempt waits for the index to reach asOfBlock.
func WithWait(d time.Duration) Option { return func(a *Attestor) { a.wait = d } }

// WithGrace sets how long the ledger must stay below a snapshot's asOfBlock
// before the snapshot is attested as not matched.
func WithGrace(d time.Duration) Option { return func(a *Attestor) { a.grace = d } }

// WithClock sets the clock that times the grace period.
func WithClock(now func() time.Time) Option { return func(a *Attestor) { a.now = now } }

// New returns the attestor of admin's department.
func New(l Ledger, ix Index, admin *identity.Person, opts ...Option) (*Attestor, error) {
	if l == nil || ix == nil {
		return nil, errors.New("attest: a ledger and an index are required")
	}
	if admin == nil || admin.Role != domain.RoleAdmin {
		return nil, errors.New("attest: the department's admin signs attestations; none is given")
	}
	a := &Attestor{
		ledger: l, index: ix, admin: admin, log: slog.Default(),
		interval: DefaultInterval, wait: DefaultWait, grace: DefaultGrace, now: time.Now,
		beyond: map[string]time.Time{},
	}
	for _, o := range opts {
		o(a)
	}
	if a.interval <= 0 || a.wait <= 0 || a.grace < 0 {
		return nil, errors.New("attest: interval and wait must be positive, grace not negative")
	}
	return a, nil
}

// Admin finds the person who signs attestations: the first admin listed.
func Admin(people []*identity.Person) *identity.Person {
	for _, p := range people {
		if p.Role == domain.RoleAdmin {
			return p
		}
	}
	return nil
}

// Run attests every interval until ctx ends. Failures are logged and tried
// again on the next round.
func (a *Attestor) Run(ctx context.Context) {
	a.log.Info("attestor started", "admin", a.admin.User, "interval", a.interval)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := a.Once(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("attestor round failed", "error", err)
		}
		t.Reset(a.interval)
	}
}

// errNotYet says a snapshot cannot be attested yet: the index has not
// reached its asOfBlock.
var errNotYet = errors.New("not yet")

// Once attests every published snapshot its department has not attested
// yet and returns the attestations it recorded. A snapshot it cannot
// attest yet is left for the next round; the error joins the failures.
func (a *Attestor) Once(ctx context.Context) ([]domain.ScoreAttestation, error) {
	out, err := a.ledger.Evaluate(ctx, a.admin, "ListScoreSnapshots")
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var list []domain.SnapshotListing
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var done []domain.ScoreAttestation
	var errs []error
	for _, s := range list {
		if slices.Contains(s.AttestedBy, a.admin.MSPID) {
			continue
		}
		att, err := a.attest(ctx, s.Period)
		switch {
		case errors.Is(err, errNotYet):
			a.log.Debug("snapshot not attestable yet", "period", s.Period, "asOfBlock", s.AsOfBlock)
		case err != nil:
			errs = append(errs, fmt.Errorf("attest %s: %w", s.Period, err))
		case att != nil:
			done = append(done, *att)
		}
	}
	return done, errors.Join(errs...)
}

// attest checks one period's snapshot and records the outcome; nil when
// another instance attested it meanwhile.
func (a *Attestor) attest(ctx context.Context, period string) (*domain.ScoreAttestation, error) {
	out, err := a.ledger.Evaluate(ctx, a.admin, "GetScoreSnapshot", period)
	if err != nil {
		return nil, fmt.Errorf("read the snapshot: %w", err)
	}
	var snap domain.ScoreSnapshot
	if err := json.Unmarshal(out, &snap); err != nil {
		return nil, fmt.Errorf("read the snapshot: %w", err)
	}
	in, err := a.check(ctx, &snap)
	if err != nil {
		return nil, err
	}
	arg, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	res, txID, block, err := a.ledger.Submit(ctx, a.admin, "AttestScores", string(arg))
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeConflict && strings.Contains(domain.ErrorMessage(err), "already attested") {
			return nil, nil
		}
		return nil, fmt.Errorf("submit the attestation: %w", err)
	}
	var att domain.ScoreAttestation
	if err := json.Unmarshal(res, &att); err != nil {
		return nil, fmt.Errorf("attestation %s committed in block %d, but its answer does not decode: %w", txID, block, err)
	}
	a.mu.Lock()
	delete(a.beyond, period)
	a.mu.Unlock()
	a.log.Info("attested scores", "period", period, "asOfBlock", snap.AsOfBlock, "matched", in.Matched,
		"detail", in.Detail, "txId", txID, "block", block)
	return &att, nil
}

// check recomputes the snapshot on the department's own index at its
// asOfBlock and says whether it matches.
func (a *Attestor) check(ctx context.Context, snap *domain.ScoreSnapshot) (domain.AttestationInput, error) {
	in := domain.AttestationInput{Period: snap.Period, SnapshotDigest: snap.Scores.Digest()}
	err := a.index.WaitForBlock(ctx, snap.AsOfBlock, a.wait)
	if errors.Is(err, indexclient.ErrWaitTimeout) {
		return a.beyondLedger(ctx, snap, in)
	}
	if err != nil {
		return in, fmt.Errorf("wait for block %d on the index: %w", snap.AsOfBlock, err)
	}
	doc, err := a.recompute(ctx, snap.Period, snap.AsOfBlock)
	if err != nil {
		return in, err
	}
	in.InputDigest, in.ScoresDigest = doc.InputDigest, domain.ItemsDigest(doc.Items)
	in.Matched = doc.InputDigest == snap.InputDigest && in.ScoresDigest == domain.ItemsDigest(snap.Items)
	if !in.Matched {
		in.Detail = Differences(snap.Scores, *doc)
	}
	return in, nil
}

// beyondLedger decides about a snapshot whose asOfBlock the index has not
// reached: the index may only be behind (try again later), or the ledger
// itself may be below that block, which no honest snapshot claims, since
// it is computed from blocks already committed. Once the ledger has stayed
// below it for the grace period, the snapshot is attested as not matched.
func (a *Attestor) beyondLedger(ctx context.Context, snap *domain.ScoreSnapshot, in domain.AttestationInput) (domain.AttestationInput, error) {
	height, known, err := a.ledgerHeight(ctx)
	if err != nil || !known || height > snap.AsOfBlock {
		return in, errNotYet
	}
	a.mu.Lock()
	first, seen := a.beyond[snap.Period]
	if !seen {
		first = a.now()
		a.beyond[snap.Period] = first
	}
	a.mu.Unlock()
	if a.now().Sub(first) < a.grace {
		return in, errNotYet
	}
	none := sha256.Sum256(nil)
	in.InputDigest, in.ScoresDigest = hex.EncodeToString(none[:]), domain.ItemsDigest(nil)
	in.Detail = fmt.Sprintf("asOfBlock %d is beyond the ledger, whose height has stayed %d for %s: nothing to recompute",
		snap.AsOfBlock, height, a.grace)
	return in, nil
}

// ledgerHeight is the peer's height as the index last saw it.
func (a *Attestor) ledgerHeight(ctx context.Context) (uint64, bool, error) {
	st, err := a.index.Status(ctx)
	if err != nil {
		return 0, false, err
	}
	if st.LedgerHeight == nil {
		return 0, false, nil
	}
	return *st.LedgerHeight, true, nil
}

// recompute asks the index for the scores of period at asOfBlock, as the admin.
func (a *Attestor) recompute(ctx context.Context, period string, asOfBlock uint64) (*domain.Scores, error) {
	who := indexclient.Caller{MSPID: a.admin.MSPID, Role: a.admin.Role, User: a.admin.User}
	doc, err := indexclient.ScoresOf(ctx, a.index, who, period, &asOfBlock)
	if err != nil {
		return nil, fmt.Errorf("recompute on the index: %w", err)
	}
	if doc.Period != period || doc.AsOfBlock != asOfBlock {
		return nil, fmt.Errorf("the index answered the scores of %s at block %d, not %s at %d", doc.Period, doc.AsOfBlock, period, asOfBlock)
	}
	return doc, nil
}

// maxDetail keeps the detail inside the contract's limit.
const maxDetail = domain.MaxAttestationDetail - 100

// Differences says, in one line, how a recomputed document differs from the
// published one: the digests, then the departments missing or added, then
// the first items whose rank, score or breakdown differ.
func Differences(published, mine domain.Scores) string {
	var parts []string
	if published.InputDigest != mine.InputDigest {
		parts = append(parts, fmt.Sprintf("inputDigest %s, published %s", mine.InputDigest, published.InputDigest))
	}
	if published.ModelDigest != mine.ModelDigest {
		parts = append(parts, fmt.Sprintf("modelDigest %s, published %s", orNone(mine.ModelDigest), orNone(published.ModelDigest)))
	}
	pub := map[string]domain.ScoreItem{}
	for _, it := range published.Items {
		pub[it.MSPID] = it
	}
	own := map[string]domain.ScoreItem{}
	for _, it := range mine.Items {
		own[it.MSPID] = it
	}
	var missing, extra, differ []string
	for _, it := range mine.Items {
		p, ok := pub[it.MSPID]
		switch {
		case !ok:
			missing = append(missing, it.MSPID)
		case p.Rank != it.Rank || p.Score != it.Score:
			differ = append(differ, fmt.Sprintf("%s scores %s (rank %d), published %s (rank %d)",
				it.MSPID, num(it.Score), it.Rank, num(p.Score), p.Rank))
		case domain.ItemsDigest([]domain.ScoreItem{p}) != domain.ItemsDigest([]domain.ScoreItem{it}):
			differ = append(differ, it.MSPID+"'s breakdown differs")
		}
	}
	for _, it := range published.Items {
		if _, ok := own[it.MSPID]; !ok {
			extra = append(extra, it.MSPID)
		}
	}
	if len(missing) > 0 {
		parts = append(parts, "the published document lacks "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "the published document adds "+strings.Join(extra, ", ")+", which this index does not score")
	}
	if len(differ) > 5 {
		differ = append(differ[:5], fmt.Sprintf("%d more", len(differ)-5))
	}
	parts = append(parts, differ...)
	if len(parts) == 0 {
		parts = append(parts, "the items differ in their encoding")
	}
	d := strings.Join(parts, "; ")
	if r := []rune(d); len(r) > maxDetail {
		d = string(r[:maxDetail]) + "…"
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
