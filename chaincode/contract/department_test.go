package contract

import (
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestSetDepartment(t *testing.T) {
	h := newHarness(t)
	h.ledger = newFakeLedger() // no profiles yet
	in := domain.DepartmentInput{Name: "Civil Affairs Bureau", Code: "CA-01", Level: domain.LevelMunicipal}
	var d domain.Department
	out := h.submit(ad1, &d, "SetDepartment", jsonOf(t, in))
	want := domain.Department{
		MSPID: "Dept1MSP", Name: in.Name, Code: in.Code, Level: in.Level, UpdatedAt: h.now,
		UpdatedBy: domain.Actor{MSPID: "Dept1MSP", Subject: ad1.subject(), Role: domain.RoleAdmin},
	}
	if d != want {
		t.Fatalf("department %+v, want %+v", d, want)
	}
	e := h.event(out, domain.EventDepartmentUpdated, domain.KindDepartment, "Dept1MSP", ad1)
	if e.Department == nil || *e.Department != want || e.Status != "" || e.Owner != "" {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindDepartment, "Dept1MSP", "Dept1MSP")

	// A second profile replaces the first; the key and its owner stay.
	h.advance(1e9)
	in.Level = domain.LevelProvincial
	h.submit(ad1, &d, "SetDepartment", jsonOf(t, in))
	var got domain.Department
	h.query(au3, &got, "GetDepartment", "Dept1MSP")
	if got.Level != domain.LevelProvincial || !got.UpdatedAt.Equal(h.now) {
		t.Fatalf("after update: %+v", got)
	}

	// Another department's admin writes its own profile, never Dept1's.
	h.submit(ad2, &d, "SetDepartment", jsonOf(t, domain.DepartmentInput{Name: "Health Commission", Code: "HC", Level: domain.LevelCounty}))
	if d.MSPID != "Dept2MSP" {
		t.Fatalf("admin of Dept2 wrote %s", d.MSPID)
	}
	h.wantEndorsers(domain.KindDepartment, "Dept2MSP", "Dept2MSP")
}

func TestSetDepartmentRejects(t *testing.T) {
	valid := domain.DepartmentInput{Name: "Civil Affairs", Code: "CA-01", Level: domain.LevelMunicipal}
	tests := []struct {
		name  string
		as    who
		input string
		code  domain.Code
		want  string
	}{
		{"operator", op1, jsonOf(t, valid), domain.CodeForbidden, "role admin is required to set a department profile; caller has role operator"},
		{"approver", ap1, jsonOf(t, valid), domain.CodeForbidden, "role admin is required"},
		{"name missing", ad1, with(t, valid, `{"name":"  "}`), domain.CodeInvalid, "name is required"},
		{"name too long", ad1, with(t, valid, `{"name":"`+strings.Repeat("n", 201)+`"}`), domain.CodeInvalid, "name has 201 characters"},
		{"code missing", ad1, with(t, valid, `{"code":""}`), domain.CodeInvalid, "code is required"},
		{"code malformed", ad1, with(t, valid, `{"code":"CA 01"}`), domain.CodeInvalid, "code \"CA 01\" must be"},
		{"level unknown", ad1, with(t, valid, `{"level":"galactic"}`), domain.CodeInvalid, "level \"galactic\" must be one of"},
		{"unknown field", ad1, with(t, valid, `{"mspId":"Dept2MSP"}`), domain.CodeInvalid, `unknown field "mspId"`},
		{"not JSON", ad1, `{"name":`, domain.CodeInvalid, "DepartmentInput JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.reject(tt.as, tt.code, tt.want, "SetDepartment", tt.input)
		})
	}
}

func TestGetAndListDepartments(t *testing.T) {
	h := newHarness(t)
	h.ledger = newFakeLedger() // no profiles yet
	var list []domain.Department
	h.query(au3, &list, "ListDepartments")
	if list == nil || len(list) != 0 {
		t.Fatalf("empty consortium listed %v, want []", list)
	}
	// Written out of order; listed by MSP ID.
	h.submit(ad2, nil, "SetDepartment", `{"name":"Health","code":"HC","level":"county"}`)
	h.submit(ad1, nil, "SetDepartment", `{"name":"Civil Affairs","code":"CA","level":"municipal"}`)
	h.registerDataset(op1, datasetInput("not-a-department", domain.ShareConditional))
	h.query(au3, &list, "ListDepartments")
	if len(list) != 2 || list[0].MSPID != "Dept1MSP" || list[1].MSPID != "Dept2MSP" {
		t.Fatalf("listed %+v", list)
	}
	var d domain.Department
	h.query(op3, &d, "GetDepartment", "Dept2MSP")
	if d.Name != "Health" {
		t.Fatalf("got %+v", d)
	}
	h.reject(op3, domain.CodeNotFound, "department Dept9MSP does not exist", "GetDepartment", "Dept9MSP")
	h.reject(op3, domain.CodeInvalid, "is not a valid MSP ID", "GetDepartment", "bad msp!")
}
