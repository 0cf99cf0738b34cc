package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestLoadConsortium(t *testing.T) {
	run := t.TempDir()
	write := func(name string, v any) {
		raw, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(run, name), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("endpoints.json", map[string]any{"channel": "datashare", "chaincode": "ledger", "departments": []map[string]string{
		{"mspId": "Dept1MSP", "gateway": "http://127.0.0.1:1", "indexer": "http://127.0.0.1:2", "peer": "127.0.0.1:3"},
		{"mspId": "BureauMSP", "gateway": "http://127.0.0.1:4", "indexer": "http://127.0.0.1:5", "peer": "127.0.0.1:6"},
	}})
	write("credentials.json", []map[string]string{
		{"mspId": "Dept1MSP", "user": "operator1", "role": "operator", "token": "t1"},
		{"mspId": "Dept1MSP", "user": "operator2", "role": "operator", "token": "t2"},
		{"mspId": "BureauMSP", "user": "auditor1", "role": "auditor", "token": "t3"},
	})
	c, err := LoadConsortium(run)
	if err != nil {
		t.Fatal(err)
	}
	d1, err := c.Dept("Dept1MSP")
	if err != nil || d1.Slug != "dept1" || d1.Peer != "127.0.0.1:3" || d1.Users[domain.RoleOperator] != (Credential{User: "operator1", Token: "t1"}) {
		t.Fatalf("Dept1: %+v, %v", d1, err)
	}
	bu, _ := c.Dept("BureauMSP")
	if bu.Slug != "bureau" || bu.Users[domain.RoleAuditor].Token != "t3" || len(bu.Users) != 1 {
		t.Fatalf("Bureau: %+v", bu)
	}
	if c.userDir(d1, "operator1") != filepath.Join(run, "orgs", "dept1", "users", "operator1", "msp") {
		t.Fatalf("user folder %s", c.userDir(d1, "operator1"))
	}
	if _, err := c.Dept("Dept9MSP"); err == nil {
		t.Fatal("unknown department found")
	}
	if err := os.MkdirAll(filepath.Join(run, "pids"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, line := range map[string]string{"gateway-dept1.pid": "101 /bin/gateway\n", "indexer-dept1.pid": "102 /bin/indexer\n",
		"peer-dept1.pid": "103 /bin/peer\n", "gateway-dept1.spec.json": "{}"} {
		os.WriteFile(filepath.Join(run, "pids", name), []byte(line), 0o644)
	}
	procs, err := c.procs("gateway-", "indexer-")
	if err != nil || len(procs) != 2 || procs[0] != (Proc{Name: "gateway-dept1", PID: 101, Bin: "/bin/gateway"}) {
		t.Fatalf("procs %+v, %v", procs, err)
	}
	if _, err := LoadConsortium(t.TempDir()); err == nil {
		t.Fatal("a folder without a consortium accepted")
	}
}

func TestParseStatusMem(t *testing.T) {
	status := "Name:\tindexer\nVmPeak:\t 900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   61440 kB\nRssFile:\t   40960 kB\nThreads:\t12\n"
	m, err := parseStatusMem(bufio.NewScanner(strings.NewReader(status)))
	if err != nil || m != (procMem{HWM: 204800, RSS: 102400, Anon: 61440, File: 40960}) {
		t.Fatalf("%+v, %v", m, err)
	}
	if _, err := parseStatusMem(bufio.NewScanner(strings.NewReader("Name:\tx\n"))); err == nil {
		t.Fatal("a status without VmHWM accepted")
	}
	self, err := readMem(os.Getpid(), "")
	if err != nil || self.HWM < self.RSS || self.RSS == 0 {
		t.Fatalf("own memory %+v, %v", self, err)
	}
	if _, err := readMem(os.Getpid(), "/not/this/program"); err == nil {
		t.Fatal("a process running another binary was read")
	}
}
