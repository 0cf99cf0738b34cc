package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key under dir.
func writeCert(t *testing.T, dir, name string, keyMode os.FileMode) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"_sk")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), keyMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyPath, keyMode); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// setup writes a configuration whose peer and indexer do not exist.
func setup(t *testing.T, keyMode os.FileMode) (configPath string) {
	t.Helper()
	dir := t.TempDir()
	caCert, _ := writeCert(t, dir, "tlsca", 0o600)
	cert, key := writeCert(t, dir, "olive", keyMode)
	sum := sha256.Sum256([]byte("secret-olive"))
	ids, _ := json.Marshal([]map[string]string{{"user": "olive", "role": "operator", "tokenSha256": hex.EncodeToString(sum[:]), "certPath": cert, "keyPath": key}})
	idPath := filepath.Join(dir, "identities.json")
	if err := os.WriteFile(idPath, ids, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsCert, tlsKey := writeServerCert(t, dir)
	cfg, _ := json.Marshal(map[string]any{
		"mspId": "Dept1MSP", "listen": "127.0.0.1:1", "channel": "datashare", "chaincode": "ledger",
		"peer":       map[string]string{"endpoint": freeAddr(t), "tlsCACert": caCert, "hostOverride": "localhost"},
		"indexerURL": "http://" + freeAddr(t), "identities": idPath,
		"tls": map[string]string{"certPath": tlsCert, "keyPath": tlsKey},
	})
	configPath = filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(configPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return configPath
}

func newTestMain(env map[string]string) (*Main, *bytes.Buffer) {
	m := NewMain()
	logs := &bytes.Buffer{}
	m.LogOutput = logs
	m.Getenv = func(k string) string { return env[k] }
	m.RequestTimeout = 5 * time.Second
	return m, logs
}

func TestMainServes(t *testing.T) {
	cfg := setup(t, 0o600)
	m, logs := newTestMain(map[string]string{"GATEWAY_LISTEN": "127.0.0.1:0"}) // the file says port 1
	if err := m.ParseFlags([]string{"-config", cfg}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "https://" + m.Addr()
	// Plain HTTP to the TLS listener is refused.
	if resp, err := http.Get("http://" + m.Addr() + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Fatal("the gateway answered plain HTTP")
		}
		resp.Body.Close()
	}
	hc := serverClient(t, filepath.Dir(cfg))

	get := func(path, token string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get("/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	// Neither the peer nor the indexer runs: not ready, and reads are unavailable.
	if resp, body := get("/readyz", ""); resp.StatusCode != 503 || !strings.Contains(body, `"ready":false`) {
		t.Fatalf("readyz %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/v1/datasets", "wrong"); resp.StatusCode != 401 {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
	if resp, body := get("/v1/datasets", "secret-olive"); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"unavailable"`) {
		t.Fatalf("read with the indexer down: %d %s", resp.StatusCode, body)
	}
	if resp, body := get("/v1/departments", "secret-olive"); resp.StatusCode != 503 {
		t.Fatalf("ledger read with the peer down: %d %s", resp.StatusCode, body)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after Close")
	}
	if !strings.Contains(logs.String(), `"msg":"serving"`) || !strings.Contains(logs.String(), `"user":"olive"`) {
		t.Fatalf("logs lack the start or the request: %s", logs)
	}
}

func TestMainConfigErrors(t *testing.T) {
	good := setup(t, 0o600)
	openKey := setup(t, 0o640)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // from ParseFlags, or else from Run
	}{
		{"missing file", []string{"-config", filepath.Join(dir, "none.json")}, nil, "no such file"},
		{"unknown field", []string{"-config", write("typo.json", `{"indexerUrl2":"x"}`)}, nil, `unknown field "indexerUrl2"`},
		{"required fields", []string{"-config", write("empty.json", `{}`)}, nil, "identities is required"},
		{"relative path", []string{"-config", good}, map[string]string{"GATEWAY_IDENTITIES": "ids.json"}, "must be an absolute path"},
		{"bad log level", []string{"-config", good}, map[string]string{"GATEWAY_LOG_LEVEL": "loud"}, "GATEWAY_LOG_LEVEL"},
		{"stray argument", []string{"-config", good, "extra"}, nil, "unexpected arguments"},
		{"readable key", []string{"-config", openKey}, map[string]string{"GATEWAY_LISTEN": "127.0.0.1:0"}, "group or others may read it"},
		{"bad indexer URL", []string{"-config", good}, map[string]string{"GATEWAY_LISTEN": "127.0.0.1:0", "GATEWAY_INDEXER_URL": "127.0.0.1:7108"}, "indexer URL"},
		{"bad GATEWAY_ATTEST", []string{"-config", good}, map[string]string{"GATEWAY_ATTEST": "sometimes"}, "GATEWAY_ATTEST"},
		{"bad GATEWAY_ATTEST_INTERVAL", []string{"-config", good}, map[string]string{"GATEWAY_ATTEST_INTERVAL": "-1s"}, "GATEWAY_ATTEST_INTERVAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTestMain(tt.env)
			err := m.ParseFlags(tt.args)
			if err == nil {
				err = m.Run(context.Background())
				defer m.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestMainAttestor: the attestor runs by default, as the department's
// admin; without an admin among the identities it says so and stays off,
// and GATEWAY_ATTEST=false or -attest=false turns it off.
func TestMainAttestor(t *testing.T) {
	cfg := setup(t, 0o600) // an operator only
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"on, but no admin", nil, nil, "attestor off: no admin among the identities"},
		{"off by environment", nil, map[string]string{"GATEWAY_ATTEST": "false"}, `"msg":"attestor off"`},
		{"off by flag", []string{"-attest=false"}, map[string]string{"GATEWAY_ATTEST": "true"}, `"msg":"attestor off"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"GATEWAY_LISTEN": "127.0.0.1:0"}
			for k, v := range tt.env {
				env[k] = v
			}
			m, logs := newTestMain(env)
			if err := m.ParseFlags(append([]string{"-config", cfg}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			if err := m.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), tt.want) || m.attestor != nil {
				t.Fatalf("logs lack %q: %s", tt.want, logs)
			}
		})
	}
	t.Run("on, as the admin", func(t *testing.T) {
		// The same person, made the department's admin.
		raw, _ := os.ReadFile(cfg)
		var c struct {
			Identities string `json:"identities"`
		}
		_ = json.Unmarshal(raw, &c)
		ids, _ := os.ReadFile(c.Identities)
		if err := os.WriteFile(c.Identities, bytes.Replace(ids, []byte(`"role":"operator"`), []byte(`"role":"admin"`), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		m, logs := newTestMain(map[string]string{"GATEWAY_LISTEN": "127.0.0.1:0", "GATEWAY_ATTEST_INTERVAL": "50ms"})
		if err := m.ParseFlags([]string{"-config", cfg}); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if m.attestor == nil {
			t.Fatalf("no attestor: %s", logs)
		}
		time.Sleep(200 * time.Millisecond) // a few rounds against a peer that does not exist
		done := make(chan error, 1)
		go func() { done <- m.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Close did not stop the attestor")
		}
		if !strings.Contains(logs.String(), `"msg":"attestor started"`) || !strings.Contains(logs.String(), `"admin":"olive"`) {
			t.Fatalf("logs: %s", logs)
		}
	})
}

// writeServerCert writes a self-signed TLS certificate for 127.0.0.1 and its key.
func writeServerCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gateway"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// serverClient trusts the certificate writeServerCert wrote into dir.
func serverClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "server.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(raw)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
}
