package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
)

// Metering keeps, at apply time and in the block's own Badger transaction,
// one row of counters per bucket, department and dataset, for each bucket
// kind, so that a metering query reads only the rows it answers with.
//
// A row is attributed to the department that did the metered thing:
//   - usage.recorded: the consumer (calls, records);
//   - delivery.recorded: the owner, who supplied the data (deliveries, records, bytes);
//   - contribution.recorded: the contributor (contributions, records, bytes).
//
// The dataset is the one used, delivered or contributed to. Times are the
// transaction timestamps, in UTC.

// Bucket is the width of a metering bucket.
type Bucket string

// The bucket kinds.
const (
	BucketHour  Bucket = "hour"
	BucketDay   Bucket = "day"
	BucketMonth Bucket = "month"
)

// Buckets lists every bucket kind; each event updates one row of each.
var Buckets = []Bucket{BucketHour, BucketDay, BucketMonth}

// Valid reports whether b is a known bucket kind.
func (b Bucket) Valid() bool { return b == BucketHour || b == BucketDay || b == BucketMonth }

// Start is the first instant, in UTC, of the bucket of kind b holding t.
func (b Bucket) Start(t time.Time) time.Time {
	t = t.UTC()
	switch b {
	case BucketHour:
		return t.Truncate(time.Hour)
	case BucketDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	default:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
}

// Next is the start of the bucket after the one starting at start.
func (b Bucket) Next(start time.Time) time.Time {
	switch b {
	case BucketHour:
		return start.Add(time.Hour)
	case BucketDay:
		return start.AddDate(0, 0, 1)
	default:
		return start.AddDate(0, 1, 0)
	}
}

// MeterRow is one row of metering counters.
type MeterRow struct {
	BucketStart   time.Time `json:"bucketStart"`
	Department    string    `json:"department"`
	Dataset       string    `json:"dataset"`
	Calls         int64     `json:"calls"`
	Records       int64     `json:"records"`
	Bytes         int64     `json:"bytes"`
	Deliveries    int64     `json:"deliveries"`
	Contributions int64     `json:"contributions"`
}

const meterValueLen = 5 * 8

func (m *MeterRow) add(o MeterRow) {
	m.Calls += o.Calls
	m.Records += o.Records
	m.Bytes += o.Bytes
	m.Deliveries += o.Deliveries
	m.Contributions += o.Contributions
}

func (m MeterRow) encode() []byte {
	b := make([]byte, 0, meterValueLen)
	for _, v := range []int64{m.Calls, m.Records, m.Bytes, m.Deliveries, m.Contributions} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func (m *MeterRow) decode(b []byte) error {
	if len(b) != meterValueLen {
		return fmt.Errorf("metering counters have %d bytes, not %d", len(b), meterValueLen)
	}
	for i, p := range []*int64{&m.Calls, &m.Records, &m.Bytes, &m.Deliveries, &m.Contributions} {
		*p = int64(binary.BigEndian.Uint64(b[i*8:]))
	}
	return nil
}

// meterOf is the metered amount that a change of type t to entity rec
// adds, with the department it is attributed to; ok is false for changes
// that meter nothing. The amounts are the entity's, as the transaction
// wrote it; only the kind of change comes from the event.
func meterOf(t domain.EventType, rec domain.Record) (row MeterRow, ok bool) {
	switch v := rec.(type) {
	case *domain.Usage:
		if t == domain.EventUsageRecorded {
			return MeterRow{Department: v.Consumer, Dataset: v.DatasetID, Calls: v.Calls, Records: v.Records}, true
		}
	case *domain.Delivery:
		if t == domain.EventDeliveryRecorded {
			return MeterRow{Department: v.Owner, Dataset: v.DatasetID, Deliveries: 1, Records: v.Records, Bytes: v.Bytes}, true
		}
	case *domain.Contribution:
		if t == domain.EventContributionAdded {
			return MeterRow{Department: v.Contributor, Dataset: v.DatasetID, Contributions: 1, Records: v.Records, Bytes: v.Bytes}, true
		}
	}
	return MeterRow{}, false
}

// meter adds a change's metered amounts to its row of each bucket kind.
// Each row is kept under three keys, by time, by dataset and by
// department (keys.go), so that every filter of a query is one key-ordered
// range scan; the three always hold the same counters, so one is read.
func meter(t target, at time.Time, typ domain.EventType, rec domain.Record) error {
	amount, ok := meterOf(typ, rec)
	if !ok {
		return nil
	}
	for _, b := range Buckets {
		start := b.Start(at)
		keys := [3][]byte{meterKey(b, start, amount.Department, amount.Dataset),
			meterByDatasetKey(b, start, amount.Department, amount.Dataset), meterByDeptKey(b, start, amount.Department, amount.Dataset)}
		if err := t.addMeter(keys, amount); err != nil {
			return err
		}
	}
	return nil
}

// appendTime encodes a time as seconds since 1970 with the sign bit flipped,
// so that byte order is time order, before 1970 too.
func appendTime(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(t.Unix())^(1<<63))
}

func parseTime(b []byte) time.Time {
	return time.Unix(int64(binary.BigEndian.Uint64(b)^(1<<63)), 0).UTC()
}

func meterPrefix(b Bucket) []byte { return appendString([]byte(prefixMeter), string(b)) }

func meterKey(b Bucket, start time.Time, department, dataset string) []byte {
	k := appendTime(meterPrefix(b), start)
	k = appendString(k, department)
	return append(k, dataset...)
}

func meterByDatasetPrefix(b Bucket, dataset string) []byte {
	return appendString(appendString([]byte(prefixMeterDataset), string(b)), dataset)
}

func meterByDatasetKey(b Bucket, start time.Time, department, dataset string) []byte {
	return append(appendTime(meterByDatasetPrefix(b, dataset), start), department...)
}

func meterByDeptPrefix(b Bucket, department string) []byte {
	return appendString(appendString([]byte(prefixMeterDept), string(b)), department)
}

func meterByDeptKey(b Bucket, start time.Time, department, dataset string) []byte {
	return append(appendTime(meterByDeptPrefix(b, department), start), dataset...)
}

// MeterQuery selects metering rows: those of kind Bucket whose bucket
// starts in [Bucket.Start(From), To), optionally of one department and
// one dataset. MaxRows bounds the answer.
type MeterQuery struct {
	Bucket     Bucket
	From, To   time.Time
	Department string
	Dataset    string
	MaxRows    int
}

// Metering answers q in order of bucket, department and dataset. More rows
// than q.MaxRows is an invalid query: the caller must narrow it. A dataset
// or a department is a range scan of its own rows over the time range; a
// query of neither scans every row of the range.
func (s *Store) Metering(ctx context.Context, q MeterQuery) ([]MeterRow, error) {
	if !q.Bucket.Valid() {
		return nil, domain.Errorf(domain.CodeInvalid, "bucket %q must be hour, day or month", q.Bucket)
	}
	prefix, parse := meterPrefix(q.Bucket), parseMeterKey
	switch {
	case q.Dataset != "":
		prefix = meterByDatasetPrefix(q.Bucket, q.Dataset)
		parse = func(k []byte) (MeterRow, error) {
			if len(k) < 8 {
				return MeterRow{}, fmt.Errorf("metering key %q is too short", k)
			}
			return MeterRow{BucketStart: parseTime(k[:8]), Department: string(k[8:]), Dataset: q.Dataset}, nil
		}
	case q.Department != "":
		prefix = meterByDeptPrefix(q.Bucket, q.Department)
		parse = func(k []byte) (MeterRow, error) {
			if len(k) < 8 {
				return MeterRow{}, fmt.Errorf("metering key %q is too short", k)
			}
			return MeterRow{BucketStart: parseTime(k[:8]), Department: q.Department, Dataset: string(k[8:])}, nil
		}
	}
	end := appendTime(bytes.Clone(prefix), q.To)
	var rows []MeterRow
	err := s.view(ctx, func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		n := 0
		for it.Seek(appendTime(bytes.Clone(prefix), q.Bucket.Start(q.From))); it.Valid(); it.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key := it.Item().Key()
			if bytes.Compare(key, end) >= 0 {
				break
			}
			row, err := parse(key[len(prefix):])
			if err != nil {
				return err
			}
			if !is(q.Department, row.Department) || !is(q.Dataset, row.Dataset) {
				continue
			}
			if err := it.Item().Value(row.decode); err != nil {
				return fmt.Errorf("metering row %q: %w", key, err)
			}
			if q.MaxRows > 0 && len(rows) == q.MaxRows {
				return domain.Errorf(domain.CodeInvalid, "the query matches more than %d metering rows: narrow it by department, dataset, a shorter range or a wider bucket", q.MaxRows)
			}
			rows = append(rows, row)
		}
		return nil
	})
	return rows, err
}

func parseMeterKey(k []byte) (MeterRow, error) {
	if len(k) < 8 {
		return MeterRow{}, fmt.Errorf("metering key %q is too short", k)
	}
	row := MeterRow{BucketStart: parseTime(k[:8])}
	rest := k[8:]
	i := bytes.Index(rest, []byte{0, 1})
	if i < 0 {
		return MeterRow{}, fmt.Errorf("metering key %q has no department", k)
	}
	row.Department = unescape(rest[:i])
	row.Dataset = string(rest[i+2:])
	return row, nil
}

// unescape reverses appendString's escaping (without the terminator).
func unescape(b []byte) string {
	return string(bytes.ReplaceAll(b, []byte{0, 0xff}, []byte{0}))
}
