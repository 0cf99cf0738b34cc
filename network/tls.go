package network

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// TLSCAFile is the run folder's bundle of the CA roots that sign the
// gateways' TLS certificates (every department's CA), beside endpoints.json:
// what a client of the REST gateways trusts.
const TLSCAFile = "tls-ca.pem"

// GatewayUser is the identity whose TLS certificate a department's gateway
// serves with; its enrollment certificate has no role and so no rights.
const GatewayUser = "gateway"

// GatewayURL is the base URL of department d's gateway: https unless the
// topology sets plainHTTP for local development.
func (t *Topology) GatewayURL(d Department) string {
	if t.PlainHTTP {
		return "http://" + d.Addr(d.GatewayPort)
	}
	return "https://" + d.Addr(d.GatewayPort)
}

// writeTLSCA writes tls-ca.pem from every department's CA root.
func (n *Net) writeTLSCA() error {
	var all bytes.Buffer
	for _, d := range n.topo.Departments {
		raw, err := os.ReadFile(n.orgDir(d.Slug(), "ca", "server", "ca-cert.pem"))
		if err != nil {
			return err
		}
		all.Write(bytes.TrimSpace(raw))
		all.WriteByte('\n')
	}
	return writeFileAtomic(n.path(TLSCAFile), all.Bytes(), 0o644)
}

// gatewayTLS is the client configuration that trusts the gateways, nil
// with plain HTTP.
func (n *Net) gatewayTLS() (*tls.Config, error) {
	if n.topo.PlainHTTP {
		return nil, nil
	}
	return tlsConfigFrom(n.path(TLSCAFile))
}

func tlsConfigFrom(caFile string) (*tls.Config, error) {
	raw, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// GatewayClient is an HTTP client of the run folder's gateways: it trusts
// the run's tls-ca.pem (plain HTTP gateways need nothing, so a run without
// the file gets a plain client). timeout 0 leaves calls bound by their
// contexts.
func GatewayClient(run string, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	conf, err := tlsConfigFrom(filepath.Join(run, TLSCAFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		tr.TLSClientConfig = conf
	}
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// gatewayClient is GatewayClient of this run.
func (n *Net) gatewayClient() (*http.Client, error) { return GatewayClient(n.opts.Run, 0) }
