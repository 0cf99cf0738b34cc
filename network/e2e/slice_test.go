//go:build integration

package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestGatewaysReady checks that every department's gateway is ready and
// lists the whole consortium with the profiles `make up` set.
func TestGatewaysReady(t *testing.T) {
	for _, d := range shared.eps.Departments {
		t.Run(d.MSPID, func(t *testing.T) {
			p := shared.as(t, d.MSPID, "admin")
			p.must(http.StatusOK, http.MethodGet, "/readyz", nil)
			var list struct {
				Items []struct {
					MSPID string `json:"mspId"`
					Name  string `json:"name"`
				} `json:"items"`
			}
			p.must(http.StatusOK, http.MethodGet, "/v1/departments", nil).json(t, &list)
			if len(list.Items) != len(shared.eps.Departments) {
				t.Fatalf("lists %d departments, want %d", len(list.Items), len(shared.eps.Departments))
			}
			for _, it := range list.Items {
				if it.Name == "" {
					t.Errorf("department %s has no profile name", it.MSPID)
				}
			}
		})
	}
}

type dataset struct {
	ID          string   `json:"id"`
	Owner       string   `json:"owner"`
	Title       string   `json:"title"`
	ShareType   string   `json:"shareType"`
	OpenType    string   `json:"openType"`
	Grade       int      `json:"grade"`
	Version     int      `json:"version"`
	Status      string   `json:"status"`
	DerivedFrom []string `json:"derivedFrom"`
}

type datasetWrite struct {
	TxID        string  `json:"txId"`
	BlockNumber uint64  `json:"blockNumber"`
	Dataset     dataset `json:"dataset"`
}

func newDataset(id, share string) map[string]any {
	return map[string]any{
		"id": id, "title": "Household registrations " + id, "description": "Registered households by district",
		"fields": []string{"householdId", "district", "members"}, "shareType": share, "openType": "restricted",
		"grade": 2, "updateFrequency": "daily", "derivedFrom": []string{},
	}
}

// TestDatasetAcrossDepartments is the first slice end to end: a dataset
// registered through one department's gateway, signed by its operator, is
// readable at once from that gateway and, once the other department's
// indexer has the block, from another department's gateway.
func TestDatasetAcrossDepartments(t *testing.T) {
	op := shared.as(t, "Dept1MSP", "operator")
	id := uniqueID("hh")
	var w datasetWrite
	op.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "conditional")).json(t, &w)
	if w.TxID == "" || w.BlockNumber == 0 {
		t.Fatalf("write answer lacks txId or blockNumber: %+v", w)
	}
	if w.Dataset.ID != id || w.Dataset.Owner != "Dept1MSP" || w.Dataset.Version != 1 || w.Dataset.Status != "active" {
		t.Fatalf("registered dataset = %+v", w.Dataset)
	}
	// Read-your-writes on the writer's own gateway: no retry.
	var got dataset
	op.must(http.StatusOK, http.MethodGet, "/v1/datasets/"+id, nil).json(t, &got)
	if got.Title != w.Dataset.Title || got.ShareType != "conditional" || got.Grade != 2 {
		t.Fatalf("GET at Dept1 = %+v", got)
	}
	other := shared.as(t, "Dept2MSP", "operator")
	eventually(t, 10*time.Second, func() error {
		r := other.do(http.MethodGet, "/v1/datasets/"+id, nil)
		if r.status != http.StatusOK {
			return fmt.Errorf("GET at Dept2: status %d: %s", r.status, r.body)
		}
		var d dataset
		r.json(t, &d)
		if d.Owner != "Dept1MSP" || d.Title != w.Dataset.Title {
			return fmt.Errorf("GET at Dept2 = %+v", d)
		}
		return nil
	})
	// The authoritative state agrees.
	var ledger dataset
	other.must(http.StatusOK, http.MethodGet, "/v1/datasets/"+id+"?source=ledger", nil).json(t, &ledger)
	if ledger.ID != id || ledger.Owner != "Dept1MSP" {
		t.Fatalf("ledger read at Dept2 = %+v", ledger)
	}
}
