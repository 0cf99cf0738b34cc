package contract

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// HistoryEntry is one committed change of an entity's key.
type HistoryEntry struct {
	TxID      string          `json:"txId"`
	Timestamp time.Time       `json:"timestamp"`
	IsDelete  bool            `json:"isDelete"`
	Value     json.RawMessage `json:"value"` // the entity as written; null for a delete
}

// historyKind is a kind History accepts, with how its ID is checked.
type historyKind struct {
	kind  domain.Kind
	check func(id string) error
}

var historyKinds = []historyKind{
	{domain.KindDepartment, func(id string) error { return domain.CheckMSPID("id", id) }},
	{domain.KindDataset, checkID},
	{domain.KindRequest, checkID},
	{domain.KindDelivery, checkID},
	{domain.KindUsage, checkID},
	{domain.KindContribution, checkID},
	{domain.KindCorrection, checkID},
	{domain.KindSnapshot, domain.CheckPeriod},
	{domain.KindAttestation, checkAttestationID},
	{domain.KindPolicy, checkID},
	{domain.KindPolicyProposal, checkID},
	{domain.KindPolicyApproval, checkPolicyApprovalID},
}

func checkID(id string) error { return domain.CheckID("id", id) }

// History returns every committed version of one entity, oldest first (the
// ledger's order), from the peer's history database. kind is a domain.Kind
// ("dataset", "request", ...); id is the entity's ID, the MSP ID for a
// department, the period for a snapshot.
func (c *Contract) History(ctx contractapi.TransactionContextInterface, kind, id string) (string, error) {
	i := slices.IndexFunc(historyKinds, func(k historyKind) bool { return string(k.kind) == kind })
	if i < 0 {
		names := make([]string, len(historyKinds))
		for j, k := range historyKinds {
			names[j] = string(k.kind)
		}
		return "", domain.Errorf(domain.CodeInvalid, "kind %q must be one of %s", kind, strings.Join(names, ", "))
	}
	if err := historyKinds[i].check(id); err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	key, err := entityKey(stub, domain.Kind(kind), id)
	if err != nil {
		return "", err
	}
	it, err := stub.GetHistoryForKey(key)
	if err != nil {
		return "", internalErr("read history of "+kind+" "+id, err)
	}
	defer it.Close()
	out := []HistoryEntry{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return "", internalErr("read history of "+kind+" "+id, err)
		}
		e := HistoryEntry{TxID: m.GetTxId(), IsDelete: m.GetIsDelete(), Value: json.RawMessage("null")}
		if ts := m.GetTimestamp(); ts != nil {
			e.Timestamp = ts.AsTime().UTC()
		}
		if !m.GetIsDelete() && len(m.GetValue()) > 0 {
			if !json.Valid(m.GetValue()) {
				return "", domain.Errorf(domain.CodeInternal, "history of %s %s holds a value that is not JSON (tx %s)", kind, id, m.GetTxId())
			}
			e.Value = json.RawMessage(m.GetValue())
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return "", domain.Errorf(domain.CodeNotFound, "%s %s does not exist", kind, id)
	}
	// Fabric returns the newest change first; callers trace in ledger order.
	slices.Reverse(out)
	return result(out)
}
