package main

// This file parses the server's configuration (server.Config): one table of
// settings, each settable from the configuration file, the environment and
// a flag, applied in that order over the defaults and validated once
// (server.Config.Validate).

import (
	"bufio"
	"flag"
	"fmt"
	"github.com/coffer-dev/coffer/server"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration key. Its name is the flag (--name) and the
// key in the configuration file; env is its environment variable.
type setting struct {
	name  string
	env   string
	usage string
	// list settings accumulate: every file line, every ';'-separated part
	// of the variable and every repetition of the flag adds one value, in
	// that order, and later values of the same account override earlier.
	list bool
	// boolean settings take true/false, on/off, yes/no or 1/0; as flags
	// they need no value.
	boolean bool
	// account settings may also appear in an [account ID] section of the
	// file, where they apply to that account only.
	account bool
	set     func(c *server.Config, v string) error
}

// settings is the one table of server configuration keys.
var settings = []setting{
	{name: "addr", env: "COFFER_LISTEN_ADDR", usage: "listen address (host:port; port 0 picks a free one; default 127.0.0.1:8200)",
		set: func(c *server.Config, v string) error { c.Addr = v; return nil }},
	{name: "data", env: "COFFER_DATA", usage: "data directory (default ./coffer-data)",
		set: func(c *server.Config, v string) error { c.DataDir = v; return nil }},
	{name: "database", env: "COFFER_DATABASE_URL", usage: "PostgreSQL URL (postgres://user@host/db?pool_max_conns=16...; default: SQLite in the data directory)",
		set: func(c *server.Config, v string) error { c.Database = v; return nil }},
	{name: "master-key-file", env: "COFFER_MASTER_KEY_FILE", usage: "file holding the master key (default DATA/master.key)",
		set: func(c *server.Config, v string) error { c.MasterKeyFile = v; return nil }},
	{name: "old-master-key-file", env: "COFFER_OLD_MASTER_KEY_FILE", list: true, usage: "file holding an older master key, kept only to read data wrapped by it until 'coffer master-key rotate' rewraps it (repeatable)",
		set: func(c *server.Config, v string) error {
			c.OldMasterKeyFiles = append(c.OldMasterKeyFiles, v)
			return nil
		}},
	{name: "log-level", env: "COFFER_LOG_LEVEL", usage: "log level: debug, info, warn, error (default info)",
		set: func(c *server.Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
	{name: "shutdown-timeout", env: "COFFER_SHUTDOWN_TIMEOUT", usage: "how long to let in-flight requests finish on SIGTERM (default 30s)",
		set: func(c *server.Config, v string) error { return setDuration(&c.ShutdownWait, v) }},
	{name: "max-inflight", env: "COFFER_MAX_INFLIGHT", usage: "requests served at once; as many more wait up to --queue-timeout, the rest get 503 with Retry-After (0 is no limit; default 32 per CPU, 64 to 256)",
		set: func(c *server.Config, v string) error { return setInt(&c.MaxInflight, v) }},
	{name: "queue-timeout", env: "COFFER_QUEUE_TIMEOUT", usage: "how long a request may wait for one of the --max-inflight slots before it gets 503 (0 to 10s; default 100ms)",
		set: func(c *server.Config, v string) error { return setDuration(&c.QueueTimeout, v) }},
	{name: "debug-addr", env: "COFFER_DEBUG_ADDR", usage: "serve Go profiling (net/http/pprof) on this address; loopback only",
		set: func(c *server.Config, v string) error { c.DebugAddr = v; return nil }},

	{name: "tls-cert", env: "COFFER_TLS_CERT", usage: "serve HTTPS with this PEM certificate (chain); reloaded on SIGHUP",
		set: func(c *server.Config, v string) error { c.TLSCert = v; return nil }},
	{name: "tls-key", env: "COFFER_TLS_KEY", usage: "PEM private key of --tls-cert",
		set: func(c *server.Config, v string) error { c.TLSKey = v; return nil }},
	{name: "dev-tls", env: "COFFER_DEV_TLS", boolean: true, usage: "serve HTTPS with a self-signed certificate kept in DATA/tls (local use only)",
		set: func(c *server.Config, v string) error { return setBool(&c.DevTLS, v) }},
	{name: "tls-client-ca", env: "COFFER_TLS_CLIENT_CA", usage: "PEM CA bundle: ask clients for certificates signed by it (mTLS)",
		set: func(c *server.Config, v string) error { c.TLSClientCA = v; return nil }},
	{name: "tls-client-auth", env: "COFFER_TLS_CLIENT_AUTH", usage: "with --tls-client-ca: verify-if-given (default; a mapped certificate stands in for a token) or require (every connection needs a verified certificate, every authenticated request a mapped one)",
		set: func(c *server.Config, v string) error { c.TLSClientAuth = v; return nil }},
	{name: "tls-client-key-map", env: "COFFER_TLS_CLIENT_KEY_MAP", list: true, usage: "map a verified client certificate to an API key: `sha256:FINGERPRINT=KEYID` or cn:COMMON_NAME=KEYID (repeatable)",
		set: func(c *server.Config, v string) error { c.TLSClientKeyMap = append(c.TLSClientKeyMap, v); return nil }},

	{name: "cloudflare-limits", env: "COFFER_CLOUDFLARE_LIMITS", list: true, account: true, usage: "Cloudflare face quotas `[ACCOUNT_ID:]stores=N,secrets=N,value=N` (repeatable; default Cloudflare's: stores=1,secrets=100,value=65536)",
		set: func(c *server.Config, v string) error { c.CloudflareLimits = append(c.CloudflareLimits, v); return nil }},
	{name: "rate-limit", env: "COFFER_RATE_LIMIT", list: true, account: true, usage: "authenticated requests per account: `[ACCOUNT_ID:]rate=N,burst=N` (requests/second and bucket size; rate=0 is unlimited; repeatable; default unlimited)",
		set: func(c *server.Config, v string) error { c.RateLimits = append(c.RateLimits, v); return nil }},
	{name: "chutes-registry-password-file", env: "COFFER_CHUTES_REGISTRY_PASSWORD_FILE", usage: "file holding the password of the image registry behind Chutes' registry proxy (GET /chutes/registry/auth)",
		set: func(c *server.Config, v string) error { c.ChutesRegistryPasswordFile = v; return nil }},
	{name: "chutes-root", env: "COFFER_CHUTES_ROOT", boolean: true, usage: "also serve the Chutes face's routes at the server root (/secrets/, /api_keys/, /registry/auth, /ping), where the chutes CLI sends them (default true)",
		set: func(c *server.Config, v string) error { return setBool(&c.ChutesRoot, v) }},
	{name: "bytenite-token-ttl", env: "COFFER_BYTENITE_TOKEN_TTL", usage: "lifetime of the access tokens the ByteNite face issues (1s to 24h; default 1h)",
		set: func(c *server.Config, v string) error { return setDuration(&c.ByteNiteTokenTTL, v) }},
	{name: "console", env: "COFFER_CONSOLE", boolean: true, usage: "serve the web console under /ui/ (default true)",
		set: func(c *server.Config, v string) error { return setBool(&c.Console, v) }},
	{name: "console-origin", env: "COFFER_CONSOLE_ORIGIN", usage: "the console's public origin `https://HOST[:PORT]`, when a proxy in front changes the Host header (default: the Host each request names)",
		set: func(c *server.Config, v string) error { return setOrigin(&c.ConsoleOrigin, v) }},
	{name: "console-idle-timeout", env: "COFFER_CONSOLE_IDLE_TIMEOUT", usage: "end a console session unused this long (1m to 24h; default 15m)",
		set: func(c *server.Config, v string) error { return setDuration(&c.ConsoleIdle, v) }},
	{name: "console-max-session", env: "COFFER_CONSOLE_MAX_SESSION", usage: "end any console session this long after sign-in (1m to 7 days; default 8h)",
		set: func(c *server.Config, v string) error { return setDuration(&c.ConsoleMax, v) }},
	{name: "face-cloudflare", env: "COFFER_FACE_CLOUDFLARE", boolean: true, usage: "serve the Cloudflare Secrets Store face under /cloudflare/ (default true)",
		set: func(c *server.Config, v string) error { return setBool(&c.Faces.Cloudflare, v) }},
	{name: "face-truefoundry", env: "COFFER_FACE_TRUEFOUNDRY", boolean: true, usage: "serve the TrueFoundry face under /truefoundry/ (default true)",
		set: func(c *server.Config, v string) error { return setBool(&c.Faces.TrueFoundry, v) }},
	{name: "face-chutes", env: "COFFER_FACE_CHUTES", boolean: true, usage: "serve the Chutes face under /chutes/ (default true)",
		set: func(c *server.Config, v string) error { return setBool(&c.Faces.Chutes, v) }},
	{name: "face-bytenite", env: "COFFER_FACE_BYTENITE", boolean: true, usage: "serve the ByteNite face under /bytenite/ (default true)",
		set: func(c *server.Config, v string) error { return setBool(&c.Faces.ByteNite, v) }},
	{name: "face-vault", env: "COFFER_FACE_VAULT", boolean: true, usage: "serve the Vault KV v2 face under /vault/ (default true)",
		set: func(c *server.Config, v string) error { return setBool(&c.Faces.Vault, v) }},
	{name: "vault-addr", env: "COFFER_VAULT_ADDR", usage: "also serve the Vault API at the root of a listener of its own on this host:port, where VAULT_ADDR needs no path (default: none)",
		set: func(c *server.Config, v string) error { c.VaultAddr = v; return nil }},
	{name: "jwt-fetch", env: "COFFER_JWT_FETCH", boolean: true, usage: "let JWT trust configurations take their keys from an https JWKS or OIDC discovery URL, fetched by the server in the background (default true; false: only keys given in the configuration, since a tenant-given URL is a request from the server's network)",
		set: func(c *server.Config, v string) error {
			fetch := !c.JWTNoFetch
			if err := setBool(&fetch, v); err != nil {
				return err
			}
			c.JWTNoFetch = !fetch
			return nil
		}},
}

func lookupSetting(name string) *setting {
	for i := range settings {
		if settings[i].name == name {
			return &settings[i]
		}
	}
	return nil
}

func setDuration(d *time.Duration, v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration like 30s or 1h, not %q", v)
	}
	*d = x
	return nil
}

func setInt(n *int, v string) error {
	x, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("want an integer, not %q", v)
	}
	*n = x
	return nil
}

func setBool(b *bool, v string) error {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "1":
		*b = true
	case "false", "off", "no", "0":
		*b = false
	default:
		return fmt.Errorf("want true or false, not %q", v)
	}
	return nil
}

// configValue is one value of one setting and where it came from.
type configValue struct {
	name   string
	value  string
	origin string // "FILE:LINE", "COFFER_X" or "--x": what an error names
}

// parseConfig parses args (a subcommand's flags: the settings plus --config)
// and getenv, applies the file, the environment and the flags over c in that
// order, and validates the result. Errors name the key and where it was set.
func parseConfig(c *server.Config, cmd, usage string, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	configFile := getenv("COFFER_CONFIG")
	fs.StringVar(&configFile, "config", configFile, "configuration `FILE` (env COFFER_CONFIG); flags and the environment override it")
	var flags []configValue
	for i := range settings {
		st := &settings[i]
		add := func(v string) error {
			flags = append(flags, configValue{st.name, v, "--" + st.name})
			return nil
		}
		u := st.usage + " (env " + st.env + ")"
		if st.boolean {
			fs.BoolFunc(st.name, u, add)
		} else {
			fs.Func(st.name, u, add)
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var values []configValue
	if configFile != "" {
		f, err := os.Open(configFile)
		if err != nil {
			return fmt.Errorf("configuration file: %w", err)
		}
		fileValues, err := parseConfigFile(configFile, f)
		f.Close()
		if err != nil {
			return err
		}
		values = append(values, fileValues...)
		c.ConfigFile = configFile
	}
	for i := range settings {
		st := &settings[i]
		v := getenv(st.env)
		if v == "" {
			continue
		}
		if !st.list {
			values = append(values, configValue{st.name, v, st.env})
			continue
		}
		for _, part := range strings.Split(v, ";") {
			if part = strings.TrimSpace(part); part != "" {
				values = append(values, configValue{st.name, part, st.env})
			}
		}
	}
	values = append(values, flags...)
	for _, v := range values {
		if err := applySetting(c, v); err != nil {
			return err
		}
	}
	c.MasterKey = getenv("COFFER_MASTER_KEY")
	return c.Validate()
}

// applySetting sets one value and records where it was set, for errors.
func applySetting(c *server.Config, v configValue) error {
	st := lookupSetting(v.name)
	if err := st.set(c, v.value); err != nil {
		return fmt.Errorf("%s: %w", v.origin, err)
	}
	if c.Origins == nil {
		c.Origins = map[string]string{}
	}
	if !st.list {
		c.Origins[v.name] = v.origin
	} else if _, ok := c.Origins[v.name]; !ok {
		c.Origins[v.name] = v.origin
	}
	return nil
}

// parseConfigFile reads the configuration file format: one "key = value"
// per line, '#' starting a comment line, and [account ACCOUNT_ID] sections
// holding the per-account settings. Keys are the flag names. A value may
// be double-quoted (Go syntax) to keep leading or trailing spaces. A key
// that is not a list may be set once per file.
func parseConfigFile(name string, r io.Reader) ([]configValue, error) {
	var values []configValue
	seen := map[string]int{}
	account := ""
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		at := fmt.Sprintf("%s:%d", name, n)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			head, ok := strings.CutSuffix(line, "]")
			word, id, _ := strings.Cut(strings.TrimSpace(head[1:]), " ")
			id = strings.TrimSpace(id)
			if !ok || word != "account" || id == "" || strings.ContainsAny(id, " :\"") {
				return nil, fmt.Errorf("%s: bad section %s: the only section is [account ACCOUNT_ID]", at, line)
			}
			account = id
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: want key = value, not %q", at, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		st := lookupSetting(key)
		switch {
		case st == nil:
			return nil, fmt.Errorf("%s: unknown key %q", at, key)
		case account != "" && !st.account:
			return nil, fmt.Errorf("%s: %s cannot be set per account (in [account %s]); only cloudflare-limits and rate-limit can", at, key, account)
		}
		if strings.HasPrefix(value, `"`) {
			u, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: bad quoted value", at, key)
			}
			value = u
		}
		if !st.list {
			if prev, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s: %s is set twice (first at line %d)", at, key, prev)
			}
			seen[key] = n
		}
		if account != "" {
			if strings.Contains(value, ":") {
				return nil, fmt.Errorf("%s: %s in [account %s] must not name another account", at, key, account)
			}
			value = account + ":" + value
		}
		values = append(values, configValue{key, value, at})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return values, nil
}

// setOrigin parses a web origin: a scheme (http or https) and a host with
// an optional port, nothing else. It is kept in the form browsers send in
// the Origin header.
func setOrigin(dst *string, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("want an origin such as https://coffer.example.com or https://coffer.example.com:8443")
	}
	*dst = u.Scheme + "://" + strings.ToLower(u.Host)
	return nil
}
