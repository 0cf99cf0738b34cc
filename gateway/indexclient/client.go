// Package indexclient is the gateway's typed client of its department's
// indexer (Query): one method per read, each with the caller it reads for
// (sent in X-Caller-* headers) and its filter, answering the index's JSON or
// the domain error its error body carries (parseResponseError); the
// indexer's status; and a wait until a block has been applied, so that a
// read after a write sees it. The routes and the headers are named here
// only; the envelopes are domain's (domain.ErrorBody, domain.List).
//
// The indexer believes those headers, so it listens on a Unix socket that
// only the consortium's user may open (mode 0600 in a 0700 folder): an
// address "unix:/abs/path.sock" dials that socket for every request.
package indexclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// unixPrefix marks an indexer address that is a Unix socket's path.
const unixPrefix = "unix:"

// unixBase is the base URL of requests sent over a Unix socket: the host
// is never resolved, the transport dials the socket whatever it says.
const unixBase = "http://indexer"

// SocketPath returns the socket of a "unix:<path>" address, or "" for
// another address.
func SocketPath(addr string) string {
	if !strings.HasPrefix(addr, unixPrefix) {
		return ""
	}
	return strings.TrimPrefix(addr, unixPrefix)
}

// HTTPClient returns an HTTP client of the indexer at addr ("unix:<absolute
// socket path>", or http://host:port for a test indexer on TCP) and the base
// URL to put before a route's path. timeout 0 leaves every call bound by its
// context only.
func HTTPClient(addr string, timeout time.Duration) (*http.Client, string, error) {
	sock := SocketPath(addr)
	if sock == "" {
		u, err := url.Parse(strings.TrimRight(addr, "/"))
		if err != nil {
			return nil, "", fmt.Errorf("indexer URL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, "", fmt.Errorf("indexer address %q must be unix:/path.sock or http(s)://host:port", addr)
		}
		return &http.Client{Timeout: timeout}, u.String(), nil
	}
	if !filepath.IsAbs(sock) {
		return nil, "", fmt.Errorf("indexer socket %q must be an absolute path", sock)
	}
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Timeout: timeout, Transport: tr}, unixBase, nil
}

// ErrWaitTimeout says the indexer had not applied the block when the wait ended.
var ErrWaitTimeout = errors.New("the index had not applied the block in time")

// Status is the indexer's GET /internal/status answer.
type Status struct {
	Channel       string `json:"channel"`
	GenesisHash   string `json:"genesisHash"`
	Height        uint64 `json:"height"` // blocks applied, so the next block's number
	LastBlockTime string `json:"lastBlockTime"`
	LagBlocks     uint64 `json:"lagBlocks"`
	// LedgerHeight is the peer's height as the indexer last saw it; nil
	// until it is known.
	LedgerHeight *uint64 `json:"ledgerHeight"`
	// OpenFindings counts the early-warning watch's open findings by kind
	// and department.
	OpenFindings []OpenFindings `json:"openFindings"`
}

// OpenFindings is how many findings of one kind about one department are open.
type OpenFindings struct {
	Kind       string `json:"kind"`
	Department string `json:"department"`
	Open       int64  `json:"open"`
}

// Client calls one indexer.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// New returns a client of the indexer at addr (unix:/path/to/indexer.sock,
// or http://127.0.0.1:7108 for a test indexer). hc may be nil for a client
// without an overall timeout: every call is bound by its context instead, so
// that a long export can stream. A Unix socket address ignores hc's
// transport (it needs its own dialer) but keeps its timeout.
func New(addr string, hc *http.Client) (*Client, error) {
	var timeout time.Duration
	if hc != nil {
		timeout = hc.Timeout
	}
	own, base, err := HTTPClient(addr, timeout)
	if err != nil {
		return nil, err
	}
	if hc == nil || SocketPath(addr) != "" {
		hc = own
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("indexer URL: %w", err)
	}
	return &Client{base: u, hc: hc}, nil
}

func (c *Client) url(path, rawQuery string) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = rawQuery
	return u.String()
}

// send sends a GET to the indexer. The caller closes the answer's body.
func (c *Client) send(ctx context.Context, path, rawQuery string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, rawQuery), nil)
	if err != nil {
		return nil, fmt.Errorf("indexer request: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("indexer GET %s: %w", path, err)
	}
	return resp, nil
}

// Status reads the indexer's progress.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	resp, err := c.send(ctx, "/internal/status", "", nil)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("indexer status: HTTP %d: %s", resp.StatusCode, snippet(resp.Body))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return s, fmt.Errorf("indexer status: %w", err)
	}
	return s, nil
}

// WaitForBlock returns once the indexer has applied block, ErrWaitTimeout if
// it has not within timeout, or another error if it cannot be asked.
func (c *Client) WaitForBlock(ctx context.Context, block uint64, timeout time.Duration) error {
	q := url.Values{"block": {strconv.FormatUint(block, 10)}, "timeout": {timeout.String()}}
	// A little longer than the indexer's own wait, so that its 504 arrives
	// rather than our own deadline.
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	resp, err := c.send(ctx, "/internal/wait", q.Encode(), nil)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return ErrWaitTimeout
		}
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusGatewayTimeout:
		return ErrWaitTimeout
	default:
		return fmt.Errorf("indexer wait for block %d: HTTP %d: %s", block, resp.StatusCode, snippet(resp.Body))
	}
}

func snippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	return strings.TrimSpace(string(b))
}
