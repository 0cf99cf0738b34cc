// Command indexer mirrors one department's view of the ledger into Badger
// and serves read queries over HTTP on the loopback interface.
//
//	indexer -config /abs/indexer.json          follow the ledger and serve
//	indexer rebuild -config /abs/indexer.json  drop the mirror; the next run replays from block 0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/govshare/ledger/config/serve"
	"github.com/govshare/ledger/indexer/audit"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/findings"
	"github.com/govshare/ledger/indexer/httpapi"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/source"
	"github.com/govshare/ledger/indexer/store"
)

func main() {
	ctx, stop := serve.Signals()
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "indexer:", err)
		os.Exit(1)
	}
}

// run is the whole command, from arguments to exit.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	m := NewMain(slog.New(slog.NewJSONHandler(stderr, nil)))
	m.Getenv = getenv
	if len(args) > 0 && args[0] == "rebuild" {
		if err := m.ParseFlags(args[1:]); err != nil {
			return err
		}
		return m.Rebuild()
	}
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	limit := setMemoryLimit(getenv, m.Config.MemoryLimitMB)
	m.ownGoLimit = getenv("GOMEMLIMIT") == ""
	m.Logger.Debug("memory limit", "residentMB", m.Config.MemoryLimitMB, "goLimitBytes", limit)
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	var err error
	select {
	case <-ctx.Done():
		m.Logger.Info("shutting down")
	case err = <-m.Fatal():
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}

// setMemoryLimit gives the Go runtime its soft memory limit, unless the
// GOMEMLIMIT environment variable already did, and returns the limit in
// force. The limit is the Go share of the configured bound on the resident
// set (store.Budget: the rest is for the mirror's mapped files). Badger's
// memtables, caches and table builders live in the Go heap, and long
// answers (a trace export, the first score pass over a period) make
// garbage by the hundred megabytes, which without a limit lets the heap
// grow to twice the live heap before a collection; near the limit the
// collector runs sooner instead.
func setMemoryLimit(getenv func(string) string, limitMB int) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	limit := store.Budget(limitMB).GoLimit
	debug.SetMemoryLimit(limit)
	return limit
}

// Main is the indexer process: ParseFlags, Run, then Close, so that tests
// can drive it like the command does (the gateway's Main has the same
// shape).
type Main struct {
	Config Config
	Logger *slog.Logger
	Getenv func(string) string
	// Ledger is where blocks come from; nil dials the peer in Config.
	Ledger source.Ledger

	// ownGoLimit is set when the process set the Go memory limit from the
	// budget (no GOMEMLIMIT): the store may then raise it while it rebuilds.
	ownGoLimit bool

	store   *store.Store
	gateway *source.Gateway
	server  *serve.Server
	cancel  context.CancelFunc
	fatal   chan error
	done    chan struct{}
}

// NewMain makes a Main with the default configuration.
func NewMain(log *slog.Logger) *Main {
	return &Main{Config: defaultConfig(), Logger: log, Getenv: os.Getenv, fatal: make(chan error, 1), done: make(chan struct{})}
}

// ParseFlags reads the flags, the configuration file they name and the
// environment overrides.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("indexer", flag.ContinueOnError)
	path := fs.String("config", "", "absolute path of the JSON configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c, err := LoadConfig(*path, m.Getenv)
	if err != nil {
		return err
	}
	m.Config = c
	return nil
}

// Run opens the mirror, starts following the ledger and serving HTTP, and
// returns; Fatal reports a follower that stopped for good, Close stops all.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if err := c.validate(m.Ledger == nil); err != nil {
		return err
	}
	model := score.Default()
	if c.Scoring != "" {
		var err error
		if model, err = score.LoadModel(c.Scoring); err != nil {
			return err
		}
	}
	st, err := store.Open(c.DataDir, store.Options{Channel: c.Channel, Logger: m.Logger, MemoryLimitMB: c.MemoryLimitMB,
		RaiseGoLimit: m.ownGoLimit})
	if err != nil {
		return err
	}
	m.store = st
	scorer := scores.Attach(st, m.Logger)
	watcher := findings.Attach(st, m.Logger)
	if m.Ledger == nil {
		gw, err := source.Dial(source.Config{MSPID: c.MSPID, Channel: c.Channel, Endpoint: c.Peer.Endpoint,
			TLSCACert: c.Peer.TLSCACert, HostOverride: c.Peer.HostOverride,
			CertPath: c.Identity.CertPath, KeyPath: c.Identity.KeyPath, Chaincode: c.Chaincode})
		if err != nil {
			return err
		}
		m.gateway, m.Ledger = gw, gw
	}
	follower := &source.Follower{Ledger: m.Ledger, Sink: st, Decoder: block.Decoder{Chaincode: c.Chaincode}, Log: m.Logger}

	ln, err := listen(c.Listen)
	if err != nil {
		return err
	}
	opts := []httpapi.Option{httpapi.WithLogger(m.Logger), httpapi.WithLedgerHeight(follower.LedgerHeight), httpapi.WithScoring(model), httpapi.WithScores(scorer), httpapi.WithFindings(watcher)}
	if r, ok := m.Ledger.(source.BlockReader); ok {
		aud := audit.Auditor{Mirror: st, Ledger: source.AuditLedger{Reader: r, Decoder: follower.Decoder}}
		if state, ok := m.Ledger.(audit.State); ok {
			aud.State = state // the peer's world state, for verify's state.peer check
		}
		opts = append(opts, httpapi.WithAuditor(aud))
	}
	api := httpapi.New(st, opts...)
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      90 * time.Second, // above /internal/wait's longest timeout
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.server = serve.Start(srv, ln, m.report)

	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	go func() {
		defer close(m.done)
		if err := follower.Run(fctx); err != nil && !errors.Is(err, context.Canceled) {
			m.report(err)
		}
	}()
	st0 := st.Status()
	m.Logger.Info("indexer started", "listen", ln.Addr().String(), "mspId", c.MSPID, "channel", c.Channel,
		"height", st0.Height, "genesisHash", st0.GenesisHash, "scoringModel", model.Digest())
	return nil
}

func (m *Main) report(err error) {
	select {
	case m.fatal <- err:
	default:
	}
}

// Fatal delivers the error that stopped the indexer working, if one does.
func (m *Main) Fatal() <-chan error { return m.fatal }

// Addr is the address the API listens on.
func (m *Main) Addr() string { return m.server.Addr() }

// Close stops serving (letting requests in flight finish), stops the
// follower and closes the connection and the mirror.
func (m *Main) Close() error {
	var errs []error
	if err := m.server.Shutdown(10 * time.Second); err != nil {
		errs = append(errs, err)
	}
	m.server = nil
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	if m.gateway != nil {
		if err := m.gateway.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			errs = append(errs, err)
		}
		m.store = nil
	}
	return errors.Join(errs...)
}

// Rebuild drops the mirror: the next run replays the ledger from block 0.
func (m *Main) Rebuild() error {
	if err := m.Config.validate(false); err != nil {
		return err
	}
	st, err := store.Open(m.Config.DataDir, store.Options{Channel: m.Config.Channel, Logger: m.Logger, MemoryLimitMB: m.Config.MemoryLimitMB})
	if err != nil {
		return err
	}
	before := st.Status()
	if err := st.Reset(); err != nil {
		st.Close()
		return err
	}
	m.Logger.Info("mirror dropped; the next run replays from block 0", "dataDir", m.Config.DataDir, "heightWas", before.Height)
	return st.Close()
}

// listen opens the API's listener: a Unix socket for "unix:<path>", mode
// 0600 in a folder of mode 0700, so that only the consortium's user (its
// gateway) can connect; otherwise TCP (tests only). A socket left by an
// indexer that died is removed; one that still answers is not.
func listen(addr string) (net.Listener, error) {
	sock, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		return ln, nil
	}
	dir := filepath.Dir(sock)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("socket folder: %w", err)
	}
	// The folder keeps others out between bind and chmod below.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("socket folder: %w", err)
	}
	if fi, err := os.Lstat(sock); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen on %s: a file that is not a socket is in the way", sock)
		}
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another process serves this socket", sock)
		}
		if err := os.Remove(sock); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	return ln, nil
}
