// Command gateway serves one department's REST API: it authenticates people
// by bearer token, submits their transactions to the department's peer signed
// with their own identities, and reads from the department's indexer
// through its typed client (gateway/indexclient).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	fabid "github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/govshare/ledger/config"
	"github.com/govshare/ledger/config/serve"
	"github.com/govshare/ledger/gateway/attest"
	"github.com/govshare/ledger/gateway/fabric"
	"github.com/govshare/ledger/gateway/fabricca"
	"github.com/govshare/ledger/gateway/httpapi"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
	"github.com/govshare/ledger/gateway/notify"
	peoplesvc "github.com/govshare/ledger/gateway/people"
)

func main() {
	// gin's mode is process-wide, so the process sets it: release mode
	// keeps the debug route dump out of the JSON log.
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := serve.Signals()
	defer stop()
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("start", "error", err)
		_ = m.Close()
		os.Exit(1)
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	if err := m.Close(); err != nil {
		m.Logger.Error("shutdown", "error", err)
		os.Exit(1)
	}
}

// Config is the gateway's configuration file (config.Gateway, the type
// network/ writes it with); environment variables override it
// (config.Gateway.ApplyEnv).
type Config = config.Gateway

// TLSFiles names a PEM certificate (chain) and its key.
type TLSFiles = config.TLSFiles

// defaultConfig suits department 1 of the local consortium (basePort 7000).
func defaultConfig() Config { return config.DefaultGateway() }

// Main is the gateway process: ParseFlags, Run, then Close, so that tests
// can drive it like the command does.
type Main struct {
	Config     Config
	ConfigPath string
	Logger     *slog.Logger
	Getenv     func(string) string
	LogOutput  io.Writer

	// RequestTimeout bounds each HTTP request, ledger and index calls included.
	RequestTimeout time.Duration

	// Attest runs the department's attestor (gateway/attest) beside the
	// API: every published score snapshot is recomputed on the
	// department's indexer and attested on the ledger by its admin.
	// -attest=false or GATEWAY_ATTEST=false turns it off.
	Attest         bool
	AttestInterval time.Duration

	ledger   *fabric.Ledger
	attestor *attest.Attestor
	stop     context.CancelFunc
	attested chan struct{}
	// notifyStop ends the webhook's notifier; notified is closed once it has.
	notifyStop context.CancelFunc
	notified   chan struct{}
	server     *serve.Server
}

// NewMain returns a Main with defaults.
func NewMain() *Main {
	return &Main{
		Config:         defaultConfig(),
		Getenv:         os.Getenv,
		LogOutput:      os.Stderr,
		RequestTimeout: 30 * time.Second,
		Attest:         true,
		AttestInterval: attest.DefaultInterval,
	}
}

// ParseFlags reads the flags, the configuration file they name and the
// environment overrides, and checks the result.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.StringVar(&m.ConfigPath, "config", m.Getenv("GATEWAY_CONFIG"), "path of the JSON configuration file")
	if v := m.Getenv("GATEWAY_ATTEST"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("GATEWAY_ATTEST %q must be true or false", v)
		}
		m.Attest = on
	}
	if v := m.Getenv("GATEWAY_ATTEST_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("GATEWAY_ATTEST_INTERVAL %q must be a positive duration", v)
		}
		m.AttestInterval = d
	}
	fs.BoolVar(&m.Attest, "attest", m.Attest, "attest every published score snapshot as the department's admin")
	fs.DurationVar(&m.AttestInterval, "attest-interval", m.AttestInterval, "how often the attestor looks for published snapshots")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gateway -config /abs/path/gateway.json\n\nEnvironment overrides: GATEWAY_CONFIG, GATEWAY_LOG_LEVEL (debug|info|warn|error),")
		fmt.Fprintln(fs.Output(), "GATEWAY_MSP_ID, GATEWAY_LISTEN, GATEWAY_CHANNEL, GATEWAY_CHAINCODE, GATEWAY_PEER_ENDPOINT,\nGATEWAY_PEER_TLS_CA_CERT, GATEWAY_PEER_HOST_OVERRIDE, GATEWAY_INDEXER_URL, GATEWAY_IDENTITIES,\nGATEWAY_SESSION_TTL, GATEWAY_ATTEST (true|false), GATEWAY_ATTEST_INTERVAL.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if m.ConfigPath != "" {
		raw, err := os.ReadFile(m.ConfigPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields() // a misspelt key would otherwise fall back to a default silently
		if err := dec.Decode(&m.Config); err != nil {
			return fmt.Errorf("config %s: %w", m.ConfigPath, err)
		}
	}
	m.Config.ApplyEnv(m.Getenv)
	if err := m.Config.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	level := slog.LevelInfo
	if v := m.Getenv("GATEWAY_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("GATEWAY_LOG_LEVEL: %w", err)
		}
	}
	m.Logger = slog.New(slog.NewJSONHandler(m.LogOutput, &slog.HandlerOptions{Level: level})).
		With("service", "gateway", "mspId", m.Config.MSPID)
	return nil
}

// Run opens the identities, the peer connection and the listener, and
// starts serving in the background.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		return errors.New("run ParseFlags first")
	}
	c := m.Config
	people, err := identity.Load(c.Identities, c.MSPID)
	if err != nil {
		return err
	}
	conn, err := fabric.Dial(c.Peer)
	if err != nil {
		return err
	}
	m.ledger = fabric.New(conn, c.Channel, c.Chaincode, fabric.DefaultTimeouts)
	if all := people.People(); len(all) > 0 {
		// Readiness is a real round trip to the peer, as one of the
		// department's own people (a read of the channel height).
		m.ledger.SetProbe(all[0])
	}
	index, err := indexclient.New(c.IndexerURL, nil)
	if err != nil {
		return err
	}
	sessions := identity.NewSessions(people, identity.SessionOptions{TTL: c.SessionDuration(), StateFile: c.SessionsFile,
		Logger: m.Logger.With("component", "sessions")})
	var revoker httpapi.People
	if c.CA != nil {
		ca, err := fabricca.New(*c.CA)
		if err != nil {
			return err
		}
		orderers := c.Orderers
		revoker = &peoplesvc.Revoker{MSPID: c.MSPID, Channel: c.Channel, Ledger: m.ledger, CA: ca,
			Broadcast: func(ctx context.Context, env *common.Envelope) error { return fabric.Broadcast(ctx, orderers, env) },
			Directory: people, Sessions: sessions, Logger: m.Logger.With("component", "people")}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := registerCertExpiry(reg, people.People()); err != nil {
		return err
	}
	if err := reg.Register(retryCollector{m.ledger}); err != nil {
		return err
	}
	if err := reg.Register(floorCollector{m.ledger}); err != nil {
		return err
	}
	router, err := httpapi.NewRouter(httpapi.Options{
		Ledger:         m.ledger,
		Index:          index,
		Sessions:       sessions,
		People:         revoker,
		Logger:         m.Logger,
		Registry:       reg,
		RequestTimeout: m.RequestTimeout,
	})
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if c.TLS != nil {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertPath, c.TLS.KeyPath)
		if err != nil {
			listener.Close()
			return fmt.Errorf("tls: %w", err)
		}
		listener = tls.NewListener(listener, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"}})
	}
	srv := &http.Server{
		Handler:           router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      m.RequestTimeout + 10*time.Second, // the handler gives up first and still answers
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	m.server = serve.Start(srv, listener, nil)
	if err := m.startAttestor(ctx, people.People(), index); err != nil {
		return err
	}
	if err := m.startNotifier(ctx, index, reg); err != nil {
		return err
	}
	m.Logger.Info("serving", "addr", m.server.Addr(), "peer", c.Peer.Endpoint,
		"indexer", c.IndexerURL, "channel", c.Channel, "chaincode", c.Chaincode, "people", len(people.People()))
	return nil
}

// startNotifier posts the department's findings to its webhook in the
// background, when one is configured.
func (m *Main) startNotifier(ctx context.Context, index *indexclient.Client, reg *prometheus.Registry) error {
	w := m.Config.Webhook
	if w == nil {
		return nil
	}
	secret, err := os.ReadFile(w.SecretFile)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	n, err := notify.New(notify.Config{MSPID: m.Config.MSPID, URL: w.URL, Secret: bytes.TrimSpace(secret), StateFile: w.StateFile,
		Interval: w.IntervalDuration(), Log: m.Logger.With("component", "webhook")}, index)
	if err != nil {
		return err
	}
	for name, v := range map[string]func() int64{"posted": n.Posted, "failed": n.Failed} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gateway_webhook_" + name + "_total",
			Help: "Webhook posts of findings " + name + " (a failed attempt is retried)."}, func() float64 { return float64(v()) }))
	}
	nctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.notifyStop, m.notified = stop, make(chan struct{})
	go func() {
		defer close(m.notified)
		n.Run(nctx)
	}()
	return nil
}

// startAttestor runs the attestor in the background as the department's
// first admin, when Attest is on and the department has an admin here.
func (m *Main) startAttestor(ctx context.Context, people []*identity.Person, index *indexclient.Client) error {
	if !m.Attest {
		m.Logger.Info("attestor off")
		return nil
	}
	admin := attest.Admin(people)
	if admin == nil {
		m.Logger.Warn("attestor off: no admin among the identities, so nobody can sign the department's attestations")
		return nil
	}
	a, err := attest.New(m.ledger, index, admin, attest.WithInterval(m.AttestInterval), attest.WithLogger(m.Logger.With("component", "attestor")))
	if err != nil {
		return err
	}
	actx, stop := context.WithCancel(ctx)
	m.attestor, m.stop, m.attested = a, stop, make(chan struct{})
	go func() {
		defer close(m.attested)
		a.Run(actx)
	}()
	return nil
}

// Addr is the address the gateway listens on, once Run has returned.
func (m *Main) Addr() string { return m.server.Addr() }

// Close stops accepting requests, lets those in flight finish, then closes
// every person's Fabric gateway and the peer connection.
func (m *Main) Close() error {
	var errs []error
	if err := m.server.Shutdown(m.RequestTimeout + 5*time.Second); err != nil {
		errs = append(errs, err)
	}
	m.server = nil
	if m.notifyStop != nil {
		m.notifyStop()
		<-m.notified
		m.notifyStop = nil
	}
	if m.stop != nil {
		m.stop() // the attestor's calls end with its context
		<-m.attested
		m.stop = nil
	}
	if m.ledger != nil {
		if err := m.ledger.Close(); err != nil {
			errs = append(errs, err)
		}
		m.ledger = nil
	}
	return errors.Join(errs...)
}

// retryCollector exports the writes the gateway tried again, by reason
// (gateway_fabric_retries_total{reason}).
type retryCollector struct{ ledger *fabric.Ledger }

var retriesDesc = prometheus.NewDesc("gateway_fabric_retries_total",
	"Writes tried again, by reason: the same proposal endorsed again after endorse_again (the gateway peer unreachable, or no peers could endorse now); endorsed again as a new transaction after read_conflict (invalidated at commit by a read conflict), definition_changed (the chaincode definition changed during endorsement) or endorsers_differ (the endorsing peers' results differed: peers at different heights); the same transaction sent for ordering again after submit_again (the gateway peer or the orderers could not take it) or resubmitted (no commit seen in 10 s); the commit status asked again after status_again (the peer went away during the wait).", []string{"reason"}, nil)

func (c retryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- retriesDesc }

func (c retryCollector) Collect(ch chan<- prometheus.Metric) {
	for reason, n := range c.ledger.Retries() {
		ch <- prometheus.MustNewConstMetric(retriesDesc, prometheus.CounterValue, float64(n), reason)
	}
}

// floorCollector exports how writes waited for peers to commit a block
// (fabric.Heights): a committed write for the peers that endorsed it, a
// write retried after a read conflict for its own peer.
type floorCollector struct{ ledger *fabric.Ledger }

var (
	floorWritesDesc = prometheus.NewDesc("gateway_fabric_floor_writes_total",
		"Waits for peers to commit a block: a committed write's for the peers that endorsed it, a write's retried after a read conflict for the department's own peer.", nil, nil)
	floorWaitedDesc = prometheus.NewDesc("gateway_fabric_floor_waited_total",
		"Of those, the waits in which some peer had not committed the block yet.", nil, nil)
	floorTimeoutsDesc = prometheus.NewDesc("gateway_fabric_floor_timeouts_total",
		"Of those, the waits given up after the longest wait (3 s) with some peer still behind.", nil, nil)
	floorWaitDesc = prometheus.NewDesc("gateway_fabric_floor_wait_seconds_total",
		"Time spent in the waits in which some peer was behind, summed.", nil, nil)
	floorQueriesDesc = prometheus.NewDesc("gateway_fabric_height_queries_total",
		"Peer height questions asked for those waits (qscc GetChainInfo routed to a department).", nil, nil)
)

func (c floorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{floorWritesDesc, floorWaitedDesc, floorTimeoutsDesc, floorWaitDesc, floorQueriesDesc} {
		ch <- d
	}
}

func (c floorCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.ledger.FloorStats()
	ch <- prometheus.MustNewConstMetric(floorWritesDesc, prometheus.CounterValue, float64(s.Writes))
	ch <- prometheus.MustNewConstMetric(floorWaitedDesc, prometheus.CounterValue, float64(s.Waited))
	ch <- prometheus.MustNewConstMetric(floorTimeoutsDesc, prometheus.CounterValue, float64(s.TimedOut))
	ch <- prometheus.MustNewConstMetric(floorWaitDesc, prometheus.CounterValue, s.WaitTime.Seconds())
	ch <- prometheus.MustNewConstMetric(floorQueriesDesc, prometheus.CounterValue, float64(s.Queries))
}

// registerCertExpiry exports when each person's certificate expires
// (govshare_certificate_not_after_seconds{user,role}, Unix seconds), so
// that monitoring warns before `consortium renew` is due.
func registerCertExpiry(reg *prometheus.Registry, people []*identity.Person) error {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "govshare_certificate_not_after_seconds",
		Help: "When the certificate of each of the department's people expires, in Unix seconds.",
	}, []string{"user", "role"})
	for _, p := range people {
		cert, err := fabid.CertificateFromPEM(p.ID.Credentials())
		if err != nil {
			return fmt.Errorf("certificate of %s: %w", p.User, err)
		}
		g.WithLabelValues(p.User, string(p.Role)).Set(float64(cert.NotAfter.Unix()))
	}
	return reg.Register(g)
}
