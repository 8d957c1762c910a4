package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FetchTimeout bounds each request of a Source whose client has no
// Timeout, so that a stalled key server cannot stall refreshing forever.
const FetchTimeout = 30 * time.Second

// DefaultInterval is how often Run refreshes a fetched key set when
// SourceConfig.Interval is zero.
const DefaultInterval = 15 * time.Minute

// SourceConfig says where a Source loads its keys from: exactly one of
// Keys, File, JWKSURL and Issuer.
type SourceConfig struct {
	// Keys is a static JWKS or PEM document.
	Keys []byte
	// File is the path of a JWKS or PEM file, read by each Refresh.
	File string
	// JWKSURL is the address of a JWKS document.
	JWKSURL string
	// Issuer is an OIDC issuer: its discovery document at Issuer +
	// "/.well-known/openid-configuration" must name this issuer exactly and
	// give a jwks_uri, which is then fetched.
	Issuer string
	// Client makes the requests of JWKSURL and Issuer; required for them.
	// Its timeouts are the caller's (FetchTimeout when it has none);
	// redirects must stay on https.
	Client *http.Client
	// Interval is how often Run refreshes: zero means DefaultInterval for
	// URLs and never for File (which Run then loads once), and is ignored
	// for Keys.
	Interval time.Duration
	// OnError, when set, is told of each failed refresh by Run (the last
	// good set stays in use). Its error holds no key material.
	OnError func(error)
}

// Source serves the current KeySet of a configuration. Keys never does I/O:
// a fetched or file set is loaded by Refresh, which Run calls in the
// background, so a login never waits on a key server. A failed refresh
// keeps the last good set. A Source is safe for concurrent use.
type Source struct {
	cfg  SourceConfig
	keys atomic.Pointer[KeySet]

	refreshing sync.Mutex // serializes Refresh

	mu      sync.Mutex // guards the fields below
	lastErr error
	lastOK  time.Time
}

// NewSource checks cfg and returns its Source. A static set is parsed here;
// the others are empty until the first Refresh.
func NewSource(cfg SourceConfig) (*Source, error) {
	n := 0
	for _, set := range []bool{cfg.Keys != nil, cfg.File != "", cfg.JWKSURL != "", cfg.Issuer != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("jwt: a key source needs exactly one of keys, file, JWKS URL and issuer")
	}
	for _, u := range []string{cfg.JWKSURL, cfg.Issuer} {
		if u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return nil, err
		}
		if cfg.Client == nil {
			return nil, errors.New("jwt: a fetched key source needs an HTTP client")
		}
	}
	s := &Source{cfg: cfg}
	s.keys.Store(&KeySet{})
	if cfg.Keys != nil {
		ks, err := ParseKeys(cfg.Keys)
		if err != nil {
			return nil, err
		}
		s.keys.Store(ks)
		s.lastOK = time.Now()
	}
	return s, nil
}

// Keys returns the current key set: the last one loaded, or an empty set
// (which verifies nothing) before the first successful load.
func (s *Source) Keys() *KeySet { return s.keys.Load() }

// Status returns the time of the last successful load (zero before one)
// and the error of the last refresh (nil when it succeeded).
func (s *Source) Status() (lastOK time.Time, lastErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastOK, s.lastErr
}

// Refresh loads the key set once from the configured place and, when it
// parses, makes it current. On failure the current set stays and the error
// is returned and kept for Status.
func (s *Source) Refresh(ctx context.Context) error {
	s.refreshing.Lock()
	defer s.refreshing.Unlock()
	ks, err := s.load(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if err != nil {
		return err
	}
	s.keys.Store(ks)
	s.lastOK = time.Now()
	return nil
}

func (s *Source) load(ctx context.Context) (*KeySet, error) {
	switch {
	case s.cfg.Keys != nil:
		return s.keys.Load(), nil
	case s.cfg.File != "":
		data, err := readFile(s.cfg.File)
		if err != nil {
			return nil, err
		}
		return ParseKeys(data)
	case s.cfg.JWKSURL != "":
		data, err := s.get(ctx, s.cfg.JWKSURL)
		if err != nil {
			return nil, err
		}
		return ParseJWKS(data)
	}
	disc := strings.TrimSuffix(s.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	data, err := s.get(ctx, disc)
	if err != nil {
		return nil, err
	}
	if err := checkStructure(data); err != nil {
		return nil, fmt.Errorf("jwt: discovery document: %w", err)
	}
	var raw map[string]json.RawMessage // a map, not a struct: member names match exactly
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, errors.New("jwt: discovery document: bad JSON")
	}
	doc, err := stringMembers(raw, "issuer", "jwks_uri")
	if err != nil {
		return nil, fmt.Errorf("jwt: discovery document: %w", err)
	}
	if doc["issuer"] != s.cfg.Issuer {
		return nil, errors.New("jwt: discovery document names another issuer")
	}
	if err := checkURL(doc["jwks_uri"]); err != nil {
		return nil, fmt.Errorf("jwt: discovery document's jwks_uri: %w", err)
	}
	data, err = s.get(ctx, doc["jwks_uri"])
	if err != nil {
		return nil, err
	}
	return ParseJWKS(data)
}

// Run refreshes s now and then every interval until ctx ends, reporting
// failures to OnError. For a static set it returns at once; for a file
// with no Interval it loads once and returns.
func (s *Source) Run(ctx context.Context) {
	if s.cfg.Keys != nil {
		return
	}
	interval := s.cfg.Interval
	if interval <= 0 && s.cfg.File == "" {
		interval = DefaultInterval
	}
	for {
		if err := s.Refresh(ctx); err != nil && s.cfg.OnError != nil && ctx.Err() == nil {
			s.cfg.OnError(err)
		}
		if interval <= 0 {
			return
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// get fetches u with the configured client, following redirects only to
// https (or loopback) addresses, and returns a body of at most
// maxKeySetBytes from a 200 response.
func (s *Source) get(ctx context.Context, u string) ([]byte, error) {
	client := *s.cfg.Client
	if client.Timeout == 0 {
		client.Timeout = FetchTimeout
	}
	next := client.CheckRedirect
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkURL(req.URL.String()); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("jwt: fetch keys: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwt: fetch keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwt: fetch %s: status %d", redact(u), resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwt: fetch %s: %w", redact(u), err)
	}
	if len(data) > maxKeySetBytes {
		return nil, fmt.Errorf("jwt: fetch %s: over %d bytes", redact(u), maxKeySetBytes)
	}
	return data, nil
}

// readFile reads at most maxKeySetBytes of a key file.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jwt: key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeySetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwt: key file: %w", err)
	}
	if len(data) > maxKeySetBytes {
		return nil, errors.New("jwt: key file too large")
	}
	return data, nil
}

// checkURL requires an absolute https URL, or http to a loopback host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("jwt: key URL is not an absolute URL")
	}
	if u.User != nil {
		return errors.New("jwt: key URL must not hold credentials")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return errors.New("jwt: key URL must be https (http only to a loopback address)")
}

// redact returns u without its query, which might carry a credential.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "key URL"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
