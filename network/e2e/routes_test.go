//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var txIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// committed is a write's answer: the transaction, its block and the entity.
type committed struct {
	txID   string
	block  uint64
	entity map[string]any
}

// write makes one write that must succeed with status, and checks that the
// answer names a committed transaction and that the entity in it is exactly
// what the ledger now holds (read straight from a peer, not through the
// gateway). kind is the entity's field in the answer and its Get transaction.
func write(t *testing.T, v *ledgerView, p *person, status int, method, path string, body any, kind string) committed {
	t.Helper()
	v, p = v.in(t), p.in(t)
	r := p.must(status, method, path, body)
	var ans map[string]json.RawMessage
	r.json(t, &ans)
	var c committed
	if err := json.Unmarshal(ans["txId"], &c.txID); err != nil || !txIDPattern.MatchString(c.txID) {
		t.Fatalf("%s %s: txId %s is not a transaction ID", method, path, ans["txId"])
	}
	if err := json.Unmarshal(ans["blockNumber"], &c.block); err != nil || c.block == 0 {
		t.Fatalf("%s %s: blockNumber %s", method, path, ans["blockNumber"])
	}
	field := strings.ToLower(kind[:1]) + kind[1:]
	if err := json.Unmarshal(ans[field], &c.entity); err != nil || c.entity == nil {
		t.Fatalf("%s %s: no %s in the answer: %s", method, path, field, r.body)
	}
	id, _ := c.entity["id"].(string)
	if kind == "Department" {
		id, _ = c.entity["mspId"].(string)
	}
	v.settle()
	var onLedger map[string]any
	if err := json.Unmarshal([]byte(v.entity(entityKey{kind, id})), &onLedger); err != nil {
		t.Fatalf("%s %s on the ledger: %v", kind, id, err)
	}
	if !reflect.DeepEqual(onLedger, c.entity) {
		t.Errorf("%s %s: the answer differs from the ledger:\nanswer %v\nledger %v", kind, id, c.entity, onLedger)
	}
	return c
}

// want fails the test unless every field of e has the wanted value.
func want(t *testing.T, what string, e map[string]any, fields map[string]any) {
	t.Helper()
	for k, w := range fields {
		got := e[k]
		if n, ok := w.(int); ok {
			w = float64(n)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %s = %v, want %v", what, k, got, w)
		}
	}
}

// traceItem is one event of the audit trace.
type traceItem struct {
	TxID        string    `json:"txId"`
	BlockNumber uint64    `json:"blockNumber"`
	Timestamp   time.Time `json:"timestamp"`
	MSPID       string    `json:"mspId"`
	Actor       string    `json:"actor"`
	Type        string    `json:"type"`
	ID          string    `json:"id"`
}

// TestEveryWriteRoute drives every write route once through the real
// consortium, each as the person the rule names, along the whole life of a
// dataset: profile, register, derive, new version, request, approve,
// deliver, receive, rate, use, contribute, correct and resolve, destroy,
// reject, revoke, retire. Each answer is checked against the ledger, and
// the auditor's trace lists every one of these transactions in ledger order.
func TestEveryWriteRoute(t *testing.T) {
	v := newLedgerView(t)
	op1 := shared.as(t, "Dept1MSP", "operator")
	ap1 := shared.as(t, "Dept1MSP", "approver")
	op2 := shared.as(t, "Dept2MSP", "operator")
	op3 := shared.as(t, "Dept3MSP", "operator")
	ad3 := shared.as(t, "Dept3MSP", "admin")
	auditor := shared.as(t, "BureauMSP", "auditor")
	parent, child := uniqueID("route-parent"), uniqueID("route-child")
	content := "rows of " + child
	var (
		trail                       []string // txIDs of the events about child, in order
		types                       []string
		rq1, rq2, rq3, dl, cr, usID string
	)
	record := func(c committed, typ string) {
		trail, types = append(trail, c.txID), append(types, typ)
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"PUT /v1/departments/me as admin", func(t *testing.T) {
			var before struct {
				Items []map[string]any `json:"items"`
			}
			ad3.in(t).must(http.StatusOK, http.MethodGet, "/v1/departments", nil).json(t, &before)
			var old map[string]any
			for _, d := range before.Items {
				if d["mspId"] == "Dept3MSP" {
					old = d
				}
			}
			if old == nil {
				t.Fatalf("Dept3MSP has no profile: %v", before.Items)
			}
			t.Cleanup(func() {
				ad3.in(t).do(http.MethodPut, "/v1/departments/me", map[string]any{"name": old["name"], "code": old["code"], "level": old["level"]})
			})
			name := "Human Resources " + child
			c := write(t, v, ad3, http.StatusOK, http.MethodPut, "/v1/departments/me", map[string]any{"name": name, "code": "HRSS", "level": "county"}, "Department")
			want(t, "department", c.entity, map[string]any{"mspId": "Dept3MSP", "name": name, "code": "HRSS", "level": "county"})
			// Another department's gateway lists the new profile.
			var after struct {
				Items []map[string]any `json:"items"`
			}
			op1.in(t).must(http.StatusOK, http.MethodGet, "/v1/departments", nil).json(t, &after)
			found := false
			for _, d := range after.Items {
				found = found || (d["mspId"] == "Dept3MSP" && d["name"] == name)
			}
			if !found || len(after.Items) != len(shared.eps.Departments) {
				t.Errorf("GET /v1/departments at Dept1 = %v, want %d departments with Dept3's new name", after.Items, len(shared.eps.Departments))
			}
		}},
		{"POST /v1/datasets", func(t *testing.T) {
			d := newDataset(parent, "unconditional")
			d["grade"], d["openType"] = 1, "open"
			c := write(t, v, op1, http.StatusCreated, http.MethodPost, "/v1/datasets", d, "Dataset")
			want(t, "parent", c.entity, map[string]any{"id": parent, "owner": "Dept1MSP", "version": 1, "status": "active", "grade": 1, "openType": "open"})
			d = newDataset(child, "conditional")
			d["derivedFrom"] = []string{parent}
			c = write(t, v, op1, http.StatusCreated, http.MethodPost, "/v1/datasets", d, "Dataset")
			want(t, "child", c.entity, map[string]any{"id": child, "owner": "Dept1MSP", "version": 1, "status": "active", "derivedFrom": []any{parent}})
			record(c, "dataset.registered")
		}},
		{"PUT /v1/datasets/{id}", func(t *testing.T) {
			d := newDataset(child, "conditional")
			d["title"], d["fields"], d["derivedFrom"] = "Households, version 2", []string{"householdId", "district", "members", "income"}, []string{parent}
			c := write(t, v, op1, http.StatusOK, http.MethodPut, "/v1/datasets/"+child, d, "Dataset")
			want(t, "new version", c.entity, map[string]any{"id": child, "version": 2, "status": "active", "title": "Households, version 2",
				"fields": []any{"householdId", "district", "members", "income"}})
			record(c, "dataset.updated")
		}},
		{"POST /v1/requests", func(t *testing.T) {
			c := write(t, v, op2, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(child), "Request")
			want(t, "request", c.entity, map[string]any{"datasetId": child, "datasetVersion": 2, "requester": "Dept2MSP", "owner": "Dept1MSP", "status": "pending"})
			rq1 = c.entity["id"].(string)
			record(c, "request.created")
		}},
		{"POST /v1/requests/{id}/approve", func(t *testing.T) {
			c := write(t, v, ap1, http.StatusOK, http.MethodPost, "/v1/requests/"+rq1+"/approve", map[string]any{"reason": "legal basis checked"}, "Request")
			want(t, "approved", c.entity, map[string]any{"id": rq1, "status": "approved", "reason": "legal basis checked"})
			if by, _ := c.entity["decidedBy"].(map[string]any); by["mspId"] != "Dept1MSP" || by["role"] != "approver" {
				t.Errorf("decidedBy = %v, want Dept1's approver", c.entity["decidedBy"])
			}
			record(c, "request.approved")
		}},
		{"POST /v1/requests/{id}/deliveries", func(t *testing.T) {
			c := write(t, v, op1, http.StatusCreated, http.MethodPost, "/v1/requests/"+rq1+"/deliveries",
				map[string]any{"sha256": sha(content), "records": 250, "bytes": 8192, "channel": "sftp"}, "Delivery")
			want(t, "delivery", c.entity, map[string]any{"requestId": rq1, "datasetId": child, "sha256": sha(content), "records": 250, "bytes": 8192, "status": "delivered"})
			dl = c.entity["id"].(string)
			record(c, "delivery.recorded")
		}},
		{"POST /v1/deliveries/{id}/receipt", func(t *testing.T) {
			c := write(t, v, op2, http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl+"/receipt", map[string]any{"sha256": sha(content)}, "Delivery")
			want(t, "receipt", c.entity, map[string]any{"id": dl, "status": "received", "receiptSha256": sha(content)})
			record(c, "delivery.received")
		}},
		{"POST /v1/deliveries/{id}/feedback", func(t *testing.T) {
			c := write(t, v, op2, http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl+"/feedback",
				map[string]any{"timeliness": 5, "accuracy": 4, "completeness": 3, "consistency": 5, "comment": "two districts late"}, "Delivery")
			fb, _ := c.entity["feedback"].(map[string]any)
			want(t, "feedback", fb, map[string]any{"timeliness": 5, "accuracy": 4, "completeness": 3, "consistency": 5, "comment": "two districts late"})
			record(c, "delivery.rated")
		}},
		{"POST /v1/usage", func(t *testing.T) {
			c := write(t, v, op2, http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq1, "calls": 7, "records": 120}, "Usage")
			want(t, "usage", c.entity, map[string]any{"requestId": rq1, "datasetId": child, "consumer": "Dept2MSP", "owner": "Dept1MSP", "calls": 7, "records": 120})
			usID = c.entity["id"].(string)
			record(c, "usage.recorded")
		}},
		{"POST /v1/contributions", func(t *testing.T) {
			c := write(t, v, op3, http.StatusCreated, http.MethodPost, "/v1/contributions",
				map[string]any{"datasetId": child, "records": 40, "bytes": 2048, "sha256": sha("contributed " + child)}, "Contribution")
			want(t, "contribution", c.entity, map[string]any{"datasetId": child, "contributor": "Dept3MSP", "owner": "Dept1MSP", "records": 40, "bytes": 2048})
			record(c, "contribution.recorded")
			// It counts once the pool's owner accepts it; the contributor cannot.
			shared.as(t, "Dept3MSP", "approver").in(t).must(http.StatusForbidden, http.MethodPost, "/v1/contributions/"+c.entity["id"].(string)+"/accept", map[string]any{})
			a := write(t, v, ap1, http.StatusOK, http.MethodPost, "/v1/contributions/"+c.entity["id"].(string)+"/accept", map[string]any{"reason": "pool intake checked"}, "Contribution")
			want(t, "contribution", a.entity, map[string]any{"status": "accepted", "contributor": "Dept3MSP", "owner": "Dept1MSP"})
			record(a, "contribution.accepted")
		}},
		{"POST /v1/corrections", func(t *testing.T) {
			c := write(t, v, op2, http.StatusCreated, http.MethodPost, "/v1/corrections", map[string]any{"deliveryId": dl, "description": "district 7 is missing"}, "Correction")
			want(t, "correction", c.entity, map[string]any{"deliveryId": dl, "requestId": rq1, "datasetId": child, "requester": "Dept2MSP", "owner": "Dept1MSP", "status": "open"})
			cr = c.entity["id"].(string)
			record(c, "correction.opened")
		}},
		{"POST /v1/corrections/{id}/resolve", func(t *testing.T) {
			c := write(t, v, op1, http.StatusOK, http.MethodPost, "/v1/corrections/"+cr+"/resolve", map[string]any{"resolution": "district 7 added"}, "Correction")
			want(t, "resolved", c.entity, map[string]any{"id": cr, "status": "resolved", "resolution": "district 7 added"})
			record(c, "correction.resolved")
		}},
		{"POST /v1/deliveries/{id}/destruction", func(t *testing.T) {
			c := write(t, v, op2, http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl+"/destruction", map[string]any{"method": "secure erase"}, "Delivery")
			want(t, "destroyed", c.entity, map[string]any{"id": dl, "status": "destroyed", "destroyMethod": "secure erase"})
			record(c, "delivery.destroyed")
		}},
		{"POST /v1/requests/{id}/reject", func(t *testing.T) {
			// No fields named: the request records every field of the current version.
			body := newRequest(child)
			delete(body, "fields")
			c := write(t, v, op2, http.StatusCreated, http.MethodPost, "/v1/requests", body, "Request")
			want(t, "request of every field", c.entity, map[string]any{"status": "pending", "fields": []any{"householdId", "district", "members", "income"}})
			rq2 = c.entity["id"].(string)
			record(c, "request.created")
			c = write(t, v, ap1, http.StatusOK, http.MethodPost, "/v1/requests/"+rq2+"/reject", map[string]any{"reason": "purpose not covered"}, "Request")
			want(t, "rejected", c.entity, map[string]any{"id": rq2, "status": "rejected", "reason": "purpose not covered"})
			record(c, "request.rejected")
		}},
		{"POST /v1/requests/{id}/revoke", func(t *testing.T) {
			c := write(t, v, op2, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(child), "Request")
			rq3 = c.entity["id"].(string)
			record(c, "request.created")
			// An approval with no body at all: the reason is optional.
			c = write(t, v, ap1, http.StatusOK, http.MethodPost, "/v1/requests/"+rq3+"/approve", nil, "Request")
			want(t, "approved without a body", c.entity, map[string]any{"id": rq3, "status": "approved"})
			record(c, "request.approved")
			c = write(t, v, ap1, http.StatusOK, http.MethodPost, "/v1/requests/"+rq3+"/revoke", map[string]any{"reason": "purpose fulfilled"}, "Request")
			want(t, "revoked", c.entity, map[string]any{"id": rq3, "status": "revoked"})
			record(c, "request.revoked")
		}},
		{"POST /v1/datasets/{id}/retire", func(t *testing.T) {
			c := write(t, v, op1, http.StatusOK, http.MethodPost, "/v1/datasets/"+child+"/retire", map[string]any{"reason": "replaced by the 2027 register"}, "Dataset")
			want(t, "retired", c.entity, map[string]any{"id": child, "status": "retired", "version": 2, "retireReason": "replaced by the 2027 register"})
			record(c, "dataset.retired")
		}},
		{"GET /v1/audit/trace lists every step in ledger order", func(t *testing.T) {
			var items []traceItem
			eventually(t, 10*time.Second, func() error {
				items = walkTrace(t, auditor, "dataset="+child, 50)
				if len(items) != len(trail) {
					return fmt.Errorf("trace of %s has %d events, want %d", child, len(items), len(trail))
				}
				return nil
			})
			for i, it := range items {
				if it.TxID != trail[i] || it.Type != types[i] {
					t.Errorf("trace[%d] = %s %s, want %s %s", i, it.Type, it.TxID, types[i], trail[i])
				}
				if i > 0 && it.BlockNumber < items[i-1].BlockNumber {
					t.Errorf("trace[%d] in block %d after block %d", i, it.BlockNumber, items[i-1].BlockNumber)
				}
				if it.MSPID == "" || it.Actor == "" || it.Timestamp.IsZero() {
					t.Errorf("trace[%d] lacks who or when: %+v", i, it)
				}
			}
			// The contribution was signed by Dept3's operator, the usage by Dept2's.
			for _, it := range items {
				if it.Type == "contribution.recorded" && (it.MSPID != "Dept3MSP" || !strings.Contains(it.Actor, "operator")) {
					t.Errorf("contribution signed by %s %s", it.MSPID, it.Actor)
				}
				if it.Type == "usage.recorded" && (it.MSPID != "Dept2MSP" || it.ID != usID) {
					t.Errorf("usage event = %+v", it)
				}
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow() // later steps need this one's records
		}
	}
}

// walkTrace reads every page of an audit trace, limit events at a time.
func walkTrace(t *testing.T, auditor *person, query string, limit int) []traceItem {
	t.Helper()
	var all []traceItem
	cursor := ""
	for range 100 {
		var page struct {
			Items      []traceItem `json:"items"`
			NextCursor string      `json:"nextCursor"`
		}
		auditor.in(t).must(http.StatusOK, http.MethodGet, fmt.Sprintf("/v1/audit/trace?%s&limit=%d&cursor=%s", query, limit, url.QueryEscape(cursor)), nil).json(t, &page)
		if len(page.Items) > limit {
			t.Fatalf("a page of %d events, limit %d", len(page.Items), limit)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
	t.Fatalf("trace %s: more than 100 pages", query)
	return nil
}

// listPage is one page of a list answer, items kept as objects.
type listPage struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"nextCursor"`
}

// walk reads every page of list path (which has a query) as p, limit at a
// time, checking that no page exceeds the limit, and returns the items.
func walk(t *testing.T, p *person, path string, limit int) []map[string]any {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for range 500 {
		var page listPage
		p.must(http.StatusOK, http.MethodGet, fmt.Sprintf("%s&limit=%d&cursor=%s", path, limit, url.QueryEscape(cursor)), nil).json(t, &page)
		if len(page.Items) > limit {
			t.Fatalf("%s: a page of %d items, limit %d", path, len(page.Items), limit)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
	t.Fatalf("%s: more than 500 pages", path)
	return nil
}

func ids(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it["id"].(string)
	}
	return out
}

// TestReadRoutes reads the catalog and the requests through the filters and
// cursor paging of the REST API (gateway/httpapi/openapi.json), from the index and from the ledger, as parties,
// non-parties and an auditor.
func TestReadRoutes(t *testing.T) {
	v := newLedgerView(t)
	op1 := shared.as(t, "Dept1MSP", "operator")
	op2 := shared.as(t, "Dept2MSP", "operator")
	op3 := shared.as(t, "Dept3MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	a, b, c := uniqueID("read-a"), uniqueID("read-b"), uniqueID("read-c")
	for _, d := range []struct {
		id, share, open string
		grade           int
	}{{a, "unconditional", "open", 1}, {b, "conditional", "restricted", 3}, {c, "none", "closed", 4}} {
		ds := newDataset(d.id, d.share)
		ds["openType"], ds["grade"] = d.open, d.grade
		op3.in(t).must(http.StatusCreated, http.MethodPost, "/v1/datasets", ds)
	}
	v.settle()
	rqA1 := createRequest(t, op2, a)
	rqA2 := createRequest(t, op2, a)
	rqB := createRequest(t, op2, b)
	v.indexed()

	t.Run("datasets", func(t *testing.T) {
		cases := []struct {
			query   string
			in, out []string
			match   map[string]any // every item listed has these values
		}{
			{"owner=Dept3MSP", []string{a, b, c}, nil, map[string]any{"owner": "Dept3MSP"}},
			{"owner=Dept3MSP&shareType=conditional", []string{b}, []string{a, c}, map[string]any{"owner": "Dept3MSP", "shareType": "conditional"}},
			{"shareType=none", []string{c}, []string{a, b}, map[string]any{"shareType": "none"}},
			{"grade=4", []string{c}, []string{a, b}, map[string]any{"grade": 4}},
			{"owner=Dept3MSP&grade=1", []string{a}, []string{b, c}, map[string]any{"owner": "Dept3MSP", "grade": 1}},
			{"owner=Dept3MSP&shareType=unconditional&grade=1", []string{a}, []string{b, c}, map[string]any{"owner": "Dept3MSP", "shareType": "unconditional", "grade": 1}},
			{"owner=Dept1MSP", nil, []string{a, b, c}, map[string]any{"owner": "Dept1MSP"}},
			{"source=ledger&owner=Dept3MSP", []string{a, b, c}, nil, map[string]any{"owner": "Dept3MSP"}},
			{"source=ledger&owner=Dept2MSP", nil, []string{a, b, c}, map[string]any{"owner": "Dept2MSP"}},
			{"source=index&owner=Dept3MSP&grade=3", []string{b}, []string{a, c}, map[string]any{"owner": "Dept3MSP", "grade": 3}},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				p := op2.in(t)
				items := walk(t, p, "/v1/datasets?"+tc.query, 2)
				got := ids(items)
				if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
					t.Errorf("pages not in ID order or with repeats: %v", got)
				}
				for _, id := range tc.in {
					if !slices.Contains(got, id) {
						t.Errorf("%s not listed", id)
					}
				}
				for _, id := range tc.out {
					if slices.Contains(got, id) {
						t.Errorf("%s listed", id)
					}
				}
				for _, it := range items {
					want(t, fmt.Sprint(it["id"]), it, tc.match)
				}
				// One page of everything agrees with the pages walked.
				var all listPage
				p.must(http.StatusOK, http.MethodGet, "/v1/datasets?limit=1000&"+tc.query, nil).json(t, &all)
				if len(got) <= 1000 && !slices.Equal(ids(all.Items), got) {
					t.Errorf("one page of 1000 lists %d items, the walk %d", len(all.Items), len(got))
				}
			})
		}
	})

	t.Run("dataset by id", func(t *testing.T) {
		for _, src := range []string{"", "?source=index", "?source=ledger"} {
			var d dataset
			op1.in(t).must(http.StatusOK, http.MethodGet, "/v1/datasets/"+b+src, nil).json(t, &d)
			if d.ID != b || d.Owner != "Dept3MSP" || d.ShareType != "conditional" || d.Grade != 3 || d.Version != 1 || d.Status != "active" {
				t.Errorf("GET /v1/datasets/%s%s = %+v", b, src, d)
			}
		}
	})

	t.Run("requests", func(t *testing.T) {
		cases := []struct {
			name    string
			who     *person
			query   string
			in, out []string
		}{
			{"requester by dataset", op2, "dataset=" + a, []string{rqA1.ID, rqA2.ID}, []string{rqB.ID}},
			{"owner by dataset", op3, "dataset=" + b, []string{rqB.ID}, nil},
			{"pending between the parties", op2, "requester=Dept2MSP&owner=Dept3MSP&status=pending", []string{rqB.ID}, []string{rqA1.ID, rqA2.ID}},
			{"approved at once", op3, "owner=Dept3MSP&status=approved&dataset=" + a, []string{rqA1.ID, rqA2.ID}, []string{rqB.ID}},
			{"not a party", op1, "dataset=" + a, nil, []string{rqA1.ID, rqA2.ID}},
			{"auditor sees all", auditor, "dataset=" + b, []string{rqB.ID}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := tc.who.in(t)
				items := walk(t, p, "/v1/requests?"+tc.query, 1)
				got := ids(items)
				for _, id := range tc.in {
					if !slices.Contains(got, id) {
						t.Errorf("%s not listed: %v", id, got)
					}
				}
				for _, id := range tc.out {
					if slices.Contains(got, id) {
						t.Errorf("%s listed", id)
					}
				}
				if len(slices.Compact(slices.Sorted(slices.Values(got)))) != len(got) {
					t.Errorf("a request listed twice across pages: %v", got)
				}
				for _, it := range items {
					if tc.who.role != "auditor" && it["requester"] != tc.who.mspID && it["owner"] != tc.who.mspID {
						t.Errorf("%s sees %v, a request it is no party to", tc.who.mspID, it)
					}
				}
			})
		}
		for _, p := range []*person{op2, op3, auditor} {
			var got request
			p.in(t).must(http.StatusOK, http.MethodGet, "/v1/requests/"+rqB.ID, nil).json(t, &got)
			if got.ID != rqB.ID || got.Status != "pending" || got.Owner != "Dept3MSP" || got.Requester != "Dept2MSP" || got.DatasetID != b {
				t.Errorf("GET /v1/requests/%s as %s = %+v", rqB.ID, p.mspID, got)
			}
		}
	})

	t.Run("departments", func(t *testing.T) {
		var list struct {
			Items []struct {
				MSPID string `json:"mspId"`
				Name  string `json:"name"`
				Code  string `json:"code"`
				Level string `json:"level"`
			} `json:"items"`
		}
		op3.in(t).must(http.StatusOK, http.MethodGet, "/v1/departments", nil).json(t, &list)
		var got, wantIDs []string
		for _, d := range list.Items {
			got = append(got, d.MSPID)
			if d.Name == "" || d.Code == "" || d.Level == "" {
				t.Errorf("incomplete profile %+v", d)
			}
		}
		for _, d := range shared.eps.Departments {
			wantIDs = append(wantIDs, d.MSPID)
		}
		slices.Sort(got)
		slices.Sort(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Errorf("departments %v, want %v", got, wantIDs)
		}
	})

	t.Run("audit trace", func(t *testing.T) {
		byDataset := walkTrace(t, auditor, "dataset="+a, 50)
		var types []string
		for _, it := range byDataset {
			types = append(types, it.Type)
		}
		if want := []string{"dataset.registered", "request.created", "request.created"}; !slices.Equal(types, want) {
			t.Fatalf("trace of %s: %v, want %v", a, types, want)
		}
		if byDataset[1].ID != rqA1.ID || byDataset[2].ID != rqA2.ID || byDataset[1].MSPID != "Dept2MSP" {
			t.Errorf("trace of %s: %+v", a, byDataset)
		}
		if paged := walkTrace(t, auditor, "dataset="+a, 1); !reflect.DeepEqual(paged, byDataset) {
			t.Errorf("the trace one event a page differs:\n%+v\n%+v", paged, byDataset)
		}
		byRequest := walkTrace(t, auditor, "request="+rqB.ID, 50)
		if len(byRequest) != 1 || byRequest[0].Type != "request.created" || byRequest[0].ID != rqB.ID {
			t.Errorf("trace of request %s: %+v", rqB.ID, byRequest)
		}
		byActor := walkTrace(t, auditor, "actor="+url.QueryEscape(byDataset[0].Actor), 1000)
		if !slices.ContainsFunc(byActor, func(it traceItem) bool { return it.TxID == byDataset[0].TxID }) {
			t.Errorf("trace of actor %q lacks the registration of %s", byDataset[0].Actor, a)
		}
		byDept := walkTrace(t, auditor, "department=Dept3MSP", 1000)
		for _, tx := range []string{byDataset[0].TxID, byRequest[0].TxID} {
			if !slices.ContainsFunc(byDept, func(it traceItem) bool { return it.TxID == tx }) {
				t.Errorf("trace of Dept3MSP lacks %s", tx)
			}
		}
	})
}

// TestServiceRoutes: every gateway answers liveness, readiness, Prometheus
// metrics and its OpenAPI document without a token.
func TestServiceRoutes(t *testing.T) {
	for _, d := range shared.eps.Departments {
		t.Run(d.MSPID, func(t *testing.T) {
			anon := &person{t: t, mspID: d.MSPID, gateway: d.Gateway}

			var health map[string]string
			anon.must(http.StatusOK, http.MethodGet, "/healthz", nil).json(t, &health)
			if health["status"] != "ok" {
				t.Errorf("/healthz = %v", health)
			}

			var ready struct {
				Ready  bool `json:"ready"`
				Ledger struct {
					OK bool `json:"ok"`
				} `json:"ledger"`
				Index struct {
					OK     bool   `json:"ok"`
					Height uint64 `json:"height"`
				} `json:"index"`
			}
			anon.must(http.StatusOK, http.MethodGet, "/readyz", nil).json(t, &ready)
			if !ready.Ready || !ready.Ledger.OK || !ready.Index.OK || ready.Index.Height == 0 {
				t.Errorf("/readyz = %+v", ready)
			}

			r := anon.must(http.StatusOK, http.MethodGet, "/metrics", nil)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("/metrics Content-Type %q", ct)
			}
			text := string(r.body)
			if !strings.Contains(text, "# TYPE gateway_http_requests_total counter") ||
				!regexp.MustCompile(`(?m)^gateway_http_requests_total\{[^}]*route="/healthz"[^}]*\} [1-9]`).MatchString(text) {
				t.Errorf("/metrics does not count the /healthz call in gateway_http_requests_total:\n%.2000s", text)
			}
			// The admin's certificate expires in the future (a year, as fabric-ca issues them).
			if m := regexp.MustCompile(`(?m)^govshare_certificate_not_after_seconds\{role="admin",user="admin"\} ([0-9.e+]+)$`).FindStringSubmatch(text); m == nil {
				t.Errorf("/metrics has no certificate expiry of the admin:\n%.2000s", text)
			} else if v, _ := strconv.ParseFloat(m[1], 64); time.Unix(int64(v), 0).Before(time.Now().Add(24 * time.Hour)) {
				t.Errorf("the admin's certificate expires at %s", time.Unix(int64(v), 0))
			}

			var doc struct {
				OpenAPI string                    `json:"openapi"`
				Paths   map[string]map[string]any `json:"paths"`
			}
			anon.must(http.StatusOK, http.MethodGet, "/openapi.json", nil).json(t, &doc)
			if !strings.HasPrefix(doc.OpenAPI, "3.") {
				t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
			}
			for _, route := range []string{
				"GET /v1/departments", "PUT /v1/departments/me", "POST /v1/datasets", "GET /v1/datasets", "GET /v1/datasets/{id}",
				"PUT /v1/datasets/{id}", "POST /v1/datasets/{id}/retire", "POST /v1/requests", "GET /v1/requests", "GET /v1/requests/{id}",
				"POST /v1/requests/{id}/approve", "POST /v1/requests/{id}/reject", "POST /v1/requests/{id}/revoke", "POST /v1/requests/{id}/deliveries",
				"POST /v1/deliveries/{id}/receipt", "POST /v1/deliveries/{id}/feedback", "POST /v1/deliveries/{id}/destruction",
				"POST /v1/usage", "POST /v1/contributions", "POST /v1/corrections", "POST /v1/corrections/{id}/resolve", "GET /v1/audit/trace",
			} {
				method, path, _ := strings.Cut(route, " ")
				if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
					t.Errorf("/openapi.json lacks %s", route)
				}
			}
		})
	}
}
