// Package writeset says what a VALID transaction did to the ledger's state
// and whether its chaincode event tells the truth about it. The store
// applies its answer; the audit recomputes it from the peer's block and
// compares. It knows the domain and decoded blocks, nothing of Badger or
// Fabric's messages.
//
// # Apply path
//
// The world state is what the transactions wrote, so the mirror's entities
// come from the key-value write set of the ledger chaincode's namespace
// (block.Tx.Writes), decoded with the contract's own key layout
// (domain.ParseWrite): an entity key's value is stored as the ledger holds
// it, byte for byte; index and anchor keys (domain.IndexDatasetByOwner,
// domain.AnchorType) carry no entity and are passed over.
//
// The event adds only what a write set cannot say: what kind of change it
// was (request.approved or request.revoked) and the signer's role, which
// only the chaincode saw. Who signed and when come from the transaction's
// header, never from the event. Before the mirror believes an event, every
// check below must pass; the first that fails names the anomaly:
//
//	write.unparsable   a write the contract could not have made (ParseWrite refuses it)
//	write.delete       a delete of an entity key: the contract never deletes
//	writes.unreadable  the read-write set does not decode
//	event.missing      the transaction wrote the ledger's keys but set no event
//	event.version      an event version this build does not read
//	event.malformed    an event that does not decode, or whose name is not its type
//	event.entity       the event names an entity the transaction did not write
//	event.type         the event's type is not one of its kind's
//	event.content      the entity in the event differs from the bytes written
//	event.refs         status, dataset, request, owner or requester differ from the entity written
//	event.actor        the event's actor is not the transaction's signer
//	event.time         the event's time is not the transaction's timestamp
//	event.unannounced  the transaction wrote an entity its event does not name
//
// An anomalous transaction's entities are still applied (they are the
// ledger's state) but its event is not: the store keeps the anomaly, with
// the event as received, and its trace entry has the neutral type
// TypeStateWritten; it feeds neither metering nor scores.
package writeset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
)

// TypeStateWritten is the trace type of a change the mirror applied from
// the write set without an event it could believe.
const TypeStateWritten domain.EventType = "state.written"

// The checks, in the order they are made.
const (
	CheckWriteUnparsable  = "write.unparsable"
	CheckWriteDelete      = "write.delete"
	CheckWritesUnreadable = "writes.unreadable"
	CheckEventMissing     = "event.missing"
	CheckEventVersion     = "event.version"
	CheckEventMalformed   = "event.malformed"
	CheckEventEntity      = "event.entity"
	CheckEventType        = "event.type"
	CheckEventContent     = "event.content"
	CheckEventRefs        = "event.refs"
	CheckEventActor       = "event.actor"
	CheckEventTime        = "event.time"
	CheckEventUnannounced = "event.unannounced"
)

// Entity is one entity a transaction wrote.
type Entity struct {
	Kind   domain.Kind
	ID     string
	Key    string        // the state key
	Value  []byte        // the value exactly as written
	Record domain.Record // Value decoded
}

// Refs are an entity's cross references: what the event must say of it and
// what its trace is indexed by.
type Refs struct {
	Status    string
	DatasetID string
	RequestID string
	Owner     string
	Requester string // the requesting, consuming or contributing department
}

// Failure is one check a transaction failed.
type Failure struct {
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

// Result is what a transaction did, judged.
type Result struct {
	// Entities are the entities written, in write-set order.
	Entities []Entity
	// Event is the transaction's event when every check passed; nil
	// otherwise, and for a transaction that set none.
	Event *domain.Event
	// Failures are the checks that failed; empty for an honest transaction.
	Failures []Failure
}

// Primary is the entity a trace entry is about: the one the event names,
// when the transaction wrote it, else the first written; -1 when none.
func (r Result) Primary(tx block.Tx) int {
	if tx.Event != nil {
		for i, e := range r.Entities {
			if e.Kind == tx.Event.Kind && e.ID == tx.Event.ID {
				return i
			}
		}
	}
	if len(r.Entities) > 0 {
		return 0
	}
	return -1
}

// Read judges a transaction: the entities it wrote, and whether its event
// may be believed. It never fails: a write or an event it cannot read is a
// failed check.
func Read(tx block.Tx) Result {
	var r Result
	fail := func(check, format string, args ...any) {
		r.Failures = append(r.Failures, Failure{Check: check, Detail: fmt.Sprintf(format, args...)})
	}
	if tx.WritesErr != "" {
		fail(CheckWritesUnreadable, "the transaction's read-write set cannot be read: %s", tx.WritesErr)
	}
	for _, w := range tx.Writes {
		if w.Delete {
			info, err := domain.ParseKey(w.Key)
			switch {
			case err != nil:
				fail(CheckWriteUnparsable, "the transaction deletes a key the contract never forms: %v", err)
			case info.Kind() != "":
				fail(CheckWriteDelete, "the transaction deletes %s %s: the contract never deletes an entity", info.Kind(), info.Attrs[0])
			}
			continue // an index or anchor key deleted changes no entity
		}
		wr, err := domain.ParseWrite(w.Key, w.Value)
		if err != nil {
			fail(CheckWriteUnparsable, "a write the contract could not have made: %v", err)
			continue
		}
		if wr.Record == nil {
			continue // an index or anchor key
		}
		r.Entities = append(r.Entities, Entity{Kind: wr.Info.Kind(), ID: wr.Info.Attrs[0], Key: w.Key, Value: w.Value, Record: wr.Record})
	}

	switch {
	case tx.EventPayload == nil:
		if len(tx.Writes) > 0 {
			fail(CheckEventMissing, "the transaction wrote %s but set no event", written(r.Entities, len(tx.Writes)))
		}
	case tx.EventErr != "":
		check := CheckEventMalformed
		var v struct {
			Version int `json:"v"`
		}
		if json.Unmarshal(tx.EventPayload, &v) == nil && (v.Version < 1 || v.Version > domain.EventVersion) {
			check = CheckEventVersion
		}
		fail(check, "the event cannot be read: %s", tx.EventErr)
	case tx.Event == nil:
		fail(CheckEventMalformed, "the event cannot be read")
	default:
		checkEvent(tx, r.Entities, fail)
	}
	if len(r.Failures) == 0 && tx.Event != nil {
		r.Event = tx.Event
	}
	return r
}

// written describes what a transaction wrote, for a failure's detail.
func written(ents []Entity, writes int) string {
	if len(ents) == 0 {
		return fmt.Sprintf("%d keys and no entity", writes)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = string(e.Kind) + " " + e.ID
	}
	return strings.Join(names, ", ")
}

// checkEvent compares a decoded event with the entities written.
func checkEvent(tx block.Tx, ents []Entity, fail func(check, format string, args ...any)) {
	e := tx.Event
	at := -1
	for i, ent := range ents {
		if ent.Kind == e.Kind && ent.ID == e.ID {
			at = i
		}
	}
	if at < 0 {
		fail(CheckEventEntity, "the event %s names %s %s, which the transaction did not write (it wrote %s)",
			e.Type, e.Kind, e.ID, written(ents, len(tx.Writes)))
	} else {
		ent := ents[at]
		if !typeOf(e.Kind, e.Type) {
			fail(CheckEventType, "an event of type %s cannot be about a %s", e.Type, e.Kind)
		}
		if err := sameContent(tx.EventPayload, ent); err != nil {
			fail(CheckEventContent, "%v", err)
		}
		if want, ok := RefsOf(ent.Record); ok {
			if d := diffRefs(want, Refs{Status: e.Status, DatasetID: e.DatasetID, RequestID: e.RequestID, Owner: e.Owner, Requester: e.Requester}); d != "" {
				fail(CheckEventRefs, "the event says of %s %s what the entity written does not: %s", ent.Kind, ent.ID, d)
			}
		}
	}
	if tx.Creator.MSPID != "" && e.Actor.MSPID != tx.Creator.MSPID {
		fail(CheckEventActor, "the event's actor is of %q; the transaction was signed by %q", e.Actor.MSPID, tx.Creator.MSPID)
	} else if tx.Creator.Subject != "" && e.Actor.Subject != tx.Creator.Subject {
		fail(CheckEventActor, "the event's actor is %q; the transaction was signed by %q", e.Actor.Subject, tx.Creator.Subject)
	}
	if !e.Time.Equal(tx.Timestamp) {
		fail(CheckEventTime, "the event's time %s is not the transaction's timestamp %s",
			e.Time.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), tx.Timestamp.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	for i, ent := range ents {
		if i != at {
			fail(CheckEventUnannounced, "the transaction wrote %s %s, which its event does not name", ent.Kind, ent.ID)
		}
	}
}

// sameContent checks that the entity the event payload carries (its field
// named by the kind) is the value written: byte for byte, as the contract
// marshals both, or else as the same JSON value.
func sameContent(payload []byte, ent Entity) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return fmt.Errorf("the event payload is not a JSON object: %v", err)
	}
	got, ok := fields[string(ent.Kind)]
	if !ok || bytes.Equal(got, []byte("null")) {
		return fmt.Errorf("the event carries no %s state", ent.Kind)
	}
	if bytes.Equal(got, ent.Value) {
		return nil
	}
	a, errA := canonical(got)
	b, errB := canonical(ent.Value)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		return fmt.Errorf("the event's %s %s differs from the value the transaction wrote", ent.Kind, ent.ID)
	}
	return nil
}

// Canonical re-encodes JSON with sorted keys and normalized spacing, so
// that two encodings of the same value compare equal. Numbers keep their
// text.
func Canonical(raw []byte) ([]byte, error) { return canonical(raw) }

func canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return json.Marshal(v)
}

func diffRefs(want, got Refs) string {
	var diffs []string
	cmp := func(field, w, g string) {
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s %q, written %q", field, g, w))
		}
	}
	cmp("status", want.Status, got.Status)
	cmp("datasetId", want.DatasetID, got.DatasetID)
	cmp("requestId", want.RequestID, got.RequestID)
	cmp("owner", want.Owner, got.Owner)
	cmp("requester", want.Requester, got.Requester)
	return strings.Join(diffs, "; ")
}
