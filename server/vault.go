package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coffer-dev/coffer/compat/vault"
	"github.com/coffer-dev/coffer/internal/web"
	"github.com/prometheus/client_golang/prometheus"
)

// vaultFace makes the Vault face served under prefix.
func (s *Server) vaultFace(prefix string) *vault.Server {
	return &vault.Server{Service: s.svc, Auth: s.svc, Log: s.Log, Prefix: prefix, Version: buildVersion()}
}

// listenVault opens the --vault-addr listener, where the Vault face is
// served at the root, so that VAULT_ADDR needs no path. It shares the
// main listener's TLS and client-certificate mapping; its request metrics
// are its own (not exported at /metrics).
func (s *Server) listenVault() error {
	cfg := s.Config
	if cfg.VaultAddr == "" {
		return nil
	}
	keys, err := parseKeyMap(cfg.TLSClientKeyMap)
	if err != nil {
		return err
	}
	var h http.Handler = s.vaultFace("/").Handler()
	h = web.Middleware(h, web.NewMetrics(prometheus.NewRegistry()), s.Log)
	if cfg.TLSClientCA != "" {
		h = clientCerts(h, keys)
	}
	s.vaultHTTP = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
		ConnContext:       web.ConnContext,
	}
	if s.vaultLn, err = net.Listen("tcp", cfg.VaultAddr); err != nil {
		return fmt.Errorf("--vault-addr listen: %w", err)
	}
	s.VaultAddr = s.vaultLn.Addr().String()
	return nil
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
