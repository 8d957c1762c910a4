package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/envelope"
)

// runDoctorCmd runs 'coffer doctor' in-process and returns its exit status
// and output.
func runDoctorCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	code := Main(context.Background(), env, append([]string{"doctor"}, args...))
	return code, out.String() + errOut.String()
}

// healthyDataDir makes a data directory as a first start leaves it.
func healthyDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := mustOpenServer(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDoctor_Healthy(t *testing.T) {
	dir := t.TempDir()
	mustOpenServer(t, dir) // doctor runs next to a running server
	ca := newTestCA(t, "coffer test CA")
	cert := ca.issue("server", 2, false, time.Now().Add(90*24*time.Hour))
	code, out := runDoctorCmd(t, "--data", dir, "--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	for _, want := range []string{"ok    data dir", "ok    master key     present", "ok    database       SQLite reachable",
		"ok    migrations     up to date", "ok    master key     opens the database", "ok    tls            " + cert.CertFile + " valid until",
		"warn  root token"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctor_Broken(t *testing.T) {
	for _, tt := range []struct {
		name     string
		breakDir func(t *testing.T, dir string) []string // breaks dir, returns extra flags
		want     []string
	}{
		{name: "WrongPermissions", breakDir: func(t *testing.T, dir string) []string {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "master.key"), 0o644); err != nil {
				t.Fatal(err)
			}
			return nil
		}, want: []string{"FAIL  data dir", "mode 0755", "fix: chmod 700 " + "DIR", "fix: chmod 600 DIR/master.key"}},
		{name: "MissingMasterKey", breakDir: func(t *testing.T, dir string) []string {
			if err := os.Remove(filepath.Join(dir, "master.key")); err != nil {
				t.Fatal(err)
			}
			return nil
		}, want: []string{"FAIL  master key     DIR/master.key is missing", "restore master.key"}},
		{name: "WrongMasterKey", breakDir: func(t *testing.T, dir string) []string {
			other := filepath.Join(t.TempDir(), "other.key")
			if err := os.WriteFile(other, []byte(envelope.EncodeKey(envelope.GenerateKey())+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--master-key-file", other}
		}, want: []string{"ok    master key     present", "FAIL  master key     does not match the database", "the key this database was created with"}},
		{name: "BadMasterKey", breakDir: func(t *testing.T, dir string) []string {
			if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte("not a key\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, want: []string{"FAIL  master key     DIR/master.key"}},
		{name: "NewerMigration", breakDir: func(t *testing.T, dir string) []string {
			db, err := sql.Open("sqlite", filepath.Join(dir, "coffer.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`INSERT INTO migrations (name, applied_at) VALUES ('9999_future.sql', 0)`); err != nil {
				t.Fatal(err)
			}
			return nil
		}, want: []string{"FAIL  migrations", "9999_future.sql", "a newer coffer"}},
		{name: "ExpiredCertificate", breakDir: func(t *testing.T, dir string) []string {
			c := newTestCA(t, "ca").issue("server", 3, false, time.Now().Add(-time.Minute))
			return []string{"--tls-cert", c.CertFile, "--tls-key", c.KeyFile}
		}, want: []string{"FAIL  tls", "expired at", "renew it"}},
		{name: "PlainHTTPOnNetwork", breakDir: func(t *testing.T, dir string) []string {
			return []string{"--addr", "0.0.0.0:8200"}
		}, want: []string{"FAIL  tls            plain HTTP on the non-loopback address"}},
		{name: "NoDataDir", breakDir: func(t *testing.T, dir string) []string {
			return []string{"--data", filepath.Join(dir, "missing")}
		}, want: []string{"FAIL  data dir", "does not exist"}},
		{name: "BadConfig", breakDir: func(t *testing.T, dir string) []string {
			return []string{"--config", writeConfig(t, "addr = :1\nlisten = :2\n")}
		}, want: []string{"FAIL  config", `coffer.conf:2: unknown key "listen"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := healthyDataDir(t)
			args := append([]string{"--data", dir}, tt.breakDir(t, dir)...)
			code, out := runDoctorCmd(t, args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestHealth(t *testing.T) {
	base, _ := startServer(t)
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &out, Getenv: func(k string) string {
		if k == "COFFER_ADDR" {
			return base
		}
		return ""
	}}
	if code := Main(context.Background(), env, []string{"health"}); code != 0 {
		t.Fatalf("health of a running server: exit %d: %s", code, out.String())
	}
	if code := Main(context.Background(), env, []string{"health", "--addr", "http://" + freeAddr(t), "--timeout", "2s"}); code != 1 {
		t.Fatalf("health of nothing: exit %d, want 1", code)
	}
}

// TestDoctor_PostgreSQL checks doctor against a live server's PostgreSQL
// database: reachable, migrations current, the master key opens it, the
// clocks compared; then with another master key, and with the database
// down.
func TestDoctor_PostgreSQL(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	c, url := startPostgres(t)
	dir := t.TempDir()
	if _, err := openPGServer(t, url, dir, ""); err != nil {
		t.Fatal(err)
	}
	code, out := runDoctorCmd(t, "--data", dir, "--database", url)
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	for _, want := range []string{"ok    database       PostgreSQL reachable", "ok    migrations     up to date",
		"ok    master key     opens the database", "clock vs db"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "master.key"), []byte(envelope.EncodeKey(envelope.GenerateKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = runDoctorCmd(t, "--data", other, "--database", url)
	if code == 0 || !strings.Contains(out, "FAIL  master key     does not match the database") {
		t.Errorf("another master key: exit %d, output:\n%s", code, out)
	}

	if err := c.Stop("fast"); err != nil {
		t.Fatal(err)
	}
	code, out = runDoctorCmd(t, "--data", dir, "--database", url)
	if code == 0 || !strings.Contains(out, "FAIL  database") {
		t.Errorf("database down: exit %d, output:\n%s", code, out)
	}
}
