// Package score computes the departments' contribution scores of a period
// from the ledger's events, as SCORING.md describes: it takes the events in
// ledger order, keeps only per-department and per-dataset aggregates (and
// the requests and corrections still waiting for an answer), and returns
// the score document. It is pure Go: it knows neither Badger nor Fabric, so
// anyone can recompute a published document from the same events, and every
// department's indexer produces the same bytes for the same period and
// height.
package score

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// Input is one valid ledger event with the facts of its transaction.
type Input struct {
	TxID          string
	Block         uint64
	Time          time.Time // the transaction timestamp
	PayloadSHA256 string    // hex SHA-256 of the event payload exactly as on the ledger
	Event         *domain.Event
}

// Builder accumulates the events of a period. Add every valid event of the
// ledger in ledger order (it drops those it does not read), then call Scores.
type Builder struct {
	model      *Model
	period     string
	start, end time.Time
	asOfBlock  uint64

	lastBlock uint64
	digest    hash.Hash
	inputs    int

	depts    map[string]*dept
	datasets map[string]*dataset
	// byID holds the datasets in ID order, kept so as each is first seen:
	// the openness sums go in that order, and a snapshot taken after every
	// block must not sort the whole catalog again.
	byID    []*dataset
	pending map[string]waiting // requests created pending, not yet decided
	open    map[string]waiting // corrections opened, not yet resolved
	flows   map[[2]string]float64
	// out holds the departments the consortium policy read last lists as
	// suspended or removed: a period is scored for the departments that
	// are members at its end (or at asOfBlock, for a period not over), so
	// that the periods after a department left leave it out and the ones
	// before keep it.
	out      map[string]bool
	finished bool
}

type dept struct {
	supply             int64
	contribution       float64 // Σ ContributionWeight of accepted contributions
	partners           map[string]bool
	ratings            int
	ratingSum          float64
	receipts, disputed int
	requestHours       []float64
	correctionHours    []float64
}

type dataset struct {
	id     string
	owner  string
	active bool
	share  domain.ShareType
	open   domain.OpenType
	used   bool // used or delivered in the period
}

type waiting struct {
	owner      string
	since      time.Time
	validUntil time.Time // requests only: after it the request can no longer be decided
}

// NewBuilder starts the scores of period (YYYY-MM) as of block asOfBlock.
func NewBuilder(m *Model, period string, asOfBlock uint64) (*Builder, error) {
	start, end, err := domain.PeriodBounds(period)
	if err != nil {
		return nil, err
	}
	return &Builder{
		model: m, period: period, start: start, end: end, asOfBlock: asOfBlock,
		digest:   sha256.New(),
		depts:    map[string]*dept{},
		datasets: map[string]*dataset{},
		pending:  map[string]waiting{},
		open:     map[string]waiting{},
		flows:    map[[2]string]float64{},
		out:      map[string]bool{},
	}, nil
}

// Period is the period's bounds: [start, end).
func (b *Builder) Period() (start, end time.Time) { return b.start, b.end }

// Done reports whether no event of block n or later can matter.
func (b *Builder) Done(n uint64) bool { return n > b.asOfBlock }

// Add takes the next event in ledger order. Events beyond asOfBlock or at
// or after the period's end are not read; everything before the end is,
// since the catalog, the profiles and the waiting requests of the period's
// end come from the whole history.
func (b *Builder) Add(in Input) error {
	if b.finished {
		return fmt.Errorf("event of tx %s added after the scores were computed", in.TxID)
	}
	if in.Event == nil {
		return fmt.Errorf("event of tx %s is missing", in.TxID)
	}
	if in.Block < b.lastBlock {
		return fmt.Errorf("event of tx %s in block %d comes after block %d: events must be in ledger order", in.TxID, in.Block, b.lastBlock)
	}
	b.lastBlock = in.Block
	if in.Block > b.asOfBlock || !in.Time.Before(b.end) {
		return nil
	}
	b.inputs++
	b.digest.Write([]byte(in.TxID))
	b.digest.Write([]byte{'\n'})
	b.digest.Write([]byte(in.PayloadSHA256))
	b.digest.Write([]byte{'\n'})

	e := in.Event
	inPeriod := !in.Time.Before(b.start)
	b.department(e.Owner)
	b.department(e.Requester)
	switch e.Type {
	case domain.EventPolicySet, domain.EventPolicyUpdated:
		if p := e.Policy; p != nil {
			b.out = map[string]bool{}
			for _, m := range slices.Concat(p.Suspended, p.Removed) {
				b.out[m] = true
			}
		}
	case domain.EventDepartmentUpdated:
		b.department(e.ID)
	case domain.EventDatasetRegistered, domain.EventDatasetUpdated, domain.EventDatasetRetired:
		if d := e.Dataset; d != nil {
			b.department(d.Owner)
			ds := b.dataset(d.ID)
			ds.owner, ds.active, ds.share, ds.open = d.Owner, d.Status == domain.DatasetActive, d.ShareType, d.OpenType
		}
	case domain.EventRequestCreated:
		if r := e.Request; r != nil && r.Status == domain.RequestPending {
			b.pending[r.ID] = waiting{owner: r.Owner, since: in.Time, validUntil: r.ValidUntil}
		}
	case domain.EventRequestApproved, domain.EventRequestRejected:
		if r := e.Request; r != nil {
			w, ok := b.pending[r.ID]
			delete(b.pending, r.ID)
			if !ok {
				w = waiting{owner: r.Owner, since: r.CreatedAt}
			}
			if inPeriod && !w.since.IsZero() {
				d := b.department(r.Owner)
				d.requestHours = append(d.requestHours, hours(w.since, in.Time))
			}
		}
	case domain.EventCorrectionOpened:
		if c := e.Correction; c != nil {
			b.open[c.ID] = waiting{owner: c.Owner, since: in.Time}
		}
	case domain.EventCorrectionResolved:
		if c := e.Correction; c != nil {
			w, ok := b.open[c.ID]
			delete(b.open, c.ID)
			if !ok {
				w = waiting{owner: c.Owner, since: c.OpenedAt}
			}
			if inPeriod && !w.since.IsZero() {
				d := b.department(c.Owner)
				d.correctionHours = append(d.correctionHours, hours(w.since, in.Time))
			}
		}
	}
	if !inPeriod {
		return nil
	}
	switch e.Type {
	case domain.EventDeliveryRecorded:
		if dl := e.Delivery; dl != nil {
			d := b.department(dl.Owner)
			d.supply += dl.Records
			b.partner(dl.Owner, dl.Requester)
			b.dataset(dl.DatasetID).used = true
			b.flows[[2]string{dl.Requester, dl.Owner}] += float64(dl.Records)
		}
	case domain.EventDeliveryReceived:
		if dl := e.Delivery; dl != nil {
			d := b.department(dl.Owner)
			d.receipts++
			if dl.Status == domain.DeliveryDisputed {
				d.disputed++
			}
		}
	case domain.EventDeliveryRated:
		if dl := e.Delivery; dl != nil && dl.Feedback != nil {
			d := b.department(dl.Owner)
			d.ratings++
			d.ratingSum += dl.Feedback.Mean()
		}
	case domain.EventUsageRecorded:
		if u := e.Usage; u != nil {
			b.department(u.Consumer)
			b.department(u.Owner)
			b.partner(u.Owner, u.Consumer)
			b.dataset(u.DatasetID).used = true
			b.flows[[2]string{u.Consumer, u.Owner}] += float64(u.Records)
		}
	case domain.EventContributionAccepted:
		// A contribution counts once the pool's owner accepted it, in the
		// period of the acceptance, damped: see ContributionWeight.
		if c := e.Contribution; c != nil && c.Contributor != c.Owner {
			b.department(c.Contributor).contribution += ContributionWeight(c.Records)
		}
	}
	return nil
}

// ContributionWeight is what one accepted contribution of n records adds to
// its contributor's contribution indicator: log2(1+n), rounded to 6
// decimals. Declared volumes are claims (the ledger holds a hash, never the
// data), and the indicator is normalised to the best department, so on a
// linear scale one large declaration would win it outright; on a log scale
// 2^50 records weigh 50, as much as five ordinary contributions of 1,000.
func ContributionWeight(n int64) float64 {
	if n <= 0 {
		return 0
	}
	return math.Round(math.Log2(1+float64(n))*1e6) / 1e6
}

// department returns d's aggregates, creating them; "" is no department.
func (b *Builder) department(id string) *dept {
	if id == "" {
		return &dept{partners: map[string]bool{}}
	}
	d := b.depts[id]
	if d == nil {
		d = &dept{partners: map[string]bool{}}
		b.depts[id] = d
	}
	return d
}

func (b *Builder) dataset(id string) *dataset {
	ds := b.datasets[id]
	if ds == nil {
		ds = &dataset{id: id}
		b.datasets[id] = ds
		i, _ := slices.BinarySearchFunc(b.byID, id, func(d *dataset, id string) int { return strings.Compare(d.id, id) })
		b.byID = slices.Insert(b.byID, i, ds)
	}
	return ds
}

// partner records that other used or received owner's data.
func (b *Builder) partner(owner, other string) {
	if owner != "" && other != "" && other != owner {
		b.department(owner).partners[other] = true
	}
}

func hours(from, to time.Time) float64 {
	return max(0, to.Sub(from).Hours())
}

// Inputs is how many events the document is computed from.
func (b *Builder) Inputs() int { return b.inputs }

// Scores computes the document as of the builder's asOfBlock. The
// builder takes no event after it.
func (b *Builder) Scores() domain.Scores {
	b.finished = true
	return b.compute(b.model, b.asOfBlock)
}

// Snapshot computes the document from the events added so far, as of block
// asOf, and leaves the builder open for more: an indexer keeps one builder
// per period and brings it forward block by block, rather than read the
// whole ledger again for every query. asOf must not be before the block of
// the last event added nor after the builder's own asOfBlock, and every
// event up to asOf must have been added. The document is the one Scores
// would give for a builder made with asOf and fed the same events.
func (b *Builder) Snapshot(asOf uint64) (domain.Scores, error) {
	return b.SnapshotWith(b.model, asOf)
}

// SnapshotWith is Snapshot computed with model m instead of the builder's
// own: what the builder reads does not depend on the model, so one builder
// per period serves every model.
func (b *Builder) SnapshotWith(m *Model, asOf uint64) (domain.Scores, error) {
	if b.finished {
		return domain.Scores{}, fmt.Errorf("snapshot of scores already computed")
	}
	if asOf < b.lastBlock || asOf > b.asOfBlock {
		return domain.Scores{}, fmt.Errorf("snapshot as of block %d: events up to block %d were added, the builder stops at %d", asOf, b.lastBlock, b.asOfBlock)
	}
	return b.compute(m, asOf), nil
}

// compute makes the document with model m without changing the builder.
func (b *Builder) compute(m *Model, asOf uint64) domain.Scores {
	waitReq, waitCorr := b.waiting()
	ids := make([]string, 0, len(b.depts))
	for id := range b.depts {
		if !b.out[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}

	raw := make(map[string][]float64, len(Indicators))
	for _, name := range Indicators {
		raw[name] = make([]float64, len(ids))
	}
	extra := make([]map[string]float64, len(ids))
	active := make([]int, len(ids))
	used := make([]int, len(ids))
	open := make([]float64, len(ids))
	for _, ds := range b.byID {
		i, ok := index[ds.owner]
		if !ok || !ds.active {
			continue
		}
		active[i]++
		if ds.used {
			used[i]++
		}
		open[i] += float64(m.ShareType[ds.share]+m.OpenType[ds.open]) / 2
	}
	for i, id := range ids {
		d := b.depts[id]
		x := map[string]float64{}
		extra[i] = x
		raw["supply"][i] = float64(d.supply)
		raw["contribution"][i] = d.contribution
		raw["breadth"][i] = float64(len(d.partners))
		x["useRate.activeDatasets"] = float64(active[i])
		if active[i] > 0 {
			raw["useRate"][i] = float64(used[i]) / float64(active[i])
			raw["openness"][i] = open[i] / float64(active[i])
		}
		x["quality.ratings"] = float64(d.ratings)
		raw["quality"][i] = m.Neutral
		if d.ratings > 0 {
			raw["quality"][i] = (d.ratingSum/float64(d.ratings) - 1) / 4
		}
		x["disputes.receipts"] = float64(d.receipts)
		if d.receipts > 0 {
			raw["disputes"][i] = float64(d.disputed) / float64(d.receipts)
		}
		requestHours := slices.Concat(d.requestHours, waitReq[id])
		correctionHours := slices.Concat(d.correctionHours, waitCorr[id])
		x["responsiveness.requests"] = float64(len(requestHours))
		x["responsiveness.corrections"] = float64(len(correctionHours))
		x["responsiveness.requestHours"], x["responsiveness.correctionHours"] = 0, 0
		var parts []float64
		if len(requestHours) > 0 {
			h := median(requestHours)
			x["responsiveness.requestHours"] = h
			parts = append(parts, 1/(1+h/24))
		}
		if len(correctionHours) > 0 {
			h := median(correctionHours)
			x["responsiveness.correctionHours"] = h
			parts = append(parts, 1/(1+h/24))
		}
		raw["responsiveness"][i] = m.Neutral
		if len(parts) > 0 {
			sum := 0.0
			for _, p := range parts {
				sum += p
			}
			raw["responsiveness"][i] = sum / float64(len(parts))
		}
	}
	var edges []Edge
	for _, k := range sortedFlowKeys(b.flows) {
		from, okF := index[k[0]]
		to, okT := index[k[1]]
		if okF && okT && from != to {
			edges = append(edges, Edge{From: from, To: to, Weight: b.flows[k]})
		}
	}
	copy(raw["influence"], PageRank(len(ids), edges, m.PageRank))

	// Normalize: more is better, so divide by the best department's value;
	// disputes are a share of deliveries, better when fewer.
	norm := make(map[string][]float64, len(Indicators))
	for _, name := range Indicators {
		v, n := raw[name], make([]float64, len(ids))
		norm[name] = n
		if name == "disputes" {
			for i := range v {
				n[i] = m.Neutral
				if extra[i]["disputes.receipts"] > 0 {
					n[i] = 1 - v[i]
				}
			}
			continue
		}
		best := 0.0
		for _, x := range v {
			best = max(best, x)
		}
		if best > 0 {
			for i, x := range v {
				n[i] = x / best
			}
		}
	}
	totalWeight := 0.0
	for _, name := range Indicators {
		totalWeight += m.Weights[name]
	}
	items := make([]domain.ScoreItem, len(ids))
	for i, id := range ids {
		sum := 0.0
		bd := make(map[string]float64, 2*len(Indicators)+len(extra[i]))
		for _, name := range Indicators {
			sum += float64(m.Weights[name] * norm[name][i])
			bd[name] = Round(raw[name][i])
			bd[name+".norm"] = Round(norm[name][i])
		}
		for k, v := range extra[i] {
			bd[k] = Round(v)
		}
		items[i] = domain.ScoreItem{MSPID: id, Score: Round(100 * sum / totalWeight), Breakdown: bd}
	}
	slices.SortStableFunc(items, func(a, b domain.ScoreItem) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		if a.MSPID < b.MSPID {
			return -1
		}
		return 1
	})
	for i := range items {
		items[i].Rank = i + 1
	}
	return domain.Scores{
		Period:      b.period,
		AsOfBlock:   asOf,
		InputDigest: hex.EncodeToString(b.digest.Sum(nil)),
		ModelDigest: m.Digest(),
		Items:       items,
	}
}

// waiting lists, by owner, the hours that the requests and corrections
// still waiting at the period's end have waited. They count so that leaving
// them unanswered does not look quick. A request stops waiting at its
// validUntil, after which it can no longer be decided. Owners with no
// aggregates of their own (none: every event's owner has them) are left out.
func (b *Builder) waiting() (requests, corrections map[string][]float64) {
	requests, corrections = map[string][]float64{}, map[string][]float64{}
	for _, id := range sortedKeys(b.pending) {
		w := b.pending[id]
		until := b.end
		if !w.validUntil.IsZero() && w.validUntil.Before(until) {
			until = w.validUntil
		}
		if until.After(b.start) && w.since.Before(until) {
			requests[w.owner] = append(requests[w.owner], hours(w.since, until))
		}
	}
	for _, id := range sortedKeys(b.open) {
		w := b.open[id]
		corrections[w.owner] = append(corrections[w.owner], hours(w.since, b.end))
	}
	return requests, corrections
}

// Round rounds to 6 decimals, the precision of every published number, so
// that the last bits of a float cannot make two indexers' documents differ.
func Round(x float64) float64 {
	r := math.Round(x*1e6) / 1e6
	if r == 0 {
		return 0 // no -0 in the JSON
	}
	return r
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedFlowKeys(m map[[2]string]float64) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		if a[1] < b[1] {
			return -1
		} else if a[1] > b[1] {
			return 1
		}
		return 0
	})
	return out
}
