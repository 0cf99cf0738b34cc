// Package faults holds the fault-injection tests of the consortium: they
// SIGKILL an indexer, a peer and the Raft leader, stop and start the whole
// consortium, and flood the gateways with bad and conflicting calls, then
// prove from the peers themselves (through the Fabric Gateway) and from
// every department's mirror digest that nothing was lost, duplicated or
// corrupted. They are built with the "faults" tag and drive the consortium
// of GOVSHARE_RUN with the command in CONSORTIUM (see scripts/faults.sh).
package faults
