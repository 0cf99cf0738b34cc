package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// TestFlowCalls walks one flow: each call goes to the right department and
// role, its body is valid domain input, the same JSON is the chaincode's
// last argument, and the IDs the answers carry reach the later steps.
func TestFlowCalls(t *testing.T) {
	f := &Flow{ID: "bench-x-raw-1", Owner: "Dept1MSP", Consumer: "Dept2MSP", Contributor: "Dept3MSP", ValidUntil: time.Now().Add(time.Hour).UTC()}
	want := map[Op]struct {
		msp, path, tx string
		role          domain.Role
	}{
		OpRegister:     {"Dept1MSP", "/v1/datasets", "RegisterDataset", domain.RoleOperator},
		OpRequest:      {"Dept2MSP", "/v1/requests", "CreateRequest", domain.RoleOperator},
		OpApprove:      {"Dept1MSP", "/v1/requests/rq-1/approve", "ApproveRequest", domain.RoleApprover},
		OpDeliver:      {"Dept1MSP", "/v1/requests/rq-1/deliveries", "RecordDelivery", domain.RoleOperator},
		OpReceipt:      {"Dept2MSP", "/v1/deliveries/dl-1/receipt", "RecordReceipt", domain.RoleOperator},
		OpUsage:        {"Dept2MSP", "/v1/usage", "RecordUsage", domain.RoleOperator},
		OpContribution: {"Dept3MSP", "/v1/contributions", "RecordContribution", domain.RoleOperator},
	}
	if _, err := f.Call(OpApprove); err == nil {
		t.Fatal("approve before the request was accepted")
	}
	for _, op := range Ops {
		t.Run(string(op), func(t *testing.T) {
			c, err := f.Call(op)
			if err != nil {
				t.Fatal(err)
			}
			w := want[op]
			if c.MSPID != w.msp || c.Role != w.role || c.Path != w.path || c.TxName != w.tx || c.Method != "POST" {
				t.Fatalf("call %+v, want %+v", c, w)
			}
			if c.Args[len(c.Args)-1] != string(c.Body) {
				t.Fatalf("last argument %s differs from the body %s", c.Args[len(c.Args)-1], c.Body)
			}
			if err := validInput(op, c.Body, time.Now()); err != nil {
				t.Fatalf("body %s: %v", c.Body, err)
			}
			switch op {
			case OpRequest:
				if err := f.Record(op, json.RawMessage(`{"id":"rq-1","status":"pending"}`)); err != nil {
					t.Fatal(err)
				}
			case OpDeliver:
				if err := f.Record(op, json.RawMessage(`{"id":"dl-1","status":"delivered"}`)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if err := (&Flow{ID: "x"}).Record(OpRequest, json.RawMessage(`{"id":"rq-2","status":"approved"}`)); err == nil {
		t.Error("an approved request of conditional data accepted")
	}
	if err := (&Flow{ID: "x"}).Record(OpDeliver, json.RawMessage(`{}`)); err == nil {
		t.Error("an answer without an ID accepted")
	}
}

// validInput decodes a body strictly into its domain input and validates it.
func validInput(op Op, body []byte, now time.Time) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	switch op {
	case OpRegister:
		var in domain.DatasetInput
		if err := dec.Decode(&in); err != nil {
			return err
		}
		return in.Validate()
	case OpRequest:
		var in domain.RequestInput
		if err := dec.Decode(&in); err != nil {
			return err
		}
		return in.Validate(now)
	case OpApprove:
		var in domain.DecisionInput
		if err := dec.Decode(&in); err != nil {
			return err
		}
		return in.Validate(false)
	case OpDeliver:
		var in domain.DeliveryInput
		if err := dec.Decode(&in); err != nil {
			return err
		}
		return in.Validate()
	case OpReceipt:
		var in domain.ReceiptInput
		if err := dec.Decode(&in); err != nil {
			return err
		}
		return in.Validate()
	case OpUsage:
		var in domain.UsageInput
		if err := dec.Decode(&in); err != nil {
			return err
		}
		return in.Validate()
	case OpContribution:
		var in domain.ContributionInput
		if err := dec.Decode(&in); err != nil {
			return err
		}
		return in.Validate()
	}
	return errors.New("unknown op")
}

// scripted answers each call from a list of errors, then commits.
type scripted struct {
	errs  []error
	n     int
	calls []Call
}

func (s *scripted) Submit(ctx context.Context, c Call) (Committed, error) {
	s.n++
	s.calls = append(s.calls, c)
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return Committed{}, err
	}
	return Committed{TxID: "tx", Block: 9}, nil
}

func TestRunCall(t *testing.T) {
	retry := &SubmitError{Code: domain.CodeNotFound, Retry: true, Err: errors.New("not yet")}
	final := &SubmitError{Code: domain.CodeForbidden, Err: errors.New("no")}
	b := Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond, Within: time.Second}
	tests := []struct {
		name     string
		errs     []error
		within   time.Duration
		ok       bool
		attempts int
		gaveUp   int
	}{
		{"commits at once", nil, time.Second, true, 1, 0},
		{"retries what can succeed", []error{retry, retry}, time.Second, true, 3, 0},
		{"stops at what cannot", []error{retry, final}, time.Second, false, 2, 1},
		{"gives up after its bound", []error{retry, retry, retry, retry}, 0, false, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := &scripted{errs: tt.errs}
			var seen []Attempt
			b := b
			b.Within = tt.within
			res, err := runCall(context.Background(), sub, Call{Op: OpUsage}, b, func(a Attempt) { seen = append(seen, a) })
			if (err == nil) != tt.ok || len(seen) != tt.attempts {
				t.Fatalf("err %v, %d attempts; want ok=%v, %d attempts", err, len(seen), tt.ok, tt.attempts)
			}
			gaveUp := 0
			for i, a := range seen {
				if a.GaveUp {
					gaveUp++
				}
				if a.Retries != i || a.Op != OpUsage {
					t.Errorf("attempt %d: %+v", i, a)
				}
			}
			if gaveUp != tt.gaveUp {
				t.Errorf("%d attempts given up, want %d", gaveUp, tt.gaveUp)
			}
			if tt.ok && (res.Block != 9 || !seen[len(seen)-1].OK) {
				t.Errorf("result %+v, last attempt %+v", res, seen[len(seen)-1])
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		code domain.Code
		want bool
	}{
		{domain.CodeNotFound, true},
		{domain.CodeUnavailable, true},
		{domain.CodeConflict, true},
		{domain.CodeForbidden, false},
		{domain.CodeInvalid, false},
		{domain.CodeInternal, false},
	} {
		if got := retryable(tt.code); got != tt.want {
			t.Errorf("retryable(%s) = %v", tt.code, got)
		}
	}
}

// TestFloors: each step after the first depends on the block the step
// before committed in, and a read conflict raises the retry's floor to the
// block that invalidated it (unless floors are off).
func TestFloors(t *testing.T) {
	f := &Flow{ID: "ds-1", Owner: "A", Consumer: "B", Contributor: "C"}
	c, err := f.Call(OpRegister)
	if err != nil || c.HasAfter {
		t.Fatalf("first step: %+v, %v; want no floor", c, err)
	}
	f.Committed(17)
	if c, _ = f.Call(OpRequest); !c.HasAfter || c.After != 17 {
		t.Errorf("second step's floor %d (%v), want 17", c.After, c.HasAfter)
	}
	f.Committed(12) // never lowers it
	if c, _ = f.Call(OpRequest); c.After != 17 {
		t.Errorf("floor %d after an earlier block, want 17", c.After)
	}

	conflict := &SubmitError{Code: domain.CodeConflict, Retry: true, Err: errors.New("mvcc"), Block: 30, HasBlock: true}
	b := Backoff{Min: time.Millisecond, Max: time.Millisecond, Within: time.Second}
	for _, noFloor := range []bool{false, true} {
		sub := &scripted{errs: []error{conflict}}
		call := Call{Op: OpUsage, After: 17, HasAfter: !noFloor, noFloor: noFloor}
		if _, err := runCall(context.Background(), sub, call, b, func(Attempt) {}); err != nil {
			t.Fatal(err)
		}
		if len(sub.calls) != 2 {
			t.Fatalf("%d submissions, want 2", len(sub.calls))
		}
		retry := sub.calls[1]
		if noFloor && retry.HasAfter || !noFloor && (!retry.HasAfter || retry.After != 30) {
			t.Errorf("noFloor=%v: retry's floor %d (%v)", noFloor, retry.After, retry.HasAfter)
		}
	}
}
