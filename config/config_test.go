package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// The errors of a configuration come in the same order every time.
func TestGatewayValidateOrder(t *testing.T) {
	var c Gateway
	first := c.Validate().Error()
	for range 20 {
		if got := c.Validate().Error(); got != first {
			t.Fatalf("Validate = %q, then %q", first, got)
		}
	}
	if !strings.HasPrefix(first, "mspId is required\nlisten is required\n") {
		t.Fatalf("Validate = %q", first)
	}
	c = DefaultGateway()
	c.Peer.TLSCACert, c.Identities, c.PlainHTTP = "/ca.pem", "/ids.json", true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The files' keys are the ones the services have always read.
func TestKeys(t *testing.T) {
	b, _ := json.Marshal(Gateway{CA: &CA{}, TLS: &TLSFiles{}, Orderers: []Peer{{}}})
	for _, k := range []string{`"mspId"`, `"listen"`, `"peer":{"endpoint":"","tlsCACert":""}`, `"indexerURL"`, `"identities"`,
		`"ca":{"url":"","name":"","tlsCACert":""}`, `"tls":{"certPath":"","keyPath":""}`, `"orderers"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("gateway config %s lacks %s", b, k)
		}
	}
	b, _ = json.Marshal(Indexer{})
	for _, k := range []string{`"identity":{"certPath":"","keyPath":""}`, `"dataDir"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("indexer config %s lacks %s", b, k)
		}
	}
	if err := (Indexer{DataDir: "/d", MemoryLimitMB: MinMemoryLimitMB}).Validate(false); err != nil {
		t.Error(err)
	}
}
