package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/indexclient"
)

// idMode says whether a write route takes the entity's ID from its path and
// whether its body may be left out.
type idMode int

const (
	noID          idMode = iota // POST /v1/usage: everything in the body
	pathID                      // POST /v1/deliveries/:id/receipt: ID first, then the body
	pathIDEmptyOK               // as pathID, and an empty body means {} (every field optional)
)

// WriteResult is the answer to a committed write; the entity sits beside
// txId and blockNumber under its kind's name.
type WriteResult map[string]any

// submit builds the handler of one write route: bind the body into the
// domain input T, validate it early for a clear 400, then submit txName as
// the caller and answer with the entity once committed and indexed.
func submit[T any](s *server, status int, entity, txName string, mode idMode, validate func(T) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		var args []string
		if mode != noID {
			id := c.Param("id")
			if err := domain.CheckID("id", id); err != nil {
				s.fail(c, err)
				return
			}
			args = append(args, id)
		}
		var in T
		if err := bindJSON(c, &in, mode == pathIDEmptyOK); err != nil {
			s.fail(c, err)
			return
		}
		if err := validate(in); err != nil {
			s.fail(c, err)
			return
		}
		if ds, ok := any(in).(domain.DatasetInput); ok && ds.ID != "" && mode != noID && ds.ID != args[0] {
			s.fail(c, domain.Errorf(domain.CodeInvalid, "id %q in the body differs from %q in the path", ds.ID, args[0]))
			return
		}
		body, err := json.Marshal(in)
		if err != nil {
			s.fail(c, fmt.Errorf("encode %s input: %w", txName, err))
			return
		}
		s.write(c, status, entity, txName, append(args, string(body))...)
	}
}

// write submits one transaction and answers once the department's index has
// applied its block, so that a GET right after sees the change. If the index
// is slow the write still succeeded: it answers anyway, with X-Index-Wait
// saying so, rather than invite a retry that would duplicate it.
func (s *server) write(c *gin.Context, status int, entity, txName string, args ...string) {
	ctx := c.Request.Context()
	key, err := idempotencyKey(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	start := time.Now()
	result, txID, block, replayed, err := s.submitWrite(c, key, txName, args)
	s.metrics.observeFabric("submit", txName, err, time.Since(start))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(ctxTxID, txID)
	if replayed {
		c.Header(ReplayedHeader, "true")
		s.Logger.Info("write replayed from the ledger", "requestId", c.GetString(ctxRequestID), "tx", txName, "txId", txID, "block", block)
	}
	if !json.Valid(result) {
		s.fail(c, &committedError{txID: txID, err: fmt.Errorf("%s returned %d bytes that are not JSON", txName, len(result))})
		return
	}

	start = time.Now()
	werr := s.Index.WaitForBlock(ctx, block, s.IndexWait)
	outcome := "ok"
	switch {
	case errors.Is(werr, indexclient.ErrWaitTimeout):
		outcome = "timeout"
	case werr != nil:
		outcome = "error"
	}
	s.metrics.indexWait.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	if werr != nil {
		c.Header("X-Index-Wait", outcome)
		s.Logger.Warn("index did not confirm a committed block", "requestId", c.GetString(ctxRequestID),
			"txId", txID, "block", block, "error", werr)
	}
	c.JSON(status, WriteResult{"txId": txID, "blockNumber": block, entity: json.RawMessage(result)})
}

// committedError is an internal failure after the transaction committed: the
// caller must learn the txId so as not to repeat the write.
type committedError struct {
	txID string
	err  error
}

func (e *committedError) Error() string {
	return "transaction " + e.txID + " committed, but " + e.err.Error()
}
func (e *committedError) Unwrap() error         { return e.err }
func (e *committedError) TransactionID() string { return e.txID }

// bindJSON decodes the body, which must be exactly one JSON object, into
// in, unknown fields refused, and turns decoding failures into invalid or
// too_large errors that name the field. Trailing data is refused rather
// than ignored: the input is re-encoded before it reaches the chaincode,
// whose strict decoder would otherwise never see it. So is what the decoder
// would silently repair or pick for the caller (domain.CheckJSON): invalid
// UTF-8, lone surrogate escapes, and a key given twice, also in another
// case ("title" and "TITLE"); the chaincode applies the same check. The body
// is read whole first (it is bounded by limitBody), since re-encoding would
// hide all three from the chaincode.
func bindJSON(c *gin.Context, in any, emptyOK bool) error {
	if emptyOK && c.Request.ContentLength == 0 {
		return nil
	}
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return tooLarge(maxErr.Limit)
		}
		return domain.Errorf(domain.CodeInvalid, "the request body cannot be read: %v", err)
	}
	const subject = "the request body"
	if !utf8.Valid(raw) {
		// Before decoding: the decoder would turn the bytes into U+FFFD.
		return domain.CheckJSON(subject, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(in)
	if err == nil {
		if _, next := dec.Token(); !errors.Is(next, io.EOF) {
			return domain.Errorf(domain.CodeInvalid, "the request body holds more than one JSON value; send exactly one object")
		}
		return domain.CheckJSON(subject, raw)
	}
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		timeErr   *time.ParseError
	)
	switch {
	case errors.Is(err, io.EOF):
		if emptyOK {
			return nil
		}
		return domain.Errorf(domain.CodeInvalid, "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.CodeInvalid, "the request body ends in the middle of the JSON")
	case errors.As(err, &syntaxErr):
		return domain.Errorf(domain.CodeInvalid, "the request body is not valid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return domain.Errorf(domain.CodeInvalid, "the request body must be a JSON object, not %s", typeErr.Value).WithDetail("expected", "object")
		}
		return domain.Errorf(domain.CodeInvalid, "field %s must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value).
			WithDetail("field", typeErr.Field)
	case errors.As(err, &timeErr):
		return domain.Errorf(domain.CodeInvalid, "time %s is not RFC 3339 (like 2026-01-31T23:59:59Z)", timeErr.Value)
	case strings.Contains(err.Error(), "unknown field"):
		field := err.Error()[strings.Index(err.Error(), "unknown field")+len("unknown field "):]
		field = strings.Trim(field, `"`)
		return domain.Errorf(domain.CodeInvalid, "unknown field %q", field).WithDetail("field", field)
	}
	return domain.Errorf(domain.CodeInvalid, "the request body cannot be read: %v", err)
}

// jsonKind names a Go kind the way an API user thinks of it.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "slice", kind == "array":
		return "an array"
	case kind == "bool":
		return "true or false"
	case kind == "struct", kind == "map":
		return "an object"
	}
	return kind
}

// decision checks a reason, which rejections and revocations must give.
func decision(required bool) func(domain.DecisionInput) error {
	return func(in domain.DecisionInput) error { return in.Validate(required) }
}

// validateRequest checks a request against the gateway's clock; the
// chaincode checks again against the transaction's timestamp.
func (s *server) validateRequest(in domain.RequestInput) error { return in.Validate(s.Now()) }
