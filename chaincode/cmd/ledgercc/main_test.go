package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
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
