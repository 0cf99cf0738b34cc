// Package httpapi serves the indexer's read API over HTTP, on a Unix
// socket, for the department's gateway (whose gateway/indexclient is its
// typed client): the public read routes with the same paths and parameters
// as the gateway's, and the internal routes that tell how far the mirror has
// got and wait for a block. It trusts the caller headers (X-Caller-Msp,
// X-Caller-Role) that the gateway sets after it has authenticated the
// caller, and judges every read by them with domain.CanRead. Its answers'
// envelopes are domain's (domain.List, domain.ErrorBody).
package httpapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/findings"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/store"
)

// Store is what the API reads: the mirror.
type Store interface {
	Status() store.Status
	WaitFor(ctx context.Context, n uint64) error
	GetDataset(ctx context.Context, id string) (*store.Entity[domain.Dataset], error)
	ListDatasets(ctx context.Context, f store.DatasetFilter, p store.Page) ([]store.Entity[domain.Dataset], string, error)
	GetRequest(ctx context.Context, id string, now time.Time) (*store.Entity[domain.Request], error)
	ListRequests(ctx context.Context, f store.RequestFilter, p store.Page) ([]store.Entity[domain.Request], string, error)
	GetDelivery(ctx context.Context, id string) (*store.Entity[domain.Delivery], error)
	ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Entity[domain.Delivery], string, error)
	GetCorrection(ctx context.Context, id string) (*store.Entity[domain.Correction], error)
	ListCorrections(ctx context.Context, f store.CorrectionFilter, p store.Page) ([]store.Entity[domain.Correction], string, error)
	GetUsage(ctx context.Context, id string) (*store.Entity[domain.Usage], error)
	ListUsage(ctx context.Context, f store.UsageFilter, p store.Page) ([]store.Entity[domain.Usage], string, error)
	GetContribution(ctx context.Context, id string) (*store.Entity[domain.Contribution], error)
	ListContributions(ctx context.Context, f store.ContributionFilter, p store.Page) ([]store.Entity[domain.Contribution], string, error)
	Metering(ctx context.Context, q store.MeterQuery) ([]store.MeterRow, error)
	TraceRaw(ctx context.Context, by store.TraceBy, value string, p store.Page) ([]json.RawMessage, string, error)
	TraceEach(ctx context.Context, by store.TraceBy, value string, fn func(*store.EventRecord) error) error
	TraceEachRaw(ctx context.Context, by store.TraceBy, value string, fn func(raw []byte) error) error
	Lineage(ctx context.Context, id string) (*store.Lineage, error)
	Anomalies(ctx context.Context, p store.Page) ([]store.Anomaly, string, error)
	DigestAt(ctx context.Context) (height uint64, digest []byte, err error)
}

// Scorer answers the score documents (package indexer/scores).
type Scorer interface {
	Scores(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error)
}

// Server is the HTTP API.
type Server struct {
	store        Store
	log          *slog.Logger
	ledgerHeight func() uint64 // the peer's height as last seen; 0 when unknown
	now          func() time.Time
	maxWait      time.Duration
	model        *score.Model
	scorer       Scorer   // nil: the score routes answer unavailable
	audit        Auditor  // nil when there is no ledger to verify against
	findings     Findings // nil: the findings route answers unavailable
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithLedgerHeight sets where the peer's ledger height comes from, for lag.
func WithLedgerHeight(f func() uint64) Option { return func(s *Server) { s.ledgerHeight = f } }

// WithClock sets the clock that judges request expiry.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithScoring sets the scoring model; the default is score.Default().
func WithScoring(m *score.Model) Option { return func(s *Server) { s.model = m } }

// WithScores sets what answers the score routes.
func WithScores(sc Scorer) Option { return func(s *Server) { s.scorer = sc } }

// WithAuditor sets what checks the mirror against the ledger.
func WithAuditor(a Auditor) Option { return func(s *Server) { s.audit = a } }

// New makes a Server over st.
func New(st Store, opts ...Option) *Server {
	s := &Server{store: st, log: slog.Default(), ledgerHeight: func() uint64 { return 0 }, now: time.Now, maxWait: time.Minute, model: score.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Handler lists every route: the whole API on one screen.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /internal/status", s.status)
	mux.HandleFunc("GET /internal/wait", s.wait)
	mux.HandleFunc("GET /internal/digest", s.digest)
	mux.HandleFunc("GET /v1/datasets", s.listDatasets)
	mux.HandleFunc("GET /v1/datasets/{id}", s.getDataset)
	mux.HandleFunc("GET /v1/requests", s.listRequests)
	mux.HandleFunc("GET /v1/requests/{id}", s.getRequest)
	mux.HandleFunc("GET /v1/deliveries", s.listDeliveries)
	mux.HandleFunc("GET /v1/deliveries/{id}", s.getDelivery)
	mux.HandleFunc("GET /v1/corrections", s.listCorrections)
	mux.HandleFunc("GET /v1/corrections/{id}", s.getCorrection)
	mux.HandleFunc("GET /v1/usage", s.listUsage)
	mux.HandleFunc("GET /v1/usage/{id}", s.getUsage)
	mux.HandleFunc("GET /v1/contributions", s.listContributions)
	mux.HandleFunc("GET /v1/contributions/{id}", s.getContribution)
	mux.HandleFunc("GET /v1/metering", s.metering)
	mux.HandleFunc("GET /v1/scores", s.scores)
	mux.HandleFunc("GET /v1/scores/{mspId}", s.departmentScore)
	mux.HandleFunc("GET /v1/audit/trace", s.trace)
	mux.HandleFunc("GET /v1/audit/export", s.export)
	mux.HandleFunc("GET /v1/audit/lineage/{datasetId}", s.lineage)
	mux.HandleFunc("GET /v1/audit/verify/{txId}", s.verify)
	mux.HandleFunc("GET /v1/audit/chain", s.chain)
	mux.HandleFunc("GET /v1/audit/anomalies", s.anomalies)
	mux.HandleFunc("GET /v1/audit/findings", s.listFindings)
	mux.HandleFunc("/", s.notFound)
	return s.recoverAndLog(mux)
}

// recoverAndLog logs each request and turns a panic into a 500.
func (s *Server) recoverAndLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // net/http aborts the response, so the client sees it cut short
				}
				s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", p)
				if !rw.wrote {
					s.writeError(rw, r, domain.Errorf(domain.CodeInternal, "internal error"))
				}
			}
			s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
				"status", rw.status, "duration", time.Since(start))
		}()
		next.ServeHTTP(rw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.status, w.wrote = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// notFound answers what no route matched, in the agreed error body. Every
// route is a GET, so another method is refused as such.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeErrorStatus(w, r, http.StatusMethodNotAllowed, domain.Errorf(domain.CodeInvalid, "method %s is not allowed: this API only reads", r.Method))
		return
	}
	s.writeError(w, r, domain.Errorf(domain.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type statusBody struct {
	Channel       string     `json:"channel"`
	GenesisHash   string     `json:"genesisHash"`
	Height        uint64     `json:"height"`
	LastBlockHash string     `json:"lastBlockHash"`
	LastBlockTime *time.Time `json:"lastBlockTime"`
	LedgerHeight  *uint64    `json:"ledgerHeight"` // null until the peer's height is known
	LagBlocks     *uint64    `json:"lagBlocks"`    // null until the peer's height is known
	// Rebuilding is how many blocks a rebuild under way holds, which the
	// answers include only once it is written (indexer/README.md,
	// "Rebuilds from genesis"); absent when none is.
	Rebuilding uint64 `json:"rebuilding,omitempty"`
	// OpenFindings counts the open findings by kind and department, for
	// the gateway's gauges; absent when the index keeps no findings.
	OpenFindings []findings.OpenCount `json:"openFindings,omitempty"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.store.Status()
	body := statusBody{Channel: st.Channel, GenesisHash: st.GenesisHash, Height: st.Height, LastBlockHash: st.LastBlockHash, Rebuilding: st.Rebuilt}
	if !st.LastBlockTime.IsZero() {
		t := st.LastBlockTime.UTC()
		body.LastBlockTime = &t
	}
	if lh := s.ledgerHeight(); lh > 0 {
		lag := uint64(0)
		if lh > st.Height {
			lag = lh - st.Height
		}
		body.LedgerHeight, body.LagBlocks = &lh, &lag
	}
	if s.findings != nil {
		counts, err := s.findings.OpenCounts(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		body.OpenFindings = counts
	}
	writeJSON(w, http.StatusOK, body)
}

// digest answers the SHA-256 of the whole mirror and the blocks it covers:
// two indexers of the same ledger at the same height must agree, which is
// how crash and rebuild tests prove nothing was lost or applied twice.
func (s *Server) digest(w http.ResponseWriter, r *http.Request) {
	height, d, err := s.store.DigestAt(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": height, "digest": hex.EncodeToString(d)})
}

// wait answers once block N is in the mirror, so that a write through the
// gateway is followed by reads that see it. It sleeps on the store's
// broadcast, not in a polling loop.
func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := uintParam(q.Get("block"), "block", true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	timeout := 5 * time.Second
	if v := q.Get("timeout"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 || timeout > s.maxWait {
			s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "timeout %q must be a duration such as 5s, at most %s", truncate(v, 20), s.maxWait))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := s.store.WaitFor(ctx, n); err != nil {
		if r.Context().Err() != nil {
			return // the caller went away: nobody to answer
		}
		s.writeErrorStatus(w, r, http.StatusGatewayTimeout,
			domain.Errorf(domain.CodeUnavailable, "block %d not indexed within %s (height %d)", n, timeout, s.store.Status().Height))
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"block": n, "height": s.store.Status().Height})
}
