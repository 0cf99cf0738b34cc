package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/govshare/ledger/indexer/store"
)

// minMemoryLimitMB is the smallest bound the indexer accepts: below it the
// Go runtime, Badger's 4 MiB memtables and its smallest caches no longer fit.
const minMemoryLimitMB = 64

// Config is the indexer's configuration file, with environment overrides.
type Config struct {
	MSPID string `json:"mspId"`
	// Listen is "unix:<absolute socket path>": the API believes the caller
	// headers its gateway sets, so only the consortium's user may connect
	// (the socket is 0600 in a 0700 folder). A loopback host:port is for
	// tests of the command alone.
	Listen    string `json:"listen"`
	Channel   string `json:"channel"`
	Chaincode string `json:"chaincode"`
	Peer      struct {
		Endpoint     string `json:"endpoint"`
		TLSCACert    string `json:"tlsCACert"`
		HostOverride string `json:"hostOverride"`
	} `json:"peer"`
	Identity struct {
		CertPath string `json:"certPath"`
		KeyPath  string `json:"keyPath"`
	} `json:"identity"`
	DataDir string `json:"dataDir"`
	Scoring string `json:"scoring,omitempty"` // the scoring model (score.Model JSON); empty for the built-in default
	// MemoryLimitMB bounds the process's resident set, at any ledger size:
	// Badger's options and the Go runtime's soft limit follow from it
	// (store.Budget; indexer/README.md). Default store.DefaultMemoryLimitMB.
	MemoryLimitMB int `json:"memoryLimitMB,omitempty"`
}

// defaultConfig works on the local consortium's first department.
func defaultConfig() Config {
	return Config{Listen: "127.0.0.1:7108", Channel: "datashare", Chaincode: "ledger", MemoryLimitMB: store.DefaultMemoryLimitMB}
}

// LoadConfig reads path (when not empty) over the defaults, then applies
// the environment overrides INDEXER_LISTEN, INDEXER_DATA_DIR and
// INDEXER_MEMORY_LIMIT_MB.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	c := defaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("parse config %s: %w", path, err)
		}
	}
	if v := getenv("INDEXER_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("INDEXER_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := getenv("INDEXER_MEMORY_LIMIT_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("INDEXER_MEMORY_LIMIT_MB %q: %w", v, err)
		}
		c.MemoryLimitMB = n
	}
	return c, nil
}

// validate checks what every run needs; needPeer adds what following the
// ledger needs (a rebuild does not).
func (c Config) validate(needPeer bool) error {
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("config: dataDir %q must be an absolute path", c.DataDir)
	}
	if c.MemoryLimitMB < minMemoryLimitMB {
		return fmt.Errorf("config: memoryLimitMB %d is below %d, which Badger's smallest memtables and caches need", c.MemoryLimitMB, minMemoryLimitMB)
	}
	if c.Scoring != "" && !filepath.IsAbs(c.Scoring) {
		return fmt.Errorf("config: scoring %q must be an absolute path", c.Scoring)
	}
	if !needPeer {
		return nil
	}
	if sock, ok := strings.CutPrefix(c.Listen, "unix:"); ok {
		if !filepath.IsAbs(sock) {
			return fmt.Errorf("config: listen %q: the socket must be an absolute path", c.Listen)
		}
	} else {
		// TCP is for tests of the command alone: anyone on the machine can
		// reach a TCP port, and the API believes the caller headers.
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("config: listen %q: %w", c.Listen, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("config: listen %q must be unix:<socket path> or a loopback address", c.Listen)
		}
	}
	if c.MSPID == "" || c.Channel == "" || c.Chaincode == "" {
		return fmt.Errorf("config: mspId, channel and chaincode are required")
	}
	if c.Peer.Endpoint == "" {
		return fmt.Errorf("config: peer.endpoint is required")
	}
	// In the file's order, so that the same file always fails the same way.
	for _, f := range []struct{ name, p string }{{"peer.tlsCACert", c.Peer.TLSCACert}, {"identity.certPath", c.Identity.CertPath}, {"identity.keyPath", c.Identity.KeyPath}} {
		if f.p == "" || !filepath.IsAbs(f.p) {
			return fmt.Errorf("config: %s %q must be an absolute path", f.name, f.p)
		}
	}
	return nil
}
