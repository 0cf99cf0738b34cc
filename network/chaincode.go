package network

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// ccaasPackage builds the chaincode-as-a-service package of one department:
// metadata.json says "ccaas" so the repository's external builder takes it,
// and code.tar.gz holds connection.json, the address at which the peer dials
// the department's own chaincode process. The archive is byte-for-byte
// reproducible, so its package ID is too.
func ccaasPackage(label, address string) ([]byte, error) {
	conn, err := json.Marshal(map[string]any{"address": address, "dial_timeout": "10s", "tls_required": false})
	if err != nil {
		return nil, err
	}
	code, err := tarGz(map[string][]byte{"connection.json": conn})
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(map[string]string{"type": "ccaas", "label": label})
	if err != nil {
		return nil, err
	}
	return tarGz(map[string][]byte{"metadata.json": meta, "code.tar.gz": code})
}

func tarGz(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.ModTime = time.Unix(0, 0)
	tw := tar.NewWriter(gz)
	// Fixed order: metadata first, as the peer expects to find it quickly.
	names := []string{"metadata.json", "code.tar.gz", "connection.json"}
	for _, name := range names {
		body, ok := files[name]
		if !ok {
			continue
		}
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// packageID is Fabric's package ID: the label and the SHA-256 of the package.
func packageID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

func (n *Net) ordererCA() string {
	return filepath.Join(n.ordererDir(n.topo.Ordering.Nodes[0]), "tls", "ca.crt")
}

// deployChaincode installs each department's package on its peer, starts
// its chaincode process, approves the definition for every department and
// commits it.
func (n *Net) deployChaincode(ctx context.Context) error {
	cc := n.topo.Chaincode
	label := cc.Name + "_" + cc.Version
	deps := n.topo.Departments
	servers := make([]ChaincodeServer, len(deps))
	err := parallel(len(deps), func(i int) error {
		d := deps[i]
		pkg, err := ccaasPackage(label, d.Addr(d.ChaincodePort))
		if err != nil {
			return err
		}
		id := packageID(label, pkg)
		file := n.path("chaincode", d.Slug()+".tar.gz")
		servers[i] = ChaincodeServer{PackageID: id, Address: d.Addr(d.ChaincodePort), Package: file}
		if err := writeFileAtomic(file, pkg, 0o644); err != nil {
			return err
		}
		if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "install", file); err != nil {
			return fmt.Errorf("install on %s: %w", d.MSPID, err)
		}
		p, err := n.procs.start(procSpec{Name: "chaincode-" + d.Slug(), Bin: n.bin("ledgercc"), Order: 3, Dir: n.opts.Run,
			Env:   []string{"CHAINCODE_ID=" + id, "CHAINCODE_SERVER_ADDRESS=" + d.Addr(d.ChaincodePort)},
			Ready: "tcp:" + d.Addr(d.ChaincodePort)})
		if err != nil {
			return err
		}
		wctx, cancel := withTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := waitTCP(wctx, p, d.Addr(d.ChaincodePort)); err != nil {
			return err
		}
		return n.approve(ctx, d, n.topo.Ordering.Nodes[i%len(n.topo.Ordering.Nodes)], cc.Name, cc.Version, 1, id)
	})
	if err != nil {
		return err
	}
	args := []string{"lifecycle", "chaincode", "commit",
		"-o", n.topo.Ordering.Nodes[0].Addr(n.topo.Ordering.Nodes[0].Port), "--tls", "--cafile", n.ordererCA(),
		"--channelID", n.topo.Channel, "--name", cc.Name, "--version", cc.Version, "--sequence", "1", "--validation-plugin", ValidationPlugin}
	for _, d := range deps {
		args = append(args, "--peerAddresses", d.Addr(d.PeerPort), "--tlsRootCertFiles", filepath.Join(n.peerDir(d), "tls", "ca.crt"))
	}
	if _, err := n.procs.runCmd(ctx, "peer-cli-"+deps[0].Slug(), n.adminEnv(deps[0]), n.bin("peer"), args...); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	rec := &ChaincodeRecord{Name: cc.Name, Version: cc.Version, Sequence: 1, Servers: map[string]ChaincodeServer{}}
	for i, d := range deps {
		rec.Servers[d.MSPID] = servers[i]
	}
	return n.writeChaincodeRecord(rec)
}

// approve approves, as department d's admin, the definition of chaincode
// name at sequence (version, package pkgID, govshare's validation plugin),
// sending the approval through orderer o. The peer's own record decides
// whether it is done: an approval it already holds (from an earlier run
// whose answer was lost, or a retry of an upgrade) is kept, and a failure
// it does not explain (an orderer that closed the stream) is tried again,
// through the next orderer, 3 attempts in all.
func (n *Net) approve(ctx context.Context, d Department, o Orderer, name, version string, sequence int64, pkgID string) error {
	seq := strconv.FormatInt(sequence, 10)
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			o = n.topo.Ordering.Nodes[(slices.Index(n.topo.Ordering.Nodes, o)+1)%len(n.topo.Ordering.Nodes)]
		}
		if _, err = n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "approveformyorg",
			"-o", o.Addr(o.Port), "--tls", "--cafile", n.ordererCA(),
			"--channelID", n.topo.Channel, "--name", name, "--version", version,
			"--package-id", pkgID, "--sequence", seq, "--validation-plugin", ValidationPlugin); err == nil {
			return nil
		}
		out, qerr := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "queryapproved",
			"--channelID", n.topo.Channel, "--name", name, "--sequence", seq, "-O", "json")
		var held struct {
			Version string `json:"version"`
			Source  struct {
				Type struct {
					LocalPackage struct {
						PackageID string `json:"package_id"`
					} `json:"LocalPackage"`
				} `json:"Type"`
			} `json:"source"`
		}
		if qerr == nil && json.Unmarshal(out, &held) == nil && held.Version == version && held.Source.Type.LocalPackage.PackageID == pkgID {
			return nil
		}
	}
	return fmt.Errorf("approve for %s: %w", d.MSPID, err)
}
