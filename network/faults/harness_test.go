//go:build faults

package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/network"
)

// consortium is what the tests know of the consortium under test.
type consortium struct {
	run   string
	cmd   []string // the consortium command and its flags, without a verb
	eps   *network.Endpoints
	creds []network.Credential
}

var shared *consortium

func TestMain(m *testing.M) {
	run := os.Getenv("GOVSHARE_RUN")
	cmd := strings.Fields(os.Getenv("CONSORTIUM"))
	if run == "" || len(cmd) == 0 {
		fmt.Fprintln(os.Stderr, "faults: GOVSHARE_RUN and CONSORTIUM must be set; run `make test-faults` (scripts/faults.sh)")
		os.Exit(2)
	}
	eps, err := network.ReadEndpoints(run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults: no consortium:", err)
		os.Exit(2)
	}
	raw, err := os.ReadFile(filepath.Join(run, "credentials.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(2)
	}
	c := &consortium{run: run, cmd: cmd, eps: eps}
	if err := json.Unmarshal(raw, &c.creds); err != nil {
		fmt.Fprintln(os.Stderr, "faults: credentials:", err)
		os.Exit(2)
	}
	shared = c
	os.Exit(m.Run())
}

// control runs the consortium command with one verb (kill, stop, start...).
func (c *consortium) control(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.cmd[0], append(c.cmd[1:], args...)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("consortium %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// control runs a consortium verb within bound, failing t if it fails.
func control(t *testing.T, bound time.Duration, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if out, err := shared.control(ctx, args...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// faultTest starts a fault test: the consortium must be whole before it,
// and is made whole again when the test ends, pass or fail, so that the
// next test and the next run find it working.
func faultTest(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { heal(t) })
	if err := allReady(context.Background(), 60*time.Second); err != nil {
		t.Fatalf("the consortium is not whole before the fault: %v", err)
	}
	if err := waitOrderingWhole(orderers(t), 20*time.Second); err != nil {
		t.Fatalf("the ordering service is not whole before the fault: %v", err)
	}
}

// heal starts every recorded process that is not running (`consortium
// start` keeps the state), restarts any orderer stuck at start (see
// stuckAtStart), and waits until every gateway is ready.
func heal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := shared.control(ctx, "start")
	if rerr := reviveOrdering(ctx, t); rerr != nil {
		t.Errorf("heal: %v", rerr)
		return
	}
	if err != nil {
		// The start stopped at the ordering service, now whole: start the rest.
		if out2, err := shared.control(ctx, "start"); err != nil {
			t.Errorf("heal: %v\n%s\n%s", err, out, out2)
			return
		}
	}
	if err := allReady(ctx, 90*time.Second); err != nil {
		t.Errorf("heal: %v", err)
	}
}

// allReady waits until every department's gateway answers /readyz with 200
// (its peer answers a height query and its index is close behind).
func allReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for _, d := range shared.eps.Departments {
		anon := caller{msp: d.MSPID, gateway: d.Gateway}
		var last string
		for {
			a, err := anon.call(ctx, http.MethodGet, "/readyz", nil)
			if err == nil && a.status == http.StatusOK {
				break
			}
			last = fmt.Sprintf("%d %s %v", a.status, a.body, err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("gateway of %s not ready within %s: %s", d.MSPID, within, last)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// caller is one enrolled person calling one department's gateway.
type caller struct {
	msp, role, user, token string
	gateway                string
}

// as is the first person of role in department msp, calling their own
// department's gateway.
func (c *consortium) as(t *testing.T, msp, role string) caller {
	t.Helper()
	for _, cr := range c.creds {
		if cr.MSPID == msp && cr.Role == role {
			return caller{msp: msp, role: role, user: cr.User, token: cr.Token, gateway: c.dept(t, msp).Gateway}
		}
	}
	t.Fatalf("no %s in %s", role, msp)
	return caller{}
}

func (c *consortium) dept(t *testing.T, msp string) network.EndpointDept {
	t.Helper()
	for _, d := range c.eps.Departments {
		if d.MSPID == msp {
			return d
		}
	}
	t.Fatalf("no department %s", msp)
	return network.EndpointDept{}
}

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	body   []byte
	header http.Header
}

// code is the domain code of an error answer ("" if the body is not one).
func (a answer) code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.body, &e)
	return e.Error.Code
}

// message is the message of an error answer.
func (a answer) message() string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.body, &e)
	return e.Error.Message
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %.300s: %v", a.body, err)
	}
}

// httpClient bounds every call above the gateway's own 30 s request deadline.
// It trusts the run's tls-ca.pem.
var httpClient = func() *http.Client {
	hc, err := network.GatewayClient(os.Getenv("GOVSHARE_RUN"), 45*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults: gateway client:", err)
		os.Exit(2)
	}
	return hc
}()

// call sends one request; it never fails a test, so that load goroutines
// can use it. body is JSON-encoded unless it is a string or bytes.
func (p caller) call(ctx context.Context, method, path string, body any) (answer, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.gateway+path, rd)
	if err != nil {
		return answer{}, err
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return answer{status: resp.StatusCode, body: out, header: resp.Header}, nil
}

// do is call failing t on a transport error.
func (p caller) do(t *testing.T, method, path string, body any) answer {
	t.Helper()
	a, err := p.call(context.Background(), method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// must is do failing t unless the status is want.
func (p caller) must(t *testing.T, want int, method, path string, body any) answer {
	t.Helper()
	a := p.do(t, method, path, body)
	if a.status != want {
		t.Fatalf("%s %s as %s/%s at %s: status %d, want %d: %.500s", method, path, p.msp, p.role, p.gateway, a.status, want, a.body)
	}
	return a
}

// eventually retries f until it returns nil, failing t after within.
func eventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func uniqueID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newDataset(id, share string) map[string]any {
	return map[string]any{
		"id": id, "title": "Fault test dataset " + id, "description": "Registered households by district",
		"fields": []string{"householdId", "district", "members"}, "shareType": share, "openType": "restricted",
		"grade": 2, "updateFrequency": "daily", "derivedFrom": []string{},
	}
}

func newRequest(datasetID string) map[string]any {
	return map[string]any{
		"datasetId": datasetID, "purpose": "verify benefit eligibility", "legalBasis": "Social Assistance Regulation art. 12",
		"fields": []string{"householdId", "members"}, "validUntil": time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339),
	}
}

// record is the part of any entity the tests look at.
type record struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	Requester string `json:"requester"`
	DatasetID string `json:"datasetId"`
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	Version   int    `json:"version"`
	SHA256    string `json:"sha256"`
}

// written is the answer to a committed write.
type written struct {
	TxID        string  `json:"txId"`
	BlockNumber uint64  `json:"blockNumber"`
	Dataset     *record `json:"dataset"`
	Request     *record `json:"request"`
	Delivery    *record `json:"delivery"`
	Usage       *record `json:"usage"`
}

// entity is the record a write answered with, whatever its kind.
func (w written) entity() record {
	for _, r := range []*record{w.Dataset, w.Request, w.Delivery, w.Usage} {
		if r != nil {
			return *r
		}
	}
	return record{}
}

// write sends a write that must answer want and returns what it committed.
func (p caller) write(t *testing.T, want int, method, path string, body any) written {
	t.Helper()
	var w written
	p.must(t, want, method, path, body).decode(t, &w)
	if w.TxID == "" || w.BlockNumber == 0 || w.entity().ID == "" {
		t.Fatalf("%s %s: a write answer without txId, blockNumber or entity: %+v", method, path, w)
	}
	return w
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ra, _ := json.Marshal(x)
	rb, _ := json.Marshal(y)
	return bytes.Equal(ra, rb)
}
