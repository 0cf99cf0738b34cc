// Package httpapi is a department's public REST API (the contract in
// openapi.json, beside this file) built on gin: authentication by bearer token, role checks, input
// validation, writes submitted to the ledger as the calling person and
// answered once committed and indexed, and reads answered by the
// department's indexer. It reaches the ledger and the indexer only through
// the small interfaces below, so tests drive the real router with doubles.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/console"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

// Ledger submits and evaluates chaincode transactions as a person.
type Ledger interface {
	Submit(ctx context.Context, p *identity.Person, txName string, args ...string) (result []byte, txID string, blockNumber uint64, err error)
	Evaluate(ctx context.Context, p *identity.Person, txName string, args ...string) ([]byte, error)
	Ready(ctx context.Context) error
}

// Index is the department's indexer: its reads (indexclient.Query), its
// progress, and the wait for a block.
type Index interface {
	indexclient.Query
	WaitForBlock(ctx context.Context, block uint64, timeout time.Duration) error
	Status(ctx context.Context) (indexclient.Status, error)
}

// Authenticator maps a bearer token to the person it stands for.
type Authenticator interface {
	Authenticate(token string) (*identity.Person, bool)
}

// Options configure the router. Ledger, Index and Auth are required.
type Options struct {
	Ledger Ledger
	Index  Index
	Auth   Authenticator
	// Sessions serves /v1/sessions and, when set, authenticates instead of
	// Auth (which may then be nil).
	Sessions Sessions
	Logger   *slog.Logger
	// Registry receives the gateway's metrics and is served on /metrics; a
	// new one is made when nil.
	Registry *prometheus.Registry

	MaxBodyBytes   int64         // default 1 MiB
	RequestTimeout time.Duration // per request, default 30 s
	IndexWait      time.Duration // read-your-writes wait after a commit, default 5 s
	MaxIndexLag    uint64        // /readyz fails beyond this many blocks behind, default 100
	RetryAfter     time.Duration // sent with 503, default 5 s
	Now            func() time.Time
	// Policy is the consortium policy that decides whose evaluator and
	// auditor roles count; nil reads it from Ledger, kept for PolicyTTL
	// (default 5 s).
	Policy    PolicyReader
	PolicyTTL time.Duration
	// People serves POST /v1/people/{user}/revoke; nil answers 503.
	People People
}

func (o *Options) defaults() error {
	if o.Auth == nil && o.Sessions != nil {
		o.Auth = o.Sessions
	}
	if o.Ledger == nil || o.Index == nil || o.Auth == nil {
		return errors.New("httpapi: Ledger, Index and Auth are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.IndexWait <= 0 {
		o.IndexWait = 5 * time.Second
	}
	if o.MaxIndexLag == 0 {
		o.MaxIndexLag = 100
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PolicyTTL <= 0 {
		o.PolicyTTL = 5 * time.Second
	}
	if o.Policy == nil {
		o.Policy = &ledgerPolicy{ledger: o.Ledger, ttl: o.PolicyTTL, now: o.Now}
	}
	return nil
}

type server struct {
	Options
	metrics *metrics

	rolelessMu     sync.Mutex
	rolelessPeople map[*identity.Person]*identity.Person // honourRoles
}

// NewRouter builds the gateway's HTTP handler. Every route is listed here.
func NewRouter(o Options) (*gin.Engine, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registry, o.Index)
	if err != nil {
		return nil, err
	}
	s := &server{Options: o, metrics: m, rolelessPeople: map[*identity.Person]*identity.Person{}}

	r := gin.New()
	// Clients connect directly; no proxy's X-Forwarded-For is trusted.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, err
	}
	r.HandleMethodNotAllowed = true
	r.NoRoute(s.noRoute)
	r.NoMethod(s.noMethod)
	r.Use(s.requestID, s.observe, s.recovery, s.deadline, s.limitBody)

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler())
	r.GET("/openapi.json", s.openAPI)
	if err := console.Register(r); err != nil {
		return nil, err
	}

	const (
		operator  = domain.RoleOperator
		approver  = domain.RoleApprover
		evaluator = domain.RoleEvaluator
		auditor   = domain.RoleAuditor
		admin     = domain.RoleAdmin
	)
	allow := s.allow
	created, changed := http.StatusCreated, http.StatusOK
	r.POST("/v1/sessions", s.signIn) // the one /v1 route without a token
	v1 := r.Group("/v1", s.authenticate, s.awaitMinBlock, s.honourRoles)

	v1.GET("/me", s.me)
	v1.GET("/sessions", allow(admin), s.listSessions)
	v1.DELETE("/sessions/current", s.signOut)
	v1.DELETE("/sessions/:id", allow(admin), s.endSession)
	v1.PUT("/sessions/password", s.changePassword)
	v1.POST("/people/:user/revoke", allow(admin), s.revokePerson)
	v1.PUT("/departments/me", allow(admin), submit(s, changed, "department", "SetDepartment", noID, domain.DepartmentInput.Validate))
	v1.GET("/departments", s.listDepartments)

	v1.GET("/policy", s.getPolicy)
	v1.POST("/policy", allow(admin), s.policyWrite(submit(s, created, "policy", "InitPolicy", noID, domain.PolicyInput.Validate)))
	v1.POST("/policy/proposals", allow(admin), submit(s, created, "proposal", "ProposePolicy", noID, domain.PolicyProposalInput.Validate))
	v1.GET("/policy/proposals/:id", s.getPolicyProposal)
	v1.POST("/policy/proposals/:id/approve", allow(admin), s.policyWrite(s.approvePolicyProposal))

	v1.POST("/datasets", allow(operator), submit(s, created, "dataset", "RegisterDataset", noID, domain.DatasetInput.Validate))
	v1.GET("/datasets", s.listDatasets)
	v1.GET("/datasets/:id", s.getOne("GetDataset", domain.KindDataset, s.Index.Dataset))
	v1.PUT("/datasets/:id", allow(operator), submit(s, changed, "dataset", "UpdateDataset", pathID, domain.DatasetInput.Validate))
	v1.POST("/datasets/:id/retire", allow(operator), submit(s, changed, "dataset", "RetireDataset", pathIDEmptyOK, decision(false)))

	v1.POST("/requests", allow(operator), submit(s, created, "request", "CreateRequest", noID, s.validateRequest))
	v1.GET("/requests", s.fromIndex(s.Index.Requests))
	v1.GET("/requests/:id", s.getOne("GetRequest", domain.KindRequest, s.Index.Request))
	v1.POST("/requests/:id/approve", allow(approver), submit(s, changed, "request", "ApproveRequest", pathIDEmptyOK, decision(false)))
	v1.POST("/requests/:id/coapprove", allow(approver), submit(s, changed, "request", "CoApproveRequest", pathIDEmptyOK, decision(false)))
	v1.POST("/requests/:id/reject", allow(approver), submit(s, changed, "request", "RejectRequest", pathID, decision(true)))
	v1.POST("/requests/:id/revoke", allow(approver), submit(s, changed, "request", "RevokeRequest", pathID, decision(true)))
	v1.POST("/requests/:id/deliveries", allow(operator), submit(s, created, "delivery", "RecordDelivery", pathID, domain.DeliveryInput.Validate))

	v1.POST("/deliveries/:id/receipt", allow(operator), submit(s, changed, "delivery", "RecordReceipt", pathID, domain.ReceiptInput.Validate))
	v1.POST("/deliveries/:id/feedback", allow(operator), submit(s, changed, "delivery", "RateDelivery", pathID, domain.FeedbackInput.Validate))
	v1.POST("/deliveries/:id/destruction", allow(operator), submit(s, changed, "delivery", "RecordDestruction", pathIDEmptyOK, domain.DestructionInput.Validate))

	v1.POST("/usage", allow(operator), submit(s, created, "usage", "RecordUsage", noID, domain.UsageInput.Validate))
	v1.POST("/contributions", allow(operator), submit(s, created, "contribution", "RecordContribution", noID, domain.ContributionInput.Validate))
	v1.POST("/contributions/:id/accept", allow(approver), submit(s, changed, "contribution", "AcceptContribution", pathIDEmptyOK, decision(false)))
	v1.POST("/contributions/:id/reject", allow(approver), submit(s, changed, "contribution", "RejectContribution", pathID, decision(true)))
	v1.POST("/corrections", allow(operator), submit(s, created, "correction", "OpenCorrection", noID, domain.CorrectionInput.Validate))
	v1.POST("/corrections/:id/resolve", allow(operator), submit(s, changed, "correction", "ResolveCorrection", pathID, domain.ResolutionInput.Validate))

	v1.GET("/deliveries", s.fromIndex(s.Index.Deliveries))
	v1.GET("/deliveries/:id", s.getOne("GetDelivery", domain.KindDelivery, s.Index.Delivery))
	v1.GET("/usage", s.fromIndex(s.Index.Usages))
	v1.GET("/usage/:id", s.getOne("GetUsage", domain.KindUsage, s.Index.Usage))
	v1.GET("/contributions", s.fromIndex(s.Index.Contributions))
	v1.GET("/contributions/:id", s.getOne("GetContribution", domain.KindContribution, s.Index.Contribution))
	v1.GET("/corrections", s.fromIndex(s.Index.Corrections))
	v1.GET("/corrections/:id", s.getOne("GetCorrection", domain.KindCorrection, s.Index.Correction))

	v1.GET("/metering", s.fromIndex(s.Index.Metering))
	v1.GET("/scores", allow(evaluator, auditor), s.fromIndex(s.Index.Scores))
	v1.GET("/scores/:mspId", allow(evaluator, auditor), s.departmentScore)
	v1.POST("/scores/snapshots", allow(evaluator), s.publishScores)
	v1.GET("/scores/snapshots/:period", allow(evaluator, auditor), s.getSnapshot)

	v1.GET("/audit/trace", allow(auditor), s.fromIndex(s.Index.Trace))
	v1.GET("/audit/lineage/:datasetId", allow(auditor), s.oneFromIndex("datasetId", s.Index.Lineage))
	v1.GET("/audit/verify/:txId", allow(auditor), s.oneFromIndex("txId", s.Index.Verify))
	v1.GET("/audit/chain", allow(auditor), s.fromIndex(s.Index.Chain))
	v1.GET("/audit/anomalies", allow(auditor), s.fromIndex(s.Index.Anomalies))
	v1.GET("/audit/findings", allow(auditor), s.fromIndex(s.Index.Findings))
	v1.GET("/audit/export", allow(auditor), s.export)
	return r, nil
}
