package httpapi

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain runs gin quiet, as the gateway's main does: the mode is
// process-wide, so the router leaves it to whoever owns the process.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}
