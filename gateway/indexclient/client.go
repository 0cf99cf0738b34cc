// Package indexclient is the gateway's HTTP client of its department's
// indexer: it forwards public read routes with the caller's identity in
// X-Caller-* headers, reads the indexer's status, and waits until a block has
// been applied so that a read after a write sees it.
package indexclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrWaitTimeout says the indexer had not applied the block when the wait ended.
var ErrWaitTimeout = errors.New("the index had not applied the block in time")

// Status is the indexer's GET /internal/status answer.
type Status struct {
	Channel       string `json:"channel"`
	GenesisHash   string `json:"genesisHash"`
	Height        uint64 `json:"height"` // blocks applied, so the next block's number
	LastBlockTime string `json:"lastBlockTime"`
	LagBlocks     uint64 `json:"lagBlocks"`
}

// Client calls one indexer.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// New returns a client of the indexer at baseURL (e.g. http://127.0.0.1:7108).
// hc may be nil for a client without an overall timeout: every call is bound
// by its context instead, so that a long export can stream.
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("indexer URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("indexer URL %q must be http(s)://host:port", baseURL)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, hc: hc}, nil
}

func (c *Client) url(path, rawQuery string) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = rawQuery
	return u.String()
}

// Get forwards a read to the indexer. The caller closes the answer's body.
func (c *Client) Get(ctx context.Context, path, rawQuery string, header http.Header) (*http.Response, error) {
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
	resp, err := c.Get(ctx, "/internal/status", "", nil)
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
	resp, err := c.Get(ctx, "/internal/wait", q.Encode(), nil)
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
