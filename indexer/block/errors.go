package block

import "errors"

// ErrForeignLedger means a block does not belong to the ledger a mirror was
// built from (another genesis, another channel or a broken hash chain): the
// mirror must be rebuilt, never merged. The store answers it, the follower
// (indexer/source) stops on it; both know blocks, neither the other.
var ErrForeignLedger = errors.New("block is not from the ledger this mirror was built from")
