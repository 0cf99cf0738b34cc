package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
)

// EventAt returns the event the mirror holds for the transaction at
// position txIndex of block n.
func (s *Store) EventAt(ctx context.Context, n uint64, txIndex int) (*EventRecord, error) {
	return readAt[EventRecord](ctx, s, eventKey(pos{Block: n, Tx: uint32(txIndex)}),
		domain.Errorf(domain.CodeNotFound, "no event indexed at block %d position %d", n, txIndex))
}

// LatestEvent returns the last event about an entity: the one its mirrored
// state comes from.
func (s *Store) LatestEvent(ctx context.Context, kind domain.Kind, id string) (*EventRecord, error) {
	var rec *EventRecord
	err := s.view(ctx, func(txn *badger.Txn) error {
		prefix := evIdxPrefix(string(traceEntity), entityValue(string(kind), id))
		opts := badger.DefaultIteratorOptions
		opts.Prefix, opts.Reverse, opts.PrefetchValues = prefix, true, false
		it := txn.NewIterator(opts)
		defer it.Close()
		// In reverse, Seek goes to the last key <= its argument: one past
		// every position under prefix.
		it.Seek(append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, posLen+1)...))
		if !it.Valid() {
			return domain.Errorf(domain.CodeNotFound, "%s %q has no event", kind, id)
		}
		p, err := parsePos(it.Item().Key()[len(prefix):])
		if err != nil {
			return err
		}
		var r EventRecord
		found, err := readJSON(txn, eventKey(p), &r)
		if err == nil && !found {
			err = fmt.Errorf("event index points at missing event %d/%d", p.Block, p.Tx)
		}
		rec = &r
		return err
	})
	return rec, err
}

// TraceEach hands fn every event about a dataset, request, department or
// person, in ledger order, from one read transaction: the export of a
// whole trace, without pages.
func (s *Store) TraceEach(ctx context.Context, by TraceBy, value string, fn func(*EventRecord) error) error {
	return s.TraceEachRaw(ctx, by, value, func(raw []byte) error {
		var rec EventRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("decode event record: %w", err)
		}
		return fn(&rec)
	})
}

// TraceEachRaw is TraceEach with each event as the mirror stores it, the
// JSON of its EventRecord, valid only until fn returns: an export sends it
// on as it is, which is most of the cost of a long trace saved.
func (s *Store) TraceEachRaw(ctx context.Context, by TraceBy, value string, fn func(raw []byte) error) error {
	if err := checkTraceBy(by); err != nil {
		return err
	}
	prefix := evIdxPrefix(string(by), value)
	return s.view(ctx, func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		// Only the inline index has values worth fetching ahead.
		opts.Prefix, opts.PrefetchValues = prefix, by == inlineEventIndex
		it := txn.NewIterator(opts)
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			p, err := parsePos(it.Item().Key()[len(prefix):])
			if err != nil {
				return err
			}
			if err := eventValue(txn, it.Item(), p, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// eventValue hands fn the stored EventRecord of the event at p, found
// through the index entry ix: its own value when the index holds the event
// inline, else the event log's entry.
func eventValue(txn *badger.Txn, ix *badger.Item, p pos, fn func([]byte) error) error {
	if ix != nil && ix.ValueSize() > 0 {
		return ix.Value(fn)
	}
	item, err := txn.Get(eventKey(p))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("event index points at missing event %d/%d", p.Block, p.Tx)
	}
	if err != nil {
		return fmt.Errorf("read event %d/%d: %w", p.Block, p.Tx, err)
	}
	return item.Value(fn)
}

// checkTraceBy refuses a key a trace cannot follow.
func checkTraceBy(by TraceBy) error {
	switch by {
	case TraceDataset, TraceRequest, TraceDepartment, TraceActor:
		return nil
	}
	return domain.Errorf(domain.CodeInvalid, "cannot trace by %q", by)
}

// LineageNode is a dataset found up or down a lineage, depth steps away.
type LineageNode struct {
	ID      string               `json:"id"`
	Depth   int                  `json:"depth"`
	Owner   string               `json:"owner,omitempty"`
	Title   string               `json:"title,omitempty"`
	Version int                  `json:"version,omitempty"`
	Status  domain.DatasetStatus `json:"status,omitempty"`
	// Via lists the datasets one step nearer that lead to this one.
	Via []string `json:"via"`
	// Missing marks a dataset named in a lineage but not in the mirror.
	Missing bool `json:"missing,omitempty"`
}

// Lineage is where a dataset comes from and where it went.
type Lineage struct {
	Dataset    domain.Dataset `json:"dataset"`
	Upstream   []LineageNode  `json:"upstream"`
	Downstream []LineageNode  `json:"downstream"`
	// Truncated says the walk stopped at MaxLineage datasets in a direction.
	Truncated bool `json:"truncated,omitempty"`
}

// MaxLineage bounds the datasets a lineage lists in each direction.
const MaxLineage = 10000

// Lineage walks a dataset's lineage transitively, upstream through each
// version's derivedFrom and downstream through the reverse index, breadth
// first; each dataset is listed once, at its shortest depth, so cycles end.
func (s *Store) Lineage(ctx context.Context, id string) (*Lineage, error) {
	var out Lineage
	err := s.view(ctx, func(txn *badger.Txn) error {
		if err := getDecoded(txn, domain.KindDataset, id, &out.Dataset); err != nil {
			return err
		}
		var truncUp, truncDown bool
		var err error
		out.Upstream, truncUp, err = walk(ctx, txn, id, func(d *domain.Dataset) ([]string, error) { return d.DerivedFrom, nil })
		if err != nil {
			return err
		}
		out.Downstream, truncDown, err = walk(ctx, txn, id, func(d *domain.Dataset) ([]string, error) {
			return childrenOf(txn, d.ID)
		})
		out.Truncated = truncUp || truncDown
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func childrenOf(txn *badger.Txn, id string) ([]string, error) {
	prefix := idxDatasetDerivedFrom.prefix(id)
	opts := badger.DefaultIteratorOptions
	opts.Prefix, opts.PrefetchValues = prefix, false
	it := txn.NewIterator(opts)
	defer it.Close()
	var out []string
	for it.Rewind(); it.Valid(); it.Next() {
		out = append(out, string(it.Item().Key()[len(prefix):]))
	}
	return out, nil
}

// walk lists the datasets reachable from start through next, breadth first.
func walk(ctx context.Context, txn *badger.Txn, start string, next func(*domain.Dataset) ([]string, error)) ([]LineageNode, bool, error) {
	seen := map[string]int{start: -1} // index into out; -1 for start
	out := []LineageNode{}
	frontier := []string{start}
	for depth := 1; len(frontier) > 0; depth++ {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		var following []string
		for _, id := range frontier {
			var d domain.Dataset
			if err := getDecoded(txn, domain.KindDataset, id, &d); err != nil {
				if errors.Is(err, badger.ErrKeyNotFound) || domain.ErrorCode(err) == domain.CodeNotFound {
					continue // a missing dataset leads nowhere
				}
				return nil, false, err
			}
			ids, err := next(&d)
			if err != nil {
				return nil, false, err
			}
			for _, n := range ids {
				if i, ok := seen[n]; ok {
					if i >= 0 && out[i].Depth == depth && !slices.Contains(out[i].Via, id) {
						out[i].Via = append(out[i].Via, id)
					}
					continue
				}
				if len(out) == MaxLineage {
					sortLineage(out)
					return out, true, nil
				}
				node := LineageNode{ID: n, Depth: depth, Via: []string{id}}
				var nd domain.Dataset
				switch err := getDecoded(txn, domain.KindDataset, n, &nd); {
				case err == nil:
					node.Owner, node.Title, node.Version, node.Status = nd.Owner, nd.Title, nd.Version, nd.Status
				case domain.ErrorCode(err) == domain.CodeNotFound:
					node.Missing = true
				default:
					return nil, false, err
				}
				seen[n] = len(out)
				out = append(out, node)
				following = append(following, n)
			}
		}
		frontier = following
	}
	sortLineage(out)
	return out, false, nil
}

func sortLineage(nodes []LineageNode) {
	for i := range nodes {
		slices.Sort(nodes[i].Via)
	}
	slices.SortFunc(nodes, func(a, b LineageNode) int {
		if a.Depth != b.Depth {
			return a.Depth - b.Depth
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
}
