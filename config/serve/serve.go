// Package serve is what the gateway's and the indexer's mains share about
// being a process: the signals that stop them, and an HTTP server that is
// started on a listener and stopped letting requests in flight finish.
// Standard library only.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Signals is a context ended by the first SIGINT or SIGTERM. The signals
// are then given back to the runtime, so that a second one ends a shutdown
// that hangs (as in gin's graceful-shutdown example). stop releases them.
func Signals() (ctx context.Context, stop context.CancelFunc) {
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// Server is an HTTP server serving on one listener.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	served chan error
}

// Start serves srv on ln in the background; fail, when not nil, gets the
// error that stops it serving other than a Shutdown.
func Start(srv *http.Server, ln net.Listener, fail func(error)) *Server {
	s := &Server{srv: srv, ln: ln, served: make(chan error, 1)}
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil && fail != nil {
			fail(fmt.Errorf("http server: %w", err))
		}
		s.served <- err
	}()
	return s
}

// Addr is the address it listens on; empty for a nil server.
func (s *Server) Addr() string {
	if s == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting requests and waits, at most within, for those
// in flight; then it reports how serving ended. A nil server is closed.
func (s *Server) Shutdown(within time.Duration) error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var errs []error
	if err := s.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := <-s.served; err != nil {
		errs = append(errs, fmt.Errorf("serve: %w", err))
	}
	return errors.Join(errs...)
}
