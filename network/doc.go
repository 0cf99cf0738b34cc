// Package network brings the consortium up and down as native processes on
// one machine: a fabric-ca per organization, the Raft (or BFT) ordering
// service, one peer per department, the channel, the ledger chaincode running
// as a service behind the repository's external builder, and each
// department's indexer and REST gateway. One topology file drives it all.
//
// Every process it starts is recorded by PID under the run folder, so that
// Down stops exactly those and nothing else.
package network
