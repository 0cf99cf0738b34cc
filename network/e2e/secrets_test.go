//go:build integration

package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/govshare/ledger/network"
)

// runSecrets is every secret the consortium generated (registrar passwords
// and enrollment secrets), as the run's secrets.json lists them.
func runSecrets(t *testing.T) []network.Secret {
	t.Helper()
	list, err := network.ReadSecrets(shared.run)
	if err != nil {
		t.Fatalf("read %s: %v", network.SecretsFile, err)
	}
	if len(list) == 0 {
		t.Fatalf("%s lists no secret", network.SecretsFile)
	}
	return list
}

// secretFinder finds any of the secrets in a byte string in one pass: the
// secrets are hex, so only runs of hex digits are looked up. It also finds
// them the way HTTP basic authentication writes them, base64("user:secret").
type secretFinder struct {
	widths []int // the lengths of the secrets, longest first
	byText map[string]network.Secret
	basic  map[string]network.Secret // base64 of name:value
}

func newSecretFinder(t *testing.T, list []network.Secret) *secretFinder {
	t.Helper()
	f := &secretFinder{byText: map[string]network.Secret{}, basic: map[string]network.Secret{}}
	for _, s := range list {
		if len(s.Value) < 16 || strings.Trim(s.Value, "0123456789abcdef") != "" {
			t.Fatalf("secret of %s/%s is not random hex: %q", s.Org, s.Name, s.Value)
		}
		if !slices.Contains(f.widths, len(s.Value)) {
			f.widths = append(f.widths, len(s.Value))
		}
		if _, dup := f.byText[s.Value]; dup {
			t.Fatalf("secret of %s/%s generated twice", s.Org, s.Name)
		}
		f.byText[s.Value] = s
		f.basic[base64.StdEncoding.EncodeToString([]byte(s.Name+":"+s.Value))] = s
	}
	return f
}

// isHex is true for the digits the secrets are written in (lowercase hex).
func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// find returns the secrets b contains.
func (f *secretFinder) find(b []byte) []network.Secret {
	var out []network.Secret
	run := 0
	for i := 0; i < len(b); i++ {
		if !isHex(b[i]) {
			run = 0
			continue
		}
		run++
		for _, w := range f.widths {
			if run >= w {
				if s, ok := f.byText[string(b[i+1-w:i+1])]; ok {
					out = append(out, s)
				}
			}
		}
	}
	if len(b) < 16<<20 {
		for enc, s := range f.basic {
			if bytes.Contains(b, []byte(enc)) {
				out = append(out, s)
			}
		}
	}
	return out
}

// TestSecretsNowhere looks for every generated secret in every file of the
// run folder (but the list itself; on a multi-host run, of every host's
// folder too) and in the command line and environment of every process:
// none may hold one (fabric-ca-client, while it runs, is the one child
// that holds a secret in its environment).
func TestSecretsNowhere(t *testing.T) {
	f := newSecretFinder(t, runSecrets(t))
	files := 0
	roots := []string{shared.run}
	if l := multiHost(t); l != nil {
		for _, h := range l.Hosts {
			roots = append(roots, h.Bundle)
		}
	}
	for _, root := range roots {
		walkSecrets(t, f, root, &files)
	}
	procs := 0
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		for _, part := range []string{"cmdline", "environ"} {
			if part == "environ" && filepath.Base(exe) == "fabric-ca-client" {
				continue
			}
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, part))
			if err != nil {
				continue // gone, or not ours to read
			}
			if part == "cmdline" {
				procs++
			}
			for _, s := range f.find(raw) {
				t.Errorf("process %d (%s) has the %s secret of %s/%s in its %s", pid, exe, s.Kind, s.Org, s.Name, part)
			}
		}
	}
	t.Logf("%d secrets looked for in %d files and %d processes", len(f.byText), files, procs)
}

// walkSecrets looks for the secrets in every file under root but the run
// folder's list, counting the files.
func walkSecrets(t *testing.T, f *secretFinder, root string, files *int) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || path == filepath.Join(shared.run, network.SecretsFile) {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			if os.IsNotExist(err) { // removed while we walked (a Badger file, a .tmp)
				return nil
			}
			return err
		}
		*files++
		for _, s := range f.find(raw) {
			if s.Kind == network.SecretPassword && path == filepath.Join(root, "passwords.json") {
				continue // the one place people's initial passwords are kept (0600; a bundle's holds its department's, as its audit checks)
			}
			t.Errorf("%s holds the %s secret of %s/%s", path, s.Kind, s.Org, s.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSecretsFileModes: the run folder is 0700 and nothing that logs,
// records a process or holds a secret is readable by group or others.
func TestSecretsFileModes(t *testing.T) {
	fi, err := os.Stat(shared.run)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("run folder %s has mode %v, want 0700", shared.run, fi.Mode().Perm())
	}
	private := func(path string) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			return
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: readable beyond its owner", path, fi.Mode().Perm())
		}
	}
	for _, glob := range []string{"logs/*", "pids/*", "sock", "sock/*", network.SecretsFile, "credentials.json",
		"config/*identities*", "orgs/*/ca/server/fabric-ca-server-config.yaml", "orgs/*/ca/server/fabric-ca-server.db"} {
		matches, err := filepath.Glob(filepath.Join(shared.run, glob))
		if err != nil {
			t.Fatal(err)
		}
		if len(matches) == 0 {
			t.Errorf("nothing matches %s in the run folder", glob)
		}
		for _, m := range matches {
			private(m)
		}
	}
}

// caOf is how to reach an organization's CA, from the spec its server was
// started with.
type caOf struct {
	client, url, name, rootCert string
}

func caFor(t *testing.T, org string) caOf {
	t.Helper()
	spec := readProcSpec(t, "ca-"+org)
	flag := func(name string) string {
		for i, a := range spec.Args {
			if a == name && i+1 < len(spec.Args) {
				return spec.Args[i+1]
			}
			if strings.HasPrefix(a, "-b") || strings.Contains(a, "registrar:") {
				t.Errorf("CA %s started with a bootstrap identity on its command line: %q", org, a)
			}
		}
		t.Fatalf("CA %s spec has no %s", org, name)
		return ""
	}
	home := flag("--home")
	return caOf{client: filepath.Join(filepath.Dir(spec.Bin), "fabric-ca-client"),
		url:  fmt.Sprintf("https://%s:%s", flag("--address"), flag("--port")),
		name: flag("--ca.name"), rootCert: filepath.Join(home, "ca-cert.pem")}
}

// caClient runs fabric-ca-client against the CA with the enrollment
// credentials in its environment.
func (c caOf) run(t *testing.T, user, secret string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(c.client, append(args, "--tls.certfiles", c.rootCert, "--caname", c.name)...)
	cmd.Env = os.Environ()
	if secret != "" {
		cmd.Env = append(cmd.Env, "FABRIC_CA_CLIENT_URL="+strings.Replace(c.url, "https://", "https://"+user+":"+secret+"@", 1))
	} else {
		cmd.Args = append(cmd.Args, "-u", c.url)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSecretsEnrollOnce: a person's enrollment secret and a registrar's
// password, used once at `up`, enroll nothing more; the person can still
// re-enroll with their current certificate.
func TestSecretsEnrollOnce(t *testing.T) {
	list := runSecrets(t)
	pick := func(kind, org, name string) network.Secret {
		for _, s := range list {
			if s.Kind == kind && s.Org == org && s.Name == name {
				return s
			}
		}
		t.Fatalf("no %s secret for %s/%s", kind, org, name)
		return network.Secret{}
	}
	ca := caFor(t, "dept1")
	for _, s := range []network.Secret{pick("enrollment", "dept1", "operator1"), pick("registrar", "dept1", "registrar")} {
		t.Run(s.Kind+" "+s.Name, func(t *testing.T) {
			out, err := ca.run(t, s.Name, s.Value, "enroll", "--home", t.TempDir(), "--mspdir", "msp")
			if err == nil {
				t.Fatalf("a second enrollment of %s with its secret succeeded:\n%s", s.Name, out)
			}
			// The client hears "Authentication failure"; the CA logs why.
			raw, err := os.ReadFile(filepath.Join(shared.run, "logs", "ca-dept1.log"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "The identity " + s.Name + " has already enrolled 1 times"; !strings.Contains(string(raw), want) {
				t.Errorf("second enrollment refused, but the CA log does not say %q:\n%s", want, out)
			}
		})
	}
	t.Run("reenroll with the current certificate", func(t *testing.T) {
		home := t.TempDir()
		person := filepath.Join(shared.run, "orgs", "dept1", "users", "operator1", "msp")
		for _, f := range []string{"signcerts/cert.pem", "keystore/key.pem"} {
			raw, err := os.ReadFile(filepath.Join(person, f))
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(home, "msp", f)
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, raw, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := ca.run(t, "", "", "reenroll", "--home", home, "--mspdir", "msp"); err != nil {
			t.Fatalf("reenroll with the current certificate: %v\n%s", err, out)
		}
	})
}
