package domain

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name, raw string
		want      string // substring of the error; "" for valid
		field     string // details.field of a repeated key
	}{
		{"object", `{"title":"T","fields":["a","b"],"grade":2}`, "", ""},
		{"empty object", `{}`, "", ""},
		{"scalar", `"x"`, "", ""},
		{"same key in sibling objects", `{"a":{"x":1},"b":{"x":2}}`, "", ""},
		{"same key in array elements", `{"items":[{"x":1},{"x":2}]}`, "", ""},
		{"keys that only look alike", `{"title":"a","title2":"b","tit":"c"}`, "", ""},
		{"repeated string values", `{"a":"x","b":"x","c":["x","x"]}`, "", ""},
		{"big number", `{"n":1e999}`, "", ""},
		{"escaped characters", `{"t":"a\"b\\c\/d\n\u00e9"}`, "", ""},
		{"surrogate pair", `{"t":"\ud83d\ude00 \uD83D\uDE00"}`, "", ""},
		{"escaped backslash before u", `{"t":"\\ud800"}`, "", ""},
		{"Chinese key and value", `{"名称":"户籍"}`, "", ""},

		{"repeated key", `{"title":"a","title":"b"}`, `the body repeats the key "title" in $; send each field once`, "title"},
		{"case variant", `{"title":"a","TITLE":"b"}`, `the body has both "title" and "TITLE" in $; keys match case-insensitively`, "title"},
		{"mixed case variant", `{"validUntil":"x","validuntil":"y"}`, `both "validUntil" and "validuntil"`, "validUntil"},
		{"Kelvin sign folds to k", `{"k":1,"\u212a":2}`, "both \"k\" and \"\u212a\" in $", "k"},
		{"escaped spelling of the same key", `{"a":1,"\u0061":2}`, `repeats the key "a" in $`, "a"},
		{"nested", `{"a":{"b":{"x":1,"X":2}}}`, `in $.a.b;`, "x"},
		{"in an array element", `{"items":[{"x":1},{"x":1,"x":2}]}`, `repeats the key "x" in $.items[1]`, "x"},
		{"after a nested value", `{"a":{"b":[1,{"c":2}]},"A":3}`, `both "a" and "A" in $;`, "a"},
		{"in a top-level array", `[{},{"a":1,"a":2}]`, `in $[1]`, "a"},
		{"odd key in the path", `{"a b":{"x":1,"x":2}}`, `in $["a b"]`, "x"},

		{"invalid UTF-8", "{\"t\":\"a\xffb\"}", "the body is not valid UTF-8 (at byte 7)", ""},
		{"truncated UTF-8", "{\"t\":\"\xe6\x88\"}", "not valid UTF-8 (at byte 6)", ""},
		{"overlong encoding", "{\"t\":\"\xc0\xaf\"}", "not valid UTF-8", ""},
		{"encoded surrogate", "{\"t\":\"\xed\xa0\x80\"}", "not valid UTF-8", ""},
		{"lone high surrogate", `{"t":"a\ud800"}`, `the body holds \ud800 at byte 7, a lone UTF-16 surrogate`, ""},
		{"lone low surrogate", `{"t":"\uDC00x"}`, `holds \uDC00 at byte 6`, ""},
		{"high then not low", `{"t":"\ud800\u0041"}`, `holds \ud800`, ""},
		{"two highs", `{"t":"\ud800\ud800"}`, `holds \ud800 at byte 6`, ""},
		{"surrogate in a key", `{"\udfff":1}`, `holds \udfff at byte 2`, ""},
		{"high at the very end", `{"t":"\ud83d"}`, `holds \ud83d`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid([]byte(tt.raw)) && !strings.Contains(tt.want, "UTF-8") {
				t.Fatalf("test input %s is not JSON", tt.raw)
			}
			err := CheckJSON("the body", []byte(tt.raw))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			e, ok := err.(*Error)
			if !ok || e.Code != CodeInvalid {
				t.Fatalf("error %T %v is not an invalid *Error", err, err)
			}
			if e.Details["field"] != tt.field {
				t.Errorf("details.field = %q, want %q", e.Details["field"], tt.field)
			}
		})
	}
}

// TestCheckJSONMatchesTheDecoder pins why the check exists: encoding/json
// takes the last of two case variants for one field, and turns invalid
// UTF-8 and lone surrogates into U+FFFD, all without an error.
func TestCheckJSONMatchesTheDecoder(t *testing.T) {
	var in DecisionInput
	if err := json.Unmarshal([]byte(`{"reason":"first","REASON":"second"}`), &in); err != nil || in.Reason != "second" {
		t.Fatalf("decoder took %q (%v); the premise changed", in.Reason, err)
	}
	for _, raw := range []string{"{\"reason\":\"a\xffb\"}", `{"reason":"a\ud800b"}`} {
		in = DecisionInput{}
		if err := json.Unmarshal([]byte(raw), &in); err != nil || in.Reason != "a\uFFFDb" {
			t.Fatalf("decoder gave %q (%v); the premise changed", in.Reason, err)
		}
		if CheckJSON("x", []byte(raw)) == nil {
			t.Errorf("CheckJSON accepted %q", raw)
		}
	}
}

func TestFoldKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"title", "TITLE", true},
		{"validUntil", "VALIDuntil", true},
		{"k", "\u212a", true},
		{"straße", "STRASSE", false}, // simple folding only, as encoding/json
		{"σ", "Σ", true},
		{"ς", "Σ", true},
		{"a", "b", false},
		{"id", "ID ", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := foldKey(tt.a) == foldKey(tt.b); got != tt.same {
				t.Fatalf("fold(%q) == fold(%q) is %v, want %v", tt.a, tt.b, got, tt.same)
			}
			if got := strings.EqualFold(tt.a, tt.b); got != tt.same {
				t.Fatalf("strings.EqualFold disagrees: %v", got)
			}
		})
	}
}
