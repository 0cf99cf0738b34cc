package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/people"
)

// People revokes the department's people (gateway/people.Revoker).
type People interface {
	Revoke(ctx context.Context, admin *identity.Person, user, reason string) (people.Revocation, error)
}

// RevokeInput is the optional body of POST /v1/people/{user}/revoke.
type RevokeInput struct {
	// Reason is one of fabric-ca's revocation reasons (keycompromise,
	// affiliationchange, superseded, cessationofoperation, ...); empty is
	// "unspecified".
	Reason string `json:"reason"`
}

var revocationReasons = map[string]bool{"": true, "unspecified": true, "keycompromise": true, "cacompromise": true,
	"affiliationchange": true, "superseded": true, "cessationofoperation": true, "certificatehold": true,
	"removefromcrl": false, "privilegewithdrawn": true, "aacompromise": true}

func (s *server) revokePerson(c *gin.Context) {
	if s.People == nil {
		s.fail(c, domain.Errorf(domain.CodeUnavailable, "this gateway is not configured to revoke people: it needs its department's CA and the ordering service (ca and orderers in its configuration)"))
		return
	}
	var in RevokeInput
	if err := bindJSON(c, &in, true); err != nil {
		s.fail(c, err)
		return
	}
	if !revocationReasons[in.Reason] {
		s.fail(c, domain.Errorf(domain.CodeInvalid, "reason %q is not a revocation reason: use keycompromise, affiliationchange, superseded, cessationofoperation, privilegewithdrawn or leave it out", in.Reason).WithDetail("field", "reason"))
		return
	}
	user := c.Param("user")
	if err := domain.CheckText("user", user, true, 64); err != nil {
		s.fail(c, err)
		return
	}
	admin := person(c)
	out, err := s.People.Revoke(c.Request.Context(), admin, user, in.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.Logger.Info("person revoked", "requestId", c.GetString(ctxRequestID), "admin", admin.User, "user", out.User,
		"serial", out.Serial, "channelUpdated", out.ChannelUpdated)
	c.JSON(http.StatusOK, out)
}
