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
		{"no legal basis: the grade rule decides", func(r *RequestInput) { r.LegalBasis = "" }, ""},
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

func TestCheckTextCharacters(t *testing.T) {
	tests := []struct {
		name, field, text string
		want              string // substring of the error; "" for valid
	}{
		{"plain", "title", "Registered households", ""},
		{"Chinese", "title", "户籍人口 统计", ""},
		{"Arabic with a direction mark", "title", "سجل\u200f 2026", ""},
		{"left-to-right mark", "purpose", "a\u200eb", ""},
		{"replacement character is a character", "title", "a\uFFFDb", ""},
		{"NUL", "title", "a\x00b", "title holds the control character NUL (U+0000) at character 2"},
		{"ESC", "purpose", "x\x1b[31mred", "purpose holds the control character ESC (U+001B) at character 2"},
		{"bell", "reason", "\a", "reason holds the control character U+0007 at character 1"},
		{"DEL", "legalBasis", "Act\x7f12", "legalBasis holds the control character DEL (U+007F)"},
		{"C1 next line", "title", "a\u0085b", "title holds the control character U+0085"},
		{"C1 CSI", "comment", "a\u009b31m", "comment holds the control character U+009B"},
		{"LF in a title", "title", "line one\nline two", "title must be a single line; it holds a line feed (U+000A) at character 9"},
		{"CR in a purpose", "purpose", "a\rb", "purpose must be a single line; it holds a carriage return (U+000D)"},
		{"tab in a reason", "reason", "a\tb", "reason must be a single line; it holds a tab (U+0009)"},
		{"LF in a channel", "channel", "sftp\nforged row", "channel must be a single line"},
		{"line separator in a title", "title", "a\u2028b", "title must be a single line; it holds a line separator (U+2028)"},
		{"paragraph separator in a legal basis", "legalBasis", "a\u2029b", "a paragraph separator (U+2029)"},
		{"LF in a description", "description", "line one\nline two", ""},
		{"tab in a comment", "comment", "col\tcol", ""},
		{"LF in a resolution", "resolution", "fixed:\n- codes\n- totals", ""},
		{"CRLF in a description", "description", "line one\r\nline two", "description holds a carriage return (U+000D) at character 9; separate lines with LF (U+000A) only"},
		{"line separator in a comment", "comment", "a\u2028b", "comment holds a line separator (U+2028)"},
		{"ESC in a description", "description", "a\n\x1b]0;pwned\a", "description holds the control character ESC (U+001B) at character 3"},
		{"RLO", "title", "invoice\u202egpj.exe", "title holds the bidirectional formatting character U+202E at character 8"},
		{"LRE", "description", "\u202aa", "U+202A"},
		{"PDF", "comment", "a\u202c", "U+202C"},
		{"LRI", "purpose", "a\u2066b", "U+2066"},
		{"PDI", "resolution", "a\u2069", "U+2069"},
		{"invalid UTF-8", "title", "a\xffb", "title is not valid UTF-8"},
		{"truncated UTF-8", "description", "户\xe7", "description is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckText(tt.field, tt.text, false, MaxTextLen)
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

// TestEveryTextFieldRefusesControls breaks each free text of each input in
// turn, so that no field escapes the rule.
func TestEveryTextFieldRefusesControls(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		err  func(bad string) error
		want string
	}{
		{"dataset title", func(s string) error { d := validDataset(); d.Title = s; return d.Validate() }, "title"},
		{"dataset description", func(s string) error { d := validDataset(); d.Description = s; return d.Validate() }, "description"},
		{"dataset field name", func(s string) error { d := validDataset(); d.Fields = []string{"id", s}; return d.Validate() }, "fields entry"},
		{"request purpose", func(s string) error {
			return RequestInput{DatasetID: "d", Purpose: s, LegalBasis: "Act 12", ValidUntil: now.Add(time.Hour)}.Validate(now)
		}, "purpose"},
		{"request legal basis", func(s string) error {
			return RequestInput{DatasetID: "d", Purpose: "checks", LegalBasis: s, ValidUntil: now.Add(time.Hour)}.Validate(now)
		}, "legalBasis"},
		{"request field name", func(s string) error {
			return RequestInput{DatasetID: "d", Purpose: "checks", LegalBasis: "Act 12", Fields: []string{s}, ValidUntil: now.Add(time.Hour)}.Validate(now)
		}, "fields entry"},
		{"decision reason", func(s string) error { return DecisionInput{Reason: s}.Validate(true) }, "reason"},
		{"delivery channel", func(s string) error {
			return DeliveryInput{SHA256: hash, Records: 1, Bytes: 1, Channel: s}.Validate()
		}, "channel"},
		{"feedback comment", func(s string) error { return FeedbackInput{5, 5, 5, 5, s}.Validate() }, "comment"},
		{"destruction method", func(s string) error { return DestructionInput{Method: s}.Validate() }, "method"},
		{"correction description", func(s string) error { return CorrectionInput{DeliveryID: "dl", Description: s}.Validate() }, "description"},
		{"resolution", func(s string) error { return ResolutionInput{Resolution: s}.Validate() }, "resolution"},
		{"department name", func(s string) error {
			return DepartmentInput{Name: s, Code: "CAB", Level: LevelMunicipal}.Validate()
		}, "name"},
	}
	bads := []struct{ name, text string }{
		{"NUL", "a\x00b"}, {"ESC", "a\x1bb"}, {"RLO", "a\u202eb"}, {"RLI", "a\u2067b"},
		{"C1", "a\u009bb"}, {"CR", "a\rb"}, {"bad UTF-8", "a\xc3b"},
	}
	for _, tt := range tests {
		for _, bad := range bads {
			t.Run(tt.name+" "+bad.name, func(t *testing.T) {
				err := tt.err(bad.text)
				if err == nil || !strings.Contains(err.Error(), tt.want) || ErrorCode(err) != CodeInvalid {
					t.Fatalf("error = %v, want an invalid error naming %s", err, tt.want)
				}
			})
		}
	}
}
