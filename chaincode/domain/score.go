package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ScoreItem is one department's contribution score for a period, with the
// indicators it was computed from.
type ScoreItem struct {
	MSPID     string             `json:"mspId"`
	Rank      int                `json:"rank"`
	Score     float64            `json:"score"`
	Breakdown map[string]float64 `json:"breakdown"` // encoding/json writes map keys sorted
}

// Scores is the score document of a period: reproducible by anyone from the
// same ledger up to AsOfBlock; InputDigest is the SHA-256 of the inputs.
type Scores struct {
	Period      string      `json:"period"`
	AsOfBlock   uint64      `json:"asOfBlock"`
	InputDigest string      `json:"inputDigest"`
	ModelDigest string      `json:"modelDigest,omitempty"` // SHA-256 of the weights and normalization used
	Items       []ScoreItem `json:"items"`
}

// ScoreSnapshot is a score document published on the ledger by an evaluator.
type ScoreSnapshot struct {
	Scores
	ID          string    `json:"id"`
	PublishedAt time.Time `json:"publishedAt"`
	PublishedBy Actor     `json:"publishedBy"`
}

var periodPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// CheckPeriod checks a YYYY-MM period.
func CheckPeriod(p string) error {
	if !periodPattern.MatchString(p) {
		return Errorf(CodeInvalid, "period %q must be YYYY-MM", truncate(p, 20))
	}
	return nil
}

// PeriodBounds returns the first instant of the period and of the next one, in UTC.
func PeriodBounds(p string) (start, end time.Time, err error) {
	if err := CheckPeriod(p); err != nil {
		return time.Time{}, time.Time{}, err
	}
	start, _ = time.Parse("2006-01", p)
	return start, start.AddDate(0, 1, 0), nil
}

// Validate checks a score document before it is published. A document may
// list no department: a period that ended before any department had a
// profile scores nobody, and saying so on the ledger is still a statement
// the attestors check.
func (s Scores) Validate() error {
	if err := CheckPeriod(s.Period); err != nil {
		return err
	}
	if err := CheckSHA256("inputDigest", s.InputDigest); err != nil {
		return err
	}
	if s.ModelDigest != "" {
		if err := CheckSHA256("modelDigest", s.ModelDigest); err != nil {
			return err
		}
	}
	if s.AsOfBlock == 0 {
		return Errorf(CodeInvalid, "asOfBlock is required: the block up to which the scores were computed (block 0 holds no event)")
	}
	if len(s.Items) > 1000 {
		return Errorf(CodeInvalid, "items must hold at most 1000 scores")
	}
	seen := map[string]bool{}
	for i, it := range s.Items {
		if err := CheckMSPID("items.mspId", it.MSPID); err != nil {
			return err
		}
		if seen[it.MSPID] {
			return Errorf(CodeInvalid, "items list %s twice", it.MSPID)
		}
		seen[it.MSPID] = true
		if it.Rank != i+1 {
			return Errorf(CodeInvalid, "items must be in rank order: item %d has rank %d", i+1, it.Rank)
		}
		if len(it.Breakdown) > 50 {
			return Errorf(CodeInvalid, "breakdown of %s has more than 50 indicators", it.MSPID)
		}
	}
	return nil
}

// CheckPeriodOver refuses to publish a period that has not ended at now
// (the transaction time): its scores would still change, and the one
// snapshot per period would freeze them early.
func CheckPeriodOver(period string, now time.Time) error {
	_, end, err := PeriodBounds(period)
	if err != nil {
		return err
	}
	if now.Before(end) {
		return Errorf(CodeConflict, "period %s is not over: it ends at %s, and its scores can be published from then on",
			period, end.Format(time.RFC3339)).WithDetail("periodEnd", end.Format(time.RFC3339))
	}
	return nil
}

// Digest is the SHA-256 of the document as encoding/json writes it (the
// fields in declaration order, breakdown keys sorted, numbers in Go's
// shortest form): the same on every department for the same document. A
// nil and an empty list of items are the same document.
func (s Scores) Digest() string {
	if s.Items == nil {
		s.Items = []ScoreItem{}
	}
	return digestJSON(s)
}

// ItemsDigest is the SHA-256 of the items as encoding/json writes them:
// two score lists with the same digest are the same, byte for byte.
func ItemsDigest(items []ScoreItem) string {
	if items == nil {
		items = []ScoreItem{}
	}
	return digestJSON(items)
}

func digestJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a NaN or an infinity cannot be written; a document that
		// holds one cannot have been published, so no digest matches it.
		b = []byte("unencodable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The attestations: every department's indexer recomputes a published
// snapshot from its own mirror, at the snapshot's asOfBlock, and its admin
// records on the ledger whether the input digest and the scores match.
const (
	KindAttestation     Kind      = "attestation"
	EventScoresAttested EventType = "attestation.recorded"
)

// MaxAttestationDetail bounds what an attestation says of a mismatch.
const MaxAttestationDetail = MaxTextLen

// AttestationInput is the argument of AttestScores: what this department's
// indexer computed, at the snapshot's asOfBlock, for the snapshot of period.
type AttestationInput struct {
	Period         string `json:"period"`
	SnapshotDigest string `json:"snapshotDigest"` // Scores.Digest of the published document compared with
	InputDigest    string `json:"inputDigest"`    // as this department's indexer computed it
	ScoresDigest   string `json:"scoresDigest"`   // ItemsDigest of the items it computed
	Matched        bool   `json:"matched"`
	Detail         string `json:"detail,omitempty"` // what differs, for a mismatch
}

// Validate checks an attestation's form; AttestScores then holds it to the
// snapshot on the ledger.
func (in AttestationInput) Validate() error {
	if err := CheckPeriod(in.Period); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"snapshotDigest", in.SnapshotDigest}, {"inputDigest", in.InputDigest}, {"scoresDigest", in.ScoresDigest},
	} {
		if err := CheckSHA256(f.name, f.v); err != nil {
			return err
		}
	}
	return CheckText("detail", in.Detail, false, MaxAttestationDetail)
}

// Check holds an attestation to the snapshot it attests: it must name the
// document as published, and say matched exactly when its digests are the
// published ones, so that no attestation on the ledger contradicts itself.
func (in AttestationInput) Check(s *ScoreSnapshot) error {
	if want := s.Scores.Digest(); in.SnapshotDigest != want {
		return Errorf(CodeConflict, "the attestation compares document %s; the snapshot of %s on the ledger is document %s",
			in.SnapshotDigest, s.Period, want)
	}
	same := in.InputDigest == s.InputDigest && in.ScoresDigest == ItemsDigest(s.Items)
	if in.Matched != same {
		if in.Matched {
			return Errorf(CodeInvalid, "matched is true but the digests differ from the snapshot's: inputDigest %s (published %s), scoresDigest %s (published %s)",
				in.InputDigest, s.InputDigest, in.ScoresDigest, ItemsDigest(s.Items))
		}
		return Errorf(CodeInvalid, "matched is false but inputDigest and scoresDigest are the snapshot's own")
	}
	return nil
}

// ScoreAttestation is one department's statement, on the ledger, of whether
// its own indexer computes the published snapshot of a period.
type ScoreAttestation struct {
	ID             string    `json:"id"` // AttestationID(period, mspId)
	Period         string    `json:"period"`
	MSPID          string    `json:"mspId"`     // the attesting department
	AsOfBlock      uint64    `json:"asOfBlock"` // the snapshot's, at which the indexer recomputed it
	SnapshotDigest string    `json:"snapshotDigest"`
	InputDigest    string    `json:"inputDigest"`
	ScoresDigest   string    `json:"scoresDigest"`
	Matched        bool      `json:"matched"`
	Detail         string    `json:"detail,omitempty"`
	At             time.Time `json:"at"`
	By             Actor     `json:"by"` // the department's admin who signed it
}

// AttestationID is the ID of a department's attestation of a period: one
// per department and period.
func AttestationID(period, mspID string) string { return period + "." + mspID }

// Attestations is the answer of GetAttestations: the departments on the
// ledger (those with a profile) and the attestations of the period's
// snapshot, both sorted by MSP ID.
type Attestations struct {
	Period       string             `json:"period"`
	Departments  []string           `json:"departments"`
	Attestations []ScoreAttestation `json:"attestations"`
}

// SnapshotListing is one published snapshot in ListScoreSnapshots: enough
// for an attestor to see what it has not attested yet.
type SnapshotListing struct {
	Period      string    `json:"period"`
	AsOfBlock   uint64    `json:"asOfBlock"`
	InputDigest string    `json:"inputDigest"`
	PublishedAt time.Time `json:"publishedAt"`
	PublishedBy Actor     `json:"publishedBy"`
	AttestedBy  []string  `json:"attestedBy"` // departments that attested it, sorted
}

// Verdict is what the attestations make of a snapshot.
type Verdict struct {
	Departments []string `json:"departments"` // on the ledger, each one vote
	MatchedBy   []string `json:"matchedBy"`
	DisputedBy  []string `json:"disputedBy"` // attested matched=false
	Pending     []string `json:"pending"`    // not attested yet
	// Official is true when a majority of the departments on the ledger
	// attested that their own indexer computes the same document.
	Official bool   `json:"official"`
	Summary  string `json:"summary"`
}

// Judge counts the attestations of a snapshot: it is official only when
// more than half of the departments on the ledger matched it. A department
// that has not attested counts against, as one that disagrees does: an
// unchecked document is not the consortium's. Attestations of departments
// not listed are ignored.
func Judge(departments []string, atts []ScoreAttestation) Verdict {
	v := Verdict{Departments: MSPSet(departments...), MatchedBy: []string{}, DisputedBy: []string{}, Pending: []string{}}
	byMSP := map[string]ScoreAttestation{}
	for _, a := range atts {
		byMSP[a.MSPID] = a
	}
	// Disagreeing departments are grouped by what they computed: several
	// honest indexers refuting one fabricated document say the same thing.
	type view struct{ input, scores string }
	var views []view
	who := map[view][]string{}
	for _, d := range v.Departments {
		a, ok := byMSP[d]
		switch {
		case !ok:
			v.Pending = append(v.Pending, d)
		case a.Matched:
			v.MatchedBy = append(v.MatchedBy, d)
		default:
			v.DisputedBy = append(v.DisputedBy, d)
			k := view{a.InputDigest, a.ScoresDigest}
			if who[k] == nil {
				views = append(views, k)
			}
			who[k] = append(who[k], d)
		}
	}
	var disputes []string
	for _, k := range views {
		ds := who[k]
		subject := ds[0] + "'s indexer disagrees"
		if len(ds) > 1 {
			subject = "the indexers of " + strings.Join(ds[:len(ds)-1], ", ") + " and " + ds[len(ds)-1] + " disagree"
		}
		disputes = append(disputes, fmt.Sprintf("%s: inputDigest %s, scores digest %s", subject, shortHex(k.input), shortHex(k.scores)))
	}
	n := len(v.Departments)
	v.Official = n > 0 && 2*len(v.MatchedBy) > n
	parts := []string{fmt.Sprintf("matched by %d of %d departments", len(v.MatchedBy), n)}
	parts = append(parts, disputes...)
	if len(v.Pending) > 0 {
		parts = append(parts, "not yet attested by "+strings.Join(v.Pending, ", "))
	}
	switch {
	case v.Official:
		parts = append(parts, "official")
	case n == 0:
		parts = append(parts, "not official: no department is on the ledger")
	default:
		parts = append(parts, fmt.Sprintf("not official: a majority (%d of %d) must match", n/2+1, n))
	}
	v.Summary = strings.Join(parts, "; ")
	return v
}

func shortHex(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
