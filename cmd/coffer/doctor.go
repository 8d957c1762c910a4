package main

// This file holds 'coffer doctor', which checks what a server needs before
// and while it runs, and 'coffer health', the container's health check.

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func init() {
	register("doctor", command{Summary: "check the data directory, keys, database and TLS files, and say what to fix", Run: runDoctor})
	register("health", command{Summary: "exit 0 if the server at COFFER_ADDR answers /readyz (for container health checks)", Run: runHealth})
}

const doctorUsage = `Usage: coffer doctor [--config FILE] [server flags]

Checks what the server would use with the same configuration (file,
environment and flags, as 'coffer server' reads them): the data directory
and its permissions, the master key and whether it opens the database, the
database's reachability and migration level, the TLS files and their expiry,
and the clock. It changes nothing and may run next to a running server.

Each check prints one line: ok, warn or FAIL, and for the last two what to
do. The exit status is 1 if any check failed.

Flags:
`

// Clock skew limits: Chutes accepts signed requests whose nonce is within
// ten minutes of the server's clock, and tokens and secrets expire by it.
const (
	skewWarn = 2 * time.Second
	skewFail = 5 * time.Minute
)

// doctor collects check results.
type doctor struct {
	w     io.Writer
	fails int
}

func (d *doctor) ok(check, format string, args ...any) {
	fmt.Fprintf(d.w, "ok    %-14s %s\n", check, fmt.Sprintf(format, args...))
}

func (d *doctor) warn(check, msg, fix string) {
	fmt.Fprintf(d.w, "warn  %-14s %s\n", check, msg)
	if fix != "" {
		fmt.Fprintf(d.w, "      %-14s fix: %s\n", "", fix)
	}
}

func (d *doctor) fail(check, msg, fix string) {
	d.fails++
	fmt.Fprintf(d.w, "FAIL  %-14s %s\n", check, msg)
	if fix != "" {
		fmt.Fprintf(d.w, "      %-14s fix: %s\n", "", fix)
	}
}

func runDoctor(ctx context.Context, env *Env, args []string) error {
	cfg := DefaultServerConfig()
	if err := parseConfig(&cfg, "doctor", doctorUsage, args, env.Getenv, env.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		fmt.Fprintf(env.Stdout, "FAIL  %-14s %v\n", "config", err)
		return exitError{1}
	}
	d := &doctor{w: env.Stdout}
	if cfg.ConfigFile != "" {
		d.ok("config", "%s parses and validates", cfg.ConfigFile)
	} else {
		d.ok("config", "no configuration file; defaults, environment and flags validate")
	}
	dirOK := d.checkDataDir(cfg)
	master := d.checkMasterKeyFile(cfg, dirOK)
	d.checkDatabase(ctx, cfg, master)
	d.checkTLS(cfg)
	d.checkClock()
	if master != nil {
		envelope.Zero(master)
	}
	if d.fails > 0 {
		fmt.Fprintf(env.Stdout, "\n%d check(s) failed.\n", d.fails)
		return exitError{1}
	}
	return nil
}

// checkDataDir checks the data directory and the files in it, and reports
// whether the directory is there.
func (d *doctor) checkDataDir(cfg ServerConfig) bool {
	dir := cfg.DataDir
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.fail("data dir", dir+" does not exist", "create it for the server's user: install -d -m 700 -o coffer "+dir+" (or start the server once)")
		return false
	case err != nil:
		d.fail("data dir", err.Error(), "make "+dir+" readable by the server's user")
		return false
	case !fi.IsDir():
		d.fail("data dir", dir+" is not a directory", "point --data at a directory")
		return false
	}
	bad := false
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		d.fail("data dir", fmt.Sprintf("%s is mode %04o: other users can reach the keys", dir, perm), "chmod 700 "+dir)
		bad = true
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() {
		d.warn("data dir", fmt.Sprintf("%s is owned by uid %d, not by the user running doctor (uid %d)", dir, uid, os.Geteuid()),
			"run doctor as the server's user (sudo -u coffer coffer doctor ...) or chown -R that user "+dir)
	}
	if !writable(dir) {
		d.fail("data dir", dir+" is not writable by this user", "chown the directory to the server's user")
		bad = true
	}
	for _, name := range []string{"master.key", "root.token", "coffer.db", "tls/key.pem"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			d.fail("data dir", fmt.Sprintf("%s is mode %04o", p, perm), "chmod 600 "+p)
			bad = true
		}
	}
	if !bad {
		d.ok("data dir", "%s: mode 0700, files private", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.token")); err == nil {
		d.warn("root token", filepath.Join(dir, "root.token")+" holds the root API key in clear",
			"keep the key in your password manager, make per-person keys (coffer key create), then delete the file")
	}
	return true
}

// checkMasterKeyFile finds and parses the master key as the server would,
// without creating one. It returns the key, or nil.
func (d *doctor) checkMasterKeyFile(cfg ServerConfig, dirOK bool) []byte {
	var src string
	var k []byte
	var err error
	switch {
	case cfg.MasterKeyFile != "":
		src = cfg.MasterKeyFile
		k, err = readKeyFile(cfg.MasterKeyFile)
	case cfg.MasterKey != "":
		src = "COFFER_MASTER_KEY"
		k, err = envelope.ParseKey(cfg.MasterKey)
	default:
		src = filepath.Join(cfg.DataDir, "master.key")
		k, err = readKeyFile(src)
		if errors.Is(err, fs.ErrNotExist) {
			if cfg.Database == "" && dirOK && !exists(filepath.Join(cfg.DataDir, "coffer.db")) {
				d.warn("master key", "no master key and no database yet", "a first start creates both; back master.key up right after")
				return nil
			}
			d.fail("master key", src+" is missing", "restore master.key from your backup into "+cfg.DataDir+
				" (mode 600), or give the key with --master-key-file or COFFER_MASTER_KEY; without it the data cannot be read")
			return nil
		}
	}
	if err != nil {
		d.fail("master key", fmt.Sprintf("%s: %v", src, err), "the key is 64 hex digits or base64 of 32 bytes; restore it from your backup")
		return nil
	}
	if src != "COFFER_MASTER_KEY" {
		if fi, err := os.Stat(src); err == nil && fi.Mode().Perm()&0o077 != 0 {
			d.fail("master key", fmt.Sprintf("%s is mode %04o", src, fi.Mode().Perm()), "chmod 600 "+src)
		}
	}
	d.ok("master key", "present (%s)", src)
	return k
}

// doctorDB is a read-only look at a database: it neither migrates nor
// locks it, so doctor runs next to a server.
type doctorDB interface {
	// Migrations lists the applied migrations (none for a new database).
	Migrations(ctx context.Context) ([]string, error)
	Meta(ctx context.Context, key string) ([]byte, error)
	// eachRow runs a query without arguments and calls fn with each row
	// (doctor_records.go).
	eachRow(ctx context.Context, query string, fn func(rowScanner) error) error
	// Now is the database server's clock, when it has its own.
	Now(ctx context.Context) (time.Time, bool, error)
	Close()
}

func (d *doctor) checkDatabase(ctx context.Context, cfg ServerConfig, master []byte) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var db doctorDB
	var known []string
	var err error
	if cfg.Database == "" {
		path := filepath.Join(cfg.DataDir, "coffer.db")
		if !exists(path) {
			d.warn("database", "no SQLite database in "+cfg.DataDir+" yet", "a first start creates it")
			return
		}
		known = sqlite.MigrationNames()
		db, err = openSQLiteDoctor(path)
	} else {
		known = postgres.MigrationNames()
		db, err = openPostgresDoctor(ctx, cfg.Database)
	}
	if err != nil {
		d.fail("database", err.Error(), "check the URL, that the database server runs and is reachable from here, and the credentials")
		return
	}
	defer db.Close()
	applied, err := db.Migrations(ctx)
	if err != nil {
		d.fail("database", err.Error(), "check the URL, that the database server runs and is reachable from here, and the credentials")
		return
	}
	d.ok("database", "%s reachable", map[bool]string{true: "SQLite", false: "PostgreSQL"}[cfg.Database == ""])

	var unknown, pending []string
	for _, n := range applied {
		if !slices.Contains(known, n) {
			unknown = append(unknown, n)
		}
	}
	for _, n := range known {
		if !slices.Contains(applied, n) {
			pending = append(pending, n)
		}
	}
	switch {
	case len(unknown) > 0:
		d.fail("migrations", "the database has migrations this coffer does not know: "+strings.Join(unknown, ", "),
			"a newer coffer migrated it: run that version (downgrading is not supported)")
	case len(applied) == 0:
		d.warn("migrations", "the database is empty", "a first start creates the tables")
	case len(pending) > 0:
		d.warn("migrations", fmt.Sprintf("%d of %d migrations pending (%s)", len(pending), len(known), strings.Join(pending, ", ")),
			"the server applies them at start; back the database up first")
	default:
		d.ok("migrations", "up to date (%s)", applied[len(applied)-1])
	}

	if master != nil && len(applied) > 0 {
		old, err := loadOldMasterKeys(cfg)
		var keyring *envelope.Keyring
		if err == nil {
			keyring, err = envelope.NewKeyring(slices.Clone(master), old...)
			for _, k := range old {
				envelope.Zero(k)
			}
		}
		if err != nil {
			d.fail("master key", err.Error(), "")
		} else if err := service.CheckMasterKey(ctx, db, keyring); errors.Is(err, service.ErrWrongMasterKey) {
			d.fail("master key", "does not match the database: "+err.Error(),
				"give the key this database was created with (restore master.key, --master-key-file or COFFER_MASTER_KEY)")
		} else if err != nil {
			d.fail("master key", err.Error(), "")
		} else {
			d.ok("master key", "opens the database")
			if len(pending) == 0 && len(unknown) == 0 {
				d.checkRecords(ctx, db, keyring) // doctor_records.go
			}
		}
	}
	if len(applied) > 0 {
		d.checkIDShapedNames(ctx, db)
	}
	if now, ok, err := db.Now(ctx); err == nil && ok {
		skew := time.Since(now)
		d.skew("clock vs db", skew.Abs(), "the database server's clock")
	}
}

func (d *doctor) skew(check string, skew time.Duration, ref string) {
	msg := fmt.Sprintf("%s off %s's", skew.Round(time.Millisecond), ref)
	switch {
	case skew > skewFail:
		d.fail(check, "this clock is "+msg+": signed Chutes requests (10 minute nonce window) and token expiry go wrong",
			"run NTP on both hosts (timedatectl set-ntp true)")
	case skew > skewWarn:
		d.warn(check, "this clock is "+msg, "run NTP on both hosts (timedatectl set-ntp true)")
	default:
		d.ok(check, "within %s of %s", skewWarn, ref)
	}
}

// checkClock asks the kernel whether NTP keeps the clock synchronized.
func (d *doctor) checkClock() {
	synced, known := clockSynchronized()
	switch {
	case !known:
		d.warn("clock", "cannot tell whether the clock is synchronized", "run NTP; signatures and expiry depend on the clock")
	case !synced:
		d.warn("clock", "the kernel reports the clock as not synchronized",
			"enable NTP (timedatectl set-ntp true): signed Chutes requests fail beyond 10 minutes of skew")
	default:
		d.ok("clock", "synchronized (NTP)")
	}
}

func (d *doctor) checkTLS(cfg ServerConfig) {
	host, _, _ := net.SplitHostPort(cfg.Addr)
	switch {
	case cfg.DevTLS:
		d.warn("tls", "--dev-tls serves a self-signed certificate", "for production give --tls-cert and --tls-key from your CA")
		return
	case cfg.TLSCert == "":
		if !isLoopback(host) {
			d.fail("tls", "plain HTTP on the non-loopback address "+cfg.Addr+": tokens and values cross the network in clear",
				"give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy")
		} else {
			d.ok("tls", "off; listening on loopback only (%s)", cfg.Addr)
		}
		return
	}
	pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		d.fail("tls", err.Error(), "give a PEM certificate and its matching key, readable by the server's user")
		return
	}
	left := time.Until(pair.Leaf.NotAfter)
	until := pair.Leaf.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case left <= 0:
		d.fail("tls", cfg.TLSCert+" expired at "+until, "renew it, then reload the server (systemctl reload coffer, or SIGHUP)")
	case left < 14*24*time.Hour:
		d.warn("tls", fmt.Sprintf("%s expires in %s (%s)", cfg.TLSCert, left.Round(time.Hour), until), "renew it, then reload the server (SIGHUP)")
	case time.Now().Before(pair.Leaf.NotBefore):
		d.fail("tls", cfg.TLSCert+" is not valid before "+pair.Leaf.NotBefore.UTC().Format(time.RFC3339), "check the clock, or the certificate")
	default:
		d.ok("tls", "%s valid until %s", cfg.TLSCert, until)
	}
	if fi, err := os.Stat(cfg.TLSKey); err == nil && fi.Mode().Perm()&0o077 != 0 {
		d.fail("tls", fmt.Sprintf("%s is mode %04o", cfg.TLSKey, fi.Mode().Perm()), "chmod 600 "+cfg.TLSKey)
	}
	if cfg.TLSClientCA != "" {
		if _, err := loadCertPool(cfg.TLSClientCA); err != nil {
			d.fail("tls", "--tls-client-ca: "+err.Error(), "give a PEM bundle of the CAs that sign client certificates")
		} else {
			d.ok("tls", "client CA %s loads (%d mapping(s))", cfg.TLSClientCA, len(cfg.TLSClientKeyMap))
		}
	}
}

// sqliteDoctor reads an SQLite database through a read-only connection,
// beside the server's lock.
type sqliteDoctor struct{ db *sql.DB }

func openSQLiteDoctor(path string) (*sqliteDoctor, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &sqliteDoctor{db}, nil
}

func (s *sqliteDoctor) Migrations(ctx context.Context) ([]string, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read SQLite database: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	return collectNames(s.db.QueryContext(ctx, `SELECT name FROM migrations ORDER BY name`))
}

func collectNames(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func (s *sqliteDoctor) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "no meta %s", key)
	}
	return v, err
}

func (s *sqliteDoctor) Now(context.Context) (time.Time, bool, error) { return time.Time{}, false, nil }
func (s *sqliteDoctor) Close()                                       { s.db.Close() }

// postgresDoctor reads a PostgreSQL database over one connection.
type postgresDoctor struct{ pool *pgxpool.Pool }

func openPostgresDoctor(ctx context.Context, url string) (*postgresDoctor, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL and its password.
		return nil, errors.New("the PostgreSQL URL does not parse")
	}
	cfg.MaxConns = 1
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &postgresDoctor{pool}, nil
}

func (p *postgresDoctor) Migrations(ctx context.Context) ([]string, error) {
	var exists bool
	if err := p.pool.QueryRow(ctx, `SELECT to_regclass('migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read PostgreSQL database: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p *postgresDoctor) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := p.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "no meta %s", key)
	}
	return v, err
}

func (p *postgresDoctor) Now(ctx context.Context) (time.Time, bool, error) {
	var t time.Time
	start := time.Now()
	if err := p.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, false, err
	}
	// Compare with the middle of the round trip.
	return t.Add(time.Since(start) / 2), true, nil
}

func (p *postgresDoctor) Close() { p.pool.Close() }

const healthUsage = `Usage: coffer health [--addr URL] [--cacert FILE]

Asks the server's /readyz and exits 0 when it is ready, 1 otherwise. The
container image's HEALTHCHECK runs it: the image has no curl.
`

func runHealth(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprint(env.Stderr, healthUsage); fs.PrintDefaults() }
	addr := fs.String("addr", cliFirstNonEmpty(env.Getenv("COFFER_ADDR"), cliDefaultAddr), "server `URL`")
	cacert := fs.String("cacert", env.Getenv("COFFER_CACERT"), "PEM `FILE` of CA certificates to trust for https://")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	hc := &http.Client{Timeout: *timeout}
	if *cacert != "" {
		var err error
		if hc, err = cliTLSClient(*cacert); err != nil {
			return err
		}
		hc.Timeout = *timeout
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(*addr, "/")+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("bad --addr: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", resp.Status)
	}
	fmt.Fprintln(env.Stdout, "ready")
	return nil
}
