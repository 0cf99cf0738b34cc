// Package config is what the gateway's and the indexer's configuration
// files hold, and the gateway's identities file: the types the services
// read (gateway/cmd/gateway, indexer/cmd/indexer, gateway/identity) and the
// very types network/ writes them with, so that the two can never disagree.
// It checks a configuration without opening anything; it depends on the
// standard library only.
package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Peer is a Fabric node as a client reaches it: a peer, or an orderer.
type Peer struct {
	Endpoint     string `json:"endpoint"`               // host:port
	TLSCACert    string `json:"tlsCACert"`              // PEM file of the CA that signed the node's TLS certificate
	HostOverride string `json:"hostOverride,omitempty"` // TLS server name, when it differs from the endpoint's host
}

// TLSFiles names a PEM certificate (chain) and its key.
type TLSFiles struct {
	CertPath string `json:"certPath"`
	KeyPath  string `json:"keyPath"`
}

// CA says where a department's fabric-ca is.
type CA struct {
	URL       string `json:"url"`       // https://host:port
	Name      string `json:"name"`      // the CA's name (--ca.name)
	TLSCACert string `json:"tlsCACert"` // PEM file of the CA's TLS root
}

// Identity is one line of a gateway's identities file: a person, their
// token kept only as its SHA-256, and their enrollment.
type Identity struct {
	User        string `json:"user"`
	Role        string `json:"role"`
	TokenSHA256 string `json:"tokenSha256"`
	// PasswordBcrypt is the bcrypt hash of the person's password for
	// sessions (gateway/identity/sessions.go); empty means the person
	// cannot sign in with a password, only with the long-lived token.
	PasswordBcrypt string `json:"passwordBcrypt,omitempty"`
	CertPath       string `json:"certPath"`
	KeyPath        string `json:"keyPath"`
	// RevokedAt is set when an admin revoked the person (POST
	// /v1/people/{user}/revoke): their tokens no longer authenticate.
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// Gateway is the gateway's configuration file; environment variables
// override it (ApplyEnv).
type Gateway struct {
	MSPID      string `json:"mspId"`
	Listen     string `json:"listen"`
	Channel    string `json:"channel"`
	Chaincode  string `json:"chaincode"`
	Peer       Peer   `json:"peer"`
	IndexerURL string `json:"indexerURL"`
	Identities string `json:"identities"` // path of the identities file (Identity lines)
	// SessionTTL is how long a session from POST /v1/sessions lasts (a Go
	// duration, default 8h).
	SessionTTL string `json:"sessionTTL,omitempty"`
	// SessionsFile is where the gateway keeps its sessions (each token's
	// SHA-256, never the token) so that a restart keeps people signed in;
	// without it sessions live in memory and a restart ends them.
	SessionsFile string `json:"sessionsFile,omitempty"`
	// CA and Orderers let the department's admin revoke people (POST
	// /v1/people/{user}/revoke): the CA revokes, the orderers take the
	// channel configuration update with the new revocation list. Without
	// them that route answers 503.
	CA       *CA    `json:"ca,omitempty"`
	Orderers []Peer `json:"orderers,omitempty"`
	// TLS is the certificate (from the department's CA) and key the REST
	// API and console are served with. Without it the gateway refuses to
	// start unless PlainHTTP says so (local development only).
	TLS       *TLSFiles `json:"tls,omitempty"`
	PlainHTTP bool      `json:"plainHTTP,omitempty"`
	// Webhook, when set, posts the department's early-warning findings to
	// the department's own system (gateway/notify).
	Webhook *Webhook `json:"webhook,omitempty"`
}

// Webhook is where a gateway posts its department's findings.
type Webhook struct {
	URL string `json:"url"`
	// SecretFile holds the HMAC secret the posts are signed with (at
	// least 16 bytes; surrounding white space is not part of it).
	SecretFile string `json:"secretFile"`
	// StateFile is where the gateway keeps how far it has posted.
	StateFile string `json:"stateFile"`
	// Interval is how often the indexer is read (a Go duration, default 2s).
	Interval string `json:"interval,omitempty"`
}

// IntervalDuration is Interval parsed, 0 for the default.
func (w *Webhook) IntervalDuration() time.Duration {
	d, _ := time.ParseDuration(w.Interval)
	return d
}

// DefaultGateway suits department 1 of the local consortium (basePort 7000).
func DefaultGateway() Gateway {
	return Gateway{
		MSPID:      "Dept1MSP",
		Listen:     "127.0.0.1:7107",
		Channel:    "datashare",
		Chaincode:  "ledger",
		Peer:       Peer{Endpoint: "127.0.0.1:7101"},
		IndexerURL: "http://127.0.0.1:7108",
	}
}

// gatewayEnv names the variable that overrides each field, in a fixed order.
func (c *Gateway) gatewayEnv() []struct {
	name  string
	field *string
} {
	return []struct {
		name  string
		field *string
	}{
		{"GATEWAY_MSP_ID", &c.MSPID},
		{"GATEWAY_LISTEN", &c.Listen},
		{"GATEWAY_CHANNEL", &c.Channel},
		{"GATEWAY_CHAINCODE", &c.Chaincode},
		{"GATEWAY_PEER_ENDPOINT", &c.Peer.Endpoint},
		{"GATEWAY_PEER_TLS_CA_CERT", &c.Peer.TLSCACert},
		{"GATEWAY_PEER_HOST_OVERRIDE", &c.Peer.HostOverride},
		{"GATEWAY_INDEXER_URL", &c.IndexerURL},
		{"GATEWAY_IDENTITIES", &c.Identities},
		{"GATEWAY_SESSION_TTL", &c.SessionTTL},
	}
}

// ApplyEnv overrides the fields whose GATEWAY_* variable is set.
func (c *Gateway) ApplyEnv(getenv func(string) string) {
	for _, e := range c.gatewayEnv() {
		if v := getenv(e.name); v != "" {
			*e.field = v
		}
	}
}

// Validate checks what can be checked before opening anything. The errors
// come in the file's order, the same every time.
func (c *Gateway) Validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"mspId", c.MSPID}, {"listen", c.Listen}, {"channel", c.Channel}, {"chaincode", c.Chaincode},
		{"peer.endpoint", c.Peer.Endpoint}, {"peer.tlsCACert", c.Peer.TLSCACert}, {"indexerURL", c.IndexerURL}, {"identities", c.Identities}} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	for _, f := range []struct{ name, p string }{{"peer.tlsCACert", c.Peer.TLSCACert}, {"identities", c.Identities}} {
		if f.p != "" && !filepath.IsAbs(f.p) {
			errs = append(errs, fmt.Errorf("%s %q must be an absolute path", f.name, f.p))
		}
	}
	switch {
	case c.TLS == nil && !c.PlainHTTP:
		errs = append(errs, errors.New("tls (certPath, keyPath) is required; set plainHTTP: true to serve plain HTTP for local development"))
	case c.TLS != nil && c.PlainHTTP:
		errs = append(errs, errors.New("tls and plainHTTP are both set: choose one"))
	case c.TLS != nil && (!filepath.IsAbs(c.TLS.CertPath) || !filepath.IsAbs(c.TLS.KeyPath)):
		errs = append(errs, errors.New("tls.certPath and tls.keyPath must be absolute paths"))
	}
	if c.CA != nil && len(c.Orderers) == 0 {
		errs = append(errs, errors.New("ca is set but orderers is empty: revoking a person needs both"))
	}
	for i, o := range c.Orderers {
		if o.Endpoint == "" || !filepath.IsAbs(o.TLSCACert) {
			errs = append(errs, fmt.Errorf("orderers[%d] needs an endpoint and an absolute tlsCACert", i))
		}
	}
	if c.SessionTTL != "" {
		if d, err := time.ParseDuration(c.SessionTTL); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("sessionTTL %q must be a positive duration such as 8h", c.SessionTTL))
		}
	}
	if w := c.Webhook; w != nil {
		if !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
			errs = append(errs, fmt.Errorf("webhook.url %q must be an http(s) URL", w.URL))
		}
		if !filepath.IsAbs(w.SecretFile) || !filepath.IsAbs(w.StateFile) {
			errs = append(errs, errors.New("webhook.secretFile and webhook.stateFile must be absolute paths"))
		}
		if w.Interval != "" {
			if d, err := time.ParseDuration(w.Interval); err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("webhook.interval %q must be a positive duration such as 2s", w.Interval))
			}
		}
	}
	return errors.Join(errs...)
}

// SessionDuration is SessionTTL parsed, 0 for the default.
func (c *Gateway) SessionDuration() time.Duration {
	d, _ := time.ParseDuration(c.SessionTTL)
	return d
}

// MinMemoryLimitMB is the smallest bound the indexer accepts: below it the
// Go runtime, Badger's 4 MiB memtables and its smallest caches no longer fit.
const MinMemoryLimitMB = 64

// Indexer is the indexer's configuration file, with environment overrides
// (indexer/cmd/indexer's LoadConfig).
type Indexer struct {
	MSPID string `json:"mspId"`
	// Listen is "unix:<absolute socket path>": the API believes the caller
	// headers its gateway sets, so only the consortium's user may connect
	// (the socket is 0600 in a 0700 folder). A loopback host:port is for
	// tests of the command alone.
	Listen    string `json:"listen"`
	Channel   string `json:"channel"`
	Chaincode string `json:"chaincode"`
	Peer      Peer   `json:"peer"`
	// Identity is the enrollment the indexer reads blocks with.
	Identity TLSFiles `json:"identity"`
	DataDir  string   `json:"dataDir"`
	Scoring  string   `json:"scoring,omitempty"` // the scoring model (score.Model JSON); empty for the built-in default
	// MemoryLimitMB bounds the process's resident set, at any ledger size:
	// Badger's options and the Go runtime's soft limit follow from it
	// (store.Budget; indexer/README.md). Default store.DefaultMemoryLimitMB.
	MemoryLimitMB int `json:"memoryLimitMB,omitempty"`
}

// Validate checks what every run needs; needPeer adds what following the
// ledger needs (a rebuild does not).
func (c Indexer) Validate(needPeer bool) error {
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("config: dataDir %q must be an absolute path", c.DataDir)
	}
	if c.MemoryLimitMB < MinMemoryLimitMB {
		return fmt.Errorf("config: memoryLimitMB %d is below %d, which Badger's smallest memtables and caches need", c.MemoryLimitMB, MinMemoryLimitMB)
	}
	if c.Scoring != "" && !filepath.IsAbs(c.Scoring) {
		return fmt.Errorf("config: scoring %q must be an absolute path", c.Scoring)
	}
	if !needPeer {
		return nil
	}
	if sock, ok := strings.CutPrefix(c.Listen, "unix:"); ok {
		if !filepath.IsAbs(sock) {
			return fmt.Errorf("config: listen %q: the socket must be an absolute path", c.Listen)
		}
	} else {
		// TCP is for tests of the command alone: anyone on the machine can
		// reach a TCP port, and the API believes the caller headers.
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("config: listen %q: %w", c.Listen, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("config: listen %q must be unix:<socket path> or a loopback address", c.Listen)
		}
	}
	if c.MSPID == "" || c.Channel == "" || c.Chaincode == "" {
		return fmt.Errorf("config: mspId, channel and chaincode are required")
	}
	if c.Peer.Endpoint == "" {
		return fmt.Errorf("config: peer.endpoint is required")
	}
	// In the file's order, so that the same file always fails the same way.
	for _, f := range []struct{ name, p string }{{"peer.tlsCACert", c.Peer.TLSCACert}, {"identity.certPath", c.Identity.CertPath}, {"identity.keyPath", c.Identity.KeyPath}} {
		if f.p == "" || !filepath.IsAbs(f.p) {
			return fmt.Errorf("config: %s %q must be an absolute path", f.name, f.p)
		}
	}
	return nil
}
