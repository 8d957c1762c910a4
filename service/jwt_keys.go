package service

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/jwt"
)

// JWTOptions say how the keys of JWT trust configurations are fetched.
//
// A configuration's keys come from its stored JWKS or PEM document, or from
// a URL (a JWKS URL, or the issuer's OIDC discovery document) that this
// server fetches in the background (RunJWTSources), never while a login
// waits. Fetching a URL a tenant gave is a server-side request the tenant
// directs, so only https URLs are accepted, and NoFetch forbids URL
// sources altogether (the server's --jwt-fetch=false).
type JWTOptions struct {
	// NoFetch refuses configurations whose keys come from a URL.
	NoFetch bool
	// Client makes the fetches; nil means a client with jwt.FetchTimeout.
	Client *http.Client
	// Refresh is how often a fetched key set is refreshed (0:
	// jwt.DefaultInterval).
	Refresh time.Duration
	// Poll is how often RunJWTSources reads the configurations again, so
	// that one created or changed through another server gets its keys
	// (0: 30s).
	Poll time.Duration
}

// jwtState holds the key source of each trust configuration, by id.
type jwtState struct {
	opts JWTOptions

	mu      sync.Mutex
	ctx     context.Context // RunJWTSources' context: nil until it runs
	sources map[string]*jwtSource
}

type jwtSource struct {
	updated time.Time // the config's UpdatedAt it was made for
	src     *jwt.Source
	cancel  context.CancelFunc // stops its refresher; nil for a static set
}

// jwtKeys returns the current key set of config c: a static set parsed
// once, or the last set its refresher fetched (empty until the first
// fetch). It starts a refresher for a URL source it has not seen, without
// waiting for it.
func (s *Service) jwtKeys(c *coffer.JWTConfig) *jwt.KeySet {
	st := &s.jwt
	st.mu.Lock()
	defer st.mu.Unlock()
	if e := st.sources[c.ID]; e != nil {
		if e.updated.Equal(c.UpdatedAt) {
			return e.src.Keys()
		}
		if e.cancel != nil {
			e.cancel()
		}
		delete(st.sources, c.ID)
	}
	cfg := jwt.SourceConfig{Client: st.opts.Client, Interval: st.opts.Refresh,
		OnError: func(err error) {
			s.log.Warn("jwt keys not refreshed", "config", c.Name, "account", c.AccountID, "err", err)
		}}
	switch {
	case c.Keys != "":
		cfg.Keys = []byte(c.Keys)
	case st.opts.NoFetch:
		return &jwt.KeySet{}
	case c.JWKSURL != "":
		cfg.JWKSURL = c.JWKSURL
	case c.Discovery:
		cfg.Issuer = c.Issuer
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: jwt.FetchTimeout}
	}
	src, err := jwt.NewSource(cfg)
	if err != nil {
		s.log.Warn("jwt config has no usable keys", "config", c.Name, "account", c.AccountID, "err", err)
		return &jwt.KeySet{}
	}
	e := &jwtSource{updated: c.UpdatedAt, src: src}
	if cfg.Keys == nil {
		if st.ctx == nil {
			return src.Keys() // not kept: RunJWTSources starts it
		}
		ctx, cancel := context.WithCancel(st.ctx)
		e.cancel = cancel
		go src.Run(ctx)
	}
	if st.sources == nil {
		st.sources = map[string]*jwtSource{}
	}
	st.sources[c.ID] = e
	return src.Keys()
}

// forgetJWTSource stops the refresher of config id.
func (s *Service) forgetJWTSource(id string) {
	st := &s.jwt
	st.mu.Lock()
	defer st.mu.Unlock()
	if e := st.sources[id]; e != nil {
		if e.cancel != nil {
			e.cancel()
		}
		delete(st.sources, id)
	}
}

// RunJWTSources refreshes the fetched keys of every trust configuration in
// the background until ctx ends: it reads the configurations every Poll,
// starts a refresher for each new or changed one and stops those of
// deleted ones. The server runs it; without it, URL sources stay empty.
func (s *Service) RunJWTSources(ctx context.Context) {
	st := &s.jwt
	st.mu.Lock()
	st.ctx = ctx
	st.mu.Unlock()
	poll := st.opts.Poll
	if poll <= 0 {
		poll = 30 * time.Second
	}
	for {
		if cs, err := s.storage.JWTConfigs(ctx, ""); err == nil {
			live := map[string]bool{}
			for _, c := range cs {
				live[c.ID] = true
				s.jwtKeys(c)
			}
			st.mu.Lock()
			for id, e := range st.sources {
				if !live[id] {
					if e.cancel != nil {
						e.cancel()
					}
					delete(st.sources, id)
				}
			}
			st.mu.Unlock()
		} else if ctx.Err() == nil {
			s.log.Warn("jwt configs not read", "err", err)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
