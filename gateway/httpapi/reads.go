package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/indexclient"
)

// ListResult is the shape of every list answer (domain.List), its items
// passed on as the ledger or the index wrote them.
type ListResult = domain.List[json.RawMessage]

// caller is who a read through the index is for.
func caller(c *gin.Context) indexclient.Caller {
	p := person(c)
	return indexclient.Caller{MSPID: p.MSPID, Role: p.Role, User: p.User, RequestID: c.GetString(ctxRequestID)}
}

// relay answers an index read: its JSON as the index wrote it, or the
// domain error it answered, or 503 when the index cannot be asked.
func (s *server) relay(c *gin.Context, raw json.RawMessage, err error) {
	if err != nil {
		s.fail(c, indexFailure(err))
		return
	}
	c.Data(http.StatusOK, "application/json", raw)
}

// indexFailure is err as the caller sees it: the index's own refusal, or
// the index unavailable.
func indexFailure(err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	return &indexError{err: err}
}

// fromIndex serves a list route from the index with the caller's query.
func (s *server) fromIndex(list func(context.Context, indexclient.Caller, indexclient.Filter) (json.RawMessage, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, err := list(c.Request.Context(), caller(c), c.Request.URL.Query())
		s.relay(c, raw, err)
	}
}

// oneFromIndex serves a route of one thing, named by path parameter param,
// from the index.
func (s *server) oneFromIndex(param string, get func(context.Context, indexclient.Caller, string) (json.RawMessage, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, err := get(c.Request.Context(), caller(c), c.Param(param))
		s.relay(c, raw, err)
	}
}

// departmentScore serves one department's score from the index.
func (s *server) departmentScore(c *gin.Context) {
	raw, err := s.Index.DepartmentScore(c.Request.Context(), caller(c), c.Param("mspId"), c.Request.URL.Query())
	s.relay(c, raw, err)
}

// export streams a whole trace from the index as the file it answers.
func (s *server) export(c *gin.Context) {
	resp, err := s.Index.Export(c.Request.Context(), caller(c), c.Request.URL.Query())
	if err != nil {
		s.fail(c, indexFailure(err))
		return
	}
	defer resp.Body.Close()
	extra := map[string]string{}
	if v := resp.Header.Get("Content-Disposition"); v != "" {
		extra["Content-Disposition"] = v
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
func withoutSource(u *url.URL) indexclient.Filter {
	q := u.Query()
	q.Del("source")
	return q
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
	var items []json.RawMessage
	if err := json.Unmarshal(out, &items); err != nil {
		s.fail(c, fmt.Errorf("ListDepartments answer: %w", err))
		return
	}
	c.JSON(http.StatusOK, domain.NewList(items, ""))
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
		raw, err := s.Index.Datasets(c.Request.Context(), caller(c), withoutSource(c.Request.URL))
		s.relay(c, raw, err)
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
		Items    []json.RawMessage `json:"items"`
		Bookmark string            `json:"bookmark"`
	}
	if err := json.Unmarshal(out, &page); err != nil {
		s.fail(c, fmt.Errorf("ListDatasets answer: %w", err))
		return
	}
	c.JSON(http.StatusOK, domain.NewList(page.Items, encodeCursor(page.Bookmark)))
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
func (s *server) getOne(txName string, kind domain.Kind, fromIndex func(context.Context, indexclient.Caller, string) (json.RawMessage, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		fromLedger, err := source(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !fromLedger {
			raw, err := fromIndex(c.Request.Context(), caller(c), c.Param("id"))
			s.relay(c, raw, err)
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
