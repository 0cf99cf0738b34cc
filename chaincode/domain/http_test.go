package domain

import "testing"

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		code Code
		want int
	}{
		{CodeInvalid, 400},
		{CodeUnauthorized, 401},
		{CodeForbidden, 403},
		{CodeNotFound, 404},
		{CodeConflict, 409},
		{CodeTooLarge, 413},
		{CodeUnavailable, 503},
		{CodeInternal, 500},
		{"", 500},
		{"teapot", 500},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			if got := HTTPStatus(tt.code); got != tt.want {
				t.Fatalf("HTTPStatus(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
	// Every code the errors can carry has its own status: none falls
	// through to 500 by accident.
	for _, c := range []Code{CodeInvalid, CodeUnauthorized, CodeForbidden, CodeNotFound, CodeConflict, CodeTooLarge, CodeUnavailable} {
		if HTTPStatus(c) == 500 {
			t.Errorf("code %s maps to 500", c)
		}
		if p := ParseError("[" + string(c) + "] x"); p == nil {
			t.Errorf("code %s is not recognised in text", c)
		}
	}
}
