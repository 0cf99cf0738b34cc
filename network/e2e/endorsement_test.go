//go:build integration

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// fabricAs connects straight to a department's peer through the Fabric
// Gateway as one of its people, bypassing the REST gateway, so a test can
// choose who endorses.
func fabricAs(t *testing.T, msp, user string) *client.Network {
	t.Helper()
	var dept string
	var peerAddr string
	for _, d := range shared.eps.Departments {
		if d.MSPID == msp {
			dept = strings.TrimSuffix(strings.ToLower(msp), "msp")
			peerAddr = d.Peer
		}
	}
	if dept == "" {
		t.Fatalf("no department %s", msp)
	}
	org := filepath.Join(shared.run, "orgs", dept)
	certPEM, err := os.ReadFile(filepath.Join(org, "users", user, "msp", "signcerts", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.NewX509Identity(msp, cert)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(org, "users", user, "msp", "keystore", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(org, "peer0", "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient("dns:///"+peerAddr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10*time.Second), client.WithEndorseTimeout(20*time.Second),
		client.WithSubmitTimeout(10*time.Second), client.WithCommitStatusTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	return gw.GetNetwork(shared.eps.Channel)
}

// TestKeyLevelEndorsement shows that a department's records carry a
// state-based endorsement policy naming its own peer: an update of Dept1's
// dataset endorsed by every other department (a majority of the consortium)
// but not by Dept1 is invalidated at commit, and the dataset is unchanged;
// the same update endorsed by Dept1 commits.
func TestKeyLevelEndorsement(t *testing.T) {
	op := shared.as(t, "Dept1MSP", "operator")
	id := uniqueID("sbe")
	op.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "conditional"))

	contract := fabricAs(t, "Dept1MSP", "operator1").GetContract(shared.eps.Chaincode)
	update := newDataset(id, "unconditional")
	delete(update, "id")
	arg, _ := json.Marshal(update)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	others := []string{}
	for _, d := range shared.eps.Departments {
		if d.MSPID != "Dept1MSP" {
			others = append(others, d.MSPID)
		}
	}
	_, err := contract.SubmitWithContext(ctx, "UpdateDataset", client.WithArguments(id, string(arg)), client.WithEndorsingOrganizations(others...))
	var commitErr *client.CommitError
	if !errors.As(err, &commitErr) {
		t.Fatalf("update endorsed without Dept1: err = %v, want a CommitError", err)
	}
	if commitErr.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
		t.Fatalf("validation code = %s, want ENDORSEMENT_POLICY_FAILURE", commitErr.Code)
	}
	var got dataset
	op.must(http.StatusOK, http.MethodGet, "/v1/datasets/"+id+"?source=ledger", nil).json(t, &got)
	if got.Version != 1 || got.ShareType != "conditional" {
		t.Fatalf("dataset changed by an invalid transaction: %+v", got)
	}

	if _, err := contract.SubmitWithContext(ctx, "UpdateDataset", client.WithArguments(id, string(arg)), client.WithEndorsingOrganizations("Dept1MSP")); err != nil {
		t.Fatalf("update endorsed by Dept1 alone: %v", err)
	}
	op.must(http.StatusOK, http.MethodGet, "/v1/datasets/"+id+"?source=ledger", nil).json(t, &got)
	if got.Version != 2 || got.ShareType != "unconditional" {
		t.Fatalf("dataset after the endorsed update: %+v", got)
	}
}
