package bytenite_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/compat/bytenite"
)

// FuzzAuthorization sends arbitrary Authorization headers (bare API keys
// and access tokens, "Bearer ..." forms, cat_ tokens cut or altered) to
// an authenticated route. Only the root key and the access token issued
// for it get in; every refusal is ByteNite's error body with the 401 (or
// 429) status in it, never a 5xx, and never quotes the header.
func FuzzAuthorization(f *testing.F) {
	fc := mustOpenFace(f)
	w := fc.do("POST", "/access_token", `{"apiKey":"`+fc.token+`"}`)
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || w.Code != 200 || !strings.HasPrefix(tok.Token, "cat_") {
		f.Fatalf("access token: %d %s", w.Code, w.Body)
	}
	valid := map[string]bool{fc.token: true, tok.Token: true}
	for _, s := range []string{
		fc.token, tok.Token, "Bearer " + tok.Token, "bearer  " + fc.token + " ", tok.Token[:len(tok.Token)-1],
		tok.Token + "A", strings.Replace(tok.Token, ".", "", 1), "cat_", "cat_.", "cat_" + strings.Repeat("A", 200) + "." + strings.Repeat("A", 43),
		"Basic dTpw", "Bearer", "", "\t", "cfr_" + strings.Repeat("0", 16) + "_" + strings.Repeat("0", 64),
	} {
		f.Add(s)
	}
	var calls atomic.Uint32
	f.Fuzz(func(t *testing.T, auth string) {
		for i := 0; i < len(auth); i++ {
			if c := auth[i]; c < ' ' && c != '\t' || c == 0x7f {
				return // no HTTP/1.1 server passes this header on
			}
		}
		req := httptest.NewRequest("GET", bytenite.Prefix+"secrets", nil)
		n := calls.Add(1)
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", n>>16&0xff, n>>8&0xff, n&0xff)
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		fc.h.ServeHTTP(w, req)
		bare := strings.TrimSpace(auth)
		if len(bare) > 7 && strings.EqualFold(bare[:7], "bearer ") {
			bare = strings.TrimSpace(bare[7:])
		}
		switch {
		case w.Code == 200:
			if !valid[bare] {
				t.Fatalf("let in %q: %s", auth, w.Body)
			}
			return
		case w.Code != 401 && w.Code != 429:
			t.Fatalf("Authorization %q: got %d %s, want 401", auth, w.Code, w.Body)
		case valid[bare] && w.Code != 429:
			t.Fatalf("refused the issued credential %q: %d %s", auth, w.Code, w.Body)
		}
		var e struct {
			OK    *bool `json:"ok"`
			Code  int   `json:"code"`
			Error struct {
				Code int `json:"code"`
			} `json:"error"`
			Message string `json:"message"`
			Details []any  `json:"details"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.OK == nil || *e.OK || e.Error.Code != w.Code || e.Code == 0 || e.Message == "" || e.Details == nil {
			t.Fatalf("Authorization %q: got %d %s, want ByteNite's error body", auth, w.Code, w.Body)
		}
		if len(bare) >= 8 && strings.Contains(w.Body.String(), bare) {
			t.Fatalf("the refusal quotes the credential: %s", w.Body)
		}
	})
}
