package fabric

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// A write that depends on an earlier one (the next step of a flow: approve
// after request, receipt after delivery) must be endorsed by peers that
// have committed the earlier write's block; a peer that has not answers as
// if it never happened (not found, still pending) or endorses a stale read
// that fails at commit, and the caller retries. Fabric's Gateway picks
// endorsers by discovery, and with one peer per department it has no newer
// peer of a department to prefer, nor an option to ask for a block-height
// floor. Two waits close the gap, each for only the peers that matter:
//
//   - a write answers once every peer that endorsed it has committed it
//     (Ledger.run): those are the peers of the departments its records
//     name, which endorse the next step on them, and the peer(s) that made
//     up the majority;
//   - a write that depends on block N is endorsed once the department's
//     own peer, its first endorser, has committed N: the REST caller says
//     so with X-Min-Block (the gateway waits for its indexer, which follows
//     the peer), and a write retried after a read conflict waits so for
//     the block that invalidated it (Ledger.Submit).
//
// Heights learns each peer's height by asking it (qscc GetChainInfo,
// routed by the caller's own peer to the department named), one question
// per department in flight however many writes wait, and only while some
// write waits for a block that department's peer was not yet seen at.

// HeightOptions tune a Heights.
type HeightOptions struct {
	// MaxWait bounds how long one write waits for the floor; after it the
	// write is endorsed anyway (and may then fail as before: a peer that is
	// down or far behind must not hold every write).
	MaxWait time.Duration
	// Interval is the pause between two questions to one peer while a
	// write still waits for it.
	Interval time.Duration
	// OrgsEvery is how often the list of departments is read again.
	OrgsEvery time.Duration
	// DownFor is how long a peer that did not answer is left out of the
	// waits.
	DownFor time.Duration
	// Query bounds one question to one peer.
	Query time.Duration
}

// DefaultHeightOptions suit a consortium that cuts a block every 250 ms.
var DefaultHeightOptions = HeightOptions{MaxWait: 3 * time.Second, Interval: 10 * time.Millisecond,
	OrgsEvery: 30 * time.Second, DownFor: 5 * time.Second, Query: 2 * time.Second}

// HeightQuery asks org's peer how many blocks it has committed.
type HeightQuery func(ctx context.Context, org string) (uint64, error)

// OrgsQuery lists the departments (MSP IDs) whose peers may endorse.
type OrgsQuery func(ctx context.Context) ([]string, error)

// Heights tracks how far each department's peer has committed.
type Heights struct {
	query HeightQuery
	orgs  OrgsQuery
	opt   HeightOptions

	mu      sync.Mutex
	known   map[string]uint64    // org -> highest height seen
	down    map[string]time.Time // org -> left out of waits until
	need    map[string]uint64    // org -> highest height a waiting write needs
	polling map[string]bool
	waiting int
	changed chan struct{} // closed at every change of known or down
	list    []string
	listAt  time.Time
	stats   FloorStats
}

// FloorStats count the writes that waited for a floor.
type FloorStats struct {
	Writes   uint64        // writes submitted with a floor
	Waited   uint64        // of them, those that had to wait
	TimedOut uint64        // of them, those endorsed after MaxWait anyway
	WaitTime time.Duration // summed over the writes that waited
	Queries  uint64        // questions asked of the peers
}

// NewHeights returns a tracker asking query and orgs.
func NewHeights(query HeightQuery, orgs OrgsQuery, opt HeightOptions) *Heights {
	return &Heights{query: query, orgs: orgs, opt: opt, known: map[string]uint64{}, down: map[string]time.Time{},
		need: map[string]uint64{}, polling: map[string]bool{}, changed: make(chan struct{})}
}

// Saw records that org's peer has at least height blocks (for instance
// the caller's own peer, once a write committed there).
func (h *Heights) Saw(org string, height uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.raise(org, height)
}

// raise records a height; h.mu is held.
func (h *Heights) raise(org string, height uint64) {
	if height > h.known[org] {
		h.known[org] = height
		h.broadcast()
	}
}

func (h *Heights) broadcast() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// Stats returns the counts so far.
func (h *Heights) Stats() FloorStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// departments returns the list of departments, read again when stale.
func (h *Heights) departments(ctx context.Context) ([]string, error) {
	h.mu.Lock()
	list, fresh := h.list, time.Since(h.listAt) < h.opt.OrgsEvery
	h.mu.Unlock()
	if list != nil && fresh {
		return list, nil
	}
	qctx, cancel := context.WithTimeout(ctx, h.opt.Query)
	defer cancel()
	got, err := h.orgs(qctx)
	if err != nil {
		if list != nil {
			return list, nil // keep the last list rather than hold writes
		}
		return nil, err
	}
	got = append([]string(nil), got...)
	sort.Strings(got)
	h.mu.Lock()
	h.list, h.listAt = got, time.Now()
	h.mu.Unlock()
	return got, nil
}

// Await returns once the peer of every department in orgs (nil: every
// department of the channel) that answers has committed block floor (its
// height is above floor), after MaxWait, or when ctx ends (with its
// error). A department whose peer does not answer is left out for DownFor.
func (h *Heights) Await(ctx context.Context, floor uint64, orgs []string) error {
	if orgs == nil {
		var err error
		if orgs, err = h.departments(ctx); err != nil {
			return fmt.Errorf("departments of the channel: %w", err)
		}
	}
	want := floor + 1
	start := time.Now()
	deadline := time.NewTimer(h.opt.MaxWait)
	defer deadline.Stop()
	h.mu.Lock()
	h.stats.Writes++
	registered, waited := false, false
	defer func() {
		if registered {
			h.waiting--
			if h.waiting == 0 {
				clear(h.need)
			}
		}
		if waited {
			h.stats.Waited++
			h.stats.WaitTime += time.Since(start)
		}
		h.mu.Unlock()
	}()
	for {
		now := time.Now()
		var behind []string
		for _, org := range orgs {
			if h.known[org] < want && !now.Before(h.down[org]) {
				behind = append(behind, org)
			}
		}
		if len(behind) == 0 {
			return nil
		}
		waited = true
		if !registered {
			registered = true
			h.waiting++
		}
		for _, org := range behind {
			h.need[org] = max(h.need[org], want)
			if !h.polling[org] {
				h.polling[org] = true
				go h.poll(org)
			}
		}
		changed := h.changed
		h.mu.Unlock()
		select {
		case <-changed:
			h.mu.Lock()
		case <-deadline.C:
			h.mu.Lock()
			h.stats.TimedOut++
			return nil
		case <-ctx.Done():
			h.mu.Lock()
			return ctx.Err()
		}
	}
}

// poll asks org's peer its height until no waiting write needs more of it.
func (h *Heights) poll(org string) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), h.opt.Query)
		height, err := h.query(ctx, org)
		cancel()
		h.mu.Lock()
		h.stats.Queries++
		if err != nil {
			h.down[org] = time.Now().Add(h.opt.DownFor)
			h.broadcast()
		} else {
			delete(h.down, org)
			h.raise(org, height)
		}
		if err != nil || h.waiting == 0 || h.known[org] >= h.need[org] {
			h.polling[org] = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		time.Sleep(h.opt.Interval)
	}
}

// ChainHeight decodes qscc GetChainInfo's answer: the number of blocks.
func ChainHeight(raw []byte) (uint64, error) {
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		return 0, fmt.Errorf("decode chain info: %w", err)
	}
	return info.GetHeight(), nil
}

// Endorsers lists the departments (MSP IDs) whose peers endorsed tx, sorted.
func Endorsers(tx *client.Transaction) ([]string, error) {
	raw, err := tx.Bytes()
	if err != nil {
		return nil, err
	}
	var prepared gateway.PreparedTransaction
	var payload common.Payload
	var t peer.Transaction
	if err := errors.Join(proto.Unmarshal(raw, &prepared), proto.Unmarshal(prepared.GetEnvelope().GetPayload(), &payload),
		proto.Unmarshal(payload.GetData(), &t)); err != nil {
		return nil, fmt.Errorf("decode transaction %s: %w", tx.TransactionID(), err)
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range t.GetActions() {
		var cap peer.ChaincodeActionPayload
		if err := proto.Unmarshal(a.GetPayload(), &cap); err != nil {
			return nil, fmt.Errorf("decode transaction %s: %w", tx.TransactionID(), err)
		}
		for _, e := range cap.GetAction().GetEndorsements() {
			var id msp.SerializedIdentity
			if err := proto.Unmarshal(e.GetEndorser(), &id); err != nil {
				return nil, fmt.Errorf("endorser of transaction %s: %w", tx.TransactionID(), err)
			}
			if !seen[id.GetMspid()] {
				seen[id.GetMspid()] = true
				out = append(out, id.GetMspid())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// PeerHeight asks org's peer, through the Gateway's own peer, how many
// blocks of channel it has committed (qscc GetChainInfo, which the
// channel's Readers may call, routed to org by the Gateway).
func PeerHeight(ctx context.Context, gw *client.Gateway, channel, org string) (uint64, error) {
	if gw == nil {
		return 0, errors.New("no connection to ask a peer's height with")
	}
	proposal, err := gw.GetNetwork(channel).GetContract("qscc").NewProposal("GetChainInfo",
		client.WithArguments(channel), client.WithEndorsingOrganizations(org))
	if err != nil {
		return 0, err
	}
	raw, err := proposal.EvaluateWithContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("height of %s's peer: %w", org, err)
	}
	return ChainHeight(raw)
}
