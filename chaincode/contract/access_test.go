package contract

import (
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

func TestCallerIdentityIsRequired(t *testing.T) {
	notPEM, err := proto.Marshal(&msp.SerializedIdentity{Mspid: "Dept1MSP", IdBytes: []byte("not a certificate")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		creator []byte
		want    string
	}{
		{"no creator", nil, "the transaction's identity cannot be read"},
		{"not a serialized identity", []byte{0xff, 0x01, 0x02}, "the transaction's identity cannot be read"},
		{"identity bytes not a certificate", notPEM, "the transaction's identity cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.rejectAs(tt.creator, domain.CodeUnauthorized, tt.want, "SetDepartment", `{"name":"Civil Affairs","code":"CA-01","level":"municipal"}`)
		})
	}
}

func TestRoleChecks(t *testing.T) {
	dept := `{"name":"Civil Affairs","code":"CA-01","level":"municipal"}`
	tests := []struct {
		name string
		as   who
		want string
	}{
		{"wrong role", op1, "role admin is required to set a department profile; caller has role operator"},
		{"no role attribute", anon, "role admin is required to set a department profile; caller has no role attribute"},
		{"unknown role", who{"Dept1MSP", "superuser", "x"}, "caller has role superuser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.reject(tt.as, domain.CodeForbidden, tt.want, "SetDepartment", dept)
		})
	}
}

func TestCallerIsRecordedAsActor(t *testing.T) {
	h := newHarness(t)
	var d domain.Dataset
	out := h.submit(op1, &d, "RegisterDataset", jsonOf(t, datasetInput("households", domain.ShareConditional)))
	want := domain.Actor{MSPID: "Dept1MSP", Subject: "CN=op1,OU=client,O=Dept1MSP", Role: domain.RoleOperator}
	if d.CreatedBy != want || d.UpdatedBy != want || d.Owner != "Dept1MSP" {
		t.Fatalf("recorded %+v / %+v owner %s, want %+v", d.CreatedBy, d.UpdatedBy, d.Owner, want)
	}
	h.event(out, domain.EventDatasetRegistered, domain.KindDataset, "households", op1)
}

func TestRequireDepartment(t *testing.T) {
	a := domain.Actor{MSPID: "Dept2MSP", Role: domain.RoleOperator}
	if err := requireDepartment(a, "Dept2MSP", "x"); err != nil {
		t.Fatalf("own department refused: %v", err)
	}
	err := requireDepartment(a, "Dept1MSP", "update dataset d1")
	if err == nil || err.Error() != "[forbidden] only Dept1MSP may update dataset d1; caller is from Dept2MSP" {
		t.Fatalf("other department: %v", err)
	}
}
