package main

// coffer migrate: an offline admin command that opens two databases
// directly (no server) and copies one into the other with coffer.Dumper.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
)

func init() {
	register("migrate", command{Summary: "copy a whole database between SQLite and PostgreSQL (offline)", Run: runMigrate})
}

const migrateUsage = `Usage: coffer migrate --from SRC --to DST

Copies a whole coffer database into an empty one: from the SQLite database of
a data directory into PostgreSQL, back, or between two of either. SRC and DST
are each a data directory (its SQLite database is DIR/coffer.db) or a
PostgreSQL URL (postgres://user@host:5432/db?sslmode=... or libpq's
"host=... dbname=..." form).

Everything is copied as it is stored: settings, accounts, principals, API keys
(revoked ones too), hotkeys, stores and their wrapped data keys, secrets in
every status, every version (destroyed ones stay destroyed), the audit log
with its hash chain and head, and the replay cache. Ids, times and version
numbers are kept, so keys and tokens keep working and 'coffer audit verify'
passes on the copy. No value is decrypted: the copy needs the same master key
as the original. When SRC and DST are both data directories, SRC/master.key
(and root.token) are copied along; otherwise give the servers of DST the key
of SRC (--master-key-file or COFFER_MASTER_KEY).

Stop every server of SRC first: writes made during or after the copy are not
in DST. A source in use is refused: an SQLite directory that a server holds,
or a PostgreSQL database with sessions of coffer servers (those named
application_name=coffer, the servers' default). DST must be empty (a new directory, or a database no
server has started on): migrate refuses to add to or overwrite data. The copy
is one transaction: if it fails, DST stays empty.

After the copy, migrate reads DST back and compares it with what it read from
SRC, record for record (counts and a SHA-256 of every field), and fails
loudly on any difference. It prints the counts and the digest.

Examples:
  coffer migrate --from ./coffer-data --to postgres://coffer@db.internal/coffer
  coffer migrate --from "host=/run/postgresql dbname=coffer" --to ./coffer-data-new

Flags:
`

func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {}
	from := fs.String("from", "", "source: a data `DIR` or a PostgreSQL URL")
	to := fs.String("to", "", "destination: a data `DIR` or a PostgreSQL URL (must be empty)")
	usage := func(w io.Writer) {
		fmt.Fprint(w, migrateUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(env.Stdout)
		return nil
	case err == nil && (fs.NArg() > 0 || *from == "" || *to == ""):
		fmt.Fprintln(env.Stderr, "coffer migrate: --from and --to are required, and nothing else")
		fallthrough
	case err != nil:
		fmt.Fprintln(env.Stderr, "Usage: coffer migrate --from SRC --to DST\nRun 'coffer migrate --help' for more.")
		return exitError{2}
	}
	src, err := parseEndpoint(*from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	dst, err := parseEndpoint(*to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	m := &migration{src: src, dst: dst, out: env.Stdout}
	return m.run(ctx)
}

// endpoint is one side of a migration: a data directory or a PostgreSQL
// database.
type endpoint struct {
	dir string // the data directory, for SQLite
	url string // the PostgreSQL URL or key=value string; may hold a password
	pg  *pgconn.Config
}

// conninfoRE matches libpq's key=value form: it starts with a keyword and
// '='. A directory whose name looks like that can be given as ./name.
var conninfoRE = regexp.MustCompile(`^\s*[a-z_]+\s*=`)

func parseEndpoint(s string) (*endpoint, error) {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") || conninfoRE.MatchString(s) {
		cfg, err := pgconn.ParseConfig(s)
		if err != nil {
			return nil, errors.New(redactErr(err, s))
		}
		return &endpoint{url: s, pg: cfg}, nil
	}
	if strings.Contains(s, "://") {
		return nil, fmt.Errorf("%q is neither a data directory nor a postgres:// URL", redactURL(s))
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return nil, err
	}
	return &endpoint{dir: abs}, nil
}

// String names the endpoint without a password.
func (e *endpoint) String() string {
	if e.pg == nil {
		return e.dir + " (SQLite)"
	}
	return redactURL(e.url) + " (PostgreSQL)"
}

func (e *endpoint) dbPath() string { return filepath.Join(e.dir, "coffer.db") }

// same reports whether a and b are one database.
func sameEndpoint(a, b *endpoint) bool {
	switch {
	case a.pg == nil && b.pg == nil:
		if a.dir == b.dir {
			return true
		}
		ai, aerr := os.Stat(a.dir)
		bi, berr := os.Stat(b.dir)
		return aerr == nil && berr == nil && os.SameFile(ai, bi)
	case a.pg != nil && b.pg != nil:
		return a.pg.Host == b.pg.Host && a.pg.Port == b.pg.Port && a.pg.Database == b.pg.Database
	}
	return false
}

// storage is an open database that can dump and load.
type storage interface {
	coffer.Storage
	coffer.Dumper
}

type migration struct {
	src, dst *endpoint
	out      io.Writer
}

func (m *migration) run(ctx context.Context) error {
	if sameEndpoint(m.src, m.dst) {
		return fmt.Errorf("source and destination are the same database (%s)", m.src)
	}
	// Master keys first: a directory-to-directory copy carries SRC's key,
	// and refuses a DST that holds another one before anything is written.
	keyNote, copyKeys, err := m.planKeys()
	if err != nil {
		return err
	}
	src, err := m.open(ctx, m.src, false)
	if err != nil {
		return err
	}
	defer src.Close()
	// A new SQLite database made for the copy goes again if the copy
	// fails, so that a retry, or a server, finds no half-made directory.
	newDB := m.dst.pg == nil && !exists(m.dst.dbPath())
	dst, err := m.open(ctx, m.dst, true)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		dst.Close()
		if !ok && newDB {
			for _, suffix := range []string{"", "-wal", "-shm", "-lock"} {
				os.Remove(m.dst.dbPath() + suffix)
			}
		}
	}()

	if err := m.copyAndVerify(ctx, src, dst); err != nil {
		return err
	}
	ok = true
	fmt.Fprintf(m.out, "\nVerified: the copy holds every record of the source, unchanged.\n")
	if copyKeys != nil {
		if err := copyKeys(); err != nil {
			return fmt.Errorf("the copy is complete, but copying the master key failed: %w; copy %s by hand", err, filepath.Join(m.src.dir, "master.key"))
		}
	}
	if keyNote != "" {
		fmt.Fprintf(m.out, "%s\n", keyNote)
	}
	return nil
}

// copyAndVerify loads the dump of src into dst, then reads dst back and
// compares it with what it read from src: counts per kind and the digest
// of every record.
func (m *migration) copyAndVerify(ctx context.Context, src, dst coffer.Dumper) error {
	// Copy, summing up what was read from SRC on the way.
	read := coffer.NewDumpSummary()
	recs := make(chan *coffer.Record, 256)
	dumpErr := make(chan error, 1)
	dumpCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(recs)
		dumpErr <- src.Dump(dumpCtx, func(r *coffer.Record) error {
			read.Add(r)
			select {
			case recs <- r:
				return nil
			case <-dumpCtx.Done():
				return dumpCtx.Err()
			}
		})
	}()
	loadErr := dst.Load(ctx, func() (*coffer.Record, error) {
		r, ok := <-recs
		if !ok {
			if err := <-dumpErr; err != nil {
				return nil, fmt.Errorf("read %s: %w", m.src, err)
			}
			return nil, io.EOF
		}
		return r, nil
	})
	cancel()
	for range recs { // let Dump return if Load stopped early
	}
	if loadErr != nil {
		if coffer.ErrorCode(loadErr) == coffer.ECONFLICT {
			return fmt.Errorf("destination %s is not empty: migrate copies only into an empty database (a new data directory, or a PostgreSQL database no server has started on); nothing was written", m.dst)
		}
		return fmt.Errorf("copy into %s failed, nothing was written: %s", m.dst, redactErr(loadErr, m.src.url, m.dst.url))
	}

	// Verify: read DST back and compare with what was read from SRC.
	written := coffer.NewDumpSummary()
	var idShaped idShapedCount
	if err := dst.Dump(ctx, func(r *coffer.Record) error { written.Add(r); idShaped.add(r); return nil }); err != nil {
		return fmt.Errorf("read back %s: %s", m.dst, redactErr(err, m.dst.url))
	}
	fmt.Fprintf(m.out, "Copied %s\n    to %s\n\n", m.src, m.dst)
	fmt.Fprintf(m.out, "  %-14s %10s %10s\n", "", "source", "copy")
	mismatch := false
	for _, k := range coffer.RecordKinds() {
		mark := ""
		if read.Count(k) != written.Count(k) {
			mark, mismatch = "  MISMATCH", true
		}
		fmt.Fprintf(m.out, "  %-14s %10d %10d%s\n", k, read.Count(k), written.Count(k), mark)
	}
	fmt.Fprintf(m.out, "\n  source digest  %x\n  copy digest    %x\n", read.Digest(), written.Digest())
	if mismatch || !bytes.Equal(read.Digest(), written.Digest()) {
		return fmt.Errorf("VERIFY FAILED: the copy in %s differs from the source; do not use it", m.dst)
	}
	idShaped.report(m.out)
	return nil
}

// planKeys checks the master key (and root token) files of data
// directories before anything is written. It returns what to tell the user
// about the key and, for a copy between data directories, the copy of the
// key files to make once the database is copied.
func (m *migration) planKeys() (note string, copyKeys func() error, err error) {
	srcKey := ""
	if m.src.pg == nil {
		srcKey = filepath.Join(m.src.dir, "master.key")
		if _, err := os.Stat(srcKey); err != nil {
			srcKey = ""
		}
	}
	if m.dst.pg != nil {
		if srcKey != "" {
			return "Servers of the destination need the source's master key: --master-key-file " + srcKey + " (or COFFER_MASTER_KEY).", nil, nil
		}
		return "Servers of the destination need the source's master key (--master-key-file or COFFER_MASTER_KEY).", nil, nil
	}
	dstKey := filepath.Join(m.dst.dir, "master.key")
	have, err := os.ReadFile(dstKey)
	haveKey := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("read %s: %w", dstKey, err)
	}
	if srcKey == "" {
		if haveKey {
			return "Make sure " + dstKey + " is the source's master key: the copy needs it.", nil, nil
		}
		return "Give the destination the source's master key: copy it to " + dstKey + ", or start the server with --master-key-file or COFFER_MASTER_KEY.", nil, nil
	}
	want, err := os.ReadFile(srcKey)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", srcKey, err)
	}
	if haveKey {
		if !bytes.Equal(bytes.TrimSpace(have), bytes.TrimSpace(want)) {
			return "", nil, fmt.Errorf("%s holds another master key than %s: the copy would be unreadable there; use a new directory", dstKey, srcKey)
		}
		return "", nil, nil
	}
	note = "Copied " + srcKey + " to " + dstKey + "."
	return note, func() error {
		if err := writeSecretFile(dstKey, string(want)); err != nil {
			return err
		}
		// The root token is a key of the copied database: it works there too.
		if tok, err := os.ReadFile(filepath.Join(m.src.dir, "root.token")); err == nil {
			writeSecretFile(filepath.Join(m.dst.dir, "root.token"), string(tok)) //nolint:errcheck // a convenience; an existing file stays
		}
		return nil
	}, nil
}

// open opens one side. The source must exist; the destination is created
// when it is a new data directory.
func (m *migration) open(ctx context.Context, e *endpoint, create bool) (storage, error) {
	side := "source"
	if create {
		side = "destination"
	}
	if e.pg != nil {
		db, err := postgres.Open(ctx, migrateConnString(e.url), postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("open %s %s: %s", side, e, redactErr(err, e.url))
		}
		if !create {
			// Servers writing on would make a copy that lacks their writes.
			n, err := db.ServerSessions(ctx)
			if err != nil {
				db.Close()
				return nil, fmt.Errorf("open %s %s: %s", side, e, redactErr(err, e.url))
			}
			if n > 0 {
				db.Close()
				return nil, fmt.Errorf("%s %s is in use: coffer servers hold %d connections to it; stop every server first", side, e, n)
			}
		}
		return db, nil
	}
	if create {
		if err := os.MkdirAll(e.dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", e.dir, err)
		}
	} else if _, err := os.Stat(e.dbPath()); err != nil {
		return nil, fmt.Errorf("open %s: no coffer database at %s: %w", side, e.dbPath(), err)
	}
	db, err := sqlite.Open(ctx, e.dbPath(), sqlite.Options{})
	if errors.Is(err, sqlite.ErrInUse) {
		return nil, fmt.Errorf("%s %s is in use by a running coffer server: stop it first", side, e.dir)
	} else if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", side, e, err)
	}
	return db, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// migrateApp is the application_name of migrate's own sessions, which
// postgres.DB.ServerSessions does not count.
const migrateApp = "coffer-migrate"

// migrateConnString sets application_name in a postgres:// URL or
// key=value string to migrateApp.
func migrateConnString(s string) string {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("application_name", migrateApp)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return s + " application_name=" + migrateApp // the last setting of a keyword wins
}

// redactURL hides the password of a postgres:// URL or key=value string.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return passwordRE.ReplaceAllString(s, "${1}xxxxx")
}

// passwordRE matches the value of a password keyword in key=value form,
// quoted or not.
var passwordRE = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// redactErr returns err's message with the passwords of the given
// connection strings hidden, wherever they appear in it.
func redactErr(err error, conns ...string) string {
	msg := err.Error()
	for _, c := range conns {
		if c == "" {
			continue
		}
		if cfg, perr := pgconn.ParseConfig(c); perr == nil && cfg.Password != "" {
			msg = strings.ReplaceAll(msg, cfg.Password, "xxxxx")
			msg = strings.ReplaceAll(msg, url.QueryEscape(cfg.Password), "xxxxx")
			msg = strings.ReplaceAll(msg, url.PathEscape(cfg.Password), "xxxxx")
		}
		msg = strings.ReplaceAll(msg, c, redactURL(c))
	}
	return msg
}
