package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
)

// Keys of values kept on the gin context.
const (
	ctxRequestID = "requestId"
	ctxPerson    = "person"
	ctxTxID      = "txId"
)

const requestIDHeader = domain.HeaderRequestID

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID keeps a sane client-supplied X-Request-Id so that a caller can
// follow its request through the logs, or makes one.
func (s *server) requestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !requestIDPattern.MatchString(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header(requestIDHeader, id)
	c.Next()
}

// recovery turns a panic into a 500 with the usual error body and a logged stack.
func (s *server) recovery(c *gin.Context) {
	defer func() {
		rec := recover()
		if rec == nil {
			return
		}
		if rec == http.ErrAbortHandler { // the server's way to drop a connection
			panic(rec)
		}
		s.Logger.Error("panic", "requestId", c.GetString(ctxRequestID), "route", c.FullPath(),
			"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			s.fail(c, fmt.Errorf("panic: %v", rec))
		}
		c.Abort()
	}()
	c.Next()
}

// observe logs one line per request and counts it by route template.
func (s *server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	elapsed := time.Since(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	s.metrics.observeRequest(c.Request.Method, route, status, elapsed)
	attrs := []slog.Attr{
		slog.String("requestId", c.GetString(ctxRequestID)),
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
		slog.Int("bytes", c.Writer.Size()),
		slog.String("remote", c.ClientIP()),
	}
	if p, ok := c.Get(ctxPerson); ok {
		attrs = append(attrs, slog.String("user", p.(*identity.Person).User))
	}
	if tx := c.GetString(ctxTxID); tx != "" {
		attrs = append(attrs, slog.String("txId", tx))
	}
	s.Logger.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
}

// deadline bounds the whole request, ledger and index calls included; a
// client that hangs up cancels them too, through the same context.
func (s *server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// limitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, and while reading otherwise.
func (s *server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.MaxBodyBytes {
		s.fail(c, tooLarge(s.MaxBodyBytes))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxBodyBytes)
	c.Next()
}

func tooLarge(limit int64) error {
	return domain.Errorf(domain.CodeTooLarge, "request body is larger than %d bytes", limit)
}

// authenticate maps the bearer token to a person of this department.
func (s *server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		s.fail(c, domain.Errorf(domain.CodeUnauthorized, "send Authorization: Bearer <token>"))
		return
	}
	if s.Sessions != nil { // says whether a session expired or was ended
		p, err := s.Sessions.Check(strings.TrimSpace(token))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Set(ctxPerson, p)
		c.Next()
		return
	}
	p, ok := s.Auth.Authenticate(strings.TrimSpace(token))
	if !ok {
		s.fail(c, domain.Errorf(domain.CodeUnauthorized, "the bearer token is not known here"))
		return
	}
	c.Set(ctxPerson, p)
	c.Next()
}

// allow admits only callers with one of roles. The chaincode checks again,
// authoritatively; this answers early with the rule that failed.
func (s *server) allow(roles ...domain.Role) gin.HandlerFunc {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	rule := "role " + strings.Join(names, " or ")
	return func(c *gin.Context) {
		p := person(c)
		if slices.Contains(roles, p.Role) {
			c.Next()
			return
		}
		err := domain.Errorf(domain.CodeForbidden, "%s %s needs %s; %s is %s", c.Request.Method, c.FullPath(), rule, p.User, p.Role).
			WithDetail("rule", rule).WithDetail("role", string(p.Role))
		if why := c.GetString(ctxRoleRefused); why != "" { // honourRoles
			err = domain.Errorf(domain.CodeForbidden, "%s %s needs %s; %s", c.Request.Method, c.FullPath(), rule, why).
				WithDetail("rule", rule).WithDetail("policy", why)
		}
		s.fail(c, err)
	}
}

func person(c *gin.Context) *identity.Person {
	return c.MustGet(ctxPerson).(*identity.Person)
}

// MinBlockHeader carries a block a caller has seen committed (the
// blockNumber of a write's answer, possibly through another department's
// gateway). The gateway handles the request only once its own indexer, and
// so its own peer, has that block: a receipt sent to the consumer's gateway
// right after the owner's delivery then finds the delivery.
const MinBlockHeader = "X-Min-Block"

// awaitMinBlock holds a request until this department has the block named
// in X-Min-Block, for at most IndexWait; past that it answers 503 with
// Retry-After, having changed nothing.
func (s *server) awaitMinBlock(c *gin.Context) {
	v := c.GetHeader(MinBlockHeader)
	if v == "" {
		c.Next()
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		s.fail(c, domain.Errorf(domain.CodeInvalid, "%s %q must be a block number", MinBlockHeader, v).WithDetail("field", MinBlockHeader))
		return
	}
	if err := s.Index.WaitForBlock(c.Request.Context(), n, s.IndexWait); err != nil {
		s.Logger.Info("min block not reached", "requestId", c.GetString(ctxRequestID), "block", n, "error", err)
		s.fail(c, domain.Errorf(domain.CodeUnavailable, "this department has not reached block %d yet; nothing was done, retry", n))
		return
	}
	c.Next()
}
