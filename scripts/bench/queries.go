package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/govshare/ledger/network"
)

// QueryResult is the latency of one query, asked again and again by one
// client, one at a time.
type QueryResult struct {
	Name    string `json:"name"`
	Where   string `json:"where"`
	Query   string `json:"query"`
	Latency Dist   `json:"latency"`
	// Items is how many items (events, rows, departments) one answer held;
	// Bytes how big it was.
	Items int    `json:"items"`
	Bytes int    `json:"bytes"`
	Error string `json:"error,omitempty"`
}

// asker sends queries with fixed headers (a token for a gateway, the
// caller headers for an indexer).
type asker struct {
	hc     *http.Client
	base   string
	header http.Header
}

// get asks once and returns the body, or with keep false only its size:
// a client that streams a long answer to a file does not hold it.
func (a asker) get(ctx context.Context, pathQuery string, keep bool) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+pathQuery, nil)
	if err != nil {
		return nil, 0, err
	}
	for k, v := range a.header {
		req.Header[k] = v
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, 0, fmt.Errorf("GET %s: status %d: %.300s", pathQuery, resp.StatusCode, body)
	}
	if !keep {
		n, err := io.Copy(io.Discard, resp.Body)
		return nil, int(n), err
	}
	body, err := io.ReadAll(resp.Body)
	return body, len(body), err
}

// measure asks q warm times unmeasured, then n times measured. count
// reads how many items an answer holds; it is read from the first answer,
// and the measured ones are read to the end but not kept.
func (a asker) measure(ctx context.Context, name, where, q string, warm, n int, count func([]byte) int) QueryResult {
	r := QueryResult{Name: name, Where: where, Query: q}
	var ds []time.Duration
	for i := range warm + n {
		start := time.Now()
		body, size, err := a.get(ctx, q, i == 0)
		if err != nil {
			r.Error = err.Error()
			break
		}
		if i >= warm {
			ds = append(ds, time.Since(start))
		}
		if i == 0 {
			r.Items = count(body)
		}
		r.Bytes = size
	}
	r.Latency = distOf(ds)
	return r
}

// measureOnce times a single answer: the first query of its kind, before
// any cache holds anything of it.
func (a asker) measureOnce(ctx context.Context, name, where, q string, count func([]byte) int) QueryResult {
	return a.measure(ctx, name, where, q, 0, 1, count)
}

// measureAdvancing asks q with asOfBlock from, from+1, ...: each answer is
// one block later than the one before, which is what a live ledger costs
// the first query after each new block (a cache of the same height would
// answer the same question for nothing).
func (a asker) measureAdvancing(ctx context.Context, name, where, q string, from uint64, warm, n int, count func([]byte) int) QueryResult {
	r := QueryResult{Name: name, Where: where, Query: q + "&asOfBlock=<one more each time>"}
	var ds []time.Duration
	for i := range warm + n {
		start := time.Now()
		body, size, err := a.get(ctx, fmt.Sprintf("%s&asOfBlock=%d", q, from+uint64(i)), true)
		if err != nil {
			r.Error = err.Error()
			break
		}
		if i >= warm {
			ds = append(ds, time.Since(start))
		}
		r.Bytes, r.Items = size, count(body)
	}
	r.Latency = distOf(ds)
	return r
}

// measureWalk times reading a whole list page by page (limit per page),
// following nextCursor to the end: what a client does to read every event
// of a trace through the paged route.
func (a asker) measureWalk(ctx context.Context, name, where, q string, warm, n int) QueryResult {
	r := QueryResult{Name: name, Where: where, Query: q + " (every page, following nextCursor)"}
	var ds []time.Duration
	for i := range warm + n {
		start := time.Now()
		items, size, cursor := 0, 0, ""
		for {
			pq := q
			if cursor != "" {
				pq += "&cursor=" + url.QueryEscape(cursor)
			}
			body, _, err := a.get(ctx, pq, true)
			if err != nil {
				r.Error = err.Error()
				r.Latency = distOf(ds)
				return r
			}
			next, got, err := pageOf(body, i == 0)
			if err != nil {
				r.Error = err.Error()
				r.Latency = distOf(ds)
				return r
			}
			items, size = items+got, size+len(body)
			if next == "" {
				break
			}
			cursor = next
		}
		if i >= warm {
			ds = append(ds, time.Since(start))
		}
		if i == 0 {
			r.Items = items
		}
		r.Bytes = size
	}
	r.Latency = distOf(ds)
	return r
}

// pageOf reads a page's nextCursor and, when count is set, its items.
// Without count it only looks at the page's end, where the list's last
// field is: the client's own decoding is not what the walk measures.
func pageOf(body []byte, count bool) (next string, items int, err error) {
	if count {
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"nextCursor"`
		}
		err := json.Unmarshal(body, &page)
		return page.NextCursor, len(page.Items), err
	}
	tail := body[max(0, len(body)-256):]
	i := bytes.LastIndex(tail, []byte(`"nextCursor":"`))
	if i < 0 {
		return "", 0, nil
	}
	rest := tail[i+len(`"nextCursor":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", 0, fmt.Errorf("page ends in the middle of its nextCursor")
	}
	return string(rest[:j]), 0, nil
}

// countItems counts the items of a list answer.
func countItems(body []byte) int {
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if json.Unmarshal(body, &l) != nil {
		return 0
	}
	return len(l.Items)
}

// countArray counts the elements of a JSON array answer (the export).
func countArray(body []byte) int {
	var l []json.RawMessage
	if json.Unmarshal(body, &l) != nil {
		return countItems(body)
	}
	return len(l)
}

// callerHeaders are what a gateway passes to its indexer once it has
// authenticated someone.
func callerHeaders(msp, role, user string) http.Header {
	h := http.Header{}
	h.Set("X-Caller-Msp", msp)
	h.Set("X-Caller-Role", role)
	h.Set("X-Caller-User", user)
	return h
}

func bearer(token string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	return h
}

// IndexerProc is an indexer process the benchmark started over a mirror
// it replayed: the real binary serving the real HTTP API. Its follower
// points at an address where no peer listens, so it retries in the
// background and the mirror stays as replayed.
type IndexerProc struct {
	URL string       // base URL of its routes, to call with HC
	HC  *http.Client // reaches it over its Unix socket, as its gateway would
	cmd *exec.Cmd
	log string
}

// startIndexer runs bin over dataDir, with a throwaway identity and a
// configuration written in work.
func startIndexer(ctx context.Context, bin, work, dataDir, tlsCA, channel, chaincode string) (*IndexerProc, error) {
	// A Unix socket, as the consortium's indexers listen: the queries are
	// timed over the transport the gateways use.
	listen := "unix:" + filepath.Join(work, "indexer.sock")
	hc, base, err := network.IndexerClient(listen, time.Minute)
	if err != nil {
		return nil, err
	}
	nowhere, err := freeAddr()
	if err != nil {
		return nil, err
	}
	certPath, keyPath, err := writeThrowawayIdentity(work)
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{
		"mspId": "BureauMSP", "listen": listen, "channel": channel, "chaincode": chaincode,
		"peer":     map[string]string{"endpoint": nowhere, "tlsCACert": tlsCA},
		"identity": map[string]string{"certPath": certPath, "keyPath": keyPath},
		"dataDir":  dataDir,
	}
	raw, _ := json.MarshalIndent(cfg, "", "  ")
	cfgPath := filepath.Join(work, "indexer.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(work, "indexer.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start indexer: %w", err)
	}
	p := &IndexerProc{URL: base, HC: hc, cmd: cmd, log: logPath}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("indexer exited (%v); see %s", err, logPath)
		default:
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		req, _ := http.NewRequestWithContext(hctx, http.MethodGet, p.URL+"/healthz", nil)
		resp, err := hc.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited }()
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			return nil, fmt.Errorf("indexer did not answer /healthz in time; see %s", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PID is the process's ID.
func (p *IndexerProc) PID() int { return p.cmd.Process.Pid }

// Stop ends the process (its group) with SIGTERM, then SIGKILL.
func (p *IndexerProc) Stop() {
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// writeThrowawayIdentity writes a self-signed certificate and its key: the
// indexer needs an identity to dial a peer, though this one reaches none.
func writeThrowawayIdentity(dir string) (certPath, keyPath string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench", Organization: []string{"BureauMSP"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}
