package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on input sizes, enforced by the chaincode and checked early by the gateway.
const (
	MaxIDLen           = 64
	MaxTitleLen        = 200
	MaxTextLen         = 2000 // descriptions, purposes, reasons, comments
	MaxFields          = 200
	MaxFieldNameLen    = 100
	MaxDerivedFrom     = 50
	MaxCount           = int64(1) << 50 // records, bytes, calls
	MaxRequestValidity = 5 * 366 * 24 * time.Hour
)

var (
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	mspPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
)

// CheckID checks a client-supplied identifier.
func CheckID(field, id string) error {
	if id == "" {
		return Errorf(CodeInvalid, "%s is required", field)
	}
	if len(id) > MaxIDLen || !idPattern.MatchString(id) {
		return Errorf(CodeInvalid, "%s %q must be 1-%d characters of letters, digits, '.', '_' or '-', starting with a letter or digit", field, truncate(id, 80), MaxIDLen)
	}
	return nil
}

// CheckMSPID checks an MSP ID.
func CheckMSPID(field, id string) error {
	if id == "" || len(id) > MaxIDLen || !mspPattern.MatchString(id) {
		return Errorf(CodeInvalid, "%s %q is not a valid MSP ID", field, truncate(id, 80))
	}
	return nil
}

// CheckSHA256 checks a lowercase hex SHA-256.
func CheckSHA256(field, h string) error {
	if !sha256Pattern.MatchString(h) {
		return Errorf(CodeInvalid, "%s must be a lowercase hex SHA-256 (64 characters of 0-9a-f)", field)
	}
	return nil
}

// CheckText checks free text: required or not, at most max characters, valid UTF-8.
func CheckText(field, s string, required bool, max int) error {
	if required && strings.TrimSpace(s) == "" {
		return Errorf(CodeInvalid, "%s is required", field)
	}
	if !utf8.ValidString(s) {
		return Errorf(CodeInvalid, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return Errorf(CodeInvalid, "%s has %d characters, more than %d", field, n, max)
	}
	return nil
}

// CheckCount checks a non-negative count (records, bytes, calls), positive if required.
func CheckCount(field string, n int64, positive bool) error {
	if n < 0 || n > MaxCount {
		return Errorf(CodeInvalid, "%s must be between 0 and %d", field, MaxCount)
	}
	if positive && n == 0 {
		return Errorf(CodeInvalid, "%s must be positive", field)
	}
	return nil
}

// CheckFields checks a list of field names: distinct, non-empty, bounded.
func CheckFields(field string, names []string, required bool) error {
	if required && len(names) == 0 {
		return Errorf(CodeInvalid, "%s must list at least one field", field)
	}
	if len(names) > MaxFields {
		return Errorf(CodeInvalid, "%s has %d entries, more than %d", field, len(names), MaxFields)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if strings.TrimSpace(n) == "" || len(n) > MaxFieldNameLen || !utf8.ValidString(n) {
			return Errorf(CodeInvalid, "%s entry %q must be 1-%d characters", field, truncate(n, 80), MaxFieldNameLen)
		}
		if seen[n] {
			return Errorf(CodeInvalid, "%s lists %q twice", field, truncate(n, 80))
		}
		seen[n] = true
	}
	return nil
}

// CheckRating checks a 1-5 quality rating.
func CheckRating(field string, r int) error {
	if r < 1 || r > 5 {
		return Errorf(CodeInvalid, "%s must be an integer from 1 to 5, not %d", field, r)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
