// Package people carries out what a department's admin does to its
// people beyond the ledger's records: revoking a person everywhere their
// certificate counts.
//
// A revocation takes four steps, each safe to run again, so that a retry
// after any failure completes it:
//
//  1. the gateway stops authenticating and signing for the person (their
//     tokens and sessions end at once, recorded in the identities file);
//  2. the department's fabric-ca revokes every certificate of the person
//     and disables the identity (no new enrollment), signed by the admin;
//  3. the CA's new revocation list (CRL) goes into the department's MSP
//     definition on the channel: a configuration update that the
//     organization's Admins policy governs, signed by the admin and sent
//     to the ordering service;
//  4. the gateway waits until its peer holds that configuration. From the
//     configuration block on, every peer of the channel refuses a proposal
//     or transaction signed with the revoked certificate.
package people

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	fabid "github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/fabric"
	"github.com/govshare/ledger/gateway/fabricca"
	"github.com/govshare/ledger/gateway/identity"
)

// Channel is the part of the ledger connection a revocation uses.
type Channel interface {
	ChannelConfig(ctx context.Context, p *identity.Person) (*common.Config, error)
}

// CA is the department's certificate authority.
type CA interface {
	Revoke(ctx context.Context, s fabricca.Signer, name, reason string) ([]fabricca.RevokedCert, error)
	CRL(ctx context.Context, s fabricca.Signer) ([]byte, error)
}

// Broadcaster sends a signed configuration update to the ordering service.
type Broadcaster func(ctx context.Context, env *common.Envelope) error

// Revoker revokes the department's people.
type Revoker struct {
	MSPID     string
	Channel   string
	Ledger    Channel
	CA        CA
	Broadcast Broadcaster
	Directory *identity.Directory
	Sessions  *identity.Sessions
	Logger    *slog.Logger
	Now       func() time.Time
	// Settle bounds the wait for the peer to hold the new configuration.
	Settle time.Duration
}

// Revocation is the answer of POST /v1/people/{user}/revoke.
type Revocation struct {
	User      string    `json:"user"`
	MSPID     string    `json:"mspId"`
	Serial    string    `json:"serial"` // of the person's certificate, lowercase hex
	RevokedAt time.Time `json:"revokedAt"`
	// SessionsEnded counts the sessions this call ended.
	SessionsEnded int `json:"sessionsEnded"`
	// CRLSerials are every serial the channel's revocation list of the
	// department now holds.
	CRLSerials []string `json:"crlSerials"`
	// ChannelUpdated is false when the channel held the person's revocation
	// already (a retry), true when this call put it there.
	ChannelUpdated bool `json:"channelUpdated"`
}

// Revoke revokes user's certificate, acting as admin.
func (r *Revoker) Revoke(ctx context.Context, admin *identity.Person, user, reason string) (Revocation, error) {
	target := r.Directory.Person(user)
	switch {
	case target == nil:
		return Revocation{}, domain.Errorf(domain.CodeNotFound, "%s has no person %q", r.MSPID, user).WithDetail("user", user)
	case target == admin || target.User == admin.User:
		return Revocation{}, domain.Errorf(domain.CodeConflict, "an admin cannot revoke their own certificate; another admin of %s must", r.MSPID)
	}
	cert, err := fabid.CertificateFromPEM(target.ID.Credentials())
	if err != nil {
		return Revocation{}, fmt.Errorf("certificate of %s: %w", user, err)
	}
	serial := cert.SerialNumber.Text(16)
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	at, err := r.Directory.Revoke(user, now())
	if err != nil {
		return Revocation{}, err
	}
	out := Revocation{User: user, MSPID: r.MSPID, Serial: serial, RevokedAt: at, SessionsEnded: r.Sessions.EndUser(user)}
	log := r.logger().With("user", user, "serial", serial, "by", admin.User)
	log.Info("revoking: the gateway no longer acts for the person", "sessionsEnded", out.SessionsEnded)

	signer := fabricca.Signer{CertPEM: admin.ID.Credentials(), Sign: admin.Sign}
	revoked, err := r.CA.Revoke(ctx, signer, user, reason)
	if err != nil {
		return out, caError("revoke the certificate at the department's CA", err)
	}
	crl, err := r.CA.CRL(ctx, signer)
	if err != nil {
		return out, caError("fetch the CA's revocation list", err)
	}
	serials, err := fabric.CRLSerials(crl)
	if err != nil {
		return out, fmt.Errorf("the CA's revocation list: %w", err)
	}
	if !slices.Contains(serials, serial) {
		return out, domain.Errorf(domain.CodeUnavailable, "the CA's revocation list does not hold %s's certificate %s; retry", user, serial)
	}
	log.Info("revoked at the CA", "certificates", len(revoked), "crlSerials", len(serials))

	cfg, err := r.Ledger.ChannelConfig(ctx, admin)
	if err != nil {
		return out, err
	}
	if held, err := channelRevokes(cfg, r.MSPID, serial); err != nil {
		return out, err
	} else if !held {
		update, err := fabric.RevocationListUpdate(cfg, r.Channel, r.MSPID, [][]byte{crl})
		if err != nil {
			return out, err
		}
		env, err := fabric.SignedConfigUpdate(update, admin)
		if err != nil {
			return out, err
		}
		if err := r.Broadcast(ctx, env); err != nil {
			var refused *fabric.BroadcastRefused
			if errors.As(err, &refused) {
				return out, domain.Errorf(domain.CodeConflict, "the channel refused the revocation list of %s: %s; retry", r.MSPID, refused.Info)
			}
			return out, domain.Errorf(domain.CodeUnavailable, "send the revocation list to the ordering service: %v", err)
		}
		out.ChannelUpdated = true
		log.Info("revocation list sent to the ordering service")
	}
	out.CRLSerials, err = r.await(ctx, admin, serial)
	if err != nil {
		return out, err
	}
	log.Info("revoked on the channel", "channelUpdated", out.ChannelUpdated)
	return out, nil
}

// await waits until the peer's channel configuration revokes serial.
func (r *Revoker) await(ctx context.Context, admin *identity.Person, serial string) ([]string, error) {
	settle := r.Settle
	if settle <= 0 {
		settle = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	for {
		cfg, err := r.Ledger.ChannelConfig(ctx, admin)
		if err == nil {
			crls, err := fabric.MSPRevocationList(cfg, r.MSPID)
			if err != nil {
				return nil, err
			}
			var all []string
			for _, c := range crls {
				s, err := fabric.CRLSerials(c)
				if err != nil {
					return nil, fmt.Errorf("the channel's revocation list of %s: %w", r.MSPID, err)
				}
				all = append(all, s...)
			}
			if slices.Contains(all, serial) {
				slices.Sort(all)
				return slices.Compact(all), nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, domain.Errorf(domain.CodeUnavailable, "the peer does not hold the new revocation list of %s after %s; retry to check", r.MSPID, settle)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// channelRevokes reports whether the channel's MSP definition of mspID
// revokes serial already.
func channelRevokes(cfg *common.Config, mspID, serial string) (bool, error) {
	crls, err := fabric.MSPRevocationList(cfg, mspID)
	if err != nil {
		return false, err
	}
	for _, c := range crls {
		s, err := fabric.CRLSerials(c)
		if err != nil {
			return false, fmt.Errorf("the channel's revocation list of %s: %w", mspID, err)
		}
		if slices.Contains(s, serial) {
			return true, nil
		}
	}
	return false, nil
}

func caError(what string, err error) error {
	var ce *fabricca.Error
	if errors.As(err, &ce) && (ce.Status == 401 || ce.Status == 403) {
		return domain.Errorf(domain.CodeForbidden, "%s: the CA refused the admin: %s", what, ce.Msg)
	}
	return domain.Errorf(domain.CodeUnavailable, "%s: %v", what, err)
}

func (r *Revoker) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
