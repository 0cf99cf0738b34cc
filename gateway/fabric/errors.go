package fabric

import (
	"context"
	"errors"
	"strings"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/govshare/ledger/chaincode/domain"
)

// Error is a failed ledger call, classified into a domain code. errors.As
// finds the *domain.Error inside it; the cause stays for the logs.
type Error struct {
	Domain *domain.Error
	TxID   string // empty when the call failed before a proposal existed
	Cause  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Domain.Error())
	if e.TxID != "" {
		b.WriteString(" (transaction " + e.TxID + ")")
	}
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	return b.String()
}

// Unwrap lets errors.As reach both the domain error and the fabric-gateway error.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Domain}
	}
	return []error{e.Domain, e.Cause}
}

// TransactionID returns the ID of the transaction that failed, if any.
func (e *Error) TransactionID() string { return e.TxID }

// stage says how far a transaction got, which decides what a bare gRPC code means.
type stage string

const (
	stageEvaluate     stage = "evaluate"
	stageEndorse      stage = "endorse"
	stageSubmit       stage = "submit"
	stageCommitStatus stage = "commit status"
)

// Classify turns an error from fabric-gateway into an *Error with a domain
// code. The chaincode's own "[code] message" wins wherever it is found, in the
// status message or in the per-peer details; after that the gRPC code and the
// stage decide.
func Classify(err error, txID string) *Error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return already
	}
	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		return commitFailure(commitErr.TransactionID, commitErr.Code, err)
	}
	st := stageEvaluate
	var (
		endorseErr *client.EndorseError
		submitErr  *client.SubmitError
		statusErr  *client.CommitStatusError
	)
	switch {
	case errors.As(err, &endorseErr):
		st, txID = stageEndorse, endorseErr.TransactionID
	case errors.As(err, &submitErr):
		st, txID = stageSubmit, submitErr.TransactionID
	case errors.As(err, &statusErr):
		st, txID = stageCommitStatus, statusErr.TransactionID
	}
	wrap := func(d *domain.Error) *Error { return &Error{Domain: d, TxID: txID, Cause: err} }

	s := grpcStatus(err)
	texts := statusTexts(s)
	for _, t := range texts {
		if d := domain.ParseError(t); d != nil {
			return wrap(d)
		}
	}
	code := s.Code()
	switch {
	case code == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded):
		if st == stageCommitStatus {
			return wrap(domain.Errorf(domain.CodeUnavailable, "transaction %s was sent for ordering but its commit was not seen in time; look it up before trying again", txID))
		}
		return wrap(domain.Errorf(domain.CodeUnavailable, "the ledger did not answer in time (%s)", st))
	case st == stageCommitStatus:
		// Whatever broke the wait (the peer restarting, the call cancelled),
		// the transaction is with the orderers: the client must know it may commit.
		return wrap(domain.Errorf(domain.CodeUnavailable, "transaction %s was sent for ordering but its commit status could not be read (%s); look it up before trying again, or retry with the same Idempotency-Key", txID, s.Message()))
	case code == codes.Canceled || errors.Is(err, context.Canceled):
		return wrap(domain.Errorf(domain.CodeUnavailable, "the ledger call was cancelled (%s)", st))
	case code == codes.Unavailable || code == codes.ResourceExhausted:
		return wrap(domain.Errorf(domain.CodeUnavailable, "the ledger is unavailable (%s): %s", st, s.Message()))
	case code == codes.PermissionDenied || anyContains(texts, "access denied"):
		return wrap(domain.Errorf(domain.CodeForbidden, "the peer refused this person's identity (%s)", st))
	case code == codes.FailedPrecondition:
		// The gateway found no set of peers that could endorse now: usually
		// gossip membership still converging, or an organization's peer down.
		return wrap(domain.Errorf(domain.CodeUnavailable, "the ledger cannot %s now: %s", st, s.Message()))
	case code == codes.Aborted && st == stageEndorse && !anyContains(texts, "chaincode response"):
		// Endorsers failed to answer or answered differently (one behind
		// another): a retry can succeed.
		return wrap(domain.Errorf(domain.CodeUnavailable, "the transaction could not collect enough endorsements: %s", strings.Join(texts, "; ")))
	case st == stageSubmit && (code == codes.Aborted && anyContains(texts, "SERVICE_UNAVAILABLE")):
		return wrap(domain.Errorf(domain.CodeUnavailable, "the ordering service is unavailable: %s", s.Message()))
	}
	// What is left is a chaincode failure without a domain code (a panic, a
	// wrong argument count: a bug on one side) or a malformed request.
	return wrap(domain.Errorf(domain.CodeInternal, "the ledger call failed (%s)", st))
}

// commitFailure classifies a transaction that was ordered into a block but
// marked invalid. Its writes were not applied.
func commitFailure(txID string, code peer.TxValidationCode, cause error) *Error {
	name := code.String()
	var d *domain.Error
	switch code {
	case peer.TxValidationCode_MVCC_READ_CONFLICT, peer.TxValidationCode_PHANTOM_READ_CONFLICT:
		// Another transaction changed what this one read between endorsement
		// and commit: the "concurrent update lost" conflict of the API; the
		// caller may read again and retry.
		d = domain.Errorf(domain.CodeConflict, "a concurrent transaction changed the data this one read (%s); nothing was changed, read again and retry", name)
	case peer.TxValidationCode_DUPLICATE_TXID:
		d = domain.Errorf(domain.CodeConflict, "transaction %s was already submitted (%s)", txID, name)
	case peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE:
		// Not the caller's fault and not a race between callers: the
		// endorsements the gateway gathered no longer satisfy the policy, as
		// when the chaincode definition or the consortium changes between
		// endorsement and commit. Retrying later collects a fresh set.
		d = domain.Errorf(domain.CodeUnavailable, "the endorsements did not satisfy the endorsement policy at commit (%s); nothing was changed, retry later", name)
	default:
		d = domain.Errorf(domain.CodeInternal, "transaction %s was rejected at commit with %s", txID, name)
	}
	d = d.WithDetail("validationCode", name)
	return &Error{Domain: d, TxID: txID, Cause: cause}
}

// grpcStatus finds the gRPC status in err's chain; fabric-gateway's errors
// carry one (GRPCStatus), others get codes.Unknown with their text.
func grpcStatus(err error) *status.Status {
	if s, ok := status.FromError(err); ok {
		return s
	}
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.GRPCStatus()
	}
	return status.New(codes.Unknown, err.Error())
}

// statusTexts lists the status message and every peer's or orderer's message
// attached as gateway.ErrorDetail: the Endorse call puts the chaincode's
// error only there.
func statusTexts(s *status.Status) []string {
	texts := []string{s.Message()}
	for _, d := range s.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			texts = append(texts, ed.GetMessage())
		}
	}
	return texts
}

func anyContains(texts []string, sub string) bool {
	for _, t := range texts {
		if strings.Contains(t, sub) {
			return true
		}
	}
	return false
}

// errorf builds an *Error that did not come from fabric-gateway.
func errorf(code domain.Code, txID string, cause error, format string, args ...any) *Error {
	return &Error{Domain: domain.Errorf(code, format, args...), TxID: txID, Cause: cause}
}
