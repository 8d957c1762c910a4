package chutes_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/servertest"
)

func bodyHash(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// TestChutesSignedRequests drives the Chutes face with hotkey-signed
// requests against the real server and a hotkey registered natively: the
// purpose and body-hash messages, and each way a signature must fail.
func TestChutesSignedRequests(t *testing.T) {
	a := startChutes(t, nil)
	s := servertest.NewChutesSigner(t)
	now := time.Now()

	// Before registration the hotkey is nobody.
	chDetail(t, a.do("GET", "/secrets/", "", nil, s.Headers(now, "secrets")...), 401, "Could not find user with hotkey: "+vectorHotkey)
	a.native.Must(201, "POST", "/v1/hotkeys", map[string]string{"hotkey": vectorHotkey})

	// A create signs the sha256 of the exact body bytes.
	body := `{"purpose":"my-chute","key":"HF_TOKEN","value":"hf_s3cret"}`
	r := a.do("POST", "/secrets/", "", body, s.Headers(now, bodyHash(body))...)
	if r.Status != 200 {
		t.Fatalf("signed create: got %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "hf_s3cret") {
		t.Fatalf("create reply shows the value: %s", r.Body)
	}
	var created chSecretCreated
	servertest.Decode(t, r.Body, &created)
	if created.UserID != chDashed(a.principal) && created.UserID != a.principal {
		t.Errorf("user_id %q: want the hotkey's principal %s", created.UserID, a.principal)
	}

	// A read signs its purpose.
	hdr := s.Headers(time.Now(), "secrets")
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
		{"NonceTooOld", "GET", "/secrets/", nil, s.Headers(time.Now().Add(-700*time.Second), "secrets"), "Invalid nonce!"},
		{"NonceInFuture", "GET", "/secrets/", nil, s.Headers(time.Now().Add(700*time.Second), "secrets"), "Invalid nonce!"},
		// A signature made for /api_keys does not open /secrets.
		{"WrongPurpose", "GET", "/secrets/", nil, s.Headers(now, "api_keys"), "Invalid request signature"},
		// A body other than the one signed.
		{"TamperedBody", "POST", "/secrets/", strings.Replace(body, "HF_TOKEN", "HF_TOKEN2", 1), s.Headers(now, bodyHash(body)), "Invalid request signature"},
		{"BadHex", "GET", "/secrets/", nil, []string{"X-Chutes-Hotkey", vectorHotkey, "X-Chutes-Nonce", strconv.FormatInt(now.Unix(), 10), "X-Chutes-Signature", "zz"}, "Invalid request signature"},
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
	servertest.Decode(t, a.must(200, "GET", "/secrets/", nil).Body, &page)
	if page.Total != 1 {
		t.Errorf("secrets after the refused requests: %d, want 1", page.Total)
	}

	// Removing the hotkey stops it within a second.
	a.native.Must(204, "DELETE", "/v1/hotkeys/"+vectorHotkey, nil)
	time.Sleep(1100 * time.Millisecond)
	chDetail(t, a.do("GET", "/secrets/", "", nil, s.Headers(time.Now(), "secrets")...), 401, "Could not find user with hotkey: "+vectorHotkey)
}
