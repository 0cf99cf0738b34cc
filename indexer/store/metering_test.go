package store_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/store"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// metered adds, to the standard ledger, flows at chosen times:
// 2026-03-31T23:10 delivery of ds1 by Dept1 to Dept2 (10 records, 100 bytes)
// 2026-03-31T23:50 usage of ds1 by Dept2 (2 calls, 4 records)
// 2026-04-01T00:05 usage of ds1 by Dept2 (1 call, 6 records); contribution of Dept2 into ds1 (3 records, 30 bytes)
func metered(t *testing.T) *ledger {
	l := standard(t)
	a1, a2 := l.op1.Actor(domain.RoleOperator), l.op2.Actor(domain.RoleOperator)
	hash := strings.Repeat("b", 64)
	l.block(
		blocktest.Tx{ID: "t-d1", Signer: l.op1, Time: at("2026-03-31T23:10:00Z"), Event: blocktest.DeliveryEvent(domain.EventDeliveryRecorded, a1,
			domain.Delivery{ID: "d1", RequestID: "r1", DatasetID: "ds1", Owner: "Dept1MSP", Requester: "Dept2MSP", SHA256: hash, Records: 10, Bytes: 100, Channel: "sftp", Status: domain.DeliveryDelivered})},
		blocktest.Tx{ID: "t-u1", Signer: l.op2, Time: at("2026-03-31T23:50:00Z"), Event: blocktest.UsageEvent(a2,
			domain.Usage{ID: "u1", RequestID: "r1", DatasetID: "ds1", Consumer: "Dept2MSP", Owner: "Dept1MSP", Calls: 2, Records: 4})},
	)
	l.block(
		blocktest.Tx{ID: "t-u2", Signer: l.op2, Time: at("2026-04-01T00:05:00Z"), Event: blocktest.UsageEvent(a2,
			domain.Usage{ID: "u2", RequestID: "r1", DatasetID: "ds1", Consumer: "Dept2MSP", Owner: "Dept1MSP", Calls: 1, Records: 6})},
		blocktest.Tx{ID: "t-c1", Signer: l.op2, Time: at("2026-04-01T00:05:00Z"), Event: blocktest.ContributionEvent(a2,
			domain.Contribution{ID: "c1", DatasetID: "ds1", Contributor: "Dept2MSP", Owner: "Dept1MSP", Records: 3, Bytes: 30, SHA256: hash})},
	)
	return l
}

func rowString(r store.MeterRow) string {
	return r.BucketStart.Format(time.RFC3339) + " " + r.Department + " " + r.Dataset + " " +
		strings.Join([]string{itoa(r.Calls), itoa(r.Records), itoa(r.Bytes), itoa(r.Deliveries), itoa(r.Contributions)}, "/")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMetering(t *testing.T) {
	l := metered(t)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	from, to := at("2026-03-01T00:00:00Z"), at("2026-05-01T00:00:00Z")
	tests := []struct {
		name string
		q    store.MeterQuery
		want []string // bucket dept dataset calls/records/bytes/deliveries/contributions
	}{
		{"month", store.MeterQuery{Bucket: store.BucketMonth, From: from, To: to}, []string{
			"2026-03-01T00:00:00Z Dept1MSP ds1 0/10/100/1/0",
			"2026-03-01T00:00:00Z Dept2MSP ds1 2/4/0/0/0",
			"2026-04-01T00:00:00Z Dept2MSP ds1 1/9/30/0/1",
		}},
		{"day", store.MeterQuery{Bucket: store.BucketDay, From: from, To: to, Department: "Dept2MSP"}, []string{
			"2026-03-31T00:00:00Z Dept2MSP ds1 2/4/0/0/0",
			"2026-04-01T00:00:00Z Dept2MSP ds1 1/9/30/0/1",
		}},
		{"hour", store.MeterQuery{Bucket: store.BucketHour, From: from, To: to, Dataset: "ds1", Department: "Dept1MSP"}, []string{
			"2026-03-31T23:00:00Z Dept1MSP ds1 0/10/100/1/0",
		}},
		{"to is exclusive", store.MeterQuery{Bucket: store.BucketHour, From: from, To: at("2026-04-01T00:00:00Z")}, []string{
			"2026-03-31T23:00:00Z Dept1MSP ds1 0/10/100/1/0",
			"2026-03-31T23:00:00Z Dept2MSP ds1 2/4/0/0/0",
		}},
		{"from inside a bucket takes the whole bucket", store.MeterQuery{Bucket: store.BucketDay, From: at("2026-04-01T12:00:00Z"), To: to}, []string{
			"2026-04-01T00:00:00Z Dept2MSP ds1 1/9/30/0/1",
		}},
		{"another dataset", store.MeterQuery{Bucket: store.BucketMonth, From: from, To: to, Dataset: "ds2"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.Metering(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(rows, rowString)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	_, err := s.Metering(context.Background(), store.MeterQuery{Bucket: store.BucketMonth, From: from, To: to, MaxRows: 2})
	if domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("too many rows: %v", err)
	}
	if _, err := s.Metering(context.Background(), store.MeterQuery{Bucket: "week", From: from, To: to}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("bad bucket: %v", err)
	}

	// Applying the blocks again changes nothing: no double counting.
	before := digest(t, s)
	applyAll(t, s, l.blocks)
	if string(digest(t, s)) != string(before) {
		t.Fatal("re-applying blocks changed the mirror")
	}
}

func TestBucketStart(t *testing.T) {
	tm := at("2026-02-28T23:59:59Z")
	for _, tt := range []struct {
		b          store.Bucket
		start, nxt string
	}{
		{store.BucketHour, "2026-02-28T23:00:00Z", "2026-03-01T00:00:00Z"},
		{store.BucketDay, "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z"},
		{store.BucketMonth, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
	} {
		s := tt.b.Start(tm)
		if s.Format(time.RFC3339) != tt.start || tt.b.Next(s).Format(time.RFC3339) != tt.nxt {
			t.Errorf("%s: start %s next %s", tt.b, s, tt.b.Next(s))
		}
	}
}

// A query by dataset, department or both (a range scan of their own rows)
// answers what the scan of every row of the range, filtered, answers.
func TestMeteringIndexesMatchAFullScan(t *testing.T) {
	ctx := context.Background()
	l := randomLedger(t, 11, 200, false)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	rng := rand.New(rand.NewPCG(11, 3))
	depts := []string{"", "Dept1MSP", "Dept2MSP", "Dept3MSP", "NoneMSP"}
	all, err := s.Metering(ctx, store.MeterQuery{Bucket: store.BucketMonth, From: at("2025-01-01T00:00:00Z"), To: at("2027-01-01T00:00:00Z")})
	if err != nil || len(all) < 20 {
		t.Fatalf("%d rows, %v", len(all), err)
	}
	for range 200 {
		b := store.Buckets[rng.IntN(3)]
		from := at("2026-01-15T00:00:00Z").Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
		to := from.Add(time.Duration(rng.Int64N(int64(40 * 24 * time.Hour))))
		q := store.MeterQuery{Bucket: b, From: from, To: to, Department: depts[rng.IntN(len(depts))]}
		if rng.IntN(3) > 0 {
			q.Dataset = all[rng.IntN(len(all))].Dataset
		}
		got, err := s.Metering(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		scan, err := s.Metering(ctx, store.MeterQuery{Bucket: b, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range scan {
			if (q.Department == "" || r.Department == q.Department) && (q.Dataset == "" || r.Dataset == q.Dataset) {
				want = append(want, rowString(r))
			}
		}
		var gotS []string
		for _, r := range got {
			gotS = append(gotS, rowString(r))
		}
		if !slices.Equal(gotS, want) {
			t.Fatalf("%+v:\nindexed %v\nscan    %v", q, gotS, want)
		}
	}
}
