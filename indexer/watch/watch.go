package watch

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// Input is one believed event with the facts of its transaction.
type Input struct {
	TxID  string
	Block uint64
	Time  time.Time // the transaction timestamp
	Event *domain.Event
}

func (in Input) evidence() Evidence {
	return Evidence{TxID: in.TxID, Block: in.Block, Time: in.Time.UTC(), Type: in.Event.Type, Actor: in.Event.Actor}
}

// Watch holds what later blocks can still turn into a finding or close.
// Feed it every believed event in ledger order (Add) and the end of every
// block (EndBlock); it hands each finding it opens, changes or closes to
// its sink. It is not safe for concurrent use.
type Watch struct {
	sink Sink
	st   state
	back *backing // nil: the whole state in memory (New)
	// dueMin is at or below every pending deadline's key (noneDue when
	// there is none; "" until a block's end has read them): a block's end
	// that passes none reads nothing. Memory only: a watch opened again
	// finds it again.
	dueMin string
}

// noneDue is above every deadline key.
const noneDue = "\xff"

// state is everything the watch keeps, as Save writes it down.
type state struct {
	Now         time.Time            `json:"now"`   // the latest block's time: the largest transaction time seen
	Rules       Rules                `json:"rules"` // as the latest policy on the ledger sets them
	Datasets    tracked[int]         `json:"datasets"`
	Requests    tracked[*request]    `json:"requests"`
	Deliveries  tracked[*delivery]   `json:"deliveries"`
	Corrections tracked[*correction] `json:"corrections"`
	Open        tracked[*Finding]    `json:"open"`     // open findings that a transaction can close
	Activity    tracked[*activity]   `json:"activity"` // per metric and department: "request-spike/Dept1MSP"
	Due         tracked[bool]        `json:"due"`      // pending deadlines, by dueKey
}

type request struct {
	DatasetID  string     `json:"datasetId"`
	Owner      string     `json:"owner"`
	Requester  string     `json:"requester"`
	Grade      int        `json:"grade"`
	Fields     []string   `json:"fields,omitempty"` // the fields it named, kept from FieldsWatchedFrom
	Approved   *Evidence  `json:"approved,omitempty"`
	ValidUntil time.Time  `json:"validUntil"`
	Revoked    *Evidence  `json:"revoked,omitempty"`
	Delivered  int64      `json:"delivered"`
	Used       int64      `json:"used"`
	Copies     []string   `json:"copies,omitempty"` // deliveries still followed, sorted
	Disputed   []string   `json:"disputed,omitempty"`
	Overuse    string     `json:"overuse,omitempty"` // the ID of its open overuse finding
	EndedAt    *time.Time `json:"endedAt,omitempty"` // set once the watch has seen the approval end
}

// end is when the request's approval ends: its expiry or its revocation,
// whichever is first; zero when it was never approved.
func (r *request) end() time.Time {
	if r.Approved == nil {
		return time.Time{}
	}
	if r.Revoked != nil && r.Revoked.Time.Before(r.ValidUntil) {
		return r.Revoked.Time
	}
	return r.ValidUntil
}

type delivery struct {
	RequestID string    `json:"requestId"`
	SHA256    string    `json:"sha256"`
	Records   int64     `json:"records"`
	Recorded  Evidence  `json:"recorded"`
	Received  *Evidence `json:"received,omitempty"`
	Disputed  bool      `json:"disputed,omitempty"`
}

type correction struct {
	DeliveryID string   `json:"deliveryId"`
	RequestID  string   `json:"requestId"`
	DatasetID  string   `json:"datasetId"`
	Owner      string   `json:"owner"`
	Grade      int      `json:"grade"`
	Opened     Evidence `json:"opened"`
}

// New starts a watch over a ledger from its first block, its whole state
// in memory (Open keeps it in the mirror).
func New(r Rules, sink Sink) (*Watch, error) { return newWatch(r, sink, nil) }

func newWatch(r Rules, sink Sink, back *backing) (*Watch, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &Watch{sink: sink, back: back, st: state{Rules: r,
		Datasets: newTracked[int]("datasets", back), Requests: newTracked[*request]("requests", back),
		Deliveries: newTracked[*delivery]("deliveries", back), Corrections: newTracked[*correction]("corrections", back),
		Open: newTracked[*Finding]("open", back), Activity: newTracked[*activity]("activity", back),
		Due: newTracked[bool]("due", back),
	}}, nil
}

// readErr is the first failure to read the mirror's entries, if any: the
// block being fed fails with it.
func (w *Watch) readErr() error {
	if w.back == nil {
		return nil
	}
	return w.back.err
}

// push schedules a deadline.
func (w *Watch) push(at time.Time, k Kind, subject string) {
	key := dueKey(at, k, subject)
	w.st.Due.set(key, true)
	if key < w.dueMin {
		w.dueMin = key
	}
}

// WithSink makes w hand its findings to sink from now on.
func (w *Watch) WithSink(sink Sink) *Watch {
	w.sink = sink
	return w
}

// Now is the latest block's time as the watch judges it.
func (w *Watch) Now() time.Time { return w.st.Now }

// Add takes the next believed event in ledger order.
func (w *Watch) Add(in Input) error {
	if err := w.add(in); err != nil {
		return err
	}
	return w.readErr()
}

func (w *Watch) add(in Input) error {
	e := in.Event
	if e == nil {
		return fmt.Errorf("tx %s: no event", in.TxID)
	}
	ev := in.evidence()
	switch {
	case e.Policy != nil:
		// The windows change at this position of the ledger: every
		// pending deadline is worked out again under them. A new spike
		// rule counts in its own periods: the history starts afresh.
		old := w.st.Rules
		w.st.Rules = w.st.Rules.FromPolicy(e.Policy)
		if w.st.Rules.SpikePeriod != old.SpikePeriod || w.st.Rules.SpikeDays != old.SpikeDays {
			w.st.Activity.clearAll()
		}
		w.reschedule()
	case e.Dataset != nil:
		w.st.Datasets.set(e.Dataset.ID, e.Dataset.Grade)
	case e.Request != nil:
		return w.addRequest(in, ev, e.Request)
	case e.Delivery != nil:
		return w.addDelivery(in, ev, e.Delivery)
	case e.Usage != nil:
		return w.addUsage(in, ev, e.Usage)
	case e.Correction != nil:
		return w.addCorrection(in, ev, e.Correction)
	}
	return nil
}

func (w *Watch) addRequest(in Input, ev Evidence, r *domain.Request) error {
	if in.Event.Type == domain.EventRequestCreated {
		if err := w.count(in, ev, KindRequestSpike, r.Requester, 1); err != nil {
			return err
		}
	}
	q := w.st.Requests.get(r.ID)
	if q == nil {
		if r.Status != domain.RequestApproved {
			// Pending or refused: nothing to watch until it is approved.
			return nil
		}
		q = &request{DatasetID: r.DatasetID, Owner: r.Owner, Requester: r.Requester, Grade: w.st.Datasets.peek(r.DatasetID)}
		if q.Grade >= FieldsWatchedFrom {
			q.Fields = slices.Clone(r.Fields)
		}
		w.st.Requests.set(r.ID, q)
	}
	switch r.Status {
	case domain.RequestApproved:
		if q.Approved == nil {
			q.Approved, q.ValidUntil = &ev, r.ValidUntil.UTC()
			w.push(q.ValidUntil, kindEnd, r.ID)
		}
	case domain.RequestRevoked:
		if q.Revoked == nil {
			q.Revoked = &ev
			// The copies' destroy deadlines move to the revocation.
			for _, id := range q.Copies {
				w.scheduleDestroy(id, q)
			}
			w.push(q.end(), kindEnd, r.ID)
		}
	}
	return nil
}

func (w *Watch) addDelivery(in Input, ev Evidence, d *domain.Delivery) error {
	switch in.Event.Type {
	case domain.EventDeliveryRecorded:
		q := w.st.Requests.get(d.RequestID)
		if q == nil {
			return nil // not under an approval the watch follows
		}
		w.st.Deliveries.set(d.ID, &delivery{RequestID: d.RequestID, SHA256: d.SHA256, Records: d.Records, Recorded: ev})
		q.Copies = insertSorted(q.Copies, d.ID)
		q.Delivered += d.Records
		w.scheduleReceipt(d.ID, q)
		w.scheduleDestroy(d.ID, q)
		if outside := d.FieldsOutside(q.Fields); q.Grade >= FieldsWatchedFrom && len(outside) > 0 {
			f := Finding{ID: findingID(KindFieldsOutside, d.ID), Kind: KindFieldsOutside, Department: d.Owner, Person: &ev.Actor,
				DatasetID: d.DatasetID, RequestID: d.RequestID, DeliveryID: d.ID, Grade: q.Grade, Records: d.Records,
				Evidence: []Evidence{*q.Approved, ev},
				Detail: fmt.Sprintf("delivery %s of grade %d data carried %s, which request %s did not name (it named %s)",
					d.ID, q.Grade, strings.Join(outside, ", "), d.RequestID, strings.Join(q.Fields, ", "))}
			if err := w.open(f, ev.Time, ev.Block, nil); err != nil {
				return err
			}
		}
		if q.Overuse != "" && q.Used <= q.Delivered {
			id := q.Overuse
			q.Overuse = ""
			return w.close(id, ev)
		}
		return nil
	case domain.EventDeliveryReceived:
		x := w.st.Deliveries.get(d.ID)
		if x == nil || x.Received != nil {
			return nil
		}
		x.Received = &ev
		if err := w.close(findingID(KindReceiptOverdue, d.ID), ev); err != nil {
			return err
		}
		q := w.st.Requests.get(x.RequestID)
		if d.Status == domain.DeliveryDisputed {
			x.Disputed = true
			q.Disputed = insertSorted(q.Disputed, d.ID)
			w.scheduleDispute(d.ID, q)
			return nil
		}
		// A matching delivery settles the request's earlier disputes.
		for _, id := range q.Disputed {
			if err := w.settleDispute(id, ev); err != nil {
				return err
			}
		}
		q.Disputed = nil
		return w.maybeForget(d.ID)
	case domain.EventDeliveryDestroyed:
		// The fields it should not have carried are gone with the copy,
		// whether or not the watch still follows it.
		if err := w.close(findingID(KindFieldsOutside, d.ID), ev); err != nil {
			return err
		}
		x := w.st.Deliveries.get(d.ID)
		if x == nil {
			return nil
		}
		if err := w.close(findingID(KindNotDestroyed, d.ID), ev); err != nil {
			return err
		}
		return w.forget(d.ID)
	}
	return nil
}

func (w *Watch) addUsage(in Input, ev Evidence, u *domain.Usage) error {
	if err := w.count(in, ev, KindUsageSpike, u.Consumer, u.Records); err != nil {
		return err
	}
	q := w.st.Requests.get(u.RequestID)
	if q == nil || !ev.Time.Before(q.end()) {
		f := Finding{Kind: KindUseAfterEnd, Department: u.Consumer, Person: &ev.Actor, DatasetID: u.DatasetID,
			RequestID: u.RequestID, Records: u.Records, Evidence: []Evidence{ev}}
		if q == nil {
			f.Detail = fmt.Sprintf("%d records used under request %s, which has no approval in force", u.Records, u.RequestID)
		} else {
			f.Grade = q.Grade
			f.Evidence = append(q.endEvidence(), ev)
			f.Detail = fmt.Sprintf("%d records used at %s, after the approval of request %s ended at %s",
				u.Records, ev.Time.Format(time.RFC3339), u.RequestID, q.end().Format(time.RFC3339))
		}
		f.ID = findingID(KindUseAfterEnd, u.ID)
		return w.open(f, ev.Time, ev.Block, nil)
	}
	q.Used += u.Records
	if q.Used <= q.Delivered {
		return nil
	}
	// One finding an episode: from the use that went past the delivered
	// records to the delivery that covers them.
	id := q.Overuse
	if id == "" {
		id = findingID(KindOveruse, u.RequestID+"/"+in.TxID)
		q.Overuse = id
	}
	f := Finding{ID: id, Kind: KindOveruse, Department: u.Consumer, Person: &ev.Actor, DatasetID: q.DatasetID,
		RequestID: u.RequestID, Grade: q.Grade, Records: q.Used - q.Delivered,
		Detail: fmt.Sprintf("%d records used under request %s, %d delivered", q.Used, u.RequestID, q.Delivered)}
	if old := w.st.Open.get(id); old != nil {
		// The evidence stays three positions however many uses follow:
		// the approval, the use that first went past, and the latest.
		f.State, f.Evidence, f.OpenedAt, f.OpenedAtBlock, f.Period = StateOpen, append(slices.Clone(old.Evidence[:min(2, len(old.Evidence))]), ev), old.OpenedAt, old.OpenedAtBlock, old.Period
		f.ChangedAtBlock = ev.Block
		w.st.Open.set(id, &f)
		return w.sink(f)
	}
	f.Evidence = []Evidence{*q.Approved, ev}
	return w.open(f, ev.Time, ev.Block, nil)
}

func (w *Watch) addCorrection(in Input, ev Evidence, c *domain.Correction) error {
	switch c.Status {
	case domain.CorrectionOpen:
		x := &correction{DeliveryID: c.DeliveryID, RequestID: c.RequestID, DatasetID: c.DatasetID, Owner: c.Owner,
			Grade: w.st.Datasets.peek(c.DatasetID), Opened: ev}
		w.st.Corrections.set(c.ID, x)
		w.scheduleCorrection(c.ID, x)
	case domain.CorrectionResolved:
		if w.st.Corrections.get(c.ID) == nil {
			return nil
		}
		w.st.Corrections.del(c.ID)
		if err := w.close(findingID(KindCorrectionOverdue, c.ID), ev); err != nil {
			return err
		}
		// A resolved correction settles the dispute of its delivery.
		if x := w.st.Deliveries.get(c.DeliveryID); x != nil && x.Disputed {
			if q := w.st.Requests.get(x.RequestID); q != nil {
				q.Disputed = slices.DeleteFunc(q.Disputed, func(id string) bool { return id == c.DeliveryID })
			}
			return w.settleDispute(c.DeliveryID, ev)
		}
	}
	return nil
}

// settleDispute ends the dispute of delivery id.
func (w *Watch) settleDispute(id string, ev Evidence) error {
	x := w.st.Deliveries.get(id)
	if x == nil || !x.Disputed {
		return nil
	}
	x.Disputed = false
	if err := w.close(findingID(KindDisputeOpen, id), ev); err != nil {
		return err
	}
	return w.maybeForget(id)
}

// The deadlines of a delivery's receipt, answer to its dispute and
// destruction, and of a correction's resolution, when its grade has one.
func (w *Watch) scheduleReceipt(id string, q *request) {
	if win := w.st.Rules.receiptWithin(q.Grade); win > 0 {
		w.push(w.st.Deliveries.peek(id).Recorded.Time.Add(win), KindReceiptOverdue, id)
	}
}

func (w *Watch) scheduleDispute(id string, q *request) {
	if win := w.st.Rules.answerWithin(q.Grade); win > 0 {
		w.push(w.st.Deliveries.peek(id).Received.Time.Add(win), KindDisputeOpen, id)
	}
}

func (w *Watch) scheduleDestroy(id string, q *request) {
	if win := w.st.Rules.destroyWithin(q.Grade); win > 0 {
		w.push(q.end().Add(win), KindNotDestroyed, id)
	}
}

func (w *Watch) scheduleCorrection(id string, c *correction) {
	if win := w.st.Rules.answerWithin(c.Grade); win > 0 {
		w.push(c.Opened.Time.Add(win), KindCorrectionOverdue, id)
	}
}

// reschedule works every pending deadline out again from the state, as
// the rules now are: one that has passed finds its finding open or its
// obligation met, and a stale one finds its due time changed.
func (w *Watch) reschedule() {
	w.st.Due.clearAll()
	w.st.Requests.each(func(id string, q *request) {
		if q.Approved != nil && q.EndedAt == nil {
			w.push(q.end(), kindEnd, id)
		}
	})
	w.st.Deliveries.each(func(id string, x *delivery) {
		q := w.st.Requests.peek(x.RequestID)
		if x.Received == nil {
			w.scheduleReceipt(id, q)
		}
		if x.Disputed {
			w.scheduleDispute(id, q)
		}
		w.scheduleDestroy(id, q)
	})
	w.st.Corrections.each(func(id string, c *correction) {
		w.scheduleCorrection(id, c)
	})
}

// maybeForget drops a delivery no finding can come from any more: received,
// undisputed, and of a grade that requires no destruction.
func (w *Watch) maybeForget(id string) error {
	x := w.st.Deliveries.get(id)
	if x == nil || x.Received == nil || x.Disputed {
		return nil
	}
	if q := w.st.Requests.get(x.RequestID); q != nil && w.st.Rules.destroyWithin(q.Grade) > 0 {
		return nil
	}
	return w.forget(id)
}

func (w *Watch) forget(id string) error {
	x := w.st.Deliveries.get(id)
	w.st.Deliveries.del(id)
	if q := w.st.Requests.get(x.RequestID); q != nil {
		q.Copies = slices.DeleteFunc(q.Copies, func(s string) bool { return s == id })
		q.Disputed = slices.DeleteFunc(q.Disputed, func(s string) bool { return s == id })
		w.maybeForgetRequest(x.RequestID)
	}
	return nil
}

// maybeForgetRequest drops a request whose approval has ended and whose
// copies are all settled: a use after that is a use after the end, known
// as such without it.
func (w *Watch) maybeForgetRequest(id string) {
	q := w.st.Requests.get(id)
	if q != nil && q.EndedAt != nil && len(q.Copies) == 0 {
		w.st.Requests.del(id)
		w.st.Open.del(q.Overuse) // nothing can cover the records any more
	}
}

func (q *request) endEvidence() []Evidence {
	out := []Evidence{*q.Approved}
	if q.Revoked != nil {
		out = append(out, *q.Revoked)
	}
	return out
}

// EndBlock ends block n, whose latest transaction time is t (the zero time
// for a block with none): the watch's clock moves to t if later, and every
// deadline it has passed opens its finding.
func (w *Watch) EndBlock(n uint64, t time.Time) error {
	if t.After(w.st.Now) {
		w.st.Now = t.UTC()
	}
	to := dueBy(w.st.Now)
	if to <= w.dueMin {
		return w.readErr()
	}
	passed, next, more := w.st.Due.keysBefore(w.dueMin, to)
	w.dueMin = noneDue
	if more {
		w.dueMin = next
	}
	for _, k := range passed {
		d, err := parseDueKey(k)
		if err != nil {
			return err
		}
		w.st.Due.del(k)
		if err := w.fire(d, n); err != nil {
			return err
		}
	}
	return w.readErr()
}

// fire opens the finding of a passed deadline if it still holds: a later
// event may have met the obligation, or moved the deadline.
func (w *Watch) fire(d deadline, block uint64) error {
	id := findingID(d.kind, d.subject)
	if w.st.Open.has(id) {
		return nil
	}
	due := d.at
	switch d.kind {
	case kindEnd:
		if q := w.st.Requests.get(d.subject); q != nil && q.EndedAt == nil && !q.end().After(w.st.Now) {
			end := q.end()
			q.EndedAt = &end
			w.maybeForgetRequest(d.subject)
		}
		return nil
	case KindReceiptOverdue:
		x := w.st.Deliveries.get(d.subject)
		if x == nil || x.Received != nil {
			return nil
		}
		q := w.st.Requests.get(x.RequestID)
		win := w.st.Rules.receiptWithin(q.Grade)
		if win == 0 || !x.Recorded.Time.Add(win).Equal(due) {
			return nil
		}
		return w.open(Finding{ID: id, Kind: d.kind, Department: q.Requester, DatasetID: q.DatasetID, RequestID: x.RequestID,
			DeliveryID: d.subject, Grade: q.Grade, Records: x.Records, Evidence: []Evidence{x.Recorded},
			Detail: fmt.Sprintf("delivery %s of %d records has had no receipt for %s", d.subject, x.Records, win)}, due, block, &due)
	case KindDisputeOpen:
		x := w.st.Deliveries.get(d.subject)
		if x == nil || !x.Disputed {
			return nil
		}
		q := w.st.Requests.get(x.RequestID)
		win := w.st.Rules.answerWithin(q.Grade)
		if win == 0 || !x.Received.Time.Add(win).Equal(due) {
			return nil
		}
		return w.open(Finding{ID: id, Kind: d.kind, Department: q.Owner, Person: &x.Recorded.Actor, DatasetID: q.DatasetID,
			RequestID: x.RequestID, DeliveryID: d.subject, Grade: q.Grade, Records: x.Records, Evidence: []Evidence{x.Recorded, *x.Received},
			Detail: fmt.Sprintf("delivery %s has been disputed for %s without a resolved correction or a matching delivery", d.subject, win)}, due, block, &due)
	case KindCorrectionOverdue:
		c := w.st.Corrections.get(d.subject)
		if c == nil {
			return nil
		}
		win := w.st.Rules.answerWithin(c.Grade)
		if win == 0 || !c.Opened.Time.Add(win).Equal(due) {
			return nil
		}
		f := Finding{ID: id, Kind: d.kind, Department: c.Owner, DatasetID: c.DatasetID, RequestID: c.RequestID,
			DeliveryID: c.DeliveryID, CorrectionID: d.subject, Grade: c.Grade, Evidence: []Evidence{c.Opened},
			Detail: fmt.Sprintf("correction %s has been open for %s", d.subject, win)}
		return w.open(f, due, block, &due)
	case KindNotDestroyed:
		x := w.st.Deliveries.get(d.subject)
		if x == nil {
			return nil
		}
		q := w.st.Requests.get(x.RequestID)
		win := w.st.Rules.destroyWithin(q.Grade)
		if win == 0 || !q.end().Add(win).Equal(due) {
			return nil
		}
		f := Finding{ID: id, Kind: d.kind, Department: q.Requester, DatasetID: q.DatasetID, RequestID: x.RequestID,
			DeliveryID: d.subject, Grade: q.Grade, Records: x.Records, Evidence: append(q.endEvidence(), x.Recorded),
			Detail: fmt.Sprintf("the copy of delivery %s (grade %d) is not destroyed %s after its approval ended at %s",
				d.subject, q.Grade, win, q.end().Format(time.RFC3339))}
		if x.Received != nil {
			f.Person = &x.Received.Actor
			f.Evidence = append(f.Evidence, *x.Received)
		}
		return w.open(f, due, block, &due)
	}
	return fmt.Errorf("deadline of unknown kind %q", d.kind)
}

// open records a new finding (or a changed one) and hands it to the sink.
func (w *Watch) open(f Finding, at time.Time, block uint64, due *time.Time) error {
	f.State, f.OpenedAt, f.OpenedAtBlock, f.ChangedAtBlock = StateOpen, at.UTC(), block, block
	f.Period = f.OpenedAt.Format("2006-01")
	if due != nil {
		d := due.UTC()
		f.Due = &d
	}
	if closable(f.Kind) {
		w.st.Open.set(f.ID, &f)
	}
	return w.sink(f)
}

// close closes the open finding id, if there is one, with the evidence of
// the transaction that resolved it.
func (w *Watch) close(id string, ev Evidence) error {
	f := w.st.Open.get(id)
	if f == nil {
		return nil
	}
	w.st.Open.del(id)
	out := *f
	out.State, out.ClosedBy, out.ChangedAtBlock = StateClosed, &ev, ev.Block
	return w.sink(out)
}

func closable(k Kind) bool {
	switch k {
	case KindUseAfterEnd, KindRequestSpike, KindUsageSpike:
		return false
	}
	return true
}

func findingID(k Kind, subject string) string { return string(k) + "/" + subject }

func insertSorted(s []string, v string) []string {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

// activity is one department's daily counts of one metric, for the spike
// rule: the days (UTC, as days since 1970) of the last Rules.SpikeDays+1.
type activity struct {
	First  int64           `json:"first"` // the first day with any count
	Days   map[int64]int64 `json:"days"`
	Spiked map[int64]bool  `json:"spiked,omitempty"` // days already reported
}

// count adds n to department msp's count of metric k on the day of the
// transaction and opens a spike finding when the day has become one.
func (w *Watch) count(in Input, ev Evidence, k Kind, msp string, n int64) error {
	if msp == "" || n <= 0 {
		return nil
	}
	key := string(k) + "/" + msp
	a := w.st.Activity.get(key)
	period := int64(w.st.Rules.SpikePeriod / time.Second)
	day := int64(math.Floor(float64(in.Time.Unix()) / float64(period)))
	if a == nil {
		a = &activity{First: day, Days: map[int64]int64{}}
		w.st.Activity.set(key, a)
	}
	if day < a.First {
		a.First = day
	}
	a.Days[day] += n
	latest := day
	for d := range a.Days {
		latest = max(latest, d)
	}
	for d := range a.Days {
		if d < latest-int64(w.st.Rules.SpikeDays) {
			delete(a.Days, d)
		}
	}
	for d := range a.Spiked {
		if d < latest-int64(w.st.Rules.SpikeDays) {
			delete(a.Spiked, d)
		}
	}
	c := a.Days[day]
	if c < w.st.Rules.SpikeMin || a.Spiked[day] {
		return nil
	}
	from := max(a.First, day-int64(w.st.Rules.SpikeDays))
	days := day - from
	if days < int64(w.st.Rules.SpikeHistory) || day < latest-int64(w.st.Rules.SpikeDays)+1 {
		return nil
	}
	var sum, sq float64
	for d := from; d < day; d++ {
		v := float64(a.Days[d])
		sum += v
		sq += v * v
	}
	mean := sum / float64(days)
	sd := math.Sqrt(math.Max(0, sq/float64(days)-mean*mean))
	limit := mean + w.st.Rules.SpikeSigmas*sd
	if float64(c) <= limit {
		return nil
	}
	if a.Spiked == nil {
		a.Spiked = map[int64]bool{}
	}
	a.Spiked[day] = true
	// A day is named by its date; a shorter or longer period by its start.
	start := time.Unix(day*period, 0).UTC()
	date, on, before := start.Format("2006-01-02"), "on "+start.Format("2006-01-02"), "days"
	if period != 86400 {
		date = start.Format("2006-01-02T15:04:05Z")
		on, before = fmt.Sprintf("in the %s from %s", w.st.Rules.SpikePeriod, date), "periods"
	}
	what := "requests created"
	if k == KindUsageSpike {
		what = "records used"
	}
	f := Finding{ID: findingID(k, msp+"/"+date), Kind: k, Department: msp, Person: &ev.Actor, Records: c, Evidence: []Evidence{ev},
		Detail: fmt.Sprintf("%d %s %s, above %.1f (mean %.1f + %g standard deviations of %.1f over the %d %s before)",
			c, what, on, limit, mean, w.st.Rules.SpikeSigmas, sd, days, before)}
	return w.open(f, ev.Time, ev.Block, nil)
}
