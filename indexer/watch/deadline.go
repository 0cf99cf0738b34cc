package watch

import (
	"encoding/json"
	"errors"
	"time"
)

// kindEnd is the deadline at which a request's approval ends: not a
// finding, the point after which the watch may forget the request.
const kindEnd Kind = "end"

// deadline is a time at which a finding opens unless an event has met the
// obligation first. A deadline is checked against the state when it
// passes, so one moved (a revocation brings a copy's destroy deadline
// forward) or met is simply skipped. Pending ones are entries of the state
// (due/, dueKey), which passes them in key order.
type deadline struct {
	at      time.Time
	kind    Kind
	subject string
}

// Save writes the whole state of a watch made by New down: JSON, whose
// maps are in key order, so two watches fed the same ledger save the same
// bytes. It is the reference the tests hold a watch over Entries to.
func (w *Watch) Save() ([]byte, error) {
	if w.back != nil {
		return nil, errors.New("the state of a watch over the mirror's entries is those entries")
	}
	return json.Marshal(w.st)
}
