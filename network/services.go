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
	"time"
)

// Endpoints is .run/endpoints.json, as API.md describes it.
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
type Credential struct {
	MSPID string `json:"mspId"`
	User  string `json:"user"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// gatewayIdentity is one line of a gateway's identities.json: the token is
// kept only as its SHA-256.
type gatewayIdentity struct {
	User        string `json:"user"`
	Role        string `json:"role"`
	TokenSHA256 string `json:"tokenSha256"`
	CertPath    string `json:"certPath"`
	KeyPath     string `json:"keyPath"`
}

type peerRef struct {
	Endpoint     string `json:"endpoint"`
	TLSCACert    string `json:"tlsCACert"`
	HostOverride string `json:"hostOverride,omitempty"`
}

type gatewayConfig struct {
	MSPID      string  `json:"mspId"`
	Listen     string  `json:"listen"`
	Channel    string  `json:"channel"`
	Chaincode  string  `json:"chaincode"`
	Peer       peerRef `json:"peer"`
	IndexerURL string  `json:"indexerURL"`
	Identities string  `json:"identities"`
}

type indexerConfig struct {
	MSPID     string  `json:"mspId"`
	Listen    string  `json:"listen"`
	Channel   string  `json:"channel"`
	Chaincode string  `json:"chaincode"`
	Peer      peerRef `json:"peer"`
	Identity  struct {
		CertPath string `json:"certPath"`
		KeyPath  string `json:"keyPath"`
	} `json:"identity"`
	DataDir string `json:"dataDir"`
}

func (n *Net) peerRef(d Department) peerRef {
	return peerRef{Endpoint: d.Addr(d.PeerPort), TLSCACert: filepath.Join(n.peerDir(d), "tls", "ca.crt")}
}

// writeServiceConfigs writes each department's indexer and gateway
// configuration, the gateway's identity store (tokens hashed) and the
// credentials and endpoints files.
func (n *Net) writeServiceConfigs() error {
	var creds []Credential
	eps := Endpoints{Channel: n.topo.Channel, Chaincode: n.topo.Chaincode.Name}
	for _, d := range n.topo.Departments {
		var ids []gatewayIdentity
		for _, p := range n.people(d) {
			token := randomHex(24)
			sum := sha256.Sum256([]byte(token))
			creds = append(creds, Credential{MSPID: d.MSPID, User: p.User, Role: string(p.Role), Token: token})
			ids = append(ids, gatewayIdentity{User: p.User, Role: string(p.Role), TokenSHA256: hex.EncodeToString(sum[:]), CertPath: p.CertPath, KeyPath: p.KeyPath})
		}
		idPath := n.path("config", "gateway-"+d.Slug()+"-identities.json")
		if err := writeJSON(idPath, ids, 0o600); err != nil {
			return err
		}
		gw := gatewayConfig{MSPID: d.MSPID, Listen: d.Addr(d.GatewayPort), Channel: n.topo.Channel, Chaincode: n.topo.Chaincode.Name,
			Peer: n.peerRef(d), IndexerURL: "http://" + d.Addr(d.IndexerPort), Identities: idPath}
		if err := writeJSON(n.path("config", "gateway-"+d.Slug()+".json"), gw, 0o644); err != nil {
			return err
		}
		ix := indexerConfig{MSPID: d.MSPID, Listen: d.Addr(d.IndexerPort), Channel: n.topo.Channel, Chaincode: n.topo.Chaincode.Name,
			Peer: n.peerRef(d), DataDir: n.path("data", "indexer-"+d.Slug())}
		ixUser := n.userDir(d, IndexerUser)
		ix.Identity.CertPath = filepath.Join(ixUser, "msp", "signcerts", "cert.pem")
		ix.Identity.KeyPath = filepath.Join(ixUser, "msp", "keystore", "key.pem")
		if err := writeJSON(n.path("config", "indexer-"+d.Slug()+".json"), ix, 0o644); err != nil {
			return err
		}
		eps.Departments = append(eps.Departments, EndpointDept{MSPID: d.MSPID, Name: d.Name,
			Gateway: "http://" + d.Addr(d.GatewayPort), Indexer: "http://" + d.Addr(d.IndexerPort), Peer: d.Addr(d.PeerPort)})
	}
	if err := writeJSON(n.path("credentials.json"), creds, 0o600); err != nil {
		return err
	}
	return writeJSON(n.path("endpoints.json"), eps, 0o644)
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
	return parallel(len(deps), func(i int) error {
		d := deps[i]
		ix, err := n.procs.start(procSpec{Name: "indexer-" + d.Slug(), Bin: n.bin("indexer"), Order: 4, Dir: n.opts.Run,
			Args:  []string{"-config", n.path("config", "indexer-"+d.Slug()+".json")},
			Ready: "http://" + d.Addr(d.IndexerPort) + "/healthz"})
		if err != nil {
			return err
		}
		wctx, cancel := withTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := waitHTTP(wctx, ix, "http://"+d.Addr(d.IndexerPort)+"/healthz", nil); err != nil {
			return err
		}
		gw, err := n.procs.start(procSpec{Name: "gateway-" + d.Slug(), Bin: n.bin("gateway"), Order: 5, Dir: n.opts.Run,
			Args:  []string{"-config", n.path("config", "gateway-"+d.Slug()+".json")},
			Ready: "http://" + d.Addr(d.GatewayPort) + "/readyz"})
		if err != nil {
			return err
		}
		return waitHTTP(wctx, gw, "http://"+d.Addr(d.GatewayPort)+"/readyz", nil)
	})
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
	if err := parallel(len(deps), func(i int) error {
		d := deps[i]
		body, _ := json.Marshal(map[string]string{"name": d.Name, "code": d.Code, "level": string(d.Level)})
		_, err := httpJSON(ctx, http.MethodPut, "http://"+d.Addr(d.GatewayPort)+"/v1/departments/me", token(d.MSPID), body, http.StatusOK, http.StatusCreated)
		if err != nil {
			return fmt.Errorf("set profile of %s: %w", d.MSPID, err)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, d := range deps {
		out, err := httpJSON(ctx, http.MethodGet, "http://"+d.Addr(d.GatewayPort)+"/v1/departments", token(d.MSPID), nil, http.StatusOK)
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

func httpJSON(ctx context.Context, method, url, token string, body []byte, want ...int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
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
