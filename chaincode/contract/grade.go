package contract

import (
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// The grade rules of the consortium policy (domain/grade.go,
// chaincode/POLICY.md), applied at every transition they bear on:
//
//   - RegisterDataset, UpdateDataset: the share type is one the grade allows;
//   - CreateRequest: a legal basis where the grade requires one; for
//     unconditionally shared data, approved at once, the approval period too;
//   - ApproveRequest: the approval period (validUntil − now), and the
//     bureau's co-approval (CoApproveRequest) by another person first;
//   - RecordDelivery: the records of one delivery.
//
// Each reads the policy key; no transaction writes it but a policy change,
// so these reads conflict only with that.

// gradeRule is the rule of grade under the policy on the ledger (the
// legacy rules when it has none), and that policy (nil when none is set).
func gradeRule(stub shim.ChaincodeStubInterface, grade int) (domain.GradeRule, *domain.Policy, error) {
	_, p, err := readPolicy(stub)
	if err != nil {
		return domain.GradeRule{}, nil, err
	}
	return p.GradeRule(grade), p, nil
}

// checkShareType holds a dataset input's share type to its grade's rule.
func checkShareType(stub shim.ChaincodeStubInterface, in domain.DatasetInput) error {
	rule, _, err := gradeRule(stub, in.Grade)
	if err != nil {
		return err
	}
	return rule.CheckShareType(in.ShareType)
}

// checkRequestGrade holds a new request for d to d's grade rule: the legal
// basis, and, when the request is approved at once, the approval period.
// It answers the bureaus that are to co-approve it (and so may read it:
// Request.CoApprovers) when the rule requires a co-approval.
func checkRequestGrade(stub shim.ChaincodeStubInterface, d domain.Dataset, in domain.RequestInput, requester string, now time.Time) ([]string, error) {
	rule, p, err := gradeRule(stub, d.Grade)
	if err != nil {
		return nil, err
	}
	if err := rule.CheckLegalBasis(in.LegalBasis); err != nil {
		return nil, err
	}
	if d.ShareType == domain.ShareUnconditional {
		return nil, rule.CheckApprovalPeriod(now, in.ValidUntil)
	}
	if !rule.BureauApproval || p == nil {
		return nil, nil
	}
	var co []string
	for _, b := range p.Bureaus {
		if b != d.Owner && b != requester {
			co = append(co, b)
		}
	}
	return co, nil
}

// checkApprovalGrade holds an owner's approval of r at now to the rule of
// its dataset's grade.
func checkApprovalGrade(stub shim.ChaincodeStubInterface, r *domain.Request, a domain.Actor, now time.Time) error {
	rule, _, p, err := requestRule(stub, r)
	if err != nil {
		return err
	}
	var bureaus []string
	if p != nil {
		bureaus = p.Bureaus
	}
	if err := rule.CheckCoApproval(r, a, bureaus); err != nil {
		return err
	}
	return rule.CheckApprovalPeriod(now, r.ValidUntil)
}

// checkDeliveryGrade holds a delivery of records under r to the rule of
// its dataset's grade.
func checkDeliveryGrade(stub shim.ChaincodeStubInterface, r *domain.Request, records int64) error {
	rule, _, _, err := requestRule(stub, r)
	if err != nil {
		return err
	}
	return rule.CheckDeliveryRecords(records)
}

// requestRule is the rule for r's dataset, as the dataset is graded now,
// with the dataset and the policy.
func requestRule(stub shim.ChaincodeStubInterface, r *domain.Request) (domain.GradeRule, domain.Dataset, *domain.Policy, error) {
	var d domain.Dataset
	if _, err := mustGetEntity(stub, domain.KindDataset, r.DatasetID, &d); err != nil {
		return domain.GradeRule{}, d, nil, err
	}
	rule, p, err := gradeRule(stub, d.Grade)
	return rule, d, p, err
}

// CoApproveRequest records the co-approval of a pending request by an
// approver of a bureau department the consortium policy names, where the
// grade rule of the dataset requires one (bureauApproval). It does not
// approve the request: the owner's approver still decides, after it, and
// must be another person. The transaction writes the bureau's anchor, so
// the bureau's own peer endorses it. The reason is optional.
func (c *Contract) CoApproveRequest(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	return c.decide(ctx, id, input, decision{
		action: "co-approve", noun: "a co-approval", required: false, activeDataset: true, event: domain.EventRequestCoApproved,
		caller: bureauApprover, anchor: true,
		apply: func(stub shim.ChaincodeStubInterface, r *domain.Request, now time.Time, a domain.Actor, reason string) error {
			if r.Status != domain.RequestPending {
				return domain.Errorf(domain.CodeConflict, "request %s is %s; only a pending request can be co-approved", r.ID, r.Status)
			}
			if !now.Before(r.ValidUntil) {
				return domain.Errorf(domain.CodeConflict, "request %s expired at %s; it can no longer be co-approved", r.ID, r.ValidUntil.Format(time.RFC3339))
			}
			if r.CoApprovedBy != nil {
				return domain.Errorf(domain.CodeConflict, "request %s was already co-approved by %s of %s", r.ID, r.CoApprovedBy.Subject, r.CoApprovedBy.MSPID)
			}
			rule, d, p, err := requestRule(stub, r)
			if err != nil {
				return err
			}
			if !rule.BureauApproval {
				return domain.Errorf(domain.CodeConflict, "dataset %s is grade %d, whose requests need no bureau co-approval under the consortium policy (version %d): the owner's approver decides alone", d.ID, d.Grade, p.Version)
			}
			r.CoApprovedAt, r.CoApprovedBy, r.CoApprovalReason = &now, &a, reason
			return nil
		},
	})
}

// bureauApprover checks that a co-approving approver is of a bureau
// department the policy names, and not of the requesting one.
func bureauApprover(stub shim.ChaincodeStubInterface, a domain.Actor, r *domain.Request) error {
	_, p, err := readPolicy(stub)
	if err != nil {
		return err
	}
	if !p.Bureau(a.MSPID) {
		bureaus := "none"
		if p != nil && len(p.Bureaus) > 0 {
			bureaus = strings.Join(p.Bureaus, ", ")
		}
		return domain.Errorf(domain.CodeForbidden, "only an approver of a data-administration bureau may co-approve a request; %s is not one of the consortium policy's bureaus (%s)", a.MSPID, bureaus)
	}
	if a.MSPID == r.Requester {
		return domain.Errorf(domain.CodeForbidden, "%s requested %s itself and cannot co-approve its own request", a.MSPID, r.ID)
	}
	return nil
}
