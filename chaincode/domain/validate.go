package domain

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
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

// CheckText checks free text: required or not, at most max characters, valid
// UTF-8, and only characters that display as what they are (see
// checkChars). A text is one line unless its field is one of
// multilineFields.
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
	return checkChars(field, s, multilineFields[field])
}

// multilineFields are the free texts meant to run over several lines:
// they may hold LF and TAB. Every other text (titles, purposes, legal bases,
// reasons, channels, methods, names) is a single line, because it is shown
// in one table cell, one log field or one CSV column, where a line break
// would forge a new row. Keyed by field name so that every caller of
// CheckText, in the chaincode and in the gateway, gets the same rule.
var multilineFields = map[string]bool{
	"description": true, // datasets and corrections
	"comment":     true, // delivery feedback
	"resolution":  true, // corrections
}

// checkChars refuses, in a valid UTF-8 text, the characters that let a
// text say one thing and display another: control characters (C0, DEL,
// C1: NUL, ESC and terminal escapes among them), line breaks and tabs
// unless multiline (where only LF and TAB are allowed; CR is always
// refused, so a text has one line ending), the Unicode line and paragraph
// separators in a single line, and the bidirectional embeddings, overrides
// and isolates (U+202A–U+202E, U+2066–U+2069) that reorder what is shown
// ("Trojan Source"). The plain direction marks U+200E, U+200F and U+061C
// stay allowed: they reorder nothing, and right-to-left text needs them.
func checkChars(field, s string, multiline bool) error {
	n := 0
	for _, r := range s {
		n++
		switch {
		case multiline && (r == '\n' || r == '\t'):
		case r == '\n' || r == '\r' || r == '\t' || r == '\u2028' || r == '\u2029':
			if multiline { // CR, or a Unicode separator in a multi-line text
				return Errorf(CodeInvalid, "%s holds %s at character %d; separate lines with LF (U+000A) only", field, charName(r), n)
			}
			return Errorf(CodeInvalid, "%s must be a single line; it holds %s at character %d", field, charName(r), n)
		case unicode.IsControl(r):
			return Errorf(CodeInvalid, "%s holds the control character %s at character %d", field, charName(r), n)
		case isBidiControl(r):
			return Errorf(CodeInvalid, "%s holds the bidirectional formatting character %s at character %d, which can make a text display other than it reads", field, charName(r), n)
		}
	}
	return nil
}

// isBidiControl reports the bidirectional embeddings, overrides and
// isolates: LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI.
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// charName names a character for an error message without printing it.
func charName(r rune) string {
	switch r {
	case 0:
		return "NUL (U+0000)"
	case '\t':
		return "a tab (U+0009)"
	case '\n':
		return "a line feed (U+000A)"
	case '\r':
		return "a carriage return (U+000D)"
	case 0x1B:
		return "ESC (U+001B)"
	case 0x7F:
		return "DEL (U+007F)"
	case '\u2028':
		return "a line separator (U+2028)"
	case '\u2029':
		return "a paragraph separator (U+2029)"
	}
	return fmt.Sprintf("%U", r)
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
		if err := checkChars(fmt.Sprintf("%s entry %q", field, truncate(n, 80)), n, false); err != nil {
			return err
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
