//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/govshare/ledger/network"
)

// consortium is what a test knows of the running consortium.
type consortium struct {
	run   string
	eps   *network.Endpoints
	creds []network.Credential
}

var shared *consortium

func TestMain(m *testing.M) {
	run := os.Getenv("GOVSHARE_RUN")
	if run == "" {
		fmt.Fprintln(os.Stderr, "e2e: GOVSHARE_RUN is not set; run `make test-integration`")
		os.Exit(2)
	}
	eps, err := network.ReadEndpoints(run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: no consortium:", err)
		os.Exit(2)
	}
	raw, err := os.ReadFile(filepath.Join(run, "credentials.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	c := &consortium{run: run, eps: eps}
	if err := json.Unmarshal(raw, &c.creds); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	shared = c
	os.Exit(m.Run())
}

// person is one enrolled person calling one department's gateway.
type person struct {
	t       *testing.T
	mspID   string
	role    string
	token   string
	gateway string
}

// as returns the first person of role in department msp, calling gw (their
// own department's gateway when gw is "").
func (c *consortium) as(t *testing.T, msp, role string) *person {
	t.Helper()
	for _, cr := range c.creds {
		if cr.MSPID == msp && cr.Role == role {
			return &person{t: t, mspID: msp, role: role, token: cr.Token, gateway: c.gateway(t, msp)}
		}
	}
	t.Fatalf("no %s in %s", role, msp)
	return nil
}

func (c *consortium) gateway(t *testing.T, msp string) string {
	t.Helper()
	for _, d := range c.eps.Departments {
		if d.MSPID == msp {
			return d.Gateway
		}
	}
	t.Fatalf("no department %s", msp)
	return ""
}

// at returns the same person calling another department's gateway (which
// does not hold their identity).
func (p *person) at(msp string) *person {
	q := *p
	q.gateway = shared.gateway(p.t, msp)
	return &q
}

type response struct {
	status int
	body   []byte
	header http.Header
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorCode is the code of an error answer.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.json(t, &e)
	if e.Error.Message == "" {
		t.Errorf("error answer without a message: %s", r.body)
	}
	return e.Error.Code
}

func (p *person) do(method, path string, body any) response {
	p.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
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
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
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

// must calls and fails the test unless the status is want.
func (p *person) must(want int, method, path string, body any) response {
	p.t.Helper()
	r := p.do(method, path, body)
	if r.status != want {
		p.t.Fatalf("%s %s as %s/%s: status %d, want %d: %s", method, path, p.mspID, p.role, r.status, want, r.body)
	}
	return r
}

// eventually retries f until it returns nil or the bound passes; other
// departments' indexers apply a block a moment after the writer's does.
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
		time.Sleep(100 * time.Millisecond)
	}
}

func uniqueID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}
