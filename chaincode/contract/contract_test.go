package contract

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// transactions is every transaction common.md fixes, as the gateway and the
// indexer call them.
var (
	submitTxs = []string{
		"ApproveRequest", "CreateRequest", "OpenCorrection", "PublishScores", "RateDelivery",
		"RecordContribution", "RecordDelivery", "RecordDestruction", "RecordReceipt", "RecordUsage",
		"RegisterDataset", "RejectRequest", "ResolveCorrection", "RetireDataset", "RevokeRequest",
		"SetDepartment", "UpdateDataset",
	}
	evaluateTxs = []string{
		"GetContribution", "GetCorrection", "GetDataset", "GetDelivery", "GetDepartment", "GetRequest",
		"GetScoreSnapshot", "GetUsage", "History", "ListDatasets", "ListDepartments",
	}
)

func TestMetadataListsEveryTransaction(t *testing.T) {
	h := newHarness(t)
	out := h.ok(op1, "org.hyperledger.fabric:GetMetadata")
	var md struct {
		Contracts map[string]struct {
			Default      bool `json:"default"`
			Transactions []struct {
				Name string   `json:"name"`
				Tag  []string `json:"tag"`
			} `json:"transactions"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal([]byte(out.payload), &md); err != nil {
		t.Fatal(err)
	}
	c, ok := md.Contracts[Name]
	if !ok || !c.Default {
		t.Fatalf("contract %q missing or not the default: %v", Name, md.Contracts)
	}
	var submits, evaluates []string
	for _, tx := range c.Transactions {
		switch {
		case slices.Contains(tx.Tag, "EVALUATE"):
			evaluates = append(evaluates, tx.Name)
		case slices.Contains(tx.Tag, "SUBMIT"):
			submits = append(submits, tx.Name)
		default:
			t.Errorf("transaction %s has tags %v", tx.Name, tx.Tag)
		}
	}
	slices.Sort(submits)
	slices.Sort(evaluates)
	if !slices.Equal(submits, submitTxs) {
		t.Errorf("submit transactions\n got %v\nwant %v", submits, submitTxs)
	}
	if !slices.Equal(evaluates, evaluateTxs) {
		t.Errorf("evaluate transactions\n got %v\nwant %v", evaluates, evaluateTxs)
	}
}

func TestPlainAndQualifiedNamesReachTheContract(t *testing.T) {
	h := newHarness(t)
	for _, fn := range []string{"GetDataset", "ledger:GetDataset"} {
		t.Run(fn, func(t *testing.T) {
			h.t = t
			h.reject(op1, domain.CodeNotFound, "dataset nope does not exist", fn, "nope")
		})
	}
}

func TestUnknownFunctionAndWrongArgumentCount(t *testing.T) {
	h := newHarness(t)
	out := h.invoke(op1, "DeleteEverything")
	if out.err == nil || !strings.Contains(out.err.Message, "DeleteEverything") {
		t.Errorf("unknown function: %+v", out.err)
	}
	out = h.invoke(op1, "GetDataset")
	if out.err == nil || len(out.writes) != 0 {
		t.Errorf("missing argument accepted: %+v", out)
	}
}

func TestDecodeInput(t *testing.T) {
	tests := []struct {
		name, arg, want string
	}{
		{"valid", `{"reason":"ok"}`, ""},
		{"empty", ``, "[invalid] DecisionInput JSON is empty"},
		{"not JSON", `reason=ok`, "[invalid] DecisionInput JSON: invalid character 'r'"},
		{"wrong type", `{"reason":3}`, "[invalid] DecisionInput JSON: json: cannot unmarshal number"},
		{"unknown field", `{"reason":"ok","reasn":"x"}`, `[invalid] DecisionInput JSON: json: unknown field "reasn"`},
		{"trailing data", `{"reason":"ok"} {}`, "[invalid] DecisionInput JSON has data after the object"},
		{"array", `[]`, "[invalid] DecisionInput JSON: json: cannot unmarshal array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in domain.DecisionInput
			err := decodeInput("DecisionInput", tt.arg, &in)
			if tt.want == "" {
				if err != nil || in.Reason != "ok" {
					t.Fatalf("decode = %v, %+v", err, in)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("decode error %v, want prefix %q", err, tt.want)
			}
			if _, ok := err.(*domain.Error); !ok {
				t.Fatalf("error %T is not a *domain.Error", err)
			}
		})
	}
}

func TestDerivedID(t *testing.T) {
	tests := []struct {
		txID, want string
		wantErr    bool
	}{
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "rq-0123456789abcdef01234567", false},
		{"0123456789abcdef01234567", "rq-0123456789abcdef01234567", false},
		{"short", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.txID, func(t *testing.T) {
			got, err := derivedID("rq-", tt.txID)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("derivedID = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
			if err == nil {
				if err := domain.CheckID("id", got); err != nil {
					t.Fatalf("derived ID is not a valid ID: %v", err)
				}
			}
		})
	}
}

func TestNewNamesTheDefaultContract(t *testing.T) {
	cc, err := contractapi.NewChaincode(New())
	if err != nil {
		t.Fatal(err)
	}
	if cc.DefaultContract != Name {
		t.Fatalf("default contract %q, want %q", cc.DefaultContract, Name)
	}
}
