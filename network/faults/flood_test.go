//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// badCall is one call of the flood that the API must refuse.
type badCall struct {
	name   string
	who    caller
	method string
	path   string
	body   any
	status int
	code   domain.Code
	// registers names the dataset the call would have registered, had it
	// been accepted: it must not exist afterwards.
	registers string
}

// race is one set of identical or contradictory transitions of one
// record, sent all at once.
type race struct {
	name  string
	kind  domain.Kind
	id    string
	calls []raceCall
}

type raceCall struct {
	who    caller
	path   string
	body   map[string]any
	result string         // the record's status if this call wins
	leaves map[string]any // fields the record holds if this call wins
}

// TestFloodAndConflicts sends, all at once, a flood of calls the API must
// refuse (malformed and unknown-field JSON, an invalid field, wrong roles,
// wrong departments, unknown IDs, a body over the limit, no token, a
// token another department's gateway does not know) mixed with three
// races: 10 approvals of one pending request, 5 approvals against 5
// rejections of another, and 10 receipts of one delivery (half with the
// delivered hash, half with another). Each refused call gets exactly its
// status (400/401/403/404/413), no call gets a 500, and in each race
// exactly one call wins (200) while every other gets 409.
//
// 409, not 503, is required of the losers: a loser either was endorsed
// after the winner committed (the chaincode refuses the transition) or
// before (its read of the record is stale, and the peers invalidate it at
// commit with MVCC_READ_CONFLICT, which the gateway maps to 409). A 503
// would need the ledger to be unreachable, or two endorsing peers to
// accept the same proposal with different results, which the single
// transition of these records cannot produce.
//
// Afterwards, on the ledger: each raced record's history holds exactly
// one transition, the winner's; nothing the refused calls would have
// registered exists on any peer; Dept1's catalog on the ledger is what it
// was. In the mirrors: every department's mirror has the same digest at
// the same height, and every party's index shows each raced record as the
// ledger has it.
func TestFloodAndConflicts(t *testing.T) {
	faultTest(t)
	v := newLedgerView(t)
	op1, ap1 := shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept1MSP", "approver")
	op2, ap2 := shared.as(t, "Dept2MSP", "operator"), shared.as(t, "Dept2MSP", "approver")
	auditor := shared.as(t, "BureauMSP", "auditor")

	// The records to race for: two pending requests and a delivered delivery.
	cond, open := uniqueID("flood-cond"), uniqueID("flood-open")
	op1.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(cond, "conditional"))
	op1.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(open, "unconditional"))
	eventually(t, 20*time.Second, func() error {
		if _, derr := v.get(t, "Dept2MSP", "Dataset", open); derr != nil {
			return derr
		}
		return nil
	})
	rqA := op2.write(t, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(cond)).entity()
	rqB := op2.write(t, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(cond)).entity()
	rqOpen := op2.write(t, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(open)).entity()
	v.settle(t, 20*time.Second)
	dl := op1.write(t, http.StatusCreated, http.MethodPost, "/v1/requests/"+rqOpen.ID+"/deliveries",
		map[string]any{"sha256": sha("flood rows"), "records": 5, "bytes": 500, "channel": "sftp"}).entity()
	v.settle(t, 20*time.Second)
	for _, r := range []record{rqA, rqB} {
		if r.Status != "pending" {
			t.Fatalf("request %s is %s, want pending", r.ID, r.Status)
		}
	}

	races := []race{
		{name: "10 approvals of one pending request", kind: domain.KindRequest, id: rqA.ID},
		{name: "5 approvals against 5 rejections", kind: domain.KindRequest, id: rqB.ID},
		{name: "10 receipts of one delivery", kind: domain.KindDelivery, id: dl.ID},
	}
	for i := range 10 {
		reason := fmt.Sprintf("approval %d", i)
		races[0].calls = append(races[0].calls, raceCall{ap1, "/v1/requests/" + rqA.ID + "/approve",
			map[string]any{"reason": reason}, "approved", map[string]any{"reason": reason}})
		action, result := "approve", "approved"
		if i%2 == 1 {
			action, result = "reject", "rejected"
		}
		reason = fmt.Sprintf("%s %d", action, i)
		races[1].calls = append(races[1].calls, raceCall{ap1, "/v1/requests/" + rqB.ID + "/" + action,
			map[string]any{"reason": reason}, result, map[string]any{"reason": reason}})
		hash, result := sha("flood rows"), "received"
		if i%2 == 1 {
			hash, result = sha(fmt.Sprintf("other rows %d", i)), "disputed"
		}
		races[2].calls = append(races[2].calls, raceCall{op2, "/v1/deliveries/" + dl.ID + "/receipt",
			map[string]any{"sha256": hash}, result, map[string]any{"receiptSha256": hash}})
	}

	badID := func(what string) string { return uniqueID("flood-bad-" + what) }
	big := newDataset(badID("large"), "conditional")
	big["description"] = strings.Repeat("x", 1<<20+1)
	bigID := big["id"].(string)
	unknownField := newDataset(badID("field"), "conditional")
	unknownField["owner"] = "Dept2MSP"
	badGrade := newDataset(badID("grade"), "conditional")
	badGrade["grade"] = 9
	wrongRole, foreign, anonymous := badID("role"), badID("foreign"), badID("anon")
	bad := []badCall{
		{"malformed JSON", op1, http.MethodPost, "/v1/datasets", `{"id": "flood-malformed", "title": `, http.StatusBadRequest, domain.CodeInvalid, ""},
		{"unknown field", op1, http.MethodPost, "/v1/datasets", unknownField, http.StatusBadRequest, domain.CodeInvalid, unknownField["id"].(string)},
		{"grade out of range", op1, http.MethodPost, "/v1/datasets", badGrade, http.StatusBadRequest, domain.CodeInvalid, badGrade["id"].(string)},
		{"approver registers a dataset", ap1, http.MethodPost, "/v1/datasets", newDataset(wrongRole, "conditional"), http.StatusForbidden, domain.CodeForbidden, wrongRole},
		{"operator approves", op1, http.MethodPost, "/v1/requests/" + rqA.ID + "/approve", map[string]any{"reason": "not mine to decide"}, http.StatusForbidden, domain.CodeForbidden, ""},
		{"requester's approver approves", ap2, http.MethodPost, "/v1/requests/" + rqA.ID + "/approve", map[string]any{"reason": "self-service"}, http.StatusForbidden, domain.CodeForbidden, ""},
		{"owner records the receipt", op1, http.MethodPost, "/v1/deliveries/" + dl.ID + "/receipt", map[string]any{"sha256": sha("flood rows")}, http.StatusForbidden, domain.CodeForbidden, ""},
		{"approve an unknown request", ap1, http.MethodPost, "/v1/requests/rq-000000000000000000000000/approve", map[string]any{"reason": "x"}, http.StatusNotFound, domain.CodeNotFound, ""},
		{"receipt of an unknown delivery", op2, http.MethodPost, "/v1/deliveries/dl-000000000000000000000000/receipt", map[string]any{"sha256": sha("x")}, http.StatusNotFound, domain.CodeNotFound, ""},
		{"body over 1 MiB", op1, http.MethodPost, "/v1/datasets", big, http.StatusRequestEntityTooLarge, domain.CodeTooLarge, bigID},
		{"no token", caller{msp: "Dept1MSP", gateway: op1.gateway}, http.MethodPost, "/v1/datasets", newDataset(anonymous, "conditional"), http.StatusUnauthorized, domain.CodeUnauthorized, anonymous},
		{"token of another department's gateway", caller{msp: "Dept1MSP", token: op1.token, gateway: op2.gateway}, http.MethodPost, "/v1/datasets", newDataset(foreign, "conditional"), http.StatusUnauthorized, domain.CodeUnauthorized, foreign},
	}

	catalog := "/v1/datasets?source=ledger&limit=1000&owner=Dept1MSP"
	before := auditor.must(t, http.StatusOK, http.MethodGet, catalog, nil).body

	// Everything at once: each bad call several times, every race call once.
	type sent struct {
		label  string
		want   int
		answer answer
		err    error
		race   int // index in races, -1 for a bad call
		call   int
	}
	var (
		mu    sync.Mutex
		sents []sent
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := make(chan struct{})
	send := func(s sent, p caller, method, path string, body any) {
		defer wg.Done()
		<-start
		s.answer, s.err = p.call(ctx, method, path, body)
		mu.Lock()
		sents = append(sents, s)
		mu.Unlock()
	}
	const repeats = 8
	for r := range repeats {
		for _, b := range bad {
			wg.Add(1)
			go send(sent{label: fmt.Sprintf("%s #%d", b.name, r), want: b.status, race: -1}, b.who, b.method, b.path, b.body)
		}
	}
	for i, rc := range races {
		for j, c := range rc.calls {
			wg.Add(1)
			go send(sent{label: fmt.Sprintf("%s #%d", rc.name, j), race: i, call: j}, c.who, http.MethodPost, c.path, c.body)
		}
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	counts := map[int]int{}
	mvcc := 0 // losers invalidated at commit rather than refused by the chaincode
	winners := make([][]int, len(races))
	for _, s := range sents {
		if s.err != nil {
			t.Errorf("%s: %v", s.label, s.err)
			continue
		}
		counts[s.answer.status]++
		if s.answer.status >= 500 && s.answer.status != http.StatusServiceUnavailable || s.answer.code() == string(domain.CodeInternal) {
			t.Errorf("%s: %d %s: an internal error", s.label, s.answer.status, s.answer.body)
		}
		if s.race < 0 {
			if s.answer.status != s.want {
				t.Errorf("%s: %d %.300s, want %d", s.label, s.answer.status, s.answer.body, s.want)
			}
			continue
		}
		switch s.answer.status {
		case http.StatusOK:
			winners[s.race] = append(winners[s.race], s.call)
		case http.StatusConflict:
			if strings.Contains(s.answer.message(), "concurrent transaction") {
				mvcc++
			}
		default:
			t.Errorf("%s: %d %.300s, want 200 for one call of the race and 409 for the others", s.label, s.answer.status, s.answer.body)
		}
	}
	t.Logf("%d calls at once answered in %s: %v (status: count); %d of the race losers were invalidated at commit (MVCC), the others refused by the chaincode",
		len(sents), took.Round(time.Millisecond), counts, mvcc)
	for _, b := range bad {
		for _, s := range sents {
			if strings.HasPrefix(s.label, b.name+" #") && s.err == nil && s.answer.status == b.status && s.answer.code() != string(b.code) {
				t.Errorf("%s: code %q, want %q", s.label, s.answer.code(), b.code)
			}
		}
	}

	h, digest := v.converged(t)
	for i, rc := range races {
		if len(winners[i]) != 1 {
			t.Errorf("%s: %d calls won (%v), want exactly 1", rc.name, len(winners[i]), winners[i])
			continue
		}
		win := rc.calls[winners[i][0]]
		initial := "pending"
		if rc.kind == domain.KindDelivery {
			initial = "delivered"
		}
		hist := v.history(t, "BureauMSP", rc.kind, rc.id)
		if got, want := statuses(hist), []string{initial, win.result}; !slices.Equal(got, want) {
			t.Errorf("%s: history of %s %s on the ledger: %v, want exactly one transition %v", rc.name, rc.kind, rc.id, got, want)
		}
		// The winner's reason or hash is the one on the ledger.
		var last map[string]any
		if err := json.Unmarshal(hist[len(hist)-1].Value, &last); err != nil {
			t.Fatal(err)
		}
		for field, want := range win.leaves {
			if last[field] != want {
				t.Errorf("%s: the ledger holds %s %v, the winning call sent %v", rc.name, field, last[field], want)
			}
		}
		ledger := v.mustGet(t, "BureauMSP", map[domain.Kind]string{domain.KindRequest: "Request", domain.KindDelivery: "Delivery"}[rc.kind], rc.id)
		path := map[domain.Kind]string{domain.KindRequest: "/v1/requests/", domain.KindDelivery: "/v1/deliveries/"}[rc.kind] + rc.id
		for _, p := range []caller{op1, op2, auditor} {
			if idx := p.must(t, http.StatusOK, http.MethodGet, path, nil).body; !sameJSON(idx, ledger) {
				t.Errorf("%s: the index of %s shows\n%s\nthe ledger\n%s", rc.name, p.msp, idx, ledger)
			}
		}
	}
	for _, b := range bad {
		if b.registers != "" {
			v.absent(t, "Dataset", b.registers, "Dept1MSP", "Dept2MSP", "Dept3MSP", "BureauMSP")
		}
	}
	if after := auditor.must(t, http.StatusOK, http.MethodGet, catalog, nil).body; !sameJSON(before, after) {
		t.Errorf("Dept1's catalog on the ledger changed across the flood")
	}
	t.Logf("after the flood: every peer at %d blocks, every mirror at digest %s…; each race has one winner and one transition", h, digest[:16])
}
