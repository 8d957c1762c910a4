// Package server composes a coffer server from a typed Config: it opens the
// storage, loads the master key, starts the service, builds the native API
// and the provider faces over it, and serves them on the configured
// listeners (plain HTTP or TLS, with client certificates mapped to API
// keys). cmd/coffer parses the configuration and calls Open and Close.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coffer-dev/coffer/engine"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/internal/web"
	"github.com/coffer-dev/coffer/service"
)

// Server is a coffer server: set Config (and Log and Stdout), Open, Close.
// Tests use it to start the real server in-process on port 0.
type Server struct {
	Config Config
	Log    *slog.Logger
	Stdout io.Writer // where the first start prints the root token

	// Addr is the address the server listens on, known after Open.
	Addr string
	// RootToken is set when Open created a new data directory.
	RootToken string

	// CAFile is the CA certificate clients should trust, with --dev-tls.
	CAFile string
	// VaultAddr is the address of the --vault-addr listener, known after
	// Open ("" without one).
	VaultAddr string

	db      *engine.DB
	svc     *service.Service
	http    *http.Server
	tls     *tlsReloader
	ln      net.Listener
	debugLn net.Listener
	done    chan error

	vaultHTTP *http.Server
	vaultLn   net.Listener

	stopJWT context.CancelFunc // server/jwt.go

	closed bool
}

// Open prepares the data directory, the keys and the database, and starts
// serving. On an error it releases whatever it had opened.
func (s *Server) Open(ctx context.Context) (err error) {
	if s.Log == nil {
		s.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if s.Stdout == nil {
		s.Stdout = io.Discard
	}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	if err := os.MkdirAll(s.Config.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// The head MAC needs the keyring, which comes after the database says
	// whether this is a first start; no write needs it before then.
	var keyring *envelope.Keyring
	headMAC := func(msg []byte) []byte { return service.HeadMAC(keyring)(msg) }
	exists, create, err := s.openStorage(ctx, headMAC)
	if err != nil {
		return err
	}
	if err := s.checkDataDir(exists); err != nil {
		return err
	}
	if keyring, err = loadKeyring(s.Config, exists, s.Log); err != nil {
		return err
	}
	if err := create(ctx); err != nil {
		return err
	}
	if err := s.startService(ctx, keyring); err != nil {
		return err
	}
	handler, err := s.handler()
	if err != nil {
		return err
	}
	if err := s.setupTLS(); err != nil {
		return err
	}
	if err := s.listen(handler); err != nil {
		return err
	}
	if err := s.listenVault(handler); err != nil {
		return err
	}
	if s.Config.DebugAddr != "" {
		if err := s.serveDebug(s.Config.DebugAddr); err != nil {
			return err
		}
	}
	s.serve()
	s.serveVault()
	return nil
}

// checkDataDir restricts a new data directory to its owner (a first start
// owns the directory, even one that existed empty) and warns about an
// existing one open to others.
func (s *Server) checkDataDir(exists bool) error {
	dir := s.Config.DataDir
	if !exists {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restrict data directory: %w", err)
		}
	} else if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.Log.Warn("data directory is open to other users; chmod 700 it", "dir", dir, "mode", fi.Mode().Perm().String())
	}
	return nil
}

// startService starts the service over the database and, on a first
// start, creates the root API key and saves it in DATA/root.token.
func (s *Server) startService(ctx context.Context, keyring *envelope.Keyring) error {
	opts, err := s.serviceOptions()
	if err != nil {
		return err
	}
	// Servers that share a database set it up one at a time, so that the
	// first of several starting together creates the pepper and the root
	// key, and the others find them.
	var token string
	err = s.db.Lock(ctx, "first-start", func() error {
		var err error
		if s.svc, err = service.New(ctx, s.db, keyring, opts); err != nil {
			if errors.Is(err, service.ErrWrongMasterKey) {
				return fmt.Errorf("refusing to start: %w; give the master key this database was created with or last rotated to (--master-key-file or COFFER_MASTER_KEY, and --old-master-key-file during a rotation)", err)
			}
			return err
		}
		// Every data key must open too, not just the pepper: a key retired
		// before 'coffer master-key rotate' finished would fail reads later.
		if err := s.svc.CheckMasterKeys(ctx); err != nil {
			if errors.Is(err, service.ErrMissingMasterKey) {
				return fmt.Errorf("refusing to start: %w; give that key with --old-master-key-file, then run 'coffer master-key rotate'", err)
			}
			return err
		}
		if token, err = s.svc.Bootstrap(ctx); err != nil {
			return fmt.Errorf("first start: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.startJWT()
	if token == "" {
		return nil
	}
	path := filepath.Join(s.Config.DataDir, "root.token")
	if err := WriteSecretFile(path, token+"\n"); err != nil {
		return fmt.Errorf("save root token: %w", err)
	}
	s.RootToken = token
	fmt.Fprintf(s.Stdout, "coffer: first start. Root API key (shown once, also saved to %s):\n\n    %s\n\n", path, token)
	return nil
}

// listen makes the HTTP server of handler and opens its listener.
func (s *Server) listen(handler http.Handler) error {
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
		ConnContext:       web.ConnContext, // see web.FramingListener
	}
	var err error
	if s.ln, err = net.Listen("tcp", s.Config.Addr); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.Addr = s.ln.Addr().String()
	if host, _, _ := net.SplitHostPort(s.Addr); !IsLoopback(host) && s.tls == nil {
		s.Log.Warn("WARNING: serving plain HTTP on a non-loopback address: API keys and secret values cross the network unencrypted; give --tls-cert and --tls-key, or put a TLS proxy in front and listen on loopback", "addr", s.Addr)
	}
	return nil
}

// serve starts serving on the listener; Done reports when it stops.
func (s *Server) serve() {
	s.done = make(chan error, 1)
	hs, ln, done := s.http, s.ln, s.done
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
		hs.TLSConfig = s.tls.Config()
		go func() { done <- hs.ServeTLS(ln, "", "") }()
	} else {
		// Over TLS the connection net/http reads must stay a *tls.Conn
		// (for HTTP/2 and client certificates), so ambiguous framing is
		// refused on plain HTTP only.
		go func() { done <- hs.Serve(web.FramingListener(ln)) }()
	}
	s.Log.Info("listening", "addr", s.Addr, "scheme", scheme, "data", s.Config.DataDir, "database", s.databaseName())
}

// Done receives the error that stopped the server serving before Close.
func (s *Server) Done() <-chan error { return s.done }

// Service is the service the server runs, for tests and in-process tools.
func (s *Server) Service() *service.Service { return s.svc }

// HTTPServer is the server's net/http server, for tests of its timeouts.
func (s *Server) HTTPServer() *http.Server { return s.http }

// ReloadTLS reads the TLS certificate, key and client CA files again. New
// connections get them; established ones keep what they agreed on.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.Reload()
}

// TLSNotAfter is when the served certificate expires; false without TLS.
func (s *Server) TLSNotAfter() (time.Time, bool) {
	if s.tls == nil {
		return time.Time{}, false
	}
	return s.tls.NotAfter(), true
}

// Close stops accepting connections, lets in-flight requests finish, then
// flushes the audit log and closes the database.
// A second Close does nothing.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, hs := range []*http.Server{s.http, s.vaultHTTP} {
		if hs == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownWait)
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
		cancel()
	}
	if err := s.release(); err != nil {
		errs = append(errs, err)
	}
	s.Log.Info("stopped")
	return errors.Join(errs...)
}

// release closes what Open opened, each part once: the listeners, the
// service (which flushes what it has pending) and the database.
func (s *Server) release() error {
	for _, ln := range []*net.Listener{&s.ln, &s.debugLn, &s.vaultLn} {
		if *ln != nil {
			(*ln).Close() // after Shutdown already closed: nothing to report
			*ln = nil
		}
	}
	if s.stopJWT != nil {
		s.stopJWT()
		s.stopJWT = nil
	}
	if s.svc != nil {
		s.svc.Close()
		s.svc = nil
	}
	if s.db != nil {
		db := s.db
		s.db = nil
		if err := db.Close(); err != nil {
			return fmt.Errorf("close database: %w", err)
		}
	}
	return nil
}
