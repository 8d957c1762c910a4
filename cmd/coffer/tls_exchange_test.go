package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/server"
)

// tlsCall sends method url with body (JSON, or none when "") and the
// token as a bearer (none when ""), and returns the status and body.
func tlsCall(t *testing.T, hc *http.Client, method, url, token, body string, hdr ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTLS_CredentialExchanges checks the client-certificate rules on every
// exchange of one credential for another. With tls-client-auth require, a
// request whose certificate maps to no key exchanges nothing: no ByteNite
// access token, no console session, no native key, TrueFoundry PAT or
// Chutes key, even with a valid admin key. In either mode, a credential
// sent with a mapped certificate must be of the certificate's principal:
// another principal's key neither authenticates nor exchanges.
func TestTLS_CredentialExchanges(t *testing.T) {
	t.Parallel() // waits on servers and clusters of its own: runs beside the other waiting tests
	ca := newTestCA(t, "server CA")
	clients := newTestCA(t, "client CA")
	srvCert := ca.issue("server", 2, false, time.Now().Add(time.Hour))
	alice := clients.issue("alice", 20, true, time.Now().Add(time.Hour))
	ci := clients.issue("ci", 21, true, time.Now().Add(time.Hour))
	dave := clients.issue("dave", 22, true, time.Now().Add(time.Hour))

	// setup: the root principal's admin key (alice's certificate) and a
	// key of another principal, ci (ci's certificate); dave's certificate
	// maps to nothing.
	setup := func(t *testing.T) (dir, root, ciToken string, keyMap []string) {
		dir = t.TempDir()
		plain := mustOpenServerTLS(t, dir, srvCert, nil)
		hc := httpsClient(ca.Pool)
		base := "https://" + plain.Addr
		post := func(path, body string, v any) {
			code, out := tlsCall(t, hc, "POST", base+path, plain.RootToken, body)
			if code != 201 || json.Unmarshal([]byte(out), v) != nil {
				t.Fatalf("POST %s: %d %s", path, code, out)
			}
		}
		var adminKey, ciKey struct {
			Key   struct{ ID string } `json:"key"`
			Token string              `json:"token"`
		}
		post("/v1/keys", `{"name":"alice","admin":true}`, &adminKey)
		var p struct{ ID string }
		post("/v1/principals", `{"name":"ci","kind":"service"}`, &p)
		post("/v1/keys", `{"name":"ci","principal_id":"`+p.ID+`","scopes":[{"store":"*","actions":["list"]}]}`, &ciKey)
		// The root principal's hotkey signs Chutes requests.
		var hk struct{}
		post("/v1/hotkeys", `{"hotkey":"`+e2eHotkey+`"}`, &hk)
		if err := plain.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, plain.RootToken, ciKey.Token, []string{"cn:alice=" + adminKey.Key.ID, "cn:ci=" + ciKey.Key.ID}
	}

	for _, mode := range []string{server.ClientAuthVerifyIfGiven, server.ClientAuthRequire} {
		t.Run(mode, func(t *testing.T) {
			dir, root, ciToken, keyMap := setup(t)
			s := mustOpenServerTLS(t, dir, srvCert, func(c *server.Config) {
				c.TLSClientCA, c.TLSClientAuth, c.TLSClientKeyMap = clients.File, mode, keyMap
			})
			base := "https://" + s.Addr
			asAlice, asCI, asDave := httpsClient(ca.Pool, alice.Pair), httpsClient(ca.Pool, ci.Pair), httpsClient(ca.Pool, dave.Pair)
			exchange := func(hc *http.Client, key string) (int, string) {
				t.Helper()
				return tlsCall(t, hc, "POST", base+"/bytenite/v1/auth/access_token", "", `{"apiKey":"`+key+`"}`)
			}

			// A credential of the certificate's own principal works.
			if code, body := exchange(asAlice, root); code != 200 {
				t.Errorf("access token for the certificate's own principal: got %d %s, want 200", code, body)
			}
			if code, body := exchange(asCI, ciToken); code != 200 {
				t.Errorf("ci's key with ci's certificate: got %d %s, want 200", code, body)
			}
			if code, body := tlsCall(t, asCI, "GET", base+"/v1/stores", ciToken, ""); code != 200 {
				t.Errorf("ci's key with ci's certificate: got %d %s, want 200", code, body)
			}

			// Another principal's credential with a mapped certificate.
			if code, body := exchange(asAlice, ciToken); code != 401 || !strings.Contains(body, `"code":16`) {
				t.Errorf("access token for ci's key with alice's certificate: got %d %s, want 401 in ByteNite's format", code, body)
			}
			if code, body := tlsCall(t, asAlice, "GET", base+"/v1/stores", ciToken, ""); code != 401 {
				t.Errorf("ci's key with alice's certificate: got %d %s, want 401", code, body)
			}
			if code, body := tlsCall(t, asCI, "GET", base+"/v1/stores", root, ""); code != 401 {
				t.Errorf("the root key with ci's certificate: got %d %s, want 401", code, body)
			}

			// A hotkey signature is a credential too: with ci's certificate,
			// the root principal's hotkey is refused.
			signer := newChSigner(t)
			if code, body := tlsCall(t, asAlice, "GET", base+"/chutes/secrets/", "", "", signer.headers(time.Now(), "secrets")...); code != 200 {
				t.Errorf("the hotkey of the certificate's own principal: got %d %s, want 200", code, body)
			}
			if code, body := tlsCall(t, asCI, "GET", base+"/chutes/secrets/", "", "", signer.headers(time.Now().Add(-time.Second), "secrets")...); code != 401 {
				t.Errorf("the root principal's hotkey with ci's certificate: got %d %s, want 401", code, body)
			}

			unmapped := []struct {
				name, method, path, body string
				hdr                      []string
			}{
				{"ByteNite access token", "POST", "/bytenite/v1/auth/access_token", `{"apiKey":"` + root + `"}`, nil},
				{"console sign-in", "POST", "/ui/session", `{"key":"` + root + `"}`, []string{"Origin", base}},
				{"native key", "POST", "/v1/keys", `{"name":"x","admin":true}`, nil},
				{"TrueFoundry PAT", "POST", "/truefoundry/api/svc/v1/personal-access-tokens", `{"name":"tf-pat"}`, nil},
				{"Chutes key", "POST", "/chutes/api_keys/", `{"name":"chutes-key","admin":true}`, nil},
			}
			for _, u := range unmapped {
				token := root
				if u.path == "/bytenite/v1/auth/access_token" || u.path == "/ui/session" {
					token = ""
				}
				code, body := tlsCall(t, asDave, u.method, base+u.path, token, u.body, u.hdr...)
				switch mode {
				case server.ClientAuthRequire:
					if code != 401 {
						t.Errorf("%s with an unmapped certificate: got %d %s, want 401", u.name, code, body)
					}
				case server.ClientAuthVerifyIfGiven:
					if code/100 != 2 {
						t.Errorf("%s with an unmapped certificate (optional): got %d %s, want 2xx", u.name, code, body)
					}
				}
			}
		})
	}
}
