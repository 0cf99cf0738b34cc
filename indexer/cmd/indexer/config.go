package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/govshare/ledger/config"
	"github.com/govshare/ledger/indexer/store"
)

// Config is the indexer's configuration file: config.Indexer, the type
// network/ writes it with.
type Config struct {
	config.Indexer
}

// defaultConfig works on the local consortium's first department.
func defaultConfig() Config {
	return Config{config.Indexer{Listen: "127.0.0.1:7108", Channel: "datashare", Chaincode: "ledger", MemoryLimitMB: store.DefaultMemoryLimitMB}}
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
func (c Config) validate(needPeer bool) error { return c.Indexer.Validate(needPeer) }
