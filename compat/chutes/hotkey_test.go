package chutes_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/sqlite"
)

// fakeHotkeys stands in for the service's hotkey verification: it records
// each proof and answers with the account owner's caller, or with err.
type fakeHotkeys struct {
	mu     sync.Mutex
	owner  coffer.Caller
	err    error
	proofs []coffer.HotkeyProof
}

func (f *fakeHotkeys) AuthenticateHotkey(ctx context.Context, p coffer.HotkeyProof) (*coffer.Caller, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proofs = append(f.proofs, p)
	if f.err != nil {
		return nil, f.err
	}
	c := f.owner
	return &c, nil
}

// last returns the last proof seen, and how many were seen.
func (f *fakeHotkeys) last() (coffer.HotkeyProof, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.proofs) == 0 {
		return coffer.HotkeyProof{}, 0
	}
	return f.proofs[len(f.proofs)-1], len(f.proofs)
}

// face is the Chutes face over a real service on a fresh database.
type face struct {
	h       http.Handler
	svc     *service.Service
	hotkeys *fakeHotkeys
	owner   *coffer.Caller
}

func mustOpenFace(t testing.TB, withHotkeys bool) *face {
	t.Helper()
	ctx := context.Background()
	kr, err := envelope.NewKeyring(envelope.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), sqlite.Options{HeadMAC: service.HeadMAC(kr)})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, db, kr, withChutes(service.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); db.Close() })
	token, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := svc.Authenticate(ctx, coffer.Credential{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	// A hotkey caller is its principal with an admin key's powers, and no key.
	owner.KeyID = ""
	f := &face{svc: svc, owner: owner}
	srv := &chutes.Server{Secrets: svc, Keys: svc, Auth: svc}
	if withHotkeys {
		f.hotkeys = &fakeHotkeys{owner: *owner}
		srv.Hotkeys = f.hotkeys
	}
	f.h = srv.Handler()
	return f
}

const (
	testHotkey = "5EhZMRNFXZoh3BmFDsroRAHU9a9takaq3bYTLVEad9xZJMWv"
	testNonce  = "1764000000"
	testSig    = "00ff"
)

// signed sends a request with hotkey headers.
func (f *face) signed(t testing.TB, method, path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("X-Chutes-Hotkey", testHotkey)
	req.Header.Set("X-Chutes-Nonce", testNonce)
	req.Header.Set("X-Chutes-Signature", testSig)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func detail(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var d struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	return d.Detail
}

// TestHotkeyMessage checks the message a hotkey request is verified
// against: the route's purpose, or for the creates the SHA-256 of the body
// exactly as sent, hashed before parsing and then parsed from the same
// bytes.
func TestHotkeyMessage(t *testing.T) {
	f := mustOpenFace(t, true)
	want := func(t *testing.T, covered string) {
		t.Helper()
		p, n := f.hotkeys.last()
		if n == 0 {
			t.Fatal("the hotkey authenticator was not asked")
		}
		if got, want := string(p.Message), testHotkey+":"+testNonce+":"+covered; got != want {
			t.Errorf("message: got %q, want %q", got, want)
		}
		if p.Hotkey != testHotkey || p.Nonce != testNonce || p.Signature != testSig || p.RemoteIP != "192.0.2.1" {
			t.Errorf("proof: got %+v", p)
		}
	}

	// Odd spacing and key order: the hash is of these bytes, not of a re-encoding.
	body := []byte(`{ "value":"v1",   "key" : "HF_TOKEN","purpose":"my-chute" }`)
	w := f.signed(t, "POST", "/chutes/secrets/", body, "Authorization", "Bearer not-a-key")
	if w.Code != 200 {
		t.Fatalf("create secret: got %d %s", w.Code, w.Body)
	}
	want(t, sha256Hex(body))
	var created struct {
		SecretID string `json:"secret_id"`
		UserID   string `json:"user_id"`
		Purpose  string `json:"purpose"`
		Key      string `json:"key"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Purpose != "my-chute" || created.Key != "HF_TOKEN" {
		t.Fatalf("create secret: got %s, %v", w.Body, err)
	}
	if created.UserID != dashed(f.owner.PrincipalID) {
		t.Errorf("user_id: got %s, want the hotkey's principal %s", created.UserID, f.owner.PrincipalID)
	}
	// The value is the one in those bytes.
	ctx := coffer.NewContext(context.Background(), f.owner)
	v, err := f.svc.Reveal(ctx, chutes.StoreName, "my-chute/HF_TOKEN", 0)
	if err != nil || string(v.Data) != "v1" {
		t.Fatalf("value: got %v, %v", v, err)
	}

	for _, tt := range []struct{ method, path, covered string }{
		{"GET", "/chutes/secrets/", "secrets"},
		{"GET", "/chutes/secrets?page=0", "secrets"},
		{"GET", "/chutes/secrets/" + created.SecretID, "secrets"},
		{"GET", "/chutes/api_keys/", "api_keys"},
		{"GET", "/chutes/api_keys/" + strings.Repeat("0", 32), "api_keys"},
		{"GET", "/chutes/registry/auth", "registry"},
		{"DELETE", "/chutes/secrets/" + created.SecretID + "/", "secrets"},
	} {
		w := f.signed(t, tt.method, tt.path, nil)
		if w.Code != 200 && w.Code != 404 {
			t.Errorf("%s %s: got %d %s", tt.method, tt.path, w.Code, w.Body)
		}
		want(t, tt.covered)
	}

	body = []byte(`{"admin":true,"name":"signed"}`)
	if w := f.signed(t, "POST", "/chutes/api_keys", body); w.Code != 200 {
		t.Fatalf("create key: got %d %s", w.Code, w.Body)
	}
	want(t, sha256Hex(body))
	// A body the signature covers, but that is not JSON: hashed, then refused.
	body = []byte(`{"admin":`)
	if w := f.signed(t, "POST", "/chutes/api_keys/", body); w.Code != 422 {
		t.Fatalf("bad JSON: got %d %s", w.Code, w.Body)
	}
	want(t, sha256Hex(body))

	// The face records the request on the caller: audit events name it.
	page, err := f.svc.AuditEvents(ctx, coffer.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var writes int
	for _, ev := range page.Events {
		if ev.Face != "bootstrap" && (ev.Action == "secret.write" || ev.Action == "key.create" || ev.Action == "secret.delete") {
			writes++
			if ev.Face != chutes.Face || ev.PrincipalID != f.owner.PrincipalID || ev.Remote != "192.0.2.1" || ev.Outcome != "ok" {
				t.Errorf("audit event %+v: want face chutes, the hotkey's principal and address", ev)
			}
		}
	}
	if writes != 3 {
		t.Errorf("got %d audited writes, want 3", writes)
	}
}

func TestHotkeyRefused(t *testing.T) {
	t.Run("ErrUnauthorized", func(t *testing.T) {
		f := mustOpenFace(t, true)
		f.hotkeys.err = coffer.Errorf(coffer.EUNAUTHORIZED, "Invalid nonce!")
		w := f.signed(t, "GET", "/chutes/secrets/", nil)
		if w.Code != 401 || detail(t, w) != "Invalid nonce!" {
			t.Errorf("got %d %s, want 401 Invalid nonce!", w.Code, w.Body)
		}
	})
	t.Run("ErrRateLimit", func(t *testing.T) {
		f := mustOpenFace(t, true)
		f.hotkeys.err = &coffer.Error{Code: coffer.ERATELIMIT, Message: "slow down", RetryAfter: 6e9}
		w := f.signed(t, "GET", "/chutes/secrets/", nil)
		if w.Code != 429 || detail(t, w) != "slow down" || w.Header().Get("Retry-After") != "6" {
			t.Errorf("got %d %s %v, want 429 with Retry-After 6", w.Code, w.Body, w.Header())
		}
	})
	t.Run("NoAuthenticator", func(t *testing.T) {
		f := mustOpenFace(t, false)
		w := f.signed(t, "GET", "/chutes/secrets/", nil)
		if w.Code != 401 || detail(t, w) != "Could not find user with hotkey: "+testHotkey {
			t.Errorf("got %d %s, want 401 for an unknown hotkey", w.Code, w.Body)
		}
		// The refusal is audited as a failed authentication of the face.
		ctx := coffer.NewContext(context.Background(), f.owner)
		page, err := f.svc.AuditEvents(ctx, coffer.AuditQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if ev := page.Events[len(page.Events)-1]; ev.Action != "auth.fail" || ev.Face != chutes.Face || ev.Remote != "192.0.2.1" {
			t.Errorf("last audit event %+v: want auth.fail by the chutes face", ev)
		}
	})
	t.Run("SignatureWithoutHotkey", func(t *testing.T) {
		// Without both headers the request is an API-key request.
		f := mustOpenFace(t, true)
		req := httptest.NewRequest("GET", "/chutes/secrets/", nil)
		req.Header.Set("X-Chutes-Signature", testSig)
		req.Header.Set("X-Chutes-Nonce", testNonce)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		if _, n := f.hotkeys.last(); w.Code != 401 || n != 0 || detail(t, w) != "Can't find a user with that api key in our db :(" {
			t.Errorf("got %d %s (%d hotkey checks), want 401 without a hotkey check", w.Code, w.Body, n)
		}
	})
}

// dashed shows a 32-hex-digit id as a UUID.
func dashed(id string) string {
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}
