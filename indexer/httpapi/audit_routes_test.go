package httpapi_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/audit"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/store"
)

// peerOf serves the fixture's blocks as the peer would.
type peerOf struct{ f *fixture }

func (p peerOf) Block(_ context.Context, n uint64) (*common.Block, error) {
	if n >= uint64(len(p.f.raw)) {
		return nil, errors.New("no such block")
	}
	return p.f.raw[n], nil
}

func (p peerOf) Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error) {
	ch := make(chan *common.Block)
	raw := p.f.raw
	go func() {
		defer close(ch)
		for i := start; i < uint64(len(raw)); i++ {
			select {
			case ch <- raw[i]:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return ch, nil
}

func TestLineageRoute(t *testing.T) {
	f := newFixture(t)
	a1 := f.op1.Actor(domain.RoleOperator)
	ds := func(id string, parents ...string) domain.Dataset {
		return domain.Dataset{ID: id, Owner: "Dept1MSP", Title: "T" + id, Fields: []string{"a"}, UpdateFrequency: "daily",
			ShareType: domain.ShareConditional, OpenType: domain.OpenClosed, Grade: 2, Version: 1, Status: domain.DatasetActive, DerivedFrom: append([]string{}, parents...)}
	}
	// ds4 <- ds1; ds5 <- ds4, ds2; ds6 <- ds5; then ds1 v2 <- ds6: a cycle
	// the chaincode would refuse, which the walk must survive anyway.
	cyc := ds("ds1", "ds6")
	cyc.Version = 2
	f.apply(t, f.chain.Block(
		blocktest.Tx{Signer: f.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds("ds4", "ds1"))},
		blocktest.Tx{Signer: f.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds("ds5", "ds4", "ds2"))},
		blocktest.Tx{Signer: f.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds("ds6", "ds5"))},
	))
	type node struct {
		ID    string   `json:"id"`
		Depth int      `json:"depth"`
		Via   []string `json:"via"`
	}
	type body struct {
		Dataset    domain.Dataset `json:"dataset"`
		Upstream   []node         `json:"upstream"`
		Downstream []node         `json:"downstream"`
	}
	str := func(ns []node) string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprintf("%s@%d<%s", n.ID, n.Depth, strings.Join(n.Via, "+")))
		}
		return strings.Join(out, " ")
	}
	var b body
	if code := f.get(t, "/v1/audit/lineage/ds5", "BureauMSP", "auditor", &b); code != 200 || b.Dataset.ID != "ds5" {
		t.Fatalf("status %d %+v", code, b)
	}
	if got := str(b.Upstream); got != "ds2@1<ds5 ds4@1<ds5 ds1@2<ds4" {
		t.Fatalf("upstream %s", got)
	}
	if got := str(b.Downstream); got != "ds6@1<ds5" {
		t.Fatalf("downstream %s", got)
	}
	f.apply(t, f.chain.Block(blocktest.Tx{Signer: f.op1, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, a1, cyc)}))
	b = body{}
	if code := f.get(t, "/v1/audit/lineage/ds5", "BureauMSP", "auditor", &b); code != 200 {
		t.Fatalf("status %d", code)
	}
	if up, down := str(b.Upstream), str(b.Downstream); up != "ds2@1<ds5 ds4@1<ds5 ds1@2<ds4 ds6@3<ds1" || down != "ds6@1<ds5 ds1@2<ds6 ds4@3<ds1" {
		t.Fatalf("with a cycle: up %s, down %s", up, down)
	}
	for _, tt := range []struct {
		path, role string
		code       int
	}{
		{"/v1/audit/lineage/ds5", "operator", 403},
		{"/v1/audit/lineage/nope", "auditor", 404},
		{"/v1/audit/lineage/a%20b", "auditor", 400},
	} {
		if code := f.get(t, tt.path, "BureauMSP", tt.role, nil); code != tt.code {
			t.Fatalf("%s as %s: %d, want %d", tt.path, tt.role, code, tt.code)
		}
	}
}

func TestVerifyAndChainRoutes(t *testing.T) {
	f := newFixture(t)
	var v audit.Verification
	if code := f.get(t, "/v1/audit/verify/t4", "BureauMSP", "auditor", &v); code != 200 || !v.Verified || v.BlockNumber != 2 || len(v.Checks) == 0 {
		t.Fatalf("verify t4: %d %+v", code, v)
	}
	for _, c := range v.Checks {
		if c.Name == "" || c.Detail == "" || !c.OK {
			t.Fatalf("check %+v", c)
		}
	}
	var rep audit.ChainReport
	if code := f.get(t, "/v1/audit/chain", "BureauMSP", "auditor", &rep); code != 200 || !rep.Verified || rep.From != 0 || rep.To != 2 || rep.Blocks != 3 {
		t.Fatalf("chain: %d %+v", code, rep)
	}
	if code := f.get(t, "/v1/audit/chain?from=1&to=1", "BureauMSP", "auditor", &rep); code != 200 || !rep.Verified || rep.Blocks != 1 {
		t.Fatalf("chain 1-1: %d %+v", code, rep)
	}
	for _, tt := range []struct {
		path, role string
		code       int
	}{
		{"/v1/audit/verify/t4", "evaluator", 403},
		{"/v1/audit/verify/t99", "auditor", 404},
		{"/v1/audit/chain", "operator", 403},
		{"/v1/audit/chain?from=2&to=1", "auditor", 400},
		{"/v1/audit/chain?to=3", "auditor", 400},
		{"/v1/audit/chain?from=x", "auditor", 400},
	} {
		var eb errBody
		if code := f.get(t, tt.path, "BureauMSP", tt.role, &eb); code != tt.code {
			t.Fatalf("%s as %s: %d %+v, want %d", tt.path, tt.role, code, eb, tt.code)
		}
	}
}

func TestExport(t *testing.T) {
	f := newFixture(t)
	fetch := func(t *testing.T, query string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v1/audit/export"+query, nil)
		req.Header.Set("X-Caller-Msp", "BureauMSP")
		req.Header.Set("X-Caller-Role", "auditor")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	resp, body := fetch(t, "?department=Dept2MSP&format=csv")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment; filename=") {
		t.Fatalf("csv: %d %v", resp.StatusCode, resp.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "txId" || rows[1][0] != "t2" || rows[2][0] != "t4" || rows[3][0] != "t5" || rows[3][7] != "request.created" {
		t.Fatalf("csv rows %v, %v", rows, err)
	}
	var ev domain.Event
	if err := json.Unmarshal([]byte(rows[3][len(rows[3])-1]), &ev); err != nil || ev.ID != "r2" {
		t.Fatalf("event column: %v %+v", err, ev)
	}

	resp, body = fetch(t, "?actor="+url.QueryEscape(f.op1.Subject))
	var doc struct{ Items []store.EventRecord }
	if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %v %s", resp.StatusCode, err, body)
	}
	var ids []string
	for _, it := range doc.Items {
		ids = append(ids, it.TxID)
	}
	if !slices.Equal(ids, []string{"t1", "t3"}) {
		t.Fatalf("json items %v", ids)
	}
	resp, body = fetch(t, "?dataset=nothing")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"items":[]}` {
		t.Fatalf("empty: %d %q", resp.StatusCode, body)
	}
	resp, body = fetch(t, "?dataset=nothing&format=csv")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != strings.Join([]string{"txId", "blockNumber", "txIndex", "timestamp", "mspId", "actor", "role", "type", "kind", "id",
		"status", "datasetId", "requestId", "owner", "requester", "payloadSha256", "event"}, ",") {
		t.Fatalf("empty csv: %d %q", resp.StatusCode, body)
	}
	for _, q := range []string{"?dataset=ds1&format=xml", "", "?dataset=ds1&request=r1"} {
		if resp, _ := fetch(t, q); resp.StatusCode != 400 {
			t.Fatalf("%s: %d", q, resp.StatusCode)
		}
	}
	if code := f.get(t, "/v1/audit/export?dataset=ds1", "BureauMSP", "operator", nil); code != 403 {
		t.Fatalf("operator export: %d", code)
	}
}

func TestAnomaliesRoute(t *testing.T) {
	f := newFixture(t)
	a1 := f.op1.Actor(domain.RoleOperator)
	ds := domain.Dataset{ID: "ds1", Owner: "Dept1MSP", Title: "Tds1", Fields: []string{"a"}, UpdateFrequency: "daily",
		ShareType: domain.ShareConditional, OpenType: domain.OpenClosed, Grade: 2, Version: 2, Status: domain.DatasetActive, DerivedFrom: []string{}}
	forged := ds
	forged.Title = "forged"
	f.apply(t, f.chain.Block(
		blocktest.Tx{ID: "t-forged", Signer: f.op1, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, a1, forged),
			Writes: []blocktest.Write{blocktest.EntityWrite(domain.KindDataset, "ds1", ds)}},
		// ds1's value under ds3's key, and no event: never applied.
		blocktest.Tx{ID: "t-silent", Signer: f.op1, NoEvent: true, Writes: []blocktest.Write{{Key: blocktest.EntityWrite(domain.KindDataset, "ds3", ds).Key,
			Value: blocktest.EntityWrite(domain.KindDataset, "ds1", ds).Value}}},
	))
	var l struct {
		Items      []store.Anomaly `json:"items"`
		NextCursor string          `json:"nextCursor"`
	}
	if code := f.get(t, "/v1/audit/anomalies?limit=1", "BureauMSP", "auditor", &l); code != 200 || len(l.Items) != 1 || l.NextCursor == "" ||
		l.Items[0].TxID != "t-forged" || l.Items[0].Check != "event.content" || l.Items[0].EventName != "dataset.updated" {
		t.Fatalf("first page: %d %+v", code, l)
	}
	next := l.NextCursor
	l.Items, l.NextCursor = nil, ""
	if code := f.get(t, "/v1/audit/anomalies?limit=1&cursor="+next, "BureauMSP", "auditor", &l); code != 200 || len(l.Items) != 1 || l.NextCursor != "" ||
		l.Items[0].TxID != "t-silent" || l.Items[0].Check != "write.unparsable" {
		t.Fatalf("second page: %d %+v", code, l)
	}
	// The anomaly's JSON names: what an auditor scripts against.
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	f.get(t, "/v1/audit/anomalies", "BureauMSP", "auditor", &raw)
	for _, k := range []string{"txId", "blockNumber", "txIndex", "timestamp", "mspId", "actor", "check", "detail", "failures", "eventName", "payloadSha256", "event", "payload", "writes"} {
		if _, ok := raw.Items[0][k]; !ok {
			t.Errorf("anomaly lacks %q: %v", k, raw.Items[0])
		}
	}
	var v audit.Verification
	if code := f.get(t, "/v1/audit/verify/t-forged", "BureauMSP", "auditor", &v); code != 200 || v.Verified || v.Anomaly == nil || v.Anomaly.Check != "event.content" {
		t.Fatalf("verify of a forged tx: %d %+v", code, v)
	}
	for _, tt := range []struct {
		path, role string
		code       int
	}{
		{"/v1/audit/anomalies", "operator", 403},
		{"/v1/audit/anomalies", "evaluator", 403},
		{"/v1/audit/anomalies?limit=0", "auditor", 400},
		{"/v1/audit/anomalies?cursor=!!", "auditor", 400},
	} {
		if code := f.get(t, tt.path, "BureauMSP", tt.role, nil); code != tt.code {
			t.Fatalf("%s as %s: %d, want %d", tt.path, tt.role, code, tt.code)
		}
	}
	if code := f.get(t, "/v1/audit/anomalies", "", "", nil); code != 401 {
		t.Fatalf("no caller: %d", code)
	}
}
