package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/store"
)

func scoresJSON(t *testing.T, s *store.Store, period string, asOf uint64) ([]byte, *domain.Scores) {
	t.Helper()
	doc, err := scoresOf(s).Scores(context.Background(), score.Default(), period, asOf)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b, doc
}

func TestScoresFromTheMirror(t *testing.T) {
	l := metered(t) // blocks 0-3 in 2025, 4 on 2026-03-31, 5 on 2026-04-01
	a := open(t, t.TempDir(), store.Options{})
	applyAll(t, a, l.blocks)

	// Another department's indexer, built in two runs with a small memtable.
	dir := t.TempDir()
	b1, err := store.Open(dir, store.Options{Channel: "datashare", MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	attach(b1)
	applyAll(t, b1, l.blocks[:3])
	b1.Close()
	b := open(t, dir, store.Options{MemTableSize: 1 << 20})
	applyAll(t, b, l.blocks)

	for _, asOf := range []uint64{3, 4, 5} {
		x, _ := scoresJSON(t, a, "2026-03", asOf)
		y, _ := scoresJSON(t, b, "2026-03", asOf)
		if string(x) != string(y) {
			t.Fatalf("as of %d the two mirrors disagree:\n%s\n%s", asOf, x, y)
		}
	}

	supply := func(doc *domain.Scores, msp string) float64 {
		for _, it := range doc.Items {
			if it.MSPID == msp {
				return it.Breakdown["supply"]
			}
		}
		t.Fatalf("%s not in %+v", msp, doc.Items)
		return 0
	}
	_, before := scoresJSON(t, a, "2026-03", 3)
	_, after := scoresJSON(t, a, "2026-03", 4)
	if supply(before, "Dept1MSP") != 0 || supply(after, "Dept1MSP") != 10 || before.InputDigest == after.InputDigest {
		t.Fatalf("asOfBlock cut-off: supply %v then %v", supply(before, "Dept1MSP"), supply(after, "Dept1MSP"))
	}
	// Block 5 is in April: it changes nothing in March.
	_, later := scoresJSON(t, a, "2026-03", 5)
	later.AsOfBlock = 4
	x, _ := json.Marshal(after)
	y, _ := json.Marshal(later)
	if string(x) != string(y) {
		t.Fatal("an April block changed March")
	}
	if len(after.Items) != 2 || after.Items[0].MSPID != "Dept1MSP" || after.Items[0].Rank != 1 {
		t.Fatalf("items %+v", after.Items)
	}

	if _, err := scoresOf(a).Scores(context.Background(), score.Default(), "2026-03", 6); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("asOfBlock beyond the mirror: %v", err)
	}
	if _, err := scoresOf(a).Scores(context.Background(), score.Default(), "March", 1); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("bad period: %v", err)
	}
	empty := open(t, t.TempDir(), store.Options{})
	if _, err := scoresOf(empty).Scores(context.Background(), score.Default(), "2026-03", 0); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("empty mirror: %v", err)
	}
}

// TestScoresCacheFollowsTheMirror asks for the scores after every block, as
// a live indexer is asked, so that the period's cached builder is brought
// forward block by block; then asks again for each height, older than the
// cache, which computes afresh from block 0. Both must give the same bytes,
// and so must a mirror dropped and applied again.
func TestScoresCacheFollowsTheMirror(t *testing.T) {
	raw := synthetic(30, 10)
	st := open(t, t.TempDir(), store.Options{})
	ctx := context.Background()
	live := map[uint64]string{}
	for _, r := range raw {
		d, err := dec.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ApplyBlock(ctx, d); err != nil {
			t.Fatal(err)
		}
		x, _ := scoresJSON(t, st, "2026-03", d.Number)
		again, _ := scoresJSON(t, st, "2026-03", d.Number)
		if string(x) != string(again) {
			t.Fatalf("as of %d, asked twice: %s then %s", d.Number, x, again)
		}
		live[d.Number] = string(x)
	}
	last := uint64(len(raw) - 1)
	for asOf := range last {
		afresh, _ := scoresJSON(t, st, "2026-03", asOf)
		if string(afresh) != live[asOf] {
			t.Fatalf("as of %d the cached builder and a fresh pass disagree:\n%s\n%s", asOf, live[asOf], afresh)
		}
	}
	if err := st.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := scoresOf(st).Scores(ctx, score.Default(), "2026-03", 0); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("scores of a dropped mirror: %v", err)
	}
	// Another ledger of the same height: a builder left from the first
	// would answer with the first ledger's document.
	var other []*block.Block
	for _, r := range synthetic(30, 7) {
		d, err := dec.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		other = append(other, d)
	}
	applyAll(t, st, other)
	elsewhere := open(t, t.TempDir(), store.Options{})
	applyAll(t, elsewhere, other)
	want, _ := scoresJSON(t, elsewhere, "2026-03", last)
	if got, _ := scoresJSON(t, st, "2026-03", last); string(got) != string(want) || string(got) == live[last] {
		t.Fatalf("after a reset and another ledger, as of %d:\n%s\nwant\n%s", last, got, want)
	}
}
