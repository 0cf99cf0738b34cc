package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDocument is the OpenAPI 3.0 description of the routes NewRouter
// lists; a test fails when the two disagree.
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", openAPIDocument)
}
