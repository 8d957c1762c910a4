package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/sr25519"
)

// chSigner signs Chutes requests with the vectors' hotkey as Chutes' client
// does: X-Chutes-Hotkey, X-Chutes-Nonce (unix seconds) and
// X-Chutes-Signature, the hex sr25519 signature of
// "{hotkey}:{nonce}:{purpose or sha256 hex of the body}".
type chSigner struct {
	t    *testing.T
	priv *sr25519.PrivateKey
}

func newChSigner(t *testing.T) *chSigner {
	t.Helper()
	seed, _ := hex.DecodeString(e2eHotkeySeed)
	priv, err := sr25519.NewPrivateKeyFromSeed([32]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	return &chSigner{t: t, priv: priv}
}

// headers signs what for a request at time at.
func (s *chSigner) headers(at time.Time, what string) []string {
	s.t.Helper()
	nonce := strconv.FormatInt(at.Unix(), 10)
	sig, err := s.priv.Sign([]byte(e2eHotkey + ":" + nonce + ":" + what))
	if err != nil {
		s.t.Fatal(err)
	}
	return []string{"X-Chutes-Hotkey", e2eHotkey, "X-Chutes-Nonce", nonce, "X-Chutes-Signature", hex.EncodeToString(sig[:])}
}

func bodyHash(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// TestChutesSignedRequests drives the Chutes face with hotkey-signed
// requests against the real server and a hotkey registered natively: the
// purpose and body-hash messages, and each way a signature must fail.
func TestChutesSignedRequests(t *testing.T) {
	a := startChutes(t, nil)
	s := newChSigner(t)
	now := time.Now()

	// Before registration the hotkey is nobody.
	chDetail(t, a.do("GET", "/secrets/", "", nil, s.headers(now, "secrets")...), 401, "Could not find user with hotkey: "+e2eHotkey)
	a.native.must(201, "POST", "/v1/hotkeys", map[string]string{"hotkey": e2eHotkey})

	// A create signs the sha256 of the exact body bytes.
	body := `{"purpose":"my-chute","key":"HF_TOKEN","value":"hf_s3cret"}`
	r := a.do("POST", "/secrets/", "", body, s.headers(now, bodyHash(body))...)
	if r.Status != 200 {
		t.Fatalf("signed create: got %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "hf_s3cret") {
		t.Fatalf("create reply shows the value: %s", r.Body)
	}
	var created chSecretCreated
	strictish(t, r.Body, &created)
	if created.UserID != chDashed(a.principal) && created.UserID != a.principal {
		t.Errorf("user_id %q: want the hotkey's principal %s", created.UserID, a.principal)
	}

	// A read signs its purpose.
	hdr := s.headers(time.Now(), "secrets")
	if r := a.do("GET", "/secrets/"+created.SecretID, "", nil, hdr...); r.Status != 200 {
		t.Fatalf("signed get: got %d %s", r.Status, r.Body)
	}

	for _, tt := range []struct {
		name   string
		method string
		path   string
		body   any
		hdr    []string
		detail string
	}{
		// The same nonce and signature verify once.
		{"Replay", "GET", "/secrets/" + created.SecretID, nil, hdr, "Replayed request"},
		{"NonceTooOld", "GET", "/secrets/", nil, s.headers(time.Now().Add(-700*time.Second), "secrets"), "Invalid nonce!"},
		{"NonceInFuture", "GET", "/secrets/", nil, s.headers(time.Now().Add(700*time.Second), "secrets"), "Invalid nonce!"},
		// A signature made for /api_keys does not open /secrets.
		{"WrongPurpose", "GET", "/secrets/", nil, s.headers(now, "api_keys"), "Invalid request signature"},
		// A body other than the one signed.
		{"TamperedBody", "POST", "/secrets/", strings.Replace(body, "HF_TOKEN", "HF_TOKEN2", 1), s.headers(now, bodyHash(body)), "Invalid request signature"},
		{"BadHex", "GET", "/secrets/", nil, []string{"X-Chutes-Hotkey", e2eHotkey, "X-Chutes-Nonce", strconv.FormatInt(now.Unix(), 10), "X-Chutes-Signature", "zz"}, "Invalid request signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.method, tt.path, "", tt.body, tt.hdr...)
			if r.Status != 401 || !strings.Contains(string(r.Body), tt.detail) {
				t.Errorf("got %d %s, want 401 with %q", r.Status, r.Body, tt.detail)
			}
		})
	}
	// The tampered create wrote nothing.
	var page chPage[chSecret]
	strictish(t, a.must(200, "GET", "/secrets/", nil).Body, &page)
	if page.Total != 1 {
		t.Errorf("secrets after the refused requests: %d, want 1", page.Total)
	}

	// Removing the hotkey stops it within a second.
	a.native.must(204, "DELETE", "/v1/hotkeys/"+e2eHotkey, nil)
	time.Sleep(1100 * time.Millisecond)
	chDetail(t, a.do("GET", "/secrets/", "", nil, s.headers(time.Now(), "secrets")...), 401, "Could not find user with hotkey: "+e2eHotkey)
}
