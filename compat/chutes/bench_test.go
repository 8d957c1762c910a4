package chutes_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/internal/sr25519"
)

// BenchmarkRead is the server's cost of one Chutes secret read, with an
// API key and hotkey-signed, without the network: the ratio of the two is
// what a signature costs, measured serially so that a busy machine slows
// both alike.
func BenchmarkRead(b *testing.B) {
	f := mustOpenFace(b, false)
	ctx := context.Background()
	_, token, err := f.svc.CreateAPIKey(coffer.NewContext(ctx, f.owner), &coffer.APIKeyCreate{Name: "bench", Admin: true})
	if err != nil {
		b.Fatal(err)
	}
	f.h = (&chutes.Server{Secrets: f.svc, Keys: f.svc, Auth: f.svc, Hotkeys: f.svc}).Handler()
	priv, err := sr25519.NewPrivateKeyFromSeed([32]byte{7})
	if err != nil {
		b.Fatal(err)
	}
	hotkey := priv.Public().Address(42)
	if _, err := f.svc.RegisterHotkey(coffer.NewContext(ctx, f.owner), "", hotkey); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/chutes/secrets/", bytes.NewReader([]byte(`{"purpose":"p","key":"K","value":"v"}`)))
	req.Header.Set("Authorization", token)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	var created struct {
		SecretID string `json:"secret_id"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &created); w.Code != 200 || err != nil {
		b.Fatalf("create: %d %s", w.Code, w.Body)
	}
	path := "/chutes/secrets/" + created.SecretID
	read := func(b *testing.B, hdr http.Header) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header = hdr
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("read: %d %s", w.Code, w.Body)
		}
	}
	b.Run("apikey", func(b *testing.B) {
		hdr := http.Header{"Authorization": {token}}
		b.ReportAllocs()
		for b.Loop() {
			read(b, hdr)
		}
	})
	b.Run("signed", func(b *testing.B) {
		hdrs := make([]http.Header, 0, 1024)
		sign := func() {
			hdrs = hdrs[:0]
			nonce := strconv.FormatInt(time.Now().Unix(), 10)
			for range cap(hdrs) {
				sig, err := priv.Sign([]byte(hotkey + ":" + nonce + ":secrets"))
				if err != nil {
					b.Fatal(err)
				}
				hdrs = append(hdrs, http.Header{"X-Chutes-Hotkey": {hotkey}, "X-Chutes-Nonce": {nonce},
					"X-Chutes-Signature": {hex.EncodeToString(sig[:])}})
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(hdrs) {
				b.StopTimer()
				sign()
				i = 0
				b.StartTimer()
			}
			read(b, hdrs[i])
			i++
		}
	})
}
