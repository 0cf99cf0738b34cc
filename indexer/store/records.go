package store

import (
	"encoding/json"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// EventRecord is one applied chaincode event with the facts of the
// transaction that carried it, in ledger order. MSPID and Actor come from
// the transaction's signer, as the block names it; Role from the event,
// since only the chaincode saw the certificate attribute.
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
	PayloadSHA256 string           `json:"payloadSha256"` // over the payload bytes exactly as on the ledger
	Event         json.RawMessage  `json:"event"`
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
}
