package server

// This file holds the server's TLS: certificates reloaded on SIGHUP and the
// self-signed pair of --dev-tls.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// tlsReloader serves the certificate and client CAs read from files, and
// swaps them atomically on Reload. A handshake uses the configuration of
// its moment, so connections made before a reload keep theirs.
type tlsReloader struct {
	certFile, keyFile, clientCAFile string
	clientAuth                      tls.ClientAuthType
	current                         atomic.Pointer[tls.Config]
}

func newTLSReloader(cfg Config, certFile, keyFile string) (*tlsReloader, error) {
	r := &tlsReloader{certFile: certFile, keyFile: keyFile, clientCAFile: cfg.TLSClientCA, clientAuth: tls.NoClientCert}
	if cfg.TLSClientCA != "" {
		r.clientAuth = tls.VerifyClientCertIfGiven
		if cfg.TLSClientAuth == ClientAuthRequire {
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
		pool, err := LoadCertPool(r.clientCAFile)
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

// LoadCertPool reads a PEM bundle of CA certificates.
func LoadCertPool(file string) (*x509.CertPool, error) {
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
