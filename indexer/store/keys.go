package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/govshare/ledger/chaincode/domain"
)

// The key layout. Every key starts with an ASCII kind and a slash, so that
// each kind is one prefix scan; numbers are fixed-width big-endian, so byte
// order is numeric order; a string that is followed by more key is escaped
// and terminated (see appendString), so that no value is a prefix of another.
// "pos" is <block:8><txIndex:4>, the place of a transaction in the ledger.
//
//	meta/checkpoint                            {"next","hash","time"}: blocks applied, hash and time of the last
//	meta/genesis                               {"channel","hash"}: the ledger this mirror belongs to
//	meta/schema                                schemaVersion, written with block 0 (see checkSchema)
//	meta/split                                 <pos>: a block applied in parts, begun and not finished (apply.go)
//	block/<number:8>                           BlockRecord: the header hashes of every applied block
//	tx/<txId>⊥<pos>                            TxRecord: every transaction, valid or not, of any chaincode
//	ent/<kind>⊥<id>                            the entity's latest state: the bytes its last write put on the ledger
//	event/<pos>                                EventRecord: the trace in ledger order, one per transaction that wrote an entity
//	anomaly/<pos>                              Anomaly: a VALID transaction whose event or writes failed a check
//	                                             (package writeset), with the event as received
//	idx/<name>⊥<value>⊥<id>                    empty: entity indexes, as the table in indexes.go computes
//	                                             them from the typed entity, name one of
//	                                             dataset.owner, dataset.shareType, dataset.grade,
//	                                             dataset.derivedFrom (value = the parent: the reverse lineage),
//	                                             request.dataset, request.requester, request.owner,
//	                                             request.status, request.party,
//	                                             delivery.request, delivery.status, delivery.party,
//	                                             correction.delivery, correction.status, correction.party,
//	                                             usage.request, usage.party,
//	                                             contribution.dataset, contribution.party
//	evidx/<name>⊥<value>⊥<pos>                 event indexes, name one of
//	                                             dataset, request, department, actor, entity (value <kind>⊥<id>);
//	                                             empty, but for dataset: a copy of the EventRecord at event/<pos>,
//	                                             so that a dataset's trace, however long, is one scan
//	score/<period>⊥<block:8>                   the score aggregates, written by package indexer/scores through
//	scorelate/<period>                           the block hook (hook.go) in each block's transaction; their
//	meta/scores                                  layout is in indexer/scores/state.go (aggregatePrefixes)
//	meter/<bucket>⊥<start:8><department>⊥<dataset>
//	                                           MeterRow counters, 5 big-endian uint64 (calls, records, bytes,
//	                                             deliveries, contributions); bucket hour, day or month; start =
//	                                             Unix seconds of the bucket's start with the sign bit flipped
//	                                             (see metering.go for who a row is attributed to)
//	meterds/<bucket>⊥<dataset>⊥<start:8><department>
//	meterdept/<bucket>⊥<department>⊥<start:8><dataset>
//	                                           the same counters, by dataset and by department, so that a
//	                                             query of either (or both) is a range scan of its own rows
//
// "party" indexes list an entity under each department party to it
// (requester and owner, consumer and owner, contributor and pool owner).
// ⊥ is the terminator 0x00 0x01; a 0x00 inside a string is written 0x00 0xFF.
// IDs that end a key (ent/, idx/) are written plain: domain IDs never hold 0x00.
const (
	prefixMeta  = "meta/"
	prefixBlock = "block/"
	prefixTx    = "tx/"
	prefixEnt   = "ent/"
	prefixEvent = "event/"
	prefixAnom  = "anomaly/"
	prefixIdx   = "idx/"
	prefixEvIdx = "evidx/"
	prefixMeter = "meter/"
	// The metering rows by dataset and by department: "meterds/" and
	// "meterdept/" do not start with "meter/", so a scan of one is never
	// one of another.
	prefixMeterDataset = "meterds/"
	prefixMeterDept    = "meterdept/"
)

// aggregatePrefixes are the keys a block hook (hook.go) may read and write:
// the score aggregates of package indexer/scores, whose layout is its own
// (indexer/scores/state.go). The store writes nothing under them.
var aggregatePrefixes = []string{"score/", "scorelate/", prefixMeta + "scores", "finding/", "findingchg/", prefixMeta + "watch", prefixMeta + "findingcounts"}

var (
	keyCheckpoint = []byte(prefixMeta + "checkpoint")
	keyGenesis    = []byte(prefixMeta + "genesis")
	keySchema     = []byte(prefixMeta + "schema")
	// keySplit holds the position of a block being applied in parts
	// (applySplit) while its parts are in and its checkpoint is not; it is
	// gone once the block is in, so no finished mirror holds it.
	keySplit = []byte(prefixMeta + "split")
)

// schemaVersion numbers the key layout. A mirror written with another is
// dropped on Open and replayed (see checkSchema); bump it whenever a key or
// value changes or a new index or aggregate appears.
const schemaVersion = 8

// AppendKeyString appends s escaped and terminated, as every string that is
// followed by more key is written: for the keys of a block hook (hook.go).
func AppendKeyString(dst []byte, s string) []byte { return appendString(dst, s) }

// appendString appends s escaped and terminated.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, 0xff)
			continue
		}
		dst = append(dst, s[i])
	}
	return append(dst, 0, 1)
}

// pos is a transaction's place in the ledger.
type pos struct {
	Block uint64
	Tx    uint32
}

const posLen = 12

func appendPos(dst []byte, p pos) []byte {
	dst = binary.BigEndian.AppendUint64(dst, p.Block)
	return binary.BigEndian.AppendUint32(dst, p.Tx)
}

func parsePos(b []byte) (pos, error) {
	if len(b) != posLen {
		return pos{}, fmt.Errorf("position has %d bytes, not %d", len(b), posLen)
	}
	return pos{Block: binary.BigEndian.Uint64(b), Tx: binary.BigEndian.Uint32(b[8:])}, nil
}

func blockKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixBlock), n)
}

func txKey(id string, p pos) []byte {
	return appendPos(appendString([]byte(prefixTx), id), p)
}

func txPrefix(id string) []byte { return appendString([]byte(prefixTx), id) }

func entPrefix(kind string) []byte { return appendString([]byte(prefixEnt), kind) }

func entKey(kind, id string) []byte { return append(entPrefix(kind), id...) }

// parseEntKey undoes entKey (kinds hold no 0x00, so they are written plain).
func parseEntKey(key []byte) (kind domain.Kind, id string, err error) {
	rest, ok := bytes.CutPrefix(key, []byte(prefixEnt))
	i := bytes.Index(rest, []byte{0, 1})
	if !ok || i < 0 {
		return "", "", fmt.Errorf("%q is not an entity key", key)
	}
	return domain.Kind(rest[:i]), string(rest[i+2:]), nil
}

func eventKey(p pos) []byte { return appendPos([]byte(prefixEvent), p) }

func anomalyKey(p pos) []byte { return appendPos([]byte(prefixAnom), p) }

func idxPrefix(name, value string) []byte {
	return appendString(appendString([]byte(prefixIdx), name), value)
}

func idxKey(name, value, id string) []byte { return append(idxPrefix(name, value), id...) }

func evIdxPrefix(name, value string) []byte {
	return appendString(appendString([]byte(prefixEvIdx), name), value)
}

func evIdxKey(name, value string, p pos) []byte { return appendPos(evIdxPrefix(name, value), p) }

// entityValue is the value of the entity event index: kind and ID in one string.
func entityValue(kind, id string) string {
	return string(appendString([]byte(kind), id))
}
