package multihost

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/govshare/ledger/network"
)

// WriteView writes into out (a new folder, 0700) what a test process on
// the bridge needs to reach the hosts as the integration tests reach a run
// folder, each file pointing into the host that holds it:
//
//   - endpoints.json: every department's gateway and peer on its host's
//     address, its indexer on the Unix socket in its bundle;
//   - credentials.json and passwords.json (0600): every department's own, from its
//     bundle;
//   - up.json naming the multi-host topology, and multihost.json, the layout;
//   - pids/, logs/, config/, data/ and sock/: a link to each of the hosts'
//     entries, so that a test finds a process, its log or its mirror by name;
//     orgs/<department>: a link to the department's organization in its
//     bundle; orgs/orderer: links to each orderer's own folder and to the
//     ordering organization's public MSP;
//   - secrets.json (0600) when secrets names one: the bootstrap's CA
//     secrets, all used up, for the tests that look for them.
//
// No host's folder holds another's keys; the view, the test's, reaches
// every host as a test on one machine can.
func WriteView(l *Layout, out, secrets string) error {
	topo, err := network.LoadTopology(l.Topology)
	if err != nil {
		return err
	}
	if err := os.Mkdir(out, 0o700); err != nil {
		return err
	}
	eps := network.Endpoints{Channel: topo.Channel, Chaincode: topo.Chaincode.Name}
	var creds []network.Credential
	var passwords []network.Password
	for _, d := range topo.Departments {
		h, ok := l.Department(d.MSPID)
		if !ok {
			return fmt.Errorf("no host for %s", d.MSPID)
		}
		eps.Departments = append(eps.Departments, network.EndpointDept{MSPID: d.MSPID, Name: d.Name,
			Gateway: topo.GatewayURL(d), Indexer: "unix:" + filepath.Join(h.Bundle, "sock", "indexer-"+d.Slug()+".sock"),
			Peer: d.Addr(d.PeerPort)})
		if err := appendJSON(filepath.Join(h.Bundle, "credentials.json"), &creds); err != nil {
			return err
		}
		if err := appendJSON(filepath.Join(h.Bundle, "passwords.json"), &passwords); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    any
		mode os.FileMode
	}{
		{"endpoints.json", eps, 0o644},
		{"credentials.json", creds, 0o600},
		{"passwords.json", passwords, 0o600},
		{"up.json", map[string]string{"topology": l.Topology}, 0o644},
	} {
		if err := writeJSON(filepath.Join(out, f.name), f.v, f.mode); err != nil {
			return err
		}
	}
	if !topo.PlainHTTP {
		// Every department's bundle carries the same roots: the first's will do.
		h, _ := l.Department(topo.Departments[0].MSPID)
		raw, err := os.ReadFile(filepath.Join(h.Bundle, network.TLSCAFile))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, network.TLSCAFile), raw, 0o644); err != nil {
			return err
		}
	}
	if err := l.Write(out); err != nil {
		return err
	}
	if secrets != "" {
		raw, err := os.ReadFile(secrets)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, network.SecretsFile), raw, 0o600); err != nil {
			return err
		}
	}
	for _, h := range l.Hosts {
		for _, sub := range []string{"pids", "logs", "config", "data", "sock"} {
			// config/peer and config/orderer are every host's: only the
			// files at its top, named for their node, are linked.
			if err := linkEntries(filepath.Join(h.Bundle, sub), filepath.Join(out, sub), sub == "config"); err != nil {
				return err
			}
		}
		var from, to string
		if h.Kind == KindOrderer {
			from, to = filepath.Join(h.Bundle, "orgs", "orderer", "orderers", h.Name), filepath.Join(out, "orgs", "orderer", "orderers", h.Name)
			msp := filepath.Join(out, "orgs", "orderer", "msp")
			if _, err := os.Lstat(msp); errors.Is(err, os.ErrNotExist) {
				if err := link(filepath.Join(h.Bundle, "orgs", "orderer", "msp"), msp); err != nil {
					return err
				}
			}
		} else {
			slug := network.Department{MSPID: h.MSPID}.Slug()
			from, to = filepath.Join(h.Bundle, "orgs", slug), filepath.Join(out, "orgs", slug)
		}
		if err := link(from, to); err != nil {
			return err
		}
	}
	return nil
}

// linkEntries links every entry of dir (if there is one), or every file
// when filesOnly, into into.
func linkEntries(dir, into string, filesOnly bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if filesOnly && e.IsDir() {
			continue
		}
		if err := link(filepath.Join(dir, e.Name()), filepath.Join(into, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// link makes to a symbolic link to from, in folders readable by the owner
// alone (they lead to keys, logs and sockets).
func link(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	if err := os.Symlink(from, to); err != nil {
		return fmt.Errorf("view: %w (two hosts with one entry?)", err)
	}
	return nil
}

func appendJSON[T any](path string, into *[]T) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var list []T
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	*into = append(*into, list...)
	return nil
}

func writeJSON(path string, v any, mode os.FileMode) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(raw, '\n'), mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
