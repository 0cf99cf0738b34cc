package fabric

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	fabid "github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
)

// fakePeer is the Gateway gRPC service of a peer, answering what a test
// scripts and recording who signed what, so that the real fabric-gateway
// client produces its real error types.
type fakePeer struct {
	gateway.UnimplementedGatewayServer
	script
	t *testing.T

	mu    sync.Mutex
	calls []call
}

// script is what a fakePeer answers.
type script struct {
	endorseErr, submitErr, statusErr, evaluateErr error
	validation                                    peer.TxValidationCode
	block                                         uint64
	result                                        []byte
	delay                                         time.Duration
}

type call struct {
	method  string
	txID    string
	mspID   string
	cert    string
	channel string
	cc      string
	args    []string
}

func statusErr(c codes.Code, msg string, details ...string) error {
	st := status.New(c, msg)
	var ds []protoadapt.MessageV1
	for _, d := range details {
		ds = append(ds, protoadapt.MessageV1Of(&gateway.ErrorDetail{Address: "127.0.0.1:7101", MspId: "Dept1MSP", Message: d}))
	}
	if len(ds) > 0 {
		var err error
		if st, err = st.WithDetails(ds...); err != nil {
			panic(err)
		}
	}
	return st.Err()
}

// record decodes a signed proposal, checks its signature against the
// creator's certificate, and notes the call.
func (f *fakePeer) record(method string, sp *peer.SignedProposal, txID string) call {
	f.t.Helper()
	var prop peer.Proposal
	must(f.t, proto.Unmarshal(sp.GetProposalBytes(), &prop))
	var hdr common.Header
	must(f.t, proto.Unmarshal(prop.GetHeader(), &hdr))
	var sh common.SignatureHeader
	must(f.t, proto.Unmarshal(hdr.GetSignatureHeader(), &sh))
	var ch common.ChannelHeader
	must(f.t, proto.Unmarshal(hdr.GetChannelHeader(), &ch))
	var creator msp.SerializedIdentity
	must(f.t, proto.Unmarshal(sh.GetCreator(), &creator))
	cert, err := fabid.CertificateFromPEM(creator.GetIdBytes())
	must(f.t, err)
	digest := sha256.Sum256(sp.GetProposalBytes())
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sp.GetSignature()) {
		f.t.Errorf("%s %s: signature does not verify with the creator's certificate", method, txID)
	}
	var cpp peer.ChaincodeProposalPayload
	must(f.t, proto.Unmarshal(prop.GetPayload(), &cpp))
	var cis peer.ChaincodeInvocationSpec
	must(f.t, proto.Unmarshal(cpp.GetInput(), &cis))
	c := call{method: method, txID: txID, mspID: creator.GetMspid(), cert: cert.Subject.CommonName,
		channel: ch.GetChannelId(), cc: cis.GetChaincodeSpec().GetChaincodeId().GetName()}
	for _, a := range cis.GetChaincodeSpec().GetInput().GetArgs() {
		c.args = append(c.args, string(a))
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return c
}

func (f *fakePeer) Evaluate(ctx context.Context, req *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	f.record("evaluate", req.GetProposedTransaction(), req.GetTransactionId())
	if f.evaluateErr != nil {
		return nil, f.evaluateErr
	}
	return &gateway.EvaluateResponse{Result: &peer.Response{Status: 200, Payload: f.result}}, nil
}

func (f *fakePeer) Endorse(ctx context.Context, req *gateway.EndorseRequest) (*gateway.EndorseResponse, error) {
	c := f.record("endorse", req.GetProposedTransaction(), req.GetTransactionId())
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if f.endorseErr != nil {
		return nil, f.endorseErr
	}
	return &gateway.EndorseResponse{PreparedTransaction: envelope(f.t, c.channel, req.GetTransactionId(), f.result)}, nil
}

func (f *fakePeer) Submit(ctx context.Context, req *gateway.SubmitRequest) (*gateway.SubmitResponse, error) {
	if f.submitErr != nil {
		return nil, f.submitErr
	}
	return &gateway.SubmitResponse{}, nil
}

func (f *fakePeer) CommitStatus(ctx context.Context, req *gateway.SignedCommitStatusRequest) (*gateway.CommitStatusResponse, error) {
	if f.statusErr != nil {
		return nil, f.statusErr
	}
	return &gateway.CommitStatusResponse{Result: f.validation, BlockNumber: f.block}, nil
}

func envelope(t *testing.T, channel, txID string, result []byte) *common.Envelope {
	m := func(msg proto.Message) []byte {
		b, err := proto.Marshal(msg)
		must(t, err)
		return b
	}
	action := &peer.ChaincodeAction{Response: &peer.Response{Status: 200, Payload: result}}
	payload := &common.Payload{
		Header: &common.Header{ChannelHeader: m(&common.ChannelHeader{ChannelId: channel, TxId: txID})},
		Data: m(&peer.Transaction{Actions: []*peer.TransactionAction{{
			Payload: m(&peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{
				ProposalResponsePayload: m(&peer.ProposalResponsePayload{Extension: m(action)}),
			}}),
		}}}),
	}
	return &common.Envelope{Payload: m(payload)}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newPerson(t *testing.T, user string, role domain.Role) *identity.Person {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: user},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	id, err := fabid.NewX509Identity("Dept1MSP", cert)
	must(t, err)
	sign, err := fabid.NewPrivateKeySign(key)
	must(t, err)
	return &identity.Person{MSPID: "Dept1MSP", User: user, Role: role, ID: id, Sign: sign}
}

// startPeer serves f on a loopback port and returns a Ledger connected to it.
func startPeer(t *testing.T, f *fakePeer) *Ledger {
	t.Helper()
	f.t = t
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := grpc.NewServer()
	gateway.RegisterGatewayServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("dns:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err)
	l := New(conn, "datashare", "ledger", Timeouts{Evaluate: 2 * time.Second, Endorse: 2 * time.Second, Submit: 2 * time.Second, CommitStatus: 2 * time.Second})
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestSubmitSignsAsEachPerson(t *testing.T) {
	f := &fakePeer{script: script{result: []byte(`{"id":"d1"}`), validation: peer.TxValidationCode_VALID, block: 42}}
	l := startPeer(t, f)
	alice := newPerson(t, "alice", domain.RoleOperator)
	bob := newPerson(t, "bob", domain.RoleApprover)
	ctx := context.Background()

	result, txID, block, err := l.Submit(ctx, alice, "RegisterDataset", `{"title":"x"}`)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if string(result) != `{"id":"d1"}` || block != 42 || len(txID) != 64 {
		t.Fatalf("Submit = %q, %q, %d", result, txID, block)
	}
	if _, _, _, err := l.Submit(ctx, bob, "ApproveRequest", "r1", `{}`); err != nil {
		t.Fatalf("Submit as bob: %v", err)
	}
	if _, _, _, err := l.Submit(ctx, alice, "RetireDataset", "d1", `{}`); err != nil {
		t.Fatalf("second Submit as alice: %v", err)
	}
	if got := len(l.gateways); got != 2 {
		t.Errorf("%d gateways cached, want one per person (2)", got)
	}
	want := []call{
		{"endorse", txID, "Dept1MSP", "alice", "datashare", "ledger", []string{"RegisterDataset", `{"title":"x"}`}},
		{"endorse", "", "Dept1MSP", "bob", "datashare", "ledger", []string{"ApproveRequest", "r1", "{}"}},
		{"endorse", "", "Dept1MSP", "alice", "datashare", "ledger", []string{"RetireDataset", "d1", "{}"}},
	}
	if len(f.calls) != len(want) {
		t.Fatalf("%d calls, want %d", len(f.calls), len(want))
	}
	for i, w := range want {
		g := f.calls[i]
		if w.txID == "" {
			w.txID = g.txID
		}
		if g.method != w.method || g.txID != w.txID || g.mspID != w.mspID || g.cert != w.cert || g.channel != w.channel || g.cc != w.cc || strings.Join(g.args, "|") != strings.Join(w.args, "|") {
			t.Errorf("call %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestEvaluate(t *testing.T) {
	f := &fakePeer{script: script{result: []byte(`[]`)}}
	l := startPeer(t, f)
	got, err := l.Evaluate(context.Background(), newPerson(t, "carol", domain.RoleAuditor), "ListDepartments")
	if err != nil || string(got) != "[]" {
		t.Fatalf("Evaluate = %q, %v", got, err)
	}
	if c := f.calls[0]; c.method != "evaluate" || c.cert != "carol" || c.args[0] != "ListDepartments" {
		t.Fatalf("call = %+v", c)
	}
}

// TestSubmitErrors drives the real client into each failure and checks the
// domain code, that the transaction ID is kept, and the message.
func TestSubmitErrors(t *testing.T) {
	tests := []struct {
		name     string
		peer     script
		wantCode domain.Code
		wantMsg  string
		wantTxID bool
	}{
		{"chaincode conflict in endorser details", script{endorseErr: statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info",
			"chaincode response 500, [conflict] request r1 is approved, not pending")}, domain.CodeConflict, "request r1 is approved, not pending", true},
		{"chaincode forbidden in endorser details", script{endorseErr: statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info",
			"chaincode response 500, [forbidden] role operator may not approve requests")}, domain.CodeForbidden, "role operator may not approve requests", true},
		{"grade rule denial in endorser details", script{endorseErr: statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info",
			"chaincode response 500, [forbidden] grade 4 data is approved only after an approver of the data-administration bureau (BureauMSP) has co-approved the request under the consortium policy (version 1), and request r1 has no co-approval yet (POST /v1/requests/r1/coapprove) (policy rule bureauApproval)")},
			domain.CodeForbidden, "grade 4 data is approved only after", true},
		{"chaincode error without a code", script{endorseErr: statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info",
			"chaincode response 500, Function Frobnicate not found in contract")}, domain.CodeInternal, "the ledger call failed (endorse)", true},
		{"endorsers unreachable", script{endorseErr: statusErr(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info",
			"rpc error: code = Unavailable desc = connection refused")}, domain.CodeUnavailable, "could not collect enough endorsements", true},
		{"peer unavailable", script{endorseErr: statusErr(codes.Unavailable, "no peers available")}, domain.CodeUnavailable, "unavailable", true},
		{"no endorsement plan yet", script{endorseErr: statusErr(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy")}, domain.CodeUnavailable, "cannot endorse now", true},
		{"identity refused", script{endorseErr: statusErr(codes.Aborted, "failed to endorse transaction, see attached details for more info",
			"access denied: channel [datashare] creator org unknown, creator is malformed")}, domain.CodeForbidden, "refused this person's identity", true},
		{"orderers unavailable", script{submitErr: statusErr(codes.Unavailable, "insufficient number of orderers could successfully process transaction to satisfy quorum requirement")}, domain.CodeUnavailable, "unavailable (submit)", true},
		{"orderer service unavailable", script{submitErr: statusErr(codes.Aborted, "received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, info=no Raft leader")}, domain.CodeUnavailable, "ordering service is unavailable", true},
		{"orderer bad request", script{submitErr: statusErr(codes.Aborted, "received unsuccessful response from orderer: status=BAD_REQUEST, info=x")}, domain.CodeInternal, "the ledger call failed (submit)", true},
		{"commit status timeout", script{statusErr: statusErr(codes.DeadlineExceeded, "context deadline exceeded")}, domain.CodeUnavailable, "look it up before trying again", true},
		{"mvcc conflict", script{validation: peer.TxValidationCode_MVCC_READ_CONFLICT, block: 9}, domain.CodeConflict, "concurrent transaction", true},
		{"phantom read", script{validation: peer.TxValidationCode_PHANTOM_READ_CONFLICT, block: 9}, domain.CodeConflict, "concurrent transaction", true},
		{"endorsement policy failure", script{validation: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, block: 9}, domain.CodeUnavailable, "did not satisfy the endorsement policy", true},
		{"bad payload", script{validation: peer.TxValidationCode_BAD_PAYLOAD, block: 9}, domain.CodeInternal, "rejected at commit with BAD_PAYLOAD", true},
		{"endorse slower than the deadline", script{delay: 5 * time.Second}, domain.CodeUnavailable, "did not answer in time", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePeer{script: tt.peer}
			l := startPeer(t, f)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, txID, _, err := l.Submit(ctx, newPerson(t, "alice", domain.RoleOperator), "ApproveRequest", "r1", "{}")
			if err == nil {
				t.Fatal("Submit succeeded, want an error")
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != tt.wantCode || !strings.Contains(de.Message, tt.wantMsg) {
				t.Fatalf("error %v: domain error %+v, want code %s with %q", err, de, tt.wantCode, tt.wantMsg)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not a *fabric.Error", err)
			}
			if tt.wantTxID && (fe.TransactionID() == "" || fe.TransactionID() != txID) {
				t.Fatalf("error tx ID %q, Submit returned %q", fe.TransactionID(), txID)
			}
			if strings.HasPrefix(tt.wantMsg, "grade ") && (de.Details["rule"] != domain.RuleBureauApproval || de.Details["grade"] != "4" || domain.HTTPStatus(de.Code) != 403) {
				t.Errorf("grade denial %+v: want details rule bureauApproval, grade 4, and 403", de)
			}
			if f.validation != peer.TxValidationCode_VALID && de.Details["validationCode"] != f.validation.String() {
				t.Errorf("details %v lack validationCode %s", de.Details, f.validation)
			}
			if f.validation != peer.TxValidationCode_VALID && de.Details["blockNumber"] != "9" {
				t.Errorf("details %v lack blockNumber 9", de.Details)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode domain.Code
		wantMsg  string
	}{
		{"not found from chaincode", statusErr(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, [not_found] dataset d9 does not exist"), domain.CodeNotFound, "dataset d9 does not exist"},
		{"invalid from chaincode", statusErr(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, [invalid] pageSize must be 1-1000"), domain.CodeInvalid, "pageSize must be 1-1000"},
		{"no peers", statusErr(codes.Unavailable, "no peers available to evaluate chaincode ledger in channel datashare"), domain.CodeUnavailable, "unavailable (evaluate)"},
		{"access denied", statusErr(codes.FailedPrecondition, "evaluate call to endorser returned error: access denied: channel [datashare] creator org [Dept9MSP]"), domain.CodeForbidden, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePeer{script: script{evaluateErr: tt.err}}
			l := startPeer(t, f)
			_, err := l.Evaluate(context.Background(), newPerson(t, "carol", domain.RoleAuditor), "GetDataset", "d9")
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != tt.wantCode || !strings.Contains(de.Message, tt.wantMsg) {
				t.Fatalf("error %v: domain error %+v, want %s with %q", err, de, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// TestClassify covers errors built by hand, without a peer.
func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		txID     string
		wantCode domain.Code
		wantTxID string
	}{
		{"commit error", &client.CommitError{TransactionID: "tx1", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}, "", domain.CodeConflict, "tx1"},
		{"commit error wrapped", errors.Join(errors.New("ctx"), &client.CommitError{TransactionID: "tx2", Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}), "", domain.CodeUnavailable, "tx2"},
		{"commit error, other code", &client.CommitError{TransactionID: "tx3", Code: peer.TxValidationCode_INVALID_WRITESET}, "", domain.CodeInternal, "tx3"},
		{"plain deadline", context.DeadlineExceeded, "tx4", domain.CodeUnavailable, "tx4"},
		{"plain cancel", context.Canceled, "tx5", domain.CodeUnavailable, "tx5"},
		{"status deadline", status.Error(codes.DeadlineExceeded, "evaluate timeout expired"), "tx6", domain.CodeUnavailable, "tx6"},
		{"domain text", errors.New("chaincode response 500, [too_large] 2000 fields"), "tx7", domain.CodeTooLarge, "tx7"},
		{"invalid argument", status.Error(codes.InvalidArgument, "an evaluate request is required"), "", domain.CodeInternal, ""},
		{"permission denied", status.Error(codes.PermissionDenied, "not allowed"), "tx8", domain.CodeForbidden, "tx8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Classify(tt.err, tt.txID)
			if e.Domain.Code != tt.wantCode || e.TxID != tt.wantTxID {
				t.Fatalf("Classify(%v) = %s tx %q, want %s tx %q", tt.err, e.Domain.Code, e.TxID, tt.wantCode, tt.wantTxID)
			}
			if domain.ErrorCode(e) != tt.wantCode {
				t.Fatalf("domain.ErrorCode = %s", domain.ErrorCode(e))
			}
			if !errors.Is(e, tt.err) {
				t.Fatalf("the cause %v is not in the chain", tt.err)
			}
			if again := Classify(e, "other"); again != e {
				t.Fatal("classifying a classified error changed it")
			}
		})
	}
	if Classify(nil, "x") != nil {
		t.Fatal("Classify(nil) is not nil")
	}
}

func TestReadyAndClose(t *testing.T) {
	l := startPeer(t, &fakePeer{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := l.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	p := newPerson(t, "alice", domain.RoleOperator)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Ready(ctx); err == nil {
		t.Fatal("Ready after Close succeeded")
	}
	_, _, _, err := l.Submit(ctx, p, "RegisterDataset", "{}")
	if domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("Submit after Close: %v, want unavailable", err)
	}
}

func TestReadyUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := lis.Addr().String()
	must(t, lis.Close()) // nothing listens there now
	conn, err := grpc.NewClient("dns:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err)
	l := New(conn, "datashare", "ledger", DefaultTimeouts)
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := l.Ready(ctx); err == nil {
		t.Fatal("Ready succeeded with no peer listening")
	}
}
