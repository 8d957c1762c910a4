package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/envelope"
)

// TestAtRestNoPlaintext writes secrets (a new one, a second version, one
// through the Cloudflare face) and mints an API key on a real server, reads
// them back so that every cache and the audit log hold what they would,
// stops the server and then reads every file of the data directory but
// master.key and root.token, as a thief of the database file or of a backup
// of it would: no value, no API key secret and no master key appears in
// them, raw, hex or base64.
func TestAtRestNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenServer(t, dir)
	a := &rawAPI{t: t, base: "http://" + s.Addr, token: s.RootToken}
	const v1, v2, cf = "canary-value-one-7f3a9c", "canary-value-two-5be21d", "canary-cloudflare-c0ffee"
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	a.must(201, "PUT", "/v1/stores/s/secrets/db", map[string]any{"value": v1})
	a.must(200, "PUT", "/v1/stores/s/secrets/db", map[string]any{"value": v2})
	a.must(200, "GET", "/v1/stores/s/secrets/db/value?version=1", nil)
	a.must(200, "GET", "/v1/stores/s/secrets/db/value", nil)
	tok, _ := authzMint(t, a, map[string]any{"name": "ci", "scopes": authzScopes("s:*:read,reveal")})
	(&rawAPI{t: t, base: a.base, token: tok}).must(200, "GET", "/v1/stores/s/secrets/db/value", nil)
	acct := a.must(200, "GET", "/v1/accounts", nil).JSON(t)["accounts"].([]any)[0].(map[string]any)["id"].(string)
	storeID := a.must(200, "GET", "/v1/stores/s", nil).JSON(t)["id"].(string)
	a.must(200, "POST", "/cloudflare/client/v4/accounts/"+acct+"/secrets_store/stores/"+storeID+"/secrets",
		[]map[string]any{{"name": "CF", "value": cf, "scopes": []string{"workers"}}})
	sess := consoleSignIn(t, a.base, tok) // left signed in: the database holds its session
	if got := sess.do(t, a.base, "GET", "/v1/stores", ""); got != 200 {
		t.Fatalf("console session: got %d, want 200", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	master, err := envelope.ParseKey(strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "master.key"))))))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"value v1": []byte(v1), "value v2": []byte(v2), "cloudflare value": []byte(cf),
		"root token": []byte(s.RootToken), "API key token": []byte(tok), "master key": master,
		"console session id": []byte(sess.cookie), "console CSRF token": []byte(sess.csrf)}
	if raw, err := base64.RawURLEncoding.DecodeString(sess.cookie); err == nil {
		secrets["console session id's bytes"] = raw
	}
	if i := strings.LastIndexByte(tok, '_'); i > 0 {
		secrets["API key secret"] = []byte(tok[i+1:])
	}
	var scanned int
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "master.key" || d.Name() == "root.token" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for name, sec := range secrets {
			for _, form := range [][]byte{sec, []byte(hex.EncodeToString(sec)), []byte(base64.StdEncoding.EncodeToString(sec)),
				[]byte(base64.RawURLEncoding.EncodeToString(sec))} {
				if bytes.Contains(b, form) {
					t.Errorf("%s holds the %s", filepath.Base(path), name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned == 0 {
		t.Fatal("no database file to scan")
	}
}
