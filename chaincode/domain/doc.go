// Package domain is the shared vocabulary of the data-sharing ledger:
// departments, roles, datasets, share requests, deliveries, usage,
// contributions, corrections, score snapshots, the chaincode event schema,
// the error codes (error.go) and the rules every layer calls: each record's
// parties (keys.go), who may read it and how much of a list at once
// (read.go); and the HTTP envelopes and headers the gateway and its indexer
// speak (http.go). The chaincode writes these types to the ledger, the
// gateway validates and returns them, the indexer reads them from chaincode
// events. It depends on the standard library only, so that every part of the
// system, including a classically packaged chaincode, can import it.
package domain
