// Package fabricca is the gateway's client of its department's fabric-ca:
// revoking a person and fetching the CA's certificate revocation list, each
// call signed by the acting person (an admin whose CA identity carries
// hf.Revoker and hf.GenCRL), never by a shared registrar.
//
// fabric-ca authenticates a call with an "Authorization" token:
// base64(certificate PEM) "." base64(signature), the signature being the
// caller's ECDSA signature (low S) over the SHA-256 of
// method "." base64(request URI) "." base64(body) "." base64(certificate PEM),
// base64 being the standard alphabet with padding.
package fabricca

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/govshare/ledger/config"
)

// Config says where the department's CA is.
type Config = config.CA

// Signer is the acting person: their enrollment certificate and a function
// that signs a SHA-256 digest with their key (fabric-gateway's identity.Sign).
type Signer struct {
	CertPEM []byte
	Sign    func(digest []byte) ([]byte, error)
}

// Client calls one fabric-ca server.
type Client struct {
	base *url.URL
	name string
	http *http.Client
}

// New returns a client of the CA c describes.
func New(c Config) (*Client, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("fabric-ca url %q must be https://host:port", c.URL)
	}
	if c.Name == "" {
		return nil, errors.New("fabric-ca name is required")
	}
	raw, err := os.ReadFile(c.TLSCACert)
	if err != nil {
		return nil, fmt.Errorf("fabric-ca TLS root: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("fabric-ca TLS root %s holds no PEM certificate", c.TLSCACert)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &Client{base: u, name: c.Name, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// Error is fabric-ca's refusal: the HTTP status and its error list.
type Error struct {
	Status int
	Codes  []int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("fabric-ca answered %d: %s", e.Status, e.Msg)
}

// Has reports whether fabric-ca gave error code code (fabric-ca's lib/caerrors).
func (e *Error) Has(code int) bool {
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}

// RevokedCert names one certificate a revocation covered.
type RevokedCert struct {
	Serial string `json:"Serial"`
	AKI    string `json:"AKI"`
}

// Revoke revokes every certificate of identity name and disables the
// identity, so it cannot enroll again. It answers the certificates revoked
// now (none when they were revoked before).
func (c *Client) Revoke(ctx context.Context, s Signer, name, reason string) ([]RevokedCert, error) {
	body := map[string]any{"id": name, "caname": c.name}
	if reason != "" {
		body["reason"] = reason
	}
	var out struct {
		RevokedCerts []RevokedCert `json:"RevokedCerts"`
	}
	if err := c.call(ctx, s, "revoke", body, &out); err != nil {
		return nil, err
	}
	return out.RevokedCerts, nil
}

// CRL returns the CA's current certificate revocation list, PEM-encoded,
// signed by the CA: every certificate it has revoked and that has not
// expired.
func (c *Client) CRL(ctx context.Context, s Signer) ([]byte, error) {
	var out struct {
		CRL string `json:"CRL"`
	}
	if err := c.call(ctx, s, "gencrl", map[string]any{"caname": c.name}, &out); err != nil {
		return nil, err
	}
	crl, err := base64.StdEncoding.DecodeString(out.CRL)
	if err != nil {
		return nil, fmt.Errorf("fabric-ca gencrl: the CRL is not base64: %w", err)
	}
	if b, _ := pem.Decode(crl); b == nil || b.Type != "X509 CRL" {
		return nil, errors.New("fabric-ca gencrl: the answer holds no PEM X509 CRL")
	}
	return crl, nil
}

func (c *Client) call(ctx context.Context, s Signer, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	// fabric-ca-client calls /<op>, and the server checks the token against
	// the URI it sees (under /api/v1/ it strips that prefix first).
	u := c.base.JoinPath(op)
	u.Path = "/" + strings.TrimPrefix(u.Path, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	tok, err := token(s, http.MethodPost, u.RequestURI(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("fabric-ca %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("fabric-ca %s: %w", op, err)
	}
	var env struct {
		Success bool            `json:"success"`
		Result  json.RawMessage `json:"result"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("fabric-ca %s answered %d, not JSON: %.200q", op, resp.StatusCode, raw)
	}
	if !env.Success || resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		var msgs []string
		for _, x := range env.Errors {
			e.Codes = append(e.Codes, x.Code)
			msgs = append(msgs, fmt.Sprintf("%s (code %d)", x.Message, x.Code))
		}
		e.Msg = strings.Join(msgs, "; ")
		if e.Msg == "" {
			e.Msg = http.StatusText(resp.StatusCode)
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("fabric-ca %s: result: %w", op, err)
	}
	return nil
}

// token builds fabric-ca's Authorization token for one request.
func token(s Signer, method, uri string, body []byte) (string, error) {
	b64 := base64.StdEncoding.EncodeToString
	cert := b64(s.CertPEM)
	digest := sha256.Sum256([]byte(method + "." + b64([]byte(uri)) + "." + b64(body) + "." + cert))
	sig, err := s.Sign(digest[:])
	if err != nil {
		return "", fmt.Errorf("sign the fabric-ca request: %w", err)
	}
	return cert + "." + b64(sig), nil
}
