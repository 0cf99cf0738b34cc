package score

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

// A state written after any event and read back goes on to the documents
// of a builder that never stopped, and writes the same bytes again.
func TestStateRoundTrip(t *testing.T) {
	l := consortium()
	l.add("2026-03-20T00:00:00Z", rq(domain.EventRequestCreated, "r3", "dsB1", A, B, domain.RequestPending, "2026-03-20T00:00:00Z"))
	l.add("2026-03-21T00:00:00Z", correction(domain.EventCorrectionOpened, "cr2", "dl1", B, A, domain.CorrectionOpen, "2026-03-21T00:00:00Z"))
	for _, period := range []string{"2026-02", "2026-03", "2026-04"} {
		for cut := range l.list {
			b, _ := NewBuilder(Default(), period, math.MaxUint64)
			for _, in := range l.list[:cut+1] {
				if err := b.Add(in); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := b.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			c, err := LoadBuilder(Default(), raw, math.MaxUint64)
			if err != nil {
				t.Fatalf("%s after event %d: %v", period, cut, err)
			}
			again, _ := c.MarshalBinary()
			if !bytes.Equal(raw, again) {
				t.Fatalf("%s after event %d: the state read back encodes differently", period, cut)
			}
			for _, in := range l.list[cut+1:] {
				if err := c.Add(in); err != nil {
					t.Fatal(err)
				}
			}
			last := l.list[len(l.list)-1].Block
			got, _ := c.Snapshot(last)
			gotJSON, _ := json.Marshal(got)
			want, _ := json.Marshal(compute(t, l, period, last))
			if string(gotJSON) != string(want) {
				t.Fatalf("%s, state after event %d:\ngot  %s\nwant %s", period, cut, gotJSON, want)
			}
		}
	}
	if _, err := LoadBuilder(Default(), []byte{1, 2}, 0); err == nil {
		t.Fatal("a truncated state was read")
	}
}

// A later period started from an earlier one's history, once every event
// read is before its start, is the builder a fresh pass makes.
func TestForPeriod(t *testing.T) {
	l := consortium()
	feb, _ := NewBuilder(Default(), "2026-02", math.MaxUint64)
	i := 0
	for ; l.list[i].Time.Before(ts("2026-03-01T00:00:00Z")); i++ {
		feb.Add(l.list[i])
	}
	for _, period := range []string{"2026-03", "2026-05"} {
		b, err := feb.ForPeriod(period, math.MaxUint64)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range l.list[i:] {
			b.Add(in)
		}
		last := l.list[len(l.list)-1].Block
		got, _ := b.Snapshot(last)
		gotJSON, _ := json.Marshal(got)
		want, _ := json.Marshal(compute(t, l, period, last))
		if string(gotJSON) != string(want) {
			t.Fatalf("%s from February's history:\ngot  %s\nwant %s", period, gotJSON, want)
		}
	}
	if _, err := feb.ForPeriod("2026-01", 0); err == nil {
		t.Fatal("an earlier period was started from a later one")
	}
}
