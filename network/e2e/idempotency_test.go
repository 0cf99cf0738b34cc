//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// keyed sends a write with an Idempotency-Key.
func (p *person) keyed(key, path string, body any) response {
	p.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.gateway+path, bytes.NewReader(raw))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := gatewayHTTP.Do(req)
	if err != nil {
		p.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: out, header: resp.Header}
}

type keyedAnswer struct {
	TxID        string `json:"txId"`
	BlockNumber uint64 `json:"blockNumber"`
	Usage       *struct {
		ID    string `json:"id"`
		Calls int64  `json:"calls"`
	} `json:"usage"`
	Contribution *struct {
		ID string `json:"id"`
	} `json:"contribution"`
}

// TestIdempotentRetries: a write sent again with the same Idempotency-Key
// (a client retrying after a timeout) answers the first result and is
// counted once on the ledger and in metering; the key with another body is
// refused. The key lives in the transaction's ID, so no table is involved.
func TestIdempotentRetries(t *testing.T) {
	owner := shared.as(t, "Dept1MSP", "operator")
	consumer := shared.as(t, "Dept2MSP", "operator")
	ds := uniqueID("idem")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(ds, "unconditional"))
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+ds, http.StatusOK) })
	rq := createRequest(t, consumer, ds)
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/requests/"+rq.ID, http.StatusOK) })

	key := uniqueID("usage-retry")
	body := map[string]any{"requestId": rq.ID, "calls": 3, "records": 600}
	var first, again keyedAnswer
	r1 := consumer.keyed(key, "/v1/usage", body)
	if r1.status != http.StatusCreated {
		t.Fatalf("first: %d %s", r1.status, r1.body)
	}
	r1.json(t, &first)
	// The retry comes after the first was committed, to the same gateway.
	r2 := consumer.keyed(key, "/v1/usage", body)
	if r2.status != http.StatusCreated {
		t.Fatalf("retry: %d %s", r2.status, r2.body)
	}
	r2.json(t, &again)
	if first.Usage == nil || again.Usage == nil || first.TxID != again.TxID || first.BlockNumber != again.BlockNumber || first.Usage.ID != again.Usage.ID {
		t.Fatalf("first %s\nretry %s", r1.body, r2.body)
	}
	if !bytes.Equal(r1.body, r2.body) {
		t.Errorf("the retry's answer differs:\n%s\n%s", r1.body, r2.body)
	}
	if r2.header.Get("Idempotent-Replayed") != "true" || r1.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed %q then %q", r1.header.Get("Idempotent-Replayed"), r2.header.Get("Idempotent-Replayed"))
	}

	t.Run("same key, another body", func(t *testing.T) {
		r := consumer.keyed(key, "/v1/usage", map[string]any{"requestId": rq.ID, "calls": 4, "records": 600})
		if r.status != http.StatusConflict || r.errorCode(t) != "conflict" || !bytes.Contains(r.body, []byte("Idempotency-Key reused with another body")) {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		if r := consumer.keyed(string(bytes.Repeat([]byte("k"), 129)), "/v1/usage", body); r.status != http.StatusBadRequest {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("concurrent retries of a contribution", func(t *testing.T) {
		ckey := uniqueID("contribution-retry")
		cbody := map[string]any{"datasetId": ds, "records": 5, "bytes": 50, "sha256": sha(ckey)}
		answers := make([]response, 3)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() { defer wg.Done(); answers[i] = consumer.keyed(ckey, "/v1/contributions", cbody) }()
		}
		wg.Wait()
		var txIDs = map[string]bool{}
		for i, a := range answers {
			var k keyedAnswer
			if a.status != http.StatusCreated {
				t.Errorf("attempt %d: %d %s", i, a.status, a.body)
				continue
			}
			a.json(t, &k)
			txIDs[k.TxID+" "+k.Contribution.ID] = true
		}
		if len(txIDs) > 1 {
			t.Errorf("answers name %d transactions: %v", len(txIDs), txIDs)
		}
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		consumer.must(http.StatusOK, http.MethodGet, "/v1/contributions?dataset="+ds, nil).json(t, &l)
		if len(l.Items) != 1 {
			t.Errorf("%d contributions to %s, want 1", len(l.Items), ds)
		}
	})

	t.Run("counted once", func(t *testing.T) {
		// The ledger: the record is there, and only one usage of the request.
		consumer.must(http.StatusOK, http.MethodGet, "/v1/usage/"+first.Usage.ID, nil)
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		consumer.must(http.StatusOK, http.MethodGet, "/v1/usage?request="+rq.ID, nil).json(t, &l)
		if len(l.Items) != 1 {
			t.Fatalf("%d usage records of %s, want 1: %s", len(l.Items), rq.ID, l.Items)
		}
		// Metering, in the consumer's and in the owner's department.
		from := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
		to := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		q := url.Values{"dataset": {ds}, "bucket": {"hour"}, "from": {from}, "to": {to}}
		for _, p := range []*person{consumer, owner} {
			eventually(t, 10*time.Second, func() error {
				var m struct {
					Items []struct {
						Calls int64 `json:"calls"`
					} `json:"items"`
				}
				p.must(http.StatusOK, http.MethodGet, "/v1/metering?"+q.Encode(), nil).json(t, &m)
				var calls int64
				for _, it := range m.Items {
					calls += it.Calls
				}
				if calls != 3 {
					return fmt.Errorf("%s meters %d calls of %s, want 3", p.mspID, calls, ds)
				}
				return nil
			})
		}
	})
}
