package forge

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// dial opens a TLS connection (server authentication only, as the
// consortium's peers and orderers ask of clients) to addr ("host:port").
func dial(addr, tlsCAFile string) (*grpc.ClientConn, error) {
	ca, err := os.ReadFile(tlsCAFile)
	if err != nil {
		return nil, fmt.Errorf("forge: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("forge: %s holds no PEM certificate", tlsCAFile)
	}
	conn, err := grpc.NewClient("dns:///"+addr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if err != nil {
		return nil, fmt.Errorf("forge: dial %s: %w", addr, err)
	}
	return conn, nil
}

// Peer is one peer's Endorser and Gateway services.
type Peer struct {
	Addr    string
	conn    *grpc.ClientConn
	endorse peer.EndorserClient
	gateway gateway.GatewayClient
}

// DialPeer connects to a peer over TLS, trusting the CA in tlsCAFile.
func DialPeer(addr, tlsCAFile string) (*Peer, error) {
	conn, err := dial(addr, tlsCAFile)
	if err != nil {
		return nil, err
	}
	return &Peer{Addr: addr, conn: conn, endorse: peer.NewEndorserClient(conn), gateway: gateway.NewGatewayClient(conn)}, nil
}

// Close closes the connection.
func (p *Peer) Close() error { return p.conn.Close() }

// Endorse sends a proposal to this peer's Endorser (ProcessProposal) and
// returns its response. The error is for the call only; a chaincode
// refusal is a response with status 500 and a message, and no endorsement.
func (p *Peer) Endorse(ctx context.Context, prop *Proposal) (*peer.ProposalResponse, error) {
	r, err := p.endorse.ProcessProposal(ctx, prop.Signed)
	if err != nil {
		return nil, fmt.Errorf("forge: endorse on %s: %w", p.Addr, err)
	}
	return r, nil
}

// ChaincodeError is a peer's refusal of a proposal: the chaincode's (or the
// endorser's) status and message.
type ChaincodeError struct {
	Peer    string
	Status  int32
	Message string
}

func (e *ChaincodeError) Error() string {
	return fmt.Sprintf("peer %s answered %d: %s", e.Peer, e.Status, e.Message)
}

// Evaluate runs one function on this peer only, signed by as, and returns the
// chaincode's answer, or a *ChaincodeError. Nothing is submitted.
func (p *Peer) Evaluate(ctx context.Context, as *Signer, function string, args ...string) ([]byte, error) {
	prop, err := NewProposal(as, Invocation{Function: function, Args: args})
	if err != nil {
		return nil, err
	}
	r, err := p.Endorse(ctx, prop)
	if err != nil {
		return nil, err
	}
	if s := r.GetResponse().GetStatus(); s < 200 || s >= 400 {
		return nil, &ChaincodeError{Peer: p.Addr, Status: s, Message: r.GetResponse().GetMessage()}
	}
	return r.GetResponse().GetPayload(), nil
}

// Submit hands a transaction to this peer's Gateway, which sends it to the
// channel's orderers.
func (p *Peer) Submit(ctx context.Context, tx *Transaction) error {
	_, err := p.gateway.Submit(ctx, &gateway.SubmitRequest{TransactionId: tx.TxID, ChannelId: tx.Channel, PreparedTransaction: tx.Envelope})
	if err != nil {
		return fmt.Errorf("forge: submit %s through %s: %w", tx.TxID, p.Addr, err)
	}
	return nil
}

// Status is a committed transaction's fate on one peer.
type Status struct {
	Code  peer.TxValidationCode
	Block uint64
}

// Valid reports whether the peer marked the transaction VALID.
func (s Status) Valid() bool { return s.Code == peer.TxValidationCode_VALID }

// CommitStatus waits until this peer has committed the transaction and
// returns its validation code and block (the Gateway's CommitStatus; bound
// the wait with ctx). The request is signed by as.
func (p *Peer) CommitStatus(ctx context.Context, as *Signer, channel, txID string) (Status, error) {
	if channel == "" {
		channel = DefaultChannel
	}
	req, err := proto.Marshal(&gateway.CommitStatusRequest{TransactionId: txID, ChannelId: channel, Identity: as.Serialized()})
	if err != nil {
		return Status{}, err
	}
	sig, err := as.Sign(req)
	if err != nil {
		return Status{}, err
	}
	r, err := p.gateway.CommitStatus(ctx, &gateway.SignedCommitStatusRequest{Request: req, Signature: sig})
	if err != nil {
		return Status{}, fmt.Errorf("forge: commit status of %s on %s: %w", txID, p.Addr, err)
	}
	return Status{Code: r.Result, Block: r.BlockNumber}, nil
}

// Orderer is one orderer's AtomicBroadcast service.
type Orderer struct {
	Addr string
	conn *grpc.ClientConn
	ab   orderer.AtomicBroadcastClient
}

// DialOrderer connects to an orderer over TLS, trusting the CA in tlsCAFile.
func DialOrderer(addr, tlsCAFile string) (*Orderer, error) {
	conn, err := dial(addr, tlsCAFile)
	if err != nil {
		return nil, err
	}
	return &Orderer{Addr: addr, conn: conn, ab: orderer.NewAtomicBroadcastClient(conn)}, nil
}

// Close closes the connection.
func (o *Orderer) Close() error { return o.conn.Close() }

// Broadcast sends a transaction to the orderer and waits for its
// acknowledgement (SUCCESS once it is accepted for ordering, not committed).
func (o *Orderer) Broadcast(ctx context.Context, tx *Transaction) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := o.ab.Broadcast(ctx)
	if err != nil {
		return fmt.Errorf("forge: broadcast to %s: %w", o.Addr, err)
	}
	if err := stream.Send(tx.Envelope); err != nil {
		return fmt.Errorf("forge: broadcast to %s: %w", o.Addr, err)
	}
	r, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("forge: broadcast to %s: %w", o.Addr, err)
	}
	_ = stream.CloseSend()
	if r.Status != common.Status_SUCCESS {
		return fmt.Errorf("forge: orderer %s refused %s: %s %s", o.Addr, tx.TxID, r.Status, r.Info)
	}
	return nil
}

// EndorseAll sends a proposal to every peer and returns the endorsements and
// the refusals (as *ChaincodeError), one per peer that gave them.
func EndorseAll(ctx context.Context, prop *Proposal, peers ...*Peer) (endorsed []*peer.ProposalResponse, refused []error) {
	for _, p := range peers {
		r, err := p.Endorse(ctx, prop)
		switch {
		case err != nil:
			refused = append(refused, err)
		case r.GetResponse().GetStatus() >= 400 || r.Endorsement == nil:
			refused = append(refused, &ChaincodeError{Peer: p.Addr, Status: r.GetResponse().GetStatus(), Message: r.GetResponse().GetMessage()})
		default:
			endorsed = append(endorsed, r)
		}
	}
	return endorsed, refused
}

// Height is the channel's height on this peer (qscc GetChainInfo), asked as as.
func (p *Peer) Height(ctx context.Context, as *Signer) (uint64, error) {
	prop, err := NewProposal(as, Invocation{Chaincode: "qscc", Function: "GetChainInfo", Args: []string{DefaultChannel}})
	if err != nil {
		return 0, err
	}
	r, err := p.Endorse(ctx, prop)
	if err != nil {
		return 0, err
	}
	if s := r.GetResponse().GetStatus(); s < 200 || s >= 400 {
		return 0, &ChaincodeError{Peer: p.Addr, Status: s, Message: r.GetResponse().GetMessage()}
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(r.GetResponse().GetPayload(), &info); err != nil {
		return 0, fmt.Errorf("forge: chain info from %s: %w", p.Addr, err)
	}
	return info.Height, nil
}
