package store

import (
	"context"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
)

// listKind lists the entities of one kind found under prefix (an index or
// the entity prefix itself) that match keep, in ID order.
// keep may change the entity it is handed (a request's status as of now).
func listKind[T any](ctx context.Context, s *Store, kind domain.Kind, prefix []byte, p Page, keep func(*T) bool) ([]T, string, error) {
	var items []T
	next, err := s.list(ctx, prefix, p, func(txn *badger.Txn, id []byte, _ *badger.Item) (bool, error) {
		var v T
		if err := getDecoded(txn, kind, string(id), &v); err != nil {
			return false, err
		}
		if !keep(&v) {
			return false, nil
		}
		items = append(items, v)
		return true, nil
	})
	if len(items) > p.limit() {
		items = items[:p.limit()]
	}
	return items, next, err
}

// getKind reads one entity of a kind.
func getKind[T any](ctx context.Context, s *Store, kind domain.Kind, id string) (*T, error) {
	var v T
	if err := s.view(ctx, func(txn *badger.Txn) error { return getDecoded(txn, kind, id, &v) }); err != nil {
		return nil, err
	}
	return &v, nil
}

func is(want, got string) bool { return want == "" || want == got }

// GetDelivery returns a delivery.
func (s *Store) GetDelivery(ctx context.Context, id string) (*domain.Delivery, error) {
	return getKind[domain.Delivery](ctx, s, domain.KindDelivery, id)
}

// DeliveryFilter selects deliveries; zero fields select all. Party keeps
// the deliveries that department is party to (domain.IsParty).
type DeliveryFilter struct {
	Request string
	Status  domain.DeliveryStatus
	Party   string
}

// ListDeliveries lists deliveries in ID order.
func (s *Store) ListDeliveries(ctx context.Context, f DeliveryFilter, p Page) ([]domain.Delivery, string, error) {
	prefix := pickIndex(domain.KindDelivery, filter{idxDeliveryRequest, f.Request},
		filter{idxDeliveryStatus, string(f.Status)}, filter{idxDeliveryParty, f.Party})
	return listKind(ctx, s, domain.KindDelivery, prefix, p, func(d *domain.Delivery) bool {
		return is(f.Request, d.RequestID) && is(string(f.Status), string(d.Status)) &&
			(f.Party == "" || domain.IsParty(f.Party, d))
	})
}

// GetCorrection returns a correction.
func (s *Store) GetCorrection(ctx context.Context, id string) (*domain.Correction, error) {
	return getKind[domain.Correction](ctx, s, domain.KindCorrection, id)
}

// CorrectionFilter selects corrections; zero fields select all. Party keeps
// the corrections that department is party to (domain.IsParty).
type CorrectionFilter struct {
	Delivery string
	Status   domain.CorrectionStatus
	Party    string
}

// ListCorrections lists corrections in ID order.
func (s *Store) ListCorrections(ctx context.Context, f CorrectionFilter, p Page) ([]domain.Correction, string, error) {
	prefix := pickIndex(domain.KindCorrection, filter{idxCorrectionDelivery, f.Delivery},
		filter{idxCorrectionStatus, string(f.Status)}, filter{idxCorrectionParty, f.Party})
	return listKind(ctx, s, domain.KindCorrection, prefix, p, func(c *domain.Correction) bool {
		return is(f.Delivery, c.DeliveryID) && is(string(f.Status), string(c.Status)) &&
			(f.Party == "" || domain.IsParty(f.Party, c))
	})
}

// GetUsage returns a usage record.
func (s *Store) GetUsage(ctx context.Context, id string) (*domain.Usage, error) {
	return getKind[domain.Usage](ctx, s, domain.KindUsage, id)
}

// UsageFilter selects usage records; zero fields select all. Party keeps
// the records that department is party to (domain.IsParty).
type UsageFilter struct {
	Request string
	Party   string
}

// ListUsage lists usage records in ID order.
func (s *Store) ListUsage(ctx context.Context, f UsageFilter, p Page) ([]domain.Usage, string, error) {
	prefix := pickIndex(domain.KindUsage, filter{idxUsageRequest, f.Request}, filter{idxUsageParty, f.Party})
	return listKind(ctx, s, domain.KindUsage, prefix, p, func(u *domain.Usage) bool {
		return is(f.Request, u.RequestID) && (f.Party == "" || domain.IsParty(f.Party, u))
	})
}

// GetContribution returns a contribution.
func (s *Store) GetContribution(ctx context.Context, id string) (*domain.Contribution, error) {
	return getKind[domain.Contribution](ctx, s, domain.KindContribution, id)
}

// ContributionFilter selects contributions; zero fields select all. Party
// keeps the contributions that department is party to, as contributor or
// the pool's owner (domain.IsParty).
type ContributionFilter struct {
	Dataset     string
	Contributor string
	Party       string
}

// ListContributions lists contributions in ID order.
func (s *Store) ListContributions(ctx context.Context, f ContributionFilter, p Page) ([]domain.Contribution, string, error) {
	prefix := pickIndex(domain.KindContribution, filter{idxContributionDataset, f.Dataset},
		filter{idxContributionParty, f.Contributor}, filter{idxContributionParty, f.Party})
	return listKind(ctx, s, domain.KindContribution, prefix, p, func(c *domain.Contribution) bool {
		return is(f.Dataset, c.DatasetID) && is(f.Contributor, c.Contributor) &&
			(f.Party == "" || domain.IsParty(f.Party, c))
	})
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
