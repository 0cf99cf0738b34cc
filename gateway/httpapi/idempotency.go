package httpapi

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
)

// IdempotencyKeyHeader names a write so that a retry of it writes nothing:
// the same key from the same person with the same body answers the first
// result again (with ReplayedHeader), another body is a conflict.
const (
	IdempotencyKeyHeader = "Idempotency-Key"
	ReplayedHeader       = "Idempotent-Replayed"
	maxIdempotencyKey    = 128
)

// KeyedLedger submits a write under a caller's idempotency key. There is no
// table of keys: the key and the person decide the transaction's ID (see
// fabric.Ledger.SubmitKeyed), so the ledger remembers every key as long as
// it keeps its transactions. replayed says the answer is that of the
// transaction already on the ledger, and nothing was written.
type KeyedLedger interface {
	SubmitKeyed(ctx context.Context, p *identity.Person, key, txName string, args ...string) (result []byte, txID string, blockNumber uint64, replayed bool, err error)
}

// idempotencyKey returns the request's key, "" when it sends none, or an
// invalid error: one header, 1-128 printable ASCII characters.
func idempotencyKey(c *gin.Context) (string, error) {
	vs := c.Request.Header.Values(IdempotencyKeyHeader)
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", domain.Errorf(domain.CodeInvalid, "send one %s header, not %d", IdempotencyKeyHeader, len(vs)).WithDetail("field", IdempotencyKeyHeader)
	}
	k := vs[0]
	if k == "" || len(k) > maxIdempotencyKey {
		return "", domain.Errorf(domain.CodeInvalid, "%s must be 1 to %d characters, not %d", IdempotencyKeyHeader, maxIdempotencyKey, len(k)).WithDetail("field", IdempotencyKeyHeader)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", domain.Errorf(domain.CodeInvalid, "%s must be printable ASCII; byte %d is 0x%02x", IdempotencyKeyHeader, i, k[i]).WithDetail("field", IdempotencyKeyHeader)
		}
	}
	return k, nil
}

// submitWrite submits one write, under the request's idempotency key if it
// sends one.
func (s *server) submitWrite(c *gin.Context, key, txName string, args []string) (result []byte, txID string, block uint64, replayed bool, err error) {
	ctx := c.Request.Context()
	if key == "" {
		result, txID, block, err = s.Ledger.Submit(ctx, person(c), txName, args...)
		return result, txID, block, false, err
	}
	kl, ok := s.Ledger.(KeyedLedger)
	if !ok {
		return nil, "", 0, false, domain.Errorf(domain.CodeUnavailable, "this gateway cannot honour %s now; send the write without it or later", IdempotencyKeyHeader)
	}
	return kl.SubmitKeyed(ctx, person(c), key, txName, args...)
}
