package backup

// This file holds what 'coffer backup', 'coffer restore' and 'coffer
// migrate' do with the format: write a file from a database's dump, load
// a verified file into a database, and copy one database into another;
// each reads its destination back and compares it with its source.

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/coffer-dev/coffer"
)

// DumpFunc streams a database into emit from one snapshot (coffer.Dumper's
// Dump).
type DumpFunc func(ctx context.Context, emit func(*coffer.Record) error) error

// SourceError is the cause of Create's error when the dump of the source
// failed; its message may name the database with its credentials, which
// the caller hides.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// Create writes the records that dump emits to a new backup file at path,
// with mode 0600, under a temporary name renamed when complete; it never
// replaces a file. The MAC is keyed from master, which must be one of the
// master keys that wrap the stores' data keys. It returns the trailer and
// the id of the MAC's key.
func Create(ctx context.Context, path string, hdr Header, master []byte, dump DumpFunc) (tr *Trailer, macKey string, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".coffer-backup-*")
	if err != nil {
		return nil, "", fmt.Errorf("create backup file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return nil, "", fmt.Errorf("create backup file: %w", err)
	}
	bw, err := NewWriter(f, hdr, master)
	if err != nil {
		return nil, "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := dump(ctx, bw.Add); err != nil {
		return nil, "", &SourceError{err}
	}
	tr, err = bw.Finish()
	if err == nil && len(tr.MasterKeys) > 0 && !slices.Contains(tr.MasterKeys, bw.macKey) {
		return nil, "", fmt.Errorf("the master key given (id %s) is not the database's: its stores' data keys are wrapped by %s; give that key (--master-key-file or COFFER_MASTER_KEY)", bw.macKey, KeyList(tr.MasterKeys))
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return nil, "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	// Refuse to replace a file that appeared meanwhile.
	if err := os.Link(f.Name(), path); err != nil {
		return nil, "", fmt.Errorf("write %s: %w", path, err)
	}
	os.Remove(f.Name())
	ok = true
	syncDir(dir)
	return tr, bw.macKey, nil
}

// syncDir makes a rename in dir durable; errors only cost durability.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// VerifyFile reads the whole backup file and checks it.
func VerifyFile(ctx context.Context, path string, keys Keys) (*Trailer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br, err := NewReader(f, keys)
	if err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := br.Next(); err == io.EOF {
			return br.Trailer(), nil
		} else if err != nil {
			return nil, err
		}
	}
}

// Restored is what Restore loaded.
type Restored struct {
	Header        Header
	Authenticated bool // the file had a MAC, and it verified
	Trailer       *Trailer
	IDShaped      IDShapedCount
}

// Restore loads the backup file in, verified as it is read, into the empty
// database db in one transaction, then reads db back and compares it with
// the file's trailer. dest names db in errors; redact hides the
// credentials in the message of an error of db's.
func Restore(ctx context.Context, in string, keys Keys, db coffer.Dumper, dest string, redact func(error) string) (*Restored, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br, err := NewReader(f, keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was written", in, err)
	}
	if err := db.Load(ctx, br.Next); err != nil {
		if coffer.ErrorCode(err) == coffer.ECONFLICT {
			return nil, fmt.Errorf("%s is not empty: restore loads only into an empty database (a new data directory, or a PostgreSQL database no server has started on); nothing was written", dest)
		}
		return nil, fmt.Errorf("restore into %s failed, nothing was written: %s", dest, redact(err))
	}
	tr := br.Trailer()

	// Read the database back and compare it with the file.
	back := coffer.NewDumpSummary()
	res := &Restored{Header: br.Header, Authenticated: br.Authenticated(), Trailer: tr}
	if err := db.Dump(ctx, func(r *coffer.Record) error { back.Add(r); res.IDShaped.Add(r); return nil }); err != nil {
		return nil, fmt.Errorf("read back %s: %s", dest, redact(err))
	}
	if got := hex.EncodeToString(back.Digest()); got != tr.Digest || back.Total() != tr.Total {
		return nil, fmt.Errorf("VERIFY FAILED: %s holds %d records (digest %s), the backup %d (digest %s); do not use it", dest, back.Total(), got, tr.Total, tr.Digest)
	}
	return res, nil
}

// Copy copies one database into another and verifies the copy: 'coffer
// migrate' without the opening of either side.
type Copy struct {
	// Src and Dst name the two databases in errors and in the report.
	Src, Dst string
	// Redact hides the credentials of either side in an error's message.
	Redact func(error) string
	// Out receives the report: counts per kind on each side and the digests.
	Out io.Writer
}

// Run loads the dump of src into the empty database dst, then reads dst
// back and compares it with what it read from src: counts per kind and
// the digest of every record.
func (c *Copy) Run(ctx context.Context, src, dst coffer.Dumper) error {
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
				return nil, fmt.Errorf("read %s: %w", c.Src, err)
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
			return fmt.Errorf("destination %s is not empty: migrate copies only into an empty database (a new data directory, or a PostgreSQL database no server has started on); nothing was written", c.Dst)
		}
		return fmt.Errorf("copy into %s failed, nothing was written: %s", c.Dst, c.Redact(loadErr))
	}

	// Verify: read DST back and compare with what was read from SRC.
	written := coffer.NewDumpSummary()
	var idShaped IDShapedCount
	if err := dst.Dump(ctx, func(r *coffer.Record) error { written.Add(r); idShaped.Add(r); return nil }); err != nil {
		return fmt.Errorf("read back %s: %s", c.Dst, c.Redact(err))
	}
	fmt.Fprintf(c.Out, "Copied %s\n    to %s\n\n", c.Src, c.Dst)
	fmt.Fprintf(c.Out, "  %-14s %10s %10s\n", "", "source", "copy")
	mismatch := false
	for _, k := range coffer.RecordKinds() {
		mark := ""
		if read.Count(k) != written.Count(k) {
			mark, mismatch = "  MISMATCH", true
		}
		fmt.Fprintf(c.Out, "  %-14s %10d %10d%s\n", k, read.Count(k), written.Count(k), mark)
	}
	fmt.Fprintf(c.Out, "\n  source digest  %x\n  copy digest    %x\n", read.Digest(), written.Digest())
	if mismatch || !bytes.Equal(read.Digest(), written.Digest()) {
		return fmt.Errorf("VERIFY FAILED: the copy in %s differs from the source; do not use it", c.Dst)
	}
	idShaped.Report(c.Out)
	return nil
}

// Print writes the counts of records by kind and the digest.
func (tr *Trailer) Print(w io.Writer) {
	for _, k := range coffer.RecordKinds() {
		fmt.Fprintf(w, "  %-14s %10d\n", k, tr.Counts[k.String()])
	}
	fmt.Fprintf(w, "\n  digest  %s\n", tr.Digest)
}

// KeyList names the master keys a backup needs, for messages.
func KeyList(ids []string) string {
	switch len(ids) {
	case 0:
		return "none: no store has a data key yet"
	case 1:
		return ids[0]
	}
	return fmt.Sprintf("any of %v", ids)
}

// IDShapedCount counts the secrets named like ids in a database read back
// after a migrate or a restore, which copy such data as it is: reported,
// never refused.
type IDShapedCount int

// Add counts r if it is a secret named like an id.
func (n *IDShapedCount) Add(r *coffer.Record) {
	if r.Secret != nil && coffer.IDShaped(r.Secret.Name) {
		*n++
	}
}

// Report tells the user about them, if any.
func (n IDShapedCount) Report(w io.Writer) {
	if n > 0 {
		fmt.Fprintf(w, "Note: %d secret(s) are named like an id (32 hex digits, or a UUID), which new secrets may not be; they keep working, and 'coffer doctor' lists them.\n", int(n))
	}
}
