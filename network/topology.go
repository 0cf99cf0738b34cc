package network

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/govshare/ledger/chaincode/domain"
)

// Topology is the whole consortium as the topology file describes it.
type Topology struct {
	Channel   string `yaml:"channel"`
	Chaincode struct {
		Name    string `yaml:"name"`
		Version string `yaml:"version"`
	} `yaml:"chaincode"`
	BasePort int `yaml:"basePort"`
	// PlainHTTP serves the REST gateways without TLS, for local
	// development only; by default each serves HTTPS with a certificate
	// from its department's CA.
	PlainHTTP   bool         `yaml:"plainHTTP"`
	Host        string       `yaml:"host"`
	Ordering    Ordering     `yaml:"ordering"`
	Departments []Department `yaml:"departments"`
	// Policy is what the genesis consortium policy says beyond its
	// members and roles (initPolicy): the bureau departments and the
	// grade rules (chaincode/POLICY.md). Left out, the ledger keeps the
	// legacy rules (domain.LegacyGradeRules).
	Policy TopologyPolicy `yaml:"policy,omitempty"`
}

// TopologyPolicy is the topology's part of the genesis consortium policy.
type TopologyPolicy struct {
	Bureaus []string           `yaml:"bureaus,omitempty"`
	Grades  []domain.GradeRule `yaml:"grades,omitempty"`
	// Spike is the watch's spike rule (indexer/WATCH.md); left out, the
	// default (domain.DefaultSpikeRule).
	Spike *domain.SpikeRule `yaml:"spike,omitempty"`
}

// Ordering describes the ordering service organization.
type Ordering struct {
	MSPID             string        `yaml:"mspId"`
	Name              string        `yaml:"name"`
	Consensus         string        `yaml:"consensus"`
	Orderers          int           `yaml:"orderers"`
	BatchTimeout      time.Duration `yaml:"batchTimeout"`
	MaxMessageCount   int           `yaml:"maxMessageCount"`
	PreferredMaxBytes string        `yaml:"preferredMaxBytes"`
	CAPort            int           `yaml:"caPort"`
	CAOpsPort         int           `yaml:"caOpsPort"`
	Nodes             []Orderer     `yaml:"nodes"` // optional per-orderer overrides
}

// Orderer is one ordering node.
type Orderer struct {
	Name      string `yaml:"name"`
	Host      string `yaml:"host"`
	Port      int    `yaml:"port"`
	AdminPort int    `yaml:"adminPort"`
	OpsPort   int    `yaml:"opsPort"`
}

// Department is one member organization with one peer.
type Department struct {
	MSPID         string        `yaml:"mspId"`
	Name          string        `yaml:"name"`
	Code          string        `yaml:"code"`
	Level         domain.Level  `yaml:"level"`
	Roles         []domain.Role `yaml:"roles"`
	Host          string        `yaml:"host"`
	PeerPort      int           `yaml:"peerPort"`
	PeerCCPort    int           `yaml:"peerChaincodePort"`
	PeerOpsPort   int           `yaml:"peerOpsPort"`
	CAPort        int           `yaml:"caPort"`
	CAOpsPort     int           `yaml:"caOpsPort"`
	ChaincodePort int           `yaml:"chaincodePort"`
	// ChaincodeNextPort is where a chaincode upgrade starts the new
	// server while the old one still serves; upgrades alternate between the
	// two ports.
	ChaincodeNextPort int `yaml:"chaincodeNextPort"`
	GatewayPort       int `yaml:"gatewayPort"`
	IndexerPort       int `yaml:"indexerPort"`
	// The second peer's ports (a peer joined from a snapshot:
	// `consortium peer-from-snapshot`): listen, chaincode, operations.
	Peer1Port    int `yaml:"peer1Port"`
	Peer1CCPort  int `yaml:"peer1ChaincodePort"`
	Peer1OpsPort int `yaml:"peer1OpsPort"`
}

// listenPorts are the TCP ports a department's processes listen on when
// it starts (the indexer listens on a Unix socket).
func (d Department) listenPorts() []int {
	return []int{d.PeerPort, d.PeerCCPort, d.PeerOpsPort, d.CAPort, d.CAOpsPort, d.ChaincodePort, d.GatewayPort}
}

// Slug is the department's folder and process name: its MSP ID, lowercased,
// without the "msp" suffix.
func (d Department) Slug() string {
	return strings.TrimSuffix(strings.ToLower(d.MSPID), "msp")
}

// HasRole reports whether the department has people of role r.
func (d Department) HasRole(r domain.Role) bool {
	for _, x := range d.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Addr joins the department's host and a port.
func (d Department) Addr(port int) string { return fmt.Sprintf("%s:%d", d.Host, port) }

// Addr joins the orderer's host and a port.
func (o Orderer) Addr(port int) string { return fmt.Sprintf("%s:%d", o.Host, port) }

// LoadTopology reads a topology file, fills in the defaults and checks it.
func LoadTopology(path string) (*Topology, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	var t Topology
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("parse topology %s: %w", path, err)
	}
	if err := t.complete(); err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return &t, nil
}

var mspIDPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// complete fills defaults and derives ports, then checks that the result is usable.
func (t *Topology) complete() error {
	if t.Channel == "" {
		t.Channel = "datashare"
	}
	if t.Chaincode.Name == "" {
		t.Chaincode.Name = "ledger"
	}
	if t.Chaincode.Version == "" {
		t.Chaincode.Version = "1"
	}
	if t.BasePort == 0 {
		t.BasePort = 7000
	}
	if t.Host == "" {
		t.Host = "127.0.0.1"
	}
	o := &t.Ordering
	if o.MSPID == "" {
		o.MSPID = "OrdererMSP"
	}
	if o.Name == "" {
		o.Name = "Ordering service"
	}
	if o.Consensus == "" {
		o.Consensus = "etcdraft"
	}
	switch o.Consensus {
	case "etcdraft":
	case "BFT":
		if o.Orderers < 4 {
			return fmt.Errorf("BFT needs at least 4 orderers, topology has %d", o.Orderers)
		}
	default:
		return fmt.Errorf("consensus %q must be etcdraft or BFT", o.Consensus)
	}
	if o.Orderers == 0 {
		o.Orderers = 3
	}
	if o.BatchTimeout == 0 {
		o.BatchTimeout = 250 * time.Millisecond
	}
	if o.MaxMessageCount == 0 {
		o.MaxMessageCount = 500
	}
	if o.PreferredMaxBytes == "" {
		o.PreferredMaxBytes = "2 MB"
	}
	setPort(&o.CAPort, t.BasePort+4)
	setPort(&o.CAOpsPort, t.BasePort+5)
	for len(o.Nodes) < o.Orderers {
		o.Nodes = append(o.Nodes, Orderer{})
	}
	o.Nodes = o.Nodes[:o.Orderers]
	for i := range o.Nodes {
		n := &o.Nodes[i]
		k := i + 1
		if n.Name == "" {
			n.Name = fmt.Sprintf("orderer%d", k)
		}
		if n.Host == "" {
			n.Host = t.Host
		}
		setPort(&n.Port, t.BasePort+10*k)
		setPort(&n.AdminPort, t.BasePort+10*k+1)
		setPort(&n.OpsPort, t.BasePort+10*k+2)
	}
	if len(t.Departments) == 0 {
		return fmt.Errorf("no departments")
	}
	seen := map[string]bool{o.MSPID: true}
	for i := range t.Departments {
		d := &t.Departments[i]
		if !mspIDPattern.MatchString(d.MSPID) {
			return fmt.Errorf("department %d: mspId %q must be letters and digits", i+1, d.MSPID)
		}
		if seen[d.MSPID] {
			return fmt.Errorf("mspId %s is used twice", d.MSPID)
		}
		seen[d.MSPID] = true
		if err := (domain.DepartmentInput{Name: d.Name, Code: d.Code, Level: d.Level}).Validate(); err != nil {
			return fmt.Errorf("department %s: %w", d.MSPID, err)
		}
		if len(d.Roles) == 0 {
			d.Roles = []domain.Role{domain.RoleAdmin, domain.RoleOperator, domain.RoleApprover}
		}
		for _, r := range d.Roles {
			if !r.Valid() {
				return fmt.Errorf("department %s: unknown role %q", d.MSPID, r)
			}
		}
		if !d.HasRole(domain.RoleAdmin) {
			return fmt.Errorf("department %s: needs an admin to join the channel", d.MSPID)
		}
		if d.Host == "" {
			d.Host = t.Host
		}
		t.slotPorts(d, i)
	}
	if err := t.checkPolicy(); err != nil {
		return err
	}
	return t.checkPorts()
}

// checkPolicy holds the policy section to the rules the ledger applies to
// the genesis policy (domain.PolicyInput.Validate), so a bad section fails
// at load, not at the end of `make up`; and a bureau must have approvers,
// or a grade that needs its co-approval could never be approved.
func (t *Topology) checkPolicy() error {
	in := domain.PolicyInput{Bureaus: t.Policy.Bureaus, Grades: t.Policy.Grades, Spike: t.Policy.Spike}
	for _, d := range t.Departments {
		in.Members = append(in.Members, d.MSPID)
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("policy: %s", domain.ErrorMessage(err))
	}
	for _, b := range t.Policy.Bureaus {
		for _, d := range t.Departments {
			if d.MSPID == b && !d.HasRole(domain.RoleApprover) {
				return fmt.Errorf("policy: bureau %s has no approver role to co-approve requests", b)
			}
		}
	}
	return nil
}

// slotPorts derives the ports department d has not set from its slot, its
// 0-based position in the departments list: basePort + 100*(slot+1) + ...
func (t *Topology) slotPorts(d *Department, slot int) {
	b := t.BasePort + 100*(slot+1)
	setPort(&d.PeerPort, b+1)
	setPort(&d.PeerCCPort, b+2)
	setPort(&d.PeerOpsPort, b+3)
	setPort(&d.CAPort, b+4)
	setPort(&d.CAOpsPort, b+5)
	setPort(&d.ChaincodePort, b+6)
	setPort(&d.ChaincodeNextPort, b+9)
	setPort(&d.Peer1Port, b+51)
	setPort(&d.Peer1CCPort, b+52)
	setPort(&d.Peer1OpsPort, b+53)
	setPort(&d.GatewayPort, b+7)
	setPort(&d.IndexerPort, b+8)
}

func setPort(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

// checkPorts refuses a topology in which two listeners share an address.
func (t *Topology) checkPorts() error {
	used := map[string]string{}
	add := func(host string, port int, what string) error {
		a := fmt.Sprintf("%s:%d", host, port)
		if prev, ok := used[a]; ok {
			return fmt.Errorf("%s and %s both listen on %s", prev, what, a)
		}
		used[a] = what
		return nil
	}
	var errs []error
	errs = append(errs, add(t.Host, t.Ordering.CAPort, "ordering CA"), add(t.Host, t.Ordering.CAOpsPort, "ordering CA operations"))
	for _, n := range t.Ordering.Nodes {
		errs = append(errs, add(n.Host, n.Port, n.Name), add(n.Host, n.AdminPort, n.Name+" admin"), add(n.Host, n.OpsPort, n.Name+" operations"))
	}
	for _, d := range t.Departments {
		s := d.Slug()
		for _, l := range []struct {
			port int
			what string
		}{
			{d.PeerPort, "peer"}, {d.PeerCCPort, "peer chaincode"}, {d.PeerOpsPort, "peer operations"},
			{d.CAPort, "CA"}, {d.CAOpsPort, "CA operations"}, {d.ChaincodePort, "chaincode"},
			{d.ChaincodeNextPort, "chaincode (next)"}, {d.Peer1Port, "second peer"}, {d.Peer1CCPort, "second peer chaincode"},
			{d.Peer1OpsPort, "second peer operations"}, {d.GatewayPort, "gateway"}, {d.IndexerPort, "indexer"},
		} {
			errs = append(errs, add(d.Host, l.port, s+" "+l.what))
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
