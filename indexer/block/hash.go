package block

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
)

// asn1Header mirrors Fabric's protoutil.asn1Header: the field order and the
// big.Int number are what make our hash equal to the one the next block
// names as its PreviousHash.
type asn1Header struct {
	Number       *big.Int
	PreviousHash []byte
	DataHash     []byte
}

// HeaderBytes is the ASN.1 DER encoding of a block header, as Fabric's
// protoutil.BlockHeaderBytes computes it.
func HeaderBytes(h *common.BlockHeader) ([]byte, error) {
	if h == nil {
		return nil, fmt.Errorf("block has no header")
	}
	der, err := asn1.Marshal(asn1Header{
		Number:       new(big.Int).SetUint64(h.GetNumber()),
		PreviousHash: h.GetPreviousHash(),
		DataHash:     h.GetDataHash(),
	})
	if err != nil {
		return nil, fmt.Errorf("encode block header %d: %w", h.GetNumber(), err)
	}
	return der, nil
}

// HeaderHash is the hash of a block header, as Fabric's
// protoutil.BlockHeaderHash computes it: SHA-256 over HeaderBytes. The next
// block carries it as PreviousHash, which is what chains the ledger.
func HeaderHash(h *common.BlockHeader) ([]byte, error) {
	der, err := HeaderBytes(h)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

// DataHash is the hash of a block's data, as Fabric's protoutil.BlockDataHash
// computes it: SHA-256 over the concatenated envelopes.
func DataHash(d *common.BlockData) []byte {
	h := sha256.New()
	for _, env := range d.GetData() {
		h.Write(env)
	}
	return h.Sum(nil)
}

// CheckDataHash reports an error when the block's header does not commit to
// the data it carries: such a block was altered after it was cut.
func CheckDataHash(b *common.Block) error {
	want := b.GetHeader().GetDataHash()
	got := DataHash(b.GetData())
	if !bytes.Equal(want, got) {
		return fmt.Errorf("block %d: data hash %x does not match header %x", b.GetHeader().GetNumber(), got, want)
	}
	return nil
}
