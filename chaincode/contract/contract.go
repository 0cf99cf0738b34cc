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
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
)

// Name is the contract's name. It is also the default contract, so the
// gateway calls plain function names ("RegisterDataset").
const Name = "ledger"

// Contract holds every transaction of the ledger chaincode.
type Contract struct {
	contractapi.Contract
}

// New returns the contract, named and described for the chaincode metadata.
func New() *Contract {
	c := &Contract{}
	c.Name = Name
	c.Info = metadata.InfoMetadata{
		Title:       "govshare ledger",
		Description: "Data sharing, metering and contribution ledger of the consortium's departments",
		Version:     "1",
	}
	return c
}

// GetEvaluateTransactions marks the reads, so clients know to evaluate rather
// than submit them.
func (c *Contract) GetEvaluateTransactions() []string {
	return []string{
		"GetDepartment", "ListDepartments", "GetDataset", "ListDatasets", "GetRequest",
		"GetDelivery", "GetUsage", "GetContribution", "GetCorrection", "GetScoreSnapshot", "History",
	}
}

// decodeInput parses a transaction's JSON argument strictly: unknown fields
// and trailing data are rejected, so a client's typo never silently drops a
// field.
func decodeInput(what, arg string, v any) error {
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
	return nil
}

// txTime is the transaction timestamp in UTC: the only clock the chaincode
// may read, because every endorser sees the same one.
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
