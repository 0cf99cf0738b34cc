package httpapi

import (
	"net/http"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// Metering bounds: a query spans at most maxBuckets buckets (hour buckets
// cover about six weeks, day buckets over five years) and answers at most
// maxMeterRows rows.
const (
	maxBuckets       = 1000
	maxMeterRows     = 10000
	defaultMeterSpan = 30 * 24 * time.Hour
)

type meterBody struct {
	Bucket store.Bucket     `json:"bucket"`
	From   time.Time        `json:"from"`
	To     time.Time        `json:"to"`
	Items  []store.MeterRow `json:"items"`
}

// metering answers the counters of any department: metering is public
// within the consortium.
func (s *Server) metering(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	vals, err := params(q, paramSpec{"department", domain.CheckMSPID}, paramSpec{"dataset", domain.CheckID})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	mq := store.MeterQuery{Bucket: store.BucketDay, Department: vals[0], Dataset: vals[1], MaxRows: maxMeterRows}
	if v := q.Get("bucket"); v != "" {
		mq.Bucket = store.Bucket(v)
		if !mq.Bucket.Valid() {
			s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "bucket %q must be hour, day or month", truncate(v, 20)))
			return
		}
	}
	if mq.To, err = timeParam(q.Get("to"), "to", s.now().UTC()); err != nil {
		s.writeError(w, r, err)
		return
	}
	if mq.From, err = timeParam(q.Get("from"), "from", mq.To.Add(-defaultMeterSpan)); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !mq.From.Before(mq.To) {
		s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "from %s must be before to %s", mq.From.Format(time.RFC3339), mq.To.Format(time.RFC3339)))
		return
	}
	n := 0
	for b := mq.Bucket.Start(mq.From); b.Before(mq.To); b = mq.Bucket.Next(b) {
		if n++; n > maxBuckets {
			s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "from %s to %s spans more than %d %s buckets: shorten the range or widen the bucket",
				mq.From.Format(time.RFC3339), mq.To.Format(time.RFC3339), maxBuckets, mq.Bucket))
			return
		}
	}
	rows, err := s.store.Metering(r.Context(), mq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rows == nil {
		rows = []store.MeterRow{}
	}
	writeJSON(w, http.StatusOK, meterBody{Bucket: mq.Bucket, From: mq.From, To: mq.To, Items: rows})
}

// timeParam reads an RFC 3339 time, in UTC; empty gives def.
func timeParam(v, name string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, domain.Errorf(domain.CodeInvalid, "%s %q must be an RFC 3339 time such as 2026-03-01T00:00:00Z", name, truncate(v, 40))
	}
	return t.UTC(), nil
}
