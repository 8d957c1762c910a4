package sqlite_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/sqlite"
)

// TestDumpFile dumps a database through DumpFile while its owner writes
// on: every dump is a consistent snapshot, and once writes stop it equals
// the owner's own Dump record for record.
func TestDumpFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{HeadMAC: testMAC})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, st := fixture(t, db)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := put(ctx, db, st, fmt.Sprintf("s%d", (w+i)%6), fmt.Sprintf("v%d-%d", w, i)); err != nil {
					t.Errorf("put: %v", err)
					return
				}
			}
		})
	}
	for range 5 {
		checkSnapshot(t, path)
	}
	close(stop)
	wg.Wait()

	want := coffer.NewDumpSummary()
	if err := db.Dump(ctx, func(r *coffer.Record) error { want.Add(r); return nil }); err != nil {
		t.Fatal(err)
	}
	got := checkSnapshot(t, path)
	if !bytes.Equal(got.Digest(), want.Digest()) || got.Total() != want.Total() {
		t.Errorf("DumpFile of an idle database: got %d records, digest %x; want %d, %x (Dump)", got.Total(), got.Digest(), want.Total(), want.Digest())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed, the WAL is gone: DumpFile still reads it.
	if closed := checkSnapshot(t, path); !bytes.Equal(closed.Digest(), want.Digest()) {
		t.Errorf("DumpFile of a closed database: digest %x, want %x", closed.Digest(), want.Digest())
	}

	t.Run("ErrNotFound", func(t *testing.T) {
		if err := sqlite.DumpFile(ctx, filepath.Join(t.TempDir(), "none.db"), func(*coffer.Record) error { return nil }); err == nil {
			t.Error("DumpFile of a missing file: got nil error")
		}
	})
}

// checkSnapshot dumps path with DumpFile and checks that the dump is
// consistent: records in order, each secret's versions 1..Version, an
// audit chain that ends at the recorded head.
func checkSnapshot(t *testing.T, path string) *coffer.DumpSummary {
	t.Helper()
	sum := coffer.NewDumpSummary()
	var order coffer.RecordOrder
	latest := map[string]int{}
	seen := map[string]int{}
	var chain coffer.ChainVerifier
	var head *coffer.AuditHead
	err := sqlite.DumpFile(context.Background(), path, func(r *coffer.Record) error {
		if _, err := order.Check(r); err != nil {
			return err
		}
		sum.Add(r)
		switch {
		case r.Secret != nil:
			latest[r.Secret.ID] = r.Secret.Version
		case r.Version != nil:
			if seen[r.Version.SecretID]+1 != r.Version.Number {
				t.Errorf("secret %s: version %d after %d", r.Version.SecretID, r.Version.Number, seen[r.Version.SecretID])
			}
			seen[r.Version.SecretID] = r.Version.Number
		case r.Audit != nil:
			chain.Add(r.Audit)
		case r.AuditHead != nil:
			head = r.AuditHead
		}
		return nil
	})
	if err != nil {
		t.Fatalf("DumpFile: %v", err)
	}
	for id, n := range latest {
		if seen[id] != n {
			t.Errorf("secret %s: latest version %d, versions up to %d", id, n, seen[id])
		}
	}
	macOK := func(h *coffer.AuditHead) bool {
		return bytes.Equal(h.MAC, testMAC(append(binary.BigEndian.AppendUint64(nil, uint64(h.Seq)), h.Hash...)))
	}
	if rep := chain.Finish(head, macOK); !rep.OK || rep.Events == 0 {
		t.Errorf("audit chain of the snapshot: %+v", rep)
	}
	return sum
}
