package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
)

// Sessions signs people in with a password for an expiring bearer token
// (identity.Sessions). When Options.Sessions is set it also authenticates
// every call, so that an expired or ended token is told which it is.
type Sessions interface {
	Authenticator
	Check(token string) (*identity.Person, error)
	SignIn(user, password string) (string, identity.Session, error)
	EndToken(token string) (identity.Session, error)
	End(id string) (identity.Session, error)
	List() []identity.Session
	ChangePassword(p *identity.Person, current, next string) error
}

// SignInInput is the body of POST /v1/sessions.
type SignInInput struct {
	User     string `json:"user" binding:"required"`
	Password string `json:"password" binding:"required"`
}

// SignedIn answers a sign-in: the token is shown this once, the gateway
// keeps only its SHA-256.
type SignedIn struct {
	Token     string           `json:"token"`
	ExpiresAt time.Time        `json:"expiresAt"`
	Session   identity.Session `json:"session"`
}

// PasswordInput is the body of PUT /v1/sessions/password.
type PasswordInput struct {
	Current string `json:"current" binding:"required"`
	New     string `json:"new" binding:"required"`
}

func (s *server) sessionsOn(c *gin.Context) bool {
	if s.Sessions == nil {
		s.fail(c, domain.Errorf(domain.CodeNotFound, "this gateway does not serve sessions; use a long-lived token"))
		return false
	}
	return true
}

func (s *server) signIn(c *gin.Context) {
	if !s.sessionsOn(c) {
		return
	}
	var in SignInInput
	if err := c.ShouldBindWith(&in, strictJSON{}); err != nil {
		s.fail(c, domain.Errorf(domain.CodeInvalid, "send {\"user\", \"password\"}"))
		return
	}
	token, ss, err := s.Sessions.SignIn(in.User, in.Password)
	if err != nil {
		s.failWithRetry(c, err)
		return
	}
	c.JSON(http.StatusCreated, SignedIn{Token: token, ExpiresAt: ss.ExpiresAt, Session: ss})
}

// failWithRetry sends Retry-After when err says how long a lock lasts.
func (s *server) failWithRetry(c *gin.Context, err error) {
	var de *domain.Error
	if errors.As(err, &de) && de.Details["retryAfter"] != "" {
		c.Header("Retry-After", de.Details["retryAfter"])
	}
	s.fail(c, err)
}

func (s *server) signOut(c *gin.Context) {
	if !s.sessionsOn(c) {
		return
	}
	ss, err := s.Sessions.EndToken(bearer(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"session": ss})
}

func (s *server) listSessions(c *gin.Context) {
	if !s.sessionsOn(c) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": s.Sessions.List(), "nextCursor": ""})
}

func (s *server) endSession(c *gin.Context) {
	if !s.sessionsOn(c) {
		return
	}
	ss, err := s.Sessions.End(c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.Logger.Info("session ended by admin", "requestId", c.GetString(ctxRequestID), "admin", person(c).User, "session", ss.ID, "user", ss.User)
	c.JSON(http.StatusOK, gin.H{"session": ss})
}

func (s *server) changePassword(c *gin.Context) {
	if !s.sessionsOn(c) {
		return
	}
	var in PasswordInput
	if err := c.ShouldBindWith(&in, strictJSON{}); err != nil {
		s.fail(c, domain.Errorf(domain.CodeInvalid, "send {\"current\", \"new\"}"))
		return
	}
	p := person(c)
	if err := s.Sessions.ChangePassword(p, in.Current, in.New); err != nil {
		s.failWithRetry(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user": p.User, "changed": true})
}

// bearer is the token of the Authorization header, "" if there is none.
func bearer(c *gin.Context) string {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// strictJSON is gin's JSON binding with unknown fields refused (a misspelt
// field would otherwise vanish silently), for this router's handlers alone:
// gin's own switch for it, binding.EnableDecoderDisallowUnknownFields, is
// process-wide.
type strictJSON struct{}

func (strictJSON) Name() string { return "json" }

func (strictJSON) Bind(r *http.Request, obj any) error {
	if r == nil || r.Body == nil {
		return errors.New("no request body")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return err
	}
	if binding.Validator == nil {
		return nil
	}
	return binding.Validator.ValidateStruct(obj)
}
