// Package doctor is 'coffer doctor': it checks what a server needs before
// and while it runs (the data directory and its permissions, the master
// key and whether it opens the database, the database's reachability,
// migration level and records, the TLS files, the clock) and says what to
// fix.
package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/engine"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/service"
)

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

// Config is what doctor checks: the server's configuration, and the
// server's own readers of key and CA files, so that doctor reads them as
// the server does.
type Config struct {
	ConfigFile    string // the configuration file, if any
	DataDir       string
	Database      string // a PostgreSQL URL; "" for SQLite in DataDir
	MasterKeyFile string
	MasterKey     string // COFFER_MASTER_KEY
	Addr          string
	DevTLS        bool
	TLSCert       string
	TLSKey        string
	TLSClientCA   string
	ClientKeyMaps int // the number of client certificate mappings

	// ReadKeyFile reads a master key file.
	ReadKeyFile func(path string) ([]byte, error)
	// OldMasterKeys reads the old master keys of a rotation.
	OldMasterKeys func() ([][]byte, error)
	// LoadCertPool reads a PEM bundle of CA certificates.
	LoadCertPool func(file string) error
}

// Run checks cfg and prints one line per check to w: ok, warn or FAIL,
// and for the last two what to do. It changes nothing, and may run next to
// a running server. It returns the number of failed checks, after saying
// how many.
func Run(ctx context.Context, cfg Config, w io.Writer) int {
	d := &doctor{w: w}
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
		fmt.Fprintf(w, "\n%d check(s) failed.\n", d.fails)
	}
	return d.fails
}

// checkDataDir checks the data directory and the files in it, and reports
// whether the directory is there.
func (d *doctor) checkDataDir(cfg Config) bool {
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
func (d *doctor) checkMasterKeyFile(cfg Config, dirOK bool) []byte {
	var src string
	var k []byte
	var err error
	switch {
	case cfg.MasterKeyFile != "":
		src = cfg.MasterKeyFile
		k, err = cfg.ReadKeyFile(cfg.MasterKeyFile)
	case cfg.MasterKey != "":
		src = "COFFER_MASTER_KEY"
		k, err = envelope.ParseKey(cfg.MasterKey)
	default:
		src = filepath.Join(cfg.DataDir, "master.key")
		k, err = cfg.ReadKeyFile(src)
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

func (d *doctor) checkDatabase(ctx context.Context, cfg Config, master []byte) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t := &engine.Target{Dir: cfg.DataDir, URL: cfg.Database}
	if !t.Exists() {
		d.warn("database", "no SQLite database in "+cfg.DataDir+" yet", "a first start creates it")
		return
	}
	db, err := engine.Inspect(ctx, t)
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
	known := db.KnownMigrations()

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
		old, err := cfg.OldMasterKeys()
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
				d.checkRecords(ctx, db, keyring) // records.go
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

func (d *doctor) checkTLS(cfg Config) {
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
		if err := cfg.LoadCertPool(cfg.TLSClientCA); err != nil {
			d.fail("tls", "--tls-client-ca: "+err.Error(), "give a PEM bundle of the CAs that sign client certificates")
		} else {
			d.ok("tls", "client CA %s loads (%d mapping(s))", cfg.TLSClientCA, cfg.ClientKeyMaps)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
