package validation

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

func key(t *testing.T, kind domain.Kind, id string) string {
	t.Helper()
	k, err := domain.EntityKey(kind, id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func value(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJudge(t *testing.T) {
	ds := key(t, domain.KindDataset, "households")
	rq := key(t, domain.KindRequest, "rq-1")
	idx, _ := domain.DatasetOwnerKey("Dept1MSP", "households")
	anchor1, _ := domain.AnchorKey("Dept1MSP")
	anchor2, _ := domain.AnchorKey("Dept2MSP")
	dataset := value(t, domain.Dataset{ID: "households", Owner: "Dept1MSP"})
	request := value(t, domain.Request{ID: "rq-1", Owner: "Dept1MSP", Requester: "Dept2MSP"})
	absent := func(k string) *kvrwset.KVRead { return &kvrwset.KVRead{Key: k} }
	write := func(k string, v []byte) *kvrwset.KVWrite { return &kvrwset.KVWrite{Key: k, Value: v} }
	// Committed state: the anchors and Dept1's dataset exist.
	committed := map[string][]byte{anchor1: domain.IndexValue, anchor2: domain.IndexValue}
	withDataset := map[string][]byte{anchor1: domain.IndexValue, anchor2: domain.IndexValue, ds: dataset}

	tests := []struct {
		name    string
		state   map[string][]byte
		rw      *kvrwset.KVRWSet
		parties []string
		err     string
	}{
		{"dataset created by its owner's transaction", committed, &kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{absent(ds), absent(idx)},
			Writes: []*kvrwset.KVWrite{write(ds, dataset), write(idx, domain.IndexValue), write(anchor1, domain.IndexValue)},
		}, []string{"Dept1MSP"}, ""},
		{"request names both parties", withDataset, &kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{absent(rq)},
			Writes: []*kvrwset.KVWrite{write(rq, request), write(anchor1, domain.IndexValue), write(anchor2, domain.IndexValue)},
		}, []string{"Dept1MSP", "Dept2MSP"}, ""},
		{"an update needs no creation check", withDataset, &kvrwset.KVRWSet{
			Writes: []*kvrwset.KVWrite{write(ds, value(t, domain.Dataset{ID: "households", Owner: "Dept1MSP", Version: 2}))},
		}, []string{}, ""},
		{"a forged creation still names the owner", committed, &kvrwset.KVRWSet{
			// Written without the anchor: the rule reads the record itself.
			Reads:  []*kvrwset.KVRead{absent(ds)},
			Writes: []*kvrwset.KVWrite{write(ds, dataset)},
		}, []string{"Dept1MSP"}, ""},
		{"creation without reading the key", committed, &kvrwset.KVRWSet{
			Writes: []*kvrwset.KVWrite{write(ds, dataset)},
		}, nil, "without reading it as absent"},
		{"creation read at a version", committed, &kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{{Key: ds, Version: &kvrwset.Version{BlockNum: 3}}},
			Writes: []*kvrwset.KVWrite{write(ds, dataset)},
		}, nil, "without reading it as absent"},
		{"a delete", withDataset, &kvrwset.KVRWSet{
			Writes: []*kvrwset.KVWrite{{Key: ds, IsDelete: true}},
		}, nil, "never deleted"},
		{"a key the contract never forms", committed, &kvrwset.KVRWSet{
			Writes: []*kvrwset.KVWrite{write("plain-key", []byte("x"))},
		}, nil, "not a composite key"},
		{"an unknown object type", committed, &kvrwset.KVRWSet{
			Writes: []*kvrwset.KVWrite{write("\x00secret\x00x\x00", []byte("x"))},
		}, nil, "unknown type"},
		{"a record under another record's key", committed, &kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{absent(ds)},
			Writes: []*kvrwset.KVWrite{write(ds, value(t, domain.Dataset{ID: "other", Owner: "Dept2MSP"}))},
		}, nil, "holds the record of"},
		{"a value that is not the record", committed, &kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{absent(ds)},
			Writes: []*kvrwset.KVWrite{write(ds, []byte("{not json"))},
		}, nil, "dataset households"},
		{"an index key with a value", committed, &kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{absent(idx)},
			Writes: []*kvrwset.KVWrite{write(idx, []byte("owner"))},
		}, nil, "not the index marker"},
		{"an anchor created in another's name", map[string][]byte{}, &kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{absent(anchor1)},
			Writes: []*kvrwset.KVWrite{write(anchor1, domain.IndexValue)},
		}, []string{"Dept1MSP"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Judge(tt.rw, func(keys []string) ([][]byte, error) {
				out := make([][]byte, len(keys))
				for i, k := range keys {
					out[i] = tt.state[k]
				}
				return out, nil
			})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Judge = %v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Judge: %v", err)
			}
			if !slices.Equal(got, tt.parties) {
				t.Fatalf("parties %v, want %v", got, tt.parties)
			}
		})
	}
}

func TestJudgeStateFailure(t *testing.T) {
	ds := key(t, domain.KindDataset, "households")
	boom := errors.New("leveldb closed")
	_, err := Judge(&kvrwset.KVRWSet{
		Reads:  []*kvrwset.KVRead{{Key: ds}},
		Writes: []*kvrwset.KVWrite{{Key: ds, Value: value(t, domain.Dataset{ID: "households", Owner: "Dept1MSP"})}},
	}, func([]string) ([][]byte, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Judge = %v, want the state's error", err)
	}
}

func TestPeersOf(t *testing.T) {
	raw, err := PeersOf([]string{"Dept1MSP", "Dept2MSP"})
	if err != nil {
		t.Fatal(err)
	}
	var ap peer.ApplicationPolicy
	if err := proto.Unmarshal(raw, &ap); err != nil {
		t.Fatal(err)
	}
	env := ap.GetSignaturePolicy()
	n := env.GetRule().GetNOutOf()
	if n.GetN() != 2 || len(n.GetRules()) != 2 || len(env.GetIdentities()) != 2 {
		t.Fatalf("policy %v: want 2 of 2 principals", env)
	}
	for i, want := range []string{"Dept1MSP", "Dept2MSP"} {
		var role msp.MSPRole
		if err := proto.Unmarshal(env.GetIdentities()[i].GetPrincipal(), &role); err != nil {
			t.Fatal(err)
		}
		if role.GetMspIdentifier() != want || role.GetRole() != msp.MSPRole_PEER {
			t.Errorf("principal %d = %v, want %s.peer", i, &role, want)
		}
		if _, ok := n.GetRules()[i].GetType().(*common.SignaturePolicy_SignedBy); !ok {
			t.Errorf("rule %d is not a signed-by", i)
		}
	}
}
