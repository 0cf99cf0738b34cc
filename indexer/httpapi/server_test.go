package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/audit"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/httpapi"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/source"
	"github.com/govshare/ledger/indexer/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixture is a real store holding a small ledger:
// block 1: ds1 (Dept1, conditional, grade 2), ds2 (Dept2, unconditional, 3), ds3 (Dept1, none, 1)
// block 2: r1 Dept2 asks Dept1 for ds1 (pending); r2 Dept3 asks Dept2 for ds2 (approved, expired by now)
type fixture struct {
	raw    []*common.Block // every block applied, as the peer would serve it
	store  *store.Store
	srv    *httptest.Server
	chain  *blocktest.Chain
	op1    blocktest.Identity
	height func() uint64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{Channel: "datashare", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	scorer := scores.Attach(st, quiet)
	f := &fixture{store: st, chain: blocktest.NewChain("datashare"), op1: blocktest.NewIdentity("Dept1MSP", "op1")}
	op2, op3 := blocktest.NewIdentity("Dept2MSP", "op2"), blocktest.NewIdentity("Dept3MSP", "op3")
	ds := func(id, owner string, share domain.ShareType, grade int) domain.Dataset {
		return domain.Dataset{ID: id, Owner: owner, Title: "T" + id, Fields: []string{"a"}, UpdateFrequency: "daily",
			ShareType: share, OpenType: domain.OpenClosed, Grade: grade, Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
	}
	rq := func(id, dsID, requester, owner string, status domain.RequestStatus, until time.Time) domain.Request {
		return domain.Request{ID: id, DatasetID: dsID, Requester: requester, Owner: owner, Fields: []string{"a"},
			Purpose: "p", LegalBasis: "l", ValidUntil: until, Status: status}
	}
	a1, a2, a3 := f.op1.Actor(domain.RoleOperator), op2.Actor(domain.RoleOperator), op3.Actor(domain.RoleOperator)
	f.apply(t, f.chain.Genesis(f.op1))
	f.apply(t, f.chain.Block(
		blocktest.Tx{ID: "t1", Signer: f.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds("ds1", "Dept1MSP", domain.ShareConditional, 2))},
		blocktest.Tx{ID: "t2", Signer: op2, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a2, ds("ds2", "Dept2MSP", domain.ShareUnconditional, 3))},
		blocktest.Tx{ID: "t3", Signer: f.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds("ds3", "Dept1MSP", domain.ShareNone, 1))},
	))
	f.apply(t, f.chain.Block(
		blocktest.Tx{ID: "t4", Signer: op2, Event: blocktest.RequestEvent(domain.EventRequestCreated, a2, rq("r1", "ds1", "Dept2MSP", "Dept1MSP", domain.RequestPending, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))},
		blocktest.Tx{ID: "t5", Signer: op3, Event: blocktest.RequestEvent(domain.EventRequestCreated, a3, rq("r2", "ds2", "Dept3MSP", "Dept2MSP", domain.RequestApproved, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)))},
	))
	ledgerHeight := uint64(5)
	f.height = func() uint64 { return ledgerHeight }
	auditor := audit.Auditor{Mirror: st, Ledger: source.AuditLedger{Reader: peerOf{f}, Decoder: block.Decoder{Chaincode: "ledger"}}}
	api := httpapi.New(st, httpapi.WithLogger(quiet), httpapi.WithLedgerHeight(func() uint64 { return f.height() }), httpapi.WithAuditor(auditor), httpapi.WithScores(scorer),
		httpapi.WithClock(func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }))
	f.srv = httptest.NewServer(api.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) apply(t *testing.T, raw *common.Block) {
	t.Helper()
	f.raw = append(f.raw, raw)
	b, err := block.Decoder{Chaincode: "ledger"}.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.ApplyBlock(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// get calls the API as a department's person; empty msp sends no caller.
func (f *fixture) get(t *testing.T, path, msp, role string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if msp != "" {
		req.Header.Set("X-Caller-Msp", msp)
		req.Header.Set("X-Caller-Role", role)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: content type %q", path, ct)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s: decode: %v", path, err)
		}
	}
	return resp.StatusCode
}

type errBody struct {
	Error struct {
		Code    domain.Code `json:"code"`
		Message string      `json:"message"`
	} `json:"error"`
}

type listBody struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"nextCursor"`
}

func (l listBody) ids(field string) []string {
	out := []string{}
	for _, it := range l.Items {
		out = append(out, it[field].(string))
	}
	return out
}

func TestDatasets(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"ds1", "ds2", "ds3"}},
		{"?owner=Dept1MSP", []string{"ds1", "ds3"}},
		{"?shareType=unconditional", []string{"ds2"}},
		{"?grade=1", []string{"ds3"}},
		{"?owner=Dept1MSP&grade=2", []string{"ds1"}},
		{"?owner=Dept9MSP", []string{}},
	}
	for _, tt := range tests {
		t.Run("list"+tt.query, func(t *testing.T) {
			var body listBody
			if code := f.get(t, "/v1/datasets"+tt.query, "", "", &body); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			if got := body.ids("id"); !slices.Equal(got, tt.want) || body.NextCursor != "" {
				t.Fatalf("items %v next %q, want %v", got, body.NextCursor, tt.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var got []string
		path := "/v1/datasets?limit=2"
		for range 5 {
			var body listBody
			if code := f.get(t, path, "", "", &body); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			got = append(got, body.ids("id")...)
			if body.NextCursor == "" {
				break
			}
			path = "/v1/datasets?limit=2&cursor=" + url.QueryEscape(body.NextCursor)
		}
		if !slices.Equal(got, []string{"ds1", "ds2", "ds3"}) {
			t.Fatalf("paged = %v", got)
		}
	})
	t.Run("one", func(t *testing.T) {
		var d domain.Dataset
		if code := f.get(t, "/v1/datasets/ds2", "", "", &d); code != http.StatusOK || d.Owner != "Dept2MSP" || d.Grade != 3 || d.Version != 1 {
			t.Fatalf("status %d dataset %+v", code, d)
		}
	})
	errs := []struct {
		path string
		code int
		want domain.Code
	}{
		{"/v1/datasets/nope", 404, domain.CodeNotFound},
		{"/v1/datasets/bad%20id", 400, domain.CodeInvalid},
		{"/v1/datasets?grade=5", 400, domain.CodeInvalid},
		{"/v1/datasets?grade=x", 400, domain.CodeInvalid},
		{"/v1/datasets?shareType=sometimes", 400, domain.CodeInvalid},
		{"/v1/datasets?owner=bad%2Fmsp", 400, domain.CodeInvalid},
		{"/v1/datasets?limit=0", 400, domain.CodeInvalid},
		{"/v1/datasets?limit=1001", 400, domain.CodeInvalid},
		{"/v1/datasets?cursor=%21%21", 400, domain.CodeInvalid},
		{"/v1/nothing", 404, domain.CodeNotFound},
	}
	for _, tt := range errs {
		t.Run("error "+tt.path, func(t *testing.T) {
			var body errBody
			if code := f.get(t, tt.path, "", "", &body); code != tt.code || body.Error.Code != tt.want || body.Error.Message == "" {
				t.Fatalf("status %d body %+v, want %d %s", code, body, tt.code, tt.want)
			}
		})
	}
	resp, err := http.Post(f.srv.URL+"/v1/datasets", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST answered %d", resp.StatusCode)
	}
}

func TestRequestsVisibility(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, query, msp, role string
		code                   int
		want                   []string
	}{
		{"requester sees its own", "", "Dept2MSP", "operator", 200, []string{"r1:pending", "r2:expired"}},
		{"owner sees its own", "", "Dept1MSP", "approver", 200, []string{"r1:pending"}},
		{"non-party sees nothing", "?dataset=ds1", "Dept3MSP", "operator", 200, []string{"r2:expired"}[:0]},
		{"auditor sees all", "", "BureauMSP", "auditor", 200, []string{"r1:pending", "r2:expired"}},
		{"status expired", "?status=expired", "BureauMSP", "auditor", 200, []string{"r2:expired"}},
		{"filter by owner", "?owner=Dept1MSP", "BureauMSP", "auditor", 200, []string{"r1:pending"}},
		{"bad status", "?status=maybe", "BureauMSP", "auditor", 400, nil},
		{"no caller", "", "", "", 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body listBody
			code := f.get(t, "/v1/requests"+tt.query, tt.msp, tt.role, &body)
			if code != tt.code {
				t.Fatalf("status %d, want %d", code, tt.code)
			}
			if tt.want == nil {
				return
			}
			got := []string{}
			for _, it := range body.Items {
				got = append(got, it["id"].(string)+":"+it["status"].(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("items %v, want %v", got, tt.want)
			}
		})
	}
	one := []struct {
		name, path, msp, role string
		code                  int
	}{
		{"party", "/v1/requests/r1", "Dept1MSP", "approver", 200},
		{"auditor", "/v1/requests/r1", "BureauMSP", "auditor", 200},
		{"other department", "/v1/requests/r1", "Dept3MSP", "operator", 403},
		{"unknown", "/v1/requests/r9", "Dept1MSP", "operator", 404},
		{"no caller", "/v1/requests/r1", "", "", 401},
	}
	for _, tt := range one {
		t.Run("get "+tt.name, func(t *testing.T) {
			var body map[string]any
			if code := f.get(t, tt.path, tt.msp, tt.role, &body); code != tt.code {
				t.Fatalf("status %d, want %d (%v)", code, tt.code, body)
			}
		})
	}
}

func TestTrace(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, query, role string
		code              int
		want              []string
	}{
		{"dataset", "?dataset=ds1", "auditor", 200, []string{"t1", "t4"}},
		{"department as party", "?department=Dept2MSP", "auditor", 200, []string{"t2", "t4", "t5"}},
		{"actor", "?actor=" + url.QueryEscape(f.op1.Subject), "auditor", 200, []string{"t1", "t3"}},
		{"request", "?request=r2", "auditor", 200, []string{"t5"}},
		{"not an auditor", "?dataset=ds1", "operator", 403, nil},
		{"no key", "", "auditor", 400, nil},
		{"two keys", "?dataset=ds1&request=r1", "auditor", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body listBody
			code := f.get(t, "/v1/audit/trace"+tt.query, "BureauMSP", tt.role, &body)
			if code != tt.code {
				t.Fatalf("status %d, want %d", code, tt.code)
			}
			if tt.want == nil {
				return
			}
			if got := body.ids("txId"); !slices.Equal(got, tt.want) {
				t.Fatalf("trace %v, want %v", got, tt.want)
			}
			for _, it := range body.Items {
				for _, k := range []string{"txId", "blockNumber", "timestamp", "mspId", "actor", "type", "kind", "id"} {
					if _, ok := it[k]; !ok {
						t.Fatalf("trace item lacks %s: %v", k, it)
					}
				}
			}
		})
	}
}

func TestStatusAndWait(t *testing.T) {
	f := newFixture(t)
	var st map[string]any
	if code := f.get(t, "/internal/status", "", "", &st); code != 200 {
		t.Fatalf("status %d", code)
	}
	if st["channel"] != "datashare" || st["height"].(float64) != 3 || st["lagBlocks"].(float64) != 2 ||
		len(st["genesisHash"].(string)) != 64 || st["lastBlockTime"] == nil {
		t.Fatalf("status = %v", st)
	}
	var health map[string]string
	if code := f.get(t, "/healthz", "", "", &health); code != 200 || health["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, health)
	}

	if code := f.get(t, "/internal/wait?block=2", "", "", nil); code != 200 {
		t.Fatalf("wait for an applied block: %d", code)
	}
	var eb errBody
	start := time.Now()
	if code := f.get(t, "/internal/wait?block=3&timeout=50ms", "", "", &eb); code != http.StatusGatewayTimeout || eb.Error.Code != domain.CodeUnavailable {
		t.Fatalf("wait timeout: %d %+v", code, eb)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("wait did not honour its timeout")
	}
	for _, q := range []string{"", "?block=x", "?block=1&timeout=forever", "?block=1&timeout=2h"} {
		if code := f.get(t, "/internal/wait"+q, "", "", nil); code != 400 {
			t.Fatalf("wait%s: %d, want 400", q, code)
		}
	}

	// A waiter is woken by the block it waits for.
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(f.srv.URL + "/internal/wait?block=3&timeout=10s")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	time.Sleep(20 * time.Millisecond)
	f.apply(t, f.chain.Block(blocktest.Tx{Signer: f.op1, NoEvent: true}))
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("woken wait: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait not woken by the block")
	}
}

func TestDigest(t *testing.T) {
	f := newFixture(t)
	var d struct {
		Height uint64 `json:"height"`
		Digest string `json:"digest"`
	}
	if code := f.get(t, "/internal/digest", "", "", &d); code != 200 {
		t.Fatalf("digest: %d", code)
	}
	if d.Height != 3 || len(d.Digest) != 64 {
		t.Fatalf("digest = %+v, want height 3 and a SHA-256", d)
	}
	before := d.Digest
	f.apply(t, f.chain.Block(blocktest.Tx{Signer: f.op1, NoEvent: true}))
	if code := f.get(t, "/internal/digest", "", "", &d); code != 200 {
		t.Fatalf("digest: %d", code)
	}
	if d.Height != 4 || d.Digest == before {
		t.Fatalf("after one more block: %+v (before %s)", d, before)
	}
}

// A read answers the entity as the transaction wrote it: a member this
// build's types do not know (added by a later contract within event v1)
// reaches the reader, by GET and in lists, and a request's status as of now
// is the one member the index changes.
func TestReadsAnswerTheLedgersBytes(t *testing.T) {
	f := newFixture(t)
	op2 := blocktest.NewIdentity("Dept2MSP", "op2")
	ds4 := domain.Dataset{ID: "ds4", Owner: "Dept2MSP", Title: "Tds4", Fields: []string{"a"}, UpdateFrequency: "daily",
		ShareType: domain.ShareConditional, OpenType: domain.OpenClosed, Grade: 2, Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
	w := blocktest.EntityWrite(domain.KindDataset, ds4.ID, ds4)
	later := append(bytes.TrimSuffix(w.Value, []byte("}")), []byte(`,"steward":"Ms Li"}`)...)
	e := blocktest.DatasetEvent(domain.EventDatasetRegistered, op2.Actor(domain.RoleOperator), ds4)
	payload, _ := json.Marshal(e)
	payload = bytes.Replace(payload, w.Value, later, 1)
	w.Value = later
	f.apply(t, f.chain.Block(blocktest.Tx{ID: "t6", Signer: op2, RawEvent: payload, EventName: string(e.Type), Writes: []blocktest.Write{w}}))

	raw := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
		req.Header.Set("X-Caller-Msp", "BureauMSP")
		req.Header.Set("X-Caller-Role", "auditor")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	if got := bytes.TrimSpace(raw("/v1/datasets/ds4")); !bytes.Equal(got, later) {
		t.Fatalf("GET ds4 = %s, want the bytes written %s", got, later)
	}
	if got := raw("/v1/datasets?owner=Dept2MSP"); !bytes.Contains(got, later) {
		t.Fatalf("list = %s, want it to hold %s", got, later)
	}
	// r2 is stored approved, past validUntil: it reads expired, every other
	// member in the order the contract wrote them.
	stored, err := f.store.GetEntity(context.Background(), domain.KindRequest, "r2")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Replace(stored, []byte(`"status":"approved"`), []byte(`"status":"expired"`), 1)
	if bytes.Equal(want, stored) {
		t.Fatalf("stored r2 %s has no approved status", stored)
	}
	if got := bytes.TrimSpace(raw("/v1/requests/r2")); !bytes.Equal(got, want) {
		t.Fatalf("GET r2 = %s, want %s", got, want)
	}
	if got := raw("/v1/requests?status=expired"); !bytes.Contains(got, want) {
		t.Fatalf("list = %s, want it to hold %s", got, want)
	}
}
