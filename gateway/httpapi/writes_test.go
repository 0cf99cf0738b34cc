package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

// TestBodyRefusesWhatTheDecoderWouldRepair sends bodies that encoding/json
// accepts but silently alters (a repeated key, keys in two cases, invalid
// UTF-8, a lone surrogate) and texts that display other than they read:
// each is a 400 before anything reaches the ledger.
func TestBodyRefusesWhatTheDecoderWouldRepair(t *testing.T) {
	const dataset = `"fields":["a"],"updateFrequency":"daily","shareType":"conditional","openType":"restricted","grade":2`
	const request = `"datasetId":"ds-1","legalBasis":"Act 12","validUntil":"2026-06-30T00:00:00Z"`
	tests := []struct {
		name, method, path, role, body string
		wantField                      string // details.field
		wantMsg                        string
	}{
		{"repeated key", "POST", "/v1/datasets", "operator", `{"title":"Households",` + dataset + `,"title":"Prisoners"}`,
			"title", `the request body repeats the key "title" in $; send each field once`},
		{"key in another case", "POST", "/v1/datasets", "operator", `{"title":"Households",` + dataset + `,"TITLE":"Prisoners"}`,
			"title", `the request body has both "title" and "TITLE" in $; keys match case-insensitively, so send each field once`},
		{"mixed-case variant", "POST", "/v1/requests/rq-1/reject", "approver", `{"reason":"no legal basis","Reason":"approved"}`,
			"reason", `both "reason" and "Reason"`},
		{"repeated key in an optional body", "POST", "/v1/requests/rq-1/approve", "approver", `{"reason":"a","reason":"b"}`,
			"reason", `repeats the key "reason"`},
		{"repeated key on a score snapshot", "POST", "/v1/scores/snapshots", "evaluator", `{"period":"2026-01","PERIOD":"2099-12"}`,
			"period", `both "period" and "PERIOD"`},
		{"invalid UTF-8", "POST", "/v1/datasets", "operator", "{\"title\":\"House\xffholds\"," + dataset + `}`,
			"", "the request body is not valid UTF-8 (at byte 15)"},
		{"invalid UTF-8 in a key", "POST", "/v1/usage", "operator", "{\"requestId\":\"rq-1\",\"calls\":1,\"\xfe\":1}",
			"", "the request body is not valid UTF-8 (at byte 31)"},
		{"lone surrogate", "POST", "/v1/corrections", "operator", `{"deliveryId":"dl-1","description":"wrong \udc00 totals"}`,
			"", `the request body holds \udc00 at byte 42, a lone UTF-16 surrogate`},
		{"ESC in a title", "POST", "/v1/datasets", "operator", `{"title":"House\u001b[2Jholds",` + dataset + `}`,
			"", "title holds the control character ESC (U+001B) at character 6"},
		{"NUL in a reason", "POST", "/v1/requests/rq-1/revoke", "approver", `{"reason":"ended\u0000"}`,
			"", "reason holds the control character NUL (U+0000)"},
		{"line break in a purpose", "POST", "/v1/requests", "operator", `{"purpose":"benefits\nGRANTED",` + request + `}`,
			"", "purpose must be a single line; it holds a line feed (U+000A) at character 9"},
		{"tab in a channel", "POST", "/v1/requests/rq-1/deliveries", "operator", `{"sha256":"` + hash + `","records":1,"bytes":1,"channel":"s\tftp"}`,
			"", "channel must be a single line; it holds a tab (U+0009)"},
		{"CR in a comment", "POST", "/v1/deliveries/dl-1/feedback", "operator", `{"timeliness":5,"accuracy":4,"completeness":4,"consistency":3,"comment":"ok\r\n"}`,
			"", "comment holds a carriage return (U+000D)"},
		{"bidi override in a resolution", "POST", "/v1/corrections/co-1/resolve", "operator", `{"resolution":"fixed \u202edexif ton"}`,
			"", "resolution holds the bidirectional formatting character U+202E"},
		{"bidi isolate in a legal basis", "POST", "/v1/requests", "operator", `{"purpose":"benefits","datasetId":"ds-1","legalBasis":"Act \u206612\u2069","validUntil":"2026-06-30T00:00:00Z"}`,
			"", "legalBasis holds the bidirectional formatting character U+2066 at character 5"},
		{"repeated key beside a valid body", "POST", "/v1/requests", "operator", `{"purpose":"benefits",` + request + `,"legalBasis":"none"}`,
			"legalBasis", `repeats the key "legalBasis"`},
		{"bidi isolate in a department name", "PUT", "/v1/departments/me", "admin", `{"name":"Civil \u2067Affairs","code":"CAB","level":"municipal"}`,
			"", "name holds the bidirectional formatting character U+2067"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(t, tt.method, tt.path, tt.role, tt.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			e := errorOf(t, rec)
			if e.Code != domain.CodeInvalid || e.Details["field"] != tt.wantField || !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("error %+v, want invalid, field %q and a message with %q", e, tt.wantField, tt.wantMsg)
			}
			if len(f.ledger.calls) != 0 || len(f.index.gets) != 0 {
				t.Fatal("a refused body reached the ledger or the index")
			}
		})
	}
}

// TestBodyKeepsWhatIsMeant: the checks refuse nothing an honest client
// sends: multi-line texts, right-to-left text with its marks, escapes that
// decode to real characters, the same key in different objects.
func TestBodyKeepsWhatIsMeant(t *testing.T) {
	tests := []struct {
		name, method, path, role, body string
		wantArg                        string // substring of the input passed to the ledger
	}{
		{"multi-line description", "POST", "/v1/corrections", "operator", `{"deliveryId":"dl-1","description":"row 12:\n\tdistrict code 0312 should be 0321"}`,
			`"description":"row 12:\n\tdistrict code 0312 should be 0321"`},
		{"right-to-left title with a mark", "POST", "/v1/datasets", "operator", `{"title":"سجل الأسر\u200f 2026","fields":["a"],"updateFrequency":"daily","shareType":"conditional","openType":"restricted","grade":2}`,
			`"title":"سجل الأسر` + "\u200f" + ` 2026"`},
		{"escaped surrogate pair", "POST", "/v1/requests/rq-1/reject", "approver", `{"reason":"no \ud83d\ude45"}`, `"reason":"no 🙅"`},
		{"Chinese text", "POST", "/v1/deliveries/dl-1/destruction", "operator", `{"method":"粉碎"}`, `"method":"粉碎"`},
		{"empty optional body", "POST", "/v1/requests/rq-1/approve", "approver", ``, `{"reason":""}`},
		{"whitespace-only optional body", "POST", "/v1/deliveries/dl-1/destruction", "operator", " \n", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ledger.result = []byte(`{"id":"e1"}`)
			rec := f.do(t, tt.method, tt.path, tt.role, tt.body)
			if rec.Code >= 300 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			c := f.ledger.last(t)
			if arg := c.args[len(c.args)-1]; !strings.Contains(arg, tt.wantArg) {
				t.Fatalf("ledger got %s, want it to hold %s", arg, tt.wantArg)
			}
		})
	}
}
