package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/backup"
	"github.com/coffer-dev/coffer/server"
)

// runCmd runs a coffer command in-process.
func runCmd(args ...string) cliResult {
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := Main(context.Background(), env, args)
	return cliResult{code, stdout.String(), stderr.String()}
}

// backupUnderLoad backs up a server's database with coffer backup (src:
// --data DIR or --database URL) while writers run, and returns the load
// with its writes tagged: phase 1 sent and acknowledged before the backup
// started, 2 during it, 3 after it finished.
func backupUnderLoad(t *testing.T, base, token, out string, src ...string) *writeLoad {
	t.Helper()
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	load := newWriteLoad(token, "s")
	load.SetPhase(1)
	stop := make(chan struct{})
	wait := load.Run(t, base, 4, stop)
	time.Sleep(300 * time.Millisecond)
	load.SetPhase(2)
	r := runCmd(append(append([]string{"backup"}, src...), "--out", out)...)
	load.SetPhase(3)
	// Run on until some writes sent after the backup are acknowledged.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if slices.ContainsFunc(load.Acked(), func(w loadAck) bool { return w.Phase == 3 }) {
			break
		}
	}
	close(stop)
	wait()
	if r.Code != 0 {
		t.Fatalf("coffer backup: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600", fi, err)
	}
	if !strings.Contains(r.Stdout, "master key") {
		t.Errorf("coffer backup does not mention the master key:\n%s", r.Stdout)
	}
	return load
}

// checkRestored checks a server started on a restored database against
// the load that ran during the backup: every secret whole, every write
// acknowledged before the backup there, none sent after it, and the audit
// chain intact.
func checkRestored(t *testing.T, base, token string, load *writeLoad) {
	t.Helper()
	a := &rawAPI{t: t, base: base, token: token}
	st := load.readState(t, a, 0)
	var before, during, after, duringIn int
	for _, w := range load.Acked() {
		switch {
		case w.PhaseAck == 1:
			before++
			checkAcked(t, st, []loadAck{w})
		case w.Phase == 3:
			after++
			if w.Version <= len(st[w.Name]) {
				t.Errorf("%s v%d, written after the backup, is in it", w.Name, w.Version)
			}
		default:
			during++
			if w.Version <= len(st[w.Name]) {
				duringIn++
				checkAcked(t, st, []loadAck{w})
			}
		}
	}
	if before == 0 || after == 0 {
		t.Errorf("acknowledged writes: %d before the backup, %d after; want some of both", before, after)
	}
	if r := cliExec(t, base, token, "", "audit", "verify"); r.Code != 0 {
		t.Errorf("coffer audit verify on the restored database: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("restored: %d secrets; %d writes acknowledged before the backup (all there), %d during it (%d there), %d after (none there)",
		len(st), before, during, duringIn, after)
}

// TestBackupRestore backs up a running SQLite server while writers run,
// restores into a new directory, and starts a server on it.
func TestBackupRestore(t *testing.T) {
	dirA, dirB := t.TempDir(), filepath.Join(t.TempDir(), "restored")
	s := mustOpenServer(t, dirA)
	out := filepath.Join(t.TempDir(), "coffer.backup")
	load := backupUnderLoad(t, "http://"+s.Addr, s.RootToken, out, "--data", dirA)

	keyFile := filepath.Join(dirA, "master.key")
	r := runCmd("restore", "--in", out, "--data", dirB, "--master-key-file", keyFile)
	if r.Code != 0 {
		t.Fatalf("coffer restore: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "Verified") || !strings.Contains(r.Stdout, "master key") {
		t.Errorf("coffer restore output:\n%s", r.Stdout)
	}
	// The restored database is the backup, record for record.
	tr, err := backup.VerifyFile(context.Background(), out, backup.Keys{Masters: [][]byte{must(server.ReadKeyFile(keyFile))}})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sqliteDigest(t, dirB)); got != tr.Digest {
		t.Errorf("restored digest %s, backup %s", got, tr.Digest)
	}

	t.Run("ErrNotEmpty", func(t *testing.T) {
		before := sqliteDigest(t, dirB)
		r := runCmd("restore", "--in", out, "--data", dirB, "--master-key-file", keyFile)
		if r.Code != 1 || !strings.Contains(r.Stderr, "not empty") {
			t.Errorf("restore into a restored directory: got exit %d %q, want 1 and 'not empty'", r.Code, r.Stderr)
		}
		if !bytes.Equal(sqliteDigest(t, dirB), before) {
			t.Error("a refused restore changed the database")
		}
	})
	t.Run("ErrWrongMasterKey", func(t *testing.T) {
		dirC := t.TempDir()
		if err := os.WriteFile(filepath.Join(dirC, "master.key"), []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCmd("restore", "--in", out, "--data", dirC)
		if r.Code != 1 || !strings.Contains(r.Stderr, "the master key given is") || exists(filepath.Join(dirC, "coffer.db")) {
			t.Errorf("restore next to another master key: got exit %d %q", r.Code, r.Stderr)
		}
	})

	// A server on the restored directory, with the original's master key.
	for _, f := range []string{"master.key", "root.token"} {
		if err := os.WriteFile(filepath.Join(dirB, f), must(os.ReadFile(filepath.Join(dirA, f))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := mustOpenServer(t, dirB)
	checkRestored(t, "http://"+s2.Addr, s.RootToken, load)
}

// TestBackupRestorePostgres backs up a running PostgreSQL server while
// writers run, restores into a second database and into an SQLite
// directory, and starts servers on both.
func TestBackupRestorePostgres(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	c, url := startPostgres(t)
	key := strings.Repeat("5a", 32)
	s, err := openPGServer(t, url, t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "coffer.backup")
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := backupUnderLoad(t, "http://"+s.Addr, s.RootToken, out, "--database", url, "--master-key-file", keyFile)
	tr, err := backup.VerifyFile(context.Background(), out, backup.Keys{Masters: [][]byte{must(server.ReadKeyFile(keyFile))}})
	if err != nil {
		t.Fatal(err)
	}

	if err := c.CreateDB(context.Background(), "restored", ""); err != nil {
		t.Fatal(err)
	}
	url2 := c.URL("restored")
	if r := runCmd("restore", "--in", out, "--database", url2, "--master-key-file", keyFile); r.Code != 0 {
		t.Fatalf("coffer restore: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := hex.EncodeToString(pgDigest(t, url2)); got != tr.Digest {
		t.Errorf("restored digest %s, backup %s", got, tr.Digest)
	}
	s2, err := openPGServer(t, url2, t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	checkRestored(t, "http://"+s2.Addr, s.RootToken, load)

	// The same backup into SQLite.
	dir := t.TempDir()
	if r := runCmd("restore", "--in", out, "--data", dir, "--master-key-file", keyFile); r.Code != 0 {
		t.Fatalf("coffer restore into SQLite: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.MasterKey = dir, key
	s3, _ := openServerAt(t, cfg)
	checkRestored(t, "http://"+s3.Addr, s.RootToken, load)
}

// TestRestoreRefusesDamaged restores damaged copies of a backup file: each
// is refused with a clear error, and nothing is written.
func TestRestoreRefusesDamaged(t *testing.T) {
	dirA := t.TempDir()
	s := mustOpenServer(t, dirA)
	a := &rawAPI{t: t, base: "http://" + s.Addr, token: s.RootToken}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	for _, n := range []string{"a", "b", "c"} {
		a.must(201, "PUT", "/v1/stores/s/secrets/"+n, map[string]any{"value": "v-" + n})
	}
	out := filepath.Join(t.TempDir(), "good.backup")
	if r := runCmd("backup", "--data", dirA, "--out", out); r.Code != 0 {
		t.Fatalf("coffer backup: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	good := must(os.ReadFile(out))
	if r := runCmd("backup", "--data", dirA, "--out", out); r.Code != 1 || !strings.Contains(r.Stderr, "exists") {
		t.Errorf("backup over an existing file: got exit %d %q", r.Code, r.Stderr)
	}
	if !bytes.Equal(must(os.ReadFile(out)), good) {
		t.Error("a refused backup changed the existing file")
	}

	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"Empty":         {nil, "not a coffer backup"},
		"Magic":         {flip(0), "not a coffer backup"},
		"HeaderOnly":    {good[:30], "truncated"},
		"Half":          {good[:len(good)/2], "truncated"},
		"NoChecksum":    {good[:len(good)-64], "ends early"},
		"NoMAC":         {good[:len(good)-32], "ends early (no MAC)"},
		"LastByte":      {good[:len(good)-1], "ends early"},
		"Extra":         {append(bytes.Clone(good), 0), "after the checksum"},
		"RecordByte":    {flip(len(good) / 2), "damaged"},
		"TrailerByte":   {flip(len(good) - 72), "damaged"},
		"ChecksumByte":  {flip(len(good) - 33), "checksum mismatch"},
		"MACByte":       {flip(len(good) - 1), "MAC does not match"},
		"FutureVersion": {append([]byte("COFFERBK\x00\x03"), good[10:]...), "format version 3"},
	} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "bad.backup")
			if err := os.WriteFile(in, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			r := runCmd("restore", "--in", in, "--data", dst, "--master-key-file", filepath.Join(dirA, "master.key"))
			if r.Code != 1 || !strings.Contains(r.Stderr, c.want) || !strings.Contains(r.Stderr, "nothing was written") {
				t.Errorf("got exit %d %q, want 1 and %q", r.Code, r.Stderr, c.want)
			}
			if exists(dst) {
				t.Errorf("%s was created: %s", dst, dirFiles(t, dst))
			}
		})
	}
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
