package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
)

// ListResult is the shape of every list answer.
type ListResult struct {
	Items      json.RawMessage `json:"items"`
	NextCursor string          `json:"nextCursor,omitempty"`
}

// proxy forwards a read to the department's indexer with the caller named
// in X-Caller-* headers (the indexer listens on loopback only and trusts
// them) and relays its answer, status and error body included.
func (s *server) proxy(c *gin.Context) {
	s.forward(c, c.Request.URL.RawQuery)
}

func (s *server) forward(c *gin.Context, rawQuery string) {
	p := person(c)
	h := http.Header{}
	h.Set("X-Caller-Msp", p.MSPID)
	h.Set("X-Caller-Role", string(p.Role))
	h.Set("X-Caller-User", p.User)
	h.Set(requestIDHeader, c.GetString(ctxRequestID))
	if a := c.GetHeader("Accept"); a != "" {
		h.Set("Accept", a)
	}
	resp, err := s.Index.Get(c.Request.Context(), c.Request.URL.Path, rawQuery, h)
	if err != nil {
		s.fail(c, &indexError{err: err})
		return
	}
	defer resp.Body.Close()
	extra := map[string]string{}
	for _, k := range []string{"Content-Disposition", "Retry-After"} {
		if v := resp.Header.Get(k); v != "" {
			extra[k] = v
		}
	}
	c.DataFromReader(resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Type"), resp.Body, extra)
}

// indexError is an indexer that cannot be reached: unavailable, not a bug.
type indexError struct{ err error }

func (e *indexError) Error() string { return "index: " + e.err.Error() }
func (e *indexError) Unwrap() []error {
	return []error{domain.Errorf(domain.CodeUnavailable, "the index is unavailable"), e.err}
}

// source reads ?source=: "index" (the default) or "ledger".
func source(c *gin.Context) (ledger bool, err error) {
	switch v := c.Query("source"); v {
	case "", "index":
		return false, nil
	case "ledger":
		return true, nil
	default:
		return false, domain.Errorf(domain.CodeInvalid, "source %q must be index or ledger", v).WithDetail("field", "source")
	}
}

// withoutSource is the query without ?source=, which only the gateway reads.
func withoutSource(u *url.URL) string {
	q := u.Query()
	if !q.Has("source") {
		return u.RawQuery
	}
	q.Del("source")
	return q.Encode()
}

func (s *server) evaluate(c *gin.Context, txName string, args ...string) ([]byte, bool) {
	start := time.Now()
	out, err := s.Ledger.Evaluate(c.Request.Context(), person(c), txName, args...)
	s.metrics.observeFabric("evaluate", txName, err, time.Since(start))
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	if !json.Valid(out) {
		s.fail(c, fmt.Errorf("%s returned %d bytes that are not JSON", txName, len(out)))
		return nil, false
	}
	return out, true
}

// listDepartments reads the consortium from the ledger: it is small and
// every department's profile lives there.
func (s *server) listDepartments(c *gin.Context) {
	out, ok := s.evaluate(c, "ListDepartments")
	if !ok {
		return
	}
	c.JSON(http.StatusOK, ListResult{Items: out})
}

// listDatasets serves the catalog from the index, or from the peer with
// ?source=ledger (owner filter and paging only: the chaincode has no others).
func (s *server) listDatasets(c *gin.Context) {
	fromLedger, err := source(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !fromLedger {
		s.forward(c, withoutSource(c.Request.URL))
		return
	}
	for _, f := range []string{"shareType", "grade"} {
		if c.Query(f) != "" {
			s.fail(c, domain.Errorf(domain.CodeInvalid, "filter %s is not available with source=ledger", f).WithDetail("field", f))
			return
		}
	}
	owner := c.Query("owner")
	if owner != "" {
		if err := domain.CheckMSPID("owner", owner); err != nil {
			s.fail(c, err)
			return
		}
	}
	limit, err := limitParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	bookmark, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		s.fail(c, err)
		return
	}
	out, ok := s.evaluate(c, "ListDatasets", owner, strconv.Itoa(limit), bookmark)
	if !ok {
		return
	}
	var page struct {
		Items    json.RawMessage `json:"items"`
		Bookmark string          `json:"bookmark"`
	}
	if err := json.Unmarshal(out, &page); err != nil {
		s.fail(c, fmt.Errorf("ListDatasets answer: %w", err))
		return
	}
	if len(page.Items) == 0 || string(page.Items) == "null" {
		page.Items = json.RawMessage("[]")
	}
	c.JSON(http.StatusOK, ListResult{Items: page.Items, NextCursor: encodeCursor(page.Bookmark)})
}

// The peer's bookmarks are raw composite keys (NUL bytes included); the API
// hands them out as opaque base64url cursors. The chaincode checks that a
// bookmark lies inside the list it is used for.
func encodeCursor(bookmark string) string {
	if bookmark == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(bookmark))
}

func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) == 0 || len(raw) > 1024 {
		return "", domain.Errorf(domain.CodeInvalid, "cursor is not one this list returned; start again without it").WithDetail("field", "cursor")
	}
	return string(raw), nil
}

func limitParam(c *gin.Context) (int, error) { return domain.ParseLimit("limit", c.Query("limit")) }

// getOne serves one record of kind from the index, or with ?source=ledger
// from the peer by evaluating txName. Who may read it is domain.CanRead's to
// say: the index applies it, and on the ledger path the gateway applies it
// itself, since every member's peer holds every record.
func (s *server) getOne(txName string, kind domain.Kind) gin.HandlerFunc {
	return func(c *gin.Context) {
		fromLedger, err := source(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !fromLedger {
			s.forward(c, withoutSource(c.Request.URL))
			return
		}
		id := c.Param("id")
		if err := domain.CheckID("id", id); err != nil {
			s.fail(c, err)
			return
		}
		out, ok := s.evaluate(c, txName, id)
		if !ok {
			return
		}
		if kind.PartiesOnly() {
			rec, err := domain.NewRecord(kind)
			if err != nil {
				s.fail(c, err)
				return
			}
			if err := json.Unmarshal(out, rec); err != nil {
				s.fail(c, fmt.Errorf("%s answer: %w", txName, err))
				return
			}
			p := person(c)
			if err := domain.CheckRead(domain.Actor{MSPID: p.MSPID, Role: p.Role}, kind, rec); err != nil {
				s.fail(c, err)
				return
			}
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", out)
	}
}
