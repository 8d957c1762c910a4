package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/backup"
	"github.com/coffer-dev/coffer/server"
)

// TestRestoreRefusesEditedBackup edits a backup the way an attacker without
// the master key can: a tenant's admin key record moved into the operator's
// account under the root principal, digest, counts and checksum recomputed.
// Restore refuses it (the MAC does not match) and refuses the same edit
// written in the old format without a MAC, writing nothing either time. The
// untouched backup restores and reports its MAC verified; the old-format
// edit restores only with --accept-no-mac, which shows the edit is one the
// checksums alone let through.
func TestRestoreRefusesEditedBackup(t *testing.T) {
	dirA := t.TempDir()
	s := mustOpenServer(t, dirA)
	e := &cliE2E{t: t, addr: "http://" + s.Addr, token: s.RootToken}
	acmeID, acme := e.createAccount("acme")
	if r := e.RunAs(acme, "", "store", "create", "prod"); r.Code != 0 {
		t.Fatalf("store create as acme: %d %q", r.Code, r.Stderr)
	}
	keyFile := filepath.Join(dirA, "master.key")
	master := must(server.ReadKeyFile(keyFile))
	good := filepath.Join(t.TempDir(), "good.backup")
	if r := runCmd("backup", "--data", dirA, "--out", good); r.Code != 0 || !strings.Contains(r.Stdout, "authenticated (MAC)") {
		t.Fatalf("coffer backup: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	goodBytes := must(os.ReadFile(good))
	// A backup keyed by a master key that is not the database's is refused.
	otherKey := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(otherKey, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.backup")
	if r := runCmd("backup", "--data", dirA, "--master-key-file", otherKey, "--out", wrong); r.Code != 1 || !strings.Contains(r.Stderr, "is not the database's") || exists(wrong) {
		t.Errorf("backup with another master key: got exit %d %q", r.Code, r.Stderr)
	}

	// The attacker's edit: read every record, move acme's admin key to the
	// root key's account and principal, write the file again.
	f := must(os.Open(good))
	defer f.Close()
	br, err := backup.NewReader(f, backup.Keys{Masters: [][]byte{master}})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*coffer.Record
	for {
		r, err := br.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var tenantKey, rootKey *coffer.Record
	for _, r := range recs {
		if k := r.APIKey; k != nil && k.Admin {
			if k.AccountID == acmeID {
				tenantKey = r
			} else {
				rootKey = r
			}
		}
	}
	if tenantKey == nil || rootKey == nil {
		t.Fatal("the backup holds no admin key of acme, or none of the operator")
	}
	tenantKey.APIKey.AccountID, tenantKey.APIKey.PrincipalID = rootKey.APIKey.AccountID, rootKey.APIKey.PrincipalID
	var edited bytes.Buffer
	// Written with the real key only to get the layout; the attacker has
	// no key, so the original MAC is kept in place of the new one.
	bw, err := backup.NewWriter(&edited, br.Header, master)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := bw.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bw.Finish(); err != nil {
		t.Fatal(err)
	}
	forged := edited.Bytes()
	copy(forged[len(forged)-32:], goodBytes[len(goodBytes)-32:])
	// The same edit in format version 1: no MAC, checksum recomputed.
	v1 := bytes.Clone(forged[:len(forged)-64])
	v1[len(backup.Magic)+1] = 1
	v1Sum := sha256.Sum256(v1)
	v1 = append(v1, v1Sum[:]...)

	dir := t.TempDir()
	restore := func(name string, data []byte, flags ...string) (cliResult, string) {
		t.Helper()
		in := filepath.Join(dir, name)
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "restored")
		return runCmd(append([]string{"restore", "--in", in, "--data", dst, "--master-key-file", keyFile}, flags...)...), dst
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"Forged":   {forged, "MAC does not match"},
		"FormatV1": {v1, "format version 1 has no MAC"},
	} {
		r, dst := restore(name, c.data)
		if r.Code != 1 || !strings.Contains(r.Stderr, c.want) || !strings.Contains(r.Stderr, "nothing was written") || strings.Contains(r.Stdout, "Verified") {
			t.Errorf("%s: got exit %d %q %q, want 1 and %q", name, r.Code, r.Stdout, r.Stderr, c.want)
		}
		if exists(dst) {
			t.Errorf("%s: %s was created: %s", name, dst, dirFiles(t, dst))
		}
	}
	// Without the key at hand, a version 2 file is not restored either.
	if r := runCmd("restore", "--in", good, "--data", filepath.Join(t.TempDir(), "nokey")); r.Code != 1 || !strings.Contains(r.Stderr, "which was not given") {
		t.Errorf("restore without the master key: got exit %d %q", r.Code, r.Stderr)
	}

	if r, _ := restore("good", goodBytes); r.Code != 0 || !strings.Contains(r.Stdout, "Authenticated: the backup's MAC") {
		t.Errorf("the untouched backup: got exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r, _ := restore("v1-accepted", v1, "--accept-no-mac"); r.Code != 0 || !strings.Contains(r.Stdout, "NOT AUTHENTICATED") {
		t.Errorf("the old-format edit with --accept-no-mac: got exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}
