package server

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/api"
	"github.com/coffer-dev/coffer/compat/bytenite"
	"github.com/coffer-dev/coffer/service"
)

// Config is everything the server is told: cmd/coffer fills it from its
// configuration file, the environment and flags (one table of keys there),
// starting from DefaultConfig, and validates it once.
type Config struct {
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
	// them stays readable during a rotation (see 'coffer master-key rotate').
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
	// AuditWindow, when not 0, replaces coffer.AuditScanWindow: tests
	// set it to search a short log window by window. No setting sets it.
	AuditWindow int64
	// DebugAddr, when set, serves net/http/pprof there: keep it on loopback.
	DebugAddr string

	// TLSCert and TLSKey are PEM files; set, the server speaks only HTTPS
	// (TLS 1.2 and up) and reads them again on SIGHUP.
	TLSCert, TLSKey string
	// DevTLS makes a self-signed pair in DataDir/tls and serves it.
	DevTLS bool
	// TLSClientCA, when set, asks clients for certificates signed by one of
	// its CAs; TLSClientAuth is ClientAuthVerifyIfGiven (the default) or
	// ClientAuthRequire.
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
	// "[ACCOUNT_ID:]rate=N,burst=N" (see service.ParseRateLimits). Unset,
	// requests are not limited.
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
	// VaultAddr, when set, serves the Vault face at the root of a listener
	// of its own on this host:port (--vault-addr), where VAULT_ADDR needs no
	// path; it is served under /vault/ on the main listener as well.
	VaultAddr string
	// Faces says which provider faces are served; a face switched off
	// answers 404 under its prefix.
	Faces FaceSwitches

	// Origins says where each setting was set ("FILE:LINE", "COFFER_X" or
	// "--x"), by setting name, so that Validate's errors name the place.
	// The parser fills it; unset, errors name the flag.
	Origins map[string]string

	// JWTNoFetch forbids JWT trust configurations whose keys come from a
	// URL (--jwt-fetch=false): fetching a tenant-given URL is a request the
	// tenant directs from the server's network. With fetching on, only
	// https URLs are accepted.
	JWTNoFetch bool
}

// FaceSwitches turns each provider face on or off.
type FaceSwitches struct {
	Cloudflare, TrueFoundry, Chutes, ByteNite, Vault bool
}

// Values of Config.TLSClientAuth (--tls-client-auth).
const (
	ClientAuthVerifyIfGiven = "verify-if-given"
	ClientAuthRequire       = "require"
)

// DefaultConfig returns the embedded default: SQLite in ./coffer-data,
// plain HTTP on loopback, every face on.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:8200", DataDir: "coffer-data", LogLevel: slog.LevelInfo, ShutdownWait: 30 * time.Second,
		MaxInflight: defaultMaxInflight(runtime.GOMAXPROCS(0)), QueueTimeout: 100 * time.Millisecond,
		Console: true, ConsoleIdle: api.DefaultSessionIdle, ConsoleMax: api.DefaultSessionMax,
		ChutesRoot: true, ByteNiteTokenTTL: bytenite.DefaultTokenTTL, Faces: FaceSwitches{Cloudflare: true, TrueFoundry: true, Chutes: true, ByteNite: true, Vault: true}}
}

// defaultMaxInflight is 32 requests per CPU, at least 64 (the requests
// mostly wait on the database's group commit, not on a CPU) and at most 256
// (beyond that more in flight only adds latency).
func defaultMaxInflight(procs int) int {
	return min(256, max(64, 32*procs))
}

// TLS reports whether the server serves HTTPS.
func (c *Config) TLS() bool { return c.TLSCert != "" || c.DevTLS }

// ref names a setting in an error: the flag, variable or file line that
// set it, or the flag when it was not set.
func (c *Config) ref(name string) string {
	if o, ok := c.Origins[name]; ok && !strings.HasPrefix(o, "--") {
		if strings.HasPrefix(o, "COFFER_") {
			return o
		}
		return name + " (" + o + ")"
	}
	return "--" + name
}

// Validate checks the whole configuration once, before anything starts.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return fmt.Errorf("%s must not be empty", c.ref("data"))
	case c.Addr == "":
		return fmt.Errorf("%s must not be empty", c.ref("addr"))
	case c.ByteNiteTokenTTL < time.Second || c.ByteNiteTokenTTL > coffer.MaxAccessTokenTTL:
		return fmt.Errorf("%s must be between 1s and %s", c.ref("bytenite-token-ttl"), coffer.MaxAccessTokenTTL)
	case c.MaxInflight < 0 || c.MaxInflight > 1_000_000:
		return fmt.Errorf("%s must be 0 (no limit) to 1000000", c.ref("max-inflight"))
	case c.QueueTimeout < 0 || c.QueueTimeout > 10*time.Second:
		return fmt.Errorf("%s must be between 0 and 10s", c.ref("queue-timeout"))
	case c.ConsoleIdle < time.Minute || c.ConsoleIdle > 24*time.Hour:
		return fmt.Errorf("%s must be between 1m and 24h", c.ref("console-idle-timeout"))
	case c.ConsoleMax < time.Minute || c.ConsoleMax > 7*24*time.Hour:
		return fmt.Errorf("%s must be between 1m and 168h", c.ref("console-max-session"))
	case c.ShutdownWait < 0:
		return fmt.Errorf("%s must not be negative", c.ref("shutdown-timeout"))
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return fmt.Errorf("%s and %s go together: give both or neither", c.ref("tls-cert"), c.ref("tls-key"))
	case c.DevTLS && c.TLSCert != "":
		return fmt.Errorf("%s and %s exclude each other", c.ref("dev-tls"), c.ref("tls-cert"))
	case c.TLSClientCA != "" && !c.TLS():
		return fmt.Errorf("%s needs TLS: give --tls-cert and --tls-key (or --dev-tls)", c.ref("tls-client-ca"))
	case c.TLSClientAuth != "" && c.TLSClientCA == "":
		return fmt.Errorf("%s needs %s", c.ref("tls-client-auth"), c.ref("tls-client-ca"))
	case len(c.TLSClientKeyMap) > 0 && c.TLSClientCA == "":
		return fmt.Errorf("%s needs %s", c.ref("tls-client-key-map"), c.ref("tls-client-ca"))
	case c.VaultAddr != "" && !c.Faces.Vault:
		return fmt.Errorf("%s needs the Vault face: it is switched off by %s", c.ref("vault-addr"), c.ref("face-vault"))
	}
	if c.VaultAddr != "" {
		if _, _, err := net.SplitHostPort(c.VaultAddr); err != nil {
			return fmt.Errorf("%s: want host:port, not %q", c.ref("vault-addr"), c.VaultAddr)
		}
	}
	switch c.TLSClientAuth {
	case "", ClientAuthVerifyIfGiven, ClientAuthRequire:
	default:
		return fmt.Errorf("%s: want %s or %s, not %q", c.ref("tls-client-auth"), ClientAuthVerifyIfGiven, ClientAuthRequire, c.TLSClientAuth)
	}
	if _, err := parseKeyMap(c.TLSClientKeyMap); err != nil {
		return fmt.Errorf("%s: %w", c.ref("tls-client-key-map"), err)
	}
	if _, err := cloudflareLimits(c.CloudflareLimits); err != nil {
		return fmt.Errorf("%s: %w", c.ref("cloudflare-limits"), err)
	}
	if _, err := service.ParseRateLimits(c.RateLimits); err != nil {
		return fmt.Errorf("%s: %w", c.ref("rate-limit"), err)
	}
	return nil
}
