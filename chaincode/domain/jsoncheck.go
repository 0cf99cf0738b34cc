package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// CheckJSON refuses a JSON input that encoding/json would accept but
// silently alter, so that what a caller signed or sent is what is judged
// and stored:
//
//   - bytes that are not valid UTF-8, which the decoder replaces with U+FFFD;
//   - a \u escape of a lone UTF-16 surrogate, also decoded as U+FFFD;
//   - an object that names a key twice, or two keys that differ only in
//     case ("title" and "TITLE"): the decoder matches struct fields
//     case-insensitively and keeps the last, so a reviewer who reads the
//     first sees another value than the one that counts.
//
// Keys are compared as the decoder folds them, at every nesting level.
// subject names the input in the message ("the request body", "DatasetInput
// JSON"). The gateway calls it on each request body and the chaincode on
// each JSON argument, after the decoder has accepted the input.
func CheckJSON(subject string, raw []byte) error {
	if !utf8.Valid(raw) {
		return Errorf(CodeInvalid, "%s is not valid UTF-8 (at byte %d)", subject, invalidUTF8At(raw))
	}
	if at, esc := loneSurrogate(raw); at >= 0 {
		return Errorf(CodeInvalid, "%s holds %s at byte %d, a lone UTF-16 surrogate that is no character", subject, esc, at)
	}
	return checkKeys(subject, raw)
}

// invalidUTF8At is the offset of the first byte that does not start a valid
// UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// loneSurrogate finds, inside the strings of a JSON text, a \u escape of a
// surrogate that is not a high surrogate followed at once by an escaped low
// one. It returns the escape's offset and text, or -1.
func loneSurrogate(b []byte) (int, string) {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(b) || b[i+1] != 'u' {
				i++ // a one-character escape: skip what it escapes
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok || r < 0xD800 || r > 0xDFFF {
				i += 5
				continue
			}
			if r <= 0xDBFF && i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return i, string(b[i : i+6])
		}
	}
	return -1, ""
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(n), err == nil
}

// jsonFrame is one open object or array while walking a JSON text.
type jsonFrame struct {
	object    bool
	path      string            // where it is, as $.a.b[2]
	keys      map[string]string // folded key → the key as first written
	wantKey   bool              // in an object: the next token is a key
	key       string            // in an object: the key of the value being read
	nextIndex int               // in an array: the index of the next element
}

// child is the path of the value being read inside f.
func (f *jsonFrame) child() string {
	if !f.object {
		return fmt.Sprintf("%s[%d]", f.path, f.nextIndex)
	}
	if isIdentifier(f.key) {
		return f.path + "." + f.key
	}
	return f.path + "[" + strconv.Quote(f.key) + "]"
}

// done records that a whole value inside f has been read.
func (f *jsonFrame) done() {
	if f.object {
		f.wantKey = true
	} else {
		f.nextIndex++
	}
}

// checkKeys walks the tokens of a JSON text and refuses an object whose
// keys repeat once folded.
func checkKeys(subject string, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers are not judged here; never fail on their range
	var stack []*jsonFrame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return Errorf(CodeInvalid, "%s is not valid JSON: %v", subject, err)
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					stack[len(stack)-1].done()
				}
				continue
			}
			k, _ := tok.(string)
			folded := foldKey(k)
			if first, dup := top.keys[folded]; dup {
				if first == k {
					return Errorf(CodeInvalid, "%s repeats the key %q in %s; send each field once", subject, k, top.path).
						WithDetail("field", k)
				}
				return Errorf(CodeInvalid, "%s has both %q and %q in %s; keys match case-insensitively, so send each field once", subject, first, k, top.path).
					WithDetail("field", first)
			}
			top.keys[folded] = k
			top.key, top.wantKey = k, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			path := "$"
			if top != nil {
				path = top.child()
			}
			f := &jsonFrame{object: tok == json.Delim('{'), path: path, wantKey: true}
			if f.object {
				f.keys = map[string]string{}
			}
			stack = append(stack, f)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].done()
			}
		default:
			if top != nil {
				top.done()
			}
		}
	}
}

// foldKey folds a key the way encoding/json matches it to a field: every
// character to the smallest one of its simple case-folding orbit, so that
// two keys fold alike exactly when bytes.EqualFold says they are equal
// ("K", "k" and the Kelvin sign U+212A among them).
func foldKey(k string) string {
	b := make([]byte, 0, len(k))
	for _, r := range k {
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// isIdentifier reports whether a key can stand after a dot in a path.
func isIdentifier(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}
