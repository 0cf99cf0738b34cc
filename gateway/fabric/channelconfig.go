package fabric

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/config"
	"github.com/govshare/ledger/gateway/identity"
)

// Orderer is one ordering node the gateway sends channel configuration
// updates to (the only transactions it does not send through its peer).
type Orderer = config.Peer

// ChannelConfig reads the channel's current configuration from the peer
// (cscc GetChannelConfig, which the channel's Readers may call), as p.
func (l *Ledger) ChannelConfig(ctx context.Context, p *identity.Person) (*common.Config, error) {
	gw, err := l.gateway(p)
	if err != nil {
		return nil, errorf(domain.CodeUnavailable, "", err, "the ledger connection is not open")
	}
	raw, err := gw.GetNetwork(l.channel).GetContract("cscc").EvaluateWithContext(ctx, "GetChannelConfig", client.WithArguments(l.channel))
	if err != nil {
		return nil, Classify(err, "")
	}
	cfg := &common.Config{}
	if err := proto.Unmarshal(raw, cfg); err != nil {
		return nil, fmt.Errorf("channel configuration: %w", err)
	}
	return cfg, nil
}

// MSPRevocationList returns the CRLs (PEM) in the channel's MSP definition
// of mspID.
func MSPRevocationList(cfg *common.Config, mspID string) ([][]byte, error) {
	_, fabricMSP, err := orgMSP(cfg, mspID)
	if err != nil {
		return nil, err
	}
	return fabricMSP.RevocationList, nil
}

// orgMSP finds mspID's application organization and its MSP value.
func orgMSP(cfg *common.Config, mspID string) (*common.ConfigValue, *msp.FabricMSPConfig, error) {
	app := cfg.GetChannelGroup().GetGroups()["Application"]
	org := app.GetGroups()[mspID]
	if org == nil {
		return nil, nil, fmt.Errorf("the channel has no application organization %s", mspID)
	}
	v := org.GetValues()["MSP"]
	if v == nil {
		return nil, nil, fmt.Errorf("organization %s has no MSP value", mspID)
	}
	var mc msp.MSPConfig
	if err := proto.Unmarshal(v.Value, &mc); err != nil {
		return nil, nil, fmt.Errorf("MSP of %s: %w", mspID, err)
	}
	var fc msp.FabricMSPConfig
	if err := proto.Unmarshal(mc.Config, &fc); err != nil {
		return nil, nil, fmt.Errorf("MSP of %s: %w", mspID, err)
	}
	return v, &fc, nil
}

// RevocationListUpdate is the configuration update that sets the
// revocation list of mspID's MSP definition to crls, and nothing else: the
// read set pins the versions of the channel, Application and organization
// groups; the write set carries the MSP value at its next version (its
// mod_policy, the organization's Admins, decides who must sign).
func RevocationListUpdate(cfg *common.Config, channel, mspID string, crls [][]byte) (*common.ConfigUpdate, error) {
	v, fc, err := orgMSP(cfg, mspID)
	if err != nil {
		return nil, err
	}
	fc.RevocationList = crls
	inner, err := proto.Marshal(fc)
	if err != nil {
		return nil, err
	}
	value, err := proto.Marshal(&msp.MSPConfig{Type: 0, Config: inner}) // type 0: FABRIC
	if err != nil {
		return nil, err
	}
	ch := cfg.ChannelGroup
	app := ch.Groups["Application"]
	org := app.Groups[mspID]
	path := func(orgGroup *common.ConfigGroup) *common.ConfigGroup {
		return &common.ConfigGroup{Version: ch.Version, Groups: map[string]*common.ConfigGroup{
			"Application": {Version: app.Version, Groups: map[string]*common.ConfigGroup{mspID: orgGroup}},
		}}
	}
	return &common.ConfigUpdate{
		ChannelId: channel,
		ReadSet:   path(&common.ConfigGroup{Version: org.Version}),
		WriteSet: path(&common.ConfigGroup{Version: org.Version, Values: map[string]*common.ConfigValue{
			"MSP": {Version: v.Version + 1, ModPolicy: v.ModPolicy, Value: value},
		}}),
	}, nil
}

// SignedConfigUpdate wraps update in a CONFIG_UPDATE envelope signed by
// every signer (as the update's policy needs them) and sent by the first.
func SignedConfigUpdate(update *common.ConfigUpdate, signers ...*identity.Person) (*common.Envelope, error) {
	if len(signers) == 0 {
		return nil, errors.New("a configuration update needs a signer")
	}
	raw, err := proto.Marshal(update)
	if err != nil {
		return nil, err
	}
	cue := &common.ConfigUpdateEnvelope{ConfigUpdate: raw}
	for _, p := range signers {
		sh, err := signatureHeader(p)
		if err != nil {
			return nil, err
		}
		sig, err := signBytes(p, sh, raw)
		if err != nil {
			return nil, err
		}
		cue.Signatures = append(cue.Signatures, &common.ConfigSignature{SignatureHeader: sh, Signature: sig})
	}
	data, err := proto.Marshal(cue)
	if err != nil {
		return nil, err
	}
	sender := signers[0]
	sh, err := signatureHeader(sender)
	if err != nil {
		return nil, err
	}
	chh, err := proto.Marshal(&common.ChannelHeader{
		Type:      int32(common.HeaderType_CONFIG_UPDATE),
		ChannelId: update.ChannelId,
		Timestamp: timestamppb.Now(),
	})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(&common.Payload{Header: &common.Header{ChannelHeader: chh, SignatureHeader: sh}, Data: data})
	if err != nil {
		return nil, err
	}
	sig, err := signBytes(sender, payload)
	if err != nil {
		return nil, err
	}
	return &common.Envelope{Payload: payload, Signature: sig}, nil
}

func signatureHeader(p *identity.Person) ([]byte, error) {
	c, err := creator(p)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return proto.Marshal(&common.SignatureHeader{Creator: c, Nonce: nonce})
}

// signBytes signs the SHA-256 of the concatenated parts as p, the way Fabric
// verifies message signatures.
func signBytes(p *identity.Person, parts ...[]byte) ([]byte, error) {
	d := sha256.Sum256(bytes.Join(parts, nil))
	sig, err := p.Sign(d[:])
	if err != nil {
		return nil, fmt.Errorf("sign as %s: %w", p.User, err)
	}
	return sig, nil
}

// Broadcast sends env to the first orderer of orderers that takes it and
// answers its status; an orderer that cannot be reached or is not the one
// that accepts it is skipped for the next.
func Broadcast(ctx context.Context, orderers []Orderer, env *common.Envelope) error {
	if len(orderers) == 0 {
		return errors.New("no orderer is configured")
	}
	var errs []error
	for _, o := range orderers {
		err := broadcastOne(ctx, o, env)
		if err == nil {
			return nil
		}
		var refused *BroadcastRefused
		if errors.As(err, &refused) && refused.Status == common.Status_BAD_REQUEST || errors.As(err, &refused) && refused.Status == common.Status_FORBIDDEN {
			return err // every orderer would say the same
		}
		errs = append(errs, fmt.Errorf("%s: %w", o.Endpoint, err))
	}
	return errors.Join(errs...)
}

// BroadcastRefused is an orderer's answer other than SUCCESS.
type BroadcastRefused struct {
	Status common.Status
	Info   string
}

func (e *BroadcastRefused) Error() string {
	return fmt.Sprintf("the orderer refused the update: %s: %s", e.Status, e.Info)
}

func broadcastOne(ctx context.Context, o Orderer, env *common.Envelope) error {
	pem, err := os.ReadFile(o.TLSCACert)
	if err != nil {
		return fmt.Errorf("orderer TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("orderer TLS CA %s holds no PEM certificate", o.TLSCACert)
	}
	conn, err := grpc.NewClient("dns:///"+o.Endpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, o.HostOverride)))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := orderer.NewAtomicBroadcastClient(conn).Broadcast(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(env); err != nil {
		return err
	}
	resp, err := stream.Recv()
	if err != nil {
		return err
	}
	_ = stream.CloseSend()
	if _, err := stream.Recv(); err != nil && !errors.Is(err, io.EOF) {
		_ = err // the answer is in; how the stream ends does not change it
	}
	if resp.Status != common.Status_SUCCESS {
		return &BroadcastRefused{Status: resp.Status, Info: resp.Info}
	}
	return nil
}

// CRLSerials lists the serial numbers (lowercase hex) a PEM CRL revokes.
func CRLSerials(crlPEM []byte) ([]string, error) {
	b, _ := pem.Decode(crlPEM)
	if b == nil {
		return nil, errors.New("no PEM block in the CRL")
	}
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range crl.RevokedCertificateEntries {
		out = append(out, e.SerialNumber.Text(16))
	}
	return out, nil
}

// ApplicationOrgs lists the MSP IDs of the channel's application
// organizations (the departments), sorted.
func ApplicationOrgs(cfg *common.Config) []string {
	var out []string
	for id := range cfg.GetChannelGroup().GetGroups()["Application"].GetGroups() {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
