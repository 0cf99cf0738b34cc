package contract

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// This file holds the test double of the peer: a ledger that really stores
// state (world state, key-level endorsement policies, per-key history) and a
// per-transaction stub with Fabric's semantics where the contract depends on
// them: reads see committed state only (not the transaction's own writes),
// writes commit only when the transaction succeeds, composite-key range scans
// are sorted, paginated scans return Fabric's next-key bookmark, history is
// newest first, and a transaction that ran a paginated query may not write.
// Identities are real X.509 certificates with the Fabric CA attribute
// extension, so the contract reads the role the way it does on a peer.

// historyRecord is one committed change of a key.
type historyRecord struct {
	txID     string
	ts       time.Time
	value    []byte
	isDelete bool
}

// fakeLedger is the committed state shared by the transactions of one test.
type fakeLedger struct {
	state   map[string][]byte
	sbe     map[string][]byte
	history map[string][]historyRecord
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{state: map[string][]byte{}, sbe: map[string][]byte{}, history: map[string][]historyRecord{}}
}

// clone copies the ledger, so a test can compare it before and after a call.
func (l *fakeLedger) clone() *fakeLedger {
	c := newFakeLedger()
	maps.Copy(c.state, l.state)
	maps.Copy(c.sbe, l.sbe)
	for k, v := range l.history {
		c.history[k] = slices.Clone(v)
	}
	return c
}

func (l *fakeLedger) equal(o *fakeLedger) bool {
	if !maps.EqualFunc(l.state, o.state, bytes.Equal) || !maps.EqualFunc(l.sbe, o.sbe, bytes.Equal) {
		return false
	}
	return maps.EqualFunc(l.history, o.history, func(a, b []historyRecord) bool { return len(a) == len(b) })
}

// sortedKeys returns the committed keys in [start, end), in byte order.
func (l *fakeLedger) sortedKeys(start, end string) []string {
	var keys []string
	for k := range l.state {
		if k >= start && (end == "" || k < end) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// capturedEvent is a chaincode event set by a transaction.
type capturedEvent struct {
	name    string
	payload []byte
}

// txStub is the stub of one transaction. Methods the contract must not use
// are left to the embedded nil interface, so calling one panics the test.
type txStub struct {
	shim.ChaincodeStubInterface

	ledger    *fakeLedger
	args      [][]byte
	txID      string
	ts        time.Time
	creator   []byte
	writes    map[string][]byte // nil value: a delete
	sbeWrites map[string][]byte
	events    []capturedEvent
	paginated bool
	getErr    error // injected peer failures
	putErr    error
}

func (s *txStub) GetArgs() [][]byte { return s.args }

func (s *txStub) GetStringArgs() []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = string(a)
	}
	return out
}

func (s *txStub) GetFunctionAndParameters() (string, []string) {
	a := s.GetStringArgs()
	if len(a) == 0 {
		return "", nil
	}
	return a[0], a[1:]
}

func (s *txStub) GetTxID() string      { return s.txID }
func (s *txStub) GetChannelID() string { return "datashare" }

func (s *txStub) GetCreator() ([]byte, error) {
	if s.creator == nil {
		return nil, errors.New("no creator in the proposal")
	}
	return s.creator, nil
}

func (s *txStub) GetTxTimestamp() (*timestamppb.Timestamp, error) { return timestamppb.New(s.ts), nil }

func (s *txStub) GetState(key string) ([]byte, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.ledger.state[key], nil
}

func (s *txStub) PutState(key string, value []byte) error {
	if s.putErr != nil {
		return s.putErr
	}
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if len(value) == 0 {
		return fmt.Errorf("value of key %q is empty: that would be a delete", key)
	}
	s.writes[key] = slices.Clone(value)
	return nil
}

func (s *txStub) DelState(key string) error {
	s.writes[key] = nil
	return nil
}

func (s *txStub) SetStateValidationParameter(key string, ep []byte) error {
	s.sbeWrites[key] = slices.Clone(ep)
	return nil
}

func (s *txStub) GetStateValidationParameter(key string) ([]byte, error) {
	return s.ledger.sbe[key], nil
}

func (s *txStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *txStub) SplitCompositeKey(key string) (string, []string, error) {
	if !strings.HasPrefix(key, "\x00") || !strings.HasSuffix(key, "\x00") {
		return "", nil, fmt.Errorf("%q is not a composite key", key)
	}
	parts := strings.Split(key[1:len(key)-1], "\x00")
	return parts[0], parts[1:], nil
}

func (s *txStub) partialRange(objectType string, attrs []string) (string, string, error) {
	start, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return "", "", err
	}
	return start, start + string(utf8.MaxRune), nil
}

func (s *txStub) GetStateByPartialCompositeKey(objectType string, attrs []string) (shim.StateQueryIteratorInterface, error) {
	start, end, err := s.partialRange(objectType, attrs)
	if err != nil {
		return nil, err
	}
	return s.kvIterator(s.ledger.sortedKeys(start, end)), nil
}

func (s *txStub) GetStateByPartialCompositeKeyWithPagination(objectType string, attrs []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	s.paginated = true
	start, end, err := s.partialRange(objectType, attrs)
	if err != nil {
		return nil, nil, err
	}
	if bookmark != "" {
		if bookmark < start || bookmark >= end {
			return nil, nil, fmt.Errorf("bookmark %q is outside the queried range", bookmark)
		}
		start = bookmark
	}
	keys := s.ledger.sortedKeys(start, end)
	next := ""
	if pageSize > 0 && len(keys) > int(pageSize) {
		next = keys[pageSize]
		keys = keys[:pageSize]
	}
	return s.kvIterator(keys), &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(keys)), Bookmark: next}, nil
}

func (s *txStub) kvIterator(keys []string) *kvIter {
	it := &kvIter{}
	for _, k := range keys {
		it.items = append(it.items, &queryresult.KV{Namespace: "ledger", Key: k, Value: s.ledger.state[k]})
	}
	return it
}

func (s *txStub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	recs := s.ledger.history[key]
	it := &historyIter{}
	for i := len(recs) - 1; i >= 0; i-- { // newest first, as Fabric 2.x
		r := recs[i]
		it.items = append(it.items, &queryresult.KeyModification{
			TxId: r.txID, Value: r.value, Timestamp: timestamppb.New(r.ts), IsDelete: r.isDelete,
		})
	}
	return it, nil
}

func (s *txStub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.events = append(s.events, capturedEvent{name: name, payload: slices.Clone(payload)})
	return nil
}

// commit applies the transaction's writes, as a valid transaction in a block.
func (s *txStub) commit() {
	for k, v := range s.writes {
		if v == nil {
			delete(s.ledger.state, k)
		} else {
			s.ledger.state[k] = v
		}
		s.ledger.history[k] = append(s.ledger.history[k], historyRecord{txID: s.txID, ts: s.ts, value: v, isDelete: v == nil})
	}
	maps.Copy(s.ledger.sbe, s.sbeWrites)
}

type kvIter struct {
	items []*queryresult.KV
	i     int
}

func (it *kvIter) HasNext() bool { return it.i < len(it.items) }
func (it *kvIter) Close() error  { return nil }
func (it *kvIter) Next() (*queryresult.KV, error) {
	if !it.HasNext() {
		return nil, errors.New("no more results")
	}
	it.i++
	return it.items[it.i-1], nil
}

type historyIter struct {
	items []*queryresult.KeyModification
	i     int
}

func (it *historyIter) HasNext() bool { return it.i < len(it.items) }
func (it *historyIter) Close() error  { return nil }
func (it *historyIter) Next() (*queryresult.KeyModification, error) {
	if !it.HasNext() {
		return nil, errors.New("no more results")
	}
	it.i++
	return it.items[it.i-1], nil
}

// who is a person: department, role ("" for a certificate without the role
// attribute) and user name.
type who struct {
	msp, role, user string
}

// The cast of most tests: Dept1 owns data, Dept2 requests it, Dept3 is a
// bystander that also evaluates.
var (
	op1  = who{"Dept1MSP", "operator", "op1"}
	ap1  = who{"Dept1MSP", "approver", "ap1"}
	ad1  = who{"Dept1MSP", "admin", "ad1"}
	op2  = who{"Dept2MSP", "operator", "op2"}
	ap2  = who{"Dept2MSP", "approver", "ap2"}
	ad2  = who{"Dept2MSP", "admin", "ad2"}
	op3  = who{"Dept3MSP", "operator", "op3"}
	ev3  = who{"Dept3MSP", "evaluator", "ev3"}
	au3  = who{"Dept3MSP", "auditor", "au3"}
	anon = who{"Dept1MSP", "", "norole"}
)

func (w who) subject() string { return "CN=" + w.user + ",OU=client,O=" + w.msp }

// harness drives the real contract, through contractapi, against the fake
// ledger.
type harness struct {
	t      *testing.T
	cc     *contractapi.ContractChaincode
	ledger *fakeLedger
	now    time.Time
	// peerOffset is how far the endorsing peer's clock is ahead of the
	// transaction timestamps (now); zero: the client's clock is right.
	peerOffset time.Duration
	seq        int
	certs      map[who][]byte
	last       *txStub

	// Overrides for the next transactions: a fixed transaction ID (to
	// force a derived-ID collision) and peer failures.
	txID           string
	getErr, putErr error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	l := newFakeLedger()
	l.seedProfiles()
	h := &harness{
		t: t, ledger: l, certs: map[who][]byte{},
		now: time.Date(2026, 3, 10, 9, 30, 0, 123456789, time.UTC),
	}
	c := New()
	c.Now = func() time.Time { return h.now.Add(h.peerOffset) }
	cc, err := contractapi.NewChaincode(c)
	if err != nil {
		t.Fatalf("NewChaincode: %v", err)
	}
	h.cc = cc
	return h
}

// advance moves the clock that the next transactions are stamped with.
func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// creator is the serialized identity of w, as a proposal carries it.
func (h *harness) creator(w who) []byte {
	if b, ok := h.certs[w]; ok {
		return b
	}
	b := serializedIdentity(h.t, w)
	h.certs[w] = b
	return b
}

func serializedIdentity(t *testing.T, w who) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: w.user, OrganizationalUnit: []string{"client"}, Organization: []string{w.msp}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if w.role != "" {
		attrs, err := json.Marshal(attrmgr.Attributes{Attrs: map[string]string{"role": w.role, "hf.EnrollmentID": w.user}})
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: attrmgr.AttrOID, Value: attrs}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	b, err := proto.Marshal(&msp.SerializedIdentity{Mspid: w.msp, IdBytes: pemBytes})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// outcome is what one invocation did.
type outcome struct {
	payload string
	err     *domain.Error // nil on success
	events  []capturedEvent
	writes  map[string][]byte
	sbe     map[string][]byte
	txID    string
}

// invoke runs fn as w and commits its writes if it succeeds.
func (h *harness) invoke(w who, fn string, args ...string) outcome {
	return h.invokeAs(h.creator(w), fn, args...)
}

func (h *harness) invokeAs(creator []byte, fn string, args ...string) outcome {
	h.t.Helper()
	h.seq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("tx-%d", h.seq)))
	stub := &txStub{
		ledger: h.ledger, txID: hex.EncodeToString(sum[:]), ts: h.now, creator: creator,
		writes: map[string][]byte{}, sbeWrites: map[string][]byte{}, getErr: h.getErr, putErr: h.putErr,
	}
	if h.txID != "" {
		stub.txID = h.txID
	}
	stub.args = append(stub.args, []byte(fn))
	for _, a := range args {
		stub.args = append(stub.args, []byte(a))
	}
	h.last = stub
	resp := h.cc.Invoke(stub)
	out := outcome{events: stub.events, writes: stub.writes, sbe: stub.sbeWrites, txID: stub.txID}
	if resp.GetStatus() != shim.OK {
		out.err = domain.ParseError(resp.GetMessage())
		if out.err == nil {
			out.err = &domain.Error{Code: "untyped", Message: resp.GetMessage()}
		}
		return out
	}
	if stub.paginated && (len(stub.writes) > 0 || len(stub.sbeWrites) > 0) {
		h.t.Fatalf("%s ran a paginated query and wrote state: a peer refuses that", fn)
	}
	out.payload = string(resp.GetPayload())
	stub.commit()
	return out
}

// ok runs a call that must succeed and returns its result.
func (h *harness) ok(w who, fn string, args ...string) outcome {
	h.t.Helper()
	out := h.invoke(w, fn, args...)
	if out.err != nil {
		h.t.Fatalf("%s as %s/%s: %v", fn, w.msp, w.role, out.err)
	}
	return out
}

// submit runs a state-changing call that must succeed, checks that it set
// exactly one event, and decodes its result into v.
func (h *harness) submit(w who, v any, fn string, args ...string) outcome {
	h.t.Helper()
	out := h.ok(w, fn, args...)
	if len(out.events) != 1 {
		h.t.Fatalf("%s set %d events, want exactly 1", fn, len(out.events))
	}
	if len(out.writes) == 0 {
		h.t.Fatalf("%s succeeded but wrote nothing", fn)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out.payload), v); err != nil {
			h.t.Fatalf("%s result %s: %v", fn, out.payload, err)
		}
	}
	return out
}

// query runs a read that must succeed, write nothing and set no event.
func (h *harness) query(w who, v any, fn string, args ...string) outcome {
	h.t.Helper()
	out := h.ok(w, fn, args...)
	if len(out.events) != 0 || len(out.writes) != 0 || len(out.sbe) != 0 {
		h.t.Fatalf("read %s wrote %d keys, %d policies and %d events", fn, len(out.writes), len(out.sbe), len(out.events))
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out.payload), v); err != nil {
			h.t.Fatalf("%s result %s: %v", fn, out.payload, err)
		}
	}
	return out
}

// reject runs a call that must fail with code and a message containing
// want, having written nothing and set no event; it returns the outcome.
func (h *harness) reject(w who, code domain.Code, want string, fn string, args ...string) outcome {
	h.t.Helper()
	return h.rejectAs(h.creator(w), code, want, fn, args...)
}

func (h *harness) rejectAs(creator []byte, code domain.Code, want string, fn string, args ...string) outcome {
	h.t.Helper()
	before := h.ledger.clone()
	out := h.invokeAs(creator, fn, args...)
	if out.err == nil {
		h.t.Fatalf("%s succeeded (%s), want [%s] %s", fn, out.payload, code, want)
	}
	if out.err.Code != code || !strings.Contains(out.err.Message, want) {
		h.t.Fatalf("%s failed with %q, want [%s] containing %q", fn, out.err.Error(), code, want)
	}
	if len(out.writes) != 0 || len(out.sbe) != 0 || len(out.events) != 0 {
		h.t.Fatalf("rejected %s wrote %d keys, %d policies and %d events before failing", fn, len(out.writes), len(out.sbe), len(out.events))
	}
	if !h.ledger.equal(before) {
		h.t.Fatalf("rejected %s changed the ledger", fn)
	}
	return out
}

// event decodes the one event of a successful call and checks the envelope
// fields every event has.
func (h *harness) event(out outcome, typ domain.EventType, kind domain.Kind, id string, actor who) *domain.Event {
	h.t.Helper()
	if len(out.events) != 1 {
		h.t.Fatalf("got %d events, want 1", len(out.events))
	}
	e, err := domain.DecodeEvent(out.events[0].payload)
	if err != nil {
		h.t.Fatalf("decode event: %v", err)
	}
	if out.events[0].name != string(typ) || e.Type != typ {
		h.t.Errorf("event name %q type %q, want %q", out.events[0].name, e.Type, typ)
	}
	if e.Version != domain.EventVersion || e.Kind != kind || e.ID != id {
		h.t.Errorf("event v%d %s %s, want v%d %s %s", e.Version, e.Kind, e.ID, domain.EventVersion, kind, id)
	}
	if !e.Time.Equal(h.now) || e.Time.Location() != time.UTC {
		h.t.Errorf("event time %v, want the tx time %v in UTC", e.Time, h.now)
	}
	want := domain.Actor{MSPID: actor.msp, Subject: actor.subject(), Role: domain.Role(actor.role)}
	if e.Actor != want {
		h.t.Errorf("event actor %+v, want %+v", e.Actor, want)
	}
	return e
}

// key is the state key of an entity.
func key(t *testing.T, kind domain.Kind, id string) string {
	t.Helper()
	k, err := shim.CreateCompositeKey(string(kind), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jsonOf marshals v for a transaction argument.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// with returns the JSON of v with the fields of patch merged over it, so a
// test can break one field of a valid input at a time.
func with(t *testing.T, v any, patch string) string {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(jsonOf(t, v)), &m); err != nil {
		t.Fatal(err)
	}
	p := map[string]any{}
	if err := json.Unmarshal([]byte(patch), &p); err != nil {
		t.Fatalf("patch %s: %v", patch, err)
	}
	maps.Copy(m, p)
	return jsonOf(t, m)
}
