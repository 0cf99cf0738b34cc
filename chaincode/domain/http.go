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
