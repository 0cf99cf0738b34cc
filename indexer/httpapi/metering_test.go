package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestMeteringRoute(t *testing.T) {
	f := newFixture(t)
	f.addFlows(t) // at 2025-01-02T03:04:1x
	type row struct {
		BucketStart                                      string
		Department, Dataset                              string
		Calls, Records, Bytes, Deliveries, Contributions int64
	}
	var body struct {
		Bucket string `json:"bucket"`
		Items  []row  `json:"items"`
	}
	month := "/v1/metering?bucket=month&from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z"
	if code := f.get(t, month, "Dept2MSP", "operator", &body); code != 200 {
		t.Fatalf("status %d", code)
	}
	got := []string{}
	for _, r := range body.Items {
		got = append(got, fmt.Sprintf("%s %s %s %d/%d/%d/%d/%d", r.BucketStart, r.Department, r.Dataset, r.Calls, r.Records, r.Bytes, r.Deliveries, r.Contributions))
	}
	want := []string{
		"2025-01-01T00:00:00Z Dept1MSP ds1 0/10/100/1/0", // dl1 supplied by its owner
		"2025-01-01T00:00:00Z Dept1MSP ds2 0/7/70/0/1",   // cb1 by its contributor
		"2025-01-01T00:00:00Z Dept3MSP ds2 1/3/0/0/0",    // us1 by its consumer
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || body.Bucket != "month" {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	body.Items = nil
	if code := f.get(t, "/v1/metering?bucket=hour&department=Dept3MSP&dataset=ds2&from=2025-01-02T03:00:00Z&to=2025-01-02T04:00:00Z", "Dept2MSP", "operator", &body); code != 200 || len(body.Items) != 1 || body.Items[0].Calls != 1 {
		t.Fatalf("filtered: %d %+v", code, body.Items)
	}
	body.Items = nil
	// The default range is the 30 days before now (2026-01-01 here): nothing.
	if code := f.get(t, "/v1/metering", "Dept2MSP", "operator", &body); code != 200 || body.Items == nil || len(body.Items) != 0 || body.Bucket != "day" {
		t.Fatalf("default: %d %+v", code, body)
	}
	bad := []string{
		"?bucket=week",
		"?from=yesterday",
		"?to=2025-01-01",
		"?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z",
		"?from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
		"?bucket=hour&from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z", // 1416 hours
		"?bucket=day&from=2000-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
		"?department=a%2Fb",
		"?dataset=a%20b",
	}
	for _, q := range bad {
		t.Run(q, func(t *testing.T) {
			var eb errBody
			if code := f.get(t, "/v1/metering"+q, "Dept2MSP", "operator", &eb); code != 400 || eb.Error.Code != "invalid" {
				t.Fatalf("status %d %+v", code, eb)
			}
		})
	}
	if code := f.get(t, "/v1/metering?bucket=month&from=1990-01-01T00:00:00Z&to=2025-02-01T00:00:00Z", "Dept2MSP", "operator", nil); code != 200 {
		t.Fatalf("420 month buckets: %d", code)
	}
}
