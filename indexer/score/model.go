package score

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/govshare/ledger/chaincode/domain"
)

// Indicators lists the indicators, in the order SCORING.md explains them.
var Indicators = []string{"supply", "contribution", "breadth", "useRate", "quality", "disputes", "responsiveness", "openness", "influence"}

//go:embed default.json
var defaultJSON []byte

// Model is the configuration of the score: the weight of each indicator,
// the openness weights of the catalog's share and open types, the neutral
// value given where a department gave no evidence, and PageRank's
// parameters. Its canonical JSON is what ModelDigest hashes.
type Model struct {
	Version   int                          `json:"version"`
	Weights   map[string]float64           `json:"weights"`
	ShareType map[domain.ShareType]float64 `json:"shareTypeWeights"`
	OpenType  map[domain.OpenType]float64  `json:"openTypeWeights"`
	Neutral   float64                      `json:"neutral"`
	PageRank  PageRankParams               `json:"pageRank"`

	digest string
}

// PageRankParams configure the influence indicator.
type PageRankParams struct {
	Damping       float64 `json:"damping"`
	MaxIterations int     `json:"maxIterations"`
	Tolerance     float64 `json:"tolerance"` // stop once the L1 change of an iteration is below it
}

// Default is the model in default.json, built into the binary.
func Default() *Model {
	m, err := ParseModel(defaultJSON)
	if err != nil {
		panic(fmt.Sprintf("score: the built-in default.json is invalid: %v", err))
	}
	return m
}

// LoadModel reads a model file (the indexer configuration's "scoring").
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scoring model: %w", err)
	}
	m, err := ParseModel(b)
	if err != nil {
		return nil, fmt.Errorf("scoring model %s: %w", path, err)
	}
	return m, nil
}

// ParseModel decodes and checks a model. Unknown fields and unknown
// indicator names are refused, so that a typo cannot silently weigh zero;
// an indicator left out weighs zero.
func ParseModel(b []byte) (*Model, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode: trailing data after the model")
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	for _, name := range Indicators {
		if _, ok := m.Weights[name]; !ok {
			m.Weights[name] = 0
		}
	}
	canon, err := json.Marshal(&m) // struct fields in order, map keys sorted
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	sum := sha256.Sum256(canon)
	m.digest = hex.EncodeToString(sum[:])
	return &m, nil
}

func (m *Model) check() error {
	if m.Version != 1 {
		return fmt.Errorf("version %d is not supported (1 is)", m.Version)
	}
	known := map[string]bool{}
	for _, n := range Indicators {
		known[n] = true
	}
	total := 0.0
	for name, w := range m.Weights {
		if !known[name] {
			return fmt.Errorf("weights: unknown indicator %q", name)
		}
		if !finite(w) || w < 0 {
			return fmt.Errorf("weights: %s must be a finite number >= 0, not %v", name, w)
		}
		total += w
	}
	if total <= 0 {
		return fmt.Errorf("weights: at least one weight must be positive")
	}
	for _, s := range []domain.ShareType{domain.ShareUnconditional, domain.ShareConditional, domain.ShareNone} {
		if w, ok := m.ShareType[s]; !ok || !finite(w) || w < 0 || w > 1 {
			return fmt.Errorf("shareTypeWeights: %s must be given, from 0 to 1", s)
		}
	}
	if len(m.ShareType) != 3 {
		return fmt.Errorf("shareTypeWeights: only unconditional, conditional and none")
	}
	for _, o := range []domain.OpenType{domain.OpenOpen, domain.OpenRestricted, domain.OpenClosed} {
		if w, ok := m.OpenType[o]; !ok || !finite(w) || w < 0 || w > 1 {
			return fmt.Errorf("openTypeWeights: %s must be given, from 0 to 1", o)
		}
	}
	if len(m.OpenType) != 3 {
		return fmt.Errorf("openTypeWeights: only open, restricted and closed")
	}
	if !finite(m.Neutral) || m.Neutral < 0 || m.Neutral > 1 {
		return fmt.Errorf("neutral must be from 0 to 1, not %v", m.Neutral)
	}
	p := m.PageRank
	if !finite(p.Damping) || p.Damping < 0 || p.Damping >= 1 {
		return fmt.Errorf("pageRank.damping must be in [0, 1), not %v", p.Damping)
	}
	if p.MaxIterations < 1 || p.MaxIterations > 10000 {
		return fmt.Errorf("pageRank.maxIterations must be from 1 to 10000, not %d", p.MaxIterations)
	}
	if !finite(p.Tolerance) || p.Tolerance < 0 {
		return fmt.Errorf("pageRank.tolerance must be >= 0, not %v", p.Tolerance)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Digest is the SHA-256 of the model's canonical JSON: every field, every
// indicator's weight (zero for those left out), keys sorted.
func (m *Model) Digest() string { return m.digest }
