package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/secrets_store"
	"github.com/coffer-dev/coffer/server"
)

// testCA is a throwaway certificate authority for TLS tests.
type testCA struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	File string // its certificate, PEM
	Pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, cert: cert, key: key, File: filepath.Join(t.TempDir(), "ca.pem"), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	if err := os.WriteFile(ca.File, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issued is a certificate the test CA signed, on disk and in memory.
type issued struct {
	CertFile, KeyFile string
	Pair              tls.Certificate
	Serial            int64
	Fingerprint       string // SHA-256 of the DER, hex
}

// issue signs a certificate for 127.0.0.1 and localhost (server) or a
// client certificate with the given common name, with the given serial.
func (ca *testCA) issue(cn string, serial int64, client bool, notAfter time.Time) *issued {
	t := ca.t
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if client {
		tmpl.ExtKeyUsage, tmpl.DNSNames, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := &issued{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Serial: serial}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
	if err := os.WriteFile(out.CertFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if out.Pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	out.Fingerprint = hex.EncodeToString(sum[:])
	return out
}

// httpsClient trusts ca and presents the client certificates given.
func httpsClient(ca *x509.CertPool, certs ...tls.Certificate) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: ca, Certificates: certs}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// openTLSServer opens a server on a fresh data directory with the server
// certificate srv and the changes of mod.
func openTLSServer(t *testing.T, srv *issued, mod func(*server.Config)) *Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.TLSCert, cfg.TLSKey = srv.CertFile, srv.KeyFile
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("open server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return s
}

// get sends GET path with an optional bearer token and returns the status
// and body.
func get(t *testing.T, hc *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTLS_CLI drives the server over HTTPS with the CLI, trusting the
// server's CA through --cacert, and checks that without it the CLI refuses
// the unknown certificate, and that plain HTTP gets no answer.
func TestTLS_CLI(t *testing.T) {
	ca := newTestCA(t, "coffer test CA")
	s := openTLSServer(t, ca.issue("server", 2, false, time.Now().Add(time.Hour)), nil)
	base := "https://" + s.Addr

	if r := cliExec(t, base, s.RootToken, "", "store", "create", "prod", "--cacert", ca.File); r.Code != 0 {
		t.Fatalf("store create over TLS: %+v", r)
	}
	if r := cliExec(t, base, s.RootToken, "s3cret\n", "secret", "put", "prod", "db/password", "--cacert", ca.File); r.Code != 0 {
		t.Fatalf("secret put over TLS: %+v", r)
	}
	r := cliExec(t, base, s.RootToken, "", "secret", "get", "prod", "db/password", "--cacert", ca.File)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "s3cret" {
		t.Fatalf("secret get over TLS: got %+v, want s3cret", r)
	}

	t.Run("ErrUnknownCA", func(t *testing.T) {
		r := cliExec(t, base, s.RootToken, "", "store", "list")
		if r.Code == 0 || !strings.Contains(r.Stderr, "certificate") {
			t.Fatalf("got %+v, want a certificate error", r)
		}
		other := newTestCA(t, "another CA")
		r = cliExec(t, base, s.RootToken, "", "store", "list", "--cacert", other.File)
		if r.Code == 0 || !strings.Contains(r.Stderr, "certificate") {
			t.Fatalf("with another CA: got %+v, want a certificate error", r)
		}
	})
	t.Run("ErrPlainHTTP", func(t *testing.T) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + s.Addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plain HTTP got a 200 from the TLS listener")
			}
		}
	})
	t.Run("OldTLSRefused", func(t *testing.T) {
		hc := httpsClient(ca.Pool)
		hc.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11
		if resp, err := hc.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Fatal("TLS 1.1 handshake succeeded, want TLS 1.2 and up only")
		}
	})
}

// TestTLS_CloudflareClient drives the Cloudflare face over HTTPS with
// Cloudflare's own Go client.
func TestTLS_CloudflareClient(t *testing.T) {
	ca := newTestCA(t, "coffer test CA")
	s := openTLSServer(t, ca.issue("server", 2, false, time.Now().Add(time.Hour)), nil)
	base := "https://" + s.Addr
	hc := httpsClient(ca.Pool)
	_, body := get(t, hc, base+"/v1/keys", s.RootToken)
	var keys struct {
		Keys []struct {
			AccountID string `json:"account_id"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &keys); err != nil || len(keys.Keys) == 0 {
		t.Fatalf("keys: %s %v", body, err)
	}
	acct := cf.F(keys.Keys[0].AccountID)
	c := cf.NewClient(option.WithBaseURL(base+"/cloudflare/client/v4/"), option.WithAPIToken(s.RootToken), option.WithHTTPClient(hc))
	ctx := context.Background()
	st, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F("tls-store")})
	if err != nil {
		t.Fatalf("create store over TLS: %v", err)
	}
	list, err := c.SecretsStore.Stores.List(ctx, secrets_store.StoreListParams{AccountID: acct})
	if err != nil || len(list.Result) != 1 || list.Result[0].ID != st.ID {
		t.Fatalf("list stores over TLS: got %+v %v, want %s", list, err, st.ID)
	}

	// Without trusting the CA the client must fail, not fall back.
	plain := cf.NewClient(option.WithBaseURL(base+"/cloudflare/client/v4/"), option.WithAPIToken(s.RootToken), option.WithMaxRetries(0))
	if _, err := plain.SecretsStore.Stores.List(ctx, secrets_store.StoreListParams{AccountID: acct}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted server: got %v, want a certificate error", err)
	}
}

// TestTLS_DevTLS checks that --dev-tls makes a pair once, that a client
// trusting the printed CA file connects, and that a restart reuses it.
func TestTLS_DevTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.DevTLS = "127.0.0.1:0", dir, true
	var out strings.Builder
	s := &Server{Config: cfg, Log: testLogger(t), Stdout: &out}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "tls", "ca.pem"); s.CAFile != want || !strings.Contains(out.String(), "COFFER_CACERT="+want) {
		t.Fatalf("CA file %q, output %q; want %s printed", s.CAFile, out.String(), want)
	}
	pool, err := server.LoadCertPool(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, httpsClient(pool), "https://"+s.Addr+"/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tls", "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v %v, want mode 0600", fi, err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if again, _ := os.ReadFile(filepath.Join(dir, "tls", "cert.pem")); string(again) != string(first) {
		t.Fatal("a restart made a new dev certificate; want the same one")
	}
}

// servedSerial connects with hc and returns the serial of the certificate
// the server presented and whether the connection was reused.
func servedSerial(t *testing.T, hc *http.Client, url string) (serial int64, reused bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), reused
}

// TestTLS_ReloadOnSIGHUP runs the server as a process, replaces its
// certificate files and sends SIGHUP: a new connection must see the new
// certificate while a keep-alive connection made before still serves
// requests with the old one.
func TestTLS_ReloadOnSIGHUP(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, "coffer test CA")
	old, next := ca.issue("server", 100, false, time.Now().Add(time.Hour)), ca.issue("server", 200, false, time.Now().Add(2*time.Hour))
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	copyFile(t, old.CertFile, certFile)
	copyFile(t, old.KeyFile, keyFile)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "server", "--addr", addr, "--data", filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	base := "https://" + addr
	oldConn := httpsClient(ca.Pool)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := oldConn.Get(base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become ready: %s", stderr.String())
		}
	}
	if serial, _ := servedSerial(t, oldConn, base+"/healthz"); serial != old.Serial {
		t.Fatalf("before reload: serial %d, want %d", serial, old.Serial)
	}

	copyFile(t, next.CertFile, certFile)
	copyFile(t, next.KeyFile, keyFile)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		serial, _ := servedSerial(t, httpsClient(ca.Pool), base+"/healthz")
		if serial == next.Serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP new connections still get serial %d, want %d: %s", serial, next.Serial, stderr.String())
		}
	}
	serial, reused := servedSerial(t, oldConn, base+"/healthz")
	if !reused || serial != old.Serial {
		t.Fatalf("old connection after reload: reused %v serial %d, want reused with serial %d", reused, serial, old.Serial)
	}
	if cmd.ProcessState != nil {
		t.Fatalf("server exited on SIGHUP: %s", stderr.String())
	}

	// A broken file keeps the current certificate in service.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	if serial, _ := servedSerial(t, httpsClient(ca.Pool), base+"/healthz"); serial != next.Serial {
		t.Fatalf("after a failed reload: serial %d, want %d", serial, next.Serial)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}

// TestTLS_ClientCerts checks mTLS: a verified certificate mapped to an API
// key authenticates as that key on every face, an unmapped or revoked one
// does not, and require mode refuses connections without a certificate.
func TestTLS_ClientCerts(t *testing.T) {
	t.Parallel() // waits on servers and clusters of its own: runs beside the other waiting tests
	ca := newTestCA(t, "server CA")
	clients := newTestCA(t, "client CA")
	srvCert := ca.issue("server", 2, false, time.Now().Add(time.Hour))
	alice := clients.issue("alice", 10, true, time.Now().Add(time.Hour))
	bob := clients.issue("bob", 11, true, time.Now().Add(time.Hour))
	carol := clients.issue("carol", 12, true, time.Now().Add(time.Hour))
	mallory := newTestCA(t, "rogue CA").issue("alice", 13, true, time.Now().Add(time.Hour))

	// setup makes a data directory whose first start made the root key,
	// and an admin key for alice, a scoped key for bob and an admin key
	// for carol (to be revoked), mapped to their certificates.
	setup := func(t *testing.T) (dir, root string, keyMap []string, revokedID string) {
		dir = t.TempDir()
		plain := mustOpenServerTLS(t, dir, srvCert, nil)
		hc := httpsClient(ca.Pool)
		base := "https://" + plain.Addr
		mkKey := func(body string) string {
			req, _ := http.NewRequest("POST", base+"/v1/keys", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+plain.RootToken)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Key struct{ ID string } `json:"key"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 {
				t.Fatalf("create key: %d %v", resp.StatusCode, err)
			}
			return out.Key.ID
		}
		adminID := mkKey(`{"name":"alice","admin":true}`)
		readerID := mkKey(`{"name":"bob","scopes":[{"store":"*","actions":["list"]}]}`)
		revokedID = mkKey(`{"name":"carol","admin":true}`)
		if err := plain.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, plain.RootToken, []string{"sha256:" + strings.ToUpper(alice.Fingerprint) + "=" + adminID, "cn:bob=" + readerID, "cn:carol=" + revokedID}, revokedID
	}

	for _, mode := range []string{server.ClientAuthVerifyIfGiven, server.ClientAuthRequire} {
		t.Run(mode, func(t *testing.T) {
			dir, root, keyMap, revokedID := setup(t)
			s := mustOpenServerTLS(t, dir, srvCert, func(c *server.Config) {
				c.TLSClientCA, c.TLSClientAuth, c.TLSClientKeyMap = clients.File, mode, keyMap
			})
			base := "https://" + s.Addr
			asAlice, asBob, asCarol := httpsClient(ca.Pool, alice.Pair), httpsClient(ca.Pool, bob.Pair), httpsClient(ca.Pool, carol.Pair)
			noCert := httpsClient(ca.Pool)
			// Go's client sends only certificates of the CAs the server
			// names; the rogue one must be pushed.
			rogue := httpsClient(ca.Pool)
			rogue.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &mallory.Pair, nil
			}

			if code, body := get(t, asAlice, base+"/v1/stores", ""); code != 200 {
				t.Errorf("mapped admin certificate: got %d %s, want 200", code, body)
			}
			if code, body := get(t, asAlice, base+"/v1/keys", ""); code != 200 {
				t.Errorf("mapped admin certificate, admin route: got %d %s, want 200", code, body)
			}
			if code, body := get(t, asBob, base+"/v1/stores", ""); code != 200 {
				t.Errorf("mapped scoped certificate: got %d %s, want 200", code, body)
			}
			if code, _ := get(t, asBob, base+"/v1/audit", ""); code != 403 {
				t.Errorf("scoped certificate on an admin route: got %d, want 403 (the key's scopes apply)", code)
			}
			// The Cloudflare face answers in its own format.
			code, body := get(t, asAlice, base+"/cloudflare/client/v4/accounts/x/secrets_store/stores", "")
			if code == 401 {
				t.Errorf("Cloudflare face with mapped certificate: got 401 %s", body)
			}

			// Revoking the key stops its certificate.
			if code, body := get(t, asCarol, base+"/v1/stores", ""); code != 200 {
				t.Fatalf("carol before revocation: got %d %s", code, body)
			}
			req, _ := http.NewRequest("DELETE", base+"/v1/keys/"+revokedID, nil)
			resp, err := asAlice.Do(req)
			if err != nil || resp.StatusCode/100 != 2 {
				t.Fatalf("revoke: %v %v", resp, err)
			}
			resp.Body.Close()
			if code, _ := get(t, asCarol, base+"/v1/stores", ""); code != 401 {
				t.Errorf("certificate of a revoked key: got %d, want 401", code)
			}

			switch mode {
			case server.ClientAuthVerifyIfGiven:
				if code, _ := get(t, noCert, base+"/v1/stores", root); code != 200 {
					t.Errorf("no certificate, token: got %d, want 200", code)
				}
				if code, _ := get(t, noCert, base+"/v1/stores", ""); code != 401 {
					t.Errorf("no certificate, no token: got %d, want 401", code)
				}
				unmapped := httpsClient(ca.Pool, clients.issue("dave", 14, true, time.Now().Add(time.Hour)).Pair)
				if code, _ := get(t, unmapped, base+"/v1/stores", ""); code != 401 {
					t.Errorf("unmapped certificate, no token: got %d, want 401", code)
				}
				if code, _ := get(t, unmapped, base+"/v1/stores", root); code != 200 {
					t.Errorf("unmapped certificate, token: got %d, want 200 (header auth)", code)
				}
				if _, err := rogue.Get(base + "/healthz"); err == nil {
					t.Errorf("certificate of an unknown CA: handshake succeeded")
				}
			case server.ClientAuthRequire:
				if _, err := noCert.Get(base + "/healthz"); err == nil {
					t.Errorf("no certificate: handshake succeeded, want refused")
				}
				if _, err := rogue.Get(base + "/healthz"); err == nil {
					t.Errorf("certificate of an unknown CA: handshake succeeded")
				}
				unmapped := httpsClient(ca.Pool, clients.issue("dave", 15, true, time.Now().Add(time.Hour)).Pair)
				if code, _ := get(t, unmapped, base+"/healthz", ""); code != 200 {
					t.Errorf("unmapped certificate, public route: got %d, want 200", code)
				}
				if code, body := get(t, unmapped, base+"/v1/stores", root); code != 401 {
					t.Errorf("unmapped certificate with a token: got %d %s, want 401", code, body)
				}
				code, body := get(t, unmapped, base+"/cloudflare/client/v4/accounts/x/secrets_store/stores", root)
				var cfBody struct {
					Success bool
					Errors  []struct{ Code int }
				}
				if code != 401 || json.Unmarshal([]byte(body), &cfBody) != nil || cfBody.Success || len(cfBody.Errors) == 0 {
					t.Errorf("Cloudflare face, unmapped certificate: got %d %s, want 401 in Cloudflare's format", code, body)
				}
				if code, _ := get(t, asCarol, base+"/v1/stores", root); code != 401 {
					t.Errorf("revoked key's certificate with a token: got %d, want 401", code)
				}
			}
		})
	}
}

// mustOpenServerTLS opens a server on dir with the server certificate srv;
// the caller or the test's end closes it (a second Close does nothing).
func mustOpenServerTLS(t *testing.T, dir string, srv *issued, mod func(*server.Config)) *Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	cfg.TLSCert, cfg.TLSKey = srv.CertFile, srv.KeyFile
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("open server: %v", err)
	}
	if s.RootToken == "" {
		b, err := os.ReadFile(filepath.Join(dir, "root.token"))
		if err != nil {
			t.Fatal(err)
		}
		s.RootToken = strings.TrimSpace(string(b))
	}
	t.Cleanup(func() { s.Close() })
	return s
}
