package main

// coffer migrate: an offline admin command that opens two databases
// directly (no server) and copies one into the other (package migrate).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/coffer-dev/coffer/migrate"
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
	src, err := migrate.Endpoint(*from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	dst, err := migrate.Endpoint(*to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	m := &migrate.Migration{Src: src, Dst: dst, Out: env.Stdout}
	return m.Run(ctx)
}
