// Package contract is the ledger chaincode: one Fabric contract whose
// transactions record the catalog, share requests, deliveries, usage,
// contributions, corrections and score snapshots of the consortium, and
// enforce on chain who may do what and which transitions are legal.
//
// Every transaction takes string arguments and returns the JSON of the
// resulting entity as a string (so contract-api never has to build a schema
// for time.Time). Every error is a *domain.Error whose text is
// "[code] message". Every state-changing transaction emits exactly one
// chaincode event whose payload is a domain.Event. EVENTS.md beside this
// package is the reference for callers.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
)

// Name is the contract's name. It is also the default contract, so the
// gateway calls plain function names ("RegisterDataset").
const Name = "ledger"

// DefaultMaxSkew is how far a transaction's timestamp may be from the
// endorsing peer's clock unless the chaincode server is told otherwise.
const DefaultMaxSkew = 5 * time.Minute

// Contract holds every transaction of the ledger chaincode.
type Contract struct {
	contractapi.Contract

	// Now is the endorsing peer's clock: the chaincode server runs beside
	// its peer, so it reads the host's wall clock (nil: time.Now). It only
	// decides whether a transaction is accepted, never what it writes, so
	// endorsements still agree on the write set.
	Now func() time.Time
	// MaxSkew is how far the client-signed transaction timestamp may be
	// from Now, either way, for a state-changing transaction to be endorsed
	// (zero: DefaultMaxSkew).
	MaxSkew time.Duration
}

// New returns the contract, named and described for the chaincode metadata,
// with the peer's clock and the default skew. Every transaction passes
// checkClock first.
func New() *Contract {
	c := &Contract{Now: time.Now, MaxSkew: DefaultMaxSkew}
	c.Name = Name
	c.Info = metadata.InfoMetadata{
		Title:       "govshare ledger",
		Description: "Data sharing, metering and contribution ledger of the consortium's departments",
		Version:     "1",
	}
	c.BeforeTransaction = c.beforeTransaction
	return c
}

// beforeTransaction runs before every transaction (contractapi's
// BeforeTransaction), so no write can forget its checks: the clock
// (checkClock) and the standing of the signer's department
// (checkStanding). Evaluations skip both: they change nothing.
func (c *Contract) beforeTransaction(ctx contractapi.TransactionContextInterface) error {
	if c.evaluation(ctx) {
		return nil
	}
	if err := c.checkClock(ctx); err != nil {
		return err
	}
	return checkStanding(ctx)
}

// evaluation reports whether the transaction called is a read
// (GetEvaluateTransactions).
func (c *Contract) evaluation(ctx contractapi.TransactionContextInterface) bool {
	fn, _ := ctx.GetStub().GetFunctionAndParameters()
	if i := strings.LastIndex(fn, ":"); i >= 0 {
		fn = fn[i+1:]
	}
	if r, n := utf8.DecodeRuneInString(fn); n > 0 {
		fn = string(unicode.ToUpper(r)) + fn[n:] // contractapi routes "getRequest" to GetRequest
	}
	return slices.Contains(c.GetEvaluateTransactions(), fn)
}

// checkClock refuses a state-changing transaction whose timestamp is more
// than MaxSkew from this endorser's clock. The timestamp is whatever the
// client signed; without this check a department could date an approval
// before its request or meter usage in a month long closed. Each endorser
// judges its own clock, so a forged date needs the owners' own peers to be
// wrong too. It runs before every write (beforeTransaction); evaluations
// skip it, since they change nothing and a read's timestamp only dates its
// own answer.
func (c *Contract) checkClock(ctx contractapi.TransactionContextInterface) error {
	ts, err := txTime(ctx)
	if err != nil {
		return err
	}
	return c.checkSkew(ts)
}

// checkSkew compares a transaction timestamp with the peer's clock.
func (c *Contract) checkSkew(ts time.Time) error {
	now, limit := time.Now, c.MaxSkew
	if c.Now != nil {
		now = c.Now
	}
	if limit <= 0 {
		limit = DefaultMaxSkew
	}
	peer := now().UTC()
	skew := ts.Sub(peer)
	if skew < 0 {
		skew = -skew
	}
	if skew > limit {
		shown := skew.Round(time.Millisecond)
		if shown <= limit {
			shown = skew // just over: show how far over
		}
		return domain.Errorf(domain.CodeInvalid, "transaction timestamp %s is %s from this peer's clock (%s); at most %s is allowed",
			stamp(ts), shown, stamp(peer), limit)
	}
	return nil
}

// GetEvaluateTransactions marks the reads, so clients know to evaluate rather
// than submit them.
func (c *Contract) GetEvaluateTransactions() []string {
	return []string{
		"GetDepartment", "ListDepartments", "GetDataset", "ListDatasets", "GetRequest",
		"GetDelivery", "GetUsage", "GetContribution", "GetCorrection", "GetScoreSnapshot", "History",
		"GetAttestations", "ListScoreSnapshots",
		"GetPolicy", "GetPolicyProposal",
	}
}

// decodeInput parses a transaction's JSON argument strictly: unknown fields
// and trailing data are rejected, so a client's typo never silently drops a
// field; invalid UTF-8, lone surrogate escapes and repeated keys (also in
// another case) are rejected (domain.CheckJSON), so what was signed is what
// is stored, never a silently repaired or second-chosen value.
func decodeInput(what, arg string, v any) error {
	if !utf8.ValidString(arg) {
		// Before decoding: the decoder would turn the bytes into U+FFFD.
		return domain.CheckJSON(what+" JSON", []byte(arg))
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(arg)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return domain.Errorf(domain.CodeInvalid, "%s JSON is empty", what)
		}
		return domain.Errorf(domain.CodeInvalid, "%s JSON: %v", what, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.Errorf(domain.CodeInvalid, "%s JSON has data after the object", what)
	}
	return domain.CheckJSON(what+" JSON", []byte(arg))
}

// txTime is the transaction timestamp in UTC: the only clock whose value the
// chaincode may use, because every endorser sees the same one. For a
// state-changing transaction, checkClock has already held it against the
// peer's clock.
func txTime(ctx contractapi.TransactionContextInterface) (time.Time, error) {
	ts, err := ctx.GetStub().GetTxTimestamp()
	if err != nil {
		return time.Time{}, internalErr("read the transaction timestamp", err)
	}
	if ts == nil {
		return time.Time{}, domain.Errorf(domain.CodeInternal, "the transaction has no timestamp")
	}
	return ts.AsTime().UTC(), nil
}

// stamp formats a time for an error message, to the nanosecond, so that two
// times a second apart never read alike.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// notBefore refuses a step dated before the step it follows: the
// transaction timestamp is the client's, within the peer's skew, so order
// on the ledger must be checked, not assumed. The message reads "<prior>
// at <time>; <step> cannot be dated <now>".
func notBefore(now, priorAt time.Time, prior, step string) error {
	if now.Before(priorAt) {
		return domain.Errorf(domain.CodeConflict, "%s at %s; %s cannot be dated %s", prior, stamp(priorAt), step, stamp(now))
	}
	return nil
}

// derivedID names a new entity after the transaction that creates it: unique
// across the channel without a counter (a hot key) and the same on every
// endorser.
func derivedID(prefix, txID string) (string, error) {
	if len(txID) < idTxChars {
		return "", domain.Errorf(domain.CodeInternal, "transaction ID %q is too short to derive an ID from", txID)
	}
	return prefix + txID[:idTxChars], nil
}

// idTxChars is how much of the transaction ID (64 hex characters) goes into a
// derived ID: 96 bits, ample against collisions, short enough to type.
const idTxChars = 24

// internalErr reports a failure of the peer or the shim. The cause's text is
// kept; its type cannot cross the chaincode boundary anyway.
func internalErr(op string, err error) *domain.Error {
	return domain.Errorf(domain.CodeInternal, "%s: %v", op, err)
}

// result is what every transaction returns: the JSON of the entity.
// readEntity answers one entity of kind by its ID: the shape of every
// plain Get* read.
func readEntity[T any](ctx contractapi.TransactionContextInterface, kind domain.Kind, id string) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	var v T
	if _, err := mustGetEntity(ctx.GetStub(), kind, id, &v); err != nil {
		return "", err
	}
	return result(v)
}

func result(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", internalErr("encode the result", err)
	}
	return string(b), nil
}
