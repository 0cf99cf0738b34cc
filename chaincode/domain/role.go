package domain

// Role is what a person may do within their department. It comes from the
// "role" attribute of the person's certificate, issued by the department's CA.
type Role string

// The roles.
const (
	RoleOperator  Role = "operator"  // publishes datasets, requests, delivers, receives, meters use
	RoleApprover  Role = "approver"  // approves, rejects and revokes requests for the department's data
	RoleEvaluator Role = "evaluator" // computes and publishes contribution scores
	RoleAuditor   Role = "auditor"   // traces and verifies
	RoleAdmin     Role = "admin"     // maintains the department's profile
)

// RoleAttribute is the certificate attribute that carries the role.
const RoleAttribute = "role"

// Roles lists every role, in a fixed order.
var Roles = []Role{RoleOperator, RoleApprover, RoleEvaluator, RoleAuditor, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Actor is the person behind a transaction: their department, certificate
// subject and role. The ledger names the person responsible, not only the
// department.
type Actor struct {
	MSPID   string `json:"mspId"`
	Subject string `json:"subject"`
	Role    Role   `json:"role"`
}
