package block_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/indexer/block"
)

// der builds the expected encoding by hand, so the test does not share the
// encoder it checks.
func der(numberContent []byte, prev, data []byte) []byte {
	var body []byte
	body = append(body, 0x02, byte(len(numberContent)))
	body = append(body, numberContent...)
	body = append(body, 0x04, byte(len(prev)))
	body = append(body, prev...)
	body = append(body, 0x04, byte(len(data)))
	body = append(body, data...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func TestHeaderBytes(t *testing.T) {
	prev := bytes.Repeat([]byte{0xaa}, 32)
	data := bytes.Repeat([]byte{0x55}, 32)
	tests := []struct {
		name   string
		number uint64
		prev   []byte
		want   []byte
	}{
		{"genesis has no previous hash", 0, nil, der([]byte{0x00}, nil, data)},
		{"small number", 5, prev, der([]byte{0x05}, prev, data)},
		{"high bit needs a leading zero", 128, prev, der([]byte{0x00, 0x80}, prev, data)},
		{"two bytes", 0x1234, prev, der([]byte{0x12, 0x34}, prev, data)},
		{"largest uint64", ^uint64(0), prev, der([]byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, prev, data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &common.BlockHeader{Number: tt.number, PreviousHash: tt.prev, DataHash: data}
			got, err := block.HeaderBytes(h)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("HeaderBytes = %x, want %x", got, tt.want)
			}
			hash, err := block.HeaderHash(h)
			if err != nil {
				t.Fatal(err)
			}
			if want := sha256.Sum256(tt.want); !bytes.Equal(hash, want[:]) {
				t.Fatalf("HeaderHash = %x, want %x", hash, want)
			}
		})
	}
	if _, err := block.HeaderHash(nil); err == nil {
		t.Fatal("HeaderHash(nil) succeeded")
	}
}

func TestCheckDataHash(t *testing.T) {
	data := &common.BlockData{Data: [][]byte{[]byte("ab"), []byte("c")}}
	want := sha256.Sum256([]byte("abc"))
	if got := block.DataHash(data); !bytes.Equal(got, want[:]) {
		t.Fatalf("DataHash = %x, want %x", got, want)
	}
	tests := []struct {
		name    string
		header  []byte
		wantErr bool
	}{
		{"matching", want[:], false},
		{"altered", append([]byte{want[0] ^ 1}, want[1:]...), true},
		{"missing", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &common.Block{Header: &common.BlockHeader{Number: 3, DataHash: tt.header}, Data: data}
			if err := block.CheckDataHash(b); (err != nil) != tt.wantErr {
				t.Fatalf("CheckDataHash error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
