package main

// This file holds the server's TLS: certificates reloaded on SIGHUP,
// client certificates (mTLS) mapped to API keys, the self-signed pair of
// --dev-tls, and the gate every face authenticates through, which also
// enforces the per-account request rate limits.

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
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/service"
)

// Values of --tls-client-auth.
const (
	clientAuthVerifyIfGiven = "verify-if-given"
	clientAuthRequire       = "require"
)

// TLS reports whether the server serves HTTPS.
func (c *ServerConfig) TLS() bool { return c.TLSCert != "" || c.DevTLS }

// tlsReloader serves the certificate and client CAs read from files, and
// swaps them atomically on Reload. A handshake uses the configuration of
// its moment, so connections made before a reload keep theirs.
type tlsReloader struct {
	certFile, keyFile, clientCAFile string
	clientAuth                      tls.ClientAuthType
	current                         atomic.Pointer[tls.Config]
}

func newTLSReloader(cfg ServerConfig, certFile, keyFile string) (*tlsReloader, error) {
	r := &tlsReloader{certFile: certFile, keyFile: keyFile, clientCAFile: cfg.TLSClientCA, clientAuth: tls.NoClientCert}
	if cfg.TLSClientCA != "" {
		r.clientAuth = tls.VerifyClientCertIfGiven
		if cfg.TLSClientAuth == clientAuthRequire {
			r.clientAuth = tls.RequireAndVerifyClientCert
		}
	}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again. On an error the previous configuration
// stays in use.
func (r *tlsReloader) Reload() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate (--tls-cert %s, --tls-key %s): %w", r.certFile, r.keyFile, err)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		ClientAuth:   r.clientAuth,
	}
	if r.clientCAFile != "" {
		pool, err := loadCertPool(r.clientCAFile)
		if err != nil {
			return fmt.Errorf("--tls-client-ca: %w", err)
		}
		c.ClientCAs = pool
	}
	r.current.Store(c)
	return nil
}

// NotAfter is when the served certificate expires.
func (r *tlsReloader) NotAfter() time.Time {
	return r.current.Load().Certificates[0].Leaf.NotAfter
}

// Config is the listener's configuration: TLS 1.2 and up with Go's default
// cipher suites, each handshake served from the current files.
func (r *tlsReloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current.Load(), nil
		},
	}
}

// loadCertPool reads a PEM bundle of CA certificates.
func loadCertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// keyMap maps verified client certificates to API key ids, by the SHA-256
// fingerprint of the certificate or by its subject common name.
type keyMap struct {
	byFingerprint map[string]string // lowercase hex
	byCN          map[string]string
}

// parseKeyMap parses "sha256:FINGERPRINT=KEYID" and "cn:NAME=KEYID" entries.
// Fingerprints may be written in either case, with or without colons.
func parseKeyMap(entries []string) (*keyMap, error) {
	m := &keyMap{byFingerprint: map[string]string{}, byCN: map[string]string{}}
	for _, e := range entries {
		who, keyID, ok := strings.Cut(e, "=")
		keyID = strings.TrimSpace(keyID)
		if !ok || keyID == "" {
			return nil, fmt.Errorf("%q: want sha256:FINGERPRINT=KEYID or cn:NAME=KEYID", e)
		}
		kind, v, _ := strings.Cut(strings.TrimSpace(who), ":")
		switch strings.ToLower(kind) {
		case "sha256":
			fp := strings.ToLower(strings.ReplaceAll(v, ":", ""))
			if b, err := hex.DecodeString(fp); err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("%q: the fingerprint must be 64 hex digits (SHA-256 of the certificate)", e)
			}
			m.byFingerprint[fp] = keyID
		case "cn":
			if v == "" {
				return nil, fmt.Errorf("%q: empty common name", e)
			}
			m.byCN[v] = keyID
		default:
			return nil, fmt.Errorf("%q: want sha256:FINGERPRINT=KEYID or cn:NAME=KEYID", e)
		}
	}
	return m, nil
}

// lookup returns the key id a certificate maps to, or "". A fingerprint
// mapping wins over a common name mapping.
func (m *keyMap) lookup(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	if id, ok := m.byFingerprint[hex.EncodeToString(sum[:])]; ok {
		return id
	}
	return m.byCN[cert.Subject.CommonName]
}

// certIdentity is what a request's verified client certificate says.
type certIdentity struct {
	KeyID string // the mapped API key id; "" when unmapped
}

type certIdentityKey struct{}

// clientCerts puts the identity of a verified client certificate in the
// request's context, for the gate. Unverified certificates are never
// looked at: the TLS layer verified every chain it reports.
func clientCerts(next http.Handler, m *keyMap) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
			id := certIdentity{KeyID: m.lookup(r.TLS.PeerCertificates[0])}
			r = r.WithContext(context.WithValue(r.Context(), certIdentityKey{}, id))
		}
		next.ServeHTTP(w, r)
	})
}

// gate is the authenticator every face uses. It lets a mapped client
// certificate stand in for a token, requires one when --tls-client-auth is
// require, and enforces the per-account request rate limits.
type gate struct {
	svc         *service.Service
	requireCert bool
	limiter     *accountLimiter
}

var (
	_ coffer.Authenticator       = (*gate)(nil)
	_ coffer.HotkeyAuthenticator = (*gate)(nil)
	_ coffer.AccessTokenIssuer   = (*gate)(nil)
)

var (
	errCertRequired = coffer.Errorf(coffer.EUNAUTHORIZED, "this server requires a client certificate mapped to an API key")
	errCertMismatch = coffer.Errorf(coffer.EUNAUTHORIZED, "the credential does not belong to the client certificate's principal")
)

// certCaller applies the client certificate rules that come before any
// credential is used: a verified certificate mapped to a key stands for
// that key, which must be usable (revoking the key stops the certificate,
// whatever else the request carries); with --tls-client-auth require, a
// request without a mapped certificate gets no further. It returns the
// certificate's caller, or nil when there is no mapped certificate.
func (g *gate) certCaller(ctx context.Context, remoteIP string) (*coffer.Caller, error) {
	id, _ := ctx.Value(certIdentityKey{}).(certIdentity)
	switch {
	case id.KeyID != "":
		return g.svc.AuthenticateKey(ctx, id.KeyID, remoteIP)
	case g.requireCert:
		return nil, errCertRequired
	}
	return nil, nil
}

// sameHolder refuses a credential c presented together with a mapped
// certificate cc (nil when none) unless both belong to one principal: a
// token stolen from someone else is useless to the holder of another
// certificate, in either client-auth mode. A token of the certificate's
// own principal may narrow what the request does (or widen it to what
// that principal's other key allows).
func sameHolder(cc, c *coffer.Caller) error {
	if cc != nil && (cc.AccountID != c.AccountID || cc.PrincipalID != c.PrincipalID) {
		return errCertMismatch
	}
	return nil
}

// Authenticate authenticates a token, or the mapped client certificate
// when the request carries no token. With a mapped certificate, its key
// must be usable and a token given besides must be of its principal; the
// token then decides.
func (g *gate) Authenticate(ctx context.Context, cred coffer.Credential) (*coffer.Caller, error) {
	cc, err := g.certCaller(ctx, cred.RemoteIP)
	if err != nil {
		return nil, err
	}
	c := cc
	if cred.Token != "" || cc == nil {
		if c, err = g.svc.Authenticate(ctx, cred); err != nil {
			return nil, err
		}
		if err := sameHolder(cc, c); err != nil {
			return nil, err
		}
	}
	return c, g.limit(c)
}

// IssueAccessToken implements coffer.AccessTokenIssuer behind the gate: an
// exchange of a key for a token (ByteNite's POST /access_token) is a
// request like any other, so --tls-client-auth require refuses it without
// a mapped certificate, and the key exchanged must be of the certificate's
// principal.
func (g *gate) IssueAccessToken(ctx context.Context, cred coffer.Credential, ttl time.Duration) (*coffer.AccessToken, error) {
	cc, err := g.certCaller(ctx, cred.RemoteIP)
	if err != nil {
		return nil, err
	}
	if cc != nil {
		c, err := g.svc.Authenticate(ctx, cred)
		if err != nil {
			return nil, err
		}
		if err := sameHolder(cc, c); err != nil {
			return nil, err
		}
	}
	return g.svc.IssueAccessToken(ctx, cred, ttl)
}

// AuthenticateHotkey implements coffer.HotkeyAuthenticator for the Chutes
// face: signatures as the service checks them, behind the same gate.
func (g *gate) AuthenticateHotkey(ctx context.Context, p coffer.HotkeyProof) (*coffer.Caller, error) {
	cc, err := g.certCaller(ctx, p.RemoteIP)
	if err != nil {
		return nil, err
	}
	c, err := g.svc.AuthenticateHotkey(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := sameHolder(cc, c); err != nil {
		return nil, err
	}
	return c, g.limit(c)
}

func (g *gate) limit(c *coffer.Caller) error {
	if g.limiter == nil {
		return nil
	}
	if wait := g.limiter.wait(c.AccountID); wait > 0 {
		return &coffer.Error{Code: coffer.ERATELIMIT, Message: "too many requests for this account; slow down", RetryAfter: wait}
	}
	return nil
}

// accountLimiter is a token bucket per account.
type accountLimiter struct {
	limits rateLimits
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newAccountLimiter(l rateLimits, now func() time.Time) *accountLimiter {
	if l.Default.Rate == 0 && len(l.Accounts) == 0 {
		return nil
	}
	return &accountLimiter{limits: l, now: now, buckets: map[string]*bucket{}}
}

// wait takes a token from the account's bucket and returns 0, or returns
// how long until one is there.
func (l *accountLimiter) wait(account string) time.Duration {
	lim, ok := l.limits.Accounts[account]
	if !ok {
		lim = l.limits.Default
	}
	if lim.Rate == 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[account]
	if b == nil {
		b = &bucket{tokens: float64(lim.Burst), last: now}
		l.buckets[account] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(lim.Burst), b.tokens+d.Seconds()*lim.Rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / lim.Rate * float64(time.Second))
}

// devTLS makes (once) a private CA and a certificate it signs for
// localhost and the listen host in DATA/tls, and returns the paths of the
// CA, the certificate and its key. The CA's key is not kept: nothing else
// can ever be signed with it. A certificate that expires within a week is
// made anew.
func devTLS(dataDir, listenHost string) (caFile, certFile, keyFile string, err error) {
	dir := filepath.Join(dataDir, "tls")
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && time.Until(pair.Leaf.NotAfter) > 7*24*time.Hour {
		if _, err := os.Stat(caFile); err == nil {
			return caFile, certFile, keyFile, nil
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", "", fmt.Errorf("--dev-tls: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", "", fmt.Errorf("--dev-tls: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	ca := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "coffer dev CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	leaf := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "coffer dev server"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(listenHost); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		leaf.IPAddresses = append(leaf.IPAddresses, ip)
	} else if ip == nil && listenHost != "" && listenHost != "localhost" {
		leaf.DNSNames = append(leaf.DNSNames, listenHost)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", "", err
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return "", "", "", err
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{{keyFile, "PRIVATE KEY", keyDER, 0o600}, {certFile, "CERTIFICATE", leafDER, 0o644}, {caFile, "CERTIFICATE", caDER, 0o644}} {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := writeFileAtomic(f.path, b, f.mode); err != nil {
			return "", "", "", fmt.Errorf("--dev-tls: %w", err)
		}
	}
	return caFile, certFile, keyFile, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return n
}

// writeFileAtomic replaces path with b through a temporary file.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
