package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestProxy(t *testing.T) {
	tests := []struct {
		target, role, wantPath, wantQuery string
	}{
		{"/v1/datasets?owner=Dept2MSP&grade=2", "operator", "/v1/datasets", "owner=Dept2MSP&grade=2"},
		{"/v1/datasets?source=index&owner=Dept2MSP", "operator", "/v1/datasets", "owner=Dept2MSP"},
		{"/v1/datasets/ds-1", "approver", "/v1/datasets/ds-1", ""},
		{"/v1/requests?status=pending&limit=10", "approver", "/v1/requests", "status=pending&limit=10"},
		{"/v1/requests/rq-1", "auditor", "/v1/requests/rq-1", ""},
		{"/v1/metering?bucket=day", "evaluator", "/v1/metering", "bucket=day"},
		{"/v1/audit/trace?actor=olive&cursor=abc", "auditor", "/v1/audit/trace", "actor=olive&cursor=abc"},
		{"/v1/audit/verify/0a1b", "auditor", "/v1/audit/verify/0a1b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			f := newFixture(t)
			f.index.getBody = `{"items":[{"id":"ds-1"}],"nextCursor":"n"}`
			req := f.do(t, "GET", tt.target, tt.role, "")
			if req.Code != 200 || req.Body.String() != f.index.getBody || req.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("answer %d %q %q", req.Code, req.Header().Get("Content-Type"), req.Body)
			}
			if len(f.index.gets) != 1 {
				t.Fatalf("%d index calls", len(f.index.gets))
			}
			g := f.index.gets[0]
			gotQ, _ := url.ParseQuery(g.query)
			wantQ, _ := url.ParseQuery(tt.wantQuery)
			if g.path != tt.wantPath || gotQ.Encode() != wantQ.Encode() {
				t.Fatalf("forwarded %s?%s, want %s?%s", g.path, g.query, tt.wantPath, tt.wantQuery)
			}
			want := map[string]string{"X-Caller-Msp": "Dept1MSP", "X-Caller-Role": tt.role, "X-Caller-User": tt.role + "-user"}
			for k, v := range want {
				if g.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, g.header.Get(k), v)
				}
			}
			if g.header.Get("X-Request-Id") == "" {
				t.Error("request ID not forwarded")
			}
			if len(f.ledger.calls) != 0 {
				t.Error("an index read called the ledger")
			}
		})
	}
}

func TestProxyPassesIndexErrors(t *testing.T) {
	f := newFixture(t)
	f.index.getStatus = http.StatusNotFound
	f.index.getBody = `{"error":{"code":"not_found","message":"dataset ds-9 is not indexed"}}`
	rec := f.do(t, "GET", "/v1/datasets/ds-9", "operator", "")
	if rec.Code != 404 || errorOf(t, rec).Message != "dataset ds-9 is not indexed" {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestProxyIndexDown(t *testing.T) {
	f := newFixture(t)
	f.index.getErr = errors.New("dial tcp 127.0.0.1:7108: connection refused")
	rec := f.do(t, "GET", "/v1/requests", "operator", "")
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if e := errorOf(t, rec); e.Code != domain.CodeUnavailable || strings.Contains(e.Message, "127.0.0.1") {
		t.Fatalf("error %+v", e)
	}
}

func TestLedgerReads(t *testing.T) {
	tests := []struct {
		name, target string
		evals        map[string][]byte
		status       int
		wantTx       string
		wantArgs     []string
		wantBody     string
	}{
		{"departments", "/v1/departments", map[string][]byte{"ListDepartments": []byte(`[{"mspId":"Dept1MSP"}]`)}, 200,
			"ListDepartments", nil, `{"items":[{"mspId":"Dept1MSP"}]}`},
		{"catalog from the ledger", "/v1/datasets?source=ledger&owner=Dept2MSP&limit=20&cursor=AGJtMQ", // cursors are base64url bookmarks
			map[string][]byte{"ListDatasets": []byte(`{"items":[{"id":"a"}],"bookmark":"\u0000bm2"}`)}, 200,
			"ListDatasets", []string{"Dept2MSP", "20", "\x00bm1"}, `{"items":[{"id":"a"}],"nextCursor":"AGJtMg"}`},
		{"last page from the ledger", "/v1/datasets?source=ledger",
			map[string][]byte{"ListDatasets": []byte(`{"items":null,"bookmark":""}`)}, 200,
			"ListDatasets", []string{"", "50", ""}, `{"items":[]}`},
		{"a request its party reads from the ledger", "/v1/requests/rq-1?source=ledger",
			map[string][]byte{"GetRequest": []byte(`{"id":"rq-1","owner":"Dept2MSP","requester":"Dept1MSP"}`)}, 200,
			"GetRequest", []string{"rq-1"}, `{"id":"rq-1","owner":"Dept2MSP","requester":"Dept1MSP"}`},
		{"a usage its consumer reads from the ledger", "/v1/usage/us-1?source=ledger",
			map[string][]byte{"GetUsage": []byte(`{"id":"us-1","owner":"Dept2MSP","consumer":"Dept1MSP"}`)}, 200,
			"GetUsage", []string{"us-1"}, `{"id":"us-1","owner":"Dept2MSP","consumer":"Dept1MSP"}`},
		{"one dataset from the ledger", "/v1/datasets/ds-1?source=ledger",
			map[string][]byte{"GetDataset": []byte(`{"id":"ds-1","version":3}`)}, 200,
			"GetDataset", []string{"ds-1"}, `{"id":"ds-1","version":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ledger.evals = tt.evals
			rec := f.do(t, "GET", tt.target, "evaluator", "")
			if rec.Code != tt.status || rec.Body.String() != tt.wantBody {
				t.Fatalf("answer %d %s, want %d %s", rec.Code, rec.Body, tt.status, tt.wantBody)
			}
			c := f.ledger.last(t)
			if c.kind != "evaluate" || c.tx != tt.wantTx || strings.Join(c.args, "|") != strings.Join(tt.wantArgs, "|") || c.user != "evaluator-user" {
				t.Fatalf("call %+v", c)
			}
			if len(f.index.gets) != 0 {
				t.Fatal("a ledger read went to the index")
			}
		})
	}
}

func TestLedgerReadErrors(t *testing.T) {
	tests := []struct {
		name, target string
		ledgerErr    error
		status       int
		wantMsg      string
	}{
		{"unknown source", "/v1/datasets?source=cache", nil, 400, "source \"cache\""},
		{"filter the ledger lacks", "/v1/datasets?source=ledger&grade=2", nil, 400, "filter grade"},
		{"limit too big", "/v1/datasets?source=ledger&limit=5000", nil, 400, "limit"},
		{"bad owner", "/v1/datasets?source=ledger&owner=a%20b", nil, 400, "owner"},
		{"cursor not base64url", "/v1/datasets?source=ledger&cursor=%00c", nil, 400, "cursor is not one this list returned"},
		{"not found", "/v1/datasets/ds-9?source=ledger", txError{domain.Errorf(domain.CodeNotFound, "dataset ds-9 does not exist"), "tx-q"}, 404, "ds-9 does not exist"},
		{"peer down", "/v1/departments", domain.Errorf(domain.CodeUnavailable, "the ledger is unavailable"), 503, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ledger.err = tt.ledgerErr
			rec := f.do(t, "GET", tt.target, "operator", "")
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if e := errorOf(t, rec); !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("message %q, want %q", e.Message, tt.wantMsg)
			}
		})
	}
}

// TestLedgerReadOfSharedRecords: on the ledger path the gateway itself
// keeps a shared record to its parties and auditors, as the index does.
func TestLedgerReadOfSharedRecords(t *testing.T) {
	other := []byte(`{"id":"dl-1","owner":"Dept2MSP","requester":"Dept3MSP"}`)
	tests := []struct {
		role   string
		status int
	}{{"operator", 403}, {"approver", 403}, {"auditor", 200}}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			f := newFixture(t)
			f.ledger.evals = map[string][]byte{"GetDelivery": other}
			rec := f.do(t, "GET", "/v1/deliveries/dl-1?source=ledger", tt.role, "")
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 403 && !strings.Contains(errorOf(t, rec).Message, "only the departments party to dl-1") {
				t.Fatalf("message %s", rec.Body)
			}
		})
	}
}

func TestSnapshotPeriodChecked(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, "GET", "/v1/scores/snapshots/2026-13", "evaluator", "")
	if rec.Code != 400 || !strings.Contains(errorOf(t, rec).Message, "period") {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
}
