package httpapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/govshare/ledger/gateway/indexclient"
)

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	f.ledger.readyErr = errors.New("down") // liveness does not depend on it
	if rec := f.do(t, "GET", "/healthz", "", ""); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name        string
		ledgerErr   error
		status      indexclient.Status
		statusErr   error
		wantCode    int
		wantReady   bool
		wantInError string
	}{
		{"ready", nil, indexclient.Status{Height: 12, LagBlocks: 1}, nil, 200, true, ""},
		{"peer unreachable", errors.New("peer 127.0.0.1:7101 is unreachable"), indexclient.Status{Height: 12}, nil, 503, false, "unreachable"},
		{"index unreachable", nil, indexclient.Status{}, errors.New("connection refused"), 503, false, "connection refused"},
		{"index too far behind", nil, indexclient.Status{Height: 12, LagBlocks: 500}, nil, 503, false, "500 blocks behind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ledger.readyErr = tt.ledgerErr
			f.index.status, f.index.statusErr = tt.status, tt.statusErr
			rec := f.do(t, "GET", "/readyz", "", "")
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantCode)
			}
			if (rec.Header().Get("Retry-After") != "") == tt.wantReady {
				t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
			var r Readiness
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.Ready != tt.wantReady || !strings.Contains(rec.Body.String(), tt.wantInError) {
				t.Fatalf("readiness %s", rec.Body)
			}
			if tt.wantReady && (r.Index.Height != 12 || r.Index.LagBlocks != 1) {
				t.Fatalf("index readiness %+v", r.Index)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.index.status = indexclient.Status{Height: 40, LagBlocks: 3}
	f.do(t, "POST", "/v1/usage", "operator", `{"requestId":"rq-1","calls":1}`)
	f.do(t, "GET", "/v1/datasets/ds-7", "operator", "")
	rec := f.do(t, "GET", "/metrics", "", "")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`gateway_http_requests_total{method="POST",route="/v1/usage",status="201"} 1`,
		`gateway_http_requests_total{method="GET",route="/v1/datasets/:id",status="200"} 1`,
		`gateway_http_request_duration_seconds_count{method="POST",route="/v1/usage",status="201"} 1`,
		`gateway_fabric_call_duration_seconds_count{call="submit",outcome="ok",tx="RecordUsage"} 1`,
		`gateway_index_wait_duration_seconds_count{outcome="ok"} 1`,
		`gateway_index_up 1`,
		`gateway_index_height_blocks 40`,
		`gateway_index_lag_blocks 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
