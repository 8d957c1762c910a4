package main

// coffer backup and coffer restore: an online snapshot of a whole database
// into a file (package backup), and its load into an empty database.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/coffer-dev/coffer/backup"
	"github.com/coffer-dev/coffer/engine"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/server"
)

func init() {
	register("backup", command{Summary: "write a consistent snapshot of the whole database to a file (online)", Run: runBackup})
	register("restore", command{Summary: "load a backup file into an empty database", Run: runRestore})
}

const backupUsage = `Usage: coffer backup (--data DIR | --database URL) [--master-key-file FILE] --out FILE

Writes a consistent snapshot of a whole coffer database to FILE while the
server keeps running and writing: every setting, account, API key, store,
secret, version and audit event as of one moment. Writes that finish during
the backup are either wholly in it or not at all.

  --data DIR       the SQLite database DIR/coffer.db, read through a
                   read-only connection beside the running server (no lock
                   is taken; the server is not slowed but for disk reads)
  --database URL   a PostgreSQL database, read in one REPEATABLE READ
                   transaction

Values stay encrypted as stored: the backup is useless without the master
key, and the master key is NOT in it. Back up master.key (or wherever your
key lives) separately, and keep the two apart. The file is created with mode
0600, written under a temporary name and renamed when complete, and ends
with the counts of records, a SHA-256 digest of all of them, a checksum and
a MAC keyed from the master key, which 'coffer restore' verifies: a backup
edited by someone without the master key is refused. The master key comes
from --master-key-file, else COFFER_MASTER_KEY, else DIR/master.key; it must
be the database's (one that wraps its stores' data keys). Replay-cache
entries of signed requests that an SQLite server has not flushed yet (it
does every few seconds) are not in the backup.

Restore with: coffer restore --in FILE --data NEWDIR (or --database URL)
[--master-key-file FILE].

Flags:
`

const restoreUsage = `Usage: coffer restore --in FILE (--data NEWDIR | --database URL) [--master-key-file FILE]

Loads a file made by 'coffer backup' into an empty database: a new data
directory (its SQLite database NEWDIR/coffer.db) or a PostgreSQL database
that no server has started on. A database that holds anything is refused.
The file is verified in full first (MAC, counts, digest and checksum): a
damaged, truncated or edited file is refused before anything is written, and
the load is one transaction. The MAC needs the master key the backup names:
--master-key-file, else COFFER_MASTER_KEY, else NEWDIR/master.key. A backup
made by a coffer older than the MAC (format version 1) is refused unless
--accept-no-mac is given: nothing then shows that nobody edited it. Then
restore reads the database back and compares it with the file, record for
record.

The restored database needs the master key of the backed-up one (restore
prints its id): copy that master.key into NEWDIR, or start the server with
--master-key-file or COFFER_MASTER_KEY. API keys and tokens keep working,
and 'coffer audit verify' passes on the restored chain.

Flags:
`

// cliFlags parses a command's flags, printing usage for --help. It returns
// exitError{2} after a usage error.
func cliFlags(env *Env, name, usage string, fs *flag.FlagSet, args []string, ok func() bool) (help bool, err error) {
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {}
	err = fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(env.Stdout, usage)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		return true, nil
	case err == nil && (fs.NArg() > 0 || !ok()):
		fmt.Fprintf(env.Stderr, "coffer %s: wrong flags\n", name)
		fallthrough
	case err != nil:
		fmt.Fprintf(env.Stderr, "Run 'coffer %s --help' for usage.\n", name)
		return false, exitError{2}
	}
	return false, nil
}

func runBackup(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	data := fs.String("data", "", "the data `DIR` of an SQLite database")
	dbURL := fs.String("database", "", "a PostgreSQL `URL`")
	out := fs.String("out", "", "the backup `FILE` to write (must not exist)")
	keyFile := fs.String("master-key-file", "", "the database's master key `FILE`, which keys the backup's MAC (default $COFFER_MASTER_KEY, else DIR/master.key)")
	if help, err := cliFlags(env, "backup", backupUsage, fs, args, func() bool {
		return (*data == "") != (*dbURL == "") && *out != ""
	}); help || err != nil {
		return err
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("%s exists: give a new file name", *out)
	}
	master, err := backupMasterKey(env, *keyFile, *data)
	if err != nil {
		return err
	}
	defer envelope.Zero(master)

	t := &engine.Target{Dir: *data, URL: *dbURL}
	hdr := backup.Header{Created: time.Now().UTC(), Engine: string(t.Kind())}
	source := t.Name()
	if t.Kind() == engine.SQLite {
		source = t.Path()
	}
	// migrate's application name: the backup's session is not a server's.
	snap, err := engine.OpenSnapshot(ctx, t, engine.ToolApp)
	if err != nil {
		return fmt.Errorf("open %s: %s", source, t.Redact(err))
	}
	defer snap.Close()
	tr, macKey, err := backup.Create(ctx, *out, hdr, master, snap.Dump)
	var srcErr *backup.SourceError
	if errors.As(err, &srcErr) {
		return fmt.Errorf("back up %s: %s", source, t.Redact(srcErr.Err))
	} else if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Backed up %s (%s) to %s\n\n", source, hdr.Engine, *out)
	tr.Print(env.Stdout)
	fmt.Fprintf(env.Stdout, "\nValues are encrypted: restoring needs the master key (id %s), which is not in the backup.\nBack up the master key separately.\n", backup.KeyList(tr.MasterKeys))
	fmt.Fprintf(env.Stdout, "The backup is authenticated (MAC) with master key %s.\n", macKey)
	return nil
}

func runRestore(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	in := fs.String("in", "", "the backup `FILE` to read")
	data := fs.String("data", "", "a new data `DIR` for an SQLite database")
	dbURL := fs.String("database", "", "an empty PostgreSQL database's `URL`")
	keyFile := fs.String("master-key-file", "", "the master key `FILE` the backup is authenticated with (default $COFFER_MASTER_KEY, else NEWDIR/master.key)")
	noMAC := fs.Bool("accept-no-mac", false, "restore an old (format version 1) backup, which has no MAC: nothing shows it was not edited")
	if help, err := cliFlags(env, "restore", restoreUsage, fs, args, func() bool {
		return (*data == "") != (*dbURL == "") && *in != ""
	}); help || err != nil {
		return err
	}

	// Verify the whole file before touching the destination.
	keys := backup.Keys{NoMAC: *noMAC}
	if k, err := backupMasterKey(env, *keyFile, *data); err == nil {
		defer envelope.Zero(k)
		keys.Masters = [][]byte{k}
	} else if *keyFile != "" || env.Getenv("COFFER_MASTER_KEY") != "" || !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w; nothing was written", err)
	}
	tr, err := backup.VerifyFile(ctx, *in, keys)
	if err != nil {
		return fmt.Errorf("%s: %w; nothing was written", *in, err)
	}
	t := &engine.Target{Dir: *data, URL: *dbURL}
	dest := t.Name()
	// A master key already in NEWDIR must be one the backup needs.
	if *data != "" {
		if k, err := server.ReadKeyFile(filepath.Join(*data, "master.key")); err == nil {
			id := fmt.Sprintf("%08x", envelope.KeyID(k))
			envelope.Zero(k)
			if len(tr.MasterKeys) > 0 && !slices.Contains(tr.MasterKeys, id) {
				return fmt.Errorf("%s holds master key %s, but the backup needs %s; nothing was written", filepath.Join(*data, "master.key"), id, backup.KeyList(tr.MasterKeys))
			}
		}
		if err := os.MkdirAll(*data, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", *data, err)
		}
	}
	db, err := engine.OpenTarget(ctx, t, engine.Options{ApplicationName: engine.ToolApp})
	switch {
	case errors.Is(err, engine.ErrInUse):
		return fmt.Errorf("%s is in use by a running coffer server: restore only into a new directory", *data)
	case err != nil && t.Kind() == engine.SQLite:
		return fmt.Errorf("open %s: %w", t.Path(), err)
	case err != nil:
		return fmt.Errorf("open %s: %s", dest, t.Redact(err))
	}
	ok := false
	defer func() {
		if ok {
			db.Close()
		} else {
			db.Discard()
		}
	}()
	res, err := backup.Restore(ctx, *in, keys, db, dest, t.Redact)
	if err != nil {
		return err
	}
	ok = true
	fmt.Fprintf(env.Stdout, "Restored %s (%s, made %s)\n    into %s\n\n", *in, res.Header.Engine, res.Header.Created.Format(time.RFC3339), dest)
	res.Trailer.Print(env.Stdout)
	if res.Authenticated {
		fmt.Fprintf(env.Stdout, "\nAuthenticated: the backup's MAC (master key %s) verifies.\n", res.Header.MACKey)
	} else {
		fmt.Fprintf(env.Stdout, "\nNOT AUTHENTICATED: a format version 1 backup has no MAC (--accept-no-mac).\n")
	}
	fmt.Fprintf(env.Stdout, "Verified: the database holds every record of the backup, unchanged.\n")
	res.IDShaped.Report(env.Stdout)
	fmt.Fprintf(env.Stdout, "Its servers need the master key with id %s: copy that master.key into the data directory, or give --master-key-file or COFFER_MASTER_KEY.\n", backup.KeyList(tr.MasterKeys))
	return nil
}

// backupMasterKey reads the master key of backup and restore: from file,
// else COFFER_MASTER_KEY, else DIR/master.key. With none of them it returns
// an error that wraps os.ErrNotExist.
func backupMasterKey(env *Env, file, dir string) ([]byte, error) {
	if file != "" {
		return server.ReadKeyFile(file)
	}
	if v := env.Getenv("COFFER_MASTER_KEY"); v != "" {
		k, err := envelope.ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("COFFER_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	if dir == "" {
		return nil, fmt.Errorf("no master key: give --master-key-file or COFFER_MASTER_KEY (the backup's MAC is keyed from it): %w", os.ErrNotExist)
	}
	k, err := server.ReadKeyFile(filepath.Join(dir, "master.key"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no master key: %s does not exist; give --master-key-file or COFFER_MASTER_KEY (the backup's MAC is keyed from it): %w", filepath.Join(dir, "master.key"), os.ErrNotExist)
	}
	return k, err
}
