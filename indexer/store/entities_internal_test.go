package store

import (
	"encoding/json"
	"testing"
)

func TestWithField(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id":"r1","status":"approved","n":1}`, `{"id":"r1","status":"expired","n":1}`},
		{`{"id":"r1","x":{"status":"approved"},"status":"approved"}`, `{"id":"r1","x":{"status":"approved"},"status":"expired"}`},
		{`{ "status" : "approved" , "y":[1,{"status":2}] }`, `{ "status" : "expired" , "y":[1,{"status":2}] }`},
		{`{"id":"r1"}`, `{"id":"r1","status":"expired"}`},
		{`{}`, `{"status":"expired"}`},
	}
	for _, tt := range tests {
		got, err := withField(json.RawMessage(tt.in), "status", "expired")
		if err != nil || string(got) != tt.want {
			t.Errorf("withField(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`[]`, `"s"`, `{"status":`} {
		if got, err := withField(json.RawMessage(bad), "status", "expired"); err == nil {
			t.Errorf("withField(%s) = %s, want an error", bad, got)
		}
	}
}
