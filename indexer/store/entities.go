package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
)

// Entity is one entity as the mirror holds it: Value, decoded, is what the
// filters and the read rules look at; JSON is the bytes the transaction
// wrote, which is what a read answers, so a field the contract added within
// event v1 reaches the reader even before this indexer's types know it.
// It marshals as JSON.
type Entity[T any] struct {
	Value T
	JSON  json.RawMessage
}

// MarshalJSON answers the ledger's bytes.
func (e Entity[T]) MarshalJSON() ([]byte, error) { return e.JSON, nil }

// readEntity reads and decodes one entity in txn.
func readEntity[T any](txn *badger.Txn, kind domain.Kind, id string) (Entity[T], error) {
	var e Entity[T]
	raw, err := getEntity(txn, kind, id)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(raw, &e.Value); err != nil {
		return e, fmt.Errorf("decode %s %s: %w", kind, id, err)
	}
	e.JSON = raw
	return e, nil
}

// listKind lists the entities of one kind found under prefix (an index or
// the entity prefix itself) that match keep, in ID order.
// keep may change the entity it is handed (a request's status as of now);
// the answer's bytes follow (withField).
func listKind[T any](ctx context.Context, s *Store, kind domain.Kind, prefix []byte, p Page, keep func(*Entity[T]) (bool, error)) ([]Entity[T], string, error) {
	var items []Entity[T]
	next, err := s.list(ctx, prefix, p, func(txn *badger.Txn, id []byte, _ *badger.Item) (bool, error) {
		e, err := readEntity[T](txn, kind, string(id))
		if err != nil {
			return false, err
		}
		if ok, err := keep(&e); !ok || err != nil {
			return false, err
		}
		items = append(items, e)
		return true, nil
	})
	if len(items) > p.limit() {
		items = items[:p.limit()]
	}
	return items, next, err
}

// getKind reads one entity of a kind.
func getKind[T any](ctx context.Context, s *Store, kind domain.Kind, id string) (*Entity[T], error) {
	var e Entity[T]
	err := s.view(ctx, func(txn *badger.Txn) (err error) {
		e, err = readEntity[T](txn, kind, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// keepIf adapts a plain filter to listKind.
func keepIf[T any](match func(*T) bool) func(*Entity[T]) (bool, error) {
	return func(e *Entity[T]) (bool, error) { return match(&e.Value), nil }
}

// withField answers obj, a JSON object, with its top-level member name set
// to v, every other byte as it was (the order of members too). A member
// that is not there is added at the end.
func withField(obj json.RawMessage, name string, v any) (json.RawMessage, error) {
	val, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("set %s: not a JSON object", name)
	}
	members := 0
	for ; dec.More(); members++ {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
		keyEnd := dec.InputOffset()
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
		if t != name {
			continue
		}
		end := dec.InputOffset()
		start := end - int64(len(skip))
		if start < keyEnd {
			return nil, fmt.Errorf("set %s: value before its key", name)
		}
		out := make(json.RawMessage, 0, len(obj)-len(skip)+len(val))
		out = append(append(append(out, obj[:start]...), val...), obj[end:]...)
		return out, nil
	}
	end := bytes.LastIndexByte(obj, '}')
	key, _ := json.Marshal(name)
	out := append(json.RawMessage{}, obj[:end]...)
	if members > 0 {
		out = append(out, ',')
	}
	out = append(append(append(append(out, key...), ':'), val...), obj[end:]...)
	return out, nil
}

func is(want, got string) bool { return want == "" || want == got }

// GetDelivery returns a delivery.
func (s *Store) GetDelivery(ctx context.Context, id string) (*Entity[domain.Delivery], error) {
	return getKind[domain.Delivery](ctx, s, domain.KindDelivery, id)
}

// DeliveryFilter selects deliveries; zero fields select all. Party keeps
// the deliveries that department is party to (domain.MayRead).
type DeliveryFilter struct {
	Request string
	Status  domain.DeliveryStatus
	Party   string
}

// ListDeliveries lists deliveries in ID order.
func (s *Store) ListDeliveries(ctx context.Context, f DeliveryFilter, p Page) ([]Entity[domain.Delivery], string, error) {
	prefix := pickIndex(domain.KindDelivery, filter{idxDeliveryRequest, f.Request},
		filter{idxDeliveryStatus, string(f.Status)}, filter{idxDeliveryParty, f.Party})
	return listKind(ctx, s, domain.KindDelivery, prefix, p, keepIf(func(d *domain.Delivery) bool {
		return is(f.Request, d.RequestID) && is(string(f.Status), string(d.Status)) &&
			(f.Party == "" || domain.MayRead(f.Party, d))
	}))
}

// GetCorrection returns a correction.
func (s *Store) GetCorrection(ctx context.Context, id string) (*Entity[domain.Correction], error) {
	return getKind[domain.Correction](ctx, s, domain.KindCorrection, id)
}

// CorrectionFilter selects corrections; zero fields select all. Party keeps
// the corrections that department is party to (domain.MayRead).
type CorrectionFilter struct {
	Delivery string
	Status   domain.CorrectionStatus
	Party    string
}

// ListCorrections lists corrections in ID order.
func (s *Store) ListCorrections(ctx context.Context, f CorrectionFilter, p Page) ([]Entity[domain.Correction], string, error) {
	prefix := pickIndex(domain.KindCorrection, filter{idxCorrectionDelivery, f.Delivery},
		filter{idxCorrectionStatus, string(f.Status)}, filter{idxCorrectionParty, f.Party})
	return listKind(ctx, s, domain.KindCorrection, prefix, p, keepIf(func(c *domain.Correction) bool {
		return is(f.Delivery, c.DeliveryID) && is(string(f.Status), string(c.Status)) &&
			(f.Party == "" || domain.MayRead(f.Party, c))
	}))
}

// GetUsage returns a usage record.
func (s *Store) GetUsage(ctx context.Context, id string) (*Entity[domain.Usage], error) {
	return getKind[domain.Usage](ctx, s, domain.KindUsage, id)
}

// UsageFilter selects usage records; zero fields select all. Party keeps
// the records that department is party to (domain.MayRead).
type UsageFilter struct {
	Request string
	Party   string
}

// ListUsage lists usage records in ID order.
func (s *Store) ListUsage(ctx context.Context, f UsageFilter, p Page) ([]Entity[domain.Usage], string, error) {
	prefix := pickIndex(domain.KindUsage, filter{idxUsageRequest, f.Request}, filter{idxUsageParty, f.Party})
	return listKind(ctx, s, domain.KindUsage, prefix, p, keepIf(func(u *domain.Usage) bool {
		return is(f.Request, u.RequestID) && (f.Party == "" || domain.MayRead(f.Party, u))
	}))
}

// GetContribution returns a contribution.
func (s *Store) GetContribution(ctx context.Context, id string) (*Entity[domain.Contribution], error) {
	return getKind[domain.Contribution](ctx, s, domain.KindContribution, id)
}

// ContributionFilter selects contributions; zero fields select all. Party
// keeps the contributions that department is party to, as contributor or
// the pool's owner (domain.MayRead).
type ContributionFilter struct {
	Dataset     string
	Contributor string
	Party       string
}

// ListContributions lists contributions in ID order.
func (s *Store) ListContributions(ctx context.Context, f ContributionFilter, p Page) ([]Entity[domain.Contribution], string, error) {
	prefix := pickIndex(domain.KindContribution, filter{idxContributionDataset, f.Dataset},
		filter{idxContributionParty, f.Contributor}, filter{idxContributionParty, f.Party})
	return listKind(ctx, s, domain.KindContribution, prefix, p, keepIf(func(c *domain.Contribution) bool {
		return is(f.Dataset, c.DatasetID) && is(f.Contributor, c.Contributor) &&
			(f.Party == "" || domain.MayRead(f.Party, c))
	}))
}

// readAt decodes the record at key, or answers notFound when there is none.
func readAt[T any](ctx context.Context, s *Store, key []byte, notFound error) (*T, error) {
	var v T
	err := s.view(ctx, func(txn *badger.Txn) error {
		found, err := readJSON(txn, key, &v)
		if err == nil && !found {
			err = notFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}
