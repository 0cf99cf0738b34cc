// Package forge is the attacker's toolkit of the consortium: it builds Fabric
// proposals, endorsements and transactions by hand, byte for byte as a peer
// and a client would, so that tests can perform the attacks a department,
// or a coalition of departments, could mount with its own keys:
//
//   - a proposal signed by any identity whose certificate and key it holds,
//     with a chosen transaction timestamp and nonce, sent to any peer's
//     Endorser service for an honest endorsement (NewProposal, Peer.Endorse);
//   - an "endorsement" of an arbitrary read-write set and chaincode event,
//     signed with the peer keys a coalition holds: what modified chaincode on
//     the coalition's own peers would return (Forge);
//   - the transaction envelope signed by the client, submitted through a
//     peer's Gateway or straight to an orderer, and its validation code read
//     back from the committing peer (Assemble, Peer.Submit,
//     Orderer.Broadcast, Peer.CommitStatus).
//
// Signing follows Fabric: SHA-256 digest, ECDSA with a low S, DER encoded.
// Nothing here checks the rules of the ledger; that is the point.
package forge
