// Command ledgercc runs the ledger chaincode as an external service: the
// peer connects to it at CHAINCODE_SERVER_ADDRESS and knows it by
// CHAINCODE_ID (the package ID from "peer lifecycle chaincode install").
//
// CHAINCODE_MAX_CLOCK_SKEW (a Go duration such as "5m" or "90s"; default
// 5m) is how far a state-changing transaction's timestamp, which the
// submitting client chooses and signs, may be from this host's clock before
// the endorsement is refused. The server runs beside its peer, so this is
// the peer's clock: keep the host on NTP, and keep the skew wide enough for
// the time a client takes from signing a proposal to its endorsement.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

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
	var problems []error
	skew, err := maxClockSkew()
	if err != nil {
		problems = append(problems, err)
	}
	if ccid == "" {
		problems = append(problems, errors.New("CHAINCODE_ID is not set (the package ID the peer knows this chaincode by)"))
	}
	if addr == "" {
		problems = append(problems, errors.New("CHAINCODE_SERVER_ADDRESS is not set (host:port to listen on, e.g. 0.0.0.0:9999)"))
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	c := contract.New()
	c.MaxSkew = skew
	cc, err := contractapi.NewChaincode(c)
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
	log.Info("ledger chaincode serving", "ccid", ccid, "address", addr, "maxClockSkew", skew.String())
	if err := server.Start(); err != nil {
		return fmt.Errorf("serve chaincode on %s: %w", addr, err)
	}
	return nil
}

// maxClockSkew reads CHAINCODE_MAX_CLOCK_SKEW: a positive Go duration,
// contract.DefaultMaxSkew when unset.
func maxClockSkew() (time.Duration, error) {
	v := os.Getenv("CHAINCODE_MAX_CLOCK_SKEW")
	if v == "" {
		return contract.DefaultMaxSkew, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("CHAINCODE_MAX_CLOCK_SKEW %q is not a positive Go duration (like 5m or 90s)", v)
	}
	return d, nil
}
