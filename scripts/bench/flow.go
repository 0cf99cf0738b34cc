package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// Op is one kind of transaction in the mix.
type Op string

// The mix: one flow is these seven transactions, in this order.
const (
	OpRegister     Op = "register"
	OpRequest      Op = "request"
	OpApprove      Op = "approve"
	OpDeliver      Op = "deliver"
	OpReceipt      Op = "receipt"
	OpUsage        Op = "usage"
	OpContribution Op = "contribution"
)

// Ops lists the mix in flow order.
var Ops = []Op{OpRegister, OpRequest, OpApprove, OpDeliver, OpReceipt, OpUsage, OpContribution}

// Call is one transaction of a flow, described for both paths: the
// chaincode transaction and its arguments for a fabric-gateway client, and
// the REST route and body for a department's gateway. The body is the same
// JSON as the last chaincode argument, since the gateway forwards the
// domain input it decoded.
type Call struct {
	Op     Op
	MSPID  string // the caller's department
	Role   domain.Role
	TxName string
	Args   []string
	Method string
	Path   string
	Body   []byte
	Entity string // the key of the entity in a REST write answer
	// After is the block the call depends on (HasAfter): the block the
	// flow's previous step committed in, or the one that invalidated an
	// earlier attempt of this call. Both paths endorse the call only once
	// the caller's own peer has it (the REST path sends it as X-Min-Block,
	// the raw one waits with gwfabric.Heights); the previous step answered
	// only once the peers that endorsed it had committed it (both paths),
	// so no peer that has not seen the step before endorses this one.
	After    uint64
	HasAfter bool
	noFloor  bool // never given one (bench -no-floor)
}

// Committed is a committed transaction's answer.
type Committed struct {
	TxID   string
	Block  uint64
	Entity json.RawMessage
}

// Submitter submits a Call as the right person and returns once it is
// committed (and, for the REST path, indexed by the caller's department).
type Submitter interface {
	Submit(ctx context.Context, c Call) (Committed, error)
}

// SubmitError is a failed submission with its domain code; Retry says that
// trying again can succeed (a peer one block behind another, an endorsement
// mismatch, a lost concurrent update, the ledger briefly unavailable).
type SubmitError struct {
	Code  domain.Code
	Retry bool
	Err   error
	// Block is the block that invalidated the attempt at commit (HasBlock),
	// the floor of the next attempt.
	Block    uint64
	HasBlock bool
}

func (e *SubmitError) Error() string { return fmt.Sprintf("[%s] %v", e.Code, e.Err) }
func (e *SubmitError) Unwrap() error { return e.Err }

// retryable says which failures a client of this mix retries, all of them
// a peer behind another: the next step of a flow is endorsed by peers of
// other departments too, and one that has not committed the block the
// previous step landed in answers not_found (the dataset is not there
// yet), conflict (the request is still pending there) or unavailable (the
// endorsers disagree); a transaction that lost a concurrent update at
// commit is a conflict too. Each clears within a block or two; Backoff
// bounds the wait.
func retryable(c domain.Code) bool {
	return c == domain.CodeNotFound || c == domain.CodeUnavailable || c == domain.CodeConflict
}

// Flow is one dataset's walk through the mix between an owner, a consumer
// and a contributing department.
type Flow struct {
	ID          string // the dataset ID
	Owner       string
	Consumer    string
	Contributor string
	ValidUntil  time.Time

	requestID  string
	deliveryID string
	last       uint64 // the block the latest committed step landed in
	steps      int    // steps committed
}

// Committed records the block a step committed in: the next step depends
// on it.
func (f *Flow) Committed(block uint64) {
	f.last = max(f.last, block)
	f.steps++
}

// digest is a stable SHA-256 for a flow's delivered content.
func (f *Flow) digest() string {
	s := sha256.Sum256([]byte("bench content " + f.ID))
	return hex.EncodeToString(s[:])
}

// Call returns the call of op in this flow. The request and delivery IDs
// come from the answers of the earlier steps (Record).
func (f *Flow) Call(op Op) (Call, error) {
	c := Call{Op: op, Method: "POST", After: f.last, HasAfter: f.steps > 0}
	var in any
	switch op {
	case OpRegister:
		c.MSPID, c.Role, c.TxName, c.Path, c.Entity = f.Owner, domain.RoleOperator, "RegisterDataset", "/v1/datasets", "dataset"
		in = domain.DatasetInput{ID: f.ID, Title: "Benchmark dataset " + f.ID, Description: "Households by district, for the benchmark",
			Fields: []string{"householdId", "district", "members"}, UpdateFrequency: "daily", ShareType: domain.ShareConditional,
			OpenType: domain.OpenRestricted, Grade: 2, DerivedFrom: []string{}}
	case OpRequest:
		c.MSPID, c.Role, c.TxName, c.Path, c.Entity = f.Consumer, domain.RoleOperator, "CreateRequest", "/v1/requests", "request"
		in = domain.RequestInput{DatasetID: f.ID, Purpose: "verify benefit eligibility", LegalBasis: "Social Assistance Regulation art. 12",
			Fields: []string{"householdId", "members"}, ValidUntil: f.ValidUntil}
	case OpApprove:
		c.MSPID, c.Role, c.TxName, c.Entity = f.Owner, domain.RoleApprover, "ApproveRequest", "request"
		c.Path, c.Args = "/v1/requests/"+f.requestID+"/approve", []string{f.requestID}
		in = domain.DecisionInput{Reason: "legal basis checked"}
	case OpDeliver:
		c.MSPID, c.Role, c.TxName, c.Entity = f.Owner, domain.RoleOperator, "RecordDelivery", "delivery"
		c.Path, c.Args = "/v1/requests/"+f.requestID+"/deliveries", []string{f.requestID}
		in = domain.DeliveryInput{SHA256: f.digest(), Records: 1200, Bytes: 48000, Channel: "sftp"}
	case OpReceipt:
		c.MSPID, c.Role, c.TxName, c.Entity = f.Consumer, domain.RoleOperator, "RecordReceipt", "delivery"
		c.Path, c.Args = "/v1/deliveries/"+f.deliveryID+"/receipt", []string{f.deliveryID}
		in = domain.ReceiptInput{SHA256: f.digest()}
	case OpUsage:
		c.MSPID, c.Role, c.TxName, c.Path, c.Entity = f.Consumer, domain.RoleOperator, "RecordUsage", "/v1/usage", "usage"
		in = domain.UsageInput{RequestID: f.requestID, Calls: 3, Records: 600}
	case OpContribution:
		c.MSPID, c.Role, c.TxName, c.Path, c.Entity = f.Contributor, domain.RoleOperator, "RecordContribution", "/v1/contributions", "contribution"
		in = domain.ContributionInput{DatasetID: f.ID, Records: 100, Bytes: 4000, SHA256: f.digest()}
	default:
		return Call{}, fmt.Errorf("unknown op %q", op)
	}
	if (op == OpApprove || op == OpDeliver || op == OpUsage) && f.requestID == "" ||
		op == OpReceipt && f.deliveryID == "" {
		return Call{}, fmt.Errorf("flow %s: %s before the step that makes its subject", f.ID, op)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return Call{}, fmt.Errorf("encode %s input: %w", op, err)
	}
	c.Body = body
	c.Args = append(c.Args, string(body))
	return c, nil
}

// Record takes what a committed step answered that later steps need.
func (f *Flow) Record(op Op, entity json.RawMessage) error {
	if op != OpRequest && op != OpDeliver {
		return nil
	}
	var e struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(entity, &e); err != nil || e.ID == "" {
		return fmt.Errorf("flow %s: %s answered no entity ID (%v): %.200s", f.ID, op, err, entity)
	}
	if op == OpRequest {
		if e.Status != string(domain.RequestPending) {
			return fmt.Errorf("flow %s: request %s is %s, want pending (the dataset is conditional)", f.ID, e.ID, e.Status)
		}
		f.requestID = e.ID
	} else {
		f.deliveryID = e.ID
	}
	return nil
}

// Attempt is one submission of one call.
type Attempt struct {
	Op      Op
	Start   time.Time
	End     time.Time
	OK      bool
	Code    domain.Code // when not OK
	Block   uint64      // when OK
	Retries int         // attempts before this one for the same call
	First   time.Time   // start of the first attempt of the same call
	GaveUp  bool        // a failed attempt that was not retried
}

// Backoff bounds the retries of one call.
type Backoff struct {
	Min, Max time.Duration
	Within   time.Duration // give up on a call after this long
}

// runCall submits c until it commits, a non-retryable error occurs, the
// backoff's bound passes or ctx ends; every attempt goes to record.
func runCall(ctx context.Context, sub Submitter, c Call, b Backoff, record func(Attempt)) (Committed, error) {
	first := time.Now()
	wait := b.Min
	for try := 0; ; try++ {
		start := time.Now()
		res, err := sub.Submit(ctx, c)
		a := Attempt{Op: c.Op, Start: start, End: time.Now(), OK: err == nil, Block: res.Block, Retries: try, First: first}
		if err == nil {
			record(a)
			return res, nil
		}
		var se *SubmitError
		if errors.As(err, &se) {
			a.Code = se.Code
		} else {
			a.Code = domain.CodeInternal
		}
		a.GaveUp = se == nil || !se.Retry || time.Since(first) > b.Within || ctx.Err() != nil
		record(a)
		if a.GaveUp {
			return Committed{}, fmt.Errorf("%s after %d attempts: %w", c.Op, try+1, err)
		}
		if se.HasBlock && !c.noFloor && (!c.HasAfter || se.Block > c.After) {
			c.After, c.HasAfter = se.Block, true
		}
		select {
		case <-ctx.Done():
			return Committed{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, b.Max)
	}
}
