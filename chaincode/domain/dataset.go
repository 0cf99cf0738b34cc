package domain

import "time"

// ShareType says on what terms a dataset is shared with other departments.
type ShareType string

// The share types.
const (
	ShareUnconditional ShareType = "unconditional" // requests are approved at once
	ShareConditional   ShareType = "conditional"   // requests wait for the owner's approver
	ShareNone          ShareType = "none"          // cannot be requested
)

// Valid reports whether s is a known share type.
func (s ShareType) Valid() bool {
	return s == ShareUnconditional || s == ShareConditional || s == ShareNone
}

// OpenType says whether a dataset is open to the public.
type OpenType string

// The open types.
const (
	OpenOpen       OpenType = "open"
	OpenRestricted OpenType = "restricted"
	OpenClosed     OpenType = "closed"
)

// Valid reports whether o is a known open type.
func (o OpenType) Valid() bool { return o == OpenOpen || o == OpenRestricted || o == OpenClosed }

// Sensitivity grades, 1 public … 4 core.
const (
	GradePublic = 1
	GradeCore   = 4
)

// Frequency is how often a dataset is updated.
type Frequency string

// The update frequencies.
var Frequencies = []Frequency{"realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular"}

// Valid reports whether f is a known frequency.
func (f Frequency) Valid() bool {
	for _, x := range Frequencies {
		if f == x {
			return true
		}
	}
	return false
}

// DatasetStatus is the life state of a catalog entry.
type DatasetStatus string

// The dataset states.
const (
	DatasetActive  DatasetStatus = "active"
	DatasetRetired DatasetStatus = "retired"
)

// Dataset is a catalog entry. The data itself never goes on the ledger.
type Dataset struct {
	ID              string        `json:"id"`
	Owner           string        `json:"owner"`
	Title           string        `json:"title"`
	Description     string        `json:"description"`
	Fields          []string      `json:"fields"`
	SchemaHash      string        `json:"schemaHash,omitempty"`
	UpdateFrequency Frequency     `json:"updateFrequency"`
	ShareType       ShareType     `json:"shareType"`
	OpenType        OpenType      `json:"openType"`
	Grade           int           `json:"grade"`
	Version         int           `json:"version"`
	Status          DatasetStatus `json:"status"`
	DerivedFrom     []string      `json:"derivedFrom"`
	RetireReason    string        `json:"retireReason,omitempty"` // the reason given when it was retired
	CreatedAt       time.Time     `json:"createdAt"`
	UpdatedAt       time.Time     `json:"updatedAt"`
	CreatedBy       Actor         `json:"createdBy"`
	UpdatedBy       Actor         `json:"updatedBy"`
}

// DatasetInput is what an operator supplies to register a dataset or to
// publish a new version of it. ID is optional on register (derived from the
// transaction ID when empty) and ignored on update.
type DatasetInput struct {
	ID              string    `json:"id,omitempty"`
	Title           string    `json:"title"`
	Description     string    `json:"description"`
	Fields          []string  `json:"fields"`
	SchemaHash      string    `json:"schemaHash,omitempty"`
	UpdateFrequency Frequency `json:"updateFrequency"`
	ShareType       ShareType `json:"shareType"`
	OpenType        OpenType  `json:"openType"`
	Grade           int       `json:"grade"`
	DerivedFrom     []string  `json:"derivedFrom"`
}

// Validate checks every field of a dataset input.
func (in DatasetInput) Validate() error {
	if in.ID != "" {
		if err := CheckID("id", in.ID); err != nil {
			return err
		}
	}
	if err := CheckText("title", in.Title, true, MaxTitleLen); err != nil {
		return err
	}
	if err := CheckText("description", in.Description, false, MaxTextLen); err != nil {
		return err
	}
	if err := CheckFields("fields", in.Fields, true); err != nil {
		return err
	}
	if in.SchemaHash != "" {
		if err := CheckSHA256("schemaHash", in.SchemaHash); err != nil {
			return err
		}
	}
	if !in.UpdateFrequency.Valid() {
		return Errorf(CodeInvalid, "updateFrequency %q must be one of realtime, hourly, daily, weekly, monthly, quarterly, yearly, irregular", in.UpdateFrequency)
	}
	if !in.ShareType.Valid() {
		return Errorf(CodeInvalid, "shareType %q must be one of unconditional, conditional, none", in.ShareType)
	}
	if !in.OpenType.Valid() {
		return Errorf(CodeInvalid, "openType %q must be one of open, restricted, closed", in.OpenType)
	}
	if in.Grade < GradePublic || in.Grade > GradeCore {
		return Errorf(CodeInvalid, "grade must be from %d (public) to %d (core), not %d", GradePublic, GradeCore, in.Grade)
	}
	if in.Grade == GradeCore && in.OpenType == OpenOpen {
		return Errorf(CodeInvalid, "a grade %d (core) dataset cannot be open", GradeCore)
	}
	if len(in.DerivedFrom) > MaxDerivedFrom {
		return Errorf(CodeInvalid, "derivedFrom has %d entries, more than %d", len(in.DerivedFrom), MaxDerivedFrom)
	}
	seen := map[string]bool{}
	for _, id := range in.DerivedFrom {
		if err := CheckID("derivedFrom entry", id); err != nil {
			return err
		}
		if seen[id] {
			return Errorf(CodeInvalid, "derivedFrom lists %q twice", id)
		}
		if id == in.ID && id != "" {
			return Errorf(CodeInvalid, "dataset %q cannot be derived from itself", id)
		}
		seen[id] = true
	}
	return nil
}
