package domain

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The grade rules of the consortium policy: what the consortium allows for
// data of each sensitivity grade (1 public … 4 core). They live in the
// policy record (Policy.Grades), set at genesis from the topology and
// changed only by a proposal that a majority of the members' admins
// approve; the contract applies them at every transition they bear on.
// chaincode/POLICY.md is the reference.

// The names of the rules, as GradeRule's JSON fields spell them; a denial
// names its rule in its message and its details.
const (
	RuleShareTypes         = "shareTypes"
	RuleLegalBasisRequired = "legalBasisRequired"
	RuleMaxApprovalDays    = "maxApprovalDays"
	RuleBureauApproval     = "bureauApproval"
	RuleDestroyWithinDays  = "destroyWithinDays"
	RuleReceiptWithinDays  = "receiptWithinDays"
	RuleAnswerWithinDays   = "answerWithinDays"
	RuleMaxDeliveryRecords = "maxDeliveryRecords"
)

// Bounds of the numeric rules.
const (
	MaxApprovalDaysLimit    = int(MaxRequestValidity / (24 * time.Hour)) // a request's own 5-year cap
	MaxDestroyWithinDays    = 3660                                       // also the bound of receiptWithinDays and answerWithinDays
	MaxDeliveryRecordsLimit = int64(1) << 53                             // JSON-safe
)

// GradeRule is what the consortium policy says about data of one grade.
// The same field names spell it in the topology file (network/topology.yaml).
// Zero numbers mean "no limit" (maxApprovalDays, maxDeliveryRecords) or
// "not required" (destroyWithinDays).
type GradeRule struct {
	Grade int `json:"grade" yaml:"grade"`
	// ShareTypes are the share types a dataset of this grade may have, in
	// the order unconditional, conditional, none.
	ShareTypes []ShareType `json:"shareTypes" yaml:"shareTypes"`
	// LegalBasisRequired: a request for the dataset must state its legal basis.
	LegalBasisRequired bool `json:"legalBasisRequired" yaml:"legalBasisRequired"`
	// MaxApprovalDays is the longest approval: the request's validUntil
	// minus the time of the approval, in days of 24 hours.
	MaxApprovalDays int `json:"maxApprovalDays" yaml:"maxApprovalDays"`
	// BureauApproval: an approver of a department the policy names among
	// its bureaus co-approves the pending request (CoApproveRequest) before
	// the owner's approver may approve it, and they are two people.
	BureauApproval bool `json:"bureauApproval" yaml:"bureauApproval"`
	// DestroyWithinDays: the requester records the destruction of every
	// delivered copy within this many days after the approval ends
	// (expiry or revocation). The contract cannot act on time passing; the
	// indexers' early-warning watch judges it.
	// Days may be fractional (0.5 is 12 hours): the watch's windows are
	// judged to the second.
	DestroyWithinDays float64 `json:"destroyWithinDays" yaml:"destroyWithinDays"`
	// ReceiptWithinDays: the requester records the receipt of a delivery
	// within this many days of it; AnswerWithinDays: the owner answers a
	// dispute or a correction of the data within this many days (0: not
	// watched). Only the watch judges them (indexer/WATCH.md).
	ReceiptWithinDays float64 `json:"receiptWithinDays,omitempty" yaml:"receiptWithinDays"`
	AnswerWithinDays  float64 `json:"answerWithinDays,omitempty" yaml:"answerWithinDays"`
	// MaxDeliveryRecords is the most records one delivery may hold; more
	// takes a fresh request and approval for the rest.
	MaxDeliveryRecords int64 `json:"maxDeliveryRecords" yaml:"maxDeliveryRecords"`

	by string // whose rule it is, for denials: set by Policy.GradeRule
}

// shareTypeOrder is the canonical order of ShareTypes.
var shareTypeOrder = []ShareType{ShareUnconditional, ShareConditional, ShareNone}

// LegacyGradeRules are the rules of a ledger whose policy has none (set
// before grade rules existed, or no policy at all): what the contract did
// before them. Every share type for every grade, a legal basis on every
// request, no limit on approvals or deliveries, no bureau, no destruction
// deadline. That core data cannot be open is a rule of the dataset itself
// (DatasetInput.Validate), under every policy.
func LegacyGradeRules() []GradeRule {
	out := make([]GradeRule, 0, GradeCore)
	for g := GradePublic; g <= GradeCore; g++ {
		out = append(out, GradeRule{Grade: g, ShareTypes: slices.Clone(shareTypeOrder), LegalBasisRequired: true})
	}
	return out
}

// GradeRule returns the rule for grade under p: its own, or the legacy
// rule when p has none (or p is nil).
func (p *Policy) GradeRule(grade int) GradeRule {
	rules, by := LegacyGradeRules(), "the default rules (no consortium policy on the ledger yet)"
	switch {
	case p != nil && len(p.Grades) > 0:
		rules, by = p.Grades, fmt.Sprintf("the consortium policy (version %d)", p.Version)
	case p != nil:
		by = fmt.Sprintf("the default rules (consortium policy version %d has no grade rules)", p.Version)
	}
	for _, r := range rules {
		if r.Grade == grade {
			r.by = by
			return r
		}
	}
	// Unreachable for a validated policy and a validated grade.
	return GradeRule{Grade: grade, by: by}
}

// Bureau reports whether msp is one of the policy's bureau departments.
func (p *Policy) Bureau(msp string) bool { return p != nil && slices.Contains(p.Bureaus, msp) }

// normalizedGrades returns rules sorted by grade, each rule's share types
// in canonical order (repeats and unknown types kept, for checkGrades).
func normalizedGrades(rules []GradeRule) []GradeRule {
	if rules == nil {
		return nil
	}
	out := make([]GradeRule, len(rules))
	for i, r := range rules {
		r.ShareTypes = slices.Clone(r.ShareTypes)
		slices.SortStableFunc(r.ShareTypes, func(a, b ShareType) int { return shareRank(a) - shareRank(b) })
		out[i] = r
	}
	slices.SortStableFunc(out, func(a, b GradeRule) int { return a.Grade - b.Grade })
	return out
}

func shareRank(s ShareType) int {
	if i := slices.Index(shareTypeOrder, s); i >= 0 {
		return i
	}
	return len(shareTypeOrder)
}

// checkGrades checks a policy's grade rules against its bureaus: none at
// all (the legacy rules apply), or one rule per grade 1 to 4 in order,
// each with known share types in canonical order and numbers in range. A
// rule that needs a bureau's co-approval needs a bureau, and cannot allow
// unconditional sharing, which no one approves.
func checkGrades(rules []GradeRule, hasBureau bool) error {
	if len(rules) == 0 {
		return nil
	}
	if len(rules) != GradeCore {
		return Errorf(CodeInvalid, "grades lists %d rules; it must list one for each grade %d to %d, or none", len(rules), GradePublic, GradeCore)
	}
	for i, r := range rules {
		if r.Grade != GradePublic+i {
			return Errorf(CodeInvalid, "grades must list grades %d to %d once each, in order: rule %d is for grade %d", GradePublic, GradeCore, i+1, r.Grade)
		}
		if err := r.check(hasBureau); err != nil {
			return err
		}
	}
	return nil
}

func (r GradeRule) check(hasBureau bool) error {
	field := func(name string) string { return fmt.Sprintf("grades[%d].%s", r.Grade, name) }
	if len(r.ShareTypes) == 0 {
		return Errorf(CodeInvalid, "%s must allow at least one share type (none: the data is not shared)", field(RuleShareTypes)).WithDetail("field", field(RuleShareTypes))
	}
	for i, s := range r.ShareTypes {
		if !s.Valid() {
			return Errorf(CodeInvalid, "%s: %q must be one of unconditional, conditional, none", field(RuleShareTypes), truncate(string(s), 40)).WithDetail("field", field(RuleShareTypes))
		}
		if i > 0 && r.ShareTypes[i-1] == s {
			return Errorf(CodeInvalid, "%s lists %s twice", field(RuleShareTypes), s).WithDetail("field", field(RuleShareTypes))
		}
		if i > 0 && shareRank(r.ShareTypes[i-1]) > shareRank(s) {
			return Errorf(CodeInvalid, "%s must be in the order unconditional, conditional, none", field(RuleShareTypes)).WithDetail("field", field(RuleShareTypes))
		}
	}
	if r.MaxApprovalDays < 0 || r.MaxApprovalDays > MaxApprovalDaysLimit {
		return Errorf(CodeInvalid, "%s must be from 0 (no limit) to %d, not %d", field(RuleMaxApprovalDays), MaxApprovalDaysLimit, r.MaxApprovalDays).WithDetail("field", field(RuleMaxApprovalDays))
	}
	for _, w := range []struct {
		name string
		days float64
	}{{RuleDestroyWithinDays, r.DestroyWithinDays}, {RuleReceiptWithinDays, r.ReceiptWithinDays}, {RuleAnswerWithinDays, r.AnswerWithinDays}} {
		if !(w.days >= 0 && w.days <= MaxDestroyWithinDays) {
			return Errorf(CodeInvalid, "%s must be from 0 (not required) to %d days, not %g", field(w.name), MaxDestroyWithinDays, w.days).WithDetail("field", field(w.name))
		}
	}
	if r.MaxDeliveryRecords < 0 || r.MaxDeliveryRecords > MaxDeliveryRecordsLimit {
		return Errorf(CodeInvalid, "%s must be from 0 (no limit) to %d, not %d", field(RuleMaxDeliveryRecords), MaxDeliveryRecordsLimit, r.MaxDeliveryRecords).WithDetail("field", field(RuleMaxDeliveryRecords))
	}
	if r.BureauApproval {
		if !hasBureau {
			return Errorf(CodeInvalid, "%s needs a bureau's co-approval, and the policy names no bureaus", field(RuleBureauApproval)).WithDetail("field", "bureaus")
		}
		if slices.Contains(r.ShareTypes, ShareUnconditional) {
			return Errorf(CodeInvalid, "%s needs a bureau's co-approval, which unconditionally shared data never gets: drop unconditional from %s", field(RuleBureauApproval), field(RuleShareTypes)).WithDetail("field", field(RuleShareTypes))
		}
	}
	return nil
}

// GradeDenial is the error of a transition that a grade rule forbids: code
// forbidden, a message that starts with the grade and ends with the rule,
// "grade 3 data cannot be shared unconditionally … (policy rule
// shareTypes)", and both as details. ParseError recovers the details from
// the message on the far side of the chaincode boundary.
func GradeDenial(grade int, rule, format string, args ...any) *Error {
	msg := fmt.Sprintf("grade %d data %s (policy rule %s)", grade, fmt.Sprintf(format, args...), rule)
	return (&Error{Code: CodeForbidden, Message: msg}).WithDetail("rule", rule).WithDetail("grade", strconv.Itoa(grade))
}

var gradeDenialText = regexp.MustCompile(`^grade ([1-4]) data .*\(policy rule ([A-Za-z]+)\)$`)

// gradeDenialDetails are the details of a GradeDenial message; nil for any
// other message.
func gradeDenialDetails(code Code, msg string) map[string]string {
	if code != CodeForbidden {
		return nil
	}
	m := gradeDenialText.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	return map[string]string{"grade": m[1], "rule": m[2]}
}

// shareWords says how data of share type s is shared, for messages.
func shareWords(s ShareType) string {
	switch s {
	case ShareUnconditional:
		return "shared unconditionally"
	case ShareConditional:
		return "shared conditionally"
	case ShareNone:
		return "withheld from sharing (share type none)"
	}
	return "given share type " + truncate(string(s), 40)
}

func shareList(ss []ShareType) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// CheckShareType holds a dataset's share type to the rule of its grade.
func (r GradeRule) CheckShareType(s ShareType) error {
	if slices.Contains(r.ShareTypes, s) {
		return nil
	}
	return GradeDenial(r.Grade, RuleShareTypes, "cannot be %s: under %s its share type is one of %s", shareWords(s), r.by, shareList(r.ShareTypes))
}

// CheckLegalBasis holds a request's legal basis to the rule of its
// dataset's grade.
func (r GradeRule) CheckLegalBasis(legalBasis string) error {
	if !r.LegalBasisRequired || strings.TrimSpace(legalBasis) != "" {
		return nil
	}
	return GradeDenial(r.Grade, RuleLegalBasisRequired, "is requested only with a legal basis under %s, and legalBasis is empty", r.by)
}

// CheckApprovalPeriod holds an approval at time at of a request valid
// until validUntil to the rule's longest approval.
func (r GradeRule) CheckApprovalPeriod(at, validUntil time.Time) error {
	if r.MaxApprovalDays == 0 {
		return nil
	}
	longest := time.Duration(r.MaxApprovalDays) * 24 * time.Hour
	if validUntil.Sub(at) <= longest {
		return nil
	}
	return GradeDenial(r.Grade, RuleMaxApprovalDays, "is approved for at most %d days under %s: the request runs until %s, %.1f days after this approval; a request valid until %s at the latest can be",
		r.MaxApprovalDays, r.by, validUntil.UTC().Format(time.RFC3339), validUntil.Sub(at).Hours()/24, at.Add(longest).UTC().Format(time.RFC3339))
}

// CheckDeliveryRecords holds one delivery's record count to the rule.
func (r GradeRule) CheckDeliveryRecords(records int64) error {
	if r.MaxDeliveryRecords == 0 || records <= r.MaxDeliveryRecords {
		return nil
	}
	return GradeDenial(r.Grade, RuleMaxDeliveryRecords, "is delivered at most %d records at a time under %s, and this delivery holds %d; the rest takes a fresh request and approval", r.MaxDeliveryRecords, r.by, records)
}

// ProposedGrades are what a proposal makes of the policy's bureaus and
// grade rules, as its record keeps them (PolicyProposal.Bureaus, Grades):
// the proposal's where it gives them (bureaus: any list, an empty one
// included; grades: all four rules), else the policy's own.
func (in PolicyProposalInput) ProposedGrades(p *Policy) ([]string, []GradeRule) {
	bureaus, grades := p.Bureaus, p.Grades
	if in.Bureaus != nil {
		bureaus = sortedCopy(*in.Bureaus)
	}
	if len(in.Grades) > 0 {
		grades = normalizedGrades(in.Grades)
	}
	return bureaus, grades
}

// checkGradesAgainst holds the proposal's bureaus and grade rules to the
// policy: bureaus among its members, rules that hold with those bureaus.
// It reports whether they change anything.
func (in PolicyProposalInput) checkGradesAgainst(p *Policy) (changed bool, err error) {
	bureaus, grades := in.ProposedGrades(p)
	if err := checkHolders("bureaus", bureaus, p.Members); err != nil {
		return false, err
	}
	if err := checkGrades(grades, len(bureaus) > 0); err != nil {
		return false, err
	}
	return !slices.Equal(bureaus, p.Bureaus) || !slices.EqualFunc(grades, p.Grades, GradeRule.equal), nil
}

func (r GradeRule) equal(o GradeRule) bool {
	return r.Grade == o.Grade && slices.Equal(r.ShareTypes, o.ShareTypes) && r.LegalBasisRequired == o.LegalBasisRequired &&
		r.MaxApprovalDays == o.MaxApprovalDays && r.BureauApproval == o.BureauApproval &&
		r.DestroyWithinDays == o.DestroyWithinDays && r.MaxDeliveryRecords == o.MaxDeliveryRecords &&
		r.ReceiptWithinDays == o.ReceiptWithinDays && r.AnswerWithinDays == o.AnswerWithinDays
}

// checkGradesForm checks a proposal's bureaus and grade rules on their own;
// CheckAgainst then holds them to the policy.
func (in PolicyProposalInput) checkGradesForm() error {
	hasBureau := true // unknown until CheckAgainst: the policy's bureaus may serve
	if in.Bureaus != nil {
		if err := checkList("bureaus", sortedCopy(*in.Bureaus)); err != nil {
			return err
		}
		hasBureau = len(*in.Bureaus) > 0
	}
	return checkGrades(normalizedGrades(in.Grades), hasBureau)
}

// CheckCoApproval holds the owner's approver's approval of req to the
// bureau rule: a bureau approver co-approved it first, and that was
// another person.
func (r GradeRule) CheckCoApproval(req *Request, approver Actor, bureaus []string) error {
	if !r.BureauApproval {
		return nil
	}
	if req.CoApprovedBy == nil {
		names := "a bureau the policy names"
		if len(bureaus) > 0 {
			names = strings.Join(bureaus, ", ")
		}
		return GradeDenial(r.Grade, RuleBureauApproval, "is approved only after an approver of the data-administration bureau (%s) has co-approved the request under %s, and request %s has no co-approval yet (POST /v1/requests/%s/coapprove)", names, r.by, req.ID, req.ID)
	}
	if req.CoApprovedBy.MSPID == approver.MSPID && req.CoApprovedBy.Subject == approver.Subject {
		return GradeDenial(r.Grade, RuleBureauApproval, "needs two approvers under %s: %s co-approved request %s for the bureau and cannot also approve it for the owner", r.by, approver.Subject, req.ID)
	}
	return nil
}

// ProposedGrades are the bureaus and grade rules that applying pp to p
// gives: the proposal's, or p's where the record has none (a proposal
// recorded before grade rules existed).
func (pp *PolicyProposal) ProposedGrades(p *Policy) ([]string, []GradeRule) {
	bureaus, grades := pp.Bureaus, pp.Grades
	if bureaus == nil {
		bureaus = p.Bureaus
	}
	if grades == nil {
		grades = p.Grades
	}
	return bureaus, grades
}

// Days is a number of days of 24 hours as a duration, to the second.
func Days(d float64) time.Duration {
	return time.Duration(math.Round(d*86400)) * time.Second
}

// DestroyDeadline is when the copies delivered under r must be recorded
// destroyed by, under the rule: destroyWithinDays after r's approval ends,
// at its validUntil or at its revocation if that came first. ok is false
// when the rule requires no destruction or r was never approved. The
// contract cannot act on it; the indexers' early-warning watch does.
func (r GradeRule) DestroyDeadline(req Request) (deadline time.Time, ok bool) {
	if r.DestroyWithinDays == 0 || (req.Status != RequestApproved && req.Status != RequestRevoked) {
		return time.Time{}, false
	}
	end := req.ValidUntil
	if req.RevokedAt != nil && req.RevokedAt.Before(end) {
		end = *req.RevokedAt
	}
	return end.Add(Days(r.DestroyWithinDays)), true
}
