//go:build faults

package faults

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network"
)

// ledgerView reads every department's peer straight through the Fabric
// Gateway, bypassing the REST gateways and the indexers under test, so that
// "nothing lost, nothing changed" is judged against the ledger itself.
type ledgerView struct {
	nets map[string]*client.Network // by MSP ID
}

func newLedgerView(t *testing.T) *ledgerView {
	t.Helper()
	v := &ledgerView{nets: map[string]*client.Network{}}
	for _, d := range shared.eps.Departments {
		v.nets[d.MSPID] = fabricAs(t, d.MSPID, d.Peer, shared.as(t, d.MSPID, "operator").user)
	}
	return v
}

// fabricAs connects to one department's peer as one of its people.
func fabricAs(t *testing.T, msp, peerAddr, user string) *client.Network {
	t.Helper()
	return fabricVia(t, msp, user, msp, peerAddr)
}

// fabricVia connects to department peerMSP's peer as one of department
// msp's people.
func fabricVia(t *testing.T, msp, user, peerMSP, peerAddr string) *client.Network {
	t.Helper()
	orgOf := func(m string) string {
		return filepath.Join(shared.run, "orgs", strings.TrimSuffix(strings.ToLower(m), "msp"))
	}
	org := orgOf(msp)
	read := func(parts ...string) []byte {
		raw, err := os.ReadFile(filepath.Join(parts...))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	cert, err := identity.CertificateFromPEM(read(org, "users", user, "msp", "signcerts", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.NewX509Identity(msp, cert)
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.PrivateKeyFromPEM(read(org, "users", user, "msp", "keystore", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(read(orgOf(peerMSP), "peer0", "tls", "ca.crt"))
	conn, err := grpc.NewClient("dns:///"+peerAddr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10*time.Second), client.WithEndorseTimeout(20*time.Second),
		client.WithSubmitTimeout(10*time.Second), client.WithCommitStatusTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw.GetNetwork(shared.eps.Channel)
}

// height is the number of blocks msp's peer has committed, from qscc.
func (v *ledgerView) height(ctx context.Context, msp string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
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

// heights reads the height of every named peer (every peer when none is named).
func (v *ledgerView) heights(ctx context.Context, msps ...string) (map[string]uint64, error) {
	if len(msps) == 0 {
		msps = slices.Sorted(maps.Keys(v.nets))
	}
	out := map[string]uint64{}
	for _, m := range msps {
		h, err := v.height(ctx, m)
		if err != nil {
			return nil, err
		}
		out[m] = h
	}
	return out, nil
}

// settle waits until the named peers (all when none is named) hold the
// same number of blocks and a second reading a moment later agrees: no
// block is still in flight. It returns that height.
func (v *ledgerView) settle(t *testing.T, within time.Duration, msps ...string) uint64 {
	t.Helper()
	var h uint64
	var last map[string]uint64
	eventually(t, within, func() error {
		seen, err := v.heights(context.Background(), msps...)
		if err != nil {
			return err
		}
		hs := slices.Collect(maps.Values(seen))
		if slices.Min(hs) != slices.Max(hs) {
			last = nil
			return fmt.Errorf("peers at different heights: %v", seen)
		}
		if last == nil || !maps.Equal(last, seen) {
			last = seen
			time.Sleep(time.Second)
			return fmt.Errorf("peers at %v: checking that no block is in flight", seen)
		}
		h = hs[0]
		return nil
	})
	return h
}

// get evaluates Get<kind>(id) on msp's peer: the record's JSON, or the
// chaincode's error when it is refused (a not_found for an unknown record).
func (v *ledgerView) get(t *testing.T, msp, kind, id string) ([]byte, *domain.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := v.nets[msp].GetContract(shared.eps.Chaincode).EvaluateWithContext(ctx, "Get"+kind, client.WithArguments(id))
	if err == nil {
		return out, nil
	}
	if d := chaincodeError(err); d != nil {
		return nil, d
	}
	t.Fatalf("Get%s(%s) on %s's peer: %v", kind, id, msp, err)
	return nil, nil
}

// mustGet is get failing t unless the record exists.
func (v *ledgerView) mustGet(t *testing.T, msp, kind, id string) []byte {
	t.Helper()
	out, derr := v.get(t, msp, kind, id)
	if derr != nil {
		t.Fatalf("Get%s(%s) on %s's peer: %v", kind, id, msp, derr)
	}
	return out
}

// absent fails t unless no peer of msps knows the record.
func (v *ledgerView) absent(t *testing.T, kind, id string, msps ...string) {
	t.Helper()
	for _, m := range msps {
		out, derr := v.get(t, m, kind, id)
		if derr == nil || derr.Code != domain.CodeNotFound {
			t.Errorf("%s %s on %s's peer: %s %v, want not_found: the refused write left a trace", kind, id, m, out, derr)
		}
	}
}

// historyEntry is one committed change of an entity, from the chaincode's History.
type historyEntry struct {
	TxID  string          `json:"txId"`
	Value json.RawMessage `json:"value"`
}

// history is every committed version of one entity, oldest first, as
// msp's peer's history database has it.
func (v *ledgerView) history(t *testing.T, msp string, kind domain.Kind, id string) []historyEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := v.nets[msp].GetContract(shared.eps.Chaincode).EvaluateWithContext(ctx, "History", client.WithArguments(string(kind), id))
	if err != nil {
		t.Fatalf("History(%s, %s) on %s's peer: %v", kind, id, msp, err)
	}
	var h []historyEntry
	if err := json.Unmarshal(out, &h); err != nil {
		t.Fatalf("History(%s, %s): %v", kind, id, err)
	}
	return h
}

// statuses lists the status of each version in a history.
func statuses(h []historyEntry) []string {
	out := make([]string, len(h))
	for i, e := range h {
		var r record
		_ = json.Unmarshal(e.Value, &r)
		out[i] = r.Status
	}
	return out
}

// chaincodeError finds the chaincode's "[code] message" in a fabric-gateway
// error: its status message or one of the peers' error details.
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

// mirror is an indexer's /internal/digest answer.
type mirror struct {
	Height uint64 `json:"height"`
	Digest string `json:"digest"`
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// mirrorAt waits until msp's indexer has applied exactly height blocks and
// returns the digest of its whole mirror.
func mirrorAt(t *testing.T, msp string, height uint64, within time.Duration) mirror {
	t.Helper()
	var m mirror
	// The indexer listens on its Unix socket only.
	hc, base, err := network.IndexerClient(shared.dept(t, msp).Indexer, 45*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.CloseIdleConnections()
	eventually(t, within, func() error {
		if err := getJSON(context.Background(), hc, base+"/internal/digest", &m); err != nil {
			return err
		}
		if m.Height != height {
			return fmt.Errorf("indexer of %s at height %d, want %d", msp, m.Height, height)
		}
		return nil
	})
	return m
}

// converged proves that the ledger and the mirrors agree after a fault:
// every peer holds the same blocks, and every department's indexer has
// applied all of them into a mirror with the same digest. It returns the
// height and the digest.
func (v *ledgerView) converged(t *testing.T) (uint64, string) {
	t.Helper()
	h := v.settle(t, 60*time.Second)
	digests := map[string]string{}
	for _, d := range shared.eps.Departments {
		// An indexer that lost its peer reconnects with a backoff capped at 30 s.
		digests[d.MSPID] = mirrorAt(t, d.MSPID, h, 90*time.Second).Digest
	}
	ref := digests[shared.eps.Departments[0].MSPID]
	for _, d := range digests {
		if d != ref {
			t.Fatalf("mirrors disagree at height %d: %v", h, digests)
		}
	}
	t.Logf("ledger and mirrors agree: every peer at %d blocks, every indexer's mirror digest %s…", h, ref[:16])
	return h, ref
}

// indexedIDs lists the IDs the index of p's department holds for path (a
// list route), following cursors.
func indexedIDs(t *testing.T, p caller, path string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	cursor := ""
	for range 1000 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		q := path + sep + "limit=1000"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		var page struct {
			Items      []record `json:"items"`
			NextCursor string   `json:"nextCursor"`
		}
		p.must(t, http.StatusOK, http.MethodGet, q, nil).decode(t, &page)
		for _, it := range page.Items {
			ids[it.ID] = true
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
	t.Fatalf("%s: more than 1000 pages", path)
	return nil
}

// metric reads one Prometheus sample with a label fragment from an
// operations endpoint; found is false when the endpoint lacks it.
func metric(ctx context.Context, url, name, label string) (value float64, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') || !strings.Contains(rest, label) {
			continue
		}
		fields := strings.Fields(rest)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		return v, err == nil, err
	}
	return 0, false, sc.Err()
}
