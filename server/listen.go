package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
)

// setupTLS loads the TLS files, making the --dev-tls pair first.
func (s *Server) setupTLS() error {
	cfg := s.Config
	if !cfg.TLS() {
		return nil
	}
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if cfg.DevTLS {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		var err error
		if s.CAFile, certFile, keyFile, err = devTLS(cfg.DataDir, host); err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "coffer: --dev-tls: serving a self-signed certificate for local use only. Clients trust it with:\n\n    export COFFER_CACERT=%s\n\n", s.CAFile)
	}
	var err error
	s.tls, err = newTLSReloader(cfg, certFile, keyFile)
	return err
}

// serveDebug serves the pprof handlers on a separate loopback listener,
// until Close.
func (s *Server) serveDebug(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !IsLoopback(host) {
		return fmt.Errorf("--debug-addr must be a loopback host:port")
	}
	if s.debugLn, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("debug listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(s.debugLn, mux) //nolint:errcheck // ends when Close closes the listener
	s.Log.Info("serving pprof", "addr", s.debugLn.Addr().String())
	return nil
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
