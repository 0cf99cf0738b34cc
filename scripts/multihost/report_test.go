package main

import (
	"bytes"
	"strings"
	"testing"
)

// A stream of `go test -json` as cmd/test2json writes it: a pass, a skip
// and a failure in one package, a passing package.
const stream = `{"Action":"start","Package":"x/e2e"}
{"Action":"run","Package":"x/e2e","Test":"TestOK"}
{"Action":"output","Package":"x/e2e","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"x/e2e","Test":"TestOK","Output":"    ok_test.go:9: fine\n"}
{"Action":"output","Package":"x/e2e","Test":"TestOK","Output":"--- PASS: TestOK (0.10s)\n"}
{"Action":"pass","Package":"x/e2e","Test":"TestOK","Elapsed":0.1}
{"Action":"run","Package":"x/e2e","Test":"TestBundle"}
{"Action":"output","Package":"x/e2e","Test":"TestBundle","Output":"    bundle_test.go:1: multi-host run: needs the run folder\n"}
{"Action":"output","Package":"x/e2e","Test":"TestBundle","Output":"--- SKIP: TestBundle (0.00s)\n"}
{"Action":"skip","Package":"x/e2e","Test":"TestBundle","Elapsed":0}
{"Action":"output","Package":"x/e2e","Test":"TestBad","Output":"    bad_test.go:3: status 503, want 201\n"}
{"Action":"output","Package":"x/e2e","Test":"TestBad","Output":"--- FAIL: TestBad (2.00s)\n"}
{"Action":"fail","Package":"x/e2e","Test":"TestBad","Elapsed":2}
{"Action":"output","Package":"x/e2e","Output":"FAIL\n"}
{"Action":"fail","Package":"x/e2e","Elapsed":3.5}
go: a line that is not JSON
{"Action":"pass","Package":"x/attack","Elapsed":1.25}
`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	err := report(strings.NewReader(stream), &out, false)
	if err == nil || !strings.Contains(err.Error(), "1 failed") {
		t.Errorf("report: %v, want 1 failed", err)
	}
	got := out.String()
	for _, want := range []string{"multi-host run: needs the run folder", "--- SKIP: TestBundle", "status 503, want 201", "--- FAIL: TestBad",
		"FAIL x/e2e 3.5s", "go: a line that is not JSON", "ok   x/attack 1.2s"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"fine", "=== RUN"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("report shows %q:\n%s", unwanted, got)
		}
	}
	out.Reset()
	if err := report(strings.NewReader(stream), &out, true); err == nil || !strings.Contains(out.String(), "ok_test.go:9: fine") {
		t.Errorf("report -all: %v\n%s", err, out.String())
	}
}
