package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/httpapi"
)

// REST is the path users take: each call to the caller's own department's
// gateway with the caller's bearer token. A write answers once committed
// and once that department's indexer has applied the block.
type REST struct {
	c  *Consortium
	hc *http.Client
}

// NewREST makes a client that keeps up to conns connections to each gateway.
func NewREST(c *Consortium, conns int) *REST {
	return &REST{c: c, hc: c.GatewayClient(2*time.Minute, conns)}
}

// Close drops the idle connections.
func (r *REST) Close() { r.hc.CloseIdleConnections() }

// Submit posts c to its department's gateway as the person of its role.
func (r *REST) Submit(ctx context.Context, c Call) (Committed, error) {
	d, err := r.c.Dept(c.MSPID)
	if err != nil {
		return Committed{}, &SubmitError{Code: domain.CodeInternal, Err: err}
	}
	cred, ok := d.Users[c.Role]
	if !ok {
		return Committed{}, &SubmitError{Code: domain.CodeInternal, Err: fmt.Errorf("no %s in %s", c.Role, c.MSPID)}
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, d.Gateway+c.Path, bytes.NewReader(c.Body))
	if err != nil {
		return Committed{}, &SubmitError{Code: domain.CodeInternal, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+cred.Token)
	req.Header.Set("Content-Type", "application/json")
	if c.HasAfter {
		req.Header.Set(httpapi.MinBlockHeader, strconv.FormatUint(c.After, 10))
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return Committed{}, &SubmitError{Code: domain.CodeUnavailable, Retry: ctx.Err() == nil, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Committed{}, &SubmitError{Code: domain.CodeUnavailable, Retry: true, Err: err}
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var e struct {
			Error struct {
				Code    domain.Code       `json:"code"`
				Message string            `json:"message"`
				Details map[string]string `json:"details"`
			} `json:"error"`
		}
		code := domain.CodeInternal
		if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
			code = e.Error.Code
		}
		se := &SubmitError{Code: code, Retry: retryable(code),
			Err: fmt.Errorf("%s %s: status %d: %.300s", c.Method, c.Path, resp.StatusCode, bytes.TrimSpace(body))}
		if b, err := strconv.ParseUint(e.Error.Details["blockNumber"], 10, 64); err == nil {
			se.Block, se.HasBlock = b, true
		}
		return Committed{}, se
	}
	var w map[string]json.RawMessage
	if err := json.Unmarshal(body, &w); err != nil {
		return Committed{}, &SubmitError{Code: domain.CodeInternal, Err: fmt.Errorf("%s %s: answer is not JSON: %w", c.Method, c.Path, err)}
	}
	var out Committed
	_ = json.Unmarshal(w["txId"], &out.TxID)
	_ = json.Unmarshal(w["blockNumber"], &out.Block)
	out.Entity = w[c.Entity]
	if out.TxID == "" || out.Entity == nil {
		return Committed{}, &SubmitError{Code: domain.CodeInternal, Err: fmt.Errorf("%s %s: answer lacks txId or %s: %.300s", c.Method, c.Path, c.Entity, body)}
	}
	return out, nil
}
