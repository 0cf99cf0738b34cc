package domain

import "time"

// CorrectionStatus is the state of a correction.
type CorrectionStatus string

// The correction states.
const (
	CorrectionOpen     CorrectionStatus = "open"
	CorrectionResolved CorrectionStatus = "resolved"
)

// Correction is an error in delivered data, opened by the consumer and
// resolved by the owner: the feedback loop back into data governance.
type Correction struct {
	ID          string           `json:"id"`
	DeliveryID  string           `json:"deliveryId"`
	RequestID   string           `json:"requestId"`
	DatasetID   string           `json:"datasetId"`
	Requester   string           `json:"requester"`
	Owner       string           `json:"owner"`
	Description string           `json:"description"`
	Status      CorrectionStatus `json:"status"`
	Resolution  string           `json:"resolution,omitempty"`
	OpenedAt    time.Time        `json:"openedAt"`
	OpenedBy    Actor            `json:"openedBy"`
	ResolvedAt  *time.Time       `json:"resolvedAt,omitempty"`
	ResolvedBy  *Actor           `json:"resolvedBy,omitempty"`
}

// CorrectionInput opens a correction.
type CorrectionInput struct {
	DeliveryID  string `json:"deliveryId"`
	Description string `json:"description"`
}

// Validate checks a correction input.
func (in CorrectionInput) Validate() error {
	if err := CheckID("deliveryId", in.DeliveryID); err != nil {
		return err
	}
	return CheckText("description", in.Description, true, MaxTextLen)
}

// ResolutionInput resolves a correction.
type ResolutionInput struct {
	Resolution string `json:"resolution"`
}

// Validate checks a resolution input.
func (in ResolutionInput) Validate() error {
	return CheckText("resolution", in.Resolution, true, MaxTextLen)
}
