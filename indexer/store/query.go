package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
)

// Page asks for one page of a list: at most Limit items after Cursor, the
// opaque value a previous page returned. Limit is bounded by the domain's
// paging limits (domain.DefaultLimit when 0, at most domain.MaxLimit).
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return domain.DefaultLimit
	case p.Limit > domain.MaxLimit:
		return domain.MaxLimit
	}
	return p.Limit
}

// GetEntity returns the latest state of an entity as the ledger's JSON.
func (s *Store) GetEntity(ctx context.Context, kind domain.Kind, id string) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out json.RawMessage
	err := s.dbView(func(txn *badger.Txn) error {
		var err error
		out, err = getEntity(txn, kind, id)
		return err
	})
	return out, err
}

func getEntity(txn *badger.Txn, kind domain.Kind, id string) (json.RawMessage, error) {
	item, err := txn.Get(entKey(string(kind), id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, domain.Errorf(domain.CodeNotFound, "%s %q not found", kind, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", kind, id, err)
	}
	return item.ValueCopy(nil)
}

func getDecoded(txn *badger.Txn, kind domain.Kind, id string, v any) error {
	raw, err := getEntity(txn, kind, id)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s %s: %w", kind, id, err)
	}
	return nil
}

// GetDataset returns a dataset's latest version.
func (s *Store) GetDataset(ctx context.Context, id string) (*Entity[domain.Dataset], error) {
	return getKind[domain.Dataset](ctx, s, domain.KindDataset, id)
}

// DatasetFilter selects datasets; zero fields select all.
type DatasetFilter struct {
	Owner     string
	ShareType domain.ShareType
	Grade     int
}

func (f DatasetFilter) match(d *domain.Dataset) bool {
	return (f.Owner == "" || d.Owner == f.Owner) &&
		(f.ShareType == "" || d.ShareType == f.ShareType) &&
		(f.Grade == 0 || d.Grade == f.Grade)
}

// ListDatasets lists datasets in ID order. One filter picks the index to
// scan; the others are checked on each dataset found there.
func (s *Store) ListDatasets(ctx context.Context, f DatasetFilter, p Page) ([]Entity[domain.Dataset], string, error) {
	grade := ""
	if f.Grade != 0 {
		grade = strconv.Itoa(f.Grade)
	}
	prefix := pickIndex(domain.KindDataset, filter{idxDatasetOwner, f.Owner},
		filter{idxDatasetShareType, string(f.ShareType)}, filter{idxDatasetGrade, grade})
	return listKind(ctx, s, domain.KindDataset, prefix, p, keepIf(f.match))
}

// GetRequest returns a request, its status as of now (an approved request
// past validUntil reads expired).
func (s *Store) GetRequest(ctx context.Context, id string, now time.Time) (*Entity[domain.Request], error) {
	r, err := getKind[domain.Request](ctx, s, domain.KindRequest, id)
	if err != nil {
		return nil, err
	}
	if err := statusAt(r, now); err != nil {
		return nil, err
	}
	return r, nil
}

// statusAt sets a request's status to its status as of now, in its value
// and its bytes.
func statusAt(r *Entity[domain.Request], now time.Time) error {
	st := r.Value.StatusAt(now)
	if st == r.Value.Status {
		return nil
	}
	raw, err := withField(r.JSON, "status", st)
	if err != nil {
		return fmt.Errorf("request %s: %w", r.Value.ID, err)
	}
	r.Value.Status, r.JSON = st, raw
	return nil
}

// RequestFilter selects requests; zero fields select all. Party keeps the
// requests that department is party to (domain.MayRead). Status is judged
// as of Now, so expired selects approved requests past validUntil.
type RequestFilter struct {
	Dataset   string
	Requester string
	Owner     string
	Status    domain.RequestStatus
	Party     string
	Now       time.Time
}

func (f RequestFilter) match(r *domain.Request) bool {
	return (f.Dataset == "" || r.DatasetID == f.Dataset) &&
		(f.Requester == "" || r.Requester == f.Requester) &&
		(f.Owner == "" || r.Owner == f.Owner) &&
		(f.Status == "" || r.StatusAt(f.Now) == f.Status) &&
		(f.Party == "" || domain.MayRead(f.Party, r))
}

// ListRequests lists requests in ID order, each with its status as of f.Now.
func (s *Store) ListRequests(ctx context.Context, f RequestFilter, p Page) ([]Entity[domain.Request], string, error) {
	status := string(f.Status)
	if f.Status == domain.RequestExpired {
		// Expired is never stored: it is approved and past validUntil.
		status = string(domain.RequestApproved)
	}
	prefix := pickIndex(domain.KindRequest, filter{idxRequestDataset, f.Dataset}, filter{idxRequestRequester, f.Requester},
		filter{idxRequestOwner, f.Owner}, filter{idxRequestParty, f.Party}, filter{idxRequestStatus, status})
	return listKind(ctx, s, domain.KindRequest, prefix, p, func(r *Entity[domain.Request]) (bool, error) {
		if !f.match(&r.Value) {
			return false, nil
		}
		return true, statusAt(r, f.Now)
	})
}

// Trace lists the events about a dataset, request, department or person in
// ledger order.
func (s *Store) Trace(ctx context.Context, by TraceBy, value string, p Page) ([]EventRecord, string, error) {
	if err := checkTraceBy(by); err != nil {
		return nil, "", err
	}
	return s.events(ctx, evIdxPrefix(string(by), value), p)
}

// EntityEvents lists the events of one entity in ledger order: its history.
func (s *Store) EntityEvents(ctx context.Context, kind domain.Kind, id string, p Page) ([]EventRecord, string, error) {
	return s.events(ctx, evIdxPrefix(string(traceEntity), entityValue(string(kind), id)), p)
}

func (s *Store) events(ctx context.Context, prefix []byte, p Page) ([]EventRecord, string, error) {
	raw, next, err := s.eventsRaw(ctx, prefix, p)
	if err != nil {
		return nil, "", err
	}
	items := make([]EventRecord, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &items[i]); err != nil {
			return nil, "", fmt.Errorf("decode event record: %w", err)
		}
	}
	return items, next, nil
}

// TraceRaw is Trace with each event as the mirror stores it: the JSON of
// its EventRecord, which an API can send on without decoding and encoding
// it again.
func (s *Store) TraceRaw(ctx context.Context, by TraceBy, value string, p Page) ([]json.RawMessage, string, error) {
	if err := checkTraceBy(by); err != nil {
		return nil, "", err
	}
	return s.eventsRaw(ctx, evIdxPrefix(string(by), value), p)
}

func (s *Store) eventsRaw(ctx context.Context, prefix []byte, p Page) ([]json.RawMessage, string, error) {
	var items []json.RawMessage
	next, err := s.list(ctx, prefix, p, func(txn *badger.Txn, suffix []byte, ix *badger.Item) (bool, error) {
		at, err := parsePos(suffix)
		if err != nil {
			return false, err
		}
		err = eventValue(txn, ix, at, func(v []byte) error {
			items = append(items, bytes.Clone(v))
			return nil
		})
		return err == nil, err
	})
	if len(items) > p.limit() {
		items = items[:p.limit()]
	}
	return items, next, err
}

// Block returns what the mirror holds of block n.
func (s *Store) Block(ctx context.Context, n uint64) (*BlockRecord, error) {
	return readAt[BlockRecord](ctx, s, blockKey(n), domain.Errorf(domain.CodeNotFound, "block %d has not been indexed", n))
}

// Transactions returns every transaction with this ID: one, unless the
// ledger also holds invalid duplicates of it.
func (s *Store) Transactions(ctx context.Context, txID string) ([]TxRecord, error) {
	var out []TxRecord
	err := s.view(ctx, func(txn *badger.Txn) error {
		prefix := txPrefix(txID)
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec TxRecord
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("decode tx %s: %w", txID, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		err = domain.Errorf(domain.CodeNotFound, "transaction %q not found", txID)
	}
	return out, err
}

func (s *Store) view(ctx context.Context, fn func(*badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.dbView(fn)
}

// list walks the keys under prefix that follow p's cursor, in key order,
// handing visit each key's remainder after the prefix (and its item); visit appends what it
// keeps. It stops at the first kept item past the limit, so that a next
// cursor is returned only when another item really follows, and the caller
// drops that extra item.
func (s *Store) list(ctx context.Context, prefix []byte, p Page, visit func(txn *badger.Txn, suffix []byte, item *badger.Item) (bool, error)) (string, error) {
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return "", err
	}
	limit := p.limit()
	var next string
	err = s.view(ctx, func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false // index values are empty; entities are fetched by key
		it := txn.NewIterator(opts)
		defer it.Close()
		var last []byte
		kept, seen := 0, 0
		for it.Seek(append(bytes.Clone(prefix), after...)); it.Valid(); it.Next() {
			if seen++; seen%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			suffix := it.Item().KeyCopy(nil)[len(prefix):]
			if after != nil && bytes.Equal(suffix, after) {
				continue
			}
			ok, err := visit(txn, suffix, it.Item())
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if kept++; kept > limit {
				next = base64.RawURLEncoding.EncodeToString(last)
				return nil
			}
			last = suffix
		}
		return nil
	})
	return next, err
}

func decodeCursor(c string) ([]byte, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return nil, domain.Errorf(domain.CodeInvalid, "cursor %q is not one this service returned", truncate(c, 40))
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
