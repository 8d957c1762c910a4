package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/compat/vault"
	"github.com/coffer-dev/coffer/internal/web"
)

// vaultFace makes the Vault face served under prefix.
func (s *Server) vaultFace(prefix string) *vault.Server {
	return &vault.Server{Service: s.svc, Auth: s.svc, Log: s.Log, Prefix: prefix, Version: buildVersion()}
}

// listenVault opens the --vault-addr listener, where the Vault face is
// served at the root, so that VAULT_ADDR needs no path. Its requests go
// through the main listener's handler with their paths under vault.Prefix,
// so that they pass the same admission, framing checks, client-certificate
// mapping and metrics; nothing but the Vault face is reachable on it.
func (s *Server) listenVault(main http.Handler) error {
	cfg := s.Config
	if cfg.VaultAddr == "" {
		return nil
	}
	s.vaultHTTP = &http.Server{
		Handler:           underPrefix(vault.Prefix, main),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
		ConnContext:       web.ConnContext,
	}
	var err error
	if s.vaultLn, err = net.Listen("tcp", cfg.VaultAddr); err != nil {
		return fmt.Errorf("--vault-addr listen: %w", err)
	}
	s.VaultAddr = s.vaultLn.Addr().String()
	return nil
}

// underPrefix serves each request with prefix (ending in '/') put before
// its path, as if it had been sent there.
func underPrefix(prefix string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = prefix + strings.TrimPrefix(r.URL.Path, "/")
		if u.RawPath != "" {
			u.RawPath = prefix + strings.TrimPrefix(r.URL.RawPath, "/")
		}
		r2.URL = &u
		r2.RequestURI = u.RequestURI()
		h.ServeHTTP(w, r2)
	})
}

// serveVault serves the Vault listener, if any, until Close.
func (s *Server) serveVault() {
	if s.vaultHTTP == nil {
		return
	}
	hs, ln := s.vaultHTTP, s.vaultLn
	if s.tls != nil {
		hs.TLSConfig = s.tls.Config()
		go hs.ServeTLS(ln, "", "") //nolint:errcheck // ends when Close shuts it down
	} else {
		go hs.Serve(web.FramingListener(ln)) //nolint:errcheck // ends when Close shuts it down
	}
	s.Log.Info("serving the Vault API", "addr", s.VaultAddr)
}
