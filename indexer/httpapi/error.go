package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/govshare/ledger/chaincode/domain"
)

// writeError answers with the agreed error body. Errors without a domain
// code are bugs or store failures: logged in full, answered vaguely.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorStatus(w, r, 0, err)
}

func (s *Server) writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	var de *domain.Error
	body := domain.ErrorInfo{Code: domain.CodeInternal, Message: "internal error"}
	switch {
	case errors.As(err, &de):
		body = domain.ErrorInfo{Code: de.Code, Message: de.Message, Details: de.Details}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		body = domain.ErrorInfo{Code: domain.CodeUnavailable, Message: "request cancelled or timed out"}
	default:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == 0 {
		status = domain.HTTPStatus(body.Code)
	}
	writeJSON(w, status, domain.ErrorBody{Error: body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}
