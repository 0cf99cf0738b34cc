//go:build integration

package attack

import (
	"fmt"
	"net/http"
	"os"

	"github.com/govshare/ledger/network"
)

// gatewayHTTP calls the gateways, trusting the run's tls-ca.pem.
var gatewayHTTP = func() *http.Client {
	hc, err := network.GatewayClient(os.Getenv("GOVSHARE_RUN"), 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway client:", err)
		os.Exit(2)
	}
	return hc
}()
