package fabric

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
)

// A keyed write (an Idempotency-Key from the caller) is a transaction whose
// nonce, and so whose ID, is a function of the person and the key: Fabric
// derives the ID as SHA-256(nonce || creator), and the contract derives the
// IDs of the records a transaction creates from its ID. A retry is therefore
// the same transaction, and the ledger itself is the table of used keys, kept
// as long as the ledger: the peer refuses to endorse an ID it has committed,
// and the committers mark a second copy ordered in a race DUPLICATE_TXID. Before
// submitting, the gateway looks the ID up and, if it is there, answers
// from the committed transaction instead.

// keyedNonce is the nonce of p's write under key. creator is fixed for a
// person, so the concatenation is one-to-one in key.
//
// A keyed write whose transaction was invalidated for a read conflict (see
// retryReason) changed nothing, and is tried again as attempt 1, 2, ...: the
// same derivation with the attempt number appended, so that every attempt
// of a key is known in advance and a retry of the request walks them in
// order, answering from the first that is not such a conflict.
func keyedNonce(creator []byte, key string, attempt int) []byte {
	h := sha256.New()
	h.Write([]byte("govshare-idem\x00"))
	h.Write(creator)
	h.Write([]byte(key))
	if attempt > 0 {
		fmt.Fprintf(h, "\x00attempt %d", attempt)
	}
	return h.Sum(nil)[:24]
}

// creator is p's serialized identity as fabric-gateway puts it in every
// proposal's signature header.
func creator(p *identity.Person) ([]byte, error) {
	return proto.Marshal(&msp.SerializedIdentity{Mspid: p.ID.MspID(), IdBytes: p.ID.Credentials()})
}

// KeyedTxID is the transaction ID of p's write under key, the same for
// every retry (its first attempt; see keyedNonce).
func KeyedTxID(p *identity.Person, key string) (string, error) {
	c, err := creator(p)
	if err != nil {
		return "", err
	}
	id := sha256.Sum256(append(keyedNonce(c, key, 0), c...))
	return hex.EncodeToString(id[:]), nil
}

// keyedProposal builds, as fabric-gateway's proposal builder does, the
// proposal of txName with the keyed nonce, and hands it to gw, which signs
// it as p when it is endorsed. fabric-gateway draws a random nonce in
// Contract.NewProposal and has no option to choose it; Gateway.NewProposal
// takes a proposal built elsewhere (its offline-signing path).
func (l *Ledger) keyedProposal(gw *client.Gateway, p *identity.Person, key string, attempt int, txName string, args []string) (*client.Proposal, error) {
	c, err := creator(p)
	if err != nil {
		return nil, err
	}
	nonce := keyedNonce(c, key, attempt)
	sum := sha256.Sum256(append(append([]byte{}, nonce...), c...))
	txID := hex.EncodeToString(sum[:])

	m := func(msg proto.Message) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = proto.Marshal(msg)
		return b
	}
	ccArgs := [][]byte{[]byte(txName)}
	for _, a := range args {
		ccArgs = append(ccArgs, []byte(a))
	}
	channelHeader := m(&common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		Timestamp: timestamppb.Now(),
		ChannelId: l.channel,
		TxId:      txID,
		Extension: m(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: l.chaincode}}),
	})
	header := m(&common.Header{ChannelHeader: channelHeader, SignatureHeader: m(&common.SignatureHeader{Creator: c, Nonce: nonce})})
	payload := m(&peer.ChaincodeProposalPayload{Input: m(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		ChaincodeId: &peer.ChaincodeID{Name: l.chaincode},
		Input:       &peer.ChaincodeInput{Args: ccArgs},
	}})})
	proposalBytes := m(&peer.Proposal{Header: header, Payload: payload})
	ptx := m(&gateway.ProposedTransaction{TransactionId: txID, Proposal: &peer.SignedProposal{ProposalBytes: proposalBytes}})
	if err != nil {
		return nil, err
	}
	return gw.NewProposal(ptx)
}

// committedTx is what the ledger holds of one transaction.
type committedTx struct {
	txID     string
	block    uint64
	code     peer.TxValidationCode
	function string
	args     [][]byte
	payload  []byte // the chaincode's response payload
}

// errNotOnLedger says the peer has no transaction of that ID.
var errNotOnLedger = errors.New("no such transaction on the ledger")

// lookup finds transaction txID on the peer's ledger (qscc GetBlockByTxID,
// which answers the block of the ID's first occurrence, with its
// validation code in the block's metadata).
func (l *Ledger) lookup(ctx context.Context, gw *client.Gateway, txID string) (*committedTx, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeouts.Evaluate)
	defer cancel()
	out, err := gw.GetNetwork(l.channel).GetContract("qscc").EvaluateWithContext(ctx, "GetBlockByTxID", client.WithArguments(l.channel, txID))
	if err != nil {
		if anyContains(statusTexts(grpcStatus(err)), "no such transaction ID") {
			return nil, errNotOnLedger
		}
		return nil, err
	}
	var b common.Block
	if err := proto.Unmarshal(out, &b); err != nil {
		return nil, fmt.Errorf("decode block of transaction %s: %w", txID, err)
	}
	return findTx(&b, txID)
}

// findTx decodes transaction txID, its first occurrence, from block b.
func findTx(b *common.Block, txID string) (*committedTx, error) {
	var filter []byte
	if md := b.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	for i, raw := range b.GetData().GetData() {
		var env common.Envelope
		var pl common.Payload
		var ch common.ChannelHeader
		if proto.Unmarshal(raw, &env) != nil || proto.Unmarshal(env.GetPayload(), &pl) != nil ||
			proto.Unmarshal(pl.GetHeader().GetChannelHeader(), &ch) != nil || ch.GetTxId() != txID {
			continue
		}
		ct := &committedTx{txID: txID, block: b.GetHeader().GetNumber(), code: peer.TxValidationCode_INVALID_OTHER_REASON}
		if i < len(filter) {
			ct.code = peer.TxValidationCode(filter[i])
		}
		var tx peer.Transaction
		if err := proto.Unmarshal(pl.GetData(), &tx); err != nil {
			return nil, fmt.Errorf("transaction %s in block %d holds no action: %v", txID, ct.block, err)
		}
		var actionPayload peer.ChaincodeActionPayload
		var cpp peer.ChaincodeProposalPayload
		var cis peer.ChaincodeInvocationSpec
		var prp peer.ProposalResponsePayload
		var action peer.ChaincodeAction
		if err := errors.Join(
			proto.Unmarshal(tx.GetActions()[0].GetPayload(), &actionPayload),
			proto.Unmarshal(actionPayload.GetChaincodeProposalPayload(), &cpp),
			proto.Unmarshal(cpp.GetInput(), &cis),
			proto.Unmarshal(actionPayload.GetAction().GetProposalResponsePayload(), &prp),
			proto.Unmarshal(prp.GetExtension(), &action),
		); err != nil {
			return nil, fmt.Errorf("decode transaction %s in block %d: %w", txID, ct.block, err)
		}
		if args := cis.GetChaincodeSpec().GetInput().GetArgs(); len(args) > 0 {
			ct.function, ct.args = string(args[0]), args[1:]
		}
		ct.payload = action.GetResponse().GetPayload()
		return ct, nil
	}
	return nil, fmt.Errorf("block %d holds no transaction %s", b.GetHeader().GetNumber(), txID)
}

// answer is the answer to a keyed write whose transaction is on the ledger:
// the first result again when it is the same call, a conflict when the key
// was used for another call, the first failure again when it was invalid.
func (ct *committedTx) answer(txName string, args []string) ([]byte, string, uint64, error) {
	same := ct.function == txName && len(ct.args) == len(args)
	for i := 0; same && i < len(args); i++ {
		same = bytes.Equal(ct.args[i], []byte(args[i]))
	}
	if !same {
		d := domain.Errorf(domain.CodeConflict, "Idempotency-Key reused with another body: it was used for transaction %s (%s) in block %d", ct.txID, ct.function, ct.block).
			WithDetail("blockNumber", fmt.Sprint(ct.block))
		return nil, ct.txID, ct.block, &Error{Domain: d, TxID: ct.txID}
	}
	if ct.code != peer.TxValidationCode_VALID {
		e := commitFailure(ct.txID, ct.code, fmt.Errorf("transaction %s invalid in block %d: %s", ct.txID, ct.block, ct.code))
		e.Domain.WithDetail("blockNumber", fmt.Sprint(ct.block)).
			WithDetail("idempotencyKey", "used: this key's transaction was rejected; send the write again with a new key")
		return nil, ct.txID, ct.block, e
	}
	return ct.payload, ct.txID, ct.block, nil
}

// SubmitKeyed submits txName as p under the caller's idempotency key. If the
// key's transaction is already on the ledger it writes nothing and answers
// from it (replayed true); otherwise it submits the keyed transaction. key
// must already be checked (length, characters) by the caller.
//
// An attempt invalidated by a read conflict is followed by the key's next
// attempt (keyedNonce), at most maxAttempts in all: one already on the
// ledger is passed over at once, one this call submitted after a short wait.
func (l *Ledger) SubmitKeyed(ctx context.Context, p *identity.Person, key, txName string, args ...string) (result []byte, txID string, blockNumber uint64, replayed bool, err error) {
	gw, err := l.gateway(p)
	if err != nil {
		return nil, "", 0, false, errorf(domain.CodeUnavailable, "", err, "the ledger connection is not open")
	}
	var fl uint64
	hasFloor := false
	for attempt := 0; ; attempt++ {
		if hasFloor {
			if err := l.awaitFloor(ctx, p, fl); err != nil {
				return nil, "", 0, false, err
			}
		}
		result, txID, blockNumber, replayed, err = l.submitKeyedAttempt(ctx, gw, p, key, attempt, txName, args)
		if !replayed {
			l.sawCommit(p, blockNumber, err)
		}
		if retryReason(err) == "" || attempt+1 >= maxAttempts {
			return result, txID, blockNumber, replayed, err
		}
		if !replayed && !l.again(ctx, err, attempt) {
			return result, txID, blockNumber, replayed, err
		}
		fl, hasFloor = floorAfter(fl, hasFloor, err)
	}
}

// submitKeyedAttempt is one attempt of SubmitKeyed: it answers from the
// attempt's transaction if the ledger holds it, and submits it otherwise.
func (l *Ledger) submitKeyedAttempt(ctx context.Context, gw *client.Gateway, p *identity.Person, key string, attempt int, txName string, args []string) (result []byte, txID string, blockNumber uint64, replayed bool, err error) {
	proposal, err := l.keyedProposal(gw, p, key, attempt, txName, args)
	if err != nil {
		return nil, "", 0, false, errorf(domain.CodeInternal, "", err, "build %s proposal", txName)
	}
	txID = proposal.TransactionID()
	replay := func() ([]byte, string, uint64, bool, error) {
		ct, err := l.lookup(ctx, gw, txID)
		if err != nil {
			if errors.Is(err, errNotOnLedger) {
				return nil, txID, 0, false, err
			}
			return nil, txID, 0, false, errorf(domain.CodeUnavailable, txID, err,
				"whether Idempotency-Key was used cannot be checked now; nothing was submitted, retry with the same key")
		}
		r, id, b, err := ct.answer(txName, args)
		return r, id, b, true, err
	}
	if r, id, b, ok, err := replay(); !errors.Is(err, errNotOnLedger) {
		return r, id, b, ok, err
	}

	result, txID, blockNumber, err = l.run(ctx, proposal)
	var fe *Error
	switch {
	case err == nil:
		// A same-key request racing this one may have been ordered first, in
		// which case this copy was the DUPLICATE_TXID one and the commit
		// status spoke of the first: answer what the ledger holds.
		// A lookup that fails now leaves this transaction's own result,
		// which did commit.
		r, id, b, _, lerr := replay()
		var ae *Error
		switch {
		case lerr == nil:
			return r, id, b, false, nil
		case errors.As(lerr, &ae) && ae.Domain.Code == domain.CodeConflict:
			// The first of the race was another body under this key.
			return r, id, b, true, lerr
		}
		return result, txID, blockNumber, false, nil
	case errors.As(err, &fe) && fe.Domain.Details["validationCode"] == peer.TxValidationCode_DUPLICATE_TXID.String():
		// Committed meanwhile by a same-key request.
		if r, id, b, ok, lerr := replay(); !errors.Is(lerr, errNotOnLedger) {
			return r, id, b, ok, lerr
		}
	case anyContains(statusTexts(grpcStatus(err)), "duplicate transaction found") || anyContains(statusTexts(grpcStatus(err)), "("+l.channel+") exists"):
		// The peer refused to endorse: the key's transaction is committed
		// ("duplicate transaction found") or a same-key request is being
		// endorsed right now ("txid: … exists"). Wait for it and answer it.
		return l.awaitKeyed(ctx, replay, txID)
	}
	return result, txID, blockNumber, false, err
}

// awaitKeyed waits for a same-key request in flight to commit and answers
// what it committed.
func (l *Ledger) awaitKeyed(ctx context.Context, replay func() ([]byte, string, uint64, bool, error), txID string) ([]byte, string, uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeouts.Endorse+l.timeouts.Submit+l.timeouts.CommitStatus)
	defer cancel()
	for {
		r, id, b, ok, err := replay()
		if !errors.Is(err, errNotOnLedger) {
			return r, id, b, ok, err
		}
		select {
		case <-ctx.Done():
			return nil, txID, 0, false, errorf(domain.CodeUnavailable, txID, ctx.Err(),
				"a request with this Idempotency-Key is still in progress; retry with the same key")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
