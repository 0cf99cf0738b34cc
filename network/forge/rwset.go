package forge

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"google.golang.org/protobuf/proto"
)

// ValidationParameter is the metadata entry that holds a key's key-level
// (state-based) endorsement policy.
const ValidationParameter = "VALIDATION_PARAMETER"

// Version is a committed key's version: the block and transaction that last
// wrote it.
type Version struct {
	Block uint64
	Tx    uint64
}

// Read is one key read; a nil Version says the key was absent.
type Read struct {
	Key     string
	Version *Version
}

// Write is one key written, or deleted.
type Write struct {
	Key    string
	Value  []byte
	Delete bool
}

// MetadataWrite sets a key's metadata entries (ValidationParameter, ...).
type MetadataWrite struct {
	Key     string
	Entries map[string][]byte
}

// RWSet is the read-write set of one namespace, written by hand.
type RWSet struct {
	Namespace      string // DefaultChaincode when empty
	Reads          []Read
	Writes         []Write
	MetadataWrites []MetadataWrite
}

// Put adds a write of value under key.
func (s *RWSet) Put(key string, value []byte) {
	s.Writes = append(s.Writes, Write{Key: key, Value: value})
}

// PutJSON adds a write of v's JSON under key (how the contract stores an entity).
func (s *RWSet) PutJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("forge: encode %q: %w", key, err)
	}
	s.Put(key, b)
	return nil
}

// Read adds a read of key at version (nil: absent).
func (s *RWSet) Read(key string, version *Version) {
	s.Reads = append(s.Reads, Read{Key: key, Version: version})
}

// SetEndorsers adds the metadata write that gives key a key-level policy
// requiring a peer of every org, byte for byte as the contract sets it.
func (s *RWSet) SetEndorsers(key string, orgs ...string) error {
	p, err := EndorsementPolicy(orgs...)
	if err != nil {
		return err
	}
	s.MetadataWrites = append(s.MetadataWrites, MetadataWrite{Key: key, Entries: map[string][]byte{ValidationParameter: p}})
	return nil
}

// EndorsementPolicy is the key-level policy "a peer of each of orgs", as
// the statebased package of the chaincode shim encodes it.
func EndorsementPolicy(orgs ...string) ([]byte, error) {
	ep, err := statebased.NewStateEP(nil)
	if err != nil {
		return nil, err
	}
	if err := ep.AddOrgs(statebased.RoleTypePeer, orgs...); err != nil {
		return nil, fmt.Errorf("forge: policy: %w", err)
	}
	return ep.Policy()
}

// MarshalRWSets encodes namespaces as a transaction's rwset.TxReadWriteSet,
// each namespace's reads, writes and metadata writes sorted by key as the
// peer's simulator sorts them.
func MarshalRWSets(sets ...RWSet) ([]byte, error) {
	tx := &rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV}
	for _, s := range sets {
		kv := &kvrwset.KVRWSet{}
		for _, r := range s.Reads {
			kr := &kvrwset.KVRead{Key: r.Key}
			if r.Version != nil {
				kr.Version = &kvrwset.Version{BlockNum: r.Version.Block, TxNum: r.Version.Tx}
			}
			kv.Reads = append(kv.Reads, kr)
		}
		for _, w := range s.Writes {
			kv.Writes = append(kv.Writes, &kvrwset.KVWrite{Key: w.Key, Value: w.Value, IsDelete: w.Delete})
		}
		for _, m := range s.MetadataWrites {
			mw := &kvrwset.KVMetadataWrite{Key: m.Key}
			names := make([]string, 0, len(m.Entries))
			for n := range m.Entries {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				mw.Entries = append(mw.Entries, &kvrwset.KVMetadataEntry{Name: n, Value: m.Entries[n]})
			}
			kv.MetadataWrites = append(kv.MetadataWrites, mw)
		}
		sort.SliceStable(kv.Reads, func(i, j int) bool { return kv.Reads[i].Key < kv.Reads[j].Key })
		sort.SliceStable(kv.Writes, func(i, j int) bool { return kv.Writes[i].Key < kv.Writes[j].Key })
		sort.SliceStable(kv.MetadataWrites, func(i, j int) bool { return kv.MetadataWrites[i].Key < kv.MetadataWrites[j].Key })
		b, err := proto.Marshal(kv)
		if err != nil {
			return nil, err
		}
		ns := s.Namespace
		if ns == "" {
			ns = DefaultChaincode
		}
		tx.NsRwset = append(tx.NsRwset, &rwset.NsReadWriteSet{Namespace: ns, Rwset: b})
	}
	return proto.Marshal(tx)
}

// ParseRWSets decodes a transaction's read-write set (of an honest
// endorsement, or one built here). Range queries and private data hashes,
// which this package never writes, are dropped.
func ParseRWSets(b []byte) ([]RWSet, error) {
	var tx rwset.TxReadWriteSet
	if err := proto.Unmarshal(b, &tx); err != nil {
		return nil, fmt.Errorf("forge: rwset: %w", err)
	}
	out := make([]RWSet, 0, len(tx.NsRwset))
	for _, ns := range tx.NsRwset {
		var kv kvrwset.KVRWSet
		if err := proto.Unmarshal(ns.Rwset, &kv); err != nil {
			return nil, fmt.Errorf("forge: rwset of %s: %w", ns.Namespace, err)
		}
		s := RWSet{Namespace: ns.Namespace}
		for _, r := range kv.Reads {
			rd := Read{Key: r.Key}
			if r.Version != nil {
				rd.Version = &Version{Block: r.Version.BlockNum, Tx: r.Version.TxNum}
			}
			s.Reads = append(s.Reads, rd)
		}
		for _, w := range kv.Writes {
			s.Writes = append(s.Writes, Write{Key: w.Key, Value: w.Value, Delete: w.IsDelete})
		}
		for _, m := range kv.MetadataWrites {
			mw := MetadataWrite{Key: m.Key, Entries: map[string][]byte{}}
			for _, e := range m.Entries {
				mw.Entries[e.Name] = e.Value
			}
			s.MetadataWrites = append(s.MetadataWrites, mw)
		}
		out = append(out, s)
	}
	return out, nil
}
