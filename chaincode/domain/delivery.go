package domain

import (
	"slices"
	"time"
)

// DeliveryStatus is the state of a delivery.
type DeliveryStatus string

// The delivery states.
const (
	DeliveryDelivered DeliveryStatus = "delivered" // recorded by the owner
	DeliveryReceived  DeliveryStatus = "received"  // the requester's hash matched
	DeliveryDisputed  DeliveryStatus = "disputed"  // the requester's hash differed
	DeliveryDestroyed DeliveryStatus = "destroyed" // the holder destroyed its copy
)

// Delivery is what the owner handed over for an approved request: hashes and
// counts, never the data.
type Delivery struct {
	ID        string `json:"id"`
	RequestID string `json:"requestId"`
	DatasetID string `json:"datasetId"`
	Owner     string `json:"owner"`
	Requester string `json:"requester"`
	SHA256    string `json:"sha256"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
	Channel   string `json:"channel"`
	// Fields are the dataset's fields this delivery carried, as its owner
	// recorded them; none recorded on a delivery that did not say. The
	// early-warning watch flags grade 3 and 4 deliveries that carried a
	// field the request did not name (indexer/WATCH.md).
	Fields        []string       `json:"fields,omitempty"`
	Status        DeliveryStatus `json:"status"`
	DeliveredAt   time.Time      `json:"deliveredAt"`
	DeliveredBy   Actor          `json:"deliveredBy"`
	ReceiptSHA256 string         `json:"receiptSha256,omitempty"`
	ReceivedAt    *time.Time     `json:"receivedAt,omitempty"`
	ReceivedBy    *Actor         `json:"receivedBy,omitempty"`
	Feedback      *Feedback      `json:"feedback,omitempty"`
	DestroyedAt   *time.Time     `json:"destroyedAt,omitempty"`
	DestroyedBy   *Actor         `json:"destroyedBy,omitempty"`
	DestroyMethod string         `json:"destroyMethod,omitempty"`
}

// DeliveryInput is what the owner's operator records.
type DeliveryInput struct {
	SHA256  string `json:"sha256"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
	Channel string `json:"channel"`
	// Fields, optional, are the dataset's fields the delivery carried:
	// each must be a field of the dataset; one the request did not name is
	// recorded all the same (it is what was handed over), and watched.
	Fields []string `json:"fields,omitempty"`
}

// Validate checks a delivery input.
func (in DeliveryInput) Validate() error {
	if err := CheckSHA256("sha256", in.SHA256); err != nil {
		return err
	}
	if err := CheckCount("records", in.Records, false); err != nil {
		return err
	}
	if err := CheckCount("bytes", in.Bytes, true); err != nil {
		return err
	}
	if err := CheckFields("fields", in.Fields, false); err != nil {
		return err
	}
	return CheckText("channel", in.Channel, true, MaxTitleLen)
}

// FieldsOutside lists the fields of the delivery that are not among the
// request's fields, in the delivery's order; none when it named none.
func (d *Delivery) FieldsOutside(requested []string) []string {
	var out []string
	for _, f := range d.Fields {
		if !slices.Contains(requested, f) {
			out = append(out, f)
		}
	}
	return out
}

// ReceiptInput is the hash the requester computed over what it received.
type ReceiptInput struct {
	SHA256 string `json:"sha256"`
}

// Validate checks a receipt.
func (in ReceiptInput) Validate() error { return CheckSHA256("sha256", in.SHA256) }

// Feedback is the requester's rating of a delivery, once per delivery.
type Feedback struct {
	Timeliness   int       `json:"timeliness"`
	Accuracy     int       `json:"accuracy"`
	Completeness int       `json:"completeness"`
	Consistency  int       `json:"consistency"`
	Comment      string    `json:"comment,omitempty"`
	At           time.Time `json:"at"`
	By           Actor     `json:"by"`
}

// Mean is the average of the four ratings.
func (f Feedback) Mean() float64 {
	return float64(f.Timeliness+f.Accuracy+f.Completeness+f.Consistency) / 4
}

// FeedbackInput is the requester's rating.
type FeedbackInput struct {
	Timeliness   int    `json:"timeliness"`
	Accuracy     int    `json:"accuracy"`
	Completeness int    `json:"completeness"`
	Consistency  int    `json:"consistency"`
	Comment      string `json:"comment,omitempty"`
}

// Validate checks a feedback input.
func (in FeedbackInput) Validate() error {
	for _, r := range []struct {
		name string
		v    int
	}{{"timeliness", in.Timeliness}, {"accuracy", in.Accuracy}, {"completeness", in.Completeness}, {"consistency", in.Consistency}} {
		if err := CheckRating(r.name, r.v); err != nil {
			return err
		}
	}
	return CheckText("comment", in.Comment, false, MaxTextLen)
}

// DestructionInput records how a copy was destroyed.
type DestructionInput struct {
	Method string `json:"method,omitempty"`
}

// Validate checks a destruction input.
func (in DestructionInput) Validate() error {
	return CheckText("method", in.Method, false, MaxTitleLen)
}
