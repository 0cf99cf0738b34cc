package indexclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

// An error answer comes back as the domain error its body carries, and a
// body without one as the code of its status.
func TestParseResponseError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/requests/rq-1":
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":"forbidden","message":"Dept3MSP is not a party","details":{"field":"id"}}}`)
		case "/v1/deliveries":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		case "/v1/audit/export":
			if r.Header.Get("X-Caller-Role") != "auditor" || r.URL.Query().Get("format") != "csv" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"error":{"code":"invalid","message":"no"}}`)
				return
			}
			w.Header().Set("Content-Type", "text/csv")
			_, _ = io.WriteString(w, "txId\n")
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Request(ctx, Caller{MSPID: "Dept3MSP", Role: domain.RoleOperator}, "rq-1")
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeForbidden || de.Message != "Dept3MSP is not a party" || de.Details["field"] != "id" {
		t.Fatalf("Request = %v", err)
	}
	_, err = c.Deliveries(ctx, Caller{MSPID: "Dept3MSP"}, nil)
	if domain.ErrorCode(err) != domain.CodeInternal {
		t.Fatalf("Deliveries = %v", err)
	}
	resp, err := c.Export(ctx, Caller{MSPID: "BureauMSP", Role: domain.RoleAuditor}, Filter{"format": {"csv"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "txId\n" || resp.Header.Get("Content-Type") != "text/csv" {
		t.Fatalf("Export = %q", b)
	}
	if _, err := c.Export(ctx, Caller{MSPID: "BureauMSP", Role: domain.RoleOperator}, nil); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("Export = %v", err)
	}
}
