//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// rejection is one call that the API must refuse: who calls what, the
// status, error code and words the message must hold, and the ledger
// records and REST ledger reads that must be the same afterwards.
type rejection struct {
	name   string
	who    *person
	header map[string]string // replaces who's Authorization header when set
	method string
	path   string
	body   any
	status int
	code   string
	says   []string
	keys   []entityKey
	paths  []string
}

// checkRejections runs every case, first completed by each of set, as a
// subtest and proves, for each, that the ledger has no new block and that
// the named records and reads are byte-identical before and after.
func checkRejections(t *testing.T, cases []rejection, set ...func(*rejection)) {
	t.Helper()
	view := newLedgerView(t)
	for _, c := range cases {
		for _, f := range set {
			f(&c)
		}
		t.Run(c.name, func(t *testing.T) {
			v := view.in(t)
			before := v.snapshot(c.keys, c.paths)
			p := c.who.in(t)
			var r response
			if c.header != nil {
				r = p.send(c.method, c.path, c.header, c.body)
			} else {
				r = p.do(c.method, c.path, c.body)
			}
			wantError(t, r, c.status, c.code, c.says...)
			v.unchanged(before)
		})
	}
}

// send is do with the request headers given, and no Authorization header
// unless they hold one.
func (p *person) send(method, path string, header map[string]string, body any) response {
	p.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.gateway+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := gatewayHTTP.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: out, header: resp.Header}
}

// jsonText is v as JSON text.
func jsonText(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func ledgerPath(id string) string { return "/v1/datasets/" + id + "?source=ledger" }

// ownerList is the ledger's catalog of one owner, for proving that a refused
// registration added nothing.
func ownerList(msp string) string { return "/v1/datasets?source=ledger&limit=1000&owner=" + msp }

// TestUnauthenticated: every missing, unknown or malformed credential is a
// 401 with a WWW-Authenticate challenge, on reads and on writes, and a
// refused write changes nothing.
func TestUnauthenticated(t *testing.T) {
	op := shared.as(t, "Dept1MSP", "operator")
	other := shared.as(t, "Dept2MSP", "operator")
	id := uniqueID("unauth")
	create := newDataset(id, "conditional")
	keys := []entityKey{dsKey(id)}
	paths := []string{ownerList("Dept1MSP")}
	cases := []rejection{
		{name: "no header on a read", header: map[string]string{}, method: http.MethodGet, path: "/v1/datasets", says: []string{"Bearer"}},
		{name: "no header on a write", header: map[string]string{}, method: http.MethodPost, path: "/v1/datasets", body: create, says: []string{"Bearer"}},
		{name: "unknown token", header: map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 48)}, method: http.MethodPost, path: "/v1/datasets", body: create, says: []string{"not known"}},
		{name: "basic scheme", header: map[string]string{"Authorization": "Basic b3BlcmF0b3I6c2VjcmV0"}, method: http.MethodPost, path: "/v1/datasets", body: create, says: []string{"Bearer"}},
		{name: "bearer without token", header: map[string]string{"Authorization": "Bearer "}, method: http.MethodPost, path: "/v1/datasets", body: create, says: []string{"Bearer"}},
		{name: "token without scheme", header: map[string]string{"Authorization": op.token}, method: http.MethodPost, path: "/v1/datasets", body: create, says: []string{"Bearer"}},
		// A person is enrolled at their own department's gateway only.
		{name: "another department's token", who: other.at("Dept1MSP"), method: http.MethodPost, path: "/v1/datasets", body: create, says: []string{"not known"}},
		{name: "unknown token on an auditor route", header: map[string]string{"Authorization": "Bearer nope"}, method: http.MethodGet, path: "/v1/audit/trace?dataset=" + id, says: []string{"not known"}},
	}
	checkRejections(t, cases, func(c *rejection) {
		if c.who == nil {
			c.who = op
		}
		c.status, c.code = http.StatusUnauthorized, "unauthorized"
		c.keys, c.paths = keys, paths
	})

	r := op.send(http.MethodGet, "/v1/datasets", map[string]string{}, nil)
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("401 without a Bearer challenge: WWW-Authenticate %q", got)
	}
}

// TestForbidden: a role the route does not admit is refused by the gateway,
// and another department's record by the chaincode; both are 403 naming the
// rule, and nothing changes.
func TestForbidden(t *testing.T) {
	w := fixtures(t)
	op1 := shared.as(t, "Dept1MSP", "operator")
	ap1 := shared.as(t, "Dept1MSP", "approver")
	ad1 := shared.as(t, "Dept1MSP", "admin")
	op2 := shared.as(t, "Dept2MSP", "operator")
	ap2 := shared.as(t, "Dept2MSP", "approver")
	op3 := shared.as(t, "Dept3MSP", "operator")
	ap3 := shared.as(t, "Dept3MSP", "approver")
	evaluator := shared.as(t, "BureauMSP", "evaluator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	newID := uniqueID("forbidden")
	update := newDataset(w.dsConditional, "unconditional")
	delete(update, "id")

	cases := []rejection{
		// Roles, refused by the gateway before the ledger.
		{name: "approver registers a dataset", who: ap1, method: http.MethodPost, path: "/v1/datasets", body: newDataset(newID, "conditional"),
			says: []string{"operator", "approver"}, keys: []entityKey{dsKey(newID)}, paths: []string{ownerList("Dept1MSP")}},
		{name: "admin updates a dataset", who: ad1, method: http.MethodPut, path: "/v1/datasets/" + w.dsConditional, body: update,
			says: []string{"operator", "admin"}, keys: []entityKey{dsKey(w.dsConditional)}},
		{name: "operator approves", who: op1, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/approve", body: map[string]any{"reason": "ok"},
			says: []string{"approver", "operator"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "operator sets the department profile", who: op1, method: http.MethodPut, path: "/v1/departments/me", body: map[string]any{"name": "X", "code": "X", "level": "county"},
			says: []string{"admin", "operator"}, paths: []string{"/v1/departments"}},
		{name: "evaluator records a delivery", who: evaluator, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/deliveries",
			body: map[string]any{"sha256": sha("x"), "records": 1, "bytes": 1, "channel": "sftp"}, says: []string{"operator", "evaluator"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "operator reads the audit trace", who: op1, method: http.MethodGet, path: "/v1/audit/trace?dataset=" + w.dsOpen, says: []string{"auditor", "operator"}},
		{name: "approver reads the audit trace", who: ap1, method: http.MethodGet, path: "/v1/audit/trace?department=Dept1MSP", says: []string{"auditor", "approver"}},
		{name: "auditor registers a dataset", who: auditor, method: http.MethodPost, path: "/v1/datasets", body: newDataset(newID, "conditional"),
			says: []string{"operator", "auditor"}, keys: []entityKey{dsKey(newID)}, paths: []string{ownerList("BureauMSP")}},

		// Another department's records, refused by the chaincode.
		{name: "Dept2 operator updates Dept1's dataset", who: op2, method: http.MethodPut, path: "/v1/datasets/" + w.dsConditional, body: update,
			says: []string{"Dept1MSP", "Dept2MSP"}, keys: []entityKey{dsKey(w.dsConditional)}, paths: []string{ledgerPath(w.dsConditional)}},
		{name: "Dept2 operator retires Dept1's dataset", who: op2, method: http.MethodPost, path: "/v1/datasets/" + w.dsOpen + "/retire", body: map[string]any{"reason": "mine now"},
			says: []string{"Dept1MSP", "Dept2MSP"}, keys: []entityKey{dsKey(w.dsOpen)}, paths: []string{ledgerPath(w.dsOpen)}},
		{name: "Dept2 approver approves its own request for Dept1's data", who: ap2, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/approve", body: map[string]any{"reason": "self"},
			says: []string{"Dept1MSP", "Dept2MSP"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "Dept3 approver approves Dept1's request", who: ap3, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/approve", body: map[string]any{"reason": "not mine"},
			says: []string{"Dept1MSP", "Dept3MSP"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "Dept3 approver revokes Dept1's approval", who: ap3, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/revoke", body: map[string]any{"reason": "not mine"},
			says: []string{"Dept1MSP", "Dept3MSP"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "requester delivers the owner's data", who: op2, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/deliveries",
			body: map[string]any{"sha256": sha("x"), "records": 1, "bytes": 1, "channel": "sftp"}, says: []string{"Dept1MSP", "Dept2MSP"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "owner records the receipt of its own delivery", who: op1, method: http.MethodPost, path: "/v1/deliveries/" + w.dlDelivered + "/receipt",
			body: map[string]any{"sha256": sha("delivered rows")}, says: []string{"Dept2MSP", "Dept1MSP"}, keys: []entityKey{dlKey(w.dlDelivered)}},
		{name: "third department rates a delivery", who: op3, method: http.MethodPost, path: "/v1/deliveries/" + w.dlReceived + "/feedback",
			body: map[string]any{"timeliness": 1, "accuracy": 1, "completeness": 1, "consistency": 1}, says: []string{"Dept2MSP", "Dept3MSP"}, keys: []entityKey{dlKey(w.dlReceived)}},
		{name: "owner destroys the requester's copy", who: op1, method: http.MethodPost, path: "/v1/deliveries/" + w.dlDelivered + "/destruction",
			body: map[string]any{"method": "shred"}, says: []string{"Dept2MSP", "Dept1MSP"}, keys: []entityKey{dlKey(w.dlDelivered)}},
		{name: "third department records usage", who: op3, method: http.MethodPost, path: "/v1/usage", body: map[string]any{"requestId": w.rqApproved, "calls": 1, "records": 1},
			says: []string{"Dept2MSP", "Dept3MSP"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "owner opens a correction of its own delivery", who: op1, method: http.MethodPost, path: "/v1/corrections", body: map[string]any{"deliveryId": w.dlReceived, "description": "x"},
			says: []string{"Dept2MSP", "Dept1MSP"}, keys: []entityKey{dlKey(w.dlReceived)}},
		{name: "requester resolves its own correction", who: op2, method: http.MethodPost, path: "/v1/corrections/" + w.crOpen + "/resolve", body: map[string]any{"resolution": "done"},
			says: []string{"Dept1MSP", "Dept2MSP"}, keys: []entityKey{crKey(w.crOpen)}},
		{name: "request for data that is not shared", who: op2, method: http.MethodPost, path: "/v1/requests", body: newRequest(w.dsNotShared),
			says: []string{w.dsNotShared, "not shared"}, keys: []entityKey{dsKey(w.dsNotShared)}},

		// Reads of a request by a department that is not a party to it.
		{name: "third department reads a request", who: op3, method: http.MethodGet, path: "/v1/requests/" + w.rqPending, says: []string{"Dept3MSP", "not a party"}},
		{name: "contribution to its own pool", who: op1, method: http.MethodPost, path: "/v1/contributions",
			body: map[string]any{"datasetId": w.dsOpen, "records": 1, "bytes": 1, "sha256": sha("own")}, says: []string{"own pool"}, keys: []entityKey{dsKey(w.dsOpen)}},
	}
	checkRejections(t, cases, func(c *rejection) {
		c.status, c.code = http.StatusForbidden, "forbidden"
	})
}

// TestNotFound: unknown IDs in reads and writes are 404 naming the thing,
// and a write that names an unknown thing changes nothing.
func TestNotFound(t *testing.T) {
	op1 := shared.as(t, "Dept1MSP", "operator")
	ap1 := shared.as(t, "Dept1MSP", "approver")
	op2 := shared.as(t, "Dept2MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	missing := uniqueID("missing")
	newID := uniqueID("orphan")
	update := newDataset(missing, "conditional")
	delete(update, "id")
	derived := newDataset(newID, "conditional")
	derived["derivedFrom"] = []string{missing}
	gone := []entityKey{dsKey(missing), rqKey(missing), dlKey(missing), crKey(missing)}

	cases := []rejection{
		{name: "dataset from the index", who: op1, method: http.MethodGet, path: "/v1/datasets/" + missing, says: []string{missing}},
		{name: "dataset from the ledger", who: op2, method: http.MethodGet, path: ledgerPath(missing), says: []string{missing}},
		{name: "request", who: op1, method: http.MethodGet, path: "/v1/requests/" + missing, says: []string{missing}},
		{name: "request as auditor", who: auditor, method: http.MethodGet, path: "/v1/requests/" + missing, says: []string{missing}},
		{name: "no such route", who: op1, method: http.MethodGet, path: "/v1/nothing-here", says: []string{"/v1/nothing-here"}},

		{name: "update a dataset", who: op1, method: http.MethodPut, path: "/v1/datasets/" + missing, body: update, says: []string{missing}},
		{name: "retire a dataset", who: op1, method: http.MethodPost, path: "/v1/datasets/" + missing + "/retire", says: []string{missing}},
		{name: "register derived from an unknown dataset", who: op1, method: http.MethodPost, path: "/v1/datasets", body: derived,
			says: []string{missing}, keys: []entityKey{dsKey(newID)}, paths: []string{ownerList("Dept1MSP")}},
		{name: "request an unknown dataset", who: op2, method: http.MethodPost, path: "/v1/requests", body: newRequest(missing), says: []string{missing}},
		{name: "approve", who: ap1, method: http.MethodPost, path: "/v1/requests/" + missing + "/approve", body: map[string]any{"reason": "ok"}, says: []string{missing}},
		{name: "reject", who: ap1, method: http.MethodPost, path: "/v1/requests/" + missing + "/reject", body: map[string]any{"reason": "no"}, says: []string{missing}},
		{name: "revoke", who: ap1, method: http.MethodPost, path: "/v1/requests/" + missing + "/revoke", body: map[string]any{"reason": "no"}, says: []string{missing}},
		{name: "deliver", who: op1, method: http.MethodPost, path: "/v1/requests/" + missing + "/deliveries",
			body: map[string]any{"sha256": sha("x"), "records": 1, "bytes": 1, "channel": "sftp"}, says: []string{missing}},
		{name: "receipt", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + missing + "/receipt", body: map[string]any{"sha256": sha("x")}, says: []string{missing}},
		{name: "feedback", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + missing + "/feedback",
			body: map[string]any{"timeliness": 3, "accuracy": 3, "completeness": 3, "consistency": 3}, says: []string{missing}},
		{name: "destruction", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + missing + "/destruction", says: []string{missing}},
		{name: "usage under an unknown request", who: op2, method: http.MethodPost, path: "/v1/usage", body: map[string]any{"requestId": missing, "calls": 1, "records": 1}, says: []string{missing}},
		{name: "contribution to an unknown dataset", who: op2, method: http.MethodPost, path: "/v1/contributions",
			body: map[string]any{"datasetId": missing, "records": 1, "bytes": 1, "sha256": sha("x")}, says: []string{missing}},
		{name: "correction of an unknown delivery", who: op2, method: http.MethodPost, path: "/v1/corrections", body: map[string]any{"deliveryId": missing, "description": "wrong"}, says: []string{missing}},
		{name: "resolve an unknown correction", who: op1, method: http.MethodPost, path: "/v1/corrections/" + missing + "/resolve", body: map[string]any{"resolution": "done"}, says: []string{missing}},
	}
	checkRejections(t, cases, func(c *rejection) {
		c.status, c.code = http.StatusNotFound, "not_found"
		c.keys = append(c.keys, gone...)
	})
}

// TestConflict: illegal transitions and duplicates are 409 saying which
// state forbids it, and leave the record as it was.
func TestConflict(t *testing.T) {
	w := fixtures(t)
	op1 := shared.as(t, "Dept1MSP", "operator")
	ap1 := shared.as(t, "Dept1MSP", "approver")
	op2 := shared.as(t, "Dept2MSP", "operator")
	update := newDataset(w.dsRetired, "unconditional")
	delete(update, "id")
	rating := map[string]any{"timeliness": 4, "accuracy": 4, "completeness": 4, "consistency": 4}
	delivery := map[string]any{"sha256": sha("more rows"), "records": 1, "bytes": 1, "channel": "sftp"}

	cases := []rejection{
		{name: "duplicate dataset id", who: op1, method: http.MethodPost, path: "/v1/datasets", body: newDataset(w.dsConditional, "none"),
			says: []string{w.dsConditional, "exists"}, keys: []entityKey{dsKey(w.dsConditional)}, paths: []string{ledgerPath(w.dsConditional), ownerList("Dept1MSP")}},
		{name: "retire twice", who: op1, method: http.MethodPost, path: "/v1/datasets/" + w.dsRetired + "/retire", body: map[string]any{"reason": "again"},
			says: []string{w.dsRetired, "retired"}, keys: []entityKey{dsKey(w.dsRetired)}, paths: []string{ledgerPath(w.dsRetired)}},
		{name: "update a retired dataset", who: op1, method: http.MethodPut, path: "/v1/datasets/" + w.dsRetired, body: update,
			says: []string{w.dsRetired, "retired"}, keys: []entityKey{dsKey(w.dsRetired)}, paths: []string{ledgerPath(w.dsRetired)}},
		{name: "request a retired dataset", who: op2, method: http.MethodPost, path: "/v1/requests", body: newRequest(w.dsRetired),
			says: []string{w.dsRetired, "retired"}, keys: []entityKey{dsKey(w.dsRetired)}},
		{name: "contribute to a retired dataset", who: op2, method: http.MethodPost, path: "/v1/contributions",
			body: map[string]any{"datasetId": w.dsRetired, "records": 1, "bytes": 1, "sha256": sha("x")}, says: []string{w.dsRetired, "retired"}, keys: []entityKey{dsKey(w.dsRetired)}},

		{name: "approve twice", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/approve", body: map[string]any{"reason": "again"},
			says: []string{w.rqApproved, "approved", "pending"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "reject an approved request", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/reject", body: map[string]any{"reason": "too late"},
			says: []string{w.rqApproved, "approved"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "approve a rejected request", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqRejected + "/approve", body: map[string]any{"reason": "changed my mind"},
			says: []string{w.rqRejected, "rejected"}, keys: []entityKey{rqKey(w.rqRejected)}},
		{name: "revoke a pending request", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/revoke", body: map[string]any{"reason": "no"},
			says: []string{w.rqPending, "pending"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "revoke twice", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqRevoked + "/revoke", body: map[string]any{"reason": "again"},
			says: []string{w.rqRevoked, "revoked"}, keys: []entityKey{rqKey(w.rqRevoked)}},
		{name: "deliver on a pending request", who: op1, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/deliveries", body: delivery,
			says: []string{w.rqPending, "pending"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "deliver on a revoked request", who: op1, method: http.MethodPost, path: "/v1/requests/" + w.rqRevoked + "/deliveries", body: delivery,
			says: []string{w.rqRevoked, "revoked"}, keys: []entityKey{rqKey(w.rqRevoked)}},
		{name: "usage under a rejected request", who: op2, method: http.MethodPost, path: "/v1/usage", body: map[string]any{"requestId": w.rqRejected, "calls": 1, "records": 1},
			says: []string{w.rqRejected, "rejected"}, keys: []entityKey{rqKey(w.rqRejected)}},

		{name: "receipt twice", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlReceived + "/receipt", body: map[string]any{"sha256": sha("other rows")},
			says: []string{w.dlReceived, "received"}, keys: []entityKey{dlKey(w.dlReceived)}},
		{name: "receipt of a destroyed copy", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlDestroyed + "/receipt", body: map[string]any{"sha256": sha("destroyed rows")},
			says: []string{w.dlDestroyed, "destroyed"}, keys: []entityKey{dlKey(w.dlDestroyed)}},
		{name: "feedback before receipt", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlDelivered + "/feedback", body: rating,
			says: []string{w.dlDelivered, "delivered"}, keys: []entityKey{dlKey(w.dlDelivered)}},
		{name: "feedback on a destroyed copy", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlDestroyed + "/feedback", body: rating,
			says: []string{w.dlDestroyed, "destroyed"}, keys: []entityKey{dlKey(w.dlDestroyed)}},
		{name: "destruction twice", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlDestroyed + "/destruction", body: map[string]any{"method": "again"},
			says: []string{w.dlDestroyed, "destroyed"}, keys: []entityKey{dlKey(w.dlDestroyed)}},
		{name: "resolve twice", who: op1, method: http.MethodPost, path: "/v1/corrections/" + w.crResolved + "/resolve", body: map[string]any{"resolution": "again"},
			says: []string{w.crResolved, "resolved"}, keys: []entityKey{crKey(w.crResolved)}},
	}
	checkRejections(t, cases, func(c *rejection) {
		c.status, c.code = http.StatusConflict, "conflict"
	})
}

// TestInvalidInput: malformed bodies, each kind of invalid field and bad
// query parameters are 400 naming the field, and change nothing.
func TestInvalidInput(t *testing.T) {
	w := fixtures(t)
	op1 := shared.as(t, "Dept1MSP", "operator")
	ap1 := shared.as(t, "Dept1MSP", "approver")
	ad1 := shared.as(t, "Dept1MSP", "admin")
	op2 := shared.as(t, "Dept2MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	id := uniqueID("invalid")
	with := func(field string, value any) map[string]any {
		d := newDataset(id, "conditional")
		d[field] = value
		return d
	}
	request := func(field string, value any) map[string]any {
		r := newRequest(w.dsOpen)
		r[field] = value
		return r
	}
	update := newDataset(uniqueID("other"), "conditional")
	cycle := newDataset(w.dsConditional, "conditional")
	cycle["derivedFrom"] = []string{w.dsChild}
	creates := []entityKey{dsKey(id)}
	catalog := []string{ownerList("Dept1MSP")}

	cases := []rejection{
		// The body itself.
		{name: "truncated JSON", who: op1, method: http.MethodPost, path: "/v1/datasets", body: `{"id":"` + id + `","title":`, says: []string{"JSON"}},
		{name: "not JSON", who: op1, method: http.MethodPost, path: "/v1/datasets", body: `{"id" "` + id + `"}`, says: []string{"not valid JSON"}},
		{name: "not an object", who: op1, method: http.MethodPost, path: "/v1/datasets", body: `["` + id + `"]`, says: []string{"object"}},
		{name: "empty body", who: op1, method: http.MethodPost, path: "/v1/datasets", body: "", says: []string{"empty"}},
		// One JSON value and nothing after it: a second value or garbage
		// after the object must not be dropped silently.
		{name: "a second object after the body", who: op1, method: http.MethodPost, path: "/v1/datasets", body: jsonText(t, with("id", id+"-twice")) + `{"id":"` + id + `-second"}`,
			says: []string{"JSON"}, keys: []entityKey{dsKey(id + "-twice"), dsKey(id + "-second")}},
		{name: "garbage after the body", who: op1, method: http.MethodPost, path: "/v1/datasets", body: jsonText(t, with("id", id+"-trailing")) + ` trailing`,
			says: []string{"JSON"}, keys: []entityKey{dsKey(id + "-trailing")}},
		{name: "unknown field", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("titel", "typo"), says: []string{"unknown field", "titel"}},
		{name: "wrong type", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("grade", "two"), says: []string{"grade", "integer"}},
		{name: "wrong type in an array", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("fields", "district"), says: []string{"fields", "array"}},

		// Each kind of invalid dataset field.
		{name: "grade 5", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("grade", 5), says: []string{"grade", "5"}},
		{name: "grade 0", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("grade", 0), says: []string{"grade"}},
		{name: "bad shareType", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("shareType", "sometimes"), says: []string{"shareType", "sometimes"}},
		{name: "bad openType", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("openType", "ajar"), says: []string{"openType", "ajar"}},
		{name: "bad updateFrequency", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("updateFrequency", "sometimes"), says: []string{"updateFrequency"}},
		{name: "empty title", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("title", "  "), says: []string{"title", "required"}},
		{name: "no fields", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("fields", []string{}), says: []string{"fields"}},
		{name: "bad schema hash", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("schemaHash", strings.Repeat("A", 64)), says: []string{"schemaHash", "SHA-256"}},
		{name: "bad id", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("id", "has space"), says: []string{"id", "has space"}},
		{name: "open core data", who: op1, method: http.MethodPost, path: "/v1/datasets", body: func() map[string]any { d := with("grade", 4); d["openType"] = "open"; return d }(), says: []string{"core", "open"}},
		{name: "derived from itself", who: op1, method: http.MethodPost, path: "/v1/datasets", body: with("derivedFrom", []string{id}), says: []string{id, "itself"}},
		{name: "update that makes a dataset its own ancestor", who: op1, method: http.MethodPut, path: "/v1/datasets/" + w.dsConditional, body: cycle,
			says: []string{w.dsConditional, "ancestor"}, keys: []entityKey{dsKey(w.dsConditional), dsKey(w.dsChild)}, paths: []string{ledgerPath(w.dsConditional)}},
		{name: "update with another id in the body", who: op1, method: http.MethodPut, path: "/v1/datasets/" + w.dsConditional, body: update,
			says: []string{w.dsConditional}, keys: []entityKey{dsKey(w.dsConditional)}, paths: []string{ledgerPath(w.dsConditional)}},
		{name: "bad id in the path", who: op1, method: http.MethodPost, path: "/v1/datasets/bad%20id/retire", says: []string{"id", "bad id"}},

		// Requests and decisions.
		{name: "validUntil in the past", who: op2, method: http.MethodPost, path: "/v1/requests", body: request("validUntil", time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)),
			says: []string{"validUntil", "future"}},
		{name: "validUntil not RFC 3339", who: op2, method: http.MethodPost, path: "/v1/requests", body: request("validUntil", "next week"), says: []string{"RFC 3339"}},
		{name: "validUntil beyond 5 years", who: op2, method: http.MethodPost, path: "/v1/requests", body: request("validUntil", time.Now().UTC().AddDate(6, 0, 0).Format(time.RFC3339)),
			says: []string{"validUntil", "5 years"}},
		{name: "no purpose", who: op2, method: http.MethodPost, path: "/v1/requests", body: request("purpose", ""), says: []string{"purpose", "required"}},
		{name: "field the dataset lacks", who: op2, method: http.MethodPost, path: "/v1/requests", body: request("fields", []string{"salary"}),
			says: []string{"salary", w.dsOpen}, keys: []entityKey{dsKey(w.dsOpen)}},
		{name: "request own data", who: op1, method: http.MethodPost, path: "/v1/requests", body: request("datasetId", w.dsOpen),
			says: []string{w.dsOpen, "own"}, keys: []entityKey{dsKey(w.dsOpen)}},
		{name: "reject without a reason", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/reject", body: map[string]any{"reason": ""},
			says: []string{"reason", "required"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "revoke without a body", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/revoke", body: "",
			says: []string{"empty"}, keys: []entityKey{rqKey(w.rqApproved)}},

		// Deliveries and their follow-ups.
		{name: "delivery with a bad hash", who: op1, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/deliveries",
			body: map[string]any{"sha256": "abc123", "records": 1, "bytes": 1, "channel": "sftp"}, says: []string{"sha256", "SHA-256"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "delivery of no bytes", who: op1, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/deliveries",
			body: map[string]any{"sha256": sha("x"), "records": 1, "bytes": 0, "channel": "sftp"}, says: []string{"bytes", "positive"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "delivery with negative records", who: op1, method: http.MethodPost, path: "/v1/requests/" + w.rqApproved + "/deliveries",
			body: map[string]any{"sha256": sha("x"), "records": -1, "bytes": 1, "channel": "sftp"}, says: []string{"records"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "receipt with an uppercase hash", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlDelivered + "/receipt",
			body: map[string]any{"sha256": strings.ToUpper(sha("delivered rows"))}, says: []string{"sha256", "lowercase"}, keys: []entityKey{dlKey(w.dlDelivered)}},
		{name: "rating of 6", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlReceived + "/feedback",
			body: map[string]any{"timeliness": 6, "accuracy": 4, "completeness": 4, "consistency": 4}, says: []string{"timeliness", "6"}, keys: []entityKey{dlKey(w.dlReceived)}},
		{name: "rating missing", who: op2, method: http.MethodPost, path: "/v1/deliveries/" + w.dlReceived + "/feedback",
			body: map[string]any{"timeliness": 4, "accuracy": 4, "completeness": 4}, says: []string{"consistency"}, keys: []entityKey{dlKey(w.dlReceived)}},
		{name: "usage without calls", who: op2, method: http.MethodPost, path: "/v1/usage", body: map[string]any{"requestId": w.rqApproved, "calls": 0, "records": 5},
			says: []string{"calls", "positive"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "contribution with a bad hash", who: op2, method: http.MethodPost, path: "/v1/contributions", body: map[string]any{"datasetId": w.dsOpen, "records": 1, "bytes": 1, "sha256": "zz"},
			says: []string{"sha256"}},
		{name: "correction without a description", who: op2, method: http.MethodPost, path: "/v1/corrections", body: map[string]any{"deliveryId": w.dlReceived, "description": ""},
			says: []string{"description", "required"}, keys: []entityKey{dlKey(w.dlReceived)}},
		{name: "resolution without text", who: op1, method: http.MethodPost, path: "/v1/corrections/" + w.crOpen + "/resolve", body: map[string]any{"resolution": " "},
			says: []string{"resolution", "required"}, keys: []entityKey{crKey(w.crOpen)}},
		// What a reader could be misled by, and JSON a decoder would silently repair.
		{name: "repeated key", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/reject",
			body: `{"reason":"not needed","reason":"approved after all"}`, says: []string{"repeats the key", "reason"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "key in another case", who: op2, method: http.MethodPost, path: "/v1/usage",
			body: `{"requestId":"` + w.rqApproved + `","calls":1,"records":1,"RECORDS":900}`, says: []string{"RECORDS", "case-insensitively"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "invalid UTF-8", who: op2, method: http.MethodPost, path: "/v1/usage",
			body: "{\"requestId\":\"" + w.rqApproved + "\",\"calls\":1,\"records\":1,\"x\":\"\xff\"}", says: []string{"UTF-8"}, keys: []entityKey{rqKey(w.rqApproved)}},
		{name: "control character in a reason", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/reject",
			body: map[string]any{"reason": "ok\x1b[2J"}, says: []string{"reason", "control character"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "bidi override in a purpose", who: op2, method: http.MethodPost, path: "/v1/requests", body: request("purpose", "audit \u202egnp.exe"),
			says: []string{"purpose", "bidirectional"}, keys: []entityKey{dsKey(w.dsOpen)}},
		{name: "line break in a single-line reason", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqPending + "/reject",
			body: map[string]any{"reason": "first\nsecond"}, says: []string{"reason", "single line"}, keys: []entityKey{rqKey(w.rqPending)}},
		{name: "department with a bad level", who: ad1, method: http.MethodPut, path: "/v1/departments/me", body: map[string]any{"name": "PSB", "code": "PSB", "level": "galactic"},
			says: []string{"level", "galactic"}, paths: []string{"/v1/departments"}},

		// Query parameters of the reads.
		{name: "limit 0", who: op1, method: http.MethodGet, path: "/v1/datasets?limit=0", says: []string{"limit", "1000"}},
		{name: "limit 1001", who: op1, method: http.MethodGet, path: "/v1/datasets?limit=1001", says: []string{"limit", "1000"}},
		{name: "limit not a number", who: op1, method: http.MethodGet, path: "/v1/requests?limit=ten", says: []string{"limit"}},
		{name: "cursor never returned", who: op1, method: http.MethodGet, path: "/v1/datasets?cursor=%21%21%21", says: []string{"cursor"}},
		{name: "requests cursor never returned", who: op1, method: http.MethodGet, path: "/v1/requests?cursor=%21%21%21", says: []string{"cursor"}},
		{name: "grade filter 5", who: op1, method: http.MethodGet, path: "/v1/datasets?grade=5", says: []string{"grade"}},
		{name: "shareType filter", who: op1, method: http.MethodGet, path: "/v1/datasets?shareType=sometimes", says: []string{"shareType"}},
		{name: "owner filter", who: op1, method: http.MethodGet, path: "/v1/datasets?owner=not%20an%20msp", says: []string{"owner"}},
		{name: "request status filter", who: op1, method: http.MethodGet, path: "/v1/requests?status=maybe", says: []string{"status", "maybe"}},
		{name: "unknown source", who: op1, method: http.MethodGet, path: "/v1/datasets?source=cache", says: []string{"source", "cache"}},
		{name: "ledger source with a shareType filter", who: op1, method: http.MethodGet, path: "/v1/datasets?source=ledger&shareType=none", says: []string{"shareType", "ledger"}},
		{name: "ledger source limit 0", who: op1, method: http.MethodGet, path: "/v1/datasets?source=ledger&limit=0", says: []string{"limit"}},
		// The ledger's cursor is the chaincode's bookmark, a key of the world
		// state: one the list never returned must be refused, not start the
		// scan somewhere else (an empty page; other kinds of record decoded
		// as datasets; another owner's datasets; an internal error).
		{name: "ledger source cursor never returned", who: op1, method: http.MethodGet, path: "/v1/datasets?source=ledger&cursor=zzz", says: []string{"cursor"}},
		{name: "ledger source cursor before the datasets", who: op1, method: http.MethodGet, path: "/v1/datasets?source=ledger&limit=5&cursor=%00c", says: []string{"cursor"}},
		{name: "ledger source cursor of another owner", who: op1, method: http.MethodGet, path: "/v1/datasets?source=ledger&limit=5&owner=Dept2MSP&cursor=%00dataset~owner%00Dept1MSP%00", says: []string{"cursor"}},
		{name: "ledger source cursor of the unfiltered list", who: op1, method: http.MethodGet, path: "/v1/datasets?source=ledger&limit=5&owner=Dept2MSP&cursor=%00dataset%00", says: []string{"cursor"}},
		{name: "trace without a subject", who: auditor, method: http.MethodGet, path: "/v1/audit/trace", says: []string{"dataset"}},
	}
	checkRejections(t, cases, func(c *rejection) {
		c.status, c.code = http.StatusBadRequest, "invalid"
		if c.method == http.MethodPost && c.path == "/v1/datasets" {
			c.keys, c.paths = append(c.keys, creates...), append(c.paths, catalog...)
		}
	})
}

// TestTooLarge: a body over the 1 MiB limit is 413, whether its length is
// announced or it is streamed in chunks, and nothing is registered.
func TestTooLarge(t *testing.T) {
	op := shared.as(t, "Dept1MSP", "operator")
	id := uniqueID("large")
	big := newDataset(id, "conditional")
	big["description"] = strings.Repeat("x", 1<<20)
	raw, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	keys := []entityKey{dsKey(id)}
	paths := []string{ownerList("Dept1MSP")}
	cases := []rejection{
		{name: "with Content-Length", body: string(raw)},
		// Hiding the reader's type makes the client stream it chunked, with no length.
		{name: "chunked", body: io.MultiReader(bytes.NewReader(raw))},
	}
	checkRejections(t, cases, func(c *rejection) {
		c.who, c.method, c.path = op, http.MethodPost, "/v1/datasets"
		c.header = map[string]string{"Authorization": "Bearer " + op.token}
		c.status, c.code, c.says = http.StatusRequestEntityTooLarge, "too_large", []string{fmt.Sprint(1 << 20)}
		c.keys, c.paths = keys, paths
	})
}

// TestExpiry: an approved request is expired once its validUntil passes:
// the index and the ledger both say so, the status filter finds it, and
// deliveries, usage and revocation under it are 409 with nothing changed.
func TestExpiry(t *testing.T) {
	w := fixtures(t)
	op1 := shared.as(t, "Dept1MSP", "operator")
	ap1 := shared.as(t, "Dept1MSP", "approver")
	op2 := shared.as(t, "Dept2MSP", "operator")
	time.Sleep(time.Until(w.expiresAt.Add(time.Second)))

	var got request
	op2.must(http.StatusOK, http.MethodGet, "/v1/requests/"+w.rqExpiring, nil).json(t, &got)
	if got.Status != "expired" {
		t.Errorf("GET /v1/requests/%s: status %s after validUntil %s, want expired", w.rqExpiring, got.Status, w.expiresAt)
	}
	if err := json.Unmarshal([]byte(newLedgerView(t).entity(rqKey(w.rqExpiring))), &got); err != nil || got.Status != "expired" {
		t.Errorf("GetRequest(%s) on the ledger: status %s (%v), want expired", w.rqExpiring, got.Status, err)
	}
	expired := ids(walk(t, op2, "/v1/requests?status=expired&dataset="+w.dsOpen, 50))
	approved := ids(walk(t, op2, "/v1/requests?status=approved&dataset="+w.dsOpen, 50))
	if !slices.Contains(expired, w.rqExpiring) || slices.Contains(approved, w.rqExpiring) {
		t.Errorf("status filters: expired %v, approved %v; want %s only among the expired", expired, approved, w.rqExpiring)
	}

	keys := []entityKey{rqKey(w.rqExpiring)}
	checkRejections(t, []rejection{
		{name: "deliver", who: op1, method: http.MethodPost, path: "/v1/requests/" + w.rqExpiring + "/deliveries",
			body: map[string]any{"sha256": sha("late rows"), "records": 1, "bytes": 1, "channel": "sftp"}},
		{name: "usage", who: op2, method: http.MethodPost, path: "/v1/usage", body: map[string]any{"requestId": w.rqExpiring, "calls": 1, "records": 1}},
		{name: "revoke", who: ap1, method: http.MethodPost, path: "/v1/requests/" + w.rqExpiring + "/revoke", body: map[string]any{"reason": "too late"}},
	}, func(c *rejection) {
		c.status, c.code, c.says, c.keys = http.StatusConflict, "conflict", []string{w.rqExpiring, "expired"}, keys
	})
}
