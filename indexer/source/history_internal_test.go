package source

import (
	"errors"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestParseHistory(t *testing.T) {
	out := []byte(`[{"txId":"t1","timestamp":"2026-03-01T00:00:00Z","isDelete":false,"value":{"id":"ds1","title":"a"}},` +
		`{"txId":"t2","timestamp":"2026-03-02T00:00:00Z","isDelete":true,"value":null}]`)
	vs, err := parseHistory(out)
	if err != nil || len(vs) != 2 || vs[0].TxID != "t1" || string(vs[0].Value) != `{"id":"ds1","title":"a"}` || !vs[1].Delete || vs[1].Value != nil {
		t.Fatalf("history %+v, %v", vs, err)
	}
	if _, err := parseHistory([]byte("{")); err == nil {
		t.Fatal("a broken answer parsed")
	}
}

func TestEvaluateError(t *testing.T) {
	detailed, _ := status.New(codes.Aborted, "evaluate call to endorser returned error").WithDetails(&gateway.ErrorDetail{
		Address: "peer0", MspId: "Dept1MSP", Message: "chaincode response 500, [not_found] dataset ds1 does not exist"})
	tests := []struct {
		name string
		err  error
		want domain.Code
	}{
		{"chaincode error in the status message", status.Error(codes.Unknown, "chaincode response 500, [not_found] dataset ds1 does not exist"), domain.CodeNotFound},
		{"chaincode error in a detail", detailed.Err(), domain.CodeNotFound},
		{"the peer unreachable", status.Error(codes.Unavailable, "connection refused"), domain.CodeInternal},
		{"an internal chaincode error stays the peer's", errors.New("[internal] read history: boom"), domain.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.ErrorCode(evaluateError("history of dataset ds1", tt.err)); got != tt.want {
				t.Fatalf("code %s, want %s", got, tt.want)
			}
		})
	}
}
