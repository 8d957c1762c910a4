package server

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/service"
)

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

// clientCerts puts the key id a verified client certificate maps to in the
// request's context (service.WithClientCertKey), where the service's
// authentication applies it. Unverified certificates are never looked at:
// the TLS layer verified every chain it reports.
func clientCerts(next http.Handler, m *keyMap) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
			if id := m.lookup(r.TLS.PeerCertificates[0]); id != "" {
				r = r.WithContext(service.WithClientCertKey(r.Context(), id))
			}
		}
		next.ServeHTTP(w, r)
	})
}
