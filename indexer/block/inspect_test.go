package block_test

import (
	"bytes"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
)

func TestInspectReportsAlteredData(t *testing.T) {
	id := blocktest.NewIdentity("Dept1MSP", "op1")
	c := blocktest.NewChain("datashare")
	c.Genesis(id)
	raw := c.Block(blocktest.Tx{ID: "t1", Signer: id, NoEvent: true}, blocktest.Tx{ID: "t2", Signer: id, NoEvent: true})
	dec := block.Decoder{Chaincode: "ledger"}
	b, err := dec.Inspect(raw)
	if err != nil || !bytes.Equal(b.ComputedDataHash, b.DataHash) || len(b.Txs) != 2 {
		t.Fatalf("untouched block: %v, data hash equal %v", err, b != nil && bytes.Equal(b.ComputedDataHash, b.DataHash))
	}
	// Swap the two transactions: the header no longer commits to the data.
	altered := proto.Clone(raw).(*common.Block)
	d := altered.Data.Data
	d[0], d[1] = d[1], d[0]
	if _, err := dec.Decode(altered); err == nil {
		t.Fatal("Decode accepted altered data")
	}
	b, err = dec.Inspect(altered)
	if err != nil || bytes.Equal(b.ComputedDataHash, b.DataHash) || b.Txs[0].ID != "t2" {
		t.Fatalf("Inspect of altered data: %v", err)
	}
}
