package domain

import (
	"strings"
	"testing"
	"time"
)

func validDataset() DatasetInput {
	return DatasetInput{
		ID: "hh-2026", Title: "Households", Description: "Registered households",
		Fields: []string{"id", "district"}, UpdateFrequency: "daily",
		ShareType: ShareConditional, OpenType: OpenRestricted, Grade: 2, DerivedFrom: []string{"census-2020"},
	}
}

func TestDatasetInputValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*DatasetInput)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*DatasetInput) {}, ""},
		{"id optional", func(d *DatasetInput) { d.ID = "" }, ""},
		{"bad id", func(d *DatasetInput) { d.ID = "has space" }, "id"},
		{"id too long", func(d *DatasetInput) { d.ID = strings.Repeat("a", MaxIDLen+1) }, "id"},
		{"no title", func(d *DatasetInput) { d.Title = "  " }, "title is required"},
		{"title too long", func(d *DatasetInput) { d.Title = strings.Repeat("é", MaxTitleLen+1) }, "title has"},
		{"description too long", func(d *DatasetInput) { d.Description = strings.Repeat("x", MaxTextLen+1) }, "description has"},
		{"no fields", func(d *DatasetInput) { d.Fields = nil }, "fields must list"},
		{"duplicate field", func(d *DatasetInput) { d.Fields = []string{"a", "a"} }, "twice"},
		{"empty field", func(d *DatasetInput) { d.Fields = []string{""} }, "fields entry"},
		{"bad schema hash", func(d *DatasetInput) { d.SchemaHash = "ABC" }, "schemaHash"},
		{"bad frequency", func(d *DatasetInput) { d.UpdateFrequency = "sometimes" }, "updateFrequency"},
		{"bad share type", func(d *DatasetInput) { d.ShareType = "maybe" }, "shareType"},
		{"bad open type", func(d *DatasetInput) { d.OpenType = "ajar" }, "openType"},
		{"grade 0", func(d *DatasetInput) { d.Grade = 0 }, "grade"},
		{"grade 5", func(d *DatasetInput) { d.Grade = 5 }, "grade"},
		{"open core data", func(d *DatasetInput) { d.Grade = 4; d.OpenType = OpenOpen }, "cannot be open"},
		{"derived from itself", func(d *DatasetInput) { d.DerivedFrom = []string{d.ID} }, "itself"},
		{"derived twice", func(d *DatasetInput) { d.DerivedFrom = []string{"a", "a"} }, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validDataset()
			tt.mutate(&in)
			err := in.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if ErrorCode(err) != CodeInvalid {
				t.Errorf("code = %s, want invalid", ErrorCode(err))
			}
		})
	}
}

func TestRequestInputValidate(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	valid := RequestInput{DatasetID: "d1", Purpose: "benefit checks", LegalBasis: "Regulation 12", ValidUntil: now.Add(24 * time.Hour)}
	tests := []struct {
		name   string
		mutate func(*RequestInput)
		want   string
	}{
		{"valid", func(*RequestInput) {}, ""},
		{"no dataset", func(r *RequestInput) { r.DatasetID = "" }, "datasetId"},
		{"no purpose", func(r *RequestInput) { r.Purpose = "" }, "purpose"},
		{"no legal basis", func(r *RequestInput) { r.LegalBasis = "" }, "legalBasis"},
		{"no validUntil", func(r *RequestInput) { r.ValidUntil = time.Time{} }, "validUntil is required"},
		{"past validUntil", func(r *RequestInput) { r.ValidUntil = now }, "not in the future"},
		{"too far", func(r *RequestInput) { r.ValidUntil = now.AddDate(6, 0, 0) }, "5 years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid
			tt.mutate(&in)
			err := in.Validate(now)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRequestStatusAt(t *testing.T) {
	until := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := Request{Status: RequestApproved, ValidUntil: until}
	if s := r.StatusAt(until.Add(-time.Second)); s != RequestApproved {
		t.Errorf("before validUntil: %s", s)
	}
	if s := r.StatusAt(until); s != RequestExpired {
		t.Errorf("at validUntil: %s", s)
	}
	r.Status = RequestRevoked
	if s := r.StatusAt(until.Add(time.Hour)); s != RequestRevoked {
		t.Errorf("revoked stays revoked: %s", s)
	}
}

func TestSmallInputs(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"delivery ok", DeliveryInput{SHA256: hash, Records: 10, Bytes: 100, Channel: "sftp"}.Validate(), true},
		{"delivery upper-case hash", DeliveryInput{SHA256: strings.ToUpper(hash), Records: 10, Bytes: 100, Channel: "sftp"}.Validate(), false},
		{"delivery zero bytes", DeliveryInput{SHA256: hash, Records: 10, Channel: "sftp"}.Validate(), false},
		{"delivery negative records", DeliveryInput{SHA256: hash, Records: -1, Bytes: 1, Channel: "sftp"}.Validate(), false},
		{"delivery no channel", DeliveryInput{SHA256: hash, Records: 1, Bytes: 1}.Validate(), false},
		{"receipt ok", ReceiptInput{SHA256: hash}.Validate(), true},
		{"receipt short", ReceiptInput{SHA256: "abc"}.Validate(), false},
		{"feedback ok", FeedbackInput{5, 4, 3, 1, ""}.Validate(), true},
		{"feedback 0", FeedbackInput{0, 4, 3, 1, ""}.Validate(), false},
		{"feedback 6", FeedbackInput{5, 6, 3, 1, ""}.Validate(), false},
		{"usage ok", UsageInput{RequestID: "r1", Calls: 1}.Validate(), true},
		{"usage no calls", UsageInput{RequestID: "r1"}.Validate(), false},
		{"usage too many", UsageInput{RequestID: "r1", Calls: MaxCount + 1}.Validate(), false},
		{"contribution ok", ContributionInput{DatasetID: "d", Records: 1, Bytes: 1, SHA256: hash}.Validate(), true},
		{"contribution no hash", ContributionInput{DatasetID: "d", Records: 1, Bytes: 1}.Validate(), false},
		{"correction ok", CorrectionInput{DeliveryID: "dl", Description: "wrong district codes"}.Validate(), true},
		{"correction no text", CorrectionInput{DeliveryID: "dl"}.Validate(), false},
		{"resolution no text", ResolutionInput{}.Validate(), false},
		{"department ok", DepartmentInput{Name: "Civil Affairs", Code: "CAB", Level: LevelMunicipal}.Validate(), true},
		{"department bad level", DepartmentInput{Name: "Civil Affairs", Code: "CAB", Level: "galactic"}.Validate(), false},
		{"period ok", CheckPeriod("2026-11"), true},
		{"period month 13", CheckPeriod("2026-13"), false},
		{"period day", CheckPeriod("2026-11-01"), false},
		{"reason required", DecisionInput{}.Validate(true), false},
		{"reason optional", DecisionInput{}.Validate(false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", tt.err, tt.ok)
			}
			if tt.err != nil && ErrorCode(tt.err) != CodeInvalid {
				t.Errorf("code = %s, want invalid", ErrorCode(tt.err))
			}
		})
	}
}

func TestScoresValidate(t *testing.T) {
	hash := strings.Repeat("0", 64)
	ok := Scores{Period: "2026-10", AsOfBlock: 10, InputDigest: hash, Items: []ScoreItem{
		{MSPID: "Dept1MSP", Rank: 1, Score: 0.7}, {MSPID: "Dept2MSP", Rank: 2, Score: 0.3},
	}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Items = []ScoreItem{{MSPID: "Dept1MSP", Rank: 2}}
	if bad.Validate() == nil {
		t.Error("rank out of order accepted")
	}
	bad = ok
	bad.Items = []ScoreItem{{MSPID: "Dept1MSP", Rank: 1}, {MSPID: "Dept1MSP", Rank: 2}}
	if bad.Validate() == nil {
		t.Error("duplicate department accepted")
	}
	start, end, err := PeriodBounds("2026-12")
	if err != nil || !start.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("PeriodBounds = %v %v %v", start, end, err)
	}
}

func TestDecodeEvent(t *testing.T) {
	if _, err := DecodeEvent([]byte(`{"v":1,"type":"dataset.registered","kind":"dataset","id":"d1"}`)); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{`{`, `{"v":2,"type":"x","kind":"dataset","id":"d"}`, `{"v":1,"kind":"dataset","id":"d"}`} {
		if _, err := DecodeEvent([]byte(raw)); err == nil {
			t.Errorf("DecodeEvent(%s) accepted", raw)
		}
	}
}
