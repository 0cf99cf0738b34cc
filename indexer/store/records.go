package store

import (
	"encoding/json"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/writeset"
)

// EventRecord is one transaction's change to the ledger's state, with the
// facts of the transaction, in ledger order: the trace. Kind, ID and the
// cross references (status, dataset, request, owner, requester) are those
// of the entity the transaction wrote; MSPID, Actor and Timestamp come from
// the transaction's header. Type, Role and Event come from the chaincode
// event, when it agrees with the write set (only the chaincode saw the
// certificate's role attribute); otherwise Type is "state.written", Role
// is empty, Event is null and Anomaly names the check that failed (the
// event as received is in the Anomaly record at the same position).
type EventRecord struct {
	TxID          string           `json:"txId"`
	BlockNumber   uint64           `json:"blockNumber"`
	TxIndex       int              `json:"txIndex"`
	Timestamp     time.Time        `json:"timestamp"`
	MSPID         string           `json:"mspId"`
	Actor         string           `json:"actor"` // certificate subject of the signer
	Role          domain.Role      `json:"role"`
	Type          domain.EventType `json:"type"`
	Kind          domain.Kind      `json:"kind"`
	ID            string           `json:"id"`
	Status        string           `json:"status,omitempty"`
	DatasetID     string           `json:"datasetId,omitempty"`
	RequestID     string           `json:"requestId,omitempty"`
	Owner         string           `json:"owner,omitempty"`
	Requester     string           `json:"requester,omitempty"`
	PayloadSHA256 string           `json:"payloadSha256"` // over the payload bytes exactly as on the ledger; "" when not believed
	Event         json.RawMessage  `json:"event"`
	Anomaly       string           `json:"anomaly,omitempty"` // the check the transaction failed
	// Others are the other entities the transaction wrote: none, unless it
	// was forged (an honest transaction writes one entity).
	Others []EntityRef `json:"others,omitempty"`
}

// EntityRef names one entity.
type EntityRef struct {
	Kind domain.Kind `json:"kind"`
	ID   string      `json:"id"`
}

// Anomaly is a VALID transaction that the mirror could not take at its
// event's word (package writeset lists the checks): its entities were
// applied from the write set, its event was not. Kept so that an auditor
// sees it and verify reports it.
type Anomaly struct {
	TxID        string    `json:"txId"`
	BlockNumber uint64    `json:"blockNumber"`
	TxIndex     int       `json:"txIndex"`
	Timestamp   time.Time `json:"timestamp"`
	MSPID       string    `json:"mspId"`
	Actor       string    `json:"actor"` // certificate subject of the signer
	Check       string    `json:"check"` // the first check that failed
	Detail      string    `json:"detail"`
	// Failures are every check that failed, Check first.
	Failures      []writeset.Failure `json:"failures"`
	EventName     string             `json:"eventName,omitempty"`
	PayloadSHA256 string             `json:"payloadSha256,omitempty"`
	// Event is the event as received, when it is JSON; Payload has its
	// exact bytes (base64), which PayloadSHA256 covers.
	Event   json.RawMessage `json:"event"`
	Payload []byte          `json:"payload,omitempty"`
	// Writes are the keys the transaction wrote in the ledger's namespace.
	Writes []WriteRef `json:"writes"`
}

// WriteRef is one write of a transaction's write set.
type WriteRef struct {
	Key         string      `json:"key"`            // the composite key, "\u0000"-separated
	Kind        domain.Kind `json:"kind,omitempty"` // for an entity key
	ID          string      `json:"id,omitempty"`
	Delete      bool        `json:"delete,omitempty"`
	ValueSHA256 string      `json:"valueSha256,omitempty"`
}

// BlockRecord is what the mirror keeps of each applied block: enough to check
// the hash chain against the ledger later.
type BlockRecord struct {
	Number       uint64    `json:"number"`
	Hash         string    `json:"hash"`
	PreviousHash string    `json:"previousHash"`
	DataHash     string    `json:"dataHash"`
	Time         time.Time `json:"time"`
	TxCount      int       `json:"txCount"`
	Config       bool      `json:"config,omitempty"`
}

// TxRecord is what the mirror keeps of every transaction, applied or not, so
// that a transaction ID can be found and its validation code shown.
type TxRecord struct {
	TxID           string    `json:"txId"`
	BlockNumber    uint64    `json:"blockNumber"`
	TxIndex        int       `json:"txIndex"`
	Type           string    `json:"type"`
	Timestamp      time.Time `json:"timestamp"`
	MSPID          string    `json:"mspId,omitempty"`
	Actor          string    `json:"actor,omitempty"`
	ValidationCode int32     `json:"validationCode"`
	Validation     string    `json:"validation"`
	Chaincode      string    `json:"chaincode,omitempty"`
	EventName      string    `json:"eventName,omitempty"`
	Applied        bool      `json:"applied"`
	Anomaly        string    `json:"anomaly,omitempty"` // the check it failed, for an applied transaction
}

// checkpoint is the progress of the mirror, written with the block it covers.
type checkpoint struct {
	Next uint64    `json:"next"` // blocks applied, so the number of the next one
	Hash string    `json:"hash"` // header hash of block Next-1
	Time time.Time `json:"time"` // time of block Next-1
}

// genesis names the ledger the mirror belongs to.
type genesis struct {
	Channel string `json:"channel"`
	Hash    string `json:"hash"`
}

// Status is the mirror's progress.
type Status struct {
	Channel       string    `json:"channel"`
	GenesisHash   string    `json:"genesisHash"`
	Height        uint64    `json:"height"` // blocks applied = number of the next block
	LastBlockHash string    `json:"lastBlockHash"`
	LastBlockTime time.Time `json:"lastBlockTime"`
	// Rebuilt is how many blocks a rebuild under way holds (rebuild.go),
	// which readers see only once it is written; 0 when none is.
	Rebuilt uint64 `json:"rebuilt,omitempty"`
}
