package main

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block/blocktest"
)

// SyntheticSpec describes a ledger to build without Fabric: real, signed
// Fabric blocks (package blocktest) holding the chaincode events the
// contract emits for the benchmark's mix, so that an indexer replays it
// through the same decode and apply code as blocks from a peer.
type SyntheticSpec struct {
	Channel     string
	Txs         int           // endorser transactions, config excluded
	TxsPerBlock int           // transactions per block
	HotEvents   int           // events about the one hot dataset (register, request, approve, then usage)
	Start       time.Time     // the first transaction's time
	Span        time.Duration // the ledger's transactions spread evenly over it
	Flows       int           // flows interleaved at once, as concurrent clients interleave them
	// People signs the transactions: for each MSP ID, an operator and an
	// approver. At least two departments.
	People []DeptPeople
	// Catalog, when set, bounds the datasets: once that many are
	// registered, each new flow asks for one of them again (from its
	// request on), as a province's departments exchange the same catalog
	// year after year. 0: every flow registers a dataset of its own.
	Catalog int
	// Sink, when set, takes each block as it is made, and Blocks stays
	// empty: a ledger of millions of transactions is not held in memory.
	Sink func(raw []byte) error
}

// DeptPeople are one department's signers.
type DeptPeople struct {
	MSPID    string
	Operator blocktest.Identity
	Approver blocktest.Identity
}

// Synthetic is the built ledger, each block marshalled as a peer would
// send it.
type Synthetic struct {
	Blocks     [][]byte
	NBlocks    int // blocks made, genesis included (Blocks holds them unless a sink took them)
	Txs        int
	Events     map[domain.EventType]int
	HotDataset string
	Period     string // the month the transactions fall in
	From, To   time.Time
	TxsPerBlk  int
}

// flowState is a flow of the mix in progress in the synthetic ledger.
type flowState struct {
	p         pair
	datasetID string
	next      int // index into Ops of the next step
	request   domain.Request
	delivery  domain.Delivery
}

// emitFunc adds one transaction, signed by signer, carrying e, with ID txID.
type emitFunc func(signer blocktest.Identity, e *domain.Event, txID string) error

// BuildSynthetic makes the ledger: a genesis block, then spec.Txs
// transactions: flows of the seven-step mix interleaved spec.Flows at a
// time, with the hot dataset's usage events spread evenly among them.
func BuildSynthetic(spec SyntheticSpec) (*Synthetic, error) {
	if len(spec.People) < 2 {
		return nil, errors.New("synthetic ledger: at least two departments are needed")
	}
	if spec.TxsPerBlock < 1 || spec.Txs < spec.HotEvents || spec.HotEvents < 3 {
		return nil, fmt.Errorf("synthetic ledger: %d transactions, %d per block, %d hot events: need txs >= hot events >= 3 and a block size",
			spec.Txs, spec.TxsPerBlock, spec.HotEvents)
	}
	people := map[string]DeptPeople{}
	var depts []Dept
	for _, p := range spec.People {
		people[p.MSPID] = p
		depts = append(depts, Dept{MSPID: p.MSPID})
	}
	pairs := pairsOf(&Consortium{Depts: depts})
	step := spec.Span / time.Duration(spec.Txs)

	out := &Synthetic{Events: map[domain.EventType]int{}, From: spec.Start, To: spec.Start.Add(spec.Span),
		TxsPerBlk: spec.TxsPerBlock, Period: spec.Start.Format("2006-01"), HotDataset: "hot-dataset"}
	chain := blocktest.NewChain(spec.Channel)
	chain.Clock = spec.Start
	gen, err := marshalBlock(chain.Genesis(spec.People[0].Operator))
	if err != nil {
		return nil, err
	}
	if err := out.add(spec.Sink, gen); err != nil {
		return nil, err
	}

	var (
		txs   []blocktest.Tx
		clock = spec.Start
	)
	emit := func(signer blocktest.Identity, e *domain.Event, txID string) error {
		txs = append(txs, blocktest.Tx{ID: txID, Signer: signer, Event: e, Time: e.Time})
		out.Events[e.Type]++
		out.Txs++
		if len(txs) < spec.TxsPerBlock {
			return nil
		}
		b, err := marshalBlock(chain.Block(txs...))
		txs = txs[:0]
		if err != nil {
			return err
		}
		return out.add(spec.Sink, b)
	}
	// Each transaction gets a 64-hex ID, as Fabric's are; the entity IDs
	// derive from it the way the contract derives them.
	next := func() (string, time.Time) {
		s := sha256.Sum256(fmt.Appendf(nil, "synthetic tx %d", out.Txs))
		t := clock
		clock = clock.Add(step)
		return hex.EncodeToString(s[:]), t
	}

	// The hot dataset: registered, requested and approved first; then its
	// usage, spread evenly through the rest of the ledger.
	hot := &flowState{p: pairs[0], datasetID: out.HotDataset}
	for range 3 {
		id, t := next()
		if err := hot.step(id, t, people, emit); err != nil {
			return nil, err
		}
	}
	hotLeft := spec.HotEvents - 3
	total := spec.Txs - 3
	active := make([]*flowState, 0, max(spec.Flows, 1))
	flows, flowTxs := 0, 0
	for i := range total {
		id, t := next()
		if (i+1)*hotLeft/total > i*hotLeft/total {
			if err := hot.usage(id, t, people, emit); err != nil {
				return nil, err
			}
			continue
		}
		if len(active) < cap(active) {
			flows++
			active = append(active, newFlow(flows, spec.Catalog, pairs))
		}
		k := flowTxs % len(active)
		flowTxs++
		if err := active[k].step(id, t, people, emit); err != nil {
			return nil, err
		}
		if active[k].next == len(Ops) {
			flows++
			active[k] = newFlow(flows, spec.Catalog, pairs)
		}
	}
	if len(txs) > 0 {
		b, err := marshalBlock(chain.Block(txs...))
		if err != nil {
			return nil, err
		}
		if err := out.add(spec.Sink, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// add keeps a block, or hands it to sink.
func (s *Synthetic) add(sink func([]byte) error, raw []byte) error {
	s.NBlocks++
	if sink != nil {
		return sink(raw)
	}
	s.Blocks = append(s.Blocks, raw)
	return nil
}

// newFlow is the n-th flow: on a dataset of its own, or with a bounded
// catalog past its size, on dataset n modulo the catalog, which is
// registered already (the flow starts at its request, between the same
// departments as the flow that registered it).
func newFlow(n, catalog int, pairs []pair) *flowState {
	if catalog > 0 && n > catalog {
		k := (n-1)%catalog + 1
		return &flowState{p: pairs[(k-1)%len(pairs)], datasetID: fmt.Sprintf("ds-%06d", k), next: 1}
	}
	return &flowState{p: pairs[(n-1)%len(pairs)], datasetID: fmt.Sprintf("ds-%06d", n)}
}

// step emits the flow's next transaction, with the entity state the
// contract would write and the event it would emit.
func (f *flowState) step(txID string, t time.Time, people map[string]DeptPeople, emit emitFunc) error {
	if f.next >= len(Ops) {
		return fmt.Errorf("flow %s is complete", f.datasetID)
	}
	owner, consumer, contributor := people[f.p.owner], people[f.p.consumer], people[f.p.contributor]
	hash := sha256.Sum256([]byte("content " + f.datasetID))
	digest := hex.EncodeToString(hash[:])
	var (
		signer blocktest.Identity
		e      *domain.Event
	)
	switch Ops[f.next] {
	case OpRegister:
		signer = owner.Operator
		a := signer.Actor(domain.RoleOperator)
		e = blocktest.DatasetEvent(domain.EventDatasetRegistered, a, domain.Dataset{ID: f.datasetID, Owner: owner.MSPID,
			Title: "Benchmark dataset " + f.datasetID, Description: "Households by district, for the benchmark",
			Fields: []string{"householdId", "district", "members"}, UpdateFrequency: "daily", ShareType: domain.ShareConditional,
			OpenType: domain.OpenRestricted, Grade: 2, Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{},
			CreatedAt: t, UpdatedAt: t, CreatedBy: a, UpdatedBy: a})
	case OpRequest:
		signer = consumer.Operator
		a := signer.Actor(domain.RoleOperator)
		f.request = domain.Request{ID: "rq-" + txID[:24], DatasetID: f.datasetID, DatasetVersion: 1, Requester: consumer.MSPID,
			Owner: owner.MSPID, Fields: []string{"householdId", "members"}, Purpose: "verify benefit eligibility",
			LegalBasis: "Social Assistance Regulation art. 12", ValidUntil: t.Add(365 * 24 * time.Hour).Truncate(time.Second),
			Status: domain.RequestPending, CreatedAt: t, CreatedBy: a}
		e = blocktest.RequestEvent(domain.EventRequestCreated, a, f.request)
	case OpApprove:
		signer = owner.Approver
		a := signer.Actor(domain.RoleApprover)
		f.request.Status, f.request.DecidedAt, f.request.DecidedBy, f.request.Reason = domain.RequestApproved, &t, &a, "legal basis checked"
		e = blocktest.RequestEvent(domain.EventRequestApproved, a, f.request)
	case OpDeliver:
		signer = owner.Operator
		a := signer.Actor(domain.RoleOperator)
		f.delivery = domain.Delivery{ID: "dl-" + txID[:24], RequestID: f.request.ID, DatasetID: f.datasetID, Owner: owner.MSPID,
			Requester: consumer.MSPID, SHA256: digest, Records: 1200, Bytes: 48000, Channel: "sftp",
			Status: domain.DeliveryDelivered, DeliveredAt: t, DeliveredBy: a}
		e = blocktest.DeliveryEvent(domain.EventDeliveryRecorded, a, f.delivery)
	case OpReceipt:
		signer = consumer.Operator
		a := signer.Actor(domain.RoleOperator)
		f.delivery.Status, f.delivery.ReceiptSHA256, f.delivery.ReceivedAt, f.delivery.ReceivedBy = domain.DeliveryReceived, digest, &t, &a
		e = blocktest.DeliveryEvent(domain.EventDeliveryReceived, a, f.delivery)
	case OpUsage:
		return f.usage(txID, t, people, emit)
	case OpContribution:
		signer = contributor.Operator
		a := signer.Actor(domain.RoleOperator)
		e = blocktest.ContributionEvent(a, domain.Contribution{ID: "cb-" + txID[:24], DatasetID: f.datasetID, Contributor: contributor.MSPID,
			Owner: owner.MSPID, Records: 100, Bytes: 4000, SHA256: digest, At: t, By: a})
	}
	f.next++
	e.Time = t
	return emit(signer, e, txID)
}

// usage emits a usage event under the flow's request: the flow's usage
// step or, for the hot dataset, one of its many uses.
func (f *flowState) usage(txID string, t time.Time, people map[string]DeptPeople, emit emitFunc) error {
	if f.request.ID == "" {
		return fmt.Errorf("flow %s: usage before its request", f.datasetID)
	}
	consumer := people[f.p.consumer]
	signer := consumer.Operator
	a := signer.Actor(domain.RoleOperator)
	e := blocktest.UsageEvent(a, domain.Usage{ID: "us-" + txID[:24], RequestID: f.request.ID, DatasetID: f.datasetID,
		Consumer: consumer.MSPID, Owner: f.request.Owner, Calls: 3, Records: 600, At: t, By: a})
	e.Time = t
	if f.next < len(Ops) && Ops[f.next] == OpUsage {
		f.next++
	}
	return emit(signer, e, txID)
}

func marshalBlock(b *common.Block) ([]byte, error) {
	raw, err := proto.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("marshal block %d: %w", b.GetHeader().GetNumber(), err)
	}
	return raw, nil
}

// loadSigner reads a person's certificate and EC key from their MSP folder.
func loadSigner(mspID, mspDir string) (blocktest.Identity, error) {
	certPEM, err := os.ReadFile(filepath.Join(mspDir, "signcerts", "cert.pem"))
	if err != nil {
		return blocktest.Identity{}, err
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return blocktest.Identity{}, fmt.Errorf("%s: no PEM certificate", mspDir)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return blocktest.Identity{}, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(mspDir, "keystore", "key.pem"))
	if err != nil {
		return blocktest.Identity{}, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return blocktest.Identity{}, fmt.Errorf("%s: no PEM key", mspDir)
	}
	var key *ecdsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		key, _ = k.(*ecdsa.PrivateKey)
	} else if k, err := x509.ParseECPrivateKey(kb.Bytes); err == nil {
		key = k
	}
	if key == nil {
		return blocktest.Identity{}, fmt.Errorf("%s: the key is not an EC private key", mspDir)
	}
	return blocktest.Identity{MSPID: mspID, CertPEM: certPEM, Subject: cert.Subject.String(), Key: key}, nil
}
