package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/api"
	"github.com/coffer-dev/coffer/compat/bytenite"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/compat/truefoundry"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/internal/web"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/sqlite"
	"github.com/coffer-dev/coffer/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func init() {
	register("server", command{Summary: "run the coffer server", Run: runServer})
}

// ServerConfig is everything the server reads from its configuration file,
// the environment and flags (see config.go for the one table of keys).
type ServerConfig struct {
	// ConfigFile is the configuration file read (--config or
	// COFFER_CONFIG), if any.
	ConfigFile string
	Addr       string
	DataDir    string
	// Database is a PostgreSQL URL (postgres://... or libpq's key=value
	// form) from --database or COFFER_DATABASE_URL; empty keeps the
	// embedded SQLite database in DataDir. It may hold a password: it is
	// never logged.
	Database      string
	MasterKeyFile string
	// OldMasterKeyFiles hold master keys that only unwrap: data wrapped by
	// them stays readable during a rotation (see cli_masterkey.go).
	OldMasterKeyFiles []string
	// MasterKey comes from COFFER_MASTER_KEY only: never a flag, so it
	// stays out of ps, and never a file key, since master-key-file is the
	// file for it.
	MasterKey    string
	LogLevel     slog.Level
	ShutdownWait time.Duration
	// MaxInflight bounds the requests served at once (0: no bound), and
	// QueueTimeout how long one more may wait for a slot before it is
	// refused with 503 and Retry-After (see web.Admission).
	MaxInflight  int
	QueueTimeout time.Duration
	// Console serves the web console at /ui/; ConsoleIdle and ConsoleMax
	// end a console session unused that long, or that long after sign-in.
	// ConsoleOrigin, when set, is the only Origin its requests may carry.
	Console                 bool
	ConsoleOrigin           string
	ConsoleIdle, ConsoleMax time.Duration
	// auditWindow, when not 0, replaces coffer.AuditScanWindow: tests
	// set it to search a short log window by window. No setting sets it.
	auditWindow int64
	// DebugAddr, when set, serves net/http/pprof there: keep it on loopback.
	DebugAddr string

	// TLSCert and TLSKey are PEM files; set, the server speaks only HTTPS
	// (TLS 1.2 and up) and reads them again on SIGHUP.
	TLSCert, TLSKey string
	// DevTLS makes a self-signed pair in DataDir/tls and serves it.
	DevTLS bool
	// TLSClientCA, when set, asks clients for certificates signed by one of
	// its CAs; TLSClientAuth is verify-if-given (the default) or require.
	TLSClientCA   string
	TLSClientAuth string
	// TLSClientKeyMap maps verified client certificates to API key ids:
	// "sha256:FINGERPRINT=KEYID" or "cn:COMMON_NAME=KEYID".
	TLSClientKeyMap []string

	// CloudflareLimits are the Cloudflare face's quotas, each
	// "[ACCOUNT_ID:]stores=N,secrets=N,value=N" (see cloudflare.ParseLimits):
	// from --cloudflare-limits (repeatable) and COFFER_CLOUDFLARE_LIMITS
	// (settings separated by ';'). Unset, Cloudflare's own limits apply.
	CloudflareLimits []string
	// RateLimits are the per-account request rate limits, each
	// "[ACCOUNT_ID:]rate=N,burst=N". Unset, requests are not limited.
	RateLimits []string
	// ChutesRegistryPasswordFile holds the password of the image registry
	// behind Chutes' registry proxy, which GET /chutes/registry/auth hands
	// to nginx (--chutes-registry-password-file or
	// COFFER_CHUTES_REGISTRY_PASSWORD_FILE). Unset, no Authorization header
	// is handed on.
	ChutesRegistryPasswordFile string
	// ChutesRoot serves the Chutes face's routes at the server's root too
	// (chutes.RootPaths), where the chutes CLI sends them (--chutes-root;
	// default on). It has no effect when the face is off.
	ChutesRoot bool
	// ByteNiteTokenTTL is the lifetime of the access tokens the ByteNite
	// face issues (--bytenite-token-ttl; default 1h, as at ByteNite).
	ByteNiteTokenTTL time.Duration
	// Faces says which provider faces are served; a face switched off
	// answers 404 under its prefix.
	Faces FaceSwitches

	origin map[string]string // where each setting was set, for errors
}

// FaceSwitches turns each provider face on or off.
type FaceSwitches struct {
	Cloudflare, TrueFoundry, Chutes, ByteNite bool
}

// DefaultServerConfig returns the embedded default: SQLite in ./coffer-data,
// plain HTTP on loopback, every face on.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{Addr: "127.0.0.1:8200", DataDir: "coffer-data", LogLevel: slog.LevelInfo, ShutdownWait: 30 * time.Second,
		MaxInflight: defaultMaxInflight(runtime.GOMAXPROCS(0)), QueueTimeout: 100 * time.Millisecond,
		Console: true, ConsoleIdle: api.DefaultSessionIdle, ConsoleMax: api.DefaultSessionMax,
		ChutesRoot: true, ByteNiteTokenTTL: bytenite.DefaultTokenTTL, Faces: FaceSwitches{Cloudflare: true, TrueFoundry: true, Chutes: true, ByteNite: true}}
}

// defaultMaxInflight is 32 requests per CPU, at least 64 (the requests
// mostly wait on the database's group commit, not on a CPU) and at most 256
// (beyond that more in flight only adds latency).
func defaultMaxInflight(procs int) int {
	return min(256, max(64, 32*procs))
}

// Server is a running coffer server. Tests use it to start the real server
// in-process: NewServer, Open, then Close.
type Server struct {
	Config ServerConfig
	Log    *slog.Logger
	Stdout io.Writer // where the first start prints the root token

	// Addr is the address the server listens on, known after Open.
	Addr string
	// RootToken is set when Open created a new data directory.
	RootToken string

	// CAFile is the CA certificate clients should trust, with --dev-tls.
	CAFile string

	db   coffer.Storage
	svc  *service.Service
	http *http.Server
	tls  *tlsReloader
	ln   net.Listener
	done chan error

	closed bool
}

const serverUsage = `Usage: coffer server [flags]

Runs the coffer server. With no flags it keeps everything in ./coffer-data:
an SQLite database (WAL, synchronous=FULL), the master key (master.key, 0600)
and, on first start, the root API key (root.token, 0600), which is also
printed once.

With --database postgres://... (or COFFER_DATABASE_URL) the data lives in
PostgreSQL instead, and any number of servers may share it; the data
directory then holds only master.key (and root.token after the first start).
Every server of one database needs the same master key.

The master key comes from, in order: --master-key-file, the COFFER_MASTER_KEY
environment variable (64 hex digits or base64 of 32 bytes), or DATA/master.key,
which a first start creates. A database that already holds data is never
given a new key: a missing or wrong key stops the server with an error.
During a master-key rotation the previous key is given too, with
--old-master-key-file (repeatable): it only unwraps data until 'coffer
master-key rotate' has rewrapped everything under the new key, and 'coffer
master-key status' shows when it wraps nothing and can be removed. The
server refuses to start without a key that some data still needs.

Every flag is also a key of the configuration file (--config FILE, or
COFFER_CONFIG; see deploy/coffer.conf for a commented example) and an
environment variable (named after each flag below). Precedence: defaults,
then the file, then the environment, then flags.

With --tls-cert and --tls-key the server speaks only HTTPS; SIGHUP reloads
the certificate, key and client CA without dropping connections.

Flags:
`

// ParseFlags reads the server's configuration: the defaults in c, then the
// configuration file (--config or COFFER_CONFIG), then the environment,
// then the flags, and validates the result once.
func (c *ServerConfig) ParseFlags(args []string, getenv func(string) string, stderr io.Writer) error {
	return c.parseConfig("server", serverUsage, args, getenv, stderr)
}

func runServer(ctx context.Context, env *Env, args []string) error {
	cfg := DefaultServerConfig()
	if err := cfg.ParseFlags(args, env.Getenv, env.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	s := &Server{Config: cfg, Log: log, Stdout: env.Stdout}
	if err := s.Open(ctx); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := s.ReloadTLS(); err != nil {
				log.Error("SIGHUP: TLS reload failed; still serving the previous certificate", "err", err)
			} else if s.tls != nil {
				log.Info("SIGHUP: TLS certificate reloaded", "not_after", s.tls.NotAfter())
			}
			continue
		case <-ctx.Done():
			log.Info("shutting down")
		case err := <-s.done:
			log.Error("server stopped", "err", err)
		}
		return s.Close()
	}
}

// ReloadTLS reads the TLS certificate, key and client CA files again. New
// connections get them; established ones keep what they agreed on.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.Reload()
}

// Open prepares the data directory, the keys and the database, and starts
// serving.
func (s *Server) Open(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if s.Stdout == nil {
		s.Stdout = io.Discard
	}
	cfg := s.Config
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// Whether this is a first start: SQLite's file exists, or PostgreSQL
	// holds a server's data. The head MAC needs the keyring, which comes
	// after; no write needs it before then.
	var keyring *envelope.Keyring
	headMAC := func(msg []byte) []byte { return service.HeadMAC(keyring)(msg) }
	dbPath := filepath.Join(cfg.DataDir, "coffer.db")
	var dbExists bool
	var err error
	if cfg.Database == "" {
		_, statErr := os.Stat(dbPath)
		dbExists = statErr == nil
	} else if dbExists, err = s.openPostgres(ctx, headMAC); err != nil {
		return err
	}
	if !dbExists {
		// A first start owns the directory, even one that existed empty.
		if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
			s.closeStorage()
			return fmt.Errorf("restrict data directory: %w", err)
		}
	} else if fi, err := os.Stat(cfg.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.Log.Warn("data directory is open to other users; chmod 700 it", "dir", cfg.DataDir, "mode", fi.Mode().Perm().String())
	}
	master, err := loadMasterKey(cfg, dbExists, s.Log)
	if err != nil {
		s.closeStorage()
		return err
	}
	old, err := loadOldMasterKeys(cfg)
	if err != nil {
		envelope.Zero(master)
		s.closeStorage()
		return err
	}
	keyring, err = envelope.NewKeyring(master, old...)
	envelope.Zero(master)
	for _, k := range old {
		envelope.Zero(k)
	}
	if err != nil {
		s.closeStorage()
		return err
	}
	if s.db == nil {
		if s.db, err = sqlite.Open(ctx, dbPath, sqlite.Options{HeadMAC: headMAC}); err != nil {
			return fmt.Errorf("open database: %w", err)
		}
	}

	// Servers that share a database set it up one at a time, so that the
	// first of several starting together creates the pepper and the root
	// key, and the others find them.
	var token string
	err = s.firstStartLock(ctx, func() error {
		var err error
		if s.svc, err = service.New(ctx, s.db, keyring, service.Options{Logger: s.Log, AuditWindow: cfg.auditWindow,
			// The faces' words: Chutes' tokens and hotkeys, Cloudflare's pending state.
			KeyFormats: []coffer.KeyFormat{chutes.TokenFormat{}}, Hotkeys: chutes.HotkeyScheme{}, FirstReadClears: []string{cloudflare.AttrUnused}}); err != nil {
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
		s.closeStorage()
		return err
	}
	if token != "" {
		if err := writeSecretFile(filepath.Join(cfg.DataDir, "root.token"), token+"\n"); err != nil {
			s.closeStorage()
			return fmt.Errorf("save root token: %w", err)
		}
		s.RootToken = token
		fmt.Fprintf(s.Stdout, "coffer: first start. Root API key (shown once, also saved to %s):\n\n    %s\n\n",
			filepath.Join(cfg.DataDir, "root.token"), token)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cf, err := cloudflareFace(cfg)
	if err != nil {
		s.closeStorage()
		return err
	}
	rl, err := parseRateLimits(cfg.RateLimits)
	if err != nil {
		s.closeStorage()
		return err
	}
	keys, err := parseKeyMap(cfg.TLSClientKeyMap)
	if err != nil {
		s.closeStorage()
		return err
	}
	// Every face authenticates through the gate: mapped client
	// certificates and per-account rate limits apply to all alike.
	g := &gate{svc: s.svc, requireCert: cfg.TLSClientAuth == clientAuthRequire, limiter: newAccountLimiter(rl, time.Now)}
	cf.Secrets, cf.Auth, cf.Log = s.svc, g, s.Log
	ch, err := s.chutesFace(g)
	if err != nil {
		s.closeStorage()
		return err
	}
	var faces []api.Mount
	if cfg.Faces.Cloudflare {
		faces = append(faces, api.Mount{Name: "cloudflare", Prefix: cloudflare.Prefix, Handler: cf.Handler(), Render: cloudflare.RenderError})
	}
	if cfg.Faces.TrueFoundry {
		faces = append(faces, api.Mount{Name: "truefoundry", Prefix: truefoundry.Prefix, Render: truefoundry.RenderError,
			Handler: (&truefoundry.Server{Secrets: s.svc, Keys: s.svc, Accounts: s.svc, Powers: s.svc, Auth: g, Log: s.Log}).Handler()})
	}
	if cfg.Faces.Chutes {
		m := api.Mount{Name: chutes.Face, Prefix: chutes.Prefix, Render: chutes.RenderError}
		if cfg.ChutesRoot {
			ch.Root, m.Paths = true, chutes.RootPaths
		}
		m.Handler = ch.Handler()
		faces = append(faces, m)
	}
	if cfg.Faces.ByteNite {
		faces = append(faces, api.Mount{Name: "bytenite", Prefix: bytenite.Prefix, Render: bytenite.RenderError, Handler: (&bytenite.Server{Service: s.svc, Auth: g, Tokens: g, Log: s.Log,
			TokenTTL: cfg.ByteNiteTokenTTL, Version: buildVersion()}).Handler()})
	}
	var adm *web.Admission
	if cfg.MaxInflight > 0 {
		adm = web.NewAdmission(cfg.MaxInflight, cfg.QueueTimeout, reg)
	}
	a := &api.Server{Admission: adm, Secrets: s.svc, Keys: s.svc, Audit: s.svc, Accounts: s.svc, Hotkeys: s.svc, Rotation: s.svc, Auth: g, Ready: s.db.Ping, Log: s.Log, Registry: reg,
		Faces: faces}
	if cfg.Console {
		a.Console = &api.Console{Files: ui.Files(), Audit: s.svc, Sessions: s.svc, Origin: cfg.ConsoleOrigin, Idle: cfg.ConsoleIdle, Max: cfg.ConsoleMax}
	}
	var handler http.Handler = a.Handler()
	if cfg.TLSClientCA != "" {
		handler = clientCerts(handler, keys)
	}
	if err := s.setupTLS(); err != nil {
		s.closeStorage()
		return err
	}
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
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		s.closeStorage()
		return fmt.Errorf("listen: %w", err)
	}
	s.Addr = s.ln.Addr().String()
	if host, _, _ := net.SplitHostPort(s.Addr); !isLoopback(host) && s.tls == nil {
		s.Log.Warn("WARNING: serving plain HTTP on a non-loopback address: API keys and secret values cross the network unencrypted; give --tls-cert and --tls-key, or put a TLS proxy in front and listen on loopback", "addr", s.Addr)
	}
	if cfg.DebugAddr != "" {
		if err := s.serveDebug(cfg.DebugAddr); err != nil {
			s.closeStorage()
			return err
		}
	}
	s.done = make(chan error, 1)
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
		s.http.TLSConfig = s.tls.Config()
		go func() { s.done <- s.http.ServeTLS(s.ln, "", "") }()
	} else {
		// Over TLS the connection net/http reads must stay a *tls.Conn
		// (for HTTP/2 and client certificates), so ambiguous framing is
		// refused on plain HTTP only.
		go func() { s.done <- s.http.Serve(web.FramingListener(s.ln)) }()
	}
	s.Log.Info("listening", "addr", s.Addr, "scheme", scheme, "data", cfg.DataDir, "database", s.databaseName())
	return nil
}

// buildVersion is the main module's version from the build information.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// openPostgres opens the PostgreSQL database and reports whether it holds
// a server's data already.
func (s *Server) openPostgres(ctx context.Context, headMAC func([]byte) []byte) (exists bool, err error) {
	db, err := postgres.Open(ctx, s.Config.Database, postgres.Options{HeadMAC: headMAC})
	if err != nil {
		return false, fmt.Errorf("open PostgreSQL database: %w", err)
	}
	if exists, err = service.Initialized(ctx, db); err != nil {
		db.Close()
		return false, fmt.Errorf("open PostgreSQL database: %w", err)
	}
	s.db = db
	return exists, nil
}

// firstStartLock runs f under the database's lock for first-start setup
// when servers may share it (PostgreSQL), else at once.
func (s *Server) firstStartLock(ctx context.Context, f func() error) error {
	if l, ok := s.db.(interface {
		Lock(ctx context.Context, name string, f func() error) error
	}); ok {
		return l.Lock(ctx, "first-start", f)
	}
	return f()
}

// databaseName says which database the server uses, without the URL's
// credentials.
func (s *Server) databaseName() string {
	if s.Config.Database == "" {
		return "sqlite"
	}
	return "postgres"
}

// cloudflareFace makes the Cloudflare face with the configured limits.
func cloudflareFace(cfg ServerConfig) (*cloudflare.Server, error) {
	cf, err := cloudflareLimits(cfg.CloudflareLimits)
	if err != nil {
		return nil, fmt.Errorf("--cloudflare-limits: %w", err)
	}
	return cf, nil
}

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

// chutesFace makes the Chutes face; tokens and hotkey signatures are
// checked through the gate.
func (s *Server) chutesFace(g *gate) (*chutes.Server, error) {
	ch := &chutes.Server{Secrets: s.svc, Keys: s.svc, Auth: g, Log: s.Log, Hotkeys: g}
	if f := s.Config.ChutesRegistryPasswordFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--chutes-registry-password-file: %w", err)
		}
		if ch.RegistryPassword = strings.TrimRight(string(b), "\r\n"); ch.RegistryPassword == "" {
			return nil, fmt.Errorf("--chutes-registry-password-file: %s is empty", f)
		}
	}
	return ch, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
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
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownWait)
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
		cancel()
	}
	if err := s.closeStorage(); err != nil {
		errs = append(errs, err)
	}
	s.Log.Info("stopped")
	return errors.Join(errs...)
}

func (s *Server) closeStorage() error {
	if s.svc != nil {
		s.svc.Close()
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("close database: %w", err)
		}
	}
	return nil
}

// loadMasterKey finds the master key, creating DATA/master.key only for a
// data directory without a database.
func loadMasterKey(cfg ServerConfig, dbExists bool, log *slog.Logger) ([]byte, error) {
	if cfg.MasterKeyFile != "" {
		return readKeyFile(cfg.MasterKeyFile)
	}
	if cfg.MasterKey != "" {
		k, err := envelope.ParseKey(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("COFFER_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	k, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	switch {
	case dbExists && cfg.Database != "":
		return nil, fmt.Errorf("refusing to start: the PostgreSQL database holds data but there is no master key (%s is missing); give the key it was created with (every server of one database needs the same one) with --master-key-file or COFFER_MASTER_KEY, or copy master.key into %s", path, cfg.DataDir)
	case dbExists:
		return nil, fmt.Errorf("refusing to start: %s holds a database but no master key (%s is missing); give the key with --master-key-file or COFFER_MASTER_KEY", cfg.DataDir, path)
	}
	k = envelope.GenerateKey()
	if err := writeSecretFile(path, envelope.EncodeKey(k)+"\n"); err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	log.Info("created a new master key; back it up: without it the data cannot be read", "file", path)
	return k, nil
}

// loadOldMasterKeys reads the old master keys of a rotation.
func loadOldMasterKeys(cfg ServerConfig) ([][]byte, error) {
	var keys [][]byte
	for _, path := range cfg.OldMasterKeyFiles {
		k, err := readKeyFile(path)
		if err != nil {
			for _, k := range keys {
				envelope.Zero(k)
			}
			return nil, fmt.Errorf("old master key: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	k, err := envelope.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// writeSecretFile creates a new 0600 file; it never overwrites one.
func writeSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serveDebug serves the pprof handlers on a separate loopback listener.
func (s *Server) serveDebug(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopback(host) {
		return fmt.Errorf("--debug-addr must be a loopback host:port")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux) //nolint:errcheck // ends with the process
	s.Log.Info("serving pprof", "addr", ln.Addr().String())
	return nil
}
