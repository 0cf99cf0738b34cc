package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"
)

// pagedServer lists total items, limit per page, with an opaque cursor.
func pagedServer(t *testing.T, total int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Caller-Role") != "auditor" {
			http.Error(w, `{"error":{"code":"forbidden"}}`, http.StatusForbidden)
			return
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		end := min(from+limit, total)
		fmt.Fprint(w, `{"items":[`)
		for i := from; i < end; i++ {
			if i > from {
				fmt.Fprint(w, ",")
			}
			fmt.Fprintf(w, `{"n":%d,"text":"a \"nextCursor\":\"x\" inside"}`, i)
		}
		fmt.Fprint(w, `]`)
		if end < total {
			fmt.Fprintf(w, `,"nextCursor":"%d"`, end)
		}
		fmt.Fprint(w, "}\n")
	}))
}

func TestMeasureWalk(t *testing.T) {
	srv := pagedServer(t, 2500)
	defer srv.Close()
	a := asker{hc: srv.Client(), base: srv.URL, header: callerHeaders("BureauMSP", "auditor", "a")}
	r := a.measureWalk(context.Background(), "walk", "test", "/trace?limit=1000", 1, 3)
	if r.Error != "" || r.Items != 2500 || r.Latency.Count != 3 || r.Bytes == 0 {
		t.Fatalf("%+v", r)
	}
	one := a.measure(context.Background(), "page", "test", "/trace?limit=1000", 2, 4, countItems)
	if one.Error != "" || one.Items != 1000 || one.Latency.Count != 4 {
		t.Fatalf("%+v", one)
	}
	denied := asker{hc: srv.Client(), base: srv.URL, header: callerHeaders("BureauMSP", "operator", "o")}
	if r := denied.measure(context.Background(), "page", "test", "/trace?limit=10", 0, 1, countItems); r.Error == "" {
		t.Fatal("a refused query measured")
	}
}

func TestPageOf(t *testing.T) {
	for _, tt := range []struct {
		body  string
		count bool
		next  string
		items int
	}{
		{`{"items":[{"a":1},{"a":2}],"nextCursor":"abc"}`, true, "abc", 2},
		{`{"items":[{"a":"\"nextCursor\":\"no\""}],"nextCursor":"yes"}`, false, "yes", 0},
		{`{"items":[]}`, false, "", 0},
	} {
		next, items, err := pageOf([]byte(tt.body), tt.count)
		if err != nil || next != tt.next || items != tt.items {
			t.Errorf("pageOf(%s) = %q, %d, %v", tt.body, next, items, err)
		}
	}
}

func TestWaitIdle(t *testing.T) {
	// This test process is mostly idle; a second of quiet is enough.
	if _, err := waitIdle(0, time.Second); err == nil {
		t.Fatal("pid 0 has no /proc entry, yet waitIdle succeeded")
	}
	ticks, err := cpuTicks(os.Getpid())
	if err != nil || ticks < 0 {
		t.Fatalf("own CPU ticks %d, %v", ticks, err)
	}
}
