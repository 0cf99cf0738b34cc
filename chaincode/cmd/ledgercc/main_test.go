package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/contract"
)

func TestRunNeedsItsEnvironment(t *testing.T) {
	tests := []struct {
		name, ccid, addr string
		want             []string
	}{
		{"neither", "", "", []string{"CHAINCODE_ID is not set", "CHAINCODE_SERVER_ADDRESS is not set"}},
		{"no address", "ledger_1:abc", "", []string{"CHAINCODE_SERVER_ADDRESS is not set"}},
		{"no ID", "", "127.0.0.1:0", []string{"CHAINCODE_ID is not set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHAINCODE_ID", tt.ccid)
			t.Setenv("CHAINCODE_SERVER_ADDRESS", tt.addr)
			err := run(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				t.Fatal("run started without its environment")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRunFailsOnABadAddress(t *testing.T) {
	t.Setenv("CHAINCODE_ID", "ledger_1:abc")
	t.Setenv("CHAINCODE_SERVER_ADDRESS", "not-an-address")
	err := run(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "serve chaincode on not-an-address") {
		t.Fatalf("run = %v", err)
	}
}

func TestMaxClockSkew(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", contract.DefaultMaxSkew, false},
		{"90s", 90 * time.Second, false},
		{"1h", time.Hour, false},
		{"0s", 0, true},
		{"-5m", 0, true},
		{"5", 0, true},
		{"five minutes", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv("CHAINCODE_MAX_CLOCK_SKEW", tt.value)
			got, err := maxClockSkew()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("maxClockSkew = %v, %v; want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "CHAINCODE_MAX_CLOCK_SKEW") {
				t.Errorf("error %q does not name the variable", err)
			}
		})
	}
}

func TestRunRefusesABadClockSkew(t *testing.T) {
	t.Setenv("CHAINCODE_ID", "ledger_1:abc")
	t.Setenv("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:0")
	t.Setenv("CHAINCODE_MAX_CLOCK_SKEW", "soon")
	err := run(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), `CHAINCODE_MAX_CLOCK_SKEW "soon"`) {
		t.Fatalf("run = %v", err)
	}
}
