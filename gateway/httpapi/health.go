package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz says the process serves requests, nothing more.
func (s *server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Readiness is the /readyz answer.
type Readiness struct {
	Ready  bool            `json:"ready"`
	Ledger LedgerReadiness `json:"ledger"`
	Index  IndexReadiness  `json:"index"`
}

// LedgerReadiness says whether the peer can be reached.
type LedgerReadiness struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// IndexReadiness says whether the indexer answers and how far behind it is.
type IndexReadiness struct {
	OK        bool   `json:"ok"`
	Height    uint64 `json:"height"`
	LagBlocks uint64 `json:"lagBlocks"`
	Error     string `json:"error,omitempty"`
}

// readyz is ready when the peer is connected and the index answers within
// MaxIndexLag blocks of the ledger.
func (s *server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	var r Readiness
	if err := s.Ledger.Ready(ctx); err != nil {
		r.Ledger.Error = err.Error()
	} else {
		r.Ledger.OK = true
	}
	st, err := s.Index.Status(ctx)
	switch {
	case err != nil:
		r.Index.Error = err.Error()
	case st.LagBlocks > s.MaxIndexLag:
		r.Index.Height, r.Index.LagBlocks = st.Height, st.LagBlocks
		r.Index.Error = "the index is " + strconv.FormatUint(st.LagBlocks, 10) + " blocks behind, more than " + strconv.FormatUint(s.MaxIndexLag, 10)
	default:
		r.Index = IndexReadiness{OK: true, Height: st.Height, LagBlocks: st.LagBlocks}
	}
	r.Ready = r.Ledger.OK && r.Index.OK
	if !r.Ready {
		c.Header("Retry-After", strconv.Itoa(int(s.RetryAfter.Seconds())))
		c.JSON(http.StatusServiceUnavailable, r)
		return
	}
	c.JSON(http.StatusOK, r)
}
