package network

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/config"
	"github.com/govshare/ledger/gateway/indexclient"
)

// Endpoints is .run/endpoints.json, as the README describes it.
type Endpoints struct {
	Departments []EndpointDept `json:"departments"`
	Channel     string         `json:"channel"`
	Chaincode   string         `json:"chaincode"`
}

// EndpointDept is one department's gateway.
type EndpointDept struct {
	MSPID   string `json:"mspId"`
	Name    string `json:"name"`
	Gateway string `json:"gateway"`
	Indexer string `json:"indexer"`
	Peer    string `json:"peer"`
}

// Credential is one line of .run/credentials.json: a person and their token.
// These tokens are long-lived (Kind "long-lived": they last as long as the
// consortium's configuration); people sign in for an expiring session with
// the password of .run/passwords.json instead (POST /v1/sessions).
type Credential struct {
	MSPID string `json:"mspId"`
	User  string `json:"user"`
	Role  string `json:"role"`
	Token string `json:"token"`
	Kind  string `json:"kind"`
}

// CredentialLongLived is the Kind of every token that `up` mints.
const CredentialLongLived = "long-lived"

// Password is one line of .run/passwords.json (0600): a person's initial
// password for POST /v1/sessions. The gateway keeps only its bcrypt hash,
// and the person can change it (PUT /v1/sessions/password); this file then
// holds a stale one.
type Password struct {
	MSPID    string `json:"mspId"`
	User     string `json:"user"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// The services' configuration files are written with the very types the
// services read them with (package config); these names are theirs.
type (
	gatewayConfig = config.Gateway
	indexerConfig = config.Indexer
)

// indexerAddr is where a department's indexer listens and its gateway
// calls it: a Unix socket in the run folder (mode 0600 in a 0700 folder),
// so that no one but the consortium's user can send the caller headers the
// indexer believes.
func (n *Net) indexerAddr(d Department) string {
	return "unix:" + n.path("sock", "indexer-"+d.Slug()+".sock")
}

// IndexerClient returns an HTTP client of the indexer at addr (an
// endpoints.json "indexer": unix:<socket>) and the base URL to put before a
// route's path; timeout 0 leaves calls bound by their contexts.
func IndexerClient(addr string, timeout time.Duration) (*http.Client, string, error) {
	return indexclient.HTTPClient(addr, timeout)
}

// ordererRefs are the ordering nodes as a gateway reaches them, trusted
// through the ordering organization's public TLS root.
func (n *Net) ordererRefs() []config.Peer {
	var out []config.Peer
	for _, o := range n.topo.Ordering.Nodes {
		out = append(out, config.Peer{Endpoint: o.Addr(o.Port), TLSCACert: n.orgDir(ordererOrg, "msp", "tlscacerts", "ca.pem")})
	}
	return out
}

func (n *Net) peerRef(d Department) config.Peer {
	return config.Peer{Endpoint: d.Addr(d.PeerPort), TLSCACert: filepath.Join(n.peerDir(d), "tls", "ca.crt")}
}

// writeServiceConfigs writes each department's indexer and gateway
// configuration, the gateway's identity store (tokens hashed) and the
// credentials and endpoints files.
func (n *Net) writeServiceConfigs() error {
	var creds []Credential
	var passwords []Password
	eps := Endpoints{Channel: n.topo.Channel, Chaincode: n.topo.Chaincode.Name}
	for _, d := range n.topo.Departments {
		c, p, ep, err := n.writeDeptServiceConfigs(d)
		if err != nil {
			return err
		}
		creds, passwords = append(creds, c...), append(passwords, p...)
		eps.Departments = append(eps.Departments, ep)
	}
	if err := n.writeTLSCA(); err != nil {
		return err
	}
	if err := writeJSON(n.path("credentials.json"), creds, 0o600); err != nil {
		return err
	}
	if err := writeJSON(n.path("passwords.json"), passwords, 0o600); err != nil {
		return err
	}
	return writeJSON(n.path("endpoints.json"), eps, 0o644)
}

// writeDeptServiceConfigs writes department d's gateway and indexer
// configuration and the gateway's identity store, with a new token and
// password for each of its people; it returns those and the department's
// endpoints.
func (n *Net) writeDeptServiceConfigs(d Department) ([]Credential, []Password, EndpointDept, error) {
	var creds []Credential
	var passwords []Password
	var ids []config.Identity
	for _, p := range n.people(d) {
		token := randomHex(24)
		sum := sha256.Sum256([]byte(token))
		password := randomHex(12)
		if err := n.recordSecret(Secret{Kind: SecretPassword, Org: d.Slug(), Name: p.User, Value: password}); err != nil {
			return nil, nil, EndpointDept{}, err
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return nil, nil, EndpointDept{}, fmt.Errorf("hash the password of %s: %w", p.User, err)
		}
		creds = append(creds, Credential{MSPID: d.MSPID, User: p.User, Role: string(p.Role), Token: token, Kind: CredentialLongLived})
		passwords = append(passwords, Password{MSPID: d.MSPID, User: p.User, Role: string(p.Role), Password: password})
		ids = append(ids, config.Identity{User: p.User, Role: string(p.Role), TokenSHA256: hex.EncodeToString(sum[:]),
			PasswordBcrypt: string(hash), CertPath: p.CertPath, KeyPath: p.KeyPath})
	}
	idPath := n.path("config", "gateway-"+d.Slug()+"-identities.json")
	if err := writeJSON(idPath, ids, 0o600); err != nil {
		return nil, nil, EndpointDept{}, err
	}
	gw := gatewayConfig{MSPID: d.MSPID, Listen: d.Addr(d.GatewayPort), Channel: n.topo.Channel, Chaincode: n.topo.Chaincode.Name,
		Peer: n.peerRef(d), IndexerURL: n.indexerAddr(d), Identities: idPath,
		SessionsFile: n.path("data", "gateway-"+d.Slug(), "sessions.json"),
		CA:           &config.CA{URL: "https://" + d.Addr(d.CAPort), Name: "ca-" + d.Slug(), TLSCACert: n.orgDir(d.Slug(), "ca", "server", "ca-cert.pem")},
		Orderers:     n.ordererRefs(), PlainHTTP: n.topo.PlainHTTP}
	if !n.topo.PlainHTTP {
		dir := n.orgDir(d.Slug(), GatewayUser, "tls")
		gw.TLS = &config.TLSFiles{CertPath: filepath.Join(dir, "server.crt"), KeyPath: filepath.Join(dir, "server.key")}
	}
	if err := writeJSON(n.path("config", "gateway-"+d.Slug()+".json"), gw, 0o644); err != nil {
		return nil, nil, EndpointDept{}, err
	}
	ix := indexerConfig{MSPID: d.MSPID, Listen: n.indexerAddr(d), Channel: n.topo.Channel, Chaincode: n.topo.Chaincode.Name,
		Peer: n.peerRef(d), DataDir: n.path("data", "indexer-"+d.Slug())}
	ixUser := n.userDir(d, IndexerUser)
	ix.Identity.CertPath = filepath.Join(ixUser, "msp", "signcerts", "cert.pem")
	ix.Identity.KeyPath = filepath.Join(ixUser, "msp", "keystore", "key.pem")
	if err := writeJSON(n.path("config", "indexer-"+d.Slug()+".json"), ix, 0o644); err != nil {
		return nil, nil, EndpointDept{}, err
	}
	ep := EndpointDept{MSPID: d.MSPID, Name: d.Name, Gateway: n.topo.GatewayURL(d), Indexer: n.indexerAddr(d), Peer: d.Addr(d.PeerPort)}
	return creds, passwords, ep, nil
}

func writeJSON(path string, v any, mode os.FileMode) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(raw, '\n'), mode)
}

// startServices starts each department's indexer, then its gateway, and
// waits until every gateway answers /readyz.
func (n *Net) startServices(ctx context.Context) error {
	deps := n.topo.Departments
	return parallel(len(deps), func(i int) error { return n.startDeptServices(ctx, deps[i]) })
}

// startDeptServices starts department d's indexer, then its gateway, and
// waits until the gateway answers /readyz.
func (n *Net) startDeptServices(ctx context.Context, d Department) error {
	ix, err := n.procs.start(procSpec{Name: "indexer-" + d.Slug(), Bin: n.bin("indexer"), Order: 4, Dir: n.opts.Run,
		Args:  []string{"-config", n.path("config", "indexer-"+d.Slug()+".json")},
		Ready: n.indexerAddr(d)})
	if err != nil {
		return err
	}
	wctx, cancel := withTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := waitHTTP(wctx, ix, n.indexerAddr(d), nil); err != nil {
		return err
	}
	gw, err := n.procs.start(procSpec{Name: "gateway-" + d.Slug(), Bin: n.bin("gateway"), Order: 5, Dir: n.opts.Run,
		Args:  []string{"-config", n.path("config", "gateway-"+d.Slug()+".json")},
		Ready: n.topo.GatewayURL(d) + "/readyz"})
	if err != nil {
		return err
	}
	conf, err := n.gatewayTLS()
	if err != nil {
		return err
	}
	return waitHTTP(wctx, gw, n.topo.GatewayURL(d)+"/readyz", conf)
}

// setProfile sets department d's profile from the topology through its
// own gateway, signed by its admin.
func (n *Net) setProfile(ctx context.Context, d Department) error {
	var creds []Credential
	if err := readJSONFile(n.path("credentials.json"), &creds); err != nil {
		return err
	}
	for _, c := range creds {
		if c.MSPID == d.MSPID && c.Role == "admin" {
			return n.setProfileAs(ctx, d, c.Token)
		}
	}
	return fmt.Errorf("no admin of %s in %s", d.MSPID, n.path("credentials.json"))
}

func (n *Net) setProfileAs(ctx context.Context, d Department, token string) error {
	body, _ := json.Marshal(map[string]string{"name": d.Name, "code": d.Code, "level": string(d.Level)})
	if _, err := n.httpJSON(ctx, http.MethodPut, n.topo.GatewayURL(d)+"/v1/departments/me", token, body, http.StatusOK, http.StatusCreated); err != nil {
		return fmt.Errorf("set profile of %s: %w", d.MSPID, err)
	}
	return nil
}

// smoke sets every department's profile from the topology through its own
// gateway, signed by its admin: a committed transaction per department
// that crosses every layer, then reads the consortium back from each gateway.
func (n *Net) smoke(ctx context.Context) error {
	var creds []Credential
	raw, err := os.ReadFile(n.path("credentials.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		return err
	}
	token := func(msp string) string {
		for _, c := range creds {
			if c.MSPID == msp && c.Role == "admin" {
				return c.Token
			}
		}
		return ""
	}
	deps := n.topo.Departments
	if err := parallel(len(deps), func(i int) error { return n.setProfileAs(ctx, deps[i], token(deps[i].MSPID)) }); err != nil {
		return err
	}
	if err := n.initPolicy(ctx, token); err != nil {
		return err
	}
	for _, d := range deps {
		out, err := n.httpJSON(ctx, http.MethodGet, n.topo.GatewayURL(d)+"/v1/departments", token(d.MSPID), nil, http.StatusOK)
		if err != nil {
			return fmt.Errorf("list departments at %s: %w", d.MSPID, err)
		}
		var list struct {
			Items []struct {
				MSPID string `json:"mspId"`
			} `json:"items"`
		}
		if err := json.Unmarshal(out, &list); err != nil {
			return fmt.Errorf("list departments at %s: %w", d.MSPID, err)
		}
		if len(list.Items) != len(deps) {
			return fmt.Errorf("gateway of %s lists %d departments, want %d", d.MSPID, len(list.Items), len(deps))
		}
	}
	return nil
}

// httpJSON calls a gateway, trusting the run's tls-ca.pem.
func (n *Net) httpJSON(ctx context.Context, method, url, token string, body []byte, want ...int) ([]byte, error) {
	return n.httpJSONWith(ctx, method, url, token, nil, body, want...)
}

// httpJSONWith is httpJSON with more request headers.
func (n *Net) httpJSONWith(ctx context.Context, method, url, token string, header http.Header, body []byte, want ...int) ([]byte, error) {
	hc, err := n.gatewayClient()
	if err != nil {
		return nil, err
	}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	for _, w := range want {
		if resp.StatusCode == w {
			return out, nil
		}
	}
	return out, fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, bytes.TrimSpace(out))
}

// initPolicy sets the genesis consortium policy from the topology, once
// every profile is on the ledger: every department a member, as
// evaluators and auditors the departments whose topology roles include
// them, and the bureaus and grade rules of its policy section. It goes through one admin's gateway; every member's peer endorses
// it. A department's CA can issue any role, so only these departments'
// evaluators and auditors count until a majority of admins approve a change.
func (n *Net) initPolicy(ctx context.Context, token func(msp string) string) error {
	in := domain.PolicyInput{Members: []string{}, Evaluators: []string{}, Auditors: []string{}, Bureaus: n.topo.Policy.Bureaus, Grades: n.topo.Policy.Grades,
		Spike: n.topo.Policy.Spike}
	via := Department{}
	for _, d := range n.topo.Departments {
		in.Members = append(in.Members, d.MSPID)
		if d.HasRole(domain.RoleEvaluator) {
			in.Evaluators = append(in.Evaluators, d.MSPID)
		}
		if d.HasRole(domain.RoleAuditor) {
			in.Auditors = append(in.Auditors, d.MSPID)
		}
		if via.MSPID == "" && token(d.MSPID) != "" {
			via = d
		}
	}
	if via.MSPID == "" {
		return fmt.Errorf("set the consortium policy: no department has an admin")
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	gw := n.topo.GatewayURL(via) + "/v1/policy"
	if _, err := n.httpJSON(ctx, http.MethodPost, gw, token(via.MSPID), body, http.StatusCreated); err != nil {
		// Set already (a smoke run again): fine if it is this policy.
		out, gerr := n.httpJSON(ctx, http.MethodGet, gw, token(via.MSPID), nil, http.StatusOK)
		var p domain.Policy
		if gerr != nil || json.Unmarshal(out, &p) != nil || !samePolicy(p, in) {
			return fmt.Errorf("set the consortium policy through %s: %w", via.MSPID, err)
		}
	}
	return nil
}

// samePolicy compares the roles only: a ledger set up before the
// topology had grade rules keeps the legacy ones (chaincode/POLICY.md),
// and a run again over it must not fail for that.
func samePolicy(p domain.Policy, in domain.PolicyInput) bool {
	n := in.Normalized()
	return slices.Equal(p.Members, n.Members) && slices.Equal(p.Evaluators, n.Evaluators) && slices.Equal(p.Auditors, n.Auditors)
}
