package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
)

// Me is who a bearer token stands for. The web console asks for it after
// sign-in so that it shows each person the pages their role can read,
// instead of probing routes to guess the role.
type Me struct {
	MSPID string      `json:"mspId"`
	User  string      `json:"user"`
	Role  domain.Role `json:"role"`
}

func (s *server) me(c *gin.Context) {
	p := person(c)
	c.JSON(http.StatusOK, Me{MSPID: p.MSPID, User: p.User, Role: p.Role})
}
