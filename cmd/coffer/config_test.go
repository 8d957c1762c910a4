package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/compat/bytenite"
	"github.com/coffer-dev/coffer/compat/truefoundry"
	"github.com/coffer-dev/coffer/server"
)

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "coffer.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigPrecedence checks defaults < file < environment < flags for
// each kind of setting, one layer at a time and all together.
func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, `# every layer sets these
addr = 10.0.0.1:1
log-level = warn
shutdown-timeout = 5s
face-chutes = off
database = "postgres://file/db"
rate-limit = rate=1,burst=1

[account acct1]
rate-limit = rate=2
`)
	env := map[string]string{
		"COFFER_CONFIG":             file,
		"COFFER_LISTEN_ADDR":        "10.0.0.2:2",
		"COFFER_LOG_LEVEL":          "error",
		"COFFER_FACE_CHUTES":        "true",
		"COFFER_RATE_LIMIT":         "rate=3;acct2:rate=4",
		"COFFER_DATABASE_URL":       "postgres://env/db",
		"COFFER_BYTENITE_TOKEN_TTL": "2h",
	}
	flags := []string{"--addr", "10.0.0.3:3", "--log-level", "debug", "--face-chutes=false", "--rate-limit", "rate=5", "--database", "postgres://flag/db"}
	type want struct {
		addr     string
		level    slog.Level
		wait     time.Duration
		chutes   bool
		rate     []string
		database string
		ttl      time.Duration
	}
	def := server.DefaultConfig()
	for _, tt := range []struct {
		name  string
		env   []string // keys of env to set
		flags bool
		want  want
	}{
		{name: "Defaults", want: want{def.Addr, slog.LevelInfo, 30 * time.Second, true, nil, "", time.Hour}},
		{name: "File", env: []string{"COFFER_CONFIG"},
			want: want{"10.0.0.1:1", slog.LevelWarn, 5 * time.Second, false, []string{"rate=1,burst=1", "acct1:rate=2"}, "postgres://file/db", time.Hour}},
		{name: "Env", env: []string{"COFFER_LISTEN_ADDR", "COFFER_LOG_LEVEL", "COFFER_FACE_CHUTES", "COFFER_RATE_LIMIT", "COFFER_DATABASE_URL", "COFFER_BYTENITE_TOKEN_TTL"},
			want: want{"10.0.0.2:2", slog.LevelError, 30 * time.Second, true, []string{"rate=3", "acct2:rate=4"}, "postgres://env/db", 2 * time.Hour}},
		{name: "Flags", flags: true,
			want: want{"10.0.0.3:3", slog.LevelDebug, 30 * time.Second, false, []string{"rate=5"}, "postgres://flag/db", time.Hour}},
		{name: "FileThenEnv", env: slices.Sorted(mapKeys(env)),
			want: want{"10.0.0.2:2", slog.LevelError, 5 * time.Second, true, []string{"rate=1,burst=1", "acct1:rate=2", "rate=3", "acct2:rate=4"}, "postgres://env/db", 2 * time.Hour}},
		{name: "All", env: slices.Sorted(mapKeys(env)), flags: true,
			want: want{"10.0.0.3:3", slog.LevelDebug, 5 * time.Second, false, []string{"rate=1,burst=1", "acct1:rate=2", "rate=3", "acct2:rate=4", "rate=5"}, "postgres://flag/db", 2 * time.Hour}},
		{name: "FileThenFlags", env: []string{"COFFER_CONFIG"}, flags: true,
			want: want{"10.0.0.3:3", slog.LevelDebug, 5 * time.Second, false, []string{"rate=1,burst=1", "acct1:rate=2", "rate=5"}, "postgres://flag/db", time.Hour}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{}
			for _, k := range tt.env {
				e[k] = env[k]
			}
			var args []string
			if tt.flags {
				args = flags
			}
			cfg := server.DefaultConfig()
			if err := parseServerFlags(&cfg, args, func(k string) string { return e[k] }, io.Discard); err != nil {
				t.Fatal(err)
			}
			got := want{cfg.Addr, cfg.LogLevel, cfg.ShutdownWait, cfg.Faces.Chutes, cfg.RateLimits, cfg.Database, cfg.ByteNiteTokenTTL}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	t.Run("FlagNamesFile", func(t *testing.T) {
		other := writeConfig(t, "addr = 10.0.0.9:9\n")
		cfg := server.DefaultConfig()
		if err := parseServerFlags(&cfg, []string{"--config", other}, func(k string) string { return env[k] }, io.Discard); err != nil {
			t.Fatal(err)
		}
		if cfg.Addr != "10.0.0.2:2" || cfg.ConfigFile != other || cfg.LogLevel != slog.LevelError {
			t.Fatalf("got addr %s file %s, want the env's addr over --config %s's", cfg.Addr, cfg.ConfigFile, other)
		}
	})
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestConfigEverySetting checks that every setting of the table can be
// set from the file and from a flag.
func TestConfigEverySetting(t *testing.T) {
	values := map[string]string{
		"addr": "0.0.0.0:8443", "data": "/var/lib/coffer", "database": "postgres://db/coffer", "master-key-file": "/etc/coffer/master.key",
		"old-master-key-file": "/etc/coffer/master-1.key",
		"log-level":           "debug", "shutdown-timeout": "1m", "debug-addr": "127.0.0.1:6060",
		"max-inflight": "17", "queue-timeout": "250ms",
		"tls-cert": "/etc/coffer/cert.pem", "tls-key": "/etc/coffer/key.pem", "dev-tls": "false",
		"tls-client-ca": "/etc/coffer/clients.pem", "tls-client-auth": "require",
		"tls-client-key-map":            "cn:ci=0123456789abcdef",
		"cloudflare-limits":             "stores=5",
		"rate-limit":                    "rate=10,burst=20",
		"chutes-registry-password-file": "/etc/coffer/registry",
		"chutes-root":                   "off",
		"bytenite-token-ttl":            "30m",
		"face-cloudflare":               "false", "face-truefoundry": "false", "face-chutes": "false", "face-bytenite": "false",
		"face-vault": "on", "vault-addr": "127.0.0.1:8201", "jwt-fetch": "false",
		"console": "false", "console-idle-timeout": "5m", "console-max-session": "2h", "console-origin": "https://Coffer.example.com:8443",
	}
	var text strings.Builder
	var args []string
	for _, st := range settings {
		v, ok := values[st.name]
		if !ok {
			t.Fatalf("setting %s has no test value", st.name)
		}
		text.WriteString(st.name + " = " + v + "\n")
		args = append(args, "--"+st.name+"="+v)
	}
	fromFile, fromFlags := server.DefaultConfig(), server.DefaultConfig()
	if err := parseServerFlags(&fromFile, []string{"--config", writeConfig(t, text.String())}, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := parseServerFlags(&fromFlags, args, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatal(err)
	}
	fromFile.ConfigFile, fromFile.Origins, fromFlags.Origins = "", nil, nil
	if !reflect.DeepEqual(fromFile, fromFlags) {
		t.Fatalf("file and flags disagree:\nfile  %+v\nflags %+v", fromFile, fromFlags)
	}
	def := server.DefaultConfig()
	if fromFile.Addr == def.Addr || fromFile.Faces.ByteNite || fromFile.TLSClientAuth != "require" || fromFile.ShutdownWait != time.Minute ||
		len(fromFile.OldMasterKeyFiles) != 1 || fromFile.MaxInflight != 17 || fromFile.QueueTimeout != 250*time.Millisecond ||
		fromFile.Console || fromFile.ConsoleIdle != 5*time.Minute || fromFile.ConsoleMax != 2*time.Hour ||
		fromFile.ConsoleOrigin != "https://coffer.example.com:8443" || fromFile.ChutesRoot || !def.ChutesRoot ||
		fromFile.VaultAddr != "127.0.0.1:8201" || !fromFile.Faces.Vault {
		t.Fatalf("settings not applied: %+v", fromFile)
	}
}

// TestConfigErrors checks that a bad configuration is refused with an
// error that names the key and where it was set.
func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		want []string // substrings of the error
	}{
		{name: "UnknownKey", file: "addr = :1\nlisten = :2\n", want: []string{"coffer.conf:2", `unknown key "listen"`}},
		{name: "NoEquals", file: "# c\naddr\n", want: []string{"coffer.conf:2", "key = value"}},
		{name: "Twice", file: "addr = :1\n\naddr = :2\n", want: []string{"coffer.conf:3", "addr is set twice (first at line 1)"}},
		{name: "BadDuration", file: "shutdown-timeout = soon\n", want: []string{"coffer.conf:1", "duration"}},
		{name: "BadBool", file: "face-chutes = maybe\n", want: []string{"coffer.conf:1", "true or false"}},
		{name: "BadSection", file: "[server]\n", want: []string{"coffer.conf:1", "bad section"}},
		{name: "NotPerAccount", file: "[account a1]\naddr = :1\n", want: []string{"coffer.conf:2", "addr cannot be set per account"}},
		{name: "AccountInAccount", file: "[account a1]\nrate-limit = a2:rate=1\n", want: []string{"coffer.conf:2", "must not name another account"}},
		{name: "BadRateInFile", file: "rate-limit = rate=fast\n", want: []string{"rate-limit (", "coffer.conf:1)", "rate must be"}},
		{name: "BadLimitsInFile", file: "\ncloudflare-limits = zones=1\n", want: []string{"cloudflare-limits (", "coffer.conf:2)"}},
		{name: "BadQuote", file: "addr = \"x\n", want: []string{"coffer.conf:1", "quoted"}},
		{name: "CertWithoutKey", file: "tls-cert = /c.pem\n", want: []string{"tls-cert (", "coffer.conf:1)", "--tls-key", "together"}},
		{name: "VaultAddrWithoutFace", args: []string{"--face-vault=false", "--vault-addr", "127.0.0.1:8201"}, want: []string{"--vault-addr needs the Vault face", "--face-vault"}},
		{name: "BadVaultAddr", args: []string{"--vault-addr", "8201"}, want: []string{"--vault-addr: want host:port"}},
		{name: "ClientCAWithoutTLS", args: []string{"--tls-client-ca", "/ca.pem"}, want: []string{"--tls-client-ca needs TLS"}},
		{name: "BadClientAuth", args: []string{"--dev-tls", "--tls-client-ca", "/ca.pem", "--tls-client-auth", "maybe"}, want: []string{"--tls-client-auth", "verify-if-given or require"}},
		{name: "BadKeyMap", env: map[string]string{"COFFER_DEV_TLS": "1", "COFFER_TLS_CLIENT_CA": "/ca.pem", "COFFER_TLS_CLIENT_KEY_MAP": "sha256:abc=k1"}, want: []string{"COFFER_TLS_CLIENT_KEY_MAP", "64 hex digits"}},
		{name: "BadEnvDuration", env: map[string]string{"COFFER_SHUTDOWN_TIMEOUT": "x"}, want: []string{"COFFER_SHUTDOWN_TIMEOUT", "duration"}},
		{name: "BadFlagBool", args: []string{"--face-bytenite=perhaps"}, want: []string{"face-bytenite"}},
		{name: "NegativeInflight", env: map[string]string{"COFFER_MAX_INFLIGHT": "-1"}, want: []string{"COFFER_MAX_INFLIGHT must be 0"}},
		{name: "BadInflight", args: []string{"--max-inflight", "many"}, want: []string{"--max-inflight", "integer"}},
		{name: "ConsoleOriginPath", args: []string{"--console-origin", "https://coffer.example.com/ui/"}, want: []string{"--console-origin", "want an origin"}},
		{name: "ConsoleOriginScheme", env: map[string]string{"COFFER_CONSOLE_ORIGIN": "coffer.example.com"}, want: []string{"COFFER_CONSOLE_ORIGIN", "want an origin"}},
		{name: "ConsoleIdleRange", args: []string{"--console-idle-timeout", "1s"}, want: []string{"--console-idle-timeout", "between 1m and 24h"}},
		{name: "QueueTimeoutRange", file: "queue-timeout = 1m\n", want: []string{"queue-timeout (", "coffer.conf:1)", "between 0 and 10s"}},
		{name: "TTLRange", args: []string{"--bytenite-token-ttl", "48h"}, want: []string{"--bytenite-token-ttl must be between"}},
		{name: "EmptyData", env: map[string]string{"COFFER_DATA": ""}, args: []string{"--data="}, want: []string{"--data must not be empty"}},
		{name: "MissingFile", args: []string{"--config", "/nonexistent/coffer.conf"}, want: []string{"configuration file", "/nonexistent/coffer.conf"}},
		{name: "Argument", args: []string{"extra"}, want: []string{`unexpected argument "extra"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeConfig(t, tt.file)}, args...)
			}
			cfg := server.DefaultConfig()
			err := parseServerFlags(&cfg, args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil {
				t.Fatalf("got no error, want one naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestConfigExample checks that the commented example in deploy/ parses.
func TestConfigExample(t *testing.T) {
	cfg := server.DefaultConfig()
	if err := parseServerFlags(&cfg, []string{"--config", "../../deploy/coffer.conf"}, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !cfg.TLS() || cfg.DataDir != "/var/lib/coffer" {
		t.Fatalf("example: got %+v, want TLS and /var/lib/coffer", cfg)
	}
}

// TestFaceSwitches checks that a face switched off answers 404 under its
// prefix while the others still serve.
func TestFaceSwitches(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Faces.Cloudflare, cfg.Faces.ByteNite = false, false
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr
	for path, want := range map[string]int{
		"/cloudflare/client/v4/accounts/x/secrets_store/stores": 404,
		bytenite.Prefix + "secrets":                             404,
		truefoundry.Prefix + "secret-groups":                    401, // served: wants a token
		"/v1/stores":                                            401,
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: got %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestRateLimit checks the per-account token bucket: a burst passes, the
// next request gets 429 with Retry-After in the face's error format.
func TestRateLimit(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.RateLimits = []string{"rate=0.5,burst=3"}
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := &rawAPI{t: t, base: "http://" + s.Addr, token: s.RootToken}
	for range 3 {
		a.must(200, "GET", "/v1/stores", nil)
	}
	r := a.must(429, "GET", "/v1/stores", nil)
	if got := r.Code(t); got != "rate_limited" {
		t.Errorf("native 429 code: got %q, want rate_limited", got)
	}
	if ra := r.Header.Get("Retry-After"); ra != "1" && ra != "2" {
		t.Errorf("Retry-After: got %q, want 1 or 2 (seconds until a token)", ra)
	}
	// The Cloudflare face shares the account's bucket and answers in its
	// own format.
	r = a.do("GET", "/cloudflare/client/v4/accounts/x/secrets_store/stores", nil)
	if m := r.JSON(t); r.Status != 429 || m["success"] != false || m["errors"] == nil || r.Header.Get("Retry-After") == "" {
		t.Errorf("Cloudflare face: got %d %s, want 429 in Cloudflare's format with Retry-After", r.Status, r.Body)
	}
	// Unauthenticated routes are not counted.
	a.must(200, "GET", "/healthz", nil)
}

// TestConfigOldMasterKeys checks that old master key files accumulate from
// the environment (';'-separated) and repeated flags.
func TestConfigOldMasterKeys(t *testing.T) {
	cfg := server.DefaultConfig()
	env := map[string]string{"COFFER_OLD_MASTER_KEY_FILE": "/k/a; /k/b"}
	if err := parseServerFlags(&cfg, []string{"--old-master-key-file", "/k/c"}, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/k/a", "/k/b", "/k/c"}; !reflect.DeepEqual(cfg.OldMasterKeyFiles, want) {
		t.Fatalf("got %q, want %q", cfg.OldMasterKeyFiles, want)
	}
}
