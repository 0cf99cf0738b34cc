package indexclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/govshare/ledger/chaincode/domain"
)

// Caller is who a read is for: the person the gateway authenticated, and
// the request's ID for the indexer's log. The indexer believes it (see the
// package comment), and judges reads by it with domain.CanRead.
type Caller struct {
	MSPID     string
	Role      domain.Role
	User      string
	RequestID string
}

// Filter is a read's query parameters (filters, limit, cursor), which the
// indexer checks: the gateway passes on what its caller asked.
type Filter = url.Values

// Query is the indexer's read API. Each answer is the index's JSON, in the
// public shape (an entity, a domain.List, scores, a trace page), which the
// gateway passes on as it is; a refusal is the *domain.Error the index
// answered; any other error means the index could not be asked.
type Query interface {
	Datasets(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Dataset(ctx context.Context, c Caller, id string) (json.RawMessage, error)
	Requests(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Request(ctx context.Context, c Caller, id string) (json.RawMessage, error)
	Deliveries(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Delivery(ctx context.Context, c Caller, id string) (json.RawMessage, error)
	Usages(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Usage(ctx context.Context, c Caller, id string) (json.RawMessage, error)
	Contributions(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Contribution(ctx context.Context, c Caller, id string) (json.RawMessage, error)
	Corrections(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Correction(ctx context.Context, c Caller, id string) (json.RawMessage, error)
	Metering(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Scores(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	DepartmentScore(ctx context.Context, c Caller, mspID string, f Filter) (json.RawMessage, error)
	Trace(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Lineage(ctx context.Context, c Caller, datasetID string) (json.RawMessage, error)
	Verify(ctx context.Context, c Caller, txID string) (json.RawMessage, error)
	Chain(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	Anomalies(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	// Findings is a page of the early-warning watch's findings
	// (indexer/WATCH.md), in the order they last changed.
	Findings(ctx context.Context, c Caller, f Filter) (json.RawMessage, error)
	// Export is a whole trace as a file, streamed: the answer's body, which
	// the caller closes, with its Content-Type and Content-Disposition.
	Export(ctx context.Context, c Caller, f Filter) (*http.Response, error)
}

var _ Query = (*Client)(nil)

func (c *Client) Datasets(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/datasets", f)
}

func (c *Client) Dataset(ctx context.Context, who Caller, id string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/datasets/"+id, nil)
}

func (c *Client) Requests(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/requests", f)
}

func (c *Client) Request(ctx context.Context, who Caller, id string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/requests/"+id, nil)
}

func (c *Client) Deliveries(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/deliveries", f)
}

func (c *Client) Delivery(ctx context.Context, who Caller, id string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/deliveries/"+id, nil)
}

func (c *Client) Usages(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/usage", f)
}

func (c *Client) Usage(ctx context.Context, who Caller, id string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/usage/"+id, nil)
}

func (c *Client) Contributions(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/contributions", f)
}

func (c *Client) Contribution(ctx context.Context, who Caller, id string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/contributions/"+id, nil)
}

func (c *Client) Corrections(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/corrections", f)
}

func (c *Client) Correction(ctx context.Context, who Caller, id string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/corrections/"+id, nil)
}

func (c *Client) Metering(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/metering", f)
}

func (c *Client) Scores(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/scores", f)
}

func (c *Client) DepartmentScore(ctx context.Context, who Caller, mspID string, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/scores/"+mspID, f)
}

func (c *Client) Trace(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/audit/trace", f)
}

func (c *Client) Lineage(ctx context.Context, who Caller, datasetID string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/audit/lineage/"+datasetID, nil)
}

func (c *Client) Verify(ctx context.Context, who Caller, txID string) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/audit/verify/"+txID, nil)
}

func (c *Client) Chain(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/audit/chain", f)
}

func (c *Client) Anomalies(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/audit/anomalies", f)
}

func (c *Client) Findings(ctx context.Context, who Caller, f Filter) (json.RawMessage, error) {
	return c.read(ctx, who, "/v1/audit/findings", f)
}

func (c *Client) Export(ctx context.Context, who Caller, f Filter) (*http.Response, error) {
	resp, err := c.send(ctx, "/v1/audit/export", f.Encode(), who.header())
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, parseResponseError(resp)
	}
	return resp, nil
}

// ScoresOf is the index's scores of period as of block asOf (nil: its last
// block), decoded: for the gateway's own use (publishing, attesting).
func ScoresOf(ctx context.Context, q interface {
	Scores(context.Context, Caller, Filter) (json.RawMessage, error)
}, who Caller, period string, asOf *uint64) (*domain.Scores, error) {
	f := Filter{"period": {period}}
	if asOf != nil {
		f.Set("asOfBlock", fmt.Sprint(*asOf))
	}
	raw, err := q.Scores(ctx, who, f)
	if err != nil {
		return nil, err
	}
	var s domain.Scores
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("the index's scores do not decode: %w", err)
	}
	return &s, nil
}

// maxAnswer bounds an answer read into memory: a page of a thousand
// records, or a period's scores, is far below it.
const maxAnswer = 64 << 20

// read sends one read and returns its JSON, or the error its body says.
func (c *Client) read(ctx context.Context, who Caller, path string, f Filter) (json.RawMessage, error) {
	resp, err := c.send(ctx, path, f.Encode(), who.header())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, parseResponseError(resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("indexer GET %s: %w", path, err)
	}
	if len(raw) > maxAnswer {
		return nil, fmt.Errorf("indexer GET %s: the answer is larger than %d bytes", path, maxAnswer)
	}
	return raw, nil
}

func (who Caller) header() http.Header {
	h := http.Header{}
	h.Set(domain.HeaderCallerMSP, who.MSPID)
	h.Set(domain.HeaderCallerRole, string(who.Role))
	if who.User != "" {
		h.Set(domain.HeaderCallerUser, who.User)
	}
	if who.RequestID != "" {
		h.Set(domain.HeaderRequestID, who.RequestID)
	}
	return h
}

// ResponseError is an error answer of the index: its HTTP status and the
// domain error its body carries (errors.As finds the *domain.Error).
type ResponseError struct {
	Status int
	Err    *domain.Error
}

func (e *ResponseError) Error() string {
	return "HTTP " + strconv.Itoa(e.Status) + ": " + e.Err.Error()
}
func (e *ResponseError) Unwrap() error { return e.Err }

// parseResponseError turns an error answer back into the domain error its
// body (domain.ErrorBody) carries; a body without one (a proxy's page, a
// cut answer) becomes an error of the code its status maps to.
func parseResponseError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var b domain.ErrorBody
	if err := json.Unmarshal(raw, &b); err != nil || b.Error.Message == "" {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return &ResponseError{Status: resp.StatusCode,
			Err: domain.Errorf(domain.CodeOfStatus(resp.StatusCode), "the index answered HTTP %d: %s", resp.StatusCode, msg)}
	}
	return &ResponseError{Status: resp.StatusCode, Err: b.Error.Err(resp.StatusCode)}
}
