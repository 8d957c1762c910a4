package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/server"
	"github.com/coffer-dev/coffer/sqlite"
	"github.com/coffer-dev/coffer/storetest"
)

// migrateHotkey is a real SS58 address (storage keeps it as it is).
const migrateHotkey = "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"

// runMigrateCmd runs coffer migrate in-process.
func runMigrateCmd(args ...string) cliResult {
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := Main(context.Background(), env, append([]string{"migrate"}, args...))
	return cliResult{code, stdout.String(), stderr.String()}
}

// openServerAt opens a server and returns it with a function that closes
// it once (also at the end of the test).
func openServerAt(t *testing.T, cfg server.Config) (*Server, func()) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("open server: %v", err)
	}
	closed := false
	stop := func() {
		if !closed {
			closed = true
			if err := s.Close(); err != nil {
				t.Errorf("close server: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return s, stop
}

// migrateData is what the test writes before migrating and checks after.
type migrateData struct {
	root, keep, revoked string // tokens
	// values[store/secret][version] is the value written; "" for a
	// destroyed version.
	values  map[string]map[int]string
	deleted string // store/secret of the soft-deleted secret
}

// fill writes stores, secrets with several versions, a deleted secret, a
// destroyed version, a kept and a revoked key, a hotkey and a second
// account through the native API.
func (d *migrateData) fill(t *testing.T, base string) {
	a := &rawAPI{t: t, base: base, token: d.root}
	d.values = map[string]map[int]string{}
	put := func(store, name, value string) {
		ok2xx(t, a, "PUT", "/v1/stores/"+store+"/secrets/"+name, map[string]any{"value": value})
		k := store + "/" + name
		if d.values[k] == nil {
			d.values[k] = map[int]string{}
		}
		d.values[k][len(d.values[k])+1] = value
	}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "app", "comment": "the app"})
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "ops"})
	for i := 1; i <= 4; i++ {
		put("app", "db-password", fmt.Sprintf("pw-%d \u00e9\u00e8\t\U0001F511", i))
	}
	put("app", "api-token", "tok-1")
	put("app", "api-token", "tok-2")
	put("ops", "ssh-key", strings.Repeat("k", 60000))
	put("ops", "old", "gone-1")
	a.must(204, "DELETE", "/v1/stores/app/secrets/db-password/versions/2", nil)
	d.values["app/db-password"][2] = ""
	ok2xx(t, a, "DELETE", "/v1/stores/ops/secrets/old", nil)
	d.deleted = "ops/old"
	a.must(200, "GET", "/v1/stores/app/secrets/db-password/value", nil) // a read, audited

	var made struct {
		Key   struct{ ID string }
		Token string
	}
	unmarshal(t, a.must(201, "POST", "/v1/keys", map[string]any{"name": "ci", "admin": true}).Body, &made)
	d.keep = made.Token
	unmarshal(t, a.must(201, "POST", "/v1/keys", map[string]any{"name": "old", "admin": true}).Body, &made)
	d.revoked = made.Token
	a.must(204, "DELETE", "/v1/keys/"+made.Key.ID, nil)
	ok2xx(t, a, "POST", "/v1/hotkeys", map[string]any{"hotkey": migrateHotkey})
	a.must(201, "POST", "/v1/accounts", map[string]any{"name": "tenant-two"})
}

// check reads every version of every secret and compares it with what was
// written, checks that the audit chain verifies, that the kept key works
// and the revoked one does not, and that the hotkey is there.
func (d *migrateData) check(t *testing.T, base string, wantValues int) {
	t.Helper()
	a := &rawAPI{t: t, base: base, token: d.root}
	n := 0
	for k, versions := range d.values {
		store, name, _ := strings.Cut(k, "/")
		for v, want := range versions {
			path := fmt.Sprintf("/v1/stores/%s/secrets/%s/value?version=%d", store, name, v)
			if k == d.deleted {
				a.must(404, "GET", path, nil)
				continue
			}
			if want == "" {
				a.must(404, "GET", path, nil)
				continue
			}
			got, num := value(t, a.must(200, "GET", path, nil))
			if got != want || int(num) != v {
				t.Errorf("%s v%d: got %d bytes (v%v), want the %d bytes written", k, v, len(got), num, len(want))
			}
			n++
		}
	}
	if n != wantValues {
		t.Errorf("read %d values, want %d", n, wantValues)
	}
	rep := a.must(200, "GET", "/v1/audit/verify", nil).JSON(t)
	if rep["ok"] != true || rep["events"].(float64) < 20 {
		t.Errorf("audit verify: got %v, want ok with every event", rep)
	}
	(&rawAPI{t: t, base: base, token: d.keep}).must(200, "GET", "/v1/stores", nil)
	(&rawAPI{t: t, base: base, token: d.revoked}).must(401, "GET", "/v1/stores", nil)
	if hk := string(a.must(200, "GET", "/v1/hotkeys", nil).Body); !strings.Contains(hk, migrateHotkey) {
		t.Errorf("hotkeys: got %s, want %s", hk, migrateHotkey)
	}
	if accts := string(a.must(200, "GET", "/v1/accounts", nil).Body); !strings.Contains(accts, "tenant-two") {
		t.Errorf("accounts: got %s, want tenant-two", accts)
	}
}

// TestMigrate moves a database that a real server filled from SQLite to
// PostgreSQL, serves it from there with the same master key, and moves it
// back to a new SQLite directory, reading every value at each step.
func TestMigrate(t *testing.T) {
	dirA := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.DataDir = dirA
	srv, stop := openServerAt(t, cfg)
	d := &migrateData{root: srv.RootToken}
	d.fill(t, "http://"+srv.Addr)
	d.check(t, "http://"+srv.Addr, 6)
	stop()

	_, url := startPostgres(t)
	r := runMigrateCmd("--from", dirA, "--to", url)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Verified") {
		t.Fatalf("migrate to PostgreSQL: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "--master-key-file "+filepath.Join(dirA, "master.key")) {
		t.Errorf("migrate to PostgreSQL: output does not say which master key to use:\n%s", r.Stdout)
	}
	for _, line := range []string{"accounts", "secrets", "versions", "audit events", "api keys", "hotkeys"} {
		if !strings.Contains(r.Stdout, line) {
			t.Errorf("migrate summary lacks %q:\n%s", line, r.Stdout)
		}
	}

	// Again into the same, now full, database: refused, and nothing changes.
	before := pgDigest(t, url)
	if r := runMigrateCmd("--from", dirA, "--to", url); r.Code != 1 || !strings.Contains(r.Stderr, "is not empty") {
		t.Fatalf("migrate into a full database: exit %d, stderr %q; want 1 and 'is not empty'", r.Code, r.Stderr)
	}
	if after := pgDigest(t, url); !bytes.Equal(before, after) {
		t.Fatal("migrate into a full database changed it")
	}

	key := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dirA, "master.key")))))
	pgCfg := server.DefaultConfig()
	pgCfg.DataDir, pgCfg.Database, pgCfg.MasterKey = t.TempDir(), url, key
	pg, stopPG := openServerAt(t, pgCfg)
	if pg.RootToken != "" {
		t.Fatal("server on the migrated database made a new root key: it took the database for a new one")
	}
	d.check(t, "http://"+pg.Addr, 6)
	// The deleted secret came along: undelete it and read it.
	a := &rawAPI{t: t, base: "http://" + pg.Addr, token: d.root}
	a.must(200, "POST", "/v1/stores/ops/secrets/old/undelete", nil)
	if v, _ := value(t, a.must(200, "GET", "/v1/stores/ops/secrets/old/value", nil)); v != "gone-1" {
		t.Errorf("undeleted secret after migration: got %q, want gone-1", v)
	}
	d.deleted = ""
	// A new version continues the numbering, and the chain goes on.
	a.must(200, "PUT", "/v1/stores/app/secrets/api-token", map[string]any{"value": "tok-3"})
	d.values["app/api-token"][3] = "tok-3"
	// While a server holds the database, migrate refuses to copy it.
	busy := filepath.Join(t.TempDir(), "busy")
	if r := runMigrateCmd("--from", url, "--to", busy); r.Code != 1 || !strings.Contains(r.Stderr, "is in use") {
		t.Fatalf("migrate from a database in use: exit %d, stderr %q; want 1 and 'is in use'", r.Code, r.Stderr)
	}
	if _, err := os.Stat(busy); !os.IsNotExist(err) {
		t.Errorf("refused migrate created the destination (%v)", err)
	}
	stopPG()

	dirB := filepath.Join(t.TempDir(), "back")
	r = runMigrateCmd("--from", url, "--to", dirB)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Verified") {
		t.Fatalf("migrate back to SQLite: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	backCfg := server.DefaultConfig()
	backCfg.DataDir, backCfg.MasterKey = dirB, key
	back, _ := openServerAt(t, backCfg)
	if back.RootToken != "" {
		t.Fatal("server on the migrated directory made a new root key")
	}
	d.check(t, "http://"+back.Addr, 8)
}

// pgDigest returns the digest of the whole dump of a PostgreSQL database.
func pgDigest(t *testing.T, url string) []byte {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	return digestOf(t, db)
}

func digestOf(t *testing.T, d coffer.Dumper) []byte {
	t.Helper()
	s := coffer.NewDumpSummary()
	if err := d.Dump(context.Background(), func(r *coffer.Record) error { s.Add(r); return nil }); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return s.Digest()
}

func sqliteDigest(t *testing.T, dir string) []byte {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "coffer.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	return digestOf(t, db)
}

// TestMigrateRefuses checks what migrate refuses, and that it leaves
// everything as it was.
func TestMigrateRefuses(t *testing.T) {
	dirA := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.DataDir = dirA
	srv, stop := openServerAt(t, cfg)
	(&rawAPI{t: t, base: "http://" + srv.Addr, token: srv.RootToken}).must(201, "POST", "/v1/stores", map[string]any{"name": "s"})

	t.Run("SourceInUse", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "new")
		r := runMigrateCmd("--from", dirA, "--to", dst)
		if r.Code != 1 || !strings.Contains(r.Stderr, "in use by a running coffer server") {
			t.Fatalf("got exit %d, stderr %q; want 1 and 'in use by a running coffer server'", r.Code, r.Stderr)
		}
	})
	stop()

	t.Run("DestinationNotEmpty", func(t *testing.T) {
		dirB := t.TempDir()
		cfgB := server.DefaultConfig()
		cfgB.DataDir = dirB
		_, stopB := openServerAt(t, cfgB)
		stopB()
		before := sqliteDigest(t, dirB)
		files := dirFiles(t, dirB)
		r := runMigrateCmd("--from", dirA, "--to", dirB)
		// dirB holds another master key, which is refused first.
		if r.Code != 1 || !strings.Contains(r.Stderr, "another master key") {
			t.Fatalf("got exit %d, stderr %q; want 1 and 'another master key'", r.Code, r.Stderr)
		}
		if got := dirFiles(t, dirB); got != files {
			t.Fatalf("the refused destination's files changed: got %s, want %s", got, files)
		}
		// With the same key it is the data that is refused.
		os.Remove(filepath.Join(dirB, "master.key"))
		server.WriteSecretFile(filepath.Join(dirB, "master.key"), string(must(os.ReadFile(filepath.Join(dirA, "master.key")))))
		files = dirFiles(t, dirB)
		r = runMigrateCmd("--from", dirA, "--to", dirB)
		if r.Code != 1 || !strings.Contains(r.Stderr, "is not empty") {
			t.Fatalf("got exit %d, stderr %q; want 1 and 'is not empty'", r.Code, r.Stderr)
		}
		if after := sqliteDigest(t, dirB); !bytes.Equal(before, after) {
			t.Fatal("the refused destination changed")
		}
		if got := dirFiles(t, dirB); got != files {
			t.Fatalf("the refused destination's files changed: got %s, want %s", got, files)
		}
	})

	t.Run("Same", func(t *testing.T) {
		r := runMigrateCmd("--from", dirA, "--to", dirA+"/.")
		if r.Code != 1 || !strings.Contains(r.Stderr, "the same database") {
			t.Fatalf("got exit %d, stderr %q; want 1 and 'the same database'", r.Code, r.Stderr)
		}
		r = runMigrateCmd("--from", "postgres://u@db.example/x", "--to", "host=db.example user=v dbname=x")
		if r.Code != 1 || !strings.Contains(r.Stderr, "the same database") {
			t.Fatalf("URLs: got exit %d, stderr %q; want 1 and 'the same database'", r.Code, r.Stderr)
		}
	})

	t.Run("NoSource", func(t *testing.T) {
		empty := t.TempDir()
		r := runMigrateCmd("--from", empty, "--to", filepath.Join(t.TempDir(), "x"))
		if r.Code != 1 || !strings.Contains(r.Stderr, "no coffer database") {
			t.Fatalf("got exit %d, stderr %q; want 1 and 'no coffer database'", r.Code, r.Stderr)
		}
		if _, err := os.Stat(filepath.Join(empty, "coffer.db")); !os.IsNotExist(err) {
			t.Fatalf("migrate created a database in the empty source directory (%v)", err)
		}
	})

	t.Run("BadURL", func(t *testing.T) {
		const pw = "s3cr3t-pw"
		for _, to := range []string{
			"postgres://coffer:" + pw + "@127.0.0.1:1/coffer?sslmode=disable&connect_timeout=2",
			"postgres://coffer:" + pw + "@127.0.0.1:notaport/coffer",
			"host=127.0.0.1 port=1 user=coffer password=" + pw + " dbname=coffer sslmode=disable connect_timeout=2",
			"postgres://coffer@127.0.0.1/coffer?password=" + pw + "&port=1&sslmode=disable&connect_timeout=2",
			"http://coffer:" + pw + "@example.com/",
		} {
			r := runMigrateCmd("--from", dirA, "--to", to)
			if r.Code != 1 {
				t.Errorf("%s: got exit %d, stderr %q; want 1", postgres.Redact(to), r.Code, r.Stderr)
			}
			if strings.Contains(r.Stderr+r.Stdout, pw) {
				t.Errorf("the output reveals the password: %q", r.Stderr+r.Stdout)
			}
		}
		for _, args := range [][]string{{"--from", dirA}, {"--to", dirA}, {"--from", dirA, "--to", "x", "extra"}} {
			if r := runMigrateCmd(args...); r.Code != 2 {
				t.Errorf("migrate %q: got exit %d, want 2 (usage)", args, r.Code)
			}
		}
	})
}

// dirFiles lists a directory's files with their sizes and modes.
func dirFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, e := range must(os.ReadDir(dir)) {
		fi := must(e.Info())
		if strings.HasSuffix(e.Name(), "-wal") || strings.HasSuffix(e.Name(), "-shm") {
			continue // SQLite's, which opening the database for the digest touches
		}
		fmt.Fprintf(&b, "%s %d %v; ", e.Name(), fi.Size(), fi.Mode())
	}
	return b.String()
}

// TestStorageTransfer runs the storage conformance transfer between the
// engines, both ways.
func TestStorageTransfer(t *testing.T) {
	c, _ := startPostgres(t)
	n := 0
	openPG := func(tb testing.TB) coffer.Storage {
		n++
		name := fmt.Sprintf("transfer%d", n)
		if err := c.CreateDB(context.Background(), name, ""); err != nil {
			tb.Fatalf("create database: %v", err)
		}
		db, err := postgres.Open(context.Background(), c.URL(name), postgres.Options{HeadMAC: func(m []byte) []byte { return append([]byte("mac:"), m...) }})
		if err != nil {
			tb.Fatalf("open: %v", err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	}
	openSQLite := func(tb testing.TB) coffer.Storage {
		db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "coffer.db"), sqlite.Options{HeadMAC: func(m []byte) []byte { return append([]byte("mac:"), m...) }})
		if err != nil {
			tb.Fatalf("open: %v", err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	}
	t.Run("SQLiteToPostgres", func(t *testing.T) { storetest.RunTransfer(t, openSQLite, openPG) })
	t.Run("PostgresToSQLite", func(t *testing.T) { storetest.RunTransfer(t, openPG, openSQLite) })
}

// ok2xx sends a request and fails the test unless it succeeds.
func ok2xx(t *testing.T, a *rawAPI, method, path string, body any) reply {
	t.Helper()
	r := a.do(method, path, body)
	if r.Status < 200 || r.Status > 299 {
		t.Fatalf("%s %s: got %d %s, want success", method, path, r.Status, r.Body)
	}
	return r
}

func unmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func TestMigrateHelp(t *testing.T) {
	r := runMigrateCmd("--help")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "Usage: coffer migrate --from SRC --to DST") ||
		!strings.Contains(r.Stdout, "Examples:\n  coffer migrate") || !strings.Contains(r.Stdout, "-from DIR") {
		t.Errorf("coffer migrate --help: status %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	r = runMigrateCmd("--bogus")
	if r.Code != 2 || !strings.Contains(r.Stderr, "flag provided but not defined: -bogus") || strings.Contains(r.Stderr, "Examples:") {
		t.Errorf("coffer migrate --bogus: status %d, stderr %q", r.Code, r.Stderr)
	}
}
