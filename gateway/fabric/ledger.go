// Package fabric is the gateway's only link to Hyperledger Fabric: it
// evaluates and submits the ledger chaincode's transactions through the
// department's own peer with fabric-gateway, each signed by the calling
// person, and classifies every failure into a domain error code.
package fabric

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/config"
	"github.com/govshare/ledger/gateway/identity"
)

// Peer says where the department's peer is and how to trust its TLS certificate.
type Peer = config.Peer

// Dial opens the gRPC connection to the peer. It connects lazily, on first use.
func Dial(p Peer) (*grpc.ClientConn, error) {
	if p.Endpoint == "" {
		return nil, errors.New("peer endpoint is required")
	}
	pem, err := os.ReadFile(p.TLSCACert)
	if err != nil {
		return nil, fmt.Errorf("peer TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("peer TLS CA %s holds no PEM certificate", p.TLSCACert)
	}
	conn, err := grpc.NewClient("dns:///"+p.Endpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, p.HostOverride)))
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", p.Endpoint, err)
	}
	return conn, nil
}

// Timeouts bound each step of a ledger call.
type Timeouts struct {
	Evaluate     time.Duration
	Endorse      time.Duration
	Submit       time.Duration
	CommitStatus time.Duration
}

// DefaultTimeouts are those of the fabric-samples applications.
var DefaultTimeouts = Timeouts{
	Evaluate:     5 * time.Second,
	Endorse:      15 * time.Second,
	Submit:       5 * time.Second,
	CommitStatus: time.Minute,
}

// Ledger submits and evaluates the ledger chaincode's transactions.
type Ledger struct {
	conn      *grpc.ClientConn
	channel   string
	chaincode string
	timeouts  Timeouts

	mu       sync.Mutex
	gateways map[*identity.Person]*client.Gateway
	probe    *identity.Person
	closed   bool

	retries retryCounts
	// submitPause is the first wait before an endorsed transaction is sent
	// again (submit); it doubles after each attempt.
	submitPause time.Duration
	heights     *Heights
}

// New returns a Ledger over conn, which it owns and closes in Close.
func New(conn *grpc.ClientConn, channel, chaincode string, t Timeouts) *Ledger {
	l := &Ledger{
		conn:      conn,
		channel:   channel,
		chaincode: chaincode,
		timeouts:  t,
		gateways:  map[*identity.Person]*client.Gateway{},

		submitPause: 250 * time.Millisecond,
	}
	l.heights = NewHeights(l.peerHeight, l.channelOrgs, DefaultHeightOptions)
	return l
}

// someone is the person the Ledger's own questions are asked as: the probe,
// or else any person who has called.
func (l *Ledger) someone() *identity.Person {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probe != nil {
		return l.probe
	}
	for p := range l.gateways {
		return p
	}
	return nil
}

// peerHeight asks org's peer its height, through the department's peer.
func (l *Ledger) peerHeight(ctx context.Context, org string) (uint64, error) {
	p := l.someone()
	if p == nil {
		return 0, errors.New("no person to ask a peer's height as")
	}
	gw, err := l.gateway(p)
	if err != nil {
		return 0, err
	}
	return PeerHeight(ctx, gw, l.channel, org)
}

// channelOrgs lists the channel's application organizations.
func (l *Ledger) channelOrgs(ctx context.Context) ([]string, error) {
	p := l.someone()
	if p == nil {
		return nil, errors.New("no person to read the channel configuration as")
	}
	cfg, err := l.ChannelConfig(ctx, p)
	if err != nil {
		return nil, err
	}
	return ApplicationOrgs(cfg), nil
}

// FloorStats counts the waits for peers to commit a block.
func (l *Ledger) FloorStats() FloorStats { return l.heights.Stats() }

// awaitFloor holds p's write until p's department's peer, its first
// endorser, has committed block b (see Heights). It fails only when ctx
// ends.
func (l *Ledger) awaitFloor(ctx context.Context, p *identity.Person, b uint64) error {
	err := l.heights.Await(ctx, b, []string{p.ID.MspID()})
	if err != nil && ctx.Err() != nil {
		return errorf(domain.CodeUnavailable, "", err, "the write waited for every peer to commit block %d and was given up", b)
	}
	return nil
}

// floorAfter is the floor of the next attempt of a write that failed with
// err: the block that invalidated it, when a read conflict did, so that it
// is endorsed by a peer that sees what it conflicted with.
func floorAfter(prev uint64, set bool, err error) (uint64, bool) {
	var fe *Error
	if retryReason(err) != RetryReadConflict || !errors.As(err, &fe) {
		return prev, set
	}
	var b uint64
	if _, serr := fmt.Sscan(fe.Domain.Details["blockNumber"], &b); serr != nil {
		return prev, set
	}
	if !set || b > prev {
		return b, true
	}
	return prev, set
}

// gateway returns p's connection, made on first use: one per person because
// fabric-gateway binds the signing identity to the Gateway.
func (l *Ledger) gateway(p *identity.Person) (*client.Gateway, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("ledger connection is closed")
	}
	if gw, ok := l.gateways[p]; ok {
		return gw, nil
	}
	gw, err := client.Connect(p.ID,
		client.WithSign(p.Sign),
		client.WithClientConnection(l.conn),
		client.WithEvaluateTimeout(l.timeouts.Evaluate),
		client.WithEndorseTimeout(l.timeouts.Endorse),
		client.WithSubmitTimeout(l.timeouts.Submit),
		client.WithCommitStatusTimeout(l.timeouts.CommitStatus),
	)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", p.User, err)
	}
	l.gateways[p] = gw
	return gw, nil
}

func (l *Ledger) contract(p *identity.Person) (*client.Contract, error) {
	gw, err := l.gateway(p)
	if err != nil {
		return nil, errorf(domain.CodeUnavailable, "", err, "the ledger connection is not open")
	}
	return gw.GetNetwork(l.channel).GetContract(l.chaincode), nil
}

// Evaluate runs a read-only transaction on the peer as p.
func (l *Ledger) Evaluate(ctx context.Context, p *identity.Person, txName string, args ...string) ([]byte, error) {
	contract, err := l.contract(p)
	if err != nil {
		return nil, err
	}
	proposal, err := contract.NewProposal(txName, client.WithArguments(args...))
	if err != nil {
		return nil, errorf(domain.CodeInternal, "", err, "build %s proposal", txName)
	}
	// The *WithContext calls ignore the Gateway's own timeouts, so bound
	// each step here as well as by the caller's deadline.
	ctx, cancel := context.WithTimeout(ctx, l.timeouts.Evaluate)
	defer cancel()
	result, err := proposal.EvaluateWithContext(ctx)
	if err != nil {
		return nil, Classify(err, proposal.TransactionID())
	}
	return result, nil
}

// Submit runs txName as p through endorsement, ordering and commit, and
// returns the chaincode's result with the transaction ID and the number of the
// block that committed it.
func (l *Ledger) Submit(ctx context.Context, p *identity.Person, txName string, args ...string) (result []byte, txID string, blockNumber uint64, err error) {
	contract, err := l.contract(p)
	if err != nil {
		return nil, "", 0, err
	}
	var fl uint64
	hasFloor := false
	for attempt := 0; ; attempt++ {
		if hasFloor {
			if err := l.awaitFloor(ctx, p, fl); err != nil {
				return nil, "", 0, err
			}
		}
		proposal, err := contract.NewProposal(txName, client.WithArguments(args...))
		if err != nil {
			return nil, "", 0, errorf(domain.CodeInternal, "", err, "build %s proposal", txName)
		}
		result, txID, blockNumber, err = l.run(ctx, proposal)
		l.sawCommit(p, blockNumber, err)
		if !l.again(ctx, err, attempt) {
			return result, txID, blockNumber, err
		}
		fl, hasFloor = floorAfter(fl, hasFloor, err)
	}
}

// maxAttempts bounds the transactions one write may take. A write whose
// transaction changed nothing for a reason that is not the caller's (see
// retryable) is endorsed again as a new transaction, up to this many in all.
const maxAttempts = 4

// Retry reasons, as Retries counts them.
const (
	RetryReadConflict    = "read_conflict"      // MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT at commit
	RetryDefinitionMoved = "definition_changed" // the chaincode definition changed while the peer endorsed
	RetryEndorsersDiffer = "endorsers_differ"   // the endorsers' results differed: peers at different heights
	RetryResubmitted     = "resubmitted"        // no commit seen for resubmitEvery: the same transaction sent for ordering again
	RetrySubmitAgain     = "submit_again"       // the peer or the orderers could not take it: the same transaction sent again (submitAttempts)
	RetryStatusAgain     = "status_again"       // the peer went away while the write waited for its commit: its status asked again
	RetryEndorseAgain    = "endorse_again"      // the peer unreachable, or no peers could endorse now: the same proposal endorsed again
)

// resubmitEvery is how long a write waits for its commit before the same
// signed transaction is sent for ordering again. A transaction the
// ordering service accepted and then lost (a Raft follower forwarded it to
// a leader that died before ordering it) never commits, and only a new
// copy reaches the new leader. Resending is safe: it is the same
// transaction ID, so peers keep the first copy that is ordered and mark any
// later one DUPLICATE_TXID, and the commit status is the first copy's.
const resubmitEvery = 10 * time.Second

// retryReason says why err leaves a write that may be tried again as a new
// transaction, or "" when it may not. Only failures that certainly changed
// nothing qualify: a transaction marked invalid at commit for a read
// conflict (a concurrent transaction, or a chaincode upgrade, changed what it
// read: every transaction reads its chaincode's definition sequence), and a
// peer that refused to endorse because the definition changed during the
// call, and endorsements whose results differ (ProposalResponsePayloads do
// not match: endorsing peers at different heights read different versions
// of a key, such as the consortium policy that every write reads, just
// after a block changed it; nothing was submitted). A write refused by the
// contract, or one whose fate is unknown, is never retried.
func retryReason(err error) string {
	var fe *Error
	if !errors.As(err, &fe) {
		return ""
	}
	switch fe.Domain.Details["validationCode"] {
	case peer.TxValidationCode_MVCC_READ_CONFLICT.String(), peer.TxValidationCode_PHANTOM_READ_CONFLICT.String():
		return RetryReadConflict
	}
	if fe.Cause != nil {
		texts := statusTexts(grpcStatus(fe.Cause))
		// The peer's definition changed while it endorsed, or discovery
		// does not yet see the new definition's package on enough peers
		// (each peer announces it in its next gossip alive message).
		if anyContains(texts, "changed during invoke") || anyContains(texts, "required chaincodes are not installed on sufficient peers") {
			return RetryDefinitionMoved
		}
		if anyContains(texts, "ProposalResponsePayloads do not match") {
			return RetryEndorsersDiffer
		}
	}
	return ""
}

// again reports whether a write that failed with err on attempt (0-based)
// is to be tried again, after waiting a little, doubling, with jitter: from
// 25 ms after a read conflict, so that the block that conflicted reaches
// the endorsers; from 100 ms when the endorsers' results differed, so that
// the one behind commits the block the others have; from 500 ms after a
// definition change, so that gossip carries the new definition's packages
// to discovery (0.5 + 1 + 2 s covers the peers' 2 s alive interval).
func (l *Ledger) again(ctx context.Context, err error, attempt int) bool {
	reason := retryReason(err)
	if reason == "" || attempt+1 >= maxAttempts {
		return false
	}
	base := 25 * time.Millisecond
	switch reason {
	case RetryEndorsersDiffer:
		base = 100 * time.Millisecond
	case RetryDefinitionMoved:
		base = 500 * time.Millisecond
	}
	wait := base<<attempt + time.Duration(rand.Int64N(int64(base)))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(wait):
	}
	l.retries.add(reason)
	return true
}

// retryCounts counts, by reason, the writes tried again.
type retryCounts struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (r *retryCounts) add(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]uint64{}
	}
	r.n[reason]++
}

// Retries returns how many writes were tried again, by reason, since start.
func (l *Ledger) Retries() map[string]uint64 {
	l.retries.mu.Lock()
	defer l.retries.mu.Unlock()
	out := map[string]uint64{RetryReadConflict: 0, RetryDefinitionMoved: 0, RetryResubmitted: 0, RetrySubmitAgain: 0, RetryStatusAgain: 0, RetryEndorseAgain: 0}
	for k, v := range l.retries.n {
		out[k] = v
	}
	return out
}

// run takes a proposal through endorsement, ordering and commit.
func (l *Ledger) run(ctx context.Context, proposal *client.Proposal) (result []byte, txID string, blockNumber uint64, err error) {
	txID = proposal.TransactionID()

	tx, err := l.endorse(ctx, proposal)
	if err != nil {
		return nil, txID, 0, err
	}

	commit, err := l.submit(ctx, tx)
	if err != nil {
		return nil, txID, 0, err
	}

	statusCtx, cancel := context.WithTimeout(ctx, l.timeouts.CommitStatus)
	status, err := l.awaitCommit(statusCtx, tx, commit)
	cancel()
	if err != nil {
		return nil, txID, 0, Classify(err, txID)
	}
	if !status.Successful {
		e := commitFailure(txID, status.Code, fmt.Errorf("transaction %s invalid in block %d: %s", txID, status.BlockNumber, status.Code))
		e.Domain.WithDetail("blockNumber", fmt.Sprint(status.BlockNumber))
		return nil, txID, status.BlockNumber, e
	}
	l.awaitEndorsers(ctx, tx, status.BlockNumber)
	return tx.Result(), txID, status.BlockNumber, nil
}

// endorse has the proposal endorsed. While the gateway peer cannot be
// reached (restarting) or finds no peers that can endorse now (one of them
// restarting, gossip not yet converged), nothing was sent for ordering, and
// the same proposal is endorsed again after a pause, as submit does, up to
// submitAttempts times.
func (l *Ledger) endorse(ctx context.Context, proposal *client.Proposal) (*client.Transaction, error) {
	var last error
	for attempt := 0; ; attempt++ {
		endorseCtx, cancel := context.WithTimeout(ctx, l.timeouts.Endorse)
		tx, err := proposal.EndorseWithContext(endorseCtx)
		cancel()
		if err == nil {
			if attempt > 0 {
				l.retries.add(RetryEndorseAgain)
			}
			return tx, nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if attempt+1 >= submitAttempts || !endorseAgain(err) || !l.pause(ctx, attempt) {
			return nil, Classify(last, proposal.TransactionID())
		}
	}
}

// pause waits before try attempt+1 of a call: submitPause, doubled for
// each earlier try. It reports false, at once, when ctx is done.
func (l *Ledger) pause(ctx context.Context, attempt int) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(l.submitPause << attempt):
		return true
	}
}

// endorseAgain reports whether a failed Endorse call may succeed when the
// same proposal is endorsed again soon: the gateway peer unreachable, or no
// peers that can endorse now. A chaincode's answer is final, and a new
// chaincode definition not yet seen by discovery is retryReason's (a new
// transaction).
func endorseAgain(err error) bool {
	s := grpcStatus(err)
	texts := statusTexts(s)
	for _, t := range texts {
		if domain.ParseError(t) != nil {
			return false
		}
	}
	switch s.Code() {
	case codes.Unavailable:
		return true
	case codes.FailedPrecondition:
		return !anyContains(texts, "required chaincodes are not installed on sufficient peers")
	}
	return false
}

// submitAttempts bounds the times one endorsed transaction is sent for
// ordering while the gateway peer or the ordering service is unavailable,
// waiting 250 ms, doubling, between them (about 8 s in all: a peer or an
// orderer restarting, a Raft election).
const submitAttempts = 6

// submit sends the endorsed transaction for ordering. When the gateway
// peer or the orderers cannot take it now, the same signed transaction is
// sent again, which is safe (see resubmitEvery). When a call broke after
// the transaction left (the connection to the peer closed before its
// answer: the peer restarting while it forwarded it), the transaction may
// be ordered whatever happens next, and a failure says so.
func (l *Ledger) submit(ctx context.Context, tx *client.Transaction) (*client.Commit, error) {
	txID := tx.TransactionID()
	maybeSent := false
	var last error
	answer := func() error {
		fe := Classify(last, txID)
		if maybeSent {
			fe = &Error{Domain: domain.Errorf(domain.CodeUnavailable, "transaction %s may have been sent for ordering: the call broke or timed out before the gateway peer answered (%s); look it up before trying again, or retry with the same Idempotency-Key", txID, grpcStatus(last).Message()), TxID: txID, Cause: last}
		}
		return fe
	}
	for attempt := 0; ; attempt++ {
		submitCtx, cancel := context.WithTimeout(ctx, l.timeouts.Submit)
		commit, err := tx.SubmitWithContext(submitCtx)
		cancel()
		if err == nil {
			if attempt > 0 {
				l.retries.add(RetrySubmitAgain)
			}
			return commit, nil
		}
		// The caller's deadline cutting a retry short says less than the
		// failure that led to it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		maybeSent = maybeSent || submitFateUnknown(err)
		if attempt+1 >= submitAttempts || !submitAgain(err) || !l.pause(ctx, attempt) {
			return nil, answer()
		}
	}
}

// submitAgain reports whether a failed Submit call may succeed when the
// same transaction is sent again: the peer or the orderers unavailable, or
// the call timed out. An orderer's refusal of the transaction itself
// (BAD_REQUEST, FORBIDDEN) or a chaincode code is final.
func submitAgain(err error) bool {
	s := grpcStatus(err)
	switch s.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	case codes.Aborted:
		return anyContains(statusTexts(s), "SERVICE_UNAVAILABLE")
	}
	return false
}

// submitFateUnknown reports whether a failed Submit call may have handed
// the transaction to the orderers: the call broke or timed out after it
// was sent, with no answer from the peer. A peer's answer (the orderers
// refused or could not be reached: Fabric's own message, often with
// per-orderer details) and a connection never made mean it was not.
func submitFateUnknown(err error) bool {
	s := grpcStatus(err)
	if s.Code() == codes.DeadlineExceeded {
		return true
	}
	if s.Code() != codes.Unavailable && s.Code() != codes.Internal && s.Code() != codes.Unknown && s.Code() != codes.Canceled {
		return false
	}
	if len(s.Details()) > 0 {
		return false
	}
	m := s.Message()
	for _, broke := range []string{"error reading from server", "transport is closing", "EOF", "connection reset", "RST_STREAM", "stream terminated", "broken pipe"} {
		if strings.Contains(m, broke) {
			return true
		}
	}
	return false
}

// awaitCommit waits for the transaction's commit status, sending the same
// transaction for ordering again after every resubmitEvery without it. When
// the peer goes away during the wait (restarting), it asks again once the
// peer is back, waiting submitPause, doubling, up to 2 s, between tries:
// the transaction is with the orderers, and the peer answers when it
// commits the block that holds it.
func (l *Ledger) awaitCommit(ctx context.Context, tx *client.Transaction, commit *client.Commit) (*client.Status, error) {
	pause := l.submitPause
	for {
		wait, cancel := context.WithTimeout(ctx, resubmitEvery)
		status, err := commit.StatusWithContext(wait)
		waited := wait.Err() != nil
		cancel()
		if err == nil || ctx.Err() != nil {
			return status, err
		}
		if !waited {
			if grpcStatus(err).Code() != codes.Unavailable {
				return status, err
			}
			select {
			case <-ctx.Done():
				return status, err
			case <-time.After(pause):
			}
			pause = min(2*pause, 2*time.Second)
			l.retries.add(RetryStatusAgain)
			continue
		}
		submitCtx, cancel := context.WithTimeout(ctx, l.timeouts.Submit)
		_, serr := tx.SubmitWithContext(submitCtx)
		cancel()
		if serr == nil {
			l.retries.add(RetryResubmitted)
		}
	}
}

// awaitEndorsers holds a committed write's answer until every peer that
// endorsed it has committed its block too (see Heights), so that the next
// step on its records, which those peers endorse, sees it. The write is
// committed whatever happens here: a wait cut short answers all the same.
func (l *Ledger) awaitEndorsers(ctx context.Context, tx *client.Transaction, block uint64) {
	orgs, err := Endorsers(tx)
	if err != nil || len(orgs) == 0 {
		return
	}
	_ = l.heights.Await(ctx, block, orgs)
}

// sawCommit records that the department's own peer has committed block b,
// where a write of p's just committed (validly or not).
func (l *Ledger) sawCommit(p *identity.Person, b uint64, err error) {
	var fe *Error
	if err == nil || errors.As(err, &fe) && fe.Domain.Details["validationCode"] != "" {
		l.heights.Saw(p.ID.MspID(), b+1)
	}
}

// SetProbe names the person whose identity Ready uses for its round trip
// to the peer. Without one, Ready only checks the connection state.
func (l *Ledger) SetProbe(p *identity.Person) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.probe = p
}

// Ready reports whether the peer answers: the gRPC connection is up and a
// query of the channel's height through the peer's system chaincode
// returns within ctx. A connection alone is not enough: a hung peer keeps
// its TCP connection open while every ledger call times out.
func (l *Ledger) Ready(ctx context.Context) error {
	if err := l.connected(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	probe := l.probe
	l.mu.Unlock()
	if probe == nil {
		return nil
	}
	gw, err := l.gateway(probe)
	if err != nil {
		return err
	}
	if _, err := gw.GetNetwork(l.channel).GetContract("qscc").EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(l.channel)); err != nil {
		return fmt.Errorf("peer %s does not answer a height query: %w", l.conn.Target(), err)
	}
	return nil
}

// connected waits for the gRPC connection to be up, connecting it if idle.
func (l *Ledger) connected(ctx context.Context) error {
	for {
		s := l.conn.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.Idle:
			l.conn.Connect()
		case connectivity.TransientFailure:
			return fmt.Errorf("peer %s is unreachable", l.conn.Target())
		case connectivity.Shutdown:
			return errors.New("peer connection is shut down")
		}
		if !l.conn.WaitForStateChange(ctx, s) {
			return fmt.Errorf("peer %s: still %s: %w", l.conn.Target(), s, ctx.Err())
		}
	}
}

// Close closes every person's Gateway and then the connection to the peer.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for p, gw := range l.gateways {
		if err := gw.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close gateway of %s: %w", p.User, err))
		}
	}
	l.gateways = nil
	if err := l.conn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close peer connection: %w", err))
	}
	return errors.Join(errs...)
}
