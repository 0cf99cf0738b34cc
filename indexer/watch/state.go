package watch

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The watch's state lives in the mirror, entry by entry (Entries): a block
// reads the entries its events touch, and Flush writes back, or deletes,
// only those. What the watch holds in memory between blocks is a cache of
// at most cacheEntries entries a part, so its memory does not follow how many
// approvals are in force or how long the ledger is. Each entry's key is
// its part and its ID:
//
//	now                 {"now": ..., "rules": ...}
//	datasets/<id>       the dataset's grade
//	requests/<id>       an approval the watch follows (request)
//	deliveries/<id>     a delivery whose copy is not settled (delivery)
//	corrections/<id>    an open correction (correction)
//	open/<findingId>    an open finding a transaction can close (Finding)
//	activity/<metric>/<msp>  a department's counts for the spike rule (activity)
//	due/<time>/<kind>/<subject>  a pending deadline (true), in the order they pass (dueKey)

// Entries is where the watch keeps its state: the mirror, as of the block
// before the one being fed (the findings service reads it in the block's
// own transaction). Keys are the entries' own, as above.
type Entries interface {
	// Get calls fn with the value of entry key, if there is one.
	Get(key string, fn func(val []byte) error) (found bool, err error)
	// Scan calls fn with every entry whose key starts with prefix, from
	// the first at or after from, in key order, until fn answers false.
	Scan(prefix, from string, fn func(key string, val []byte) (bool, error)) error
}

// cacheEntries bounds the entries of a part a watch over Entries keeps in
// memory from one block to the next: past it, the part's cache is dropped
// after Flush. (A variable, so that tests drop it after every block.)
var cacheEntries = 4096

// tracked is one part of the state. Without Entries (New), m is the whole
// part. Over Entries (Open), m and miss are what is known of it since the
// cache was last dropped: entries read or written, and keys known absent;
// the rest is in the mirror. Every access that may lead to a change goes
// through get, set or del, which mark the key; a key marked but unchanged
// is written again, harmlessly.
type tracked[V any] struct {
	part    string
	back    *backing
	m       map[string]V
	miss    map[string]struct{}
	touched map[string]struct{}
	stored  map[string]struct{} // the keys the mirror holds, of those known
}

// backing is the Entries of a watch, with the first error reading them:
// the block being fed fails with it (Add, EndBlock).
type backing struct {
	e   Entries
	err error
}

func (b *backing) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func newTracked[V any](part string, back *backing) tracked[V] {
	return tracked[V]{part: part, back: back, m: map[string]V{}, miss: map[string]struct{}{},
		touched: map[string]struct{}{}, stored: map[string]struct{}{}}
}

func (t *tracked[V]) mark(k string) { t.touched[k] = struct{}{} }

// lookup is entry k, read from the mirror when it is not known yet.
func (t *tracked[V]) lookup(k string) (V, bool) {
	if v, ok := t.m[k]; ok {
		return v, true
	}
	var zero V
	if t.back == nil {
		return zero, false
	}
	if _, ok := t.miss[k]; ok {
		return zero, false
	}
	v, found := t.read(k)
	if !found {
		if t.back.err == nil {
			t.miss[k] = struct{}{}
		}
		return zero, false
	}
	t.m[k], t.stored[k] = v, struct{}{}
	return v, true
}

// read is entry k as the mirror holds it, not cached; a failure to read
// is the backing's error.
func (t *tracked[V]) read(k string) (V, bool) {
	var v V
	found, err := t.back.e.Get(t.part+"/"+k, func(raw []byte) error { return json.Unmarshal(raw, &v) })
	if err != nil {
		t.back.fail(fmt.Errorf("read watch entry %s/%s: %w", t.part, k, err))
		return v, false
	}
	return v, found
}

// get is the entry k (the zero V when there is none), marked.
func (t *tracked[V]) get(k string) V {
	t.mark(k)
	v, _ := t.lookup(k)
	return v
}

// peek is the entry k, for reading only: a change to what it points to is
// not written.
func (t *tracked[V]) peek(k string) V {
	v, _ := t.lookup(k)
	return v
}

func (t *tracked[V]) has(k string) bool {
	_, ok := t.lookup(k)
	return ok
}

func (t *tracked[V]) set(k string, v V) {
	t.mark(k)
	t.lookup(k) // so that stored knows whether the mirror holds it
	t.m[k] = v
	delete(t.miss, k)
}

func (t *tracked[V]) del(k string) {
	t.mark(k)
	t.lookup(k)
	delete(t.m, k)
	if t.back != nil {
		t.miss[k] = struct{}{}
	}
}

// keys lists the part's keys from from (inclusive) to to (exclusive; ""
// for no end), in order: those known, and those in the mirror not known
// absent. The mirror's are not cached: a whole part may be read.
func (t *tracked[V]) keys(from, to string) []string {
	out, _, _ := t.keysBefore(from, to)
	return out
}

// keysBefore is keys, with the part's first key at or after to (more is
// false when there is none, or to is "").
func (t *tracked[V]) keysBefore(from, to string) (out []string, next string, more bool) {
	after := func(k string) {
		if !more || k < next {
			next, more = k, true
		}
	}
	for k := range t.m {
		switch {
		case k < from:
		case to == "" || k < to:
			out = append(out, k)
		default:
			after(k)
		}
	}
	if t.back != nil {
		prefix := t.part + "/"
		err := t.back.e.Scan(prefix, prefix+from, func(key string, _ []byte) (bool, error) {
			k := strings.TrimPrefix(key, prefix)
			_, gone := t.miss[k]
			_, known := t.m[k]
			if to != "" && k >= to {
				if known || gone {
					return true, nil // known ones are counted above
				}
				after(k)
				return false, nil
			}
			if !known && !gone {
				out = append(out, k)
			}
			return true, nil
		})
		if err != nil {
			t.back.fail(fmt.Errorf("scan watch entries %s: %w", t.part, err))
		}
	}
	slices.Sort(out)
	return out, next, more
}

// each calls fn with every entry of the part, in key order. Entries read
// from the mirror for it are not cached.
func (t *tracked[V]) each(fn func(k string, v V)) {
	for _, k := range t.keys("", "") {
		if v, ok := t.m[k]; ok {
			fn(k, v)
			continue
		}
		if v, found := t.read(k); found {
			fn(k, v)
		} else if t.back.err != nil {
			return
		}
	}
}

func (t *tracked[V]) clearAll() {
	for _, k := range t.keys("", "") {
		t.del(k)
	}
}

// flush writes the touched entries (put) or deletes those gone that the
// mirror holds (del), in key order; over Entries it then drops the cache
// if it has grown past cacheEntries.
func (t *tracked[V]) flush(put func(string, []byte) error, del func(string) error) error {
	for _, k := range slices.Sorted(maps.Keys(t.touched)) {
		v, ok := t.m[k]
		switch {
		case ok:
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if err := put(t.part+"/"+k, raw); err != nil {
				return err
			}
			t.stored[k] = struct{}{}
		default:
			if _, was := t.stored[k]; was {
				if err := del(t.part + "/" + k); err != nil {
					return err
				}
				delete(t.stored, k)
			}
		}
	}
	clear(t.touched)
	if t.back != nil && len(t.m)+len(t.miss) > cacheEntries {
		clear(t.m)
		clear(t.miss)
		clear(t.stored)
	}
	return nil
}

// all is the whole part; for a watch without Entries only (Save).
func (t tracked[V]) MarshalJSON() ([]byte, error) { return json.Marshal(t.m) }

type clock struct {
	Now   time.Time `json:"now"`
	Rules Rules     `json:"rules"`
}

// dueKey is the key of a deadline: its time, fixed width (seconds since
// the year 1, then nanoseconds), so that keys sort as the deadlines pass,
// then its kind and subject, so that the findings of one block open in the
// same order on every indexer.
func dueKey(at time.Time, k Kind, subject string) string {
	at = at.UTC()
	return fmt.Sprintf("%012d.%09d/%s/%s", at.Unix()+unixToYear1, at.Nanosecond(), k, subject)
}

// dueBy is the first key past every deadline at or before t.
func dueBy(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%012d.%09d0", t.Unix()+unixToYear1, t.Nanosecond())
}

const unixToYear1 = 62135596800

func parseDueKey(key string) (deadline, error) {
	ts, rest, ok := strings.Cut(key, "/")
	k, subject, ok2 := strings.Cut(rest, "/")
	var sec, nsec int64
	if _, err := fmt.Sscanf(ts, "%d.%d", &sec, &nsec); err != nil || !ok || !ok2 {
		return deadline{}, fmt.Errorf("deadline entry %q is not <time>/<kind>/<subject>", key)
	}
	return deadline{at: time.Unix(sec-unixToYear1, nsec).UTC(), kind: Kind(k), subject: subject}, nil
}

// Flush hands the mirror what changed in the state since the last Flush
// (or since the watch was made or opened): put each entry written, del
// each entry gone. Called after every block, it keeps the mirror's entries
// the watch's state.
func (w *Watch) Flush(put func(key string, val []byte) error, del func(key string) error) error {
	if w.back != nil && w.back.err != nil {
		return w.back.err
	}
	raw, err := json.Marshal(clock{Now: w.st.Now, Rules: w.st.Rules})
	if err != nil {
		return err
	}
	if err := put("now", raw); err != nil {
		return err
	}
	for _, err := range []error{
		w.st.Datasets.flush(put, del),
		w.st.Requests.flush(put, del),
		w.st.Deliveries.flush(put, del),
		w.st.Corrections.flush(put, del),
		w.st.Open.flush(put, del),
		w.st.Activity.flush(put, del),
		w.st.Due.flush(put, del),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Open goes on with the watch whose state is in e, under the rules its
// "now" entry holds; without one it is a new watch under r. Nothing but
// that entry is read until the events need them.
func Open(r Rules, sink Sink, e Entries) (*Watch, error) {
	w, err := newWatch(r, sink, &backing{e: e})
	if err != nil {
		return nil, err
	}
	_, err = e.Get("now", func(val []byte) error {
		var c clock
		if err := json.Unmarshal(val, &c); err != nil {
			return err
		}
		w.st.Now, w.st.Rules = c.Now, c.Rules
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the watch state: %w", err)
	}
	if err := w.st.Rules.Validate(); err != nil {
		return nil, fmt.Errorf("read the watch state: %w", err)
	}
	return w, nil
}
