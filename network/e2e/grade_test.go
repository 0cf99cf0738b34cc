//go:build integration

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestGradeRules: the genesis policy's grade rules (network/topology.yaml,
// chaincode/POLICY.md) hold on the real network: a refusal answers 403
// naming the rule and the grade, and a grade-4 request is approved only
// after the bureau's approver has co-approved it through the bureau's own
// gateway.
func TestGradeRules(t *testing.T) {
	owner := shared.as(t, "Dept1MSP", "operator")
	approver := shared.as(t, "Dept1MSP", "approver")
	consumer := shared.as(t, "Dept2MSP", "operator")
	bureau := shared.as(t, "BureauMSP", "approver")
	bureauAuditor := shared.as(t, "BureauMSP", "auditor")

	var pol struct {
		Bureaus []string `json:"bureaus"`
		Grades  []struct {
			Grade              int      `json:"grade"`
			ShareTypes         []string `json:"shareTypes"`
			MaxApprovalDays    int      `json:"maxApprovalDays"`
			BureauApproval     bool     `json:"bureauApproval"`
			MaxDeliveryRecords int64    `json:"maxDeliveryRecords"`
		} `json:"grades"`
	}
	owner.must(http.StatusOK, http.MethodGet, "/v1/policy", nil).json(t, &pol)
	if len(pol.Grades) != 4 || !slices.Contains(pol.Bureaus, "BureauMSP") || slices.Contains(pol.Grades[2].ShareTypes, "unconditional") ||
		!pol.Grades[3].BureauApproval || pol.Grades[3].MaxApprovalDays < 30 || pol.Grades[3].MaxDeliveryRecords == 0 {
		t.Skipf("this consortium's policy does not have the repository topology's grade rules: %+v", pol)
	}
	denied := func(r response, rule string, grade int) {
		t.Helper()
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Message string            `json:"message"`
				Details map[string]string `json:"details"`
			} `json:"error"`
		}
		r.json(t, &e)
		if e.Error.Code != "forbidden" || e.Error.Details["rule"] != rule || e.Error.Details["grade"] != fmt.Sprint(grade) {
			t.Fatalf("denial %s, want forbidden with rule %s and grade %d", r.body, rule, grade)
		}
	}

	open := newDataset(uniqueID("grade3-open"), "unconditional")
	open["grade"] = 3
	denied(owner.must(http.StatusForbidden, http.MethodPost, "/v1/datasets", open), "shareTypes", 3)
	owner.must(http.StatusNotFound, http.MethodGet, "/v1/datasets/"+open["id"].(string), nil)

	id := uniqueID("grade4")
	core := newDataset(id, "conditional")
	core["grade"] = 4
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", core)
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })
	rq := createRequest(t, consumer, id)
	path := "/v1/requests/" + rq.ID
	eventually(t, 10*time.Second, func() error { return statusIs(approver, path, http.StatusOK) })
	denied(approver.must(http.StatusForbidden, http.MethodPost, path+"/approve", map[string]any{"reason": "lawful"}), "bureauApproval", 4)

	// The bureau's approver finds the request that waits for it among the
	// pending requests it may read (it is named a co-approver: domain.Readers),
	// and reads it; a third department's approver does not.
	eventually(t, 10*time.Second, func() error { return statusIs(bureau, path, http.StatusOK) })
	var waiting struct {
		Items []struct {
			ID          string   `json:"id"`
			CoApprovers []string `json:"coApprovers"`
		} `json:"items"`
	}
	bureau.must(http.StatusOK, http.MethodGet, "/v1/requests?status=pending&limit=1000", nil).json(t, &waiting)
	if !slices.ContainsFunc(waiting.Items, func(x struct {
		ID          string   `json:"id"`
		CoApprovers []string `json:"coApprovers"`
	}) bool {
		return x.ID == rq.ID && slices.Equal(x.CoApprovers, []string{"BureauMSP"})
	}) {
		t.Errorf("the bureau's pending requests do not hold %s: %+v", rq.ID, waiting.Items)
	}
	shared.as(t, "Dept3MSP", "approver").must(http.StatusForbidden, http.MethodGet, path, nil)
	// The bureau's own peer must hold the request before its approver acts.
	eventually(t, 10*time.Second, func() error { return statusIs(bureauAuditor, path, http.StatusOK) })
	var co struct {
		Request struct {
			Status       string `json:"status"`
			CoApprovedBy *struct {
				MSPID string `json:"mspId"`
			} `json:"coApprovedBy"`
		} `json:"request"`
	}
	bureau.must(http.StatusOK, http.MethodPost, path+"/coapprove", map[string]any{"reason": "within the catalogue"}).json(t, &co)
	if co.Request.Status != "pending" || co.Request.CoApprovedBy == nil || co.Request.CoApprovedBy.MSPID != "BureauMSP" {
		t.Fatalf("co-approval %+v", co.Request)
	}
	if c := bureau.must(http.StatusConflict, http.MethodPost, path+"/coapprove", nil).errorCode(t); c != "conflict" {
		t.Errorf("a second co-approval: %s", c)
	}
	eventually(t, 10*time.Second, func() error {
		r := approver.do(http.MethodGet, path, nil)
		var got struct {
			CoApprovedAt string `json:"coApprovedAt"`
		}
		r.json(t, &got)
		if got.CoApprovedAt == "" {
			return fmt.Errorf("%s not co-approved yet at Dept1's gateway", rq.ID)
		}
		return nil
	})
	approver.must(http.StatusOK, http.MethodPost, path+"/approve", map[string]any{"reason": "lawful, co-approved"})

	// One delivery holds at most maxDeliveryRecords.
	eventually(t, 10*time.Second, func() error { return statusIs(owner, path, http.StatusOK) })
	limit := pol.Grades[3].MaxDeliveryRecords
	denied(owner.must(http.StatusForbidden, http.MethodPost, path+"/deliveries",
		map[string]any{"sha256": sha("too many " + id), "records": limit + 1, "bytes": 1, "channel": "sftp"}), "maxDeliveryRecords", 4)
	owner.must(http.StatusCreated, http.MethodPost, path+"/deliveries",
		map[string]any{"sha256": sha("rows " + id), "records": limit, "bytes": 1, "channel": "sftp"})
}
