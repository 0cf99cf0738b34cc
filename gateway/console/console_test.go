package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"
)

func newRouter(t *testing.T) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func get(t *testing.T, r http.Handler, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func TestServe(t *testing.T) {
	r := newRouter(t)
	tests := []struct {
		target      string
		status      int
		location    string
		contentType string
		body        string
	}{
		{"/", http.StatusFound, "/console/", "", ""},
		{"/console", http.StatusMovedPermanently, "/console/", "", ""},
		{"/console/", http.StatusOK, "", "text/html", `<script type="module" src="app.js">`},
		{"/console/app.js", http.StatusOK, "", "text/javascript", "import"},
		{"/console/console.css", http.StatusOK, "", "text/css", ":root"},
		{"/console/nothing.js", http.StatusNotFound, "", "application/json", `"not_found"`},
		// Not an asset name: gin matches no route (the gateway's NoRoute answers).
		{"/console/..%2fconsole.go", http.StatusNotFound, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			rec := get(t, r, tc.target, nil)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Fatalf("Location %q, want %q", got, tc.location)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tc.contentType) {
				t.Fatalf("Content-Type %q, want %s", got, tc.contentType)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Fatalf("body does not contain %q:\n%.300s", tc.body, rec.Body)
			}
			if rec.Code == http.StatusOK {
				csp := rec.Header().Get("Content-Security-Policy")
				if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
					t.Fatalf("Content-Security-Policy %q", csp)
				}
				if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("ETag") == "" {
					t.Fatalf("headers %v", rec.Header())
				}
			}
			if strings.Contains(rec.Body.String(), "package console") {
				t.Fatal("served Go source")
			}
			if tc.contentType == "application/json" && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("404 body is not JSON: %s", rec.Body)
			}
		})
	}
}

func TestETagRevalidation(t *testing.T) {
	r := newRouter(t)
	first := get(t, r, "/console/app.js", nil)
	etag := first.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag %q", etag)
	}
	if rec := get(t, r, "/console/app.js", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("same ETag: status %d, %d bytes; want 304 and no body", rec.Code, rec.Body.Len())
	}
	if rec := get(t, r, "/console/app.js", map[string]string{"If-None-Match": `"other"`}); rec.Code != http.StatusOK {
		t.Fatalf("other ETag: status %d, want 200", rec.Code)
	}
	if other := get(t, r, "/console/api.js", nil).Header().Get("ETag"); other == etag {
		t.Fatalf("two files share ETag %s", etag)
	}
}

// TestEveryReferenceIsServed follows the links of index.html and the
// imports of every module, so that a renamed or missing file fails here
// rather than as a blank page in the browser.
func TestEveryReferenceIsServed(t *testing.T) {
	r := newRouter(t)
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`(?:src|href)="([^":]+)"|from '\./([^']+)'`)
	seen := map[string]bool{}
	queue := []string{"index.html"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		a, ok := h.assets[name]
		if !ok {
			t.Errorf("%s is referenced but not embedded", name)
			continue
		}
		if rec := get(t, r, "/console/"+name, nil); name != "index.html" && rec.Code != http.StatusOK {
			t.Errorf("GET /console/%s: %d", name, rec.Code)
		}
		for _, m := range ref.FindAllStringSubmatch(string(a.body), -1) {
			queue = append(queue, m[1]+m[2])
		}
	}
	for name := range h.assets {
		if !seen[name] {
			t.Errorf("%s is embedded but nothing references it", name)
		}
	}
	if len(seen) < 8 {
		t.Errorf("only %d files reached from index.html: %v", len(seen), seen)
	}
}

func TestNewHandlerRefuses(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"no index", fstest.MapFS{"static/app.js": {Data: []byte("x")}}, "no index.html"},
		{"nested folder", fstest.MapFS{"static/index.html": {Data: []byte("x")}, "static/lib/x.js": {Data: []byte("x")}}, "one flat folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newHandler(tc.fs, "static")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
