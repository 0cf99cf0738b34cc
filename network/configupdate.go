package network

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// A channel configuration update names, in its read set, the versions of
// the parts of the configuration it builds on, and, in its write set, the
// new versions of what it changes. The orderers check the read set against
// the channel's configuration, authorize each changed element by its
// mod_policy, and apply the write set. A group whose membership changes
// (an element added or removed, or its mod_policy changed) is written at
// its version + 1 with every member it keeps listed at its current version;
// a group only some of whose members change keeps its version and lists
// only those. configDelta computes it, as configtxlator's compute_update
// does.

// configDelta is the update that takes the channel configuration original
// to updated.
func configDelta(channel string, original, updated *common.Config) (*common.ConfigUpdate, error) {
	if original.GetChannelGroup() == nil || updated.GetChannelGroup() == nil {
		return nil, errors.New("a configuration without its channel group")
	}
	read, write, changed := groupDelta(original.ChannelGroup, updated.ChannelGroup)
	if !changed {
		return nil, errors.New("the updated configuration is the channel's")
	}
	return &common.ConfigUpdate{ChannelId: channel, ReadSet: read, WriteSet: write}, nil
}

// groupDelta compares two versions of a configuration group. changed
// reports whether anything in or under it differs.
func groupDelta(o, u *common.ConfigGroup) (read, write *common.ConfigGroup, changed bool) {
	read = &common.ConfigGroup{Version: o.GetVersion(), Policies: map[string]*common.ConfigPolicy{},
		Values: map[string]*common.ConfigValue{}, Groups: map[string]*common.ConfigGroup{}}
	write = &common.ConfigGroup{Version: o.GetVersion(), Policies: map[string]*common.ConfigPolicy{},
		Values: map[string]*common.ConfigValue{}, Groups: map[string]*common.ConfigGroup{}}
	membership := o.GetModPolicy() != u.GetModPolicy()
	// kept lists, for a group whose membership changes, what stays as it is.
	keptP, keptV, keptG := map[string]*common.ConfigPolicy{}, map[string]*common.ConfigValue{}, map[string]*common.ConfigGroup{}

	for k, op := range o.GetPolicies() {
		up, ok := u.GetPolicies()[k]
		switch {
		case !ok:
			membership = true
		case op.GetModPolicy() == up.GetModPolicy() && proto.Equal(op.GetPolicy(), up.GetPolicy()):
			keptP[k] = &common.ConfigPolicy{Version: op.GetVersion()}
		default:
			write.Policies[k] = &common.ConfigPolicy{Version: op.GetVersion() + 1, ModPolicy: up.GetModPolicy(), Policy: up.GetPolicy()}
		}
	}
	for k, up := range u.GetPolicies() {
		if _, ok := o.GetPolicies()[k]; !ok {
			membership = true
			write.Policies[k] = &common.ConfigPolicy{ModPolicy: up.GetModPolicy(), Policy: up.GetPolicy()}
		}
	}
	for k, ov := range o.GetValues() {
		uv, ok := u.GetValues()[k]
		switch {
		case !ok:
			membership = true
		case ov.GetModPolicy() == uv.GetModPolicy() && bytes.Equal(ov.GetValue(), uv.GetValue()):
			keptV[k] = &common.ConfigValue{Version: ov.GetVersion()}
		default:
			write.Values[k] = &common.ConfigValue{Version: ov.GetVersion() + 1, ModPolicy: uv.GetModPolicy(), Value: uv.GetValue()}
		}
	}
	for k, uv := range u.GetValues() {
		if _, ok := o.GetValues()[k]; !ok {
			membership = true
			write.Values[k] = &common.ConfigValue{ModPolicy: uv.GetModPolicy(), Value: uv.GetValue()}
		}
	}
	for k, og := range o.GetGroups() {
		ug, ok := u.GetGroups()[k]
		if !ok {
			membership = true
			continue
		}
		r, w, ch := groupDelta(og, ug)
		if !ch {
			keptG[k] = r
			continue
		}
		read.Groups[k], write.Groups[k] = r, w
	}
	for k, ug := range u.GetGroups() {
		if _, ok := o.GetGroups()[k]; !ok {
			membership = true
			write.Groups[k] = newGroup(ug)
		}
	}

	changed = membership || len(write.Policies)+len(write.Values)+len(write.Groups) > 0
	if !changed {
		return &common.ConfigGroup{Version: o.GetVersion()}, &common.ConfigGroup{Version: o.GetVersion()}, false
	}
	if membership {
		for k, p := range keptP {
			read.Policies[k], write.Policies[k] = p, p
		}
		for k, v := range keptV {
			read.Values[k], write.Values[k] = v, v
		}
		for k, g := range keptG {
			read.Groups[k], write.Groups[k] = g, g
		}
		write.Version, write.ModPolicy = o.GetVersion()+1, u.GetModPolicy()
	}
	return read, write, true
}

// newGroup is a group the update creates: its content at version 0 all
// the way down.
func newGroup(g *common.ConfigGroup) *common.ConfigGroup {
	out := &common.ConfigGroup{ModPolicy: g.GetModPolicy(), Policies: map[string]*common.ConfigPolicy{},
		Values: map[string]*common.ConfigValue{}, Groups: map[string]*common.ConfigGroup{}}
	for k, p := range g.GetPolicies() {
		out.Policies[k] = &common.ConfigPolicy{ModPolicy: p.GetModPolicy(), Policy: p.GetPolicy()}
	}
	for k, v := range g.GetValues() {
		out.Values[k] = &common.ConfigValue{ModPolicy: v.GetModPolicy(), Value: v.GetValue()}
	}
	for k, sub := range g.GetGroups() {
		out.Groups[k] = newGroup(sub)
	}
	return out
}

// updateEnvelope wraps a configuration update, unsigned, the way `peer
// channel signconfigtx` and `peer channel update` read it: each admin who
// signs adds a signature to its ConfigUpdateEnvelope.
func updateEnvelope(channel string, u *common.ConfigUpdate) ([]byte, error) {
	cu, err := proto.Marshal(u)
	if err != nil {
		return nil, err
	}
	data, err := proto.Marshal(&common.ConfigUpdateEnvelope{ConfigUpdate: cu})
	if err != nil {
		return nil, err
	}
	ch, err := proto.Marshal(&common.ChannelHeader{Type: int32(common.HeaderType_CONFIG_UPDATE), ChannelId: channel})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(&common.Payload{Header: &common.Header{ChannelHeader: ch}, Data: data})
	if err != nil {
		return nil, err
	}
	return proto.Marshal(&common.Envelope{Payload: payload})
}

// configFromBlock reads the channel configuration out of a configuration
// block (a genesis block, or `peer channel fetch config`'s).
func configFromBlock(path string) (*common.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b.GetData().GetData()) != 1 {
		return nil, fmt.Errorf("%s holds %d transactions, a configuration block one", path, len(b.GetData().GetData()))
	}
	var env common.Envelope
	var pl common.Payload
	var ce common.ConfigEnvelope
	if err := errors.Join(proto.Unmarshal(b.Data.Data[0], &env), proto.Unmarshal(env.GetPayload(), &pl), proto.Unmarshal(pl.GetData(), &ce)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ce.GetConfig() == nil {
		return nil, fmt.Errorf("%s holds no configuration", path)
	}
	return ce.Config, nil
}

// updateSignatures reads the signatures an update envelope has collected:
// the MSP ID of each signer.
func updateSignatures(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var env common.Envelope
	var pl common.Payload
	var cue common.ConfigUpdateEnvelope
	if err := errors.Join(proto.Unmarshal(raw, &env), proto.Unmarshal(env.GetPayload(), &pl), proto.Unmarshal(pl.GetData(), &cue)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	for _, s := range cue.GetSignatures() {
		var sh common.SignatureHeader
		if err := proto.Unmarshal(s.GetSignatureHeader(), &sh); err != nil {
			return nil, err
		}
		out = append(out, creatorMSP(sh.GetCreator()))
	}
	return out, nil
}

// creatorMSP is the MSP ID of a serialized identity ("" if it is not one).
func creatorMSP(creator []byte) string {
	var id msp.SerializedIdentity
	if proto.Unmarshal(creator, &id) != nil {
		return ""
	}
	return id.GetMspid()
}
