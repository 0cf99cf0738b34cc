package network

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCmdSecretMasks: a secret given to a command appears nowhere in its
// log (command line, environment or output), and the log is private.
func TestRunCmdSecretMasks(t *testing.T) {
	run := t.TempDir()
	ps := newProcs(run)
	const secret = "0123456789abcdef0123456789abcdef"
	env := append(os.Environ(), "FABRIC_CA_CLIENT_URL=https://u:"+secret+"@127.0.0.1:1", "OTHER=plain")
	out, err := ps.runCmdSecret(context.Background(), "ca-client-x", env, []string{secret}, "/bin/sh", "-c",
		`echo "Password: $(echo $FABRIC_CA_CLIENT_URL | cut -d: -f3 | cut -d@ -f1)"; echo "err $OTHER" >&2`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), secret) {
		t.Fatalf("the caller does not get the command's output: %q", out)
	}
	logPath := filepath.Join(run, "logs", "ca-client-x.log")
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(raw)
	if strings.Contains(log, secret) {
		t.Errorf("the log holds the secret:\n%s", log)
	}
	for _, want := range []string{"FABRIC_CA_CLIENT_URL=https://u:***@127.0.0.1:1 sh -c", "Password: ***", "err plain"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "OTHER=") {
		t.Errorf("the log lists environment that carries no secret:\n%s", log)
	}
	for path, want := range map[string]os.FileMode{logPath: 0o600, filepath.Dir(logPath): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

// TestOpenLogTightensOldMode: a log left 0644 by an older run becomes 0600.
func TestOpenLogTightensOldMode(t *testing.T) {
	ps := newProcs(t.TempDir())
	if err := os.MkdirAll(ps.logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ps.logDir, "old.log")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ps.openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("old log has mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestWriteCAConfig(t *testing.T) {
	home := t.TempDir()
	if err := writeCAConfig(home, "pw0123"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, "fabric-ca-server-config.yaml")
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), "pass: pw0123") || !strings.Contains(string(raw), "maxenrollments: 1") {
		t.Fatalf("bootstrap config:\n%s", raw)
	}
	if err := writeCAConfig(home, ""); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(path)
	if strings.Contains(string(raw), "pw0123") || !strings.Contains(string(raw), "identities: []") {
		t.Fatalf("config after the registrar is stored:\n%s", raw)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("CA config has mode %v, want 0600", fi.Mode().Perm())
	}
}
