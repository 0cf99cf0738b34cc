package httpapi_test

import (
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestScoresRoute(t *testing.T) {
	f := newFixture(t)
	f.addFlows(t) // block 3, in 2025-01
	var doc domain.Scores
	if code := f.get(t, "/v1/scores?period=2025-01", "BureauMSP", "evaluator", &doc); code != 200 {
		t.Fatalf("status %d", code)
	}
	if doc.AsOfBlock != 3 || len(doc.Items) != 3 || len(doc.InputDigest) != 64 || len(doc.ModelDigest) != 64 || doc.Validate() != nil {
		t.Fatalf("doc %+v (%v)", doc, doc.Validate())
	}
	var early domain.Scores
	if code := f.get(t, "/v1/scores?period=2025-01&asOfBlock=2", "BureauMSP", "auditor", &early); code != 200 || early.AsOfBlock != 2 || early.InputDigest == doc.InputDigest {
		t.Fatalf("asOfBlock=2: %d %+v", code, early)
	}
	var asAdmin domain.Scores // the attestor's view: the same document
	if code := f.get(t, "/v1/scores?period=2025-01", "Dept1MSP", "admin", &asAdmin); code != 200 || asAdmin.InputDigest != doc.InputDigest {
		t.Fatalf("as an admin: %d %+v", code, asAdmin)
	}
	var one domain.Scores
	if code := f.get(t, "/v1/scores/Dept2MSP?period=2025-01", "BureauMSP", "auditor", &one); code != 200 || len(one.Items) != 1 || one.Items[0].MSPID != "Dept2MSP" || one.InputDigest != doc.InputDigest {
		t.Fatalf("one department: %d %+v", code, one)
	}
	for _, it := range doc.Items {
		if it.MSPID == "Dept2MSP" && (it.Rank != one.Items[0].Rank || it.Score != one.Items[0].Score) {
			t.Fatalf("the one item differs from the list's: %+v vs %+v", it, one.Items[0])
		}
	}
	errs := []struct {
		path, role string
		code       int
	}{
		{"/v1/scores?period=2025-01", "operator", 403},
		{"/v1/scores?period=2025-01", "", 403},
		{"/v1/scores", "evaluator", 400},
		{"/v1/scores?period=2025-13", "evaluator", 400},
		{"/v1/scores?period=2025-01&asOfBlock=x", "evaluator", 400},
		{"/v1/scores?period=2025-01&asOfBlock=4", "evaluator", 400},
		{"/v1/scores/Dept9MSP?period=2025-01", "evaluator", 404},
		{"/v1/scores/bad%2Fmsp?period=2025-01", "evaluator", 400},
		{"/v1/scores/Dept1MSP?period=2025-01", "approver", 403},
	}
	for _, tt := range errs {
		t.Run(tt.path+" as "+tt.role, func(t *testing.T) {
			var eb errBody
			if code := f.get(t, tt.path, "BureauMSP", tt.role, &eb); code != tt.code || eb.Error.Message == "" {
				t.Fatalf("status %d %+v, want %d", code, eb, tt.code)
			}
		})
	}
	var eb errBody
	if code := f.get(t, "/v1/scores?period=2025-01", "", "", &eb); code != 401 {
		t.Fatalf("no caller: %d", code)
	}
}
