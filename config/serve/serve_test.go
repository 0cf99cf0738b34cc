package serve

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestStartServesAndShutdownWaitsForRequestsInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "done")
	})
	s := Start(&http.Server{Handler: h}, ln, func(err error) { t.Errorf("serving failed: %v", err) })
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	if err := s.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != "done" {
		t.Fatalf("the request in flight got %q", b)
	}
	var none *Server
	if none.Addr() != "" || none.Shutdown(time.Second) != nil {
		t.Fatal("a nil server is not closed")
	}
}
