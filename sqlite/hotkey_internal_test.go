package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestUseNoncePurges checks that the replay cache does not grow without
// end: once noncePurgeEvery has passed, a use deletes the expired entries
// and keeps the live ones.
func TestUseNoncePurges(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	count := func() int {
		t.Helper()
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM nonces`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 10 {
		if err := db.UseNonce(ctx, fmt.Sprint("old-", i), t0, t0.Add(time.Minute)); err != nil {
			t.Fatalf("UseNonce: %v", err)
		}
	}
	if err := db.UseNonce(ctx, "live", t0, t0.Add(time.Hour)); err != nil {
		t.Fatalf("UseNonce: %v", err)
	}
	if got := count(); got != 11 {
		t.Fatalf("entries: got %d, want 11", got)
	}
	// Within noncePurgeEvery of the first purge nothing is purged, even
	// expired entries.
	t1 := t0.Add(noncePurgeEvery / 2)
	if err := db.UseNonce(ctx, "early", t1, t1.Add(time.Minute)); err != nil {
		t.Fatalf("UseNonce: %v", err)
	}
	if got := count(); got != 12 {
		t.Fatalf("entries before a purge is due: got %d, want 12", got)
	}
	t2 := t0.Add(2 * time.Minute)
	if err := db.UseNonce(ctx, "new", t2, t2.Add(time.Minute)); err != nil {
		t.Fatalf("UseNonce: %v", err)
	}
	if got := count(); got != 2 { // live and new
		t.Fatalf("entries after the purge: got %d, want 2", got)
	}
	if err := db.UseNonce(ctx, "live", t2, t2.Add(time.Hour)); coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Fatalf("UseNonce of the live entry after the purge: got %v, want conflict", err)
	}
}
