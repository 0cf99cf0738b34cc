package network

import (
	"maps"
	"slices"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
)

func org(version uint64, anchor string) *common.ConfigGroup {
	return &common.ConfigGroup{Version: version, ModPolicy: "Admins",
		Values:   map[string]*common.ConfigValue{"MSP": {Version: 1, ModPolicy: "Admins", Value: []byte("msp")}, "AnchorPeers": {ModPolicy: "Admins", Value: []byte(anchor)}},
		Policies: map[string]*common.ConfigPolicy{"Admins": {Version: 2, ModPolicy: "Admins", Policy: &common.Policy{Type: 1, Value: []byte("admins")}}}}
}

func channelConfig(orgs map[string]*common.ConfigGroup) *common.Config {
	return &common.Config{ChannelGroup: &common.ConfigGroup{Version: 3, ModPolicy: "Admins",
		Values: map[string]*common.ConfigValue{"Capabilities": {Version: 1, ModPolicy: "Admins", Value: []byte("v3")}},
		Groups: map[string]*common.ConfigGroup{
			"Orderer":     {Version: 5, ModPolicy: "Admins", Values: map[string]*common.ConfigValue{"BatchSize": {Version: 2, Value: []byte("500")}}},
			"Application": {Version: 4, ModPolicy: "Admins", Groups: orgs, Policies: map[string]*common.ConfigPolicy{"Admins": {Version: 1, ModPolicy: "Admins", Policy: &common.Policy{Type: 3}}}},
		}}}
}

// Adding an organization writes the Application group at its next
// version, the new organization at version 0 and every other member at its
// version; the channel group and the orderer's stay as they are.
func TestConfigDeltaAddsAnOrganization(t *testing.T) {
	before := channelConfig(map[string]*common.ConfigGroup{"Dept1MSP": org(7, "a"), "Dept2MSP": org(1, "b")})
	after := proto.Clone(before).(*common.Config)
	after.ChannelGroup.Groups["Application"].Groups["Dept3MSP"] = org(9, "c")
	u, err := configDelta("datashare", before, after)
	if err != nil {
		t.Fatal(err)
	}
	if u.ChannelId != "datashare" || u.ReadSet.Version != 3 || u.WriteSet.Version != 3 {
		t.Fatalf("channel group: read %d write %d, want both 3", u.ReadSet.Version, u.WriteSet.Version)
	}
	if _, ok := u.WriteSet.Groups["Orderer"]; ok {
		t.Error("the orderer group is in the write set")
	}
	app := u.WriteSet.Groups["Application"]
	if app.Version != 5 || app.ModPolicy != "Admins" {
		t.Fatalf("Application written at %d (%q), want 5 (Admins)", app.Version, app.ModPolicy)
	}
	if got := slices.Sorted(maps.Keys(app.Groups)); !slices.Equal(got, []string{"Dept1MSP", "Dept2MSP", "Dept3MSP"}) {
		t.Fatalf("Application's members %v", got)
	}
	if g := app.Groups["Dept1MSP"]; g.Version != 7 || len(g.Values) != 0 {
		t.Errorf("a kept organization is %v, want only its version 7", g)
	}
	n := app.Groups["Dept3MSP"]
	if n.Version != 0 || n.Values["MSP"].Version != 0 || string(n.Values["MSP"].Value) != "msp" || n.Policies["Admins"].Version != 0 {
		t.Errorf("the new organization is %v, want its content at version 0", n)
	}
	if p := app.Policies["Admins"]; p.Version != 1 || p.Policy != nil {
		t.Errorf("Application's kept policy is %v, want its version only", p)
	}
	if r := u.ReadSet.Groups["Application"]; r.Version != 4 || r.Groups["Dept2MSP"].Version != 1 || r.Groups["Dept3MSP"] != nil {
		t.Errorf("read set %v", r)
	}
}

// Changing one value of one organization writes that value at its next
// version under groups that keep theirs.
func TestConfigDeltaChangesAValue(t *testing.T) {
	before := channelConfig(map[string]*common.ConfigGroup{"Dept1MSP": org(7, "a"), "Dept2MSP": org(1, "b")})
	after := proto.Clone(before).(*common.Config)
	after.ChannelGroup.Groups["Application"].Groups["Dept2MSP"].Values["AnchorPeers"].Value = []byte("b2")
	u, err := configDelta("datashare", before, after)
	if err != nil {
		t.Fatal(err)
	}
	app := u.WriteSet.Groups["Application"]
	if app.Version != 4 || len(app.Groups) != 1 {
		t.Fatalf("Application written at %d with %d groups, want 4 and only Dept2MSP", app.Version, len(app.Groups))
	}
	d2 := app.Groups["Dept2MSP"]
	if d2.Version != 1 || d2.Values["AnchorPeers"].Version != 1 || string(d2.Values["AnchorPeers"].Value) != "b2" || len(d2.Values) != 1 {
		t.Errorf("Dept2MSP written as %v", d2)
	}
	if _, err := configDelta("datashare", before, before); err == nil {
		t.Error("an update that changes nothing was computed")
	}
}

// Removing an organization is a membership change of Application: the
// others are listed at their versions, the removed one is absent.
func TestConfigDeltaRemovesAnOrganization(t *testing.T) {
	before := channelConfig(map[string]*common.ConfigGroup{"Dept1MSP": org(7, "a"), "Dept2MSP": org(1, "b")})
	after := proto.Clone(before).(*common.Config)
	delete(after.ChannelGroup.Groups["Application"].Groups, "Dept2MSP")
	u, err := configDelta("datashare", before, after)
	if err != nil {
		t.Fatal(err)
	}
	app := u.WriteSet.Groups["Application"]
	if app.Version != 5 || len(app.Groups) != 1 || app.Groups["Dept1MSP"].Version != 7 {
		t.Fatalf("Application written as %v", app)
	}
}
