package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"google.golang.org/grpc"

	"github.com/govshare/ledger/chaincode/domain"
	gwfabric "github.com/govshare/ledger/gateway/fabric"
)

// Fabric is the raw path: a fabric-gateway client per person, over one
// gRPC connection to each department's own peer, exactly as the REST
// gateway holds them, but with no HTTP, no token check and no wait for an
// indexer in between.
type Fabric struct {
	c         *Consortium
	conns     map[string]*grpc.ClientConn                // by MSP ID
	gateways  map[string]map[domain.Role]*client.Gateway // by MSP ID, role
	contracts map[string]map[domain.Role]*client.Contract
	timeouts  gwfabric.Timeouts
	// heights, by MSP ID, is what the department's REST gateway keeps:
	// every peer's height as seen through that department's peer, so that
	// a call with a floor waits exactly as it would there.
	heights map[string]*gwfabric.Heights
}

// NewFabric connects, as each department's operator and approver (and any
// other role it has), to the department's peer.
func NewFabric(c *Consortium) (*Fabric, error) {
	f := &Fabric{c: c, conns: map[string]*grpc.ClientConn{}, gateways: map[string]map[domain.Role]*client.Gateway{},
		contracts: map[string]map[domain.Role]*client.Contract{}, timeouts: gwfabric.DefaultTimeouts, heights: map[string]*gwfabric.Heights{}}
	var orgs []string
	for _, d := range c.Depts {
		orgs = append(orgs, d.MSPID)
	}
	for i := range c.Depts {
		d := &c.Depts[i]
		conn, err := c.dialPeer(d)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.conns[d.MSPID] = conn
		f.gateways[d.MSPID] = map[domain.Role]*client.Gateway{}
		f.contracts[d.MSPID] = map[domain.Role]*client.Contract{}
		for role, cred := range d.Users {
			id, sign, err := c.identityOf(d, cred.User)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("identity of %s %s: %w", d.MSPID, cred.User, err)
			}
			gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
				client.WithEvaluateTimeout(f.timeouts.Evaluate), client.WithEndorseTimeout(f.timeouts.Endorse),
				client.WithSubmitTimeout(f.timeouts.Submit), client.WithCommitStatusTimeout(f.timeouts.CommitStatus))
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("connect as %s %s: %w", d.MSPID, cred.User, err)
			}
			f.gateways[d.MSPID][role] = gw
			f.contracts[d.MSPID][role] = gw.GetNetwork(c.Channel).GetContract(c.Chaincode)
		}
		msp := d.MSPID
		f.heights[msp] = gwfabric.NewHeights(func(ctx context.Context, org string) (uint64, error) {
			n, err := f.network(msp)
			if err != nil {
				return 0, err
			}
			return gwfabric.PeerHeight(ctx, f.gatewayOf(msp), n.Name(), org)
		}, func(context.Context) ([]string, error) { return orgs, nil }, gwfabric.DefaultHeightOptions)
	}
	return f, nil
}

// Close closes every Gateway and connection.
func (f *Fabric) Close() {
	for _, byRole := range f.gateways {
		for _, gw := range byRole {
			_ = gw.Close()
		}
	}
	for _, conn := range f.conns {
		_ = conn.Close()
	}
}

// gatewayOf is a Gateway of one person of msp.
func (f *Fabric) gatewayOf(msp string) *client.Gateway {
	byRole := f.gateways[msp]
	for _, r := range []domain.Role{domain.RoleOperator, domain.RoleAdmin, domain.RoleApprover} {
		if gw := byRole[r]; gw != nil {
			return gw
		}
	}
	return nil
}

// FloorStats sums the floor waits of every department's client.
func (f *Fabric) FloorStats() gwfabric.FloorStats {
	var t gwfabric.FloorStats
	for _, h := range f.heights {
		s := h.Stats()
		t.Writes += s.Writes
		t.Waited += s.Waited
		t.TimedOut += s.TimedOut
		t.WaitTime += s.WaitTime
		t.Queries += s.Queries
	}
	return t
}

// network is the channel as one person of msp sees it (for events and qscc).
func (f *Fabric) network(msp string) (*client.Network, error) {
	byRole := f.gateways[msp]
	for _, r := range []domain.Role{domain.RoleOperator, domain.RoleAdmin, domain.RoleApprover} {
		if gw := byRole[r]; gw != nil {
			return gw.GetNetwork(f.c.Channel), nil
		}
	}
	return nil, fmt.Errorf("no person of %s to connect as", msp)
}

// Submit endorses, orders and waits for the commit of c at the caller's
// own peer, as the caller: the steps of the gateway's fabric.Ledger.Submit
// with the same timeouts, classified by the same code, with the same waits
// for peers (for the caller's own peer to reach the call's floor before it
// is endorsed; for the peers that endorsed it to commit it before it
// answers).
func (f *Fabric) Submit(ctx context.Context, c Call) (Committed, error) {
	contract := f.contracts[c.MSPID][c.Role]
	if contract == nil {
		return Committed{}, &SubmitError{Code: domain.CodeInternal, Err: fmt.Errorf("no %s in %s", c.Role, c.MSPID)}
	}
	heights := f.heights[c.MSPID]
	if c.HasAfter {
		if err := heights.Await(ctx, c.After, []string{c.MSPID}); err != nil {
			return Committed{}, &SubmitError{Code: domain.CodeUnavailable, Retry: ctx.Err() == nil, Err: err}
		}
	}
	proposal, err := contract.NewProposal(c.TxName, client.WithArguments(c.Args...))
	if err != nil {
		return Committed{}, &SubmitError{Code: domain.CodeInternal, Err: err}
	}
	txID := proposal.TransactionID()
	step := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }

	ectx, cancel := step(f.timeouts.Endorse)
	tx, err := proposal.EndorseWithContext(ectx)
	cancel()
	if err != nil {
		return Committed{}, classified(err, txID)
	}
	sctx, cancel := step(f.timeouts.Submit)
	commit, err := tx.SubmitWithContext(sctx)
	cancel()
	if err != nil {
		return Committed{}, classified(err, txID)
	}
	cctx, cancel := step(f.timeouts.CommitStatus)
	status, err := commit.StatusWithContext(cctx)
	cancel()
	if err != nil {
		return Committed{}, classified(err, txID)
	}
	heights.Saw(c.MSPID, status.BlockNumber+1)
	if !status.Successful {
		se := classified(&client.CommitError{TransactionID: txID, Code: status.Code}, txID).(*SubmitError)
		se.Block, se.HasBlock = status.BlockNumber, true
		return Committed{}, se
	}
	if !c.noFloor {
		// As the gateway does (fabric.Ledger.run): answer once every peer
		// that endorsed the transaction has committed it.
		if orgs, err := gwfabric.Endorsers(tx); err == nil {
			_ = heights.Await(ctx, status.BlockNumber, orgs)
		}
	}
	return Committed{TxID: txID, Block: status.BlockNumber, Entity: tx.Result()}, nil
}

// classified turns a fabric-gateway error into a SubmitError with the
// domain code the REST gateway would answer with.
func classified(err error, txID string) error {
	e := gwfabric.Classify(err, txID)
	code := domain.CodeInternal
	var de *domain.Error
	if errors.As(e, &de) {
		code = de.Code
	}
	return &SubmitError{Code: code, Retry: retryable(code), Err: e}
}

// Height asks msp's peer how many blocks its ledger holds.
func (f *Fabric) Height(ctx context.Context, msp string) (uint64, error) {
	n, err := f.network(msp)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, err := n.GetContract("qscc").EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(f.c.Channel))
	if err != nil {
		return 0, fmt.Errorf("height of %s's peer: %w", msp, err)
	}
	return gwfabric.ChainHeight(raw)
}
