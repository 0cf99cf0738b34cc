package score

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// A builder's state can be written down and read back, so that an indexer
// keeps the state of the live periods beside its mirror and a score as of
// any block costs the nearest stored state plus the blocks since, never a
// pass from block 0. The state holds no model (Add never reads it: the
// model is applied in compute), so one stored state serves every model.
//
// The encoding is deterministic: maps are written in key order and floats
// by their bits, so two indexers fed the same events store the same bytes,
// and a state read back computes exactly the document the builder would
// have computed (TestStateRoundTrip).

// stateVersion 2 adds the departments out of the consortium; a version 1
// state (written before membership could change) has none.
const stateVersion = 2

// MarshalBinary encodes everything the builder has read, but not its model
// nor its asOfBlock (given again to LoadBuilder).
func (b *Builder) MarshalBinary() ([]byte, error) {
	if b.finished {
		return nil, errors.New("state of scores already computed")
	}
	dm, ok := b.digest.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("the input digest cannot be saved")
	}
	dstate, err := dm.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w := &writer{}
	w.uvarint(stateVersion)
	w.str(b.period)
	w.uvarint(b.lastBlock)
	w.bytes(dstate)
	w.uvarint(uint64(b.inputs))

	w.uvarint(uint64(len(b.depts)))
	for _, id := range sortedKeys(b.depts) {
		d := b.depts[id]
		w.str(id)
		w.varint(d.supply)
		w.float(d.contribution)
		w.strs(sortedKeys(d.partners))
		w.varint(int64(d.ratings))
		w.float(d.ratingSum)
		w.varint(int64(d.receipts))
		w.varint(int64(d.disputed))
		w.floats(d.requestHours)
		w.floats(d.correctionHours)
	}
	w.uvarint(uint64(len(b.byID)))
	for _, ds := range b.byID {
		w.str(ds.id)
		w.str(ds.owner)
		w.bool(ds.active)
		w.str(string(ds.share))
		w.str(string(ds.open))
		w.bool(ds.used)
	}
	for _, m := range []map[string]waiting{b.pending, b.open} {
		w.uvarint(uint64(len(m)))
		for _, id := range sortedKeys(m) {
			x := m[id]
			w.str(id)
			w.str(x.owner)
			w.time(x.since)
			w.time(x.validUntil)
		}
	}
	keys := sortedFlowKeys(b.flows)
	w.uvarint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k[0])
		w.str(k[1])
		w.float(b.flows[k])
	}
	w.strs(sortedKeys(b.out))
	return w.b, nil
}

// LoadBuilder reads a state that MarshalBinary wrote into a builder of
// model m that stops at asOfBlock, which must not be before the state's
// last block. Fed the events after that block, it gives the documents a
// builder fed every event from block 0 would give, byte for byte.
func LoadBuilder(m *Model, data []byte, asOfBlock uint64) (*Builder, error) {
	r := &reader{b: data}
	v := r.uvarint()
	if r.err == nil && (v < 1 || v > stateVersion) {
		return nil, fmt.Errorf("score state version %d, this build reads 1 to %d", v, stateVersion)
	}
	period := r.str()
	if r.err != nil {
		return nil, fmt.Errorf("score state: %w", r.err)
	}
	b, err := NewBuilder(m, period, asOfBlock)
	if err != nil {
		return nil, err
	}
	b.lastBlock = r.uvarint()
	dstate := r.bytes()
	b.inputs = int(r.uvarint())
	if r.err == nil {
		if err := b.digest.(encoding.BinaryUnmarshaler).UnmarshalBinary(dstate); err != nil {
			return nil, fmt.Errorf("score state: input digest: %w", err)
		}
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		id := r.str()
		d := &dept{partners: map[string]bool{}}
		d.supply = r.varint()
		d.contribution = r.float()
		for _, p := range r.strs() {
			d.partners[p] = true
		}
		d.ratings = int(r.varint())
		d.ratingSum = r.float()
		d.receipts = int(r.varint())
		d.disputed = int(r.varint())
		d.requestHours = r.floats()
		d.correctionHours = r.floats()
		b.depts[id] = d
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		ds := &dataset{id: r.str(), owner: r.str(), active: r.bool(), share: domain.ShareType(r.str()), open: domain.OpenType(r.str()), used: r.bool()}
		b.datasets[ds.id] = ds
		b.byID = append(b.byID, ds)
	}
	for _, m := range []map[string]waiting{b.pending, b.open} {
		for n := r.count(); n > 0 && r.err == nil; n-- {
			id := r.str()
			m[id] = waiting{owner: r.str(), since: r.time(), validUntil: r.time()}
		}
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		from, to := r.str(), r.str()
		b.flows[[2]string{from, to}] = r.float()
	}
	if v >= 2 {
		for _, m := range r.strs() {
			b.out[m] = true
		}
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("score state of %s: %w", period, r.err)
	}
	if asOfBlock < b.lastBlock {
		return nil, fmt.Errorf("score state of %s holds block %d, beyond asOfBlock %d", period, b.lastBlock, asOfBlock)
	}
	if !slices.IsSortedFunc(b.byID, func(x, y *dataset) int { return strings.Compare(x.id, y.id) }) {
		return nil, fmt.Errorf("score state of %s: datasets out of order", period)
	}
	return b, nil
}

// ForPeriod starts a later period from what the builder has read: its
// history (catalog, profiles, waiting requests and corrections, input
// digest), without its period's flows, which are history for the later
// one. It is the builder a fresh pass would make for period, provided
// that no event read so far is at or after period's start: the caller
// starts a period when the first event in it arrives.
func (b *Builder) ForPeriod(period string, asOfBlock uint64) (*Builder, error) {
	if b.finished {
		return nil, errors.New("scores already computed")
	}
	n, err := NewBuilder(b.model, period, asOfBlock)
	if err != nil {
		return nil, err
	}
	if n.start.Before(b.end) {
		return nil, fmt.Errorf("period %s does not follow %s", period, b.period)
	}
	if n.digest, err = cloneDigest(b.digest); err != nil {
		return nil, err
	}
	n.lastBlock, n.inputs = b.lastBlock, b.inputs
	for id := range b.depts {
		n.department(id)
	}
	n.byID = make([]*dataset, len(b.byID))
	for i, ds := range b.byID {
		c := *ds
		c.used = false
		n.byID[i] = &c
		n.datasets[c.id] = &c
	}
	for id, w := range b.pending {
		n.pending[id] = w
	}
	for id, w := range b.open {
		n.open[id] = w
	}
	for m := range b.out {
		n.out[m] = true
	}
	return n, nil
}

// PeriodName is the builder's period, YYYY-MM.
func (b *Builder) PeriodName() string { return b.period }

// LastBlock is the block of the last event added (read or not).
func (b *Builder) LastBlock() uint64 { return b.lastBlock }

// Skip records that every event up to block n has been offered, though
// none was read: a state stored after it holds as of n.
func (b *Builder) Skip(n uint64) {
	b.lastBlock = max(b.lastBlock, n)
}

func cloneDigest(h hash.Hash) (hash.Hash, error) {
	raw, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	c := sha256.New()
	if err := c.(encoding.BinaryUnmarshaler).UnmarshalBinary(raw); err != nil {
		return nil, err
	}
	return c, nil
}

type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) float(f float64)  { w.b = binary.BigEndian.AppendUint64(w.b, math.Float64bits(f)) }
func (w *writer) bytes(p []byte)   { w.uvarint(uint64(len(p))); w.b = append(w.b, p...) }
func (w *writer) str(s string)     { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *writer) strs(v []string) {
	w.uvarint(uint64(len(v)))
	for _, s := range v {
		w.str(s)
	}
}
func (w *writer) floats(v []float64) {
	w.uvarint(uint64(len(v)))
	for _, f := range v {
		w.float(f)
	}
}

// time keeps the instant to the nanosecond, in UTC; the zero time stays zero.
func (w *writer) time(t time.Time) {
	if t.IsZero() {
		w.bool(false)
		return
	}
	w.bool(true)
	w.varint(t.Unix())
	w.uvarint(uint64(t.Nanosecond()))
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated at %s", what)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("a number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("a number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length, refusing one longer than what is left.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("a list")
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) str() string { return string(r.bytes()) }

func (r *reader) float() float64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail("a float")
		return 0
	}
	f := math.Float64frombits(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return f
}

func (r *reader) bool() bool {
	if r.err != nil || len(r.b) < 1 {
		r.fail("a flag")
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func (r *reader) strs() []string {
	n := r.count()
	out := make([]string, 0, n)
	for ; n > 0 && r.err == nil; n-- {
		out = append(out, r.str())
	}
	return out
}

func (r *reader) floats() []float64 {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]float64, 0, n)
	for ; n > 0 && r.err == nil; n-- {
		out = append(out, r.float())
	}
	return out
}

func (r *reader) time() time.Time {
	if !r.bool() {
		return time.Time{}
	}
	sec := r.varint()
	ns := r.uvarint()
	return time.Unix(sec, int64(ns)).UTC()
}
