package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
)

// ErrorBody is the shape of every error answer, the indexer's too.
type ErrorBody = domain.ErrorBody

// ErrorInfo says what went wrong.
type ErrorInfo = domain.ErrorInfo

// transactionError is an error that knows the transaction it failed in.
type transactionError interface {
	TransactionID() string
}

// fail answers err with its domain code's status and stops the chain. An
// error without a domain code is a bug here, so its text stays in the log
// and the caller gets the request ID to quote.
func (s *server) fail(c *gin.Context, err error) {
	info := ErrorInfo{Code: domain.CodeInternal}
	var de *domain.Error
	if errors.As(err, &de) {
		info.Code, info.Message = de.Code, de.Message
		if len(de.Details) > 0 {
			info.Details = de.Details
		}
	} else {
		info.Message = "internal error; quote request ID " + c.GetString(ctxRequestID) + " to the operators"
	}
	var te transactionError
	if errors.As(err, &te) {
		info.TxID = te.TransactionID()
	}
	status := domain.HTTPStatus(info.Code)
	switch status {
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", strconv.Itoa(int(s.RetryAfter.Seconds())))
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="govshare"`)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.Logger.LogAttrs(c.Request.Context(), level, "request failed",
		slog.String("requestId", c.GetString(ctxRequestID)),
		slog.String("route", c.FullPath()),
		slog.Int("status", status),
		slog.String("code", string(info.Code)),
		slog.String("txId", info.TxID),
		slog.String("error", err.Error()))
	if info.TxID != "" {
		c.Set(ctxTxID, info.TxID)
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: info})
}

func (s *server) noRoute(c *gin.Context) {
	s.fail(c, domain.Errorf(domain.CodeNotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path))
}

func (s *server) noMethod(c *gin.Context) {
	// 405 is not among the API's error statuses; the body still has the usual shape.
	c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ErrorBody{Error: ErrorInfo{
		Code:    domain.CodeInvalid,
		Message: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path,
	}})
}
