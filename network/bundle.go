package network

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// A department's bundle is what its own host needs and nothing more: its own
// organization's folder (CA server home, registrar, peer MSP and TLS, every
// person's MSP, all with their private keys), its gateway, indexer, peer and
// chaincode server configuration, its chaincode package, the channel's
// genesis block, the topology, and of every other organization (the other
// departments and the ordering organization) only the public material:
// verifying MSP (cacerts, tlscacerts, config.yaml) and TLS CA certificates.
//
// It is laid out like a run folder (orgs/<org>/..., config/, channel/,
// chaincode/), so the paths the network package derives resolve under the
// bundle root. The services refuse relative paths, so the absolute run
// folder named in configuration files is rewritten to the bundle's root,
// which bundle.json records; a host that unpacks the bundle elsewhere calls
// RelocateBundle.
//
// An orderer's bundle is the same for one ordering node: its own folder
// (its MSP and TLS keys: not the ordering organization's CA, registrar or
// admin, nor another orderer's), the ordering organization's and every
// department's verifying MSP, the other orderers' TLS CA certificates, the
// genesis block, the topology, and with -with-ledger its ledger (blocks,
// Raft WAL and snapshots), from which UpOrderer starts it.

// BundleManifestFile is the manifest's name at the bundle root.
const BundleManifestFile = "bundle.json"

// BundleManifest is bundle.json.
type BundleManifest struct {
	Department string `json:"department"` // MSP ID (the ordering organization's, for an orderer)
	Name       string `json:"name"`
	Slug       string `json:"slug"` // the organization's folder under orgs/
	// Orderer names the ordering node whose bundle this is; empty for a
	// department's.
	Orderer   string    `json:"orderer,omitempty"`
	Channel   string    `json:"channel"`
	CreatedAt time.Time `json:"createdAt"`
	// Layout says how paths resolve: "run folder", relative to the bundle root.
	Layout string `json:"layout"`
	// Root is the absolute folder that configuration files name in their
	// paths (Rooted files); RelocateBundle moves it.
	Root      string           `json:"root"`
	Chaincode BundleChaincode  `json:"chaincode,omitzero"` // a department's
	Peer      BundleEndpoint   `json:"peer,omitzero"`      // the department's own peer
	Peers     []BundleEndpoint `json:"peers,omitempty"`    // the other departments' peers (anchor peers)
	Orderers  []BundleEndpoint `json:"orderers"`           // the ordering service
	Files     []BundleFile     `json:"files"`
}

// BundleChaincode is what the department's chaincode server is started with.
type BundleChaincode struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	PackageID string `json:"packageId"` // CHAINCODE_ID
	Address   string `json:"address"`   // CHAINCODE_SERVER_ADDRESS, as the package's connection.json says
	Package   string `json:"package"`   // the package file, relative to the bundle root
}

// BundleEndpoint is one node another host must reach, with the TLS CA
// certificate (relative to the bundle root) that verifies it.
type BundleEndpoint struct {
	MSPID     string `json:"mspId"`
	Name      string `json:"name,omitempty"`
	Address   string `json:"address"`
	Admin     string `json:"adminAddress,omitempty"`
	TLSCACert string `json:"tlsCACert"`
}

// BundleFile is one file of the bundle.
type BundleFile struct {
	Path    string `json:"path"` // slash-separated, relative to the bundle root
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	Mode    string `json:"mode"`
	Purpose string `json:"purpose"`
	// Private files (mode 0600) hold the department's keys or secrets.
	Private bool `json:"private,omitempty"`
	// Rooted files name the manifest's Root in their paths.
	Rooted bool `json:"rooted,omitempty"`
}

// bundleItem is one file to write: copied from the run folder (src) or
// generated (data).
type bundleItem struct {
	rel     string // slash path in the bundle
	src     string
	data    []byte
	mode    os.FileMode
	purpose string
}

// BundleOptions change what a bundle carries.
type BundleOptions struct {
	// WithLedger adds the department's peer's ledger (data/peer-<slug>:
	// every block, which every peer holds, and the department's own private
	// data, among it its chaincode approval, which no other peer holds), so
	// that UpDepartment can start the department elsewhere. The department's
	// processes must be stopped, so that the copy is consistent.
	WithLedger bool
}

// Bundle writes department mspID's bundle from the run folder into out,
// which must not exist or be empty, then audits it against the run folder
// (AuditBundle) and fails if the audit finds anything.
func (n *Net) Bundle(mspID, out string, opt BundleOptions) (*BundleManifest, error) {
	d, ok := n.department(mspID)
	if !ok {
		var ids []string
		for _, x := range n.topo.Departments {
			ids = append(ids, x.MSPID)
		}
		return nil, fmt.Errorf("no department %q in the topology (it has %s)", mspID, strings.Join(ids, ", "))
	}
	if err := n.bundleSource(filepath.Join(n.peerDir(d), "tls", "server.key")); err != nil {
		return nil, err
	}
	items, m, err := n.bundleItems(d)
	if err != nil {
		return nil, err
	}
	if opt.WithLedger {
		ledger, err := n.ledgerItems(departmentProcs(d), n.path("data", "peer-"+d.Slug()),
			"the peer's ledger (blocks, state, its own private data, installed chaincode)")
		if err != nil {
			return nil, fmt.Errorf("ledger of %s: %w", d.MSPID, err)
		}
		items = append(items, ledger...)
	}
	return n.writeBundle(out, items, m)
}

// OrdererBundle writes the bundle of the orderer named name (its own keys
// and, with WithLedger, its ledger; of everyone else public material only)
// into out, as Bundle does for a department, audited the same way.
func (n *Net) OrdererBundle(name, out string, opt BundleOptions) (*BundleManifest, error) {
	o, ok := n.orderer(name)
	if !ok {
		var names []string
		for _, x := range n.topo.Ordering.Nodes {
			names = append(names, x.Name)
		}
		return nil, fmt.Errorf("no orderer %q in the topology (it has %s)", name, strings.Join(names, ", "))
	}
	if err := n.bundleSource(filepath.Join(n.ordererDir(o), "tls", "server.key")); err != nil {
		return nil, err
	}
	items, m, err := n.ordererBundleItems(o)
	if err != nil {
		return nil, err
	}
	if opt.WithLedger {
		ledger, err := n.ledgerItems([]string{o.Name}, n.path("data", o.Name), "the orderer's ledger (blocks, Raft WAL and snapshots)")
		if err != nil {
			return nil, fmt.Errorf("ledger of %s: %w", o.Name, err)
		}
		items = append(items, ledger...)
	}
	return n.writeBundle(out, items, m)
}

// bundleSource checks that the run folder holds a consortium: the genesis
// block and the node's TLS key.
func (n *Net) bundleSource(nodeKey string) error {
	for _, p := range []string{n.path("channel", n.topo.Channel+".block"), nodeKey} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("the run folder %s has no %s (run `up` first): %w", n.opts.Run, filepath.Base(p), err)
		}
	}
	return nil
}

// writeBundle writes items and the manifest m into out and audits the
// result; a bundle that fails either is removed.
func (n *Net) writeBundle(out string, items []bundleItem, m *BundleManifest) (*BundleManifest, error) {
	root, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(root)
	existed := statErr == nil
	if entries, err := os.ReadDir(root); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("bundle folder %s is not empty", root)
	}
	m.Root = root
	m.CreatedAt = time.Now().UTC().Truncate(time.Second)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	// A bundle that fails to be written or audited is removed: it may hold
	// exactly what must not leave the run folder.
	done := false
	defer func() {
		if !done {
			removeBundle(root, existed)
		}
	}()
	if err := os.Chmod(root, 0o700); err != nil {
		return nil, err
	}
	for _, it := range items {
		f, err := writeBundleItem(root, n.opts.Run, it)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", it.rel, err)
		}
		m.Files = append(m.Files, f)
	}
	slices.SortFunc(m.Files, func(a, b BundleFile) int { return strings.Compare(a.Path, b.Path) })
	if err := writeJSON(filepath.Join(root, BundleManifestFile), m, 0o644); err != nil {
		return nil, err
	}
	audit, err := AuditBundle(n.opts.Run, root)
	if err != nil {
		return nil, err
	}
	if err := audit.Err(); err != nil {
		return nil, fmt.Errorf("bundle %s fails its audit and was removed: %w", root, err)
	}
	done = true
	return m, nil
}

// removeBundle removes what Bundle wrote: the folder, or only its content
// if the folder was there before.
func removeBundle(root string, existed bool) {
	if !existed {
		os.RemoveAll(root)
		return
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(root, e.Name()))
	}
}

// ledgerItems lists the files of a node's ledger folder dir, refusing while
// any of procs (the node's processes) runs, so that the copy is consistent.
func (n *Net) ledgerItems(procs []string, dir, purpose string) ([]bundleItem, error) {
	recs, err := recorded(n.opts.Run)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Alive && slices.Contains(procs, r.Name) {
			return nil, fmt.Errorf("%s is running: stop it first (consortium stop %s)", r.Name, strings.Join(procs, " "))
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	var items []bundleItem
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		// etcd preallocates the Raft WAL's next segment (64 MB of zeros,
		// <n>.tmp) and makes it again when it finds none.
		if strings.HasSuffix(p, ".tmp") && filepath.Base(filepath.Dir(filepath.Dir(p))) == "wal" {
			return nil
		}
		r, err := filepath.Rel(n.opts.Run, p)
		if err != nil {
			return err
		}
		items = append(items, bundleItem{rel: filepath.ToSlash(r), src: p, purpose: purpose})
		return nil
	})
	return items, err
}

func (n *Net) department(mspID string) (Department, bool) {
	for _, d := range n.topo.Departments {
		if d.MSPID == mspID {
			return d, true
		}
	}
	return Department{}, false
}

func (n *Net) orderer(name string) (Orderer, bool) {
	for _, o := range n.topo.Ordering.Nodes {
		if o.Name == name {
			return o, true
		}
	}
	return Orderer{}, false
}

// bundleList collects the items of a bundle, named relative to the run
// folder.
type bundleList struct {
	n     *Net
	items []bundleItem
}

func (l *bundleList) rel(p string) string {
	r, err := filepath.Rel(l.n.opts.Run, p)
	if err != nil {
		panic(err) // every path here is built under the run folder
	}
	return filepath.ToSlash(r)
}

func (l *bundleList) add(p, purpose string) {
	l.items = append(l.items, bundleItem{rel: l.rel(p), src: p, purpose: purpose})
}

// tree adds every file under dir, each with the purpose its path gives.
func (l *bundleList) tree(dir string, purpose func(rel string) string) error {
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		l.add(p, purpose(l.rel(p)))
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	return nil
}

// publicMSP adds an organization's verifying MSP, from a fixed list of
// public files.
func (l *bundleList) publicMSP(org, what string) {
	for _, f := range []string{"cacerts/ca.pem", "tlscacerts/ca.pem", "config.yaml"} {
		l.add(l.n.orgDir(org, "msp", f), "public MSP of "+what+" (verifies its members)")
	}
}

// generated adds a file written for the bundle.
func (l *bundleList) generated(rel string, data []byte, mode os.FileMode, purpose string) {
	l.items = append(l.items, bundleItem{rel: rel, data: data, mode: mode, purpose: purpose})
}

// ordererBundleItems lists what goes into orderer o's bundle, and the
// manifest without its files.
func (n *Net) ordererBundleItems(o Orderer) ([]bundleItem, *BundleManifest, error) {
	l := &bundleList{n: n}
	// The node's own folder: its MSP and TLS keys. Not the rest of the
	// ordering organization: its CA, registrar and admin keys stay where
	// the organization keeps them, and each orderer holds only its own.
	if err := l.tree(n.ordererDir(o), ordererPurpose); err != nil {
		return nil, nil, err
	}
	l.publicMSP(ordererOrg, n.topo.Ordering.MSPID)
	m := &BundleManifest{Department: n.topo.Ordering.MSPID, Name: n.topo.Ordering.Name, Slug: ordererOrg, Orderer: o.Name,
		Channel: n.topo.Channel, Layout: "run folder"}
	for _, x := range n.topo.Ordering.Nodes {
		ca := filepath.Join(n.ordererDir(x), "tls", "ca.crt")
		if x.Name != o.Name {
			l.add(ca, "TLS CA certificate of "+x.Name)
		}
		m.Orderers = append(m.Orderers, BundleEndpoint{MSPID: n.topo.Ordering.MSPID, Name: x.Name, Address: x.Addr(x.Port),
			Admin: x.Addr(x.AdminPort), TLSCACert: l.rel(ca)})
	}
	for _, d := range n.topo.Departments {
		l.publicMSP(d.Slug(), d.MSPID)
	}
	l.add(n.path("channel", n.topo.Channel+".block"), "the channel's genesis block: the orderer joins with it when it has no ledger")
	topo, err := os.ReadFile(n.opts.Topology)
	if err != nil {
		return nil, nil, err
	}
	l.generated("topology.yaml", topo, 0o644, "the consortium's topology: every node's host and ports")
	return l.items, m, nil
}

// ordererPurpose says what a file of an orderer's own folder is for.
func ordererPurpose(rel string) string {
	_, p, _ := strings.Cut(strings.TrimPrefix(rel, "orgs/"+ordererOrg+"/orderers/"), "/")
	switch {
	case strings.HasPrefix(p, "msp/"):
		return "the orderer's MSP: its signing certificate and key"
	case strings.HasPrefix(p, "tls/"):
		return "the orderer's TLS certificate and key (server, cluster and admin listeners)"
	}
	return "the orderer's CA client configuration"
}

// bundleItems lists what goes into d's bundle, and the manifest without its
// files.
func (n *Net) bundleItems(d Department) ([]bundleItem, *BundleManifest, error) {
	slug := d.Slug()
	l := &bundleList{n: n}
	rel, add := l.rel, l.add
	// The department's own organization, whole: its keys are its own.
	if err := l.tree(n.orgDir(slug), func(rel string) string { return ownPurpose(rel, slug) }); err != nil {
		return nil, nil, err
	}
	// Every other organization: public material only, from a fixed list.
	m := &BundleManifest{Department: d.MSPID, Name: d.Name, Slug: slug, Channel: n.topo.Channel, Layout: "run folder",
		Peer: BundleEndpoint{MSPID: d.MSPID, Address: d.Addr(d.PeerPort), TLSCACert: rel(filepath.Join(n.peerDir(d), "tls", "ca.crt"))}}
	for _, x := range n.topo.Departments {
		if x.MSPID == d.MSPID {
			continue
		}
		l.publicMSP(x.Slug(), x.MSPID)
		ca := filepath.Join(n.peerDir(x), "tls", "ca.crt")
		add(ca, "TLS CA certificate of "+x.MSPID+"'s peer")
		m.Peers = append(m.Peers, BundleEndpoint{MSPID: x.MSPID, Name: x.Name, Address: x.Addr(x.PeerPort), TLSCACert: rel(ca)})
	}
	l.publicMSP(ordererOrg, n.topo.Ordering.MSPID)
	for _, o := range n.topo.Ordering.Nodes {
		ca := filepath.Join(n.ordererDir(o), "tls", "ca.crt")
		add(ca, "TLS CA certificate of "+o.Name)
		m.Orderers = append(m.Orderers, BundleEndpoint{MSPID: n.topo.Ordering.MSPID, Name: o.Name, Address: o.Addr(o.Port),
			Admin: o.Addr(o.AdminPort), TLSCACert: rel(ca)})
	}
	add(n.path("channel", n.topo.Channel+".block"), "the channel's genesis block: the peer joins with it")
	cfg := func(name, purpose string, required bool) error {
		p := n.path("config", name)
		if _, err := os.Stat(p); err != nil {
			if !required && errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		add(p, purpose)
		return nil
	}
	for _, c := range []struct {
		name, purpose string
		required      bool
	}{
		{"gateway-" + slug + ".json", "the gateway's configuration", true},
		{"gateway-" + slug + "-identities.json", "the gateway's people: certificate and key paths, token SHA-256 and password bcrypt", true},
		{"indexer-" + slug + ".json", "the indexer's configuration", true},
		{filepath.Join("peer", "core.yaml"), "the peer's core.yaml (the validation plugin's library path is the host's binaries)", false},
	} {
		if err := cfg(c.name, c.purpose, c.required); err != nil {
			return nil, nil, fmt.Errorf("configuration of %s: %w", d.MSPID, err)
		}
	}
	// The chaincode server: its package (whose connection.json is the
	// address the peer dials) and the ID it serves, derived from it.
	// The chaincode in force: after an upgrade, its package and address.
	cc, err := n.ChaincodeRecord()
	if err != nil {
		return nil, nil, err
	}
	srv, ok := cc.Servers[d.MSPID]
	if !ok {
		return nil, nil, fmt.Errorf("%s has no chaincode server in %s", d.MSPID, n.chaincodeRecordPath())
	}
	add(srv.Package, "the chaincode-as-a-service package installed on the peer")
	m.Chaincode = BundleChaincode{Name: cc.Name, Version: cc.Version, PackageID: srv.PackageID,
		Address: srv.Address, Package: rel(srv.Package)}
	ccCfg, err := json.MarshalIndent(map[string]string{"CHAINCODE_ID": m.Chaincode.PackageID, "CHAINCODE_SERVER_ADDRESS": m.Chaincode.Address}, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	l.generated("config/chaincode-"+slug+".json", append(ccCfg, '\n'), 0o644, "the chaincode server's environment")
	topo, err := os.ReadFile(n.opts.Topology)
	if err != nil {
		return nil, nil, err
	}
	l.generated("topology.yaml", topo, 0o644, "the consortium's topology: every node's host and ports")
	if ca, err := os.ReadFile(n.path(TLSCAFile)); err == nil {
		l.generated(TLSCAFile, ca, 0o644, "the CA roots that sign the gateways' TLS certificates, for their clients")
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	// The department's own people's initial passwords and tokens, to hand
	// out on its host; never another department's.
	for _, f := range []struct {
		name, purpose string
		v             func() (any, error)
	}{
		{"credentials.json", "long-lived tokens of the department's own people", func() (any, error) {
			return filterByMSP[Credential](n.path("credentials.json"), d.MSPID, func(c Credential) string { return c.MSPID })
		}},
		{"passwords.json", "initial passwords of the department's own people", func() (any, error) {
			return filterByMSP[Password](n.path("passwords.json"), d.MSPID, func(p Password) string { return p.MSPID })
		}},
	} {
		v, err := f.v()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		raw, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return nil, nil, err
		}
		l.generated(f.name, append(raw, '\n'), 0o600, f.purpose)
	}
	return l.items, m, nil
}

func filterByMSP[T any](path, mspID string, msp func(T) string) ([]T, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var all []T
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := []T{}
	for _, x := range all {
		if msp(x) == mspID {
			out = append(out, x)
		}
	}
	return out, nil
}

// ownPurpose says what a file of the department's own organization is for.
func ownPurpose(rel, slug string) string {
	p := strings.TrimPrefix(rel, "orgs/"+slug+"/")
	switch {
	case strings.HasPrefix(p, "ca/server/"):
		return "the CA server's home: its keys, configuration and database"
	case strings.HasPrefix(p, "ca/registrar/"):
		return "the CA registrar's enrollment (registers new people)"
	case strings.HasPrefix(p, "peer0/msp/"):
		return "the peer's MSP: its signing certificate and key"
	case strings.HasPrefix(p, "peer0/tls/"):
		return "the peer's TLS certificate and key"
	case strings.HasPrefix(p, "peer0/"):
		return "the peer's CA client configuration"
	case strings.HasPrefix(p, "users/"):
		user, _, _ := strings.Cut(strings.TrimPrefix(p, "users/"), "/")
		return "the MSP of " + user + ": certificate and key"
	case strings.HasPrefix(p, "msp/"):
		return "the department's public MSP"
	}
	return "the department's organization"
}

// writeBundleItem writes one file under root, rewriting the run folder in
// text files to root, and describes it.
func writeBundleItem(root, run string, it bundleItem) (BundleFile, error) {
	data, mode := it.data, it.mode
	if it.src != "" {
		fi, err := os.Stat(it.src)
		if err != nil {
			return BundleFile{}, err
		}
		if data, err = os.ReadFile(it.src); err != nil {
			return BundleFile{}, err
		}
		mode = fi.Mode().Perm()
	}
	// Key files are the owner's alone, whatever mode their writer gave them
	// (fabric-ca writes its Idemix keys 0644).
	if len(privateBlocks(data)) > 0 || path.Base(path.Dir(it.rel)) == "keystore" {
		mode &^= 0o077
	}
	rooted := false
	if isText(data) && bytes.Contains(data, []byte(run)) {
		data = rewriteRoot(data, run, root)
		rooted = true
	}
	dst := filepath.Join(root, filepath.FromSlash(it.rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return BundleFile{}, err
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return BundleFile{}, err
	}
	if err := os.Chmod(dst, mode); err != nil {
		return BundleFile{}, err
	}
	sum := sha256.Sum256(data)
	return BundleFile{Path: it.rel, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Mode: fmt.Sprintf("%04o", mode),
		Purpose: it.purpose, Private: mode&0o077 == 0, Rooted: rooted}, nil
}

// rewriteRoot replaces the folder from with to wherever it is a whole path
// prefix (followed by a separator, a quote or the end of a word).
func rewriteRoot(data []byte, from, to string) []byte {
	var out bytes.Buffer
	for {
		i := bytes.Index(data, []byte(from))
		if i < 0 {
			out.Write(data)
			return out.Bytes()
		}
		end := i + len(from)
		whole := end == len(data) || strings.IndexByte("/\"' \n\t,]}:", data[end]) >= 0
		out.Write(data[:i])
		if whole {
			out.WriteString(to)
		} else {
			out.WriteString(from)
		}
		data = data[end:]
	}
}

// isText is true for UTF-8 without NUL bytes: only such files are rewritten
// (never a database or an archive).
func isText(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }

// RelocateBundle points a moved bundle's configuration files at its new
// folder: every Rooted file's old root becomes dir, and the manifest's
// hashes and root follow.
func RelocateBundle(dir string) (*BundleManifest, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m, err := ReadBundleManifest(root)
	if err != nil {
		return nil, err
	}
	if m.Root == root {
		return m, nil
	}
	for i, f := range m.Files {
		if !f.Rooted {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		raw = rewriteRoot(raw, m.Root, root)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(p, raw, fi.Mode().Perm()); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		m.Files[i].SHA256, m.Files[i].Size = hex.EncodeToString(sum[:]), int64(len(raw))
	}
	m.Root = root
	return m, writeJSON(filepath.Join(root, BundleManifestFile), m, 0o644)
}

// ReadBundleManifest reads a bundle's bundle.json.
func ReadBundleManifest(dir string) (*BundleManifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, BundleManifestFile))
	if err != nil {
		return nil, err
	}
	var m BundleManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", BundleManifestFile, err)
	}
	return &m, nil
}

// BundleAudit is what AuditBundle found in one bundle.
type BundleAudit struct {
	Department string // the department's MSP ID, or the orderer's name
	Files      int    // files checked, the manifest included
	// Problems, each naming the file: a private key outside the bundle's
	// scope (another organization's; for an orderer, any but its own) or
	// one the run folder does not hold, a secret of secrets.json, a hash
	// that does not match, a file the manifest does not list or lists but
	// is missing, a configuration path under the root that names no file,
	// and the node's own keys or the genesis block missing or different
	// from the run folder's.
	Problems []string
}

// Err joins the problems, nil if there are none.
func (a *BundleAudit) Err() error {
	if len(a.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("%d problems in the bundle of %s:\n  %s", len(a.Problems), a.Department, strings.Join(a.Problems, "\n  "))
}

func (a *BundleAudit) problemf(format string, args ...any) {
	a.Problems = append(a.Problems, fmt.Sprintf(format, args...))
}

// keyScope is the folder (slash path ending in "/", relative to the
// bundle root) whose private keys the bundle may hold, and the folder of
// the node it starts: a department's whole organization and its peer, or an
// orderer's own folder, not the rest of the ordering organization.
func (m *BundleManifest) keyScope() (scope, node string) {
	if m.Orderer != "" {
		node = "orgs/" + m.Slug + "/orderers/" + m.Orderer + "/"
		return node, node
	}
	return "orgs/" + m.Slug + "/", "orgs/" + m.Slug + "/peer0/"
}

// runKey is one private key found in the run folder and its organization.
type runKey struct {
	org  string
	path string // relative to the run folder
	der  []byte
}

// AuditBundle checks a bundle against the run folder it came from: every
// private key of the run folder is collected by organization (PEM "PRIVATE
// KEY" blocks, and the raw content of every keystore file, such as the CA's
// Idemix IssuerSecretKey), and no file of the bundle may hold one of another
// organization (for an orderer's bundle: any but the orderer's own, so not
// its organization's CA, registrar, admin or other orderers' keys), by bytes
// or by public key; no secret of secrets.json may appear (but a department's
// own initial passwords in its passwords.json); the manifest's
// hashes must match; the node's own keys (the department's peer's, or the
// orderer's) and the channel's genesis block must be there, identical to the
// run's.
func AuditBundle(run, dir string) (*BundleAudit, error) {
	m, err := ReadBundleManifest(dir)
	if err != nil {
		return nil, err
	}
	a := &BundleAudit{Department: m.Department}
	if m.Orderer != "" {
		a.Department = m.Orderer
	}
	scope, node := m.keyScope()
	keys, err := runKeys(run)
	if err != nil {
		return nil, err
	}
	// Every copy of a key counts: one that the run folder holds both in
	// the bundle's scope and outside it is another's.
	byPub := map[string][]runKey{}
	for _, k := range keys {
		if pub := publicKeyOf(k.der); pub != "" {
			byPub[pub] = append(byPub[pub], k)
		}
	}
	secrets, err := ReadSecrets(run)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	listed := map[string]BundleFile{}
	for _, f := range m.Files {
		listed[f.Path] = f
	}
	seen := map[string]bool{}
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		if !e.Type().IsRegular() {
			a.problemf("%s is not a regular file", r)
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		a.Files++
		seen[r] = true
		if r != BundleManifestFile {
			f, ok := listed[r]
			sum := sha256.Sum256(raw)
			switch {
			case !ok:
				a.problemf("%s is not in the manifest", r)
			case f.SHA256 != hex.EncodeToString(sum[:]):
				a.problemf("%s: SHA-256 %x, the manifest says %s", r, sum, f.SHA256)
			}
		}
		for _, blk := range privateBlocks(raw) {
			copies := byPub[publicKeyOf(blk)]
			if len(copies) == 0 {
				copies = keysByDER(keys, blk)
			}
			if len(copies) == 0 {
				a.problemf("%s holds a private key that is not in the run folder", r)
			}
			for _, k := range copies {
				if !strings.HasPrefix(k.path, scope) {
					a.problemf("%s holds the private key of %s (%s)", r, k.org, k.path)
					break
				}
			}
		}
		for _, k := range keys {
			if !strings.HasPrefix(k.path, scope) && len(k.der) >= 16 && bytes.Contains(raw, k.der) {
				a.problemf("%s holds the key material of %s (%s)", r, k.org, k.path)
			}
		}
		for _, s := range secrets {
			if s.Kind == SecretPassword && s.Org == m.Slug && r == "passwords.json" {
				continue // the department's own people's initial passwords, where they are kept
			}
			if s.Value != "" && bytes.Contains(raw, []byte(s.Value)) {
				a.problemf("%s holds the %s secret of %s/%s", r, s.Kind, s.Org, s.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		if !seen[f.Path] {
			a.problemf("%s is in the manifest but not in the bundle", f.Path)
		}
	}
	same := func(rel, what string) {
		want, err := os.ReadFile(filepath.Join(run, filepath.FromSlash(rel)))
		if err != nil {
			a.problemf("%s: %s not in the run folder: %v", rel, what, err)
			return
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil || !bytes.Equal(got, want) {
			a.problemf("%s: %s missing or not the run folder's", rel, what)
		}
	}
	for _, f := range m.Files {
		if f.Rooted && strings.HasSuffix(f.Path, ".json") {
			for _, missing := range missingPaths(filepath.Join(dir, filepath.FromSlash(f.Path)), m.Root) {
				a.problemf("%s names %s, which the bundle lacks", f.Path, missing)
			}
		}
	}
	what := "peer"
	if m.Orderer != "" {
		what = "orderer"
	}
	same(node+"msp/keystore/key.pem", "the "+what+"'s signing key")
	same(node+"tls/server.key", "the "+what+"'s TLS key")
	same("channel/"+m.Channel+".block", "the genesis block")
	return a, nil
}

// missingPaths lists the paths under root that a JSON configuration file
// names and that do not exist, leaving out what the services create as they
// run (data/, sock/).
func missingPaths(file, root string) []string {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil // reported as missing by the walk
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []string{"(not JSON: " + err.Error() + ")"}
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			p := strings.TrimPrefix(v, "unix:")
			rel, err := filepath.Rel(root, p)
			if !filepath.IsAbs(p) || err != nil || strings.HasPrefix(rel, "..") {
				return
			}
			if top, _, _ := strings.Cut(filepath.ToSlash(rel), "/"); top == "data" || top == "sock" {
				return
			}
			if _, err := os.Stat(p); err != nil {
				out = append(out, p)
			}
		}
	}
	walk(v)
	slices.Sort(out)
	return out
}

// runKeys collects the private keys of every organization under orgs/.
func runKeys(run string) ([]runKey, error) {
	var keys []runKey
	orgs := filepath.Join(run, "orgs")
	err := filepath.WalkDir(orgs, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		r, err := filepath.Rel(orgs, p)
		if err != nil {
			return err
		}
		org, _, _ := strings.Cut(filepath.ToSlash(r), "/")
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(filepath.Join("orgs", r))
		for _, blk := range privateBlocks(raw) {
			keys = append(keys, runKey{org: org, path: rel, der: blk})
		}
		// Non-PEM key files (Idemix issuer keys) count by their bytes.
		if filepath.Base(filepath.Dir(p)) == "keystore" && len(privateBlocks(raw)) == 0 {
			keys = append(keys, runKey{org: org, path: rel, der: raw})
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no orgs/ in the run folder %s: %w", run, err)
	}
	return keys, err
}

// privateBlocks returns the DER of every PEM block of b whose type ends in
// "PRIVATE KEY" (PKCS#8, SEC 1, PKCS#1).
func privateBlocks(b []byte) [][]byte {
	var out [][]byte
	for {
		blk, rest := pem.Decode(b)
		if blk == nil {
			return out
		}
		if strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			out = append(out, blk.Bytes)
		}
		b = rest
	}
}

// publicKeyOf is the PKIX encoding of a private key's public half, "" if
// the key does not parse.
func publicKeyOf(der []byte) string {
	var pub crypto.PublicKey
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			pub = s.Public()
		}
	} else if k, err := x509.ParseECPrivateKey(der); err == nil {
		pub = &k.PublicKey
	} else if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		pub = &k.PublicKey
	}
	if pub == nil {
		return ""
	}
	raw, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	return string(raw)
}

func keysByDER(keys []runKey, der []byte) []runKey {
	var out []runKey
	for _, k := range keys {
		if bytes.Equal(k.der, der) {
			out = append(out, k)
		}
	}
	return out
}
