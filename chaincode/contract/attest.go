package contract

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// AttestScores records, for the calling department, whether its own indexer
// computes the published snapshot of a period: its input digest and the
// digest of its score items at the snapshot's asOfBlock, and whether both
// are the published ones. Every department attests (not only evaluators),
// signed by its admin, once per period; the attestation's key names the
// department alone, so its own peer must endorse it. The contract holds the
// attestation to the snapshot: it must name the document as published, and
// say matched exactly when its digests are the snapshot's.
func (c *Contract) AttestScores(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.AttestationInput
	if err := decodeInput("AttestationInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleAdmin, "attest scores")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var snap domain.ScoreSnapshot
	if _, err := mustGetEntity(stub, domain.KindSnapshot, in.Period, &snap); err != nil {
		return "", err
	}
	id := domain.AttestationID(in.Period, a.MSPID)
	key, found, err := exists(stub, domain.KindAttestation, id)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "%s has already attested the scores of %s", a.MSPID, in.Period)
	}
	if err := in.Check(&snap); err != nil {
		return "", err
	}
	att := &domain.ScoreAttestation{
		ID: id, Period: in.Period, MSPID: a.MSPID, AsOfBlock: snap.AsOfBlock,
		SnapshotDigest: in.SnapshotDigest, InputDigest: in.InputDigest, ScoresDigest: in.ScoresDigest,
		Matched: in.Matched, Detail: in.Detail, At: now, By: a,
	}
	if err := putEntity(stub, key, att); err != nil {
		return "", err
	}
	if err := emit(stub, attestationEvent(now, a, att)); err != nil {
		return "", err
	}
	return result(att)
}

func attestationEvent(now time.Time, a domain.Actor, att *domain.ScoreAttestation) domain.Event {
	return domain.Event{
		Type: domain.EventScoresAttested, Kind: domain.KindAttestation, ID: att.ID, Time: now, Actor: a,
		Attestation: att,
	}
}

// GetAttestations returns the attestations of the snapshot of a period,
// with the departments on the ledger (every department with a profile,
// but the suspended and removed ones: one vote each), both sorted by MSP ID. The snapshot must exist.
func (c *Contract) GetAttestations(ctx contractapi.TransactionContextInterface, period string) (string, error) {
	if err := domain.CheckPeriod(period); err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	if _, found, err := exists(stub, domain.KindSnapshot, period); err != nil {
		return "", err
	} else if !found {
		return "", domain.Errorf(domain.CodeNotFound, "%s %s does not exist", domain.KindSnapshot, period)
	}
	depts, err := departmentIDs(stub)
	if err != nil {
		return "", err
	}
	out := domain.Attestations{Period: period, Departments: depts, Attestations: []domain.ScoreAttestation{}}
	for _, d := range depts {
		var att domain.ScoreAttestation
		_, found, err := getEntity(stub, domain.KindAttestation, domain.AttestationID(period, d), &att)
		if err != nil {
			return "", err
		}
		if found {
			out.Attestations = append(out.Attestations, att)
		}
	}
	return result(out)
}

// ListScoreSnapshots lists every published snapshot, oldest period first,
// without its items, and the departments that attested each: what an
// attestor polls to find the snapshots it has not attested yet. There is one
// snapshot per month, so the list stays short.
func (c *Contract) ListScoreSnapshots(ctx contractapi.TransactionContextInterface) (string, error) {
	stub := ctx.GetStub()
	attested := map[string][]string{}
	err := eachEntity(stub, domain.KindAttestation, func(v []byte) error {
		var a domain.ScoreAttestation
		if err := json.Unmarshal(v, &a); err != nil {
			return internalErr("decode attestation", err)
		}
		attested[a.Period] = append(attested[a.Period], a.MSPID)
		return nil
	})
	if err != nil {
		return "", err
	}
	out := []domain.SnapshotListing{}
	err = eachEntity(stub, domain.KindSnapshot, func(v []byte) error {
		var s domain.ScoreSnapshot
		if err := json.Unmarshal(v, &s); err != nil {
			return internalErr("decode snapshot", err)
		}
		by := attested[s.Period]
		sort.Strings(by)
		if by == nil {
			by = []string{}
		}
		out = append(out, domain.SnapshotListing{
			Period: s.Period, AsOfBlock: s.AsOfBlock, InputDigest: s.InputDigest,
			PublishedAt: s.PublishedAt, PublishedBy: s.PublishedBy, AttestedBy: by,
		})
		return nil
	})
	if err != nil {
		return "", err
	}
	// Keys sort by period already ("YYYY-MM"); sorting again costs nothing
	// and does not rest on the key layout.
	sort.Slice(out, func(i, j int) bool { return out[i].Period < out[j].Period })
	return result(out)
}

// checkAttestationID checks an attestation's ID: "<period>.<mspId>".
func checkAttestationID(id string) error {
	p, msp, ok := strings.Cut(id, ".")
	if !ok {
		return domain.Errorf(domain.CodeInvalid, "attestation ID %q must be <period>.<mspId>", id)
	}
	if err := domain.CheckPeriod(p); err != nil {
		return err
	}
	return domain.CheckMSPID("mspId", msp)
}

// departmentIDs lists the MSP IDs of the departments with a profile that
// may write (not suspended nor removed: they could not attest), sorted:
// the votes on a snapshot are the remaining departments'.
func departmentIDs(stub shim.ChaincodeStubInterface) ([]string, error) {
	_, p, err := readPolicy(stub)
	if err != nil {
		return nil, err
	}
	out := []string{}
	err = eachEntity(stub, domain.KindDepartment, func(v []byte) error {
		var d domain.Department
		if err := json.Unmarshal(v, &d); err != nil {
			return internalErr("decode department", err)
		}
		if domain.WriteRefusal(p, d.MSPID) != "" {
			return nil
		}
		out = append(out, d.MSPID)
		return nil
	})
	sort.Strings(out)
	return out, err
}

// eachEntity hands fn the value of every entity of kind, in key order.
func eachEntity(stub shim.ChaincodeStubInterface, kind domain.Kind, fn func(value []byte) error) error {
	it, err := stub.GetStateByPartialCompositeKey(string(kind), nil)
	if err != nil {
		return internalErr("list "+string(kind), err)
	}
	defer it.Close()
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return internalErr("list "+string(kind), err)
		}
		if err := fn(kv.Value); err != nil {
			return err
		}
	}
	return nil
}
