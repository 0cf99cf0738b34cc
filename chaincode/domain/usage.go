package domain

import "time"

// Usage is one metered use of delivered data by the requester.
type Usage struct {
	ID        string    `json:"id"`
	RequestID string    `json:"requestId"`
	DatasetID string    `json:"datasetId"`
	Consumer  string    `json:"consumer"`
	Owner     string    `json:"owner"`
	Calls     int64     `json:"calls"`
	Records   int64     `json:"records"`
	At        time.Time `json:"at"`
	By        Actor     `json:"by"`
}

// UsageInput is one metered use.
type UsageInput struct {
	RequestID string `json:"requestId"`
	Calls     int64  `json:"calls"`
	Records   int64  `json:"records"`
}

// Validate checks a usage input.
func (in UsageInput) Validate() error {
	if err := CheckID("requestId", in.RequestID); err != nil {
		return err
	}
	if err := CheckCount("calls", in.Calls, true); err != nil {
		return err
	}
	return CheckCount("records", in.Records, false)
}

// ContributionStatus is where a contribution stands: it counts towards the
// contributor's score only once the pool's owner accepted it.
type ContributionStatus string

// The contribution statuses.
const (
	ContributionPending  ContributionStatus = "pending"
	ContributionAccepted ContributionStatus = "accepted"
	ContributionRejected ContributionStatus = "rejected"
)

// Contribution is data a department added to a collection or pool (归集),
// owned by another department. It is the contributor's claim until the
// pool's owner accepts it (or rejects it, which stays on the record).
type Contribution struct {
	ID          string             `json:"id"`
	DatasetID   string             `json:"datasetId"`
	Contributor string             `json:"contributor"`
	Owner       string             `json:"owner"` // the pool's owner
	Records     int64              `json:"records"`
	Bytes       int64              `json:"bytes"`
	SHA256      string             `json:"sha256"`
	At          time.Time          `json:"at"`
	By          Actor              `json:"by"`
	Status      ContributionStatus `json:"status"`
	Reason      string             `json:"reason,omitempty"`
	DecidedAt   *time.Time         `json:"decidedAt,omitempty"`
	DecidedBy   *Actor             `json:"decidedBy,omitempty"`
}

// ContributionInput is what a contributing operator supplies.
type ContributionInput struct {
	DatasetID string `json:"datasetId"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"`
}

// Validate checks a contribution input.
func (in ContributionInput) Validate() error {
	if err := CheckID("datasetId", in.DatasetID); err != nil {
		return err
	}
	if err := CheckCount("records", in.Records, true); err != nil {
		return err
	}
	if err := CheckCount("bytes", in.Bytes, true); err != nil {
		return err
	}
	return CheckSHA256("sha256", in.SHA256)
}
