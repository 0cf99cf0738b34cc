package contract

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestRegisterDataset(t *testing.T) {
	h := newHarness(t)
	in := datasetInput("households", domain.ShareConditional)
	var d domain.Dataset
	out := h.submit(op1, &d, "RegisterDataset", jsonOf(t, in))
	if d.ID != "households" || d.Owner != "Dept1MSP" || d.Version != 1 || d.Status != domain.DatasetActive ||
		!d.CreatedAt.Equal(h.now) || !d.UpdatedAt.Equal(h.now) || !slices.Equal(d.Fields, in.Fields) ||
		d.Grade != 2 || d.ShareType != domain.ShareConditional || d.SchemaHash != hashA || d.DerivedFrom == nil {
		t.Fatalf("registered %+v", d)
	}
	e := h.event(out, domain.EventDatasetRegistered, domain.KindDataset, "households", op1)
	if e.Status != "active" || e.DatasetID != "households" || e.Owner != "Dept1MSP" || e.Dataset == nil || e.Dataset.Title != in.Title {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindDataset, "households", "Dept1MSP")
	idx, _ := datasetOwnerKeyFor(t, "Dept1MSP", "households")
	if got := h.endorsers(idx); !slices.Equal(got, []string{"Dept1MSP"}) {
		t.Errorf("index key endorsers %v", got)
	}
	if len(out.writes) != 3 {
		t.Errorf("register wrote %d keys, want the entry, its index and the owner's anchor", len(out.writes))
	}

	// Without an ID, the ID comes from the transaction.
	var derived domain.Dataset
	in = datasetInput("", domain.ShareUnconditional)
	in.DerivedFrom = []string{"households"}
	out = h.submit(op2, &derived, "RegisterDataset", jsonOf(t, in))
	if derived.ID != "ds-"+out.txID[:24] || derived.Owner != "Dept2MSP" || !slices.Equal(derived.DerivedFrom, []string{"households"}) {
		t.Fatalf("derived dataset %+v (tx %s)", derived, out.txID)
	}
	var got domain.Dataset
	h.query(au3, &got, "GetDataset", derived.ID)
	if got.ID != derived.ID || got.Version != 1 {
		t.Fatalf("GetDataset %+v", got)
	}
}

func datasetOwnerKeyFor(t *testing.T, owner, id string) (string, error) {
	t.Helper()
	return (&txStub{}).CreateCompositeKey(datasetByOwner, []string{owner, id})
}

func TestRegisterDatasetRejects(t *testing.T) {
	valid := datasetInput("d1", domain.ShareConditional)
	tooMany := make([]string, domain.MaxDerivedFrom+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("p%d", i)
	}
	manyFields := make([]string, domain.MaxFields+1)
	for i := range manyFields {
		manyFields[i] = fmt.Sprintf("f%d", i)
	}
	tests := []struct {
		name  string
		as    who
		input string
		code  domain.Code
		want  string
	}{
		{"approver", ap1, jsonOf(t, valid), domain.CodeForbidden, "role operator is required to register a dataset; caller has role approver"},
		{"evaluator", ev3, jsonOf(t, valid), domain.CodeForbidden, "role operator is required to register a dataset"},
		{"duplicate ID", op2, with(t, valid, `{"id":"existing"}`), domain.CodeConflict, "dataset existing already exists"},
		{"unknown parent", op1, with(t, valid, `{"derivedFrom":["existing","ghost"]}`), domain.CodeNotFound, "derivedFrom dataset ghost does not exist"},
		{"bad ID", op1, with(t, valid, `{"id":"-x"}`), domain.CodeInvalid, `id "-x" must be`},
		{"ID too long", op1, with(t, valid, `{"id":"`+strings.Repeat("x", 65)+`"}`), domain.CodeInvalid, "must be 1-64 characters"},
		{"title missing", op1, with(t, valid, `{"title":""}`), domain.CodeInvalid, "title is required"},
		{"title too long", op1, with(t, valid, `{"title":"`+strings.Repeat("t", 201)+`"}`), domain.CodeInvalid, "title has 201 characters"},
		{"description too long", op1, with(t, valid, `{"description":"`+strings.Repeat("d", 2001)+`"}`), domain.CodeInvalid, "description has 2001 characters"},
		{"no fields", op1, with(t, valid, `{"fields":[]}`), domain.CodeInvalid, "fields must list at least one field"},
		{"blank field", op1, with(t, valid, `{"fields":["a"," "]}`), domain.CodeInvalid, "fields entry"},
		{"duplicate field", op1, with(t, valid, `{"fields":["a","a"]}`), domain.CodeInvalid, `fields lists "a" twice`},
		{"too many fields", op1, with(t, valid, `{"fields":`+jsonOf(t, manyFields)+`}`), domain.CodeInvalid, "more than 200"},
		{"schema hash", op1, with(t, valid, `{"schemaHash":"ABC"}`), domain.CodeInvalid, "schemaHash must be a lowercase hex SHA-256"},
		{"frequency", op1, with(t, valid, `{"updateFrequency":"sometimes"}`), domain.CodeInvalid, `updateFrequency "sometimes"`},
		{"share type", op1, with(t, valid, `{"shareType":"maybe"}`), domain.CodeInvalid, `shareType "maybe"`},
		{"open type", op1, with(t, valid, `{"openType":"ajar"}`), domain.CodeInvalid, `openType "ajar"`},
		{"grade 0", op1, with(t, valid, `{"grade":0}`), domain.CodeInvalid, "grade must be from 1 (public) to 4 (core), not 0"},
		{"grade 5", op1, with(t, valid, `{"grade":5}`), domain.CodeInvalid, "not 5"},
		{"open core data", op1, with(t, valid, `{"grade":4,"openType":"open"}`), domain.CodeInvalid, "a grade 4 (core) dataset cannot be open"},
		{"parent twice", op1, with(t, valid, `{"derivedFrom":["existing","existing"]}`), domain.CodeInvalid, `derivedFrom lists "existing" twice`},
		{"derived from itself", op1, with(t, valid, `{"derivedFrom":["d1"]}`), domain.CodeInvalid, `dataset "d1" cannot be derived from itself`},
		{"bad parent ID", op1, with(t, valid, `{"derivedFrom":["a b"]}`), domain.CodeInvalid, `derivedFrom entry "a b"`},
		{"too many parents", op1, with(t, valid, `{"derivedFrom":`+jsonOf(t, tooMany)+`}`), domain.CodeInvalid, "derivedFrom has 51 entries"},
		{"unknown field", op1, with(t, valid, `{"owner":"Dept2MSP"}`), domain.CodeInvalid, `unknown field "owner"`},
		{"grade as text", op1, with(t, valid, `{"grade":"2"}`), domain.CodeInvalid, "cannot unmarshal string"},
		{"empty", op1, ``, domain.CodeInvalid, "DatasetInput JSON is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("existing", domain.ShareConditional))
			h.reject(tt.as, tt.code, tt.want, "RegisterDataset", tt.input)
		})
	}
}

func TestUpdateDataset(t *testing.T) {
	h := newHarness(t)
	parent := h.registerDataset(op3, datasetInput("parent", domain.ShareUnconditional))
	d := h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
	h.advance(3600e9)

	in := datasetInput("ignored-id", domain.ShareUnconditional)
	in.Title, in.Fields, in.DerivedFrom = "Households v2", []string{"district", "households"}, []string{parent.ID}
	var u domain.Dataset
	out := h.submit(op1, &u, "UpdateDataset", d.ID, jsonOf(t, in))
	if u.ID != d.ID || u.Version != 2 || u.Title != "Households v2" || u.ShareType != domain.ShareUnconditional ||
		!u.CreatedAt.Equal(d.CreatedAt) || !u.UpdatedAt.Equal(h.now) || u.CreatedBy != d.CreatedBy ||
		!slices.Equal(u.DerivedFrom, []string{"parent"}) || u.Status != domain.DatasetActive {
		t.Fatalf("updated %+v", u)
	}
	e := h.event(out, domain.EventDatasetUpdated, domain.KindDataset, d.ID, op1)
	if e.Dataset == nil || e.Dataset.Version != 2 || e.Owner != "Dept1MSP" {
		t.Errorf("event %+v", e)
	}
	if len(out.writes) != 1 {
		t.Errorf("update wrote %d keys, want only the entry", len(out.writes))
	}
	h.wantEndorsers(domain.KindDataset, d.ID, "Dept1MSP")
	h.submit(op1, &u, "UpdateDataset", d.ID, jsonOf(t, in))
	if u.Version != 3 {
		t.Fatalf("third version is %d", u.Version)
	}
}

func TestUpdateDatasetRejects(t *testing.T) {
	valid := datasetInput("", domain.ShareConditional)
	tests := []struct {
		name  string
		as    who
		id    string
		input string
		code  domain.Code
		want  string
	}{
		{"approver of owner", ap1, "child", jsonOf(t, valid), domain.CodeForbidden, "role operator is required to update a dataset; caller has role approver"},
		{"operator of another department", op2, "child", jsonOf(t, valid), domain.CodeForbidden, "only Dept1MSP may update dataset child; caller is from Dept2MSP"},
		{"unknown dataset", op1, "ghost", jsonOf(t, valid), domain.CodeNotFound, "dataset ghost does not exist"},
		{"retired dataset", op1, "old", jsonOf(t, valid), domain.CodeConflict, "dataset old is retired; only an active dataset can be updated"},
		{"unknown parent", op1, "child", with(t, valid, `{"derivedFrom":["ghost"]}`), domain.CodeNotFound, "derivedFrom dataset ghost does not exist"},
		{"derived from itself", op1, "child", with(t, valid, `{"derivedFrom":["child"]}`), domain.CodeInvalid, `dataset "child" cannot be derived from itself`},
		{"cycle through a descendant", op1, "root", with(t, valid, `{"derivedFrom":["grandchild"]}`), domain.CodeInvalid, "derivedFrom would make dataset root its own ancestor"},
		{"bad ID", op1, "a b", jsonOf(t, valid), domain.CodeInvalid, `id "a b" must be`},
		{"bad input", op1, "child", with(t, valid, `{"grade":9}`), domain.CodeInvalid, "not 9"},
		{"unknown field", op1, "child", with(t, valid, `{"version":7}`), domain.CodeInvalid, `unknown field "version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("root", domain.ShareConditional))
			c := datasetInput("child", domain.ShareConditional)
			c.DerivedFrom = []string{"root"}
			h.registerDataset(op1, c)
			g := datasetInput("grandchild", domain.ShareConditional)
			g.DerivedFrom = []string{"child"}
			h.registerDataset(op1, g)
			h.registerDataset(op1, datasetInput("old", domain.ShareConditional))
			h.submit(op1, nil, "RetireDataset", "old", `{}`)
			h.reject(tt.as, tt.code, tt.want, "UpdateDataset", tt.id, tt.input)
		})
	}
}

func TestRetireDataset(t *testing.T) {
	h := newHarness(t)
	d := h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
	h.advance(60e9)
	var r domain.Dataset
	out := h.submit(op1, &r, "RetireDataset", d.ID, `{"reason":"replaced by census-2026"}`)
	if r.Status != domain.DatasetRetired || r.RetireReason != "replaced by census-2026" || r.Version != 1 || !r.UpdatedAt.Equal(h.now) {
		t.Fatalf("retired %+v", r)
	}
	e := h.event(out, domain.EventDatasetRetired, domain.KindDataset, d.ID, op1)
	if e.Status != "retired" || e.Dataset == nil || e.Dataset.Status != domain.DatasetRetired {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindDataset, d.ID, "Dept1MSP")

	h.reject(op1, domain.CodeConflict, "dataset households is already retired", "RetireDataset", d.ID, `{}`)
}

func TestRetireDatasetRejects(t *testing.T) {
	tests := []struct {
		name, id, input string
		as              who
		code            domain.Code
		want            string
	}{
		{"admin", "households", `{}`, ad1, domain.CodeForbidden, "role operator is required to retire a dataset; caller has role admin"},
		{"other department", "households", `{}`, op2, domain.CodeForbidden, "only Dept1MSP may retire dataset households; caller is from Dept2MSP"},
		{"unknown", "ghost", `{}`, op1, domain.CodeNotFound, "dataset ghost does not exist"},
		{"reason too long", "households", `{"reason":"` + strings.Repeat("r", 2001) + `"}`, op1, domain.CodeInvalid, "reason has 2001 characters"},
		{"bad JSON", "households", `nope`, op1, domain.CodeInvalid, "DecisionInput JSON"},
		{"bad ID", "", `{}`, op1, domain.CodeInvalid, "id is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
			h.reject(tt.as, tt.code, tt.want, "RetireDataset", tt.id, tt.input)
		})
	}
}

func TestGetDatasetRejects(t *testing.T) {
	h := newHarness(t)
	h.reject(au3, domain.CodeNotFound, "dataset ghost does not exist", "GetDataset", "ghost")
	h.reject(au3, domain.CodeInvalid, "id is required", "GetDataset", "")
}

func TestListDatasets(t *testing.T) {
	h := newHarness(t)
	// Dept1 owns d01..d05, Dept2 owns d06..d07, registered out of order.
	for _, id := range []string{"d03", "d01", "d05", "d02", "d04"} {
		h.registerDataset(op1, datasetInput(id, domain.ShareConditional))
	}
	for _, id := range []string{"d07", "d06"} {
		h.registerDataset(op2, datasetInput(id, domain.ShareConditional))
	}

	// pages walks the catalog and returns the IDs of each page.
	pages := func(owner, size string) [][]string {
		var out [][]string
		bookmark := ""
		for range 10 {
			var p DatasetPage
			h.query(au3, &p, "ListDatasets", owner, size, bookmark)
			var ids []string
			for _, d := range p.Items {
				if owner != "" && d.Owner != owner {
					t.Fatalf("listing %s returned %s's dataset %s", owner, d.Owner, d.ID)
				}
				ids = append(ids, d.ID)
			}
			out = append(out, ids)
			if p.Bookmark == "" {
				return out
			}
			bookmark = p.Bookmark
		}
		t.Fatal("pagination does not end")
		return nil
	}
	tests := []struct {
		name, owner, size string
		want              [][]string
	}{
		{"all, default size", "", "", [][]string{{"d01", "d02", "d03", "d04", "d05", "d06", "d07"}}},
		{"all, pages of 3", "", "3", [][]string{{"d01", "d02", "d03"}, {"d04", "d05", "d06"}, {"d07"}}},
		{"owner, pages of 2", "Dept1MSP", "2", [][]string{{"d01", "d02"}, {"d03", "d04"}, {"d05"}}},
		{"other owner", "Dept2MSP", "10", [][]string{{"d06", "d07"}}},
		{"owner with nothing", "Dept3MSP", "", [][]string{nil}},
		{"exact page", "Dept2MSP", "2", [][]string{{"d06", "d07"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			got := pages(tt.owner, tt.size)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("pages %v, want %v", got, tt.want)
			}
		})
	}
	h.t = t

	// A listed dataset is the whole, current entry.
	h.submit(op1, nil, "RetireDataset", "d02", `{}`)
	var p DatasetPage
	h.query(au3, &p, "ListDatasets", "Dept1MSP", "2", "")
	if p.Items[1].ID != "d02" || p.Items[1].Status != domain.DatasetRetired || p.Items[1].Title == "" {
		t.Fatalf("listed %+v", p.Items[1])
	}
}

func TestListDatasetsRejects(t *testing.T) {
	const notOurs = "bookmark (the list's cursor) is not one this list returned"
	tests := []struct {
		name, owner, size, bookmark string
		want                        string
	}{
		{"size 0", "", "0", "", `pageSize "0" must be an integer from 1 to 1000`},
		{"size too big", "", "1001", "", `pageSize "1001"`},
		{"size not a number", "", "ten", "", `pageSize "ten"`},
		{"bad owner", "no such msp!", "", "", "owner \"no such msp!\" is not a valid MSP ID"},
		{"bookmark past every key", "", "", "zzz", notOurs},
		{"bookmark into other kinds", "", "", "\x00c", notOurs},
		{"bookmark into another owner", "Dept2MSP", "", "\x00" + datasetByOwner + "\x00Dept1MSP\x00", notOurs},
		{"bookmark of the catalog on an owner's list", "Dept2MSP", "", "\x00dataset\x00d1\x00", notOurs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("d1", domain.ShareConditional))
			h.reject(au3, domain.CodeInvalid, tt.want, "ListDatasets", tt.owner, tt.size, tt.bookmark)
		})
	}
}
