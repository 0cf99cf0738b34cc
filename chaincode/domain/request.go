package domain

import "time"

// RequestStatus is the state of a share request.
type RequestStatus string

// The request states. Expired is never stored: an approved request whose
// validUntil has passed is expired, judged against the transaction timestamp
// on the ledger and against the clock when read.
const (
	RequestPending  RequestStatus = "pending"
	RequestApproved RequestStatus = "approved"
	RequestRejected RequestStatus = "rejected"
	RequestRevoked  RequestStatus = "revoked"
	RequestExpired  RequestStatus = "expired"
)

// RequestStatuses lists every request state, in order.
var RequestStatuses = []RequestStatus{RequestPending, RequestApproved, RequestRejected, RequestRevoked, RequestExpired}

// Valid reports whether s is a known request state.
func (s RequestStatus) Valid() bool {
	for _, x := range RequestStatuses {
		if s == x {
			return true
		}
	}
	return false
}

// Request is one department's request for another's dataset.
type Request struct {
	ID             string        `json:"id"`
	DatasetID      string        `json:"datasetId"`
	DatasetVersion int           `json:"datasetVersion"`
	Requester      string        `json:"requester"`
	Owner          string        `json:"owner"`
	Fields         []string      `json:"fields"`
	Purpose        string        `json:"purpose"`
	LegalBasis     string        `json:"legalBasis"`
	ValidUntil     time.Time     `json:"validUntil"`
	Status         RequestStatus `json:"status"`
	Reason         string        `json:"reason,omitempty"`
	CreatedAt      time.Time     `json:"createdAt"`
	CreatedBy      Actor         `json:"createdBy"`
	DecidedAt      *time.Time    `json:"decidedAt,omitempty"`
	DecidedBy      *Actor        `json:"decidedBy,omitempty"`
	RevokedAt      *time.Time    `json:"revokedAt,omitempty"`
	RevokedBy      *Actor        `json:"revokedBy,omitempty"`
	// CoApprovers are the bureau departments whose approver is to
	// co-approve it, where the dataset's grade rule required one when it
	// was created (the policy's bureaus then, but the owner and the
	// requester); they may read it (Readers).
	CoApprovers []string `json:"coApprovers,omitempty"`
	// The co-approval by a bureau approver, where the dataset's grade rule
	// requires one before the owner's approval (grade.go).
	CoApprovedAt     *time.Time `json:"coApprovedAt,omitempty"`
	CoApprovedBy     *Actor     `json:"coApprovedBy,omitempty"`
	CoApprovalReason string     `json:"coApprovalReason,omitempty"`
}

// StatusAt is the request's status at time t: an approved request past its
// validUntil is expired.
func (r Request) StatusAt(t time.Time) RequestStatus {
	if r.Status == RequestApproved && !t.Before(r.ValidUntil) {
		return RequestExpired
	}
	return r.Status
}

// RequestInput is what a requesting operator supplies.
type RequestInput struct {
	DatasetID  string    `json:"datasetId"`
	Purpose    string    `json:"purpose"`
	LegalBasis string    `json:"legalBasis"`
	Fields     []string  `json:"fields"`
	ValidUntil time.Time `json:"validUntil"`
}

// Validate checks the request input; now is the transaction time.
func (in RequestInput) Validate(now time.Time) error {
	if err := CheckID("datasetId", in.DatasetID); err != nil {
		return err
	}
	if err := CheckText("purpose", in.Purpose, true, MaxTextLen); err != nil {
		return err
	}
	// Whether a legal basis is required is the grade rule's to say
	// (GradeRule.CheckLegalBasis), once the dataset's grade is known.
	if err := CheckText("legalBasis", in.LegalBasis, false, MaxTextLen); err != nil {
		return err
	}
	if err := CheckFields("fields", in.Fields, false); err != nil {
		return err
	}
	if in.ValidUntil.IsZero() {
		return Errorf(CodeInvalid, "validUntil is required")
	}
	if !in.ValidUntil.After(now) {
		return Errorf(CodeInvalid, "validUntil %s is not in the future", in.ValidUntil.UTC().Format(time.RFC3339))
	}
	if in.ValidUntil.Sub(now) > MaxRequestValidity {
		return Errorf(CodeInvalid, "validUntil is more than 5 years ahead")
	}
	return nil
}

// DecisionInput carries the reason for an approval, rejection or revocation.
type DecisionInput struct {
	Reason string `json:"reason"`
}

// Validate checks the reason; rejections and revocations must give one.
func (in DecisionInput) Validate(required bool) error {
	return CheckText("reason", in.Reason, required, MaxTextLen)
}
