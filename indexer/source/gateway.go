package source

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/audit"
)

// Config says how to reach a department's peer and who the indexer is.
type Config struct {
	MSPID        string
	Channel      string
	Endpoint     string // host:port of the peer's gateway service
	TLSCACert    string // PEM file of the CA that signed the peer's TLS certificate
	HostOverride string // name to check the peer's certificate against, when not the endpoint's host
	CertPath     string // PEM certificate of the indexer's identity
	KeyPath      string // PEM private key, or a directory holding one *_sk file (fabric-ca-client's keystore)
	Chaincode    string // the ledger chaincode, whose History the audit reads; default "ledger"
}

// Gateway is a connection to a peer's Fabric Gateway service.
type Gateway struct {
	conn    *grpc.ClientConn
	gw      *client.Gateway
	network *client.Network
	qscc    *client.Contract
	ledger  *client.Contract
	channel string
}

// Dial prepares a connection to the peer. gRPC connects lazily, so an
// unreachable peer shows up as failing streams, which the follower retries.
func Dial(cfg Config) (*Gateway, error) {
	id, sign, err := LoadIdentity(cfg.MSPID, cfg.CertPath, cfg.KeyPath)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(cfg.TLSCACert)
	if err != nil {
		return nil, fmt.Errorf("read TLS CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS CA certificate %s holds no PEM certificate", cfg.TLSCACert)
	}
	conn, err := grpc.NewClient("dns:///"+cfg.Endpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, cfg.HostOverride)))
	if err != nil {
		return nil, fmt.Errorf("gRPC client for %s: %w", cfg.Endpoint, err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10*time.Second))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("gateway connect: %w", err)
	}
	network := gw.GetNetwork(cfg.Channel)
	if cfg.Chaincode == "" {
		cfg.Chaincode = "ledger"
	}
	return &Gateway{conn: conn, gw: gw, network: network, qscc: network.GetContract("qscc"),
		ledger: network.GetContract(cfg.Chaincode), channel: cfg.Channel}, nil
}

// Blocks streams full blocks from start on. The channel closes when the
// stream ends, for whatever reason, or when ctx ends.
func (g *Gateway) Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error) {
	ch, err := g.network.BlockEvents(ctx, client.WithStartBlock(start))
	if err != nil {
		return nil, fmt.Errorf("block events from %d: %w", start, err)
	}
	return ch, nil
}

// Height asks the peer how many blocks its ledger holds (qscc GetChainInfo).
func (g *Gateway) Height(ctx context.Context) (uint64, error) {
	info, err := g.chainInfo(ctx)
	return info.GetHeight(), err
}

// chainInfo is qscc GetChainInfo of the channel.
func (g *Gateway) chainInfo(ctx context.Context) (*common.BlockchainInfo, error) {
	out, err := g.qscc.EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(g.channel))
	if err != nil {
		return nil, fmt.Errorf("chain info: %w", err)
	}
	info := &common.BlockchainInfo{}
	if err := proto.Unmarshal(out, info); err != nil {
		return nil, fmt.Errorf("decode chain info: %w", err)
	}
	return info, nil
}

// FirstBlock is the first block the peer's ledger holds: 0, or for a peer
// that joined the channel from a snapshot the block after the snapshot's
// last (qscc GetChainInfo's bootstrapping snapshot info).
func (g *Gateway) FirstBlock(ctx context.Context) (uint64, error) {
	info, err := g.chainInfo(ctx)
	if err != nil {
		return 0, err
	}
	if s := info.GetBootstrappingSnapshotInfo(); s != nil {
		return s.GetLastBlockInSnapshot() + 1, nil
	}
	return 0, nil
}

// Block fetches one block from the peer's ledger (qscc GetBlockByNumber),
// as the peer stores it, validation filter included.
func (g *Gateway) Block(ctx context.Context, n uint64) (*common.Block, error) {
	out, err := g.qscc.EvaluateWithContext(ctx, "GetBlockByNumber", client.WithArguments(g.channel, strconv.FormatUint(n, 10)))
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	b := &common.Block{}
	if err := proto.Unmarshal(out, b); err != nil {
		return nil, fmt.Errorf("decode block %d: %w", n, err)
	}
	return b, nil
}

// History reads every committed version of an entity's key from the
// peer's history database, oldest first, through the ledger chaincode's
// History transaction (evaluated on this department's peer): the world
// state the audit compares the mirror with. An entity the peer does not
// hold is a not_found *domain.Error.
func (g *Gateway) History(ctx context.Context, kind domain.Kind, id string) ([]audit.Version, error) {
	out, err := g.ledger.EvaluateWithContext(ctx, "History", client.WithArguments(string(kind), id))
	if err != nil {
		return nil, evaluateError(fmt.Sprintf("history of %s %s", kind, id), err)
	}
	return parseHistory(out)
}

// historyEntry is one element of the History transaction's answer
// (chaincode/contract/history.go).
type historyEntry struct {
	TxID     string          `json:"txId"`
	IsDelete bool            `json:"isDelete"`
	Value    json.RawMessage `json:"value"`
}

func parseHistory(out []byte) ([]audit.Version, error) {
	var entries []historyEntry
	if err := json.Unmarshal(out, &entries); err != nil {
		return nil, fmt.Errorf("decode history: %w", err)
	}
	vs := make([]audit.Version, len(entries))
	for i, e := range entries {
		vs[i] = audit.Version{TxID: e.TxID, Delete: e.IsDelete}
		if !e.IsDelete {
			vs[i].Value = e.Value
		}
	}
	return vs, nil
}

// evaluateError keeps the domain code the chaincode put in its error (a
// not_found entity, say), wherever the gRPC status carries it; any other
// failure is the peer's, wrapped.
func evaluateError(what string, err error) error {
	texts := []string{err.Error()}
	if st, ok := status.FromError(err); ok {
		texts = append(texts, st.Message())
		for _, d := range st.Details() {
			if ed, ok := d.(*gateway.ErrorDetail); ok {
				texts = append(texts, ed.GetMessage())
			}
		}
	}
	for _, t := range texts {
		if e := domain.ParseError(t); e != nil && e.Code != domain.CodeInternal {
			return &domain.Error{Code: e.Code, Message: what + ": " + e.Message}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Close closes the gateway and its gRPC connection.
func (g *Gateway) Close() error {
	g.gw.Close()
	if err := g.conn.Close(); err != nil {
		return fmt.Errorf("close gRPC connection: %w", err)
	}
	return nil
}

// LoadIdentity reads an X.509 identity and its signer. keyPath may be the
// key file or a directory with exactly one *_sk file in it.
func LoadIdentity(mspID, certPath, keyPath string) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate %s: %w", certPath, err)
	}
	id, err := identity.NewX509Identity(mspID, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: %w", err)
	}
	if fi, err := os.Stat(keyPath); err == nil && fi.IsDir() {
		matches, err := filepath.Glob(filepath.Join(keyPath, "*_sk"))
		if err != nil {
			return nil, nil, fmt.Errorf("find key in %s: %w", keyPath, err)
		}
		if len(matches) != 1 {
			return nil, nil, fmt.Errorf("key directory %s holds %d *_sk files, want exactly 1", keyPath, len(matches))
		}
		keyPath = matches[0]
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read private key: %w", err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse private key %s: %w", keyPath, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("signer: %w", err)
	}
	return id, sign, nil
}
