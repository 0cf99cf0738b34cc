package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
)

// PolicyReader reads the consortium policy (domain.Policy) on behalf of a
// person: nil, without an error, when none is set yet.
type PolicyReader interface {
	Policy(ctx context.Context, p *identity.Person) (*domain.Policy, error)
}

// ledgerPolicy reads the policy from the ledger (GetPolicy, evaluated as
// the calling person) and keeps it for ttl: a policy changes rarely, and
// every evaluator's and auditor's request consults it. A write of the
// policy through this gateway drops the copy at once; one through another
// gateway is seen within ttl here, while the chaincode, which reads the
// ledger itself, already applies it to every transaction. While the peer
// cannot be reached, the last policy read serves for up to staleTTL, so an
// auditor's reads from the index survive a peer restart; past that, or
// with none read yet, the request fails as unavailable.
type ledgerPolicy struct {
	ledger Ledger
	ttl    time.Duration
	now    func() time.Time

	mu     sync.Mutex
	policy *domain.Policy
	at     time.Time // when policy was read
	fresh  bool      // false once Invalidate drops it
	read   bool      // a policy (or its absence) was read once
}

// staleTTL bounds how old a policy may be when the ledger cannot be read.
const staleTTL = 2 * time.Minute

func (l *ledgerPolicy) Policy(ctx context.Context, p *identity.Person) (*domain.Policy, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	age := l.now().Sub(l.at)
	if l.read && l.fresh && age < l.ttl {
		return l.policy, nil
	}
	out, err := l.ledger.Evaluate(ctx, p, "GetPolicy")
	var pol *domain.Policy
	switch {
	case domain.ErrorCode(err) == domain.CodeNotFound:
	case err != nil:
		if l.read && l.fresh && age < staleTTL && domain.ErrorCode(err) == domain.CodeUnavailable {
			return l.policy, nil
		}
		return nil, err
	default:
		pol = &domain.Policy{}
		if err := json.Unmarshal(out, pol); err != nil {
			return nil, fmt.Errorf("GetPolicy answer: %w", err)
		}
	}
	l.policy, l.at, l.fresh, l.read = pol, l.now(), true, true
	return pol, nil
}

// Invalidate drops the cached policy, after a write that may have changed it.
func (l *ledgerPolicy) Invalidate() {
	l.mu.Lock()
	l.fresh = false
	l.mu.Unlock()
}

// ctxRoleRefused holds why the caller's certificate role is not honoured.
const ctxRoleRefused = "roleRefused"

// honourRoles applies the consortium policy to the caller's role, as the
// chaincode does: an evaluator or auditor certificate of a department the
// policy does not grant that role to is treated as having no role, so the
// gateway's checks, the indexer's (X-Caller-Role) and the console agree with
// what the ledger would accept. Transactions are still signed with the
// person's own certificate; the chaincode checks again.
func (s *server) honourRoles(c *gin.Context) {
	p := person(c)
	if !p.Role.Governed() {
		c.Next()
		return
	}
	pol, err := s.Policy.Policy(c.Request.Context(), p)
	if err != nil {
		s.fail(c, err)
		return
	}
	if why := domain.RoleRefusal(pol, p.MSPID, p.Role); why != "" {
		c.Set(ctxPerson, s.roleless(p))
		c.Set(ctxRoleRefused, why)
	}
	c.Next()
}

// roleless is p without its role: one copy per person, kept, because the
// ledger client keeps one Fabric connection per *Person.
func (s *server) roleless(p *identity.Person) *identity.Person {
	s.rolelessMu.Lock()
	defer s.rolelessMu.Unlock()
	if q, ok := s.rolelessPeople[p]; ok {
		return q
	}
	q := *p
	q.Role = ""
	s.rolelessPeople[p] = &q
	return &q
}

// policyWrite runs a write handler that may change the policy, then drops
// the gateway's copy so that its next request reads the ledger again.
func (s *server) policyWrite(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		h(c)
		if inv, ok := s.Policy.(interface{ Invalidate() }); ok {
			inv.Invalidate()
		}
	}
}

// getPolicy reads the consortium policy from the ledger.
func (s *server) getPolicy(c *gin.Context) {
	out, ok := s.evaluate(c, "GetPolicy")
	if !ok {
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", out)
}

// getPolicyProposal reads a proposal and where it stands from the ledger.
func (s *server) getPolicyProposal(c *gin.Context) {
	id := c.Param("id")
	if err := domain.CheckID("id", id); err != nil {
		s.fail(c, err)
		return
	}
	out, ok := s.evaluate(c, "GetPolicyProposal", id)
	if !ok {
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", out)
}

// approvePolicyProposal submits the caller's department's approval: a
// transaction of its own, signed by the admin. The answer's approval says
// how many members have approved and, when this one made the majority,
// carries the new policy version.
func (s *server) approvePolicyProposal(c *gin.Context) {
	id := c.Param("id")
	if err := domain.CheckID("id", id); err != nil {
		s.fail(c, err)
		return
	}
	var none struct{}
	if err := bindJSON(c, &none, true); err != nil {
		s.fail(c, err)
		return
	}
	s.write(c, http.StatusOK, "approval", "ApprovePolicyProposal", id)
}
