//go:build tools

// The Fabric commands, built from this module so that the peer and the
// validation plugin it loads share every dependency at the same version
// (Go refuses to load a plugin built against other package versions).
package validation

import (
	_ "github.com/hyperledger/fabric/cmd/configtxgen"
	_ "github.com/hyperledger/fabric/cmd/cryptogen"
	_ "github.com/hyperledger/fabric/cmd/orderer"
	_ "github.com/hyperledger/fabric/cmd/osnadmin"
	_ "github.com/hyperledger/fabric/cmd/peer"
)
