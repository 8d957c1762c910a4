// Package migrate copies a whole coffer database into an empty one, between
// SQLite and PostgreSQL or between two of either, offline ('coffer
// migrate'): it opens both sides (package engine), carries the master key
// between data directories, and copies and verifies the records
// (backup.Copy). It is a package of its own because it opens databases,
// which the file format of package backup does not.
package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/coffer-dev/coffer/backup"
	"github.com/coffer-dev/coffer/engine"
)

// Endpoint parses one side of a migration: a data directory, made
// absolute, or a PostgreSQL connection string (engine.Parse).
func Endpoint(s string) (*engine.Target, error) {
	t, err := engine.Parse(s)
	if err != nil || t.Kind() != engine.SQLite {
		return t, err
	}
	if t.Dir, err = filepath.Abs(s); err != nil {
		return nil, err
	}
	return t, nil
}

// Migration copies Src into Dst and reports to Out.
type Migration struct {
	Src, Dst *engine.Target
	Out      io.Writer
}

// Run copies the source into the empty destination and verifies the copy.
func (m *Migration) Run(ctx context.Context) error {
	if m.Src.Same(m.Dst) {
		return fmt.Errorf("source and destination are the same database (%s)", m.Src)
	}
	// Master keys first: a directory-to-directory copy carries SRC's key,
	// and refuses a DST that holds another one before anything is written.
	keyNote, copyKeys, err := m.planKeys()
	if err != nil {
		return err
	}
	src, err := m.open(ctx, m.Src, false)
	if err != nil {
		return err
	}
	defer src.Close()
	// A new SQLite database made for the copy goes again if the copy
	// fails, so that a retry, or a server, finds no half-made directory.
	dst, err := m.open(ctx, m.Dst, true)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if ok {
			dst.Close()
		} else {
			dst.Discard()
		}
	}()

	c := &backup.Copy{Src: m.Src.String(), Dst: m.Dst.String(), Out: m.Out,
		Redact: func(err error) string { return engine.Redact(err, m.Src, m.Dst) }}
	if err := c.Run(ctx, src, dst); err != nil {
		return err
	}
	ok = true
	fmt.Fprintf(m.Out, "\nVerified: the copy holds every record of the source, unchanged.\n")
	if copyKeys != nil {
		if err := copyKeys(); err != nil {
			return fmt.Errorf("the copy is complete, but copying the master key failed: %w; copy %s by hand", err, filepath.Join(m.Src.Dir, "master.key"))
		}
	}
	if keyNote != "" {
		fmt.Fprintf(m.Out, "%s\n", keyNote)
	}
	return nil
}

// planKeys checks the master key (and root token) files of data
// directories before anything is written. It returns what to tell the user
// about the key and, for a copy between data directories, the copy of the
// key files to make once the database is copied.
func (m *Migration) planKeys() (note string, copyKeys func() error, err error) {
	srcKey := ""
	if m.Src.Kind() == engine.SQLite {
		srcKey = filepath.Join(m.Src.Dir, "master.key")
		if _, err := os.Stat(srcKey); err != nil {
			srcKey = ""
		}
	}
	if m.Dst.Kind() == engine.PostgreSQL {
		if srcKey != "" {
			return "Servers of the destination need the source's master key: --master-key-file " + srcKey + " (or COFFER_MASTER_KEY).", nil, nil
		}
		return "Servers of the destination need the source's master key (--master-key-file or COFFER_MASTER_KEY).", nil, nil
	}
	dstKey := filepath.Join(m.Dst.Dir, "master.key")
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
		if err := writeNewFile(dstKey, want); err != nil {
			return err
		}
		// The root token is a key of the copied database: it works there too.
		if tok, err := os.ReadFile(filepath.Join(m.Src.Dir, "root.token")); err == nil {
			writeNewFile(filepath.Join(m.Dst.Dir, "root.token"), tok) //nolint:errcheck // a convenience; an existing file stays
		}
		return nil
	}, nil
}

// writeNewFile creates a new 0600 file with content, synced; it never
// overwrites one.
func writeNewFile(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// open opens one side. The source must exist; the destination is created
// when it is a new data directory.
func (m *Migration) open(ctx context.Context, t *engine.Target, create bool) (*engine.DB, error) {
	side := "source"
	if create {
		side = "destination"
	}
	if t.Kind() == engine.PostgreSQL {
		db, err := engine.OpenTarget(ctx, t, engine.Options{ApplicationName: engine.ToolApp})
		if err != nil {
			return nil, fmt.Errorf("open %s %s: %s", side, t, t.Redact(err))
		}
		if !create {
			// Servers writing on would make a copy that lacks their writes.
			// A server that has just stopped may still be listed for a
			// moment (PostgreSQL ends a backend after its client has
			// gone): ask again for a few seconds before refusing.
			n, err := db.ServerSessions(ctx)
			for try := 0; err == nil && n > 0 && try < 30; try++ {
				time.Sleep(100 * time.Millisecond)
				n, err = db.ServerSessions(ctx)
			}
			if err != nil {
				db.Close()
				return nil, fmt.Errorf("open %s %s: %s", side, t, t.Redact(err))
			}
			if n > 0 {
				db.Close()
				return nil, fmt.Errorf("%s %s is in use: coffer servers hold %d connections to it; stop every server first", side, t, n)
			}
		}
		return db, nil
	}
	if create {
		if err := os.MkdirAll(t.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", t.Dir, err)
		}
	} else if _, err := os.Stat(t.Path()); err != nil {
		return nil, fmt.Errorf("open %s: no coffer database at %s: %w", side, t.Path(), err)
	}
	db, err := engine.OpenTarget(ctx, t, engine.Options{})
	if errors.Is(err, engine.ErrInUse) {
		return nil, fmt.Errorf("%s %s is in use by a running coffer server: stop it first", side, t.Dir)
	} else if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", side, t, err)
	}
	return db, nil
}
