package network

import (
	"context"
	"fmt"

	"github.com/govshare/ledger/chaincode/domain"
)

// Person is one enrolled person of a department, as the gateway and the
// credentials file know them.
type Person struct {
	MSPID    string      `json:"mspId"`
	User     string      `json:"user"`
	Role     domain.Role `json:"role"`
	CertPath string      `json:"-"`
	KeyPath  string      `json:"-"`
}

// IndexerUser is the department's service identity that reads blocks for the
// indexer; it has no role, so the chaincode lets it do nothing.
const IndexerUser = "indexer"

// SecondOperator is the user name of a department's second operator.
const SecondOperator = "operator2"

// people lists the persons to enroll for a department: its admin, one person
// for every other role it has and, where it has operators, a second
// operator (operator2: the one the revocation test revokes, so that no
// other test loses its person).
func (n *Net) people(d Department) []Person {
	var out []Person
	for _, r := range domain.Roles {
		if !d.HasRole(r) {
			continue
		}
		user := string(r) + "1"
		if r == domain.RoleAdmin {
			user = "admin"
		}
		dir := n.userDir(d, user)
		out = append(out, Person{MSPID: d.MSPID, User: user, Role: r,
			CertPath: dir + "/msp/signcerts/cert.pem", KeyPath: dir + "/msp/keystore/key.pem"})
	}
	if d.HasRole(domain.RoleOperator) {
		dir := n.userDir(d, SecondOperator)
		out = append(out, Person{MSPID: d.MSPID, User: SecondOperator, Role: domain.RoleOperator,
			CertPath: dir + "/msp/signcerts/cert.pem", KeyPath: dir + "/msp/keystore/key.pem"})
	}
	return out
}

// identities starts one CA per organization and enrolls every node and person.
func (n *Net) identities(ctx context.Context) error {
	type org struct {
		ca     *orgCA
		enroll []enrollment
	}
	var orgs []org
	cas := n.orgCAs()
	o := org{ca: cas[ordererOrg]}
	for _, node := range n.topo.Ordering.Nodes {
		o.enroll = append(o.enroll, enrollment{user: node.Name, typ: "orderer", dir: n.ordererDir(node), tls: true, hosts: []string{node.Host}})
	}
	o.enroll = append(o.enroll, enrollment{user: "admin", typ: "admin", dir: n.orgDir(ordererOrg, "users", "admin")})
	orgs = append(orgs, o)
	for _, d := range n.topo.Departments {
		orgs = append(orgs, org{ca: cas[d.Slug()], enroll: n.deptEnrollments(d)})
	}
	return parallel(len(orgs), func(i int) error {
		return n.orgIdentities(ctx, orgs[i].ca, orgs[i].enroll)
	})
}

// deptEnrollments are the identities of department d: its peer, its
// people, its indexer and its gateway.
func (n *Net) deptEnrollments(d Department) []enrollment {
	out := []enrollment{{user: "peer0", typ: "peer", dir: n.peerDir(d), tls: true, hosts: []string{d.Host}}}
	for _, p := range n.people(d) {
		e := enrollment{user: p.User, typ: "client", role: p.Role, dir: n.userDir(d, p.User)}
		if p.Role == domain.RoleAdmin {
			// The department's admin revokes its people at the CA
			// (POST /v1/people/{user}/revoke), signing as themselves.
			e.typ, e.caAttrs = "admin", departmentAdminCAAttrs
		}
		out = append(out, e)
	}
	out = append(out, enrollment{user: IndexerUser, typ: "client", dir: n.userDir(d, IndexerUser)})
	return append(out, enrollment{user: GatewayUser, typ: "client", dir: n.orgDir(d.Slug(), GatewayUser), tls: true, hosts: []string{d.Host}})
}

// orgIdentities starts an organization's CA, lays out the organization's
// MSP folder and enrolls its identities.
func (n *Net) orgIdentities(ctx context.Context, ca *orgCA, enroll []enrollment) error {
	if err := n.startCA(ctx, ca); err != nil {
		return fmt.Errorf("CA of %s: %w", ca.org, err)
	}
	if err := orgMSP(n.orgDir(ca.org, "msp"), ca.rootCert()); err != nil {
		return err
	}
	for _, e := range enroll {
		if err := n.enroll(ctx, ca, e); err != nil {
			return fmt.Errorf("enroll %s of %s: %w", e.user, ca.org, err)
		}
	}
	return nil
}
