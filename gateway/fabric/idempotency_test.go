package fabric

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
)

// ledgerPeer is a peer that keeps a ledger: endorsed transactions it is
// sent are committed, one per block, with the validation code the test
// sets, and qscc GetBlockByTxID finds them, as a real peer does.
type ledgerPeer struct {
	fakePeer
	code peer.TxValidationCode // of the next commit
	// codes, when not empty, are the codes of the next commits, one each,
	// before code
	codes []peer.TxValidationCode
	// endorseErrs, when not empty, fail the next endorsements, one each
	endorseErrs []error
	hide        int // lookups that miss, as in a race with a same-key request
	// submitFails, when not empty, fail the next Submit calls, one each;
	// ordered ones reach the ledger first, as when the peer forwarded the
	// transaction to the orderers and stopped before it answered
	submitFails []submitFail
	submits     int
	statusFails int // commit status calls that fail, as with a peer restarting

	mu       sync.Mutex
	blocks   []*common.Block
	byTxID   map[string]uint64
	endorsed int
}

func (f *ledgerPeer) Evaluate(ctx context.Context, req *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	c := f.record("evaluate", req.GetProposedTransaction(), req.GetTransactionId())
	if c.cc != "qscc" || len(c.args) != 3 || c.args[0] != "GetBlockByTxID" {
		return nil, statusErr(codes.Unknown, "unexpected evaluate")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.byTxID[c.args[2]]
	if f.hide > 0 {
		f.hide--
		ok = false
	}
	if !ok {
		return nil, statusErr(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, Failed to get block for txID "+c.args[2]+", error no such transaction ID ["+c.args[2]+"] in index")
	}
	b, err := proto.Marshal(f.blocks[n])
	must(f.t, err)
	return &gateway.EvaluateResponse{Result: &peer.Response{Status: 200, Payload: b}}, nil
}

func (f *ledgerPeer) Endorse(ctx context.Context, req *gateway.EndorseRequest) (*gateway.EndorseResponse, error) {
	f.record("endorse", req.GetProposedTransaction(), req.GetTransactionId())
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.endorseErrs) > 0 {
		err := f.endorseErrs[0]
		f.endorseErrs = f.endorseErrs[1:]
		return nil, err
	}
	if _, ok := f.byTxID[req.GetTransactionId()]; ok {
		return nil, statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info",
			"duplicate transaction found ["+req.GetTransactionId()+"]. Creator [0a08]")
	}
	f.endorsed++
	var prop peer.Proposal
	must(f.t, proto.Unmarshal(req.GetProposedTransaction().GetProposalBytes(), &prop))
	m := func(msg proto.Message) []byte {
		b, err := proto.Marshal(msg)
		must(f.t, err)
		return b
	}
	// The response payload says which endorsement it came from, so that a
	// test can tell a replay from a second execution.
	action := &peer.ChaincodeAction{Response: &peer.Response{Status: 200, Payload: []byte(`{"id":"us-1","n":` + strconv.Itoa(f.endorsed) + `}`)}}
	var hdr common.Header
	must(f.t, proto.Unmarshal(prop.GetHeader(), &hdr))
	env := &common.Envelope{Payload: m(&common.Payload{
		Header: &hdr,
		Data: m(&peer.Transaction{Actions: []*peer.TransactionAction{{
			Header: hdr.GetSignatureHeader(),
			Payload: m(&peer.ChaincodeActionPayload{
				ChaincodeProposalPayload: prop.GetPayload(),
				Action:                   &peer.ChaincodeEndorsedAction{ProposalResponsePayload: m(&peer.ProposalResponsePayload{Extension: m(action)})},
			}),
		}}}),
	})}
	return &gateway.EndorseResponse{PreparedTransaction: env}, nil
}

type submitFail struct {
	err     error
	ordered bool
}

func (f *ledgerPeer) Submit(ctx context.Context, req *gateway.SubmitRequest) (resp *gateway.SubmitResponse, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submits++
	if len(f.submitFails) > 0 {
		fail := f.submitFails[0]
		f.submitFails = f.submitFails[1:]
		if !fail.ordered {
			return nil, fail.err
		}
		defer func() { err = fail.err; resp = nil }()
	}
	raw, merr := proto.Marshal(req.GetPreparedTransaction())
	must(f.t, merr)
	n := uint64(len(f.blocks))
	md := make([][]byte, 5)
	code := f.code
	if len(f.codes) > 0 {
		code, f.codes = f.codes[0], f.codes[1:]
	}
	md[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = []byte{byte(code)}
	f.blocks = append(f.blocks, &common.Block{Header: &common.BlockHeader{Number: n}, Data: &common.BlockData{Data: [][]byte{raw}}, Metadata: &common.BlockMetadata{Metadata: md}})
	if _, ok := f.byTxID[req.GetTransactionId()]; !ok {
		f.byTxID[req.GetTransactionId()] = n
	}
	return &gateway.SubmitResponse{}, nil
}

func (f *ledgerPeer) CommitStatus(ctx context.Context, req *gateway.SignedCommitStatusRequest) (*gateway.CommitStatusResponse, error) {
	var r gateway.CommitStatusRequest
	must(f.t, proto.Unmarshal(req.GetRequest(), &r))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.statusFails > 0 {
		f.statusFails--
		return nil, statusErr(codes.Unavailable, "error reading from server: EOF")
	}
	n := f.byTxID[r.GetTransactionId()]
	return &gateway.CommitStatusResponse{Result: peer.TxValidationCode(f.blocks[n].Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER][0]), BlockNumber: n}, nil
}

func startLedgerPeer(t *testing.T, f *ledgerPeer) *Ledger {
	t.Helper()
	f.t = t
	f.byTxID = map[string]uint64{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := grpc.NewServer()
	gateway.RegisterGatewayServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("dns:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err)
	l := New(conn, "datashare", "ledger", Timeouts{Evaluate: 2 * time.Second, Endorse: 2 * time.Second, Submit: 2 * time.Second, CommitStatus: 2 * time.Second})
	l.submitPause = time.Millisecond
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestKeyedTxIDIsFabricsDerivation(t *testing.T) {
	op := newPerson(t, "operator1", domain.RoleOperator)
	other := newPerson(t, "operator2", domain.RoleOperator)
	a, err := KeyedTxID(op, "k1")
	must(t, err)
	c, err := creator(op)
	must(t, err)
	sum := sha256.Sum256(append(keyedNonce(c, "k1", 0), c...))
	if a != hex.EncodeToString(sum[:]) {
		t.Errorf("KeyedTxID %s is not SHA-256(nonce || creator)", a)
	}
	b, _ := KeyedTxID(op, "k2")
	o, _ := KeyedTxID(other, "k1")
	again, _ := KeyedTxID(op, "k1")
	if a != again || a == b || a == o {
		t.Errorf("txIDs: k1 %s again %s, k2 %s, other person's k1 %s", a, again, b, o)
	}
}

func TestSubmitKeyed(t *testing.T) {
	f := &ledgerPeer{code: peer.TxValidationCode_VALID}
	l := startLedgerPeer(t, f)
	op := newPerson(t, "operator1", domain.RoleOperator)
	ctx := context.Background()
	want, _ := KeyedTxID(op, "retry-1")

	r1, tx1, b1, replayed, err := l.SubmitKeyed(ctx, op, "retry-1", "RecordUsage", `{"calls":1}`)
	if err != nil || replayed || tx1 != want || string(r1) != `{"id":"us-1","n":1}` {
		t.Fatalf("first: %s %s %d replayed %v, %v", r1, tx1, b1, replayed, err)
	}
	r2, tx2, b2, replayed, err := l.SubmitKeyed(ctx, op, "retry-1", "RecordUsage", `{"calls":1}`)
	if err != nil || !replayed || tx2 != tx1 || b2 != b1 || string(r2) != string(r1) {
		t.Fatalf("retry: %s %s %d replayed %v, %v; want %s %s %d", r2, tx2, b2, replayed, err, r1, tx1, b1)
	}
	if f.endorsed != 1 || len(f.blocks) != 1 {
		t.Errorf("endorsed %d, committed %d; want 1 and 1", f.endorsed, len(f.blocks))
	}
	for _, call := range []struct {
		tx   string
		args []string
	}{{"RecordUsage", []string{`{"calls":2}`}}, {"RecordContribution", []string{`{"calls":1}`}}, {"RecordUsage", []string{`{"calls":1}`, "x"}}} {
		_, _, _, _, err := l.SubmitKeyed(ctx, op, "retry-1", call.tx, call.args...)
		if domain.ErrorCode(err) != domain.CodeConflict {
			t.Errorf("%s %v under a used key: %v, want conflict", call.tx, call.args, err)
		}
	}
	// Another person's same key is another transaction.
	_, tx3, _, replayed, err := l.SubmitKeyed(ctx, newPerson(t, "operator2", domain.RoleOperator), "retry-1", "RecordUsage", `{"calls":1}`)
	if err != nil || replayed || tx3 == tx1 {
		t.Errorf("other person: %s replayed %v, %v", tx3, replayed, err)
	}
	// A write without a key has a random nonce, as before.
	_, tx4, _, err := l.Submit(ctx, op, "RecordUsage", `{"calls":1}`)
	if err != nil || tx4 == tx1 {
		t.Errorf("unkeyed submit: %s, %v", tx4, err)
	}
}

func TestSubmitKeyedInvalidStaysInvalid(t *testing.T) {
	f := &ledgerPeer{code: peer.TxValidationCode_MVCC_READ_CONFLICT}
	l := startLedgerPeer(t, f)
	op := newPerson(t, "operator1", domain.RoleOperator)
	for i, wantReplay := range []bool{false, true} {
		_, _, _, replayed, err := l.SubmitKeyed(context.Background(), op, "k", "ApproveRequest", "rq-1", `{}`)
		var fe *Error
		if !errors.As(err, &fe) || fe.Domain.Code != domain.CodeConflict || fe.Domain.Details["validationCode"] != "MVCC_READ_CONFLICT" || replayed != wantReplay {
			t.Errorf("attempt %d: replayed %v, %v; want the read conflict again", i, replayed, err)
		}
	}
	if f.endorsed != maxAttempts {
		t.Errorf("endorsed %d times, want %d: each attempt once, none again on the repeat", f.endorsed, maxAttempts)
	}
}

// A write invalidated by read conflicts is endorsed again as a new
// transaction until one commits; keyed, the repeat of the request answers
// from the attempt that committed.
func TestSubmitRetriesReadConflicts(t *testing.T) {
	mvcc, phantom := peer.TxValidationCode_MVCC_READ_CONFLICT, peer.TxValidationCode_PHANTOM_READ_CONFLICT
	f := &ledgerPeer{code: peer.TxValidationCode_VALID, codes: []peer.TxValidationCode{mvcc, phantom}}
	l := startLedgerPeer(t, f)
	op := newPerson(t, "operator1", domain.RoleOperator)
	ctx := context.Background()
	r, _, b, err := l.Submit(ctx, op, "RecordUsage", `{}`)
	if err != nil || string(r) != `{"id":"us-1","n":3}` || b != 2 || f.endorsed != 3 {
		t.Fatalf("unkeyed: %s block %d, %v, endorsed %d; want the third endorsement, committed in block 2", r, b, err, f.endorsed)
	}
	if got := l.Retries()[RetryReadConflict]; got != 2 {
		t.Errorf("read-conflict retries %d, want 2", got)
	}

	f.codes = []peer.TxValidationCode{mvcc}
	r1, tx1, b1, replayed, err := l.SubmitKeyed(ctx, op, "k", "RecordUsage", `{}`)
	first, _ := KeyedTxID(op, "k")
	if err != nil || replayed || tx1 == first || string(r1) != `{"id":"us-1","n":5}` {
		t.Fatalf("keyed: %s %s replayed %v, %v; want attempt 1 committed (attempt 0 is %s)", r1, tx1, replayed, err, first)
	}
	r2, tx2, b2, replayed, err := l.SubmitKeyed(ctx, op, "k", "RecordUsage", `{}`)
	if err != nil || !replayed || tx2 != tx1 || b2 != b1 || string(r2) != string(r1) || f.endorsed != 5 {
		t.Errorf("keyed repeat: %s %s %d replayed %v, %v, endorsed %d; want the answer of attempt 1, nothing endorsed", r2, tx2, b2, replayed, err, f.endorsed)
	}
}

// While a new chaincode definition reaches discovery, the gateway finds no
// peers with its package: nothing was submitted, and the write is
// endorsed again after a wait.
func TestSubmitRetriesWhileDiscoveryLags(t *testing.T) {
	f := &ledgerPeer{code: peer.TxValidationCode_VALID, endorseErrs: []error{
		statusErr(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: required chaincodes are not installed on sufficient peers"),
	}}
	l := startLedgerPeer(t, f)
	if _, _, _, err := l.Submit(context.Background(), newPerson(t, "operator1", domain.RoleOperator), "RecordUsage", `{}`); err != nil {
		t.Fatalf("submit: %v", err)
	}
	if got := l.Retries()[RetryDefinitionMoved]; got != 1 || f.endorsed != 1 {
		t.Errorf("definition retries %d, endorsed %d; want 1 and 1", got, f.endorsed)
	}
}

// Endorsers whose results differ (one peer a block behind the others,
// which read another version of a key) submitted nothing: the write is
// endorsed again after a wait.
func TestSubmitRetriesWhenEndorsersDiffer(t *testing.T) {
	f := &ledgerPeer{code: peer.TxValidationCode_VALID, endorseErrs: []error{
		statusErr(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info; ProposalResponsePayloads do not match"),
	}}
	l := startLedgerPeer(t, f)
	if _, _, _, err := l.Submit(context.Background(), newPerson(t, "operator1", domain.RoleOperator), "RecordUsage", `{}`); err != nil {
		t.Fatalf("submit: %v", err)
	}
	if got := l.Retries()[RetryEndorsersDiffer]; got != 1 || f.endorsed != 1 {
		t.Errorf("retries %d, endorsed %d; want 1 and 1", got, f.endorsed)
	}
}

// A transaction the gateway peer or the orderers could not take is sent
// again, the same signed transaction: it commits once, and the write
// answers its block. One that may have left before the call broke says so
// when it cannot be sent again; one that certainly did not leave does not.
func TestSubmitSendsTheSameTransactionAgain(t *testing.T) {
	eof := statusErr(codes.Unavailable, "error reading from server: EOF")
	noLeader := statusErr(codes.Aborted, "received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, info=no Raft leader")
	refused := statusErr(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:7101: connect: connection refused\"")
	op := newPerson(t, "operator1", domain.RoleOperator)

	f := &ledgerPeer{code: peer.TxValidationCode_VALID, submitFails: []submitFail{{eof, true}, {noLeader, false}}}
	l := startLedgerPeer(t, f)
	_, txID, b, err := l.Submit(context.Background(), op, "RecordUsage", `{}`)
	if err != nil || b != 0 || f.endorsed != 1 || f.submits != 3 || len(f.blocks) != 2 {
		t.Fatalf("after a broken call and a refusal: block %d, %v; endorsed %d, submits %d, blocks %d; want block 0 (the first copy), endorsed once, 3 submits, 2 copies ordered", b, err, f.endorsed, f.submits, len(f.blocks))
	}
	if f.byTxID[txID] != 0 {
		t.Errorf("tx %s found in block %d, want 0", txID, f.byTxID[txID])
	}
	if got := l.Retries()[RetrySubmitAgain]; got != 1 {
		t.Errorf("submit_again retries %d, want 1", got)
	}

	for _, tt := range []struct {
		name      string
		first     submitFail
		maybeSent bool
	}{
		{"broke after it left", submitFail{eof, true}, true},
		{"never left", submitFail{refused, false}, false},
		{"orderers without a leader", submitFail{noLeader, false}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fails := []submitFail{tt.first}
			for range submitAttempts - 1 {
				fails = append(fails, submitFail{refused, false})
			}
			f := &ledgerPeer{code: peer.TxValidationCode_VALID, submitFails: fails}
			l := startLedgerPeer(t, f)
			_, _, _, err := l.Submit(context.Background(), op, "RecordUsage", `{}`)
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.CodeUnavailable {
				t.Fatalf("%v: want unavailable", err)
			}
			if f.submits != submitAttempts || f.endorsed != 1 {
				t.Errorf("submits %d, endorsed %d; want %d and 1", f.submits, f.endorsed, submitAttempts)
			}
			if got := strings.Contains(de.Message, "may have been sent for ordering"); got != tt.maybeSent {
				t.Errorf("message %q: says it may have been sent %v, want %v", de.Message, got, tt.maybeSent)
			}
		})
	}

	// The peer going away while the write waits for its commit: the
	// status is asked again, and the write answers its block.
	f = &ledgerPeer{code: peer.TxValidationCode_VALID, statusFails: 3}
	l = startLedgerPeer(t, f)
	if _, _, b, err := l.Submit(context.Background(), op, "RecordUsage", `{}`); err != nil || b != 0 || f.submits != 1 || f.statusFails != 0 {
		t.Errorf("status through a restart: block %d, %v after %d submits; want block 0 after 1", b, err, f.submits)
	}
	if got := l.Retries()[RetryStatusAgain]; got != 3 {
		t.Errorf("status_again retries %d, want 3", got)
	}

	// A refusal of the transaction itself is final.
	f = &ledgerPeer{code: peer.TxValidationCode_VALID, submitFails: []submitFail{{statusErr(codes.Aborted, "received unsuccessful response from orderer: status=BAD_REQUEST, info=x"), false}}}
	l = startLedgerPeer(t, f)
	if _, _, _, err := l.Submit(context.Background(), op, "RecordUsage", `{}`); err == nil || f.submits != 1 {
		t.Errorf("bad request: %v after %d submits; want the failure after 1", err, f.submits)
	}
}

// A proposal the gateway peer could not take (restarting), or that no set
// of peers could endorse yet, sent nothing for ordering: the same proposal
// is endorsed again after a pause, one transaction in all.
func TestSubmitEndorsesTheSameProposalAgain(t *testing.T) {
	f := &ledgerPeer{code: peer.TxValidationCode_VALID, endorseErrs: []error{
		statusErr(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:7101: connect: connection refused\""),
		statusErr(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: no peer combination can satisfy the endorsement policy"),
	}}
	l := startLedgerPeer(t, f)
	_, txID, _, err := l.Submit(context.Background(), newPerson(t, "operator1", domain.RoleOperator), "RecordUsage", `{}`)
	if err != nil || f.endorsed != 1 || len(f.blocks) != 1 {
		t.Fatalf("%v: endorsed %d, %d blocks; want one transaction", err, f.endorsed, len(f.blocks))
	}
	if got := l.Retries()[RetryEndorseAgain]; got != 1 {
		t.Errorf("endorse_again retries %d, want 1", got)
	}
	var ids []string
	for _, c := range f.calls {
		ids = append(ids, c.txID)
	}
	if len(ids) != 3 || ids[0] != txID || ids[1] != txID || ids[2] != txID {
		t.Errorf("endorsements %v, want three of %s", ids, txID)
	}

	// The contract's refusal is final.
	f = &ledgerPeer{code: peer.TxValidationCode_VALID, endorseErrs: []error{statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info", "chaincode response 500, [conflict] request r1 is approved, not pending")}}
	l = startLedgerPeer(t, f)
	if _, _, _, err := l.Submit(context.Background(), newPerson(t, "operator1", domain.RoleOperator), "RecordUsage", `{}`); err == nil || len(f.calls) != 1 {
		t.Errorf("refusal: %v after %d endorsements; want the failure after 1", err, len(f.calls))
	}
}

// A refusal by the contract is the caller's answer: never retried.
func TestSubmitDoesNotRetryRefusals(t *testing.T) {
	for _, code := range []peer.TxValidationCode{peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, peer.TxValidationCode_DUPLICATE_TXID} {
		f := &ledgerPeer{code: code}
		l := startLedgerPeer(t, f)
		_, _, _, err := l.Submit(context.Background(), newPerson(t, "operator1", domain.RoleOperator), "RecordUsage", `{}`)
		if err == nil || f.endorsed != 1 {
			t.Errorf("%s: %v, endorsed %d; want the failure, endorsed once", code, err, f.endorsed)
		}
	}
}

func TestSubmitKeyedLookupFails(t *testing.T) {
	f := &ledgerPeer{}
	l := startLedgerPeer(t, f)
	f.evaluateErr = errors.New("unused")
	op := newPerson(t, "operator1", domain.RoleOperator)
	l.timeouts.Evaluate = time.Nanosecond
	_, _, _, _, err := l.SubmitKeyed(context.Background(), op, "k", "RecordUsage", `{}`)
	if domain.ErrorCode(err) != domain.CodeUnavailable || f.endorsed != 0 {
		t.Errorf("lookup timed out: %v, endorsed %d; want unavailable and nothing submitted", err, f.endorsed)
	}
}

func TestSubmitKeyedRace(t *testing.T) {
	f := &ledgerPeer{code: peer.TxValidationCode_VALID}
	l := startLedgerPeer(t, f)
	op := newPerson(t, "operator1", domain.RoleOperator)
	r1, tx1, b1, _, err := l.SubmitKeyed(context.Background(), op, "k", "RecordUsage", `{}`)
	must(t, err)
	// The same-key request looked before the first committed: the peer
	// refuses to endorse the ID again, and the answer is the first one's.
	f.hide = 1
	r2, tx2, b2, replayed, err := l.SubmitKeyed(context.Background(), op, "k", "RecordUsage", `{}`)
	if err != nil || !replayed || tx2 != tx1 || b2 != b1 || string(r2) != string(r1) || f.endorsed != 1 {
		t.Errorf("race: %s %s %d replayed %v, %v, endorsed %d", r2, tx2, b2, replayed, err, f.endorsed)
	}
	f.hide = 1
	if _, _, _, _, err := l.SubmitKeyed(context.Background(), op, "k", "RecordUsage", `{"calls":2}`); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("race with another body: %v, want conflict", err)
	}
}
