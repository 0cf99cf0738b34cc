// Command ledgercc runs the ledger chaincode as an external service: the
// peer connects to it at CHAINCODE_SERVER_ADDRESS and knows it by
// CHAINCODE_ID (the package ID from "peer lifecycle chaincode install").
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/govshare/ledger/chaincode/contract"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("ledger chaincode stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ccid, addr := os.Getenv("CHAINCODE_ID"), os.Getenv("CHAINCODE_SERVER_ADDRESS")
	var missing []error
	if ccid == "" {
		missing = append(missing, errors.New("CHAINCODE_ID is not set (the package ID the peer knows this chaincode by)"))
	}
	if addr == "" {
		missing = append(missing, errors.New("CHAINCODE_SERVER_ADDRESS is not set (host:port to listen on, e.g. 0.0.0.0:9999)"))
	}
	if err := errors.Join(missing...); err != nil {
		return err
	}
	cc, err := contractapi.NewChaincode(contract.New())
	if err != nil {
		return fmt.Errorf("build chaincode: %w", err)
	}
	server := &shim.ChaincodeServer{
		CCID:    ccid,
		Address: addr,
		CC:      cc,
		// The peer and the chaincode run side by side on the local
		// consortium; TLS between them is off, as in fabric-samples' CCaaS.
		TLSProps: shim.TLSProperties{Disabled: true},
	}
	log.Info("ledger chaincode serving", "ccid", ccid, "address", addr)
	if err := server.Start(); err != nil {
		return fmt.Errorf("serve chaincode on %s: %w", addr, err)
	}
	return nil
}
