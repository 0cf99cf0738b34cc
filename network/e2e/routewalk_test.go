//go:build integration

package e2e

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestEveryGetRouteAnswers walks every GET route of the gateway's own
// OpenAPI document through the real consortium, as an auditor (who may read
// everything) with real IDs, and fails on any route that does not answer
// 200: no documented read is left undriven.
func TestEveryGetRouteAnswers(t *testing.T) {
	w := fixtures(t)
	owner := shared.as(t, "Dept1MSP", "operator")
	consumer := shared.as(t, "Dept2MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	evaluator := shared.as(t, "BureauMSP", "evaluator")

	var u struct {
		Usage struct {
			ID string `json:"id"`
		} `json:"usage"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": w.rqApproved, "calls": 1, "records": 1}).json(t, &u)
	var cb struct {
		BlockNumber  uint64 `json:"blockNumber"`
		Contribution struct {
			ID string `json:"id"`
		} `json:"contribution"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/contributions", map[string]any{"datasetId": w.dsOpen, "records": 1, "bytes": 1, "sha256": sha("walk")}).json(t, &cb)
	var dl struct {
		TxID string `json:"txId"`
	}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+w.rqApproved+"/deliveries",
		map[string]any{"sha256": sha("walk"), "records": 1, "bytes": 1, "channel": "api"}).json(t, &dl)
	period := time.Now().UTC().Format("2006-01")
	// Make sure a past period has a published snapshot to read back.
	if r := evaluator.do(http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": snapshotPeriod()}); r.status != http.StatusCreated && r.status != http.StatusConflict {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	awaitAttested(t, evaluator, snapshotPeriod())
	eventually(t, 10*time.Second, func() error { return statusIs(auditor, "/v1/audit/verify/"+dl.TxID, http.StatusOK) })
	// A policy proposal to read back; never approved, so it changes nothing.
	var pp struct {
		Proposal struct {
			ID string `json:"id"`
		} `json:"proposal"`
	}
	shared.as(t, "BureauMSP", "admin").must(http.StatusCreated, http.MethodPost, "/v1/policy/proposals",
		map[string]any{"evaluators": []string{}, "auditors": []string{"BureauMSP"}}).json(t, &pp)

	values := map[string]string{
		"/v1/datasets/{id}":             w.dsConditional,
		"/v1/requests/{id}":             w.rqApproved,
		"/v1/deliveries/{id}":           w.dlReceived,
		"/v1/usage/{id}":                u.Usage.ID,
		"/v1/contributions/{id}":        cb.Contribution.ID,
		"/v1/corrections/{id}":          w.crOpen,
		"/v1/scores/{mspId}":            "Dept1MSP",
		"/v1/scores/snapshots/{period}": snapshotPeriod(),
		"/v1/audit/lineage/{datasetId}": w.dsChild,
		"/v1/audit/verify/{txId}":       dl.TxID,
		"/console/{file}":               "app.js",
		"/v1/policy/proposals/{id}":     pp.Proposal.ID,
	}
	query := map[string]string{
		"/v1/scores":         "period=" + period,
		"/v1/scores/{mspId}": "period=" + period,
		"/v1/audit/trace":    "dataset=" + w.dsConditional,
		"/v1/audit/export":   "dataset=" + w.dsConditional + "&format=csv",
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	auditor.must(http.StatusOK, http.MethodGet, "/openapi.json", nil).json(t, &doc)
	var paths []string
	for p, ops := range doc.Paths {
		if _, ok := ops["get"]; ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	if len(paths) < 25 {
		t.Fatalf("the document lists only %d GET routes", len(paths))
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			target := p
			if strings.Contains(p, "{") {
				v, ok := values[p]
				if !ok {
					t.Fatalf("no value for the parameters of %s: add one to this test", p)
				}
				target = p[:strings.Index(p, "{")] + v
			}
			if q, ok := query[p]; ok {
				target += "?" + q
			}
			caller := auditor
			if strings.HasPrefix(p, "/v1/scores") {
				caller = evaluator
			}
			if p == "/v1/sessions" { // the department's sessions: its admin's
				caller = shared.as(t, "BureauMSP", "admin")
			}
			r := caller.do(http.MethodGet, target, nil)
			if p == "/" {
				if r.status != http.StatusOK { // the redirect to the console is followed
					t.Fatalf("GET /: %d", r.status)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", target, r.status, r.body)
			}
		})
	}
}
