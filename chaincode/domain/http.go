package domain

import "net/http"

// HTTPStatus is the HTTP status that answers an error of code c: the one
// table every HTTP layer (gateway and indexer) uses. An unknown or empty
// code is a bug somewhere, so it answers 500.
func HTTPStatus(c Code) int {
	switch c {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
