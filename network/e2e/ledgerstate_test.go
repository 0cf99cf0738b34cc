//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
)

// ledgerView reads the chain height and the world state straight from every
// department's peer through the Fabric Gateway, bypassing the REST gateways
// and the indexers: "a rejected call changed nothing" is judged against the
// ledger itself, not against the code under test.
type ledgerView struct {
	t    *testing.T
	nets map[string]*client.Network // by MSP ID
}

func newLedgerView(t *testing.T) *ledgerView {
	t.Helper()
	v := &ledgerView{t: t, nets: map[string]*client.Network{}}
	for _, d := range shared.eps.Departments {
		v.nets[d.MSPID] = fabricAs(t, d.MSPID, shared.user(t, d.MSPID, "operator"))
	}
	return v
}

// in returns the same view failing t, for use inside a subtest.
func (v *ledgerView) in(t *testing.T) *ledgerView {
	q := *v
	q.t = t
	return &q
}

// in returns the same person failing t, for use inside a subtest.
func (p *person) in(t *testing.T) *person {
	q := *p
	q.t = t
	return &q
}

// user is the enrolment name of the first person of role in msp.
func (c *consortium) user(t *testing.T, msp, role string) string {
	t.Helper()
	for _, cr := range c.creds {
		if cr.MSPID == msp && cr.Role == role {
			return cr.User
		}
	}
	t.Fatalf("no %s in %s", role, msp)
	return ""
}

// height is the number of blocks msp's peer has committed, from qscc.
func (v *ledgerView) height(msp string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := v.nets[msp].GetContract("qscc").EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(shared.eps.Channel))
	if err != nil {
		return 0, fmt.Errorf("GetChainInfo on %s: %w", msp, err)
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		return 0, fmt.Errorf("decode chain info of %s: %w", msp, err)
	}
	return info.GetHeight(), nil
}

// settle waits until every peer has committed the same number of blocks and
// returns it, so that what follows reads one consistent state everywhere.
func (v *ledgerView) settle() uint64 {
	v.t.Helper()
	var h uint64
	eventually(v.t, 20*time.Second, func() error {
		seen := map[string]uint64{}
		for msp := range v.nets {
			n, err := v.height(msp)
			if err != nil {
				return err
			}
			seen[msp] = n
		}
		heights := slices.Collect(maps.Values(seen))
		if slices.Min(heights) != slices.Max(heights) {
			return fmt.Errorf("peers at different heights: %v", seen)
		}
		h = heights[0]
		return nil
	})
	return h
}

// indexed settles the peers and then waits until every department's index,
// as its gateway's /readyz reports it, has applied every block: after it,
// any gateway's reads see every write made so far.
func (v *ledgerView) indexed() {
	v.t.Helper()
	h := v.settle()
	for _, d := range shared.eps.Departments {
		anon := &person{t: v.t, mspID: d.MSPID, gateway: d.Gateway}
		eventually(v.t, 20*time.Second, func() error {
			var ready struct {
				Index struct {
					Height uint64 `json:"height"`
				} `json:"index"`
			}
			r := anon.do(http.MethodGet, "/readyz", nil)
			if err := json.Unmarshal(r.body, &ready); err != nil {
				return fmt.Errorf("%s /readyz: %d %s", d.MSPID, r.status, r.body)
			}
			if ready.Index.Height < h {
				return fmt.Errorf("%s has indexed %d of %d blocks", d.MSPID, ready.Index.Height, h)
			}
			return nil
		})
	}
}

// entityKey names one ledger record: kind is the suffix of its Get
// transaction (Dataset, Request, Delivery, Correction, Usage, Contribution,
// Department).
type entityKey struct{ kind, id string }

func dsKey(id string) entityKey { return entityKey{"Dataset", id} }
func rqKey(id string) entityKey { return entityKey{"Request", id} }
func dlKey(id string) entityKey { return entityKey{"Delivery", id} }
func crKey(id string) entityKey { return entityKey{"Correction", id} }

// entity is the ledger's JSON of k as BureauMSP's peer has it, or
// "[not_found] ..." when the ledger does not know it.
func (v *ledgerView) entity(k entityKey) string {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := v.nets["BureauMSP"].GetContract(shared.eps.Chaincode).EvaluateWithContext(ctx, "Get"+k.kind, client.WithArguments(k.id))
	if err == nil {
		return string(out)
	}
	if d := chaincodeError(err); d != nil && d.Code == domain.CodeNotFound {
		return d.Error()
	}
	v.t.Fatalf("Get%s(%s) on the ledger: %v", k.kind, k.id, err)
	return ""
}

// chaincodeError finds the chaincode's "[code] message" in a fabric-gateway
// error: the status message or one of the peers' error details.
func chaincodeError(err error) *domain.Error {
	texts := []string{err.Error()}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		for _, d := range se.GRPCStatus().Details() {
			if ed, ok := d.(*gateway.ErrorDetail); ok {
				texts = append(texts, ed.GetMessage())
			}
		}
	}
	for _, t := range texts {
		if d := domain.ParseError(t); d != nil {
			return d
		}
	}
	return nil
}

// ledgerState is what a rejected call must leave as it was: the chain
// height and the records it could have touched.
type ledgerState struct {
	height  uint64
	records map[entityKey]string
	lists   map[string]string // REST ?source=ledger answers by path
}

// snapshot settles the peers and reads the height, the records keys and
// the REST ledger reads paths (GET ...?source=ledger as BureauMSP's auditor).
func (v *ledgerView) snapshot(keys []entityKey, paths []string) ledgerState {
	v.t.Helper()
	s := ledgerState{height: v.settle(), records: map[entityKey]string{}, lists: map[string]string{}}
	for _, k := range keys {
		s.records[k] = v.entity(k)
	}
	reader := shared.as(v.t, "BureauMSP", "auditor")
	for _, p := range paths {
		r := reader.do(http.MethodGet, p, nil)
		s.lists[p] = fmt.Sprintf("%d %s", r.status, r.body)
	}
	return s
}

// unchanged fails the test unless the ledger still holds before: no block
// was added on any peer (so no transaction, valid or invalid, was ordered)
// and every record and ledger read is byte for byte the same.
func (v *ledgerView) unchanged(before ledgerState) {
	v.t.Helper()
	after := v.snapshot(slices.Collect(maps.Keys(before.records)), slices.Collect(maps.Keys(before.lists)))
	if after.height != before.height {
		v.t.Errorf("the ledger grew from %d to %d blocks after a rejected call", before.height, after.height)
	}
	for k, was := range before.records {
		if now := after.records[k]; now != was {
			v.t.Errorf("%s %s changed after a rejected call:\n%s", k.kind, k.id, firstDifference(was, now))
		}
	}
	for p, was := range before.lists {
		if now := after.lists[p]; now != was {
			v.t.Errorf("GET %s changed after a rejected call:\n%s", p, firstDifference(was, now))
		}
	}
}

// firstDifference shows two texts around the first byte where they differ.
func firstDifference(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-60)
	clip := func(s string) string { return s[min(from, len(s)):min(i+200, len(s))] }
	return fmt.Sprintf("at byte %d\nbefore …%s\nafter  …%s", i, clip(a), clip(b))
}

// errorBody is the agreed error answer.
type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details map[string]string `json:"details"`
		TxID    string            `json:"txId"`
	} `json:"error"`
}

// wantError fails the test unless r is status with the agreed error body,
// code and a message that contains every one of says (case-insensitive).
func wantError(t *testing.T, r response, status int, code string, says ...string) errorBody {
	t.Helper()
	var e errorBody
	if r.status != status {
		t.Errorf("status %d, want %d: %.400s", r.status, status, r.body)
		return e
	}
	r.json(t, &e)
	if e.Error.Code != code {
		t.Errorf("error code %q, want %q: %s", e.Error.Code, code, r.body)
	}
	if e.Error.Message == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	for _, s := range says {
		if !strings.Contains(strings.ToLower(e.Error.Message), strings.ToLower(s)) {
			t.Errorf("message %q does not say %q", e.Error.Message, s)
		}
	}
	return e
}
