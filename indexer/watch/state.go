package watch

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The watch's state is kept in the mirror entry by entry (Flush, LoadEntries):
// after each block only the entries the block touched are written or
// deleted, so what a block costs follows what it holds, never how many
// approvals are in force. Each entry's key is its part and its ID:
//
//	now                 {"now": ..., "rules": ...}
//	datasets/<id>       the dataset's grade
//	requests/<id>       an approval the watch follows (request)
//	deliveries/<id>     a delivery whose copy is not settled (delivery)
//	corrections/<id>    an open correction (correction)
//	open/<findingId>    an open finding a transaction can close (Finding)
//	activity/<metric>/<msp>  a department's counts for the spike rule (activity)

// tracked is one part of the state: its map, the keys touched since the
// last Flush and the keys the mirror holds. Every access that may lead to
// a change goes through get, set or del, which mark the key; a key marked
// but unchanged is written again, harmlessly.
type tracked[V any] struct {
	m       map[string]V
	touched map[string]struct{}
	stored  map[string]struct{}
}

func newTracked[V any]() tracked[V] {
	return tracked[V]{m: map[string]V{}, touched: map[string]struct{}{}, stored: map[string]struct{}{}}
}

func (t *tracked[V]) mark(k string) {
	if t.touched == nil {
		t.touched = map[string]struct{}{}
	}
	t.touched[k] = struct{}{}
}

// get is the entry k (the zero V when there is none), marked.
func (t *tracked[V]) get(k string) V {
	t.mark(k)
	return t.m[k]
}

func (t *tracked[V]) set(k string, v V) {
	t.mark(k)
	t.m[k] = v
}

func (t *tracked[V]) del(k string) {
	t.mark(k)
	delete(t.m, k)
}

func (t *tracked[V]) clearAll() {
	for k := range t.m {
		t.mark(k)
	}
	clear(t.m)
}

func (t tracked[V]) MarshalJSON() ([]byte, error) { return json.Marshal(t.m) }

func (t *tracked[V]) UnmarshalJSON(b []byte) error {
	t.m = nil
	if err := json.Unmarshal(b, &t.m); err != nil {
		return err
	}
	t.touched, t.stored = map[string]struct{}{}, map[string]struct{}{}
	return nil
}

// flush writes the touched entries of part name (put) or deletes those
// gone that the mirror holds (del), in key order.
func (t *tracked[V]) flush(name string, put func(string, []byte) error, del func(string) error) error {
	keys := make([]string, 0, len(t.touched))
	for k := range t.touched {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if t.stored == nil {
		t.stored = map[string]struct{}{}
	}
	for _, k := range keys {
		v, ok := t.m[k]
		switch {
		case ok:
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if err := put(name+"/"+k, raw); err != nil {
				return err
			}
			t.stored[k] = struct{}{}
		default:
			if _, was := t.stored[k]; was {
				if err := del(name + "/" + k); err != nil {
					return err
				}
				delete(t.stored, k)
			}
		}
	}
	clear(t.touched)
	return nil
}

func (t *tracked[V]) load(k string, raw []byte) error {
	var v V
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	t.m[k] = v
	t.stored[k] = struct{}{}
	return nil
}

type clock struct {
	Now   time.Time `json:"now"`
	Rules Rules     `json:"rules"`
}

// Flush hands the mirror what changed in the state since the last Flush
// (or since the watch was made or loaded): put each entry written, del
// each entry gone. Called after every block, it keeps the mirror's copy
// equal to Save's.
func (w *Watch) Flush(put func(key string, val []byte) error, del func(key string) error) error {
	raw, err := json.Marshal(clock{Now: w.st.Now, Rules: w.st.Rules})
	if err != nil {
		return err
	}
	if err := put("now", raw); err != nil {
		return err
	}
	for _, err := range []error{
		w.st.Datasets.flush("datasets", put, del),
		w.st.Requests.flush("requests", put, del),
		w.st.Deliveries.flush("deliveries", put, del),
		w.st.Corrections.flush("corrections", put, del),
		w.st.Open.flush("open", put, del),
		w.st.Activity.flush("activity", put, del),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// LoadEntries rebuilds a watch from the entries Flush wrote (each handed
// to yield's callback, in any order) and goes on from them under the rules
// they hold. Without a "now" entry it is a new watch under r.
func LoadEntries(r Rules, sink Sink, entries func(fn func(key string, val []byte) error) error) (*Watch, error) {
	w, err := New(r, sink)
	if err != nil {
		return nil, err
	}
	err = entries(func(key string, val []byte) error {
		if key == "now" {
			var c clock
			if err := json.Unmarshal(val, &c); err != nil {
				return err
			}
			w.st.Now, w.st.Rules = c.Now, c.Rules
			return nil
		}
		part, id, ok := strings.Cut(key, "/")
		if !ok {
			return fmt.Errorf("entry %q has no part", key)
		}
		switch part {
		case "datasets":
			return w.st.Datasets.load(id, val)
		case "requests":
			return w.st.Requests.load(id, val)
		case "deliveries":
			return w.st.Deliveries.load(id, val)
		case "corrections":
			return w.st.Corrections.load(id, val)
		case "open":
			return w.st.Open.load(id, val)
		case "activity":
			return w.st.Activity.load(id, val)
		}
		return fmt.Errorf("entry %q of no known part", key)
	})
	if err != nil {
		return nil, fmt.Errorf("read the watch state: %w", err)
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	w.reschedule()
	return w, nil
}
