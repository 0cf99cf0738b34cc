package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSorterFoldsLikeAMap writes random sets, deletes and additions of
// counters to a few hundred keys through a sorter that writes a run every
// few hundred bytes (so that runs merge in tiers), and checks the merged
// stream against a map that took the same writes.
func TestSorterFoldsLikeAMap(t *testing.T) {
	for _, limit := range []int{200, 5000, 1 << 20} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(limit), 7))
			s, err := newSorter(t.TempDir(), limit)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]byte{}
			counter := func(n uint64) []byte {
				var b []byte
				for i := range 5 {
					b = binary.BigEndian.AppendUint64(b, n*uint64(i+1))
				}
				return b
			}
			for i := range 20000 {
				n := rng.IntN(400)
				key := fmt.Appendf(nil, "k/%03d", n)
				if n%2 == 0 { // counters: added to, sometimes reset or deleted
					switch r := rng.IntN(20); {
					case r == 0:
						delete(want, string(key))
						err = s.add(opDel, key, nil)
					case r == 1:
						want[string(key)] = counter(uint64(i))
						err = s.add(opSet, key, counter(uint64(i)))
					default:
						d := uint64(rng.IntN(10))
						cur, ok := want[string(key)]
						if !ok {
							cur = counter(0)
						}
						sum := slices.Clone(cur)
						for j := 0; j < len(sum); j += 8 {
							binary.BigEndian.PutUint64(sum[j:], binary.BigEndian.Uint64(cur[j:])+binary.BigEndian.Uint64(counter(d)[j:]))
						}
						want[string(key)] = sum
						err = s.add(opAdd, key, counter(d))
					}
				} else if rng.IntN(10) == 0 {
					delete(want, string(key))
					err = s.add(opDel, key, nil)
				} else {
					v := fmt.Appendf(nil, "value %d of %d", i, n)
					want[string(key)] = v
					err = s.add(opSet, key, v)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if limit == 200 {
				if err := s.wait(); err != nil {
					t.Fatal(err)
				}
				for _, r := range s.runs {
					if r.tier > 0 {
						goto tiered
					}
				}
				t.Fatalf("%d runs, none merged into a tier", len(s.runs))
			tiered:
			}
			for range 2 { // each may be called again
				var got []string
				err := s.each(func(k, v []byte) error {
					if w, ok := want[string(k)]; !ok || !bytes.Equal(w, v) {
						return fmt.Errorf("key %s: %x, want %x (present %v)", k, v, w, ok)
					}
					got = append(got, string(k))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if keys := slices.Sorted(maps.Keys(want)); !slices.Equal(got, keys) {
					t.Fatalf("%d keys in order, want %d", len(got), len(keys))
				}
			}
		})
	}
}
