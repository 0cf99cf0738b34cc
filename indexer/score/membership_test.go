package score

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func policyEvent(typ domain.EventType, version int, members, suspended, removed []string) *domain.Event {
	p := domain.Policy{ID: domain.PolicyID, Members: members, Suspended: suspended, Removed: removed, Version: version}
	return &domain.Event{Type: typ, Kind: domain.KindPolicy, ID: domain.PolicyID, Policy: &p}
}

func ranked(s domain.Scores) []string {
	var out []string
	for _, it := range s.Items {
		out = append(out, it.MSPID)
	}
	slices.Sort(out)
	return out
}

// A department suspended or removed is left out of the periods whose end
// (or asOfBlock) comes after the change, and kept in those before; the
// state of a builder carries it, and so does a later period started from
// an earlier one.
func TestMembershipChangesTheRankedDepartments(t *testing.T) {
	l := consortium() // March: A, B and C all active
	all := []string{A, B, C}
	l.add("2026-02-10T00:00:00Z", policyEvent(domain.EventPolicySet, 1, all, nil, nil))
	// Events must be in ledger order but not in time order: put the policy
	// first by rebuilding the list.
	l.list = append(l.list[len(l.list)-1:], l.list[:len(l.list)-1]...)
	for i := range l.list {
		l.list[i].Block = uint64(i + 1)
	}
	l.add("2026-04-05T00:00:00Z", policyEvent(domain.EventPolicyUpdated, 2, []string{A, B}, []string{C}, nil))
	suspendedAt := l.list[len(l.list)-1].Block
	l.add("2026-04-06T00:00:00Z", contribution("cb3", "dsA1", C, A, 10))
	l.add("2026-05-02T00:00:00Z", policyEvent(domain.EventPolicyUpdated, 3, []string{A, B}, nil, []string{C}))

	last := l.list[len(l.list)-1].Block
	if got := ranked(compute(t, l, "2026-03", last)); !slices.Equal(got, all) {
		t.Fatalf("March, before the suspension, ranks %v, want %v", got, all)
	}
	for _, p := range []string{"2026-04", "2026-05"} {
		if got := ranked(compute(t, l, p, last)); !slices.Equal(got, []string{A, B}) {
			t.Fatalf("%s, after the suspension, ranks %v, want A and B", p, got)
		}
	}
	// April as of the block before the suspension still ranks C.
	if got := ranked(compute(t, l, "2026-04", suspendedAt-1)); !slices.Equal(got, all) {
		t.Fatalf("April before the suspension's block ranks %v", got)
	}

	// The state and ForPeriod keep it.
	b, _ := NewBuilder(Default(), "2026-04", math.MaxUint64)
	for _, in := range l.list[:suspendedAt] {
		b.Add(in)
	}
	raw, _ := b.MarshalBinary()
	c, err := LoadBuilder(Default(), raw, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.MarshalBinary()
	if !bytes.Equal(raw, again) {
		t.Fatal("the state read back encodes differently")
	}
	got, _ := c.Snapshot(suspendedAt)
	if !slices.Equal(ranked(got), []string{A, B}) {
		t.Fatalf("April from its state ranks %v", ranked(got))
	}
	may, err := c.ForPeriod("2026-05", math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range l.list[suspendedAt:] {
		may.Add(in)
	}
	s, _ := may.Snapshot(last)
	gotJSON, _ := json.Marshal(s)
	want, _ := json.Marshal(compute(t, l, "2026-05", last))
	if string(gotJSON) != string(want) {
		t.Fatalf("May from April's state:\ngot  %s\nwant %s", gotJSON, want)
	}
}

// A state written by the version before membership (1) reads as one with
// nobody out.
func TestStateVersion1(t *testing.T) {
	b, _ := NewBuilder(Default(), "2026-03", math.MaxUint64)
	for _, in := range consortium().list {
		b.Add(in)
	}
	raw, _ := b.MarshalBinary()
	// Version 2 ends with the (empty) list of departments out: a uvarint 0.
	if raw[0] != 2 || raw[len(raw)-1] != 0 {
		t.Fatalf("state starts %d, ends %d", raw[0], raw[len(raw)-1])
	}
	v1 := append([]byte{1}, raw[1:len(raw)-1]...)
	c, err := LoadBuilder(Default(), v1, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b.Snapshot(b.LastBlock())
	y, _ := c.Snapshot(c.LastBlock())
	if xj, yj := jsonString(x), jsonString(y); xj != yj {
		t.Fatalf("version 1 state computes another document:\n%s\n%s", xj, yj)
	}
}

func jsonString(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
