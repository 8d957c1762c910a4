package main

// Tests of issue 17 item 8: after a master-key rotation (with --reseal) and
// the retirement of the old key, whoever holds the old key and a backup
// taken before the rotation forges no access token the live server accepts
// and decrypts no value of the live database.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/client"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/server"
)

// leakForge makes an access token for the key id expiring at exp, signed
// with the key derived from secret for purpose, as coffer signs them.
func leakForge(secret []byte, purpose, keyID string, exp time.Time) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	key := m.Sum(nil)
	payload := make([]byte, 21, 21+len(keyID))
	payload[0] = 1
	binary.BigEndian.PutUint64(payload[1:9], uint64(exp.UnixMilli()))
	rand.Read(payload[9:21])
	payload = append(payload, keyID...)
	m = hmac.New(sha256.New, key)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return "cat_" + enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// leakTokens forges every access token that the master key ring opens
// material for in the database db: from the pepper (how tokens were signed
// before issue 17) and from the auth secret, each expiring at exp.
func leakTokens(t *testing.T, db *sql.DB, ring *envelope.Keyring, keyID string, exp time.Time) []string {
	t.Helper()
	meta := func(key string) []byte {
		var v []byte
		db.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
		return v
	}
	var out []string
	for _, c := range []struct {
		key, purpose string
		aad          []byte
	}{
		{"pepper", "coffer/access-token/v1", envelope.AAD("pepper")},
		{"pepper", "coffer/access-token/v1", envelope.AAD("pepper", "v2")},
		{"auth_secret", "coffer/access-token/v2", envelope.AAD("auth-secret", "ready")},
	} {
		if secret, err := ring.Unwrap(meta(c.key), c.aad); err == nil {
			out = append(out, leakForge(secret, c.purpose, keyID, exp))
		}
	}
	if len(out) == 0 {
		t.Fatal("the old master key opens nothing in the backup: the test forges nothing")
	}
	return out
}

// leakDataKeys returns every store data key that ring unwraps in db, by
// store id and key id.
func leakDataKeys(t *testing.T, db *sql.DB, ring *envelope.Keyring) map[string]*envelope.Cipher {
	t.Helper()
	rows, err := db.Query(`SELECT s.account_id, k.store_id, k.id, k.wrapped FROM store_keys k JOIN stores s ON s.id = k.store_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]*envelope.Cipher{}
	for rows.Next() {
		var acct, store string
		var id int
		var wrapped []byte
		if err := rows.Scan(&acct, &store, &id, &wrapped); err != nil {
			t.Fatal(err)
		}
		dek, err := ring.Unwrap(wrapped, envelope.AAD("store-key", acct, store, strconv.Itoa(id)))
		if err != nil {
			continue
		}
		c, err := envelope.NewCipher(uint32(id), dek)
		if err != nil {
			t.Fatal(err)
		}
		out[store+"/"+strconv.Itoa(id)] = c
	}
	return out
}

// TestRotationLeavesLeakedKeyNothing: the master key leaks with a backup.
// Before the rotation the forger works (so the test can fail); after
// `master-key rotate --reseal` and the retirement of the leaked key, no
// forged token opens anything on the live server, however long it claims
// to live, and no value of the live database (written before or after the
// rotation) opens with the data keys the leaked key unwraps in the backup.
func TestRotationLeavesLeakedKeyNothing(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "master.key"), filepath.Join(dir, "master-2.key")
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	s1, err := openServerConfig(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	root := s1.RootToken
	rootID := root[4:20]
	api := &rawAPI{t: t, base: "http://" + s1.Addr, token: root}
	api.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	api.must(201, "PUT", "/v1/stores/prod/secrets/BEFORE", map[string]any{"value": "written-before"})

	// The leak: the master key file and a backup of the database.
	backupPath := filepath.Join(t.TempDir(), "backup.db")
	live := rawDB(t, dir)
	if _, err := live.Exec(`VACUUM INTO ?`, backupPath); err != nil {
		t.Fatal(err)
	}
	backup, err := sql.Open("sqlite", "file:"+backupPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer backup.Close()
	leaked, err := os.ReadFile(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := envelope.ParseKey(strings.TrimSpace(string(leaked)))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(10 * time.Minute)
	forged := 0
	for _, tok := range leakTokens(t, backup, ring, rootID, soon) {
		if r := api.do("GET", "/v1/stores", nil, "Authorization", "Bearer "+tok); r.Status == 200 {
			forged++
		}
	}
	if forged == 0 {
		t.Fatal("before the rotation, no forged token works: the forger is wrong and the test proves nothing")
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// The rotation, with reseal, then the retirement of the leaked key.
	if r := cliExec(t, "", "", "", "master-key", "new", newKey); r.Code != 0 {
		t.Fatalf("master-key new: %d %q", r.Code, r.Stderr)
	}
	both := cfg
	both.MasterKeyFile, both.OldMasterKeyFiles = newKey, []string{oldKey}
	s2, err := openServerConfig(t, both)
	if err != nil {
		t.Fatal(err)
	}
	r := cliExec(t, "http://"+s2.Addr, root, "", "master-key", "rotate", "--reseal")
	if r.Code != 0 || !strings.Contains(r.Stdout, "resealed: 1 stores have a new data key; 1 versions re-encrypted") {
		t.Fatalf("master-key rotate --reseal: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	onlyNew := cfg
	onlyNew.MasterKeyFile = newKey
	s3, err := openServerConfig(t, onlyNew)
	if err != nil {
		t.Fatal(err)
	}
	api = &rawAPI{t: t, base: "http://" + s3.Addr, token: root}
	api.must(200, "PUT", "/v1/stores/prod/secrets/BEFORE", map[string]any{"value": "written-after"})
	api.must(201, "PUT", "/v1/stores/prod/secrets/AFTER", map[string]any{"value": "written-after"})

	t.Run("NoForgedToken", func(t *testing.T) {
		for _, exp := range []time.Time{soon, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)} {
			for _, tok := range leakTokens(t, backup, ring, rootID, exp) {
				if r := api.do("GET", "/v1/stores", nil, "Authorization", "Bearer "+tok); r.Status != 401 {
					t.Errorf("token forged with the leaked key, expiring %s: got %d %s, want 401", exp, r.Status, r.Body)
				}
			}
		}
	})
	t.Run("NoValueOpens", func(t *testing.T) {
		deks := leakDataKeys(t, backup, ring)
		if len(deks) == 0 {
			t.Fatal("the leaked key unwraps no data key in the backup: the test proves nothing")
		}
		rows, err := live.Query(`SELECT s.account_id, s.store_id, s.id, s.name, v.number, v.key_id, v.ciphertext
			FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE v.ciphertext IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var acct, store, id, name string
			var number, keyID int
			var ct []byte
			if err := rows.Scan(&acct, &store, &id, &name, &number, &keyID, &ct); err != nil {
				t.Fatal(err)
			}
			n++
			aad := envelope.AAD("value", acct, store, id, strconv.Itoa(number))
			for ref, c := range deks {
				if plain, err := c.Open(ct, aad); err == nil {
					t.Errorf("%s version %d (data key %d) opens with data key %s from the backup: %q", name, number, keyID, ref, plain)
				}
			}
		}
		if n < 3 {
			t.Fatalf("found %d versions, want 3", n)
		}
	})
	t.Run("LiveServerServesAll", func(t *testing.T) {
		cl, _ := client.New(api.base, root)
		for name, want := range map[string]string{"BEFORE": "written-after", "AFTER": "written-after"} {
			v, err := cl.Reveal(context.Background(), "prod", name, 0)
			if err != nil || string(v.Data) != want {
				t.Errorf("reveal %s: %v", name, err)
			}
		}
		v, err := cl.Reveal(context.Background(), "prod", "BEFORE", 1)
		if err != nil || string(v.Data) != "written-before" {
			t.Errorf("reveal BEFORE version 1 after reseal: %v", err)
		}
	})
}
