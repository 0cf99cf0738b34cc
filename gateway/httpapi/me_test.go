package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestMe(t *testing.T) {
	for _, r := range domain.Roles {
		t.Run(string(r), func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(t, "GET", "/v1/me", string(r), "")
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got Me
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			want := Me{MSPID: "Dept1MSP", User: string(r) + "-user", Role: r}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			if len(f.ledger.calls) != 0 || len(f.index.gets) != 0 {
				t.Fatalf("GET /v1/me reached the ledger or the index: %v %v", f.ledger.calls, f.index.gets)
			}
		})
	}
	t.Run("unknown token", func(t *testing.T) {
		rec := newFixture(t).do(t, "GET", "/v1/me", "nobody", "")
		if rec.Code != 401 {
			t.Fatalf("status %d, want 401: %s", rec.Code, rec.Body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		rec := newFixture(t).do(t, "GET", "/v1/me", "", "")
		if rec.Code != 401 {
			t.Fatalf("status %d, want 401: %s", rec.Code, rec.Body)
		}
	})
}
