// Package domain is the shared vocabulary of the data-sharing ledger:
// departments, roles, datasets, share requests, deliveries, usage,
// contributions, corrections, score snapshots, the chaincode event schema and
// the error codes. The chaincode writes these types to the ledger, the
// gateway validates and returns them, the indexer reads them from chaincode
// events. It depends on the standard library only, so that every part of the
// system, including a classically packaged chaincode, can import it.
package domain
