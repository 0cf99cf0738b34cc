package domain

import (
	"strings"
	"testing"
)

func TestCanRead(t *testing.T) {
	dl := &Delivery{ID: "dl-1", Owner: "Dept1MSP", Requester: "Dept2MSP"}
	ds := &Dataset{ID: "ds-1", Owner: "Dept1MSP"}
	us := &Usage{ID: "us-1", Owner: "Dept1MSP", Consumer: "Dept2MSP"}
	ct := &Contribution{ID: "ct-1", Owner: "Dept1MSP", Contributor: "Dept3MSP"}
	rq := &Request{ID: "rq-1", Owner: "Dept1MSP", Requester: "Dept2MSP", CoApprovers: []string{"BureauMSP"}}
	tests := []struct {
		name  string
		actor Actor
		kind  Kind
		rec   Record
		want  bool
	}{
		{"owner reads its delivery", Actor{MSPID: "Dept1MSP", Role: RoleOperator}, KindDelivery, dl, true},
		{"requester reads its delivery", Actor{MSPID: "Dept2MSP", Role: RoleApprover}, KindDelivery, dl, true},
		{"third department", Actor{MSPID: "Dept3MSP", Role: RoleOperator}, KindDelivery, dl, false},
		{"auditor of another department", Actor{MSPID: "BureauMSP", Role: RoleAuditor}, KindDelivery, dl, true},
		{"catalog entry is public", Actor{MSPID: "Dept3MSP", Role: RoleOperator}, KindDataset, ds, true},
		{"consumer reads its usage", Actor{MSPID: "Dept2MSP", Role: RoleOperator}, KindUsage, us, true},
		{"contributor reads its contribution", Actor{MSPID: "Dept3MSP", Role: RoleOperator}, KindContribution, ct, true},
		{"other reads a contribution", Actor{MSPID: "Dept2MSP", Role: RoleOperator}, KindContribution, ct, false},
		{"the bureau that is to co-approve reads the request", Actor{MSPID: "BureauMSP", Role: RoleApprover}, KindRequest, rq, true},
		{"a third department does not", Actor{MSPID: "Dept3MSP", Role: RoleApprover}, KindRequest, rq, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanRead(tt.actor, tt.kind, tt.rec); got != tt.want {
				t.Fatalf("CanRead = %v, want %v", got, tt.want)
			}
			err := CheckRead(tt.actor, tt.kind, tt.rec)
			if (err == nil) != tt.want {
				t.Fatalf("CheckRead = %v", err)
			}
			if err != nil && (ErrorCode(err) != CodeForbidden || !strings.Contains(err.Error(), "only the departments party to "+tt.rec.RecordID()) ||
				!strings.Contains(err.Error(), tt.actor.MSPID+" is not a party")) {
				t.Fatalf("CheckRead = %v", err)
			}
		})
	}
	if ReadableParty(Actor{MSPID: "BureauMSP", Role: RoleAuditor}) != "" || ReadableParty(Actor{MSPID: "Dept1MSP", Role: RoleOperator}) != "Dept1MSP" {
		t.Error("ReadableParty")
	}
}

func TestParseLimit(t *testing.T) {
	for v, want := range map[string]int{"": DefaultLimit, "1": 1, "1000": MaxLimit} {
		if n, err := ParseLimit("limit", v); err != nil || n != want {
			t.Errorf("ParseLimit(%q) = %d, %v", v, n, err)
		}
	}
	for _, v := range []string{"0", "1001", "x", "-1"} {
		if _, err := ParseLimit("limit", v); ErrorCode(err) != CodeInvalid {
			t.Errorf("ParseLimit(%q) = %v", v, err)
		}
	}
}

func TestStatusesValid(t *testing.T) {
	for _, s := range DeliveryStatuses {
		if !s.Valid() {
			t.Errorf("%s", s)
		}
	}
	if DeliveryStatus("lost").Valid() || CorrectionStatus("").Valid() || !CorrectionResolved.Valid() {
		t.Error("status validity")
	}
}
