package contract

import (
	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// PublishScores puts an evaluator's score document for a period on the
// ledger. There is one snapshot per period: a second one for the same period
// is rejected as a conflict, so "the published scores of 2026-03" always
// means one document. A period is published only once it is over (the
// transaction time at or after the first instant of the next month, UTC),
// since until then its scores still change. Anyone can still recompute
// scores at a later height off chain; the snapshot becomes the statement the
// consortium holds to once a majority of departments attest it (AttestScores).
func (c *Contract) PublishScores(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.Scores
	if err := decodeInput("Scores", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleEvaluator, "publish scores")
	if err != nil {
		return "", err
	}
	if err := domain.CheckPeriodOver(in.Period, now); err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	key, found, err := exists(stub, domain.KindSnapshot, in.Period)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "scores for period %s are already published", in.Period)
	}
	s := &domain.ScoreSnapshot{Scores: in, ID: in.Period, PublishedAt: now, PublishedBy: a}
	if err := putEntity(stub, key, s); err != nil {
		return "", err
	}
	if err := emit(stub, snapshotEvent(now, a, s)); err != nil {
		return "", err
	}
	return result(s)
}

// GetScoreSnapshot returns the snapshot published for a period (YYYY-MM).
func (c *Contract) GetScoreSnapshot(ctx contractapi.TransactionContextInterface, period string) (string, error) {
	if err := domain.CheckPeriod(period); err != nil {
		return "", err
	}
	var s domain.ScoreSnapshot
	if _, err := mustGetEntity(ctx.GetStub(), domain.KindSnapshot, period, &s); err != nil {
		return "", err
	}
	return result(s)
}
