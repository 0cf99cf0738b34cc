package domain

import "net/http"

// HTTPStatus is the HTTP status that answers an error of code c: the one
// table every HTTP layer (gateway and indexer) uses. An unknown or empty
// code is a bug somewhere, so it answers 500.
func HTTPStatus(c Code) int {
	for _, k := range codes {
		if k.code == c {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// CodeOfStatus is HTTPStatus read backwards: the code that an HTTP status
// answers, for a client that gets an error without a code in its body.
func CodeOfStatus(status int) Code {
	for _, k := range codes {
		if k.status == status {
			return k.code
		}
	}
	return CodeInternal
}

// The headers in which a gateway names the caller to its own indexer:
// gateway/indexclient sends them, indexer/httpapi believes them (it listens
// only where its gateway can reach it).
const (
	HeaderCallerMSP  = "X-Caller-Msp"
	HeaderCallerRole = "X-Caller-Role"
	HeaderCallerUser = "X-Caller-User"
	HeaderRequestID  = "X-Request-Id"
)

// The wire envelopes of every HTTP answer, gateway's and indexer's alike,
// defined here once: the indexer writes them, the gateway's index client
// reads them back, the gateway writes them to its callers.

// ErrorBody is the shape of every error answer.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo says what went wrong.
type ErrorInfo struct {
	Code    Code              `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details,omitempty"`
	TxID    string            `json:"txId,omitempty"`
}

// Err is the error an ErrorInfo describes: what a client of an HTTP layer
// turns an error body back into. An answer without a known code is
// classified by its HTTP status.
func (i ErrorInfo) Err(status int) *Error {
	code := i.Code
	if HTTPStatus(code) == http.StatusInternalServerError && code != CodeInternal {
		code = CodeOfStatus(status)
	}
	return &Error{Code: code, Message: i.Message, Details: i.Details}
}

// List is the answer of every list route: a page of items, and the cursor
// of the next page when there is one.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// NewList is a page of items; an empty page has an empty list, never null.
func NewList[T any](items []T, next string) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, NextCursor: next}
}
