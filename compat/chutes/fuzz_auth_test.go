package chutes_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// vectorHotkey is the key of internal/sr25519/testdata/chutes-sr25519-vectors.json.
const vectorHotkey = "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"

// validHeader reports whether an HTTP/1.1 server would accept v as a header
// value: no control characters but tab. Others never reach a handler.
func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzAuthHeaders sends arbitrary Authorization, X-Chutes-Hotkey,
// X-Chutes-Nonce and X-Chutes-Signature headers to the face over the real
// service (with the vectors' hotkey registered) on a route without a body
// and on one with. Only the issued API key gets in; every refusal is a
// FastAPI {"detail": "..."} of 401 (or 429), never a 5xx, and none quotes
// the credential it was sent.
func FuzzAuthHeaders(f *testing.F) {
	env := svctest.Open(f, withChutes(service.Options{}))
	if _, err := env.Svc.RegisterHotkey(env.Root, "", vectorHotkey); err != nil {
		f.Fatal(err)
	}
	h := (&chutes.Server{Secrets: env.Svc, Keys: env.Svc, Auth: env.Svc, Hotkeys: env.Svc}).Handler()
	sig := strings.Repeat("ab", 64)
	for _, s := range [][4]string{
		{env.Token, "", "", ""}, {"Bearer " + env.Token, "", "", ""}, {"Basic x " + env.Token, "", "", ""},
		{env.Token + " ", "", "", ""}, {"cpk_" + strings.Repeat("0", 32) + "." + strings.Repeat("0", 32) + "." + strings.Repeat("a", 32), "", "", ""},
		{"", vectorHotkey, "1763900000", sig}, {"", vectorHotkey, "", sig}, {"", vectorHotkey, "9999999999999", "0x" + sig},
		{"", vectorHotkey, "1763900000", ""}, {env.Token, vectorHotkey, "1763900000", sig}, {"", "5" + vectorHotkey, "1", "zz"},
		{"", "", "", ""}, {"\xff", "\xff", "\xff", "\xff"}, {"Bearer", " ", "-1", " "},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	// Each request comes from an address of its own, so that the failure
	// limiter does not answer 429 before the headers are even read.
	var calls atomic.Uint32
	f.Fuzz(func(t *testing.T, auth, hotkey, nonce, signature string) {
		for _, v := range []string{auth, hotkey, nonce, signature} {
			if !validHeader(v) {
				return
			}
		}
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/chutes/secrets/", ""},
			{"POST", "/chutes/secrets/", `{"purpose":"p","key":"K","value":"v"}`},
		} {
			req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
			n := calls.Add(1)
			req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", n>>16&0xff, n>>8&0xff, n&0xff)
			for _, h := range [][2]string{{"Authorization", auth}, {"X-Chutes-Hotkey", hotkey}, {"X-Chutes-Nonce", nonce}, {"X-Chutes-Signature", signature}} {
				if h[1] != "" {
					req.Header.Set(h[0], h[1])
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			what := r.method + " " + r.path
			hotkeyRequest := strings.TrimSpace(hotkey) != "" && strings.TrimSpace(signature) != ""
			lastWord := auth[strings.LastIndexByte(auth, ' ')+1:]
			switch {
			case w.Code >= 500:
				t.Fatalf("%s: got %d %s", what, w.Code, w.Body)
			case w.Code != 401 && w.Code != 429:
				// Past authentication (a write may then conflict, 409):
				// only the issued key gets here.
				if hotkeyRequest || lastWord != env.Token {
					t.Fatalf("%s: got %d for auth %q hotkey %q nonce %q signature %q, want 401", what, w.Code, auth, hotkey, nonce, signature)
				}
				if w.Code == 200 {
					continue
				}
			}
			var e struct {
				Detail *string `json:"detail"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Detail == nil || *e.Detail == "" {
				t.Fatalf("%s: got %d %q, want {\"detail\": ...}", what, w.Code, w.Body)
			}
			for _, secret := range []string{lastWord, signature} {
				if len(secret) >= 16 && !strings.Contains(hotkey, secret) && strings.Contains(*e.Detail, secret) {
					t.Fatalf("%s: the refusal quotes a credential: %q", what, *e.Detail)
				}
			}
		}
	})
}
