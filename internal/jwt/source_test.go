package jwt_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/jwt"
)

// keyServer is an OIDC issuer on loopback: a discovery document and a
// JWKS the test replaces to rotate keys.
type keyServer struct {
	*httptest.Server
	jwks      atomic.Pointer[[]byte]
	discovery atomic.Pointer[string] // the document's issuer; the server's URL when nil
	fail      atomic.Int32           // the status to answer with instead, when set
	requests  atomic.Int64
}

func newKeyServer(t *testing.T, jwks []byte) *keyServer {
	t.Helper()
	ks := &keyServer{}
	ks.jwks.Store(&jwks)
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.requests.Add(1)
		if code := ks.fail.Load(); code != 0 {
			http.Error(w, "down", int(code))
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			iss := ks.URL
			if p := ks.discovery.Load(); p != nil {
				iss = *p
			}
			w.Write([]byte(mustJSON(t, map[string]any{"issuer": iss, "jwks_uri": ks.URL + "/keys"})))
		case "/keys":
			w.Write(*ks.jwks.Load())
		case "/big":
			w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`))
		case "/redirect":
			http.Redirect(w, r, "http://keys.example/keys", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ks.Close)
	return ks
}

func TestSourceDiscoveryAndRotation(t *testing.T) {
	k := mustKeys(t)
	srv := newKeyServer(t, jwks(t, jwk("k1", "", &k.rsa.PublicKey)))
	src, err := jwt.NewSource(jwt.SourceConfig{Issuer: srv.URL, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	e := expect()
	e.Issuer = srv.URL
	c := claims(map[string]any{"iss": srv.URL})
	tok1 := sign(t, "RS256", "k1", k.rsa, c)
	tok2 := sign(t, "RS256", "k2", k.rsa2, c)
	check := func(tok string, want error) {
		t.Helper()
		if _, err := jwt.Verify(tok, src.Keys(), e); !errors.Is(err, want) {
			t.Errorf("got %v, want %v", err, want)
		}
	}

	check(tok1, jwt.ErrUnknownKey) // nothing loaded yet: nothing verifies
	if srv.requests.Load() != 0 {
		t.Fatal("NewSource fetched")
	}
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	check(tok1, nil)

	// Rotation: k2 replaces k1 at the issuer.
	srv.jwks.Store(new(jwks(t, jwk("k2", "", &k.rsa2.PublicKey))))
	check(tok2, jwt.ErrUnknownKey) // not before a refresh: Verify never fetches
	check(tok1, nil)
	before := srv.requests.Load()
	check(tok2, jwt.ErrUnknownKey)
	if srv.requests.Load() != before {
		t.Error("Verify made a request")
	}
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	check(tok2, nil)
	check(tok1, jwt.ErrUnknownKey) // removed kid refused after refresh

	// Failures keep the last good set and are reported.
	for _, tc := range []struct {
		name string
		set  func()
	}{
		{"Status500", func() { srv.fail.Store(500) }},
		{"NotJSON", func() { srv.jwks.Store(new([]byte("<html>"))) }},
		{"PrivateKey", func() {
			m := jwk("k3", "", &k.p256.PublicKey)
			m["d"] = privateD(k.p256)
			srv.jwks.Store(new(jwks(t, m)))
		}},
		{"OtherIssuer", func() { srv.discovery.Store(new("https://evil.test")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.set()
			defer func() {
				srv.fail.Store(0)
				srv.discovery.Store(nil)
				srv.jwks.Store(new(jwks(t, jwk("k2", "", &k.rsa2.PublicKey))))
			}()
			err := src.Refresh(context.Background())
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			if ok, last := src.Status(); !errors.Is(last, err) || ok.IsZero() {
				t.Errorf("Status: got %v, %v", last, ok)
			}
			if strings.Contains(err.Error(), privateD(k.p256)) {
				t.Error("error echoes the private key")
			}
			check(tok2, nil)
		})
	}
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, last := src.Status(); last != nil {
		t.Errorf("Status after success: got %v", last)
	}
}

func TestSourceRun(t *testing.T) {
	k := mustKeys(t)
	srv := newKeyServer(t, jwks(t, jwk("k1", "", &k.rsa.PublicKey)))
	var mu sync.Mutex
	var errs []error
	src, err := jwt.NewSource(jwt.SourceConfig{JWKSURL: srv.URL + "/keys", Client: srv.Client(), Interval: 5 * time.Millisecond,
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, func() bool { return slicesEqual(src.Keys().KeyIDs(), "k1") })
	srv.fail.Store(503)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) > 0 })
	if !slicesEqual(src.Keys().KeyIDs(), "k1") {
		t.Error("failed refresh dropped the last good set")
	}
	srv.fail.Store(0)
	srv.jwks.Store(new(jwks(t, jwk("k2", "", k.ed.Public()))))
	waitFor(t, func() bool { return slicesEqual(src.Keys().KeyIDs(), "k2") })
}

func TestSourceFile(t *testing.T) {
	k := mustKeys(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks(t, jwk("k1", "", &k.rsa.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := jwt.NewSource(jwt.SourceConfig{File: path, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return slicesEqual(src.Keys().KeyIDs(), "k1") })
	if err := os.WriteFile(path, jwks(t, jwk("k2", "", &k.p256.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return slicesEqual(src.Keys().KeyIDs(), "k2") })
}

func TestSourceStatic(t *testing.T) {
	k := mustKeys(t)
	src, err := jwt.NewSource(jwt.SourceConfig{Keys: jwks(t, jwk("k1", "", k.ed.Public()))})
	if err != nil {
		t.Fatal(err)
	}
	src.Run(context.Background()) // returns at once
	if _, err := jwt.Verify(sign(t, "EdDSA", "k1", k.ed, claims(nil)), src.Keys(), expect()); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestSourceRefuses(t *testing.T) {
	k := mustKeys(t)
	srv := newKeyServer(t, jwks(t, jwk("k1", "", &k.rsa.PublicKey)))
	c := srv.Client()
	for _, tc := range []struct {
		name string
		cfg  jwt.SourceConfig
	}{
		{"Nothing", jwt.SourceConfig{}},
		{"Two", jwt.SourceConfig{File: "x", JWKSURL: "https://keys.example/keys", Client: c}},
		{"PlainHTTP", jwt.SourceConfig{JWKSURL: "http://keys.example/keys", Client: c}},
		{"PlainHTTPIssuer", jwt.SourceConfig{Issuer: "http://10.0.0.1", Client: c}},
		{"Relative", jwt.SourceConfig{JWKSURL: "/keys", Client: c}},
		{"Credentials", jwt.SourceConfig{JWKSURL: "https://u:p@keys.example/keys", Client: c}},
		{"NoClient", jwt.SourceConfig{JWKSURL: "https://keys.example/keys"}},
		{"BadStatic", jwt.SourceConfig{Keys: []byte("not keys")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := jwt.NewSource(tc.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
	for _, tc := range []struct{ name, url string }{
		{"Oversize", srv.URL + "/big"},
		{"RedirectToHTTP", srv.URL + "/redirect"},
		{"NotFound", srv.URL + "/nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := jwt.NewSource(jwt.SourceConfig{JWKSURL: tc.url, Client: c})
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Refresh(context.Background()); err == nil {
				t.Error("Refresh succeeded")
			}
			if src.Keys().Len() != 0 {
				t.Error("keys loaded")
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached in 5s")
}

func slicesEqual(got []string, want ...string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}
