package contract

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// transactions is every transaction common.md fixes, as the gateway and the
// indexer call them.
var (
	submitTxs = []string{
		"ApproveRequest", "AttestScores", "CreateRequest", "OpenCorrection", "PublishScores", "RateDelivery",
		"RecordContribution", "AcceptContribution", "RejectContribution", "RecordDelivery", "RecordDestruction", "RecordReceipt", "RecordUsage",
		"RegisterDataset", "RejectRequest", "ResolveCorrection", "RetireDataset", "RevokeRequest",
		"SetDepartment", "UpdateDataset",
	}
	evaluateTxs = []string{
		"GetAttestations", "GetContribution", "GetCorrection", "GetDataset", "GetDelivery", "GetDepartment", "GetRequest",
		"GetScoreSnapshot", "GetUsage", "History", "ListDatasets", "ListDepartments", "ListScoreSnapshots",
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
		{"invalid UTF-8", "{\"reason\":\"ok\xff\"}", "[invalid] DecisionInput JSON is not valid UTF-8 (at byte 13)"},
		{"invalid UTF-8 with a type error too", "{\"reason\":\xff}", "[invalid] DecisionInput JSON is not valid UTF-8 (at byte 10)"},
		{"lone surrogate", `{"reason":"ok\udc00"}`, `[invalid] DecisionInput JSON holds \udc00 at byte 13, a lone UTF-16 surrogate`},
		{"repeated key", `{"reason":"ok","reason":"approved by the minister"}`, `[invalid] DecisionInput JSON repeats the key "reason" in $`},
		{"case variant", `{"reason":"ok","Reason":"approved by the minister"}`, `[invalid] DecisionInput JSON has both "reason" and "Reason" in $; keys match case-insensitively`},
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

// useContract replaces the harness's chaincode with one whose contract
// configure has adjusted, still on the harness's peer clock.
func (h *harness) useContract(configure func(*Contract)) {
	h.t.Helper()
	c := New()
	c.Now = func() time.Time { return h.now.Add(h.peerOffset) }
	configure(c)
	cc, err := contractapi.NewChaincode(c)
	if err != nil {
		h.t.Fatal(err)
	}
	h.cc = cc
}

func TestClockSkew(t *testing.T) {
	tests := []struct {
		name       string
		maxSkew    time.Duration // 0: the default
		peerOffset time.Duration // how far the peer's clock is ahead of the timestamp
		want       string        // substring of the error; "" to succeed
	}{
		{"same clock", 0, 0, ""},
		{"timestamp 5 minutes behind", 0, 5 * time.Minute, ""},
		{"timestamp 5 minutes ahead", 0, -5 * time.Minute, ""},
		{"timestamp just over 5 minutes behind", 0, 5*time.Minute + time.Nanosecond,
			"transaction timestamp 2026-03-10T09:30:00.123456789Z is 5m0.000000001s from this peer's clock (2026-03-10T09:35:00.12345679Z); at most 5m0s is allowed"},
		{"timestamp two weeks behind", 0, 14 * 24 * time.Hour,
			"transaction timestamp 2026-03-10T09:30:00.123456789Z is 336h0m0s from this peer's clock (2026-03-24T09:30:00.123456789Z); at most 5m0s is allowed"},
		{"timestamp a day ahead", 0, -24 * time.Hour, "is 24h0m0s from this peer's clock (2026-03-09T09:30:00.123456789Z)"},
		{"narrow skew", 30 * time.Second, 31 * time.Second, "is 31s from this peer's clock (2026-03-10T09:30:31.123456789Z); at most 30s is allowed"},
		{"wide skew", time.Hour, 59 * time.Minute, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.useContract(func(c *Contract) { c.MaxSkew = tt.maxSkew })
			h.peerOffset = tt.peerOffset
			in := jsonOf(t, datasetInput("households", domain.ShareConditional))
			if tt.want == "" {
				h.submit(op1, nil, "RegisterDataset", in)
				return
			}
			h.reject(op1, domain.CodeInvalid, tt.want, "RegisterDataset", in)
		})
	}
}

// TestEveryWriteChecksTheClock calls each state-changing transaction, by
// each of the names that reach it, with a client clock an hour off: the
// check comes before anything else, so no arguments are needed. Reads are
// answered whatever the clock.
func TestEveryWriteChecksTheClock(t *testing.T) {
	h := newHarness(t)
	h.peerOffset = time.Hour
	for _, tx := range submitTxs {
		for _, name := range []string{tx, "ledger:" + tx, strings.ToLower(tx[:1]) + tx[1:]} {
			t.Run(name, func(t *testing.T) {
				h.t = t
				h.reject(op1, domain.CodeInvalid, "transaction timestamp 2026-03-10T09:30:00.123456789Z is 1h0m0s from this peer's clock", name)
			})
		}
	}
	for _, tx := range evaluateTxs {
		t.Run(tx, func(t *testing.T) {
			h.t = t
			// Without arguments most fail on their count, ListDepartments
			// answers; none on the clock.
			if out := h.invoke(au3, tx); out.err != nil && strings.Contains(out.err.Message, "transaction timestamp") {
				t.Fatalf("read %s was refused on the clock: %v", tx, out.err)
			}
		})
	}
}

// backwardsCase builds a ledger, moves the clock back, and says which call
// must now be refused as running backwards, with what message.
type backwardsCase struct {
	name string
	run  func(h *harness) (as who, want, fn string, args []string)
}

// runBackwards runs each case on a fresh ledger: the call must fail with
// [conflict] and the message, having written nothing.
func runBackwards(t *testing.T, tests []backwardsCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			as, want, fn, args := tt.run(h)
			h.reject(as, domain.CodeConflict, want, fn, args...)
		})
	}
}

func TestTransactionsRefuseAmbiguousJSON(t *testing.T) {
	ds := `"fields":["district"],"updateFrequency":"monthly","shareType":"conditional","openType":"restricted","grade":2`
	tests := []struct {
		name, fn, input, want string
	}{
		{"title twice", "RegisterDataset", `{"title":"Households",` + ds + `,"title":"Prisoners"}`, `DatasetInput JSON repeats the key "title" in $`},
		{"title in another case", "RegisterDataset", `{"title":"Households",` + ds + `,"TITLE":"Prisoners"}`, `DatasetInput JSON has both "title" and "TITLE" in $`},
		{"invalid UTF-8", "RegisterDataset", "{\"title\":\"House\xc0holds\"," + ds + `}`, "DatasetInput JSON is not valid UTF-8 (at byte 15)"},
		{"lone surrogate", "RegisterDataset", `{"title":"House\ud800holds",` + ds + `}`, `DatasetInput JSON holds \ud800 at byte 15`},
		{"escape sequence in a title", "RegisterDataset", `{"title":"House\u001b[8mholds",` + ds + `}`, "title holds the control character ESC (U+001B) at character 6"},
		{"line break in a title", "RegisterDataset", `{"title":"Households\nforged: row",` + ds + `}`, "title must be a single line; it holds a line feed (U+000A) at character 11"},
		{"bidi override in a description", "RegisterDataset", `{"title":"T","description":"\u202edetaerc",` + ds + `}`, "description holds the bidirectional formatting character U+202E"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.reject(op1, domain.CodeInvalid, tt.want, tt.fn, tt.input)
		})
	}
	// A description is multi-line: LF and TAB pass.
	h := newHarness(t)
	var d domain.Dataset
	h.submit(op1, &d, "RegisterDataset", `{"title":"T","description":"line one\n\tline two",`+ds+`}`)
	if d.Description != "line one\n\tline two" {
		t.Fatalf("description %q", d.Description)
	}
}
