// Package notify posts a department's new early-warning findings
// (indexer/WATCH.md) to a webhook of its own, so that its ticketing or mail
// system can act on them. The gateway reads the findings from its indexer,
// in the order they changed, and posts each change once, in that order:
// the indexer is never waited on nor slowed (it only answers reads), and a
// webhook that is down only delays the posts, retried with backoff.
//
// Each post is JSON (Payload), signed with an HMAC-SHA256 of a secret the
// department configures:
//
//	X-Govshare-Signature: t=<unix seconds>,sha256=<hex HMAC(secret, t + "." + body)>
//	X-Govshare-Delivery:  <finding id>@<state>@<block>   (the same on a retry)
//
// The receiver checks the signature (Verify) and may drop a delivery ID it
// has seen: a post whose answer was lost is posted again.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/indexclient"
)

// The headers of a post.
const (
	HeaderSignature = "X-Govshare-Signature"
	HeaderDelivery  = "X-Govshare-Delivery"
)

// Source is where the findings come from: the department's indexer.
type Source interface {
	Findings(ctx context.Context, c indexclient.Caller, f indexclient.Filter) (json.RawMessage, error)
}

// Finding is what the notifier reads of a finding; the post carries the
// finding whole, as the indexer gave it.
type Finding struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	Department     string `json:"department"`
	ChangedAtBlock uint64 `json:"changedAtBlock"`
}

// Payload is the body of a post.
type Payload struct {
	Department string          `json:"department"`
	Delivery   string          `json:"delivery"` // as X-Govshare-Delivery
	Finding    json.RawMessage `json:"finding"`
}

// Config is one department's webhook.
type Config struct {
	MSPID     string
	URL       string
	Secret    []byte
	StateFile string        // where the notifier keeps how far it has posted
	Interval  time.Duration // between reads of the indexer; default 2 s
	// MinBackoff and MaxBackoff bound the wait before a failed post is
	// tried again; it doubles from the first to the second (defaults 1 s
	// and 1 min).
	MinBackoff, MaxBackoff time.Duration
	Client                 *http.Client // default: 10 s timeout
	Log                    *slog.Logger
}

// Notifier posts the findings of one department.
type Notifier struct {
	cfg            Config
	src            Source
	cursor         cursor
	posted, failed atomic.Int64
}

// cursor is how far the notifier has posted: every change up to block
// Block whose finding ID is at most ID (changes are read in that order).
type cursor struct {
	Block uint64 `json:"block"`
	ID    string `json:"id"`
	Any   bool   `json:"any"` // false until the first post
}

func (c cursor) after(f Finding) bool {
	if !c.Any {
		return true
	}
	return f.ChangedAtBlock > c.Block || f.ChangedAtBlock == c.Block && f.ID > c.ID
}

// New checks cfg and reads the state file, if there is one.
func New(cfg Config, src Source) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, fmt.Errorf("webhook URL %q: want an http(s) URL", cfg.URL)
	case len(cfg.Secret) < 16:
		return nil, errors.New("webhook secret: want at least 16 bytes")
	case cfg.MSPID == "" || cfg.StateFile == "":
		return nil, errors.New("webhook: the department and the state file are needed")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Minute, cfg.MinBackoff)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: cfg, src: src}
	raw, err := os.ReadFile(cfg.StateFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("webhook state: %w", err)
	default:
		if err := json.Unmarshal(raw, &n.cursor); err != nil {
			return nil, fmt.Errorf("webhook state %s: %w", cfg.StateFile, err)
		}
	}
	return n, nil
}

// Posted and Failed count the posts answered 2xx and the attempts that
// were not.
func (n *Notifier) Posted() int64 { return n.posted.Load() }
func (n *Notifier) Failed() int64 { return n.failed.Load() }

// Run reads and posts until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		if err := n.Once(ctx); err != nil && ctx.Err() == nil {
			n.cfg.Log.Warn("webhook: findings not posted yet", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.cfg.Interval):
		}
	}
}

// Once posts every change the indexer holds past the cursor, in order; a
// post that fails is retried (with backoff, until ctx ends) before the
// next, so that the receiver gets the changes in the ledger's order.
func (n *Notifier) Once(ctx context.Context) error {
	who := indexclient.Caller{MSPID: n.cfg.MSPID, Role: domain.RoleAdmin, User: "webhook"}
	q := url.Values{"department": {n.cfg.MSPID}, "limit": {strconv.Itoa(domain.MaxLimit)}}
	if n.cursor.Any {
		q.Set("changedFrom", strconv.FormatUint(n.cursor.Block, 10))
	}
	for {
		raw, err := n.src.Findings(ctx, who, q)
		if err != nil {
			return err
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("findings page: %w", err)
		}
		for _, it := range page.Items {
			var f Finding
			if err := json.Unmarshal(it, &f); err != nil {
				return fmt.Errorf("finding: %w", err)
			}
			if !n.cursor.after(f) {
				continue
			}
			if err := n.deliver(ctx, f, it); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// deliver posts one change until it is taken, then moves the cursor past it.
func (n *Notifier) deliver(ctx context.Context, f Finding, raw json.RawMessage) error {
	id := f.ID + "@" + f.State + "@" + strconv.FormatUint(f.ChangedAtBlock, 10)
	body, err := json.Marshal(Payload{Department: n.cfg.MSPID, Delivery: id, Finding: raw})
	if err != nil {
		return err
	}
	wait := n.cfg.MinBackoff
	for {
		err := n.post(ctx, id, body)
		if err == nil {
			break
		}
		n.failed.Add(1)
		n.cfg.Log.Warn("webhook: post failed, trying again", "delivery", id, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, n.cfg.MaxBackoff)
	}
	n.posted.Add(1)
	n.cursor = cursor{Block: f.ChangedAtBlock, ID: f.ID, Any: true}
	return n.saveCursor()
}

func (n *Notifier) post(ctx context.Context, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderSignature, Sign(n.cfg.Secret, time.Now(), body))
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return nil
}

func (n *Notifier) saveCursor() error {
	raw, err := json.Marshal(n.cursor)
	if err != nil {
		return err
	}
	tmp := n.cfg.StateFile + ".tmp"
	if err := os.MkdirAll(filepath.Dir(n.cfg.StateFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, n.cfg.StateFile)
}

// Sign is the signature header of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",sha256=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header against body, and that it was made
// within tolerance of now (a replayed old post fails).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "sha256":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("signature header malformed")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature made %s from now, beyond %s", d.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return errors.New("signature does not match")
	}
	return nil
}
