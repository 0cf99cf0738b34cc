package domain

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCodeCrossesText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code Code
		msg  string
	}{
		{"typed", Errorf(CodeForbidden, "role operator is required"), CodeForbidden, "role operator is required"},
		{"wrapped", fmt.Errorf("submit: %w", Errorf(CodeConflict, "request r1 is rejected")), CodeConflict, "request r1 is rejected"},
		{"as text from the peer", errors.New("rpc error: code = Aborted desc = failed to endorse: chaincode response 500, [not_found] dataset d1 does not exist"), CodeNotFound, "dataset d1 does not exist"},
		{"no code", errors.New("connection refused"), CodeInternal, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := ErrorMessage(tt.err); got != tt.msg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.msg)
			}
		})
	}
	if ErrorCode(nil) != "" {
		t.Error("ErrorCode(nil) is not empty")
	}
}

func TestErrorText(t *testing.T) {
	e := Errorf(CodeInvalid, "grade must be from 1 to 4").WithDetail("field", "grade")
	if e.Error() != "[invalid] grade must be from 1 to 4" {
		t.Errorf("Error() = %q", e.Error())
	}
	if e.Details["field"] != "grade" {
		t.Errorf("details = %v", e.Details)
	}
	if p := ParseError(e.Error()); p == nil || p.Code != CodeInvalid || p.Message != e.Message {
		t.Errorf("ParseError(%q) = %+v", e.Error(), p)
	}
}

func TestEventEntity(t *testing.T) {
	d := &Dataset{ID: "d1"}
	if got := (&Event{Kind: KindDataset, Dataset: d}).Entity(); got != any(d) {
		t.Errorf("Entity() = %v, want the dataset", got)
	}
	if got := (&Event{Kind: "unknown"}).Entity(); got != nil {
		t.Errorf("Entity() of an unknown kind = %v, want nil", got)
	}
}

// Every code in the list round-trips: through its text form, through its
// HTTP status and back, and no two codes share a status.
func TestCodesRoundTrip(t *testing.T) {
	seen := map[int]Code{}
	for _, c := range Codes() {
		t.Run(string(c), func(t *testing.T) {
			e := Errorf(c, "something about %s", c)
			p := ParseError("rpc error: " + e.Error())
			if p == nil || p.Code != c || p.Message != e.Message {
				t.Fatalf("ParseError(%q) = %+v", e.Error(), p)
			}
			s := HTTPStatus(c)
			if s < 400 || s > 599 {
				t.Fatalf("HTTPStatus(%s) = %d", c, s)
			}
			if other, ok := seen[s]; ok {
				t.Fatalf("codes %s and %s share status %d", other, c, s)
			}
			seen[s] = c
			if got := CodeOfStatus(s); got != c {
				t.Fatalf("CodeOfStatus(%d) = %s, want %s", s, got, c)
			}
		})
	}
	if len(Codes()) != 8 {
		t.Errorf("Codes() has %d codes, want 8", len(Codes()))
	}
}
