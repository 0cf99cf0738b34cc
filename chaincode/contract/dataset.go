package contract

import (
	"encoding/json"
	"strings"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// maxLineage bounds how many ancestors UpdateDataset walks looking for a
// cycle, so a transaction's cost stays bounded whatever the catalog holds.
const maxLineage = 1000

// RegisterDataset adds a catalog entry owned by the caller's department. The
// ID is the client's if it gave one (and it must be new), else derived from
// the transaction ID.
func (c *Contract) RegisterDataset(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.DatasetInput
	if err := decodeInput("DatasetInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "register a dataset")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	id := in.ID
	if id == "" {
		if id, err = derivedID("ds-", stub.GetTxID()); err != nil {
			return "", err
		}
	}
	key, found, err := exists(stub, domain.KindDataset, id)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "dataset %s already exists", id)
	}
	if err := checkShareType(stub, in); err != nil {
		return "", err
	}
	if err := checkParentsExist(stub, in.DerivedFrom); err != nil {
		return "", err
	}
	d := &domain.Dataset{
		ID: id, Owner: a.MSPID, Version: 1, Status: domain.DatasetActive,
		CreatedAt: now, CreatedBy: a, UpdatedAt: now, UpdatedBy: a,
	}
	applyDatasetInput(d, in)
	if err := putEntity(stub, key, d); err != nil {
		return "", err
	}
	if err := indexDataset(stub, d); err != nil {
		return "", err
	}
	if err := emit(stub, datasetEvent(domain.EventDatasetRegistered, now, a, d)); err != nil {
		return "", err
	}
	return result(d)
}

// UpdateDataset publishes a new version of an active dataset; only the
// owner's operator may. The ID in the input is ignored: the path's ID rules.
func (c *Contract) UpdateDataset(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	var in domain.DatasetInput
	if err := decodeInput("DatasetInput", input, &in); err != nil {
		return "", err
	}
	in.ID = id // so Validate rejects a dataset derived from itself
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "update a dataset")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var d domain.Dataset
	key, err := mustGetEntity(stub, domain.KindDataset, id, &d)
	if err != nil {
		return "", err
	}
	if err := requireDepartment(a, d.Owner, "update dataset "+id); err != nil {
		return "", err
	}
	if d.Status != domain.DatasetActive {
		return "", domain.Errorf(domain.CodeConflict, "dataset %s is %s; only an active dataset can be updated", id, d.Status)
	}
	if err := checkShareType(stub, in); err != nil {
		return "", err
	}
	if err := checkParentsExist(stub, in.DerivedFrom); err != nil {
		return "", err
	}
	if err := checkNoCycle(stub, id, in.DerivedFrom); err != nil {
		return "", err
	}
	applyDatasetInput(&d, in)
	d.Version++
	d.UpdatedAt, d.UpdatedBy = now, a
	if err := updateEntity(stub, key, &d); err != nil {
		return "", err
	}
	if err := emit(stub, datasetEvent(domain.EventDatasetUpdated, now, a, &d)); err != nil {
		return "", err
	}
	return result(d)
}

// RetireDataset withdraws an active dataset from the catalog; only the
// owner's operator may. A retired dataset can no longer be requested,
// updated or contributed to; what was shared before stays on the ledger.
func (c *Contract) RetireDataset(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	var in domain.DecisionInput
	if err := decodeInput("DecisionInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(false); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "retire a dataset")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var d domain.Dataset
	key, err := mustGetEntity(stub, domain.KindDataset, id, &d)
	if err != nil {
		return "", err
	}
	if err := requireDepartment(a, d.Owner, "retire dataset "+id); err != nil {
		return "", err
	}
	if d.Status != domain.DatasetActive {
		return "", domain.Errorf(domain.CodeConflict, "dataset %s is already %s", id, d.Status)
	}
	d.Status = domain.DatasetRetired
	d.RetireReason = in.Reason
	d.UpdatedAt, d.UpdatedBy = now, a
	if err := updateEntity(stub, key, &d); err != nil {
		return "", err
	}
	if err := emit(stub, datasetEvent(domain.EventDatasetRetired, now, a, &d)); err != nil {
		return "", err
	}
	return result(d)
}

// GetDataset returns one catalog entry.
func (c *Contract) GetDataset(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return readEntity[domain.Dataset](ctx, domain.KindDataset, id)
}

// DatasetPage is one page of ListDatasets. Bookmark is empty on the last page.
type DatasetPage struct {
	Items    []domain.Dataset `json:"items"`
	Bookmark string           `json:"bookmark"`
}

// ListDatasets pages through the catalog in ID order: every dataset when
// owner is empty, else the owner's. pageSize is a decimal string (empty: 50,
// at most 1000); bookmark is the previous page's, empty for the first.
func (c *Contract) ListDatasets(ctx contractapi.TransactionContextInterface, owner, pageSize, bookmark string) (string, error) {
	if owner != "" {
		if err := domain.CheckMSPID("owner", owner); err != nil {
			return "", err
		}
	}
	size, err := domain.ParseLimit("pageSize", pageSize)
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	objectType, attrs := string(domain.KindDataset), []string(nil)
	if owner != "" {
		objectType, attrs = datasetByOwner, []string{owner}
	}
	// The peer does not check that a bookmark lies inside the queried range
	// (LevelDB starts the scan wherever the bookmark says), so a crafted one
	// could list other kinds of records or another owner's datasets.
	if bookmark != "" {
		prefix, err := stub.CreateCompositeKey(objectType, attrs)
		if err != nil {
			return "", internalErr("list datasets", err)
		}
		if !strings.HasPrefix(bookmark, prefix) || bookmark == prefix {
			return "", domain.Errorf(domain.CodeInvalid, "bookmark (the list's cursor) is not one this list returned; start again without it")
		}
	}
	it, meta, err := stub.GetStateByPartialCompositeKeyWithPagination(objectType, attrs, int32(size), bookmark)
	if err != nil {
		return "", internalErr("list datasets", err)
	}
	defer it.Close()
	page := DatasetPage{Items: []domain.Dataset{}}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return "", internalErr("list datasets", err)
		}
		var d domain.Dataset
		if owner == "" {
			if err := json.Unmarshal(kv.Value, &d); err != nil {
				return "", internalErr("decode dataset", err)
			}
		} else {
			_, parts, err := stub.SplitCompositeKey(kv.Key)
			if err != nil || len(parts) != 2 {
				return "", domain.Errorf(domain.CodeInternal, "malformed dataset index key %q", kv.Key)
			}
			if _, err := mustGetEntity(stub, domain.KindDataset, parts[1], &d); err != nil {
				return "", internalErr("dataset index", err)
			}
		}
		page.Items = append(page.Items, d)
	}
	if meta != nil {
		page.Bookmark = meta.GetBookmark()
	}
	return result(page)
}

// applyDatasetInput copies the input's descriptive fields onto d.
func applyDatasetInput(d *domain.Dataset, in domain.DatasetInput) {
	d.Title = in.Title
	d.Description = in.Description
	d.Fields = append([]string{}, in.Fields...)
	d.SchemaHash = in.SchemaHash
	d.UpdateFrequency = in.UpdateFrequency
	d.ShareType = in.ShareType
	d.OpenType = in.OpenType
	d.Grade = in.Grade
	d.DerivedFrom = append([]string{}, in.DerivedFrom...)
}

// indexDataset writes the owner index key of a new dataset, endorsed like
// the entry by the owner alone. The owner never changes, so neither does it.
func indexDataset(stub shim.ChaincodeStubInterface, d *domain.Dataset) error {
	ik, err := datasetOwnerKey(stub, d.Owner, d.ID)
	if err != nil {
		return err
	}
	prev, err := stub.GetState(ik) // a creation reads its key as absent: see chaincode/validation
	if err != nil {
		return internalErr("read dataset index", err)
	}
	if len(prev) > 0 {
		return domain.Errorf(domain.CodeConflict, "dataset %s is already in %s's catalog", d.ID, d.Owner)
	}
	if err := stub.PutState(ik, indexValue); err != nil {
		return internalErr("write dataset index", err)
	}
	return setEndorsers(stub, ik, d.Owner)
}

// checkParentsExist enforces that lineage names only datasets on the ledger.
// A retired parent is allowed: what a dataset was derived from stays true.
func checkParentsExist(stub shim.ChaincodeStubInterface, parents []string) error {
	for _, p := range parents {
		_, found, err := exists(stub, domain.KindDataset, p)
		if err != nil {
			return err
		}
		if !found {
			return domain.Errorf(domain.CodeNotFound, "derivedFrom dataset %s does not exist", p)
		}
	}
	return nil
}

// checkNoCycle rejects new parents of id that descend from id, which would
// make the lineage graph cyclic. A new dataset cannot close a cycle (its
// parents exist before it), so only updates need this.
func checkNoCycle(stub shim.ChaincodeStubInterface, id string, parents []string) error {
	seen := map[string]bool{}
	queue := append([]string{}, parents...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == id {
			return domain.Errorf(domain.CodeInvalid, "derivedFrom would make dataset %s its own ancestor", id)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		if len(seen) > maxLineage {
			return domain.Errorf(domain.CodeInvalid, "lineage of dataset %s has more than %d ancestors", id, maxLineage)
		}
		var d domain.Dataset
		_, found, err := getEntity(stub, domain.KindDataset, p, &d)
		if err != nil {
			return err
		}
		if found {
			queue = append(queue, d.DerivedFrom...)
		}
	}
	return nil
}
