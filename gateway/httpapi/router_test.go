package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

const hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// writeRoutes lists every write with a valid body, the roles openapi.json allows,
// and what the router must submit.
var writeRoutes = []struct {
	method, path, body string
	roles              []domain.Role
	status             int
	entity, tx         string
	id                 string // the path ID passed as first argument, if any
}{
	{"PUT", "/v1/departments/me", `{"name":"Public Security Bureau","code":"PSB","level":"municipal"}`, []domain.Role{domain.RoleAdmin}, 200, "department", "SetDepartment", ""},
	{"POST", "/v1/datasets", `{"title":"Households","fields":["id","size"],"updateFrequency":"monthly","shareType":"conditional","openType":"restricted","grade":2}`, []domain.Role{domain.RoleOperator}, 201, "dataset", "RegisterDataset", ""},
	{"PUT", "/v1/datasets/ds-1", `{"title":"Households v2","fields":["id"],"updateFrequency":"monthly","shareType":"conditional","openType":"restricted","grade":2}`, []domain.Role{domain.RoleOperator}, 200, "dataset", "UpdateDataset", "ds-1"},
	{"POST", "/v1/datasets/ds-1/retire", `{"reason":"superseded"}`, []domain.Role{domain.RoleOperator}, 200, "dataset", "RetireDataset", "ds-1"},
	{"POST", "/v1/requests", `{"datasetId":"ds-1","purpose":"benefits","legalBasis":"Act 12","fields":["id"],"validUntil":"2026-06-30T00:00:00Z"}`, []domain.Role{domain.RoleOperator}, 201, "request", "CreateRequest", ""},
	{"POST", "/v1/requests/rq-1/approve", `{"reason":"ok"}`, []domain.Role{domain.RoleApprover}, 200, "request", "ApproveRequest", "rq-1"},
	{"POST", "/v1/requests/rq-1/coapprove", `{"reason":"within the catalogue"}`, []domain.Role{domain.RoleApprover}, 200, "request", "CoApproveRequest", "rq-1"},
	{"POST", "/v1/requests/rq-1/reject", `{"reason":"no legal basis"}`, []domain.Role{domain.RoleApprover}, 200, "request", "RejectRequest", "rq-1"},
	{"POST", "/v1/requests/rq-1/revoke", `{"reason":"ended"}`, []domain.Role{domain.RoleApprover}, 200, "request", "RevokeRequest", "rq-1"},
	{"POST", "/v1/requests/rq-1/deliveries", `{"sha256":"` + hash + `","records":10,"bytes":100,"channel":"sftp"}`, []domain.Role{domain.RoleOperator}, 201, "delivery", "RecordDelivery", "rq-1"},
	{"POST", "/v1/deliveries/dl-1/receipt", `{"sha256":"` + hash + `"}`, []domain.Role{domain.RoleOperator}, 200, "delivery", "RecordReceipt", "dl-1"},
	{"POST", "/v1/deliveries/dl-1/feedback", `{"timeliness":5,"accuracy":4,"completeness":4,"consistency":3,"comment":"fine"}`, []domain.Role{domain.RoleOperator}, 200, "delivery", "RateDelivery", "dl-1"},
	{"POST", "/v1/deliveries/dl-1/destruction", `{"method":"shredded"}`, []domain.Role{domain.RoleOperator}, 200, "delivery", "RecordDestruction", "dl-1"},
	{"POST", "/v1/usage", `{"requestId":"rq-1","calls":1,"records":20}`, []domain.Role{domain.RoleOperator}, 201, "usage", "RecordUsage", ""},
	{"POST", "/v1/contributions", `{"datasetId":"ds-1","records":5,"bytes":50,"sha256":"` + hash + `"}`, []domain.Role{domain.RoleOperator}, 201, "contribution", "RecordContribution", ""},
	{"POST", "/v1/corrections", `{"deliveryId":"dl-1","description":"wrong totals"}`, []domain.Role{domain.RoleOperator}, 201, "correction", "OpenCorrection", ""},
	{"POST", "/v1/corrections/co-1/resolve", `{"resolution":"fixed in v3"}`, []domain.Role{domain.RoleOperator}, 200, "correction", "ResolveCorrection", "co-1"},
}

func TestWrites(t *testing.T) {
	for _, w := range writeRoutes {
		t.Run(w.method+" "+w.path, func(t *testing.T) {
			f := newFixture(t)
			f.ledger.result = []byte(`{"id":"e1","status":"s"}`)
			rec := f.do(t, w.method, w.path, string(w.roles[0]), w.body)
			if rec.Code != w.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, w.status, rec.Body)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if string(got["txId"]) != `"tx-1"` || string(got["blockNumber"]) != "7" || string(got[w.entity]) != `{"id":"e1","status":"s"}` || len(got) != 3 {
				t.Fatalf("body %s, want txId, blockNumber and %s", rec.Body, w.entity)
			}
			c := f.ledger.last(t)
			wantArgs := 1
			if w.id != "" {
				wantArgs = 2
				if c.args[0] != w.id {
					t.Fatalf("first argument %q, want the path ID %q", c.args[0], w.id)
				}
			}
			if c.kind != "submit" || c.tx != w.tx || len(c.args) != wantArgs || c.user != string(w.roles[0])+"-user" {
				t.Fatalf("ledger call %+v, want submit %s with %d args as %s", c, w.tx, wantArgs, w.roles[0])
			}
			// The input goes on as the domain type's JSON: same fields as sent.
			var sent, passed map[string]any
			_ = json.Unmarshal([]byte(w.body), &sent)
			if err := json.Unmarshal([]byte(c.args[len(c.args)-1]), &passed); err != nil {
				t.Fatalf("input argument is not JSON: %v", err)
			}
			for k, v := range sent {
				if fmt.Sprint(passed[k]) != fmt.Sprint(v) {
					t.Errorf("input field %s = %v, sent %v", k, passed[k], v)
				}
			}
			// Read-your-writes: the answer came after waiting for the commit's block.
			if !slices.Equal(f.index.waits, []uint64{7}) {
				t.Fatalf("index waits %v, want [7]", f.index.waits)
			}
		})
	}
}

// TestRoles tries every write and role-restricted read with every role.
func TestRoles(t *testing.T) {
	type route struct {
		method, path, body string
		roles              []domain.Role
	}
	var routes []route
	for _, w := range writeRoutes {
		routes = append(routes, route{w.method, w.path, w.body, w.roles})
	}
	routes = append(routes,
		route{"GET", "/v1/scores?period=2026-01", "", []domain.Role{domain.RoleEvaluator, domain.RoleAuditor}},
		route{"GET", "/v1/scores/Dept2MSP?period=2026-01", "", []domain.Role{domain.RoleEvaluator, domain.RoleAuditor}},
		route{"GET", "/v1/audit/trace?dataset=ds-1", "", []domain.Role{domain.RoleAuditor}},
		route{"GET", "/v1/audit/lineage/ds-1", "", []domain.Role{domain.RoleAuditor}},
		route{"GET", "/v1/audit/verify/tx-1", "", []domain.Role{domain.RoleAuditor}},
		route{"GET", "/v1/audit/chain?from=0&to=9", "", []domain.Role{domain.RoleAuditor}},
		route{"GET", "/v1/audit/export?format=csv", "", []domain.Role{domain.RoleAuditor}},
		route{"GET", "/v1/datasets", "", domain.Roles},
		route{"GET", "/v1/requests", "", domain.Roles},
		route{"GET", "/v1/metering", "", domain.Roles},
		route{"GET", "/v1/departments", "", domain.Roles},
	)
	for _, r := range routes {
		for _, role := range domain.Roles {
			t.Run(r.method+" "+r.path+" as "+string(role), func(t *testing.T) {
				f := newFixture(t)
				f.ledger.evals = map[string][]byte{"ListDepartments": []byte(`[]`)}
				f.index.getBody = `{"items":[]}`
				rec := f.do(t, r.method, r.path, string(role), r.body)
				if slices.Contains(r.roles, role) {
					if rec.Code >= 300 {
						t.Fatalf("status %d for an allowed role: %s", rec.Code, rec.Body)
					}
					return
				}
				if rec.Code != http.StatusForbidden {
					t.Fatalf("status %d, want 403: %s", rec.Code, rec.Body)
				}
				e := errorOf(t, rec)
				if e.Code != domain.CodeForbidden || !strings.HasPrefix(e.Details["rule"], "role ") || e.Details["role"] != string(role) {
					t.Fatalf("error %+v does not name the rule", e)
				}
				if len(f.ledger.calls) != 0 || len(f.index.gets) != 0 {
					t.Fatal("a refused call reached the ledger or the index")
				}
			})
		}
	}
}

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name, header string
	}{
		{"no header", ""},
		{"not bearer", "Basic b3BlcmF0b3I6eA=="},
		{"empty token", "Bearer "},
		{"unknown token", "Bearer nobody"},
	}
	for _, tt := range tests {
		for _, target := range []string{"POST /v1/datasets", "GET /v1/datasets", "GET /v1/audit/trace"} {
			t.Run(tt.name+" "+target, func(t *testing.T) {
				f := newFixture(t)
				method, path, _ := strings.Cut(target, " ")
				req := httptest.NewRequest(method, path, strings.NewReader(`{}`))
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				rec := httptest.NewRecorder()
				f.router.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatalf("status %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
				}
				if e := errorOf(t, rec); e.Code != domain.CodeUnauthorized {
					t.Fatalf("code %s", e.Code)
				}
				if len(f.ledger.calls)+len(f.index.gets) != 0 {
					t.Fatal("an unauthenticated call went through")
				}
			})
		}
	}
	t.Run("lower-case scheme", func(t *testing.T) {
		f := newFixture(t)
		f.index.getBody = `{"items":[]}`
		req := httptest.NewRequest("GET", "/v1/datasets", nil)
		req.Header.Set("Authorization", "bearer operator")
		rec := httptest.NewRecorder()
		f.router.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func TestBadInput(t *testing.T) {
	const dataset = `"title":"T","fields":["a"],"updateFrequency":"daily","shareType":"none","openType":"closed"`
	tests := []struct {
		name, method, path, body string
		status                   int
		wantField                string // details.field
		wantMsg                  string
	}{
		{"not JSON", "POST", "/v1/datasets", `{"title":`, 400, "", "ends in the middle"},
		{"syntax error", "POST", "/v1/datasets", `{"title" "x"}`, 400, "", "not valid JSON"},
		{"not an object", "POST", "/v1/datasets", `["a"]`, 400, "", "must be a JSON object"},
		{"empty body", "POST", "/v1/datasets", ``, 400, "", "empty"},
		{"a second object", "POST", "/v1/datasets", `{` + dataset + `,"grade":1}{"id":"x"}`, 400, "", "more than one JSON value"},
		{"garbage after the object", "POST", "/v1/datasets", `{` + dataset + `,"grade":1} trailing`, 400, "", "more than one JSON value"},
		{"unknown field", "POST", "/v1/datasets", `{` + dataset + `,"grade":1,"colour":"red"}`, 400, "colour", `unknown field "colour"`},
		{"wrong type", "POST", "/v1/datasets", `{` + dataset + `,"grade":"high"}`, 400, "grade", "field grade must be an integer"},
		{"wrong element type", "POST", "/v1/datasets", `{"title":"T","fields":[1],"grade":1}`, 400, "fields", "must be a string"},
		{"out of range", "POST", "/v1/datasets", `{` + dataset + `,"grade":9}`, 400, "", "grade must be from 1"},
		{"missing title", "POST", "/v1/datasets", `{"fields":["a"],"updateFrequency":"daily","shareType":"none","openType":"closed","grade":1}`, 400, "", "title is required"},
		{"body id differs from path", "PUT", "/v1/datasets/ds-1", `{"id":"ds-2",` + dataset + `,"grade":1}`, 400, "", "differs"},
		{"bad path id", "POST", "/v1/datasets/bad%20id/retire", `{}`, 400, "", "id \"bad id\""},
		{"bad time", "POST", "/v1/requests", `{"datasetId":"d","purpose":"p","legalBasis":"l","validUntil":"tomorrow"}`, 400, "", "RFC 3339"},
		{"time in the past", "POST", "/v1/requests", `{"datasetId":"d","purpose":"p","legalBasis":"l","validUntil":"2020-01-01T00:00:00Z"}`, 400, "", "not in the future"},
		{"reject needs a reason", "POST", "/v1/requests/rq-1/reject", `{}`, 400, "", "reason is required"},
		{"reject with no body", "POST", "/v1/requests/rq-1/reject", ``, 400, "", "empty"},
		{"rating out of range", "POST", "/v1/deliveries/dl-1/feedback", `{"timeliness":6,"accuracy":1,"completeness":1,"consistency":1}`, 400, "", "timeliness must be an integer from 1 to 5"},
		{"too large", "POST", "/v1/corrections", `{"deliveryId":"d","description":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "", "larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			role := "operator"
			if strings.Contains(tt.path, "reject") {
				role = "approver"
			}
			rec := f.do(t, tt.method, tt.path, role, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			e := errorOf(t, rec)
			if e.Details["field"] != tt.wantField || !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("error %+v, want field %q and message with %q", e, tt.wantField, tt.wantMsg)
			}
			if len(f.ledger.calls) != 0 {
				t.Fatal("invalid input reached the ledger")
			}
		})
	}
}

// TestTooLargeStreamed sends a large body without Content-Length, so that
// only the reading limit can catch it.
func TestTooLargeStreamed(t *testing.T) {
	f := newFixture(t)
	body := `{"deliveryId":"d","description":"` + strings.Repeat("x", 2<<20) + `"}`
	req := httptest.NewRequest("POST", "/v1/corrections", strings.NewReader(body))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer operator")
	rec := httptest.NewRecorder()
	f.router.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || errorOf(t, rec).Code != domain.CodeTooLarge {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestEmptyBodyWhereOptional(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, "POST", "/v1/requests/rq-1/approve", "approver", "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if c := f.ledger.last(t); c.tx != "ApproveRequest" || c.args[1] != `{"reason":""}` {
		t.Fatalf("call %+v", c)
	}
}

// TestLedgerErrors maps each domain code from the ledger to its status, with
// the transaction ID in the body.
func TestLedgerErrors(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		wantTxID   string
		retryAfter bool
	}{
		{txError{domain.Errorf(domain.CodeInvalid, "derivedFrom d9 does not exist"), "tx-a"}, 400, "tx-a", false},
		{txError{domain.Errorf(domain.CodeForbidden, "Dept1MSP does not own ds-1"), "tx-b"}, 403, "tx-b", false},
		{txError{domain.Errorf(domain.CodeNotFound, "request rq-1 does not exist"), "tx-c"}, 404, "tx-c", false},
		{txError{domain.Errorf(domain.CodeConflict, "request rq-1 is approved, not pending"), "tx-d"}, 409, "tx-d", false},
		{txError{domain.Errorf(domain.CodeTooLarge, "too many fields"), "tx-e"}, 413, "tx-e", false},
		{txError{domain.Errorf(domain.CodeUnavailable, "the ledger is unavailable"), "tx-f"}, 503, "tx-f", true},
		{txError{domain.Errorf(domain.CodeInternal, "the ledger call failed (endorse)"), "tx-g"}, 500, "tx-g", false},
		{domain.Errorf(domain.CodeUnavailable, "not connected"), 503, "", true},
		{errors.New("nil map write in the gateway"), 500, "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, " ", tt.err), func(t *testing.T) {
			f := newFixture(t)
			f.ledger.err = tt.err
			rec := f.do(t, "POST", "/v1/requests/rq-1/approve", "approver", `{}`)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Retry-After"); (got == "5") != tt.retryAfter {
				t.Fatalf("Retry-After %q", got)
			}
			e := errorOf(t, rec)
			if e.TxID != tt.wantTxID {
				t.Fatalf("txId %q, want %q", e.TxID, tt.wantTxID)
			}
			var de *domain.Error
			if errors.As(tt.err, &de) {
				if e.Code != de.Code || e.Message != de.Message {
					t.Fatalf("error %+v, want %s %q", e, de.Code, de.Message)
				}
			} else if e.Code != domain.CodeInternal || strings.Contains(e.Message, "nil map") || !strings.Contains(e.Message, rec.Header().Get("X-Request-Id")) {
				t.Fatalf("internal error %+v leaks its cause or lacks the request ID", e)
			}
			if len(f.index.waits) != 0 {
				t.Fatal("waited for the index after a failed write")
			}
		})
	}
}

func TestIndexWaitFails(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{{indexclient.ErrWaitTimeout, "timeout"}, {errors.New("connection refused"), "error"}} {
		t.Run(tt.want, func(t *testing.T) {
			f := newFixture(t)
			f.index.waitErr = tt.err
			rec := f.do(t, "POST", "/v1/usage", "operator", `{"requestId":"rq-1","calls":1}`)
			// The transaction committed: answering an error would invite a duplicate.
			if rec.Code != 201 || rec.Header().Get("X-Index-Wait") != tt.want {
				t.Fatalf("status %d, X-Index-Wait %q", rec.Code, rec.Header().Get("X-Index-Wait"))
			}
		})
	}
}

func TestResultNotJSON(t *testing.T) {
	f := newFixture(t)
	f.ledger.result = []byte("not json")
	rec := f.do(t, "POST", "/v1/usage", "operator", `{"requestId":"rq-1","calls":1}`)
	if rec.Code != 500 || errorOf(t, rec).TxID != "tx-1" {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestRequestID(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	rec := httptest.NewRecorder()
	f.router.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("X-Request-Id %q, want the caller's", got)
	}
	req.Header.Set("X-Request-Id", "has spaces\nand a newline")
	rec = httptest.NewRecorder()
	f.router.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); len(got) != 24 {
		t.Fatalf("X-Request-Id %q, want a fresh one", got)
	}
	if !strings.Contains(f.logs.String(), `"requestId":"abc-123"`) {
		t.Fatalf("log lacks the request ID: %s", f.logs)
	}
}

func TestNoRouteAndMethod(t *testing.T) {
	f := newFixture(t)
	if rec := f.do(t, "GET", "/v1/nothing", "operator", ""); rec.Code != 404 || errorOf(t, rec).Code != domain.CodeNotFound {
		t.Fatalf("status %d", rec.Code)
	}
	if rec := f.do(t, "DELETE", "/v1/datasets", "operator", ""); rec.Code != 405 || errorOf(t, rec).Code != domain.CodeInvalid {
		t.Fatalf("status %d", rec.Code)
	}
}

// panicLedger fails the way a bug would.
type panicLedger struct{ fakeLedger }

func (p *panicLedger) Submit(ctx context.Context, _ *identity.Person, tx string, args ...string) ([]byte, string, uint64, error) {
	panic("boom")
}

func TestRecovery(t *testing.T) {
	f := newFixture(t)
	r, err := NewRouter(Options{Ledger: &panicLedger{}, Index: f.index, Auth: testPeople, Logger: f.logger()})
	if err != nil {
		t.Fatal(err)
	}
	f.router = r
	rec := f.do(t, "POST", "/v1/usage", "operator", `{"requestId":"rq-1","calls":1}`)
	if rec.Code != 500 || errorOf(t, rec).Code != domain.CodeInternal {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !strings.Contains(f.logs.String(), `"panic":"boom"`) {
		t.Fatalf("panic not logged: %s", f.logs)
	}
	// The request line is still logged and counted, with the status sent.
	if !strings.Contains(f.logs.String(), `"msg":"request"`) || !strings.Contains(f.logs.String(), `"route":"/v1/usage","path":"/v1/usage","status":500`) {
		t.Fatalf("panicking request not logged with its status: %s", f.logs)
	}
}

// TestMinBlock: X-Min-Block holds a request until this department's index
// has the block, and answers 503 (changing nothing) when it does not come.
func TestMinBlock(t *testing.T) {
	t.Run("waits, then serves", func(t *testing.T) {
		f := newFixture(t)
		req := httptest.NewRequest("GET", "/v1/datasets", nil)
		req.Header.Set("Authorization", "Bearer operator")
		req.Header.Set(MinBlockHeader, "42")
		rec := httptest.NewRecorder()
		f.router.ServeHTTP(rec, req)
		if rec.Code != 200 || len(f.index.waits) != 1 || f.index.waits[0] != 42 {
			t.Fatalf("answer %d, waits %v", rec.Code, f.index.waits)
		}
	})
	t.Run("block not reached", func(t *testing.T) {
		f := newFixture(t)
		f.index.waitErr = indexclient.ErrWaitTimeout
		req := httptest.NewRequest("POST", "/v1/usage", strings.NewReader(`{"requestId":"rq-1","calls":1}`))
		req.Header.Set("Authorization", "Bearer operator")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(MinBlockHeader, "42")
		rec := httptest.NewRecorder()
		f.router.ServeHTTP(rec, req)
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || len(f.ledger.calls) != 0 {
			t.Fatalf("answer %d %s, ledger calls %d", rec.Code, rec.Body, len(f.ledger.calls))
		}
	})
	t.Run("not a number", func(t *testing.T) {
		f := newFixture(t)
		req := httptest.NewRequest("GET", "/v1/datasets", nil)
		req.Header.Set("Authorization", "Bearer operator")
		req.Header.Set(MinBlockHeader, "latest")
		rec := httptest.NewRecorder()
		f.router.ServeHTTP(rec, req)
		if rec.Code != 400 {
			t.Fatalf("answer %d %s", rec.Code, rec.Body)
		}
	})
}
