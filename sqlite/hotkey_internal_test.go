package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func countNonces(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.read.QueryRowContext(context.Background(), `SELECT count(*) FROM nonce_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitNonces waits for the flusher to have persisted want entries.
func waitNonces(t *testing.T, db *DB, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := countNonces(t, db)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("persisted nonces: got %d, want %d", got, want)
		}
		time.Sleep(nonceFlushDelay)
	}
}

// TestUseNoncePurges checks that the replay cache does not grow without
// end: once noncePurgeEvery has passed, the flush deletes the expired
// entries from the table and keeps the live ones, and memory forgets them
// too.
func TestUseNoncePurges(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 10 {
		if err := db.UseNonce(ctx, fmt.Sprint("old-", i), t0, t0.Add(time.Minute)); err != nil {
			t.Fatalf("UseNonce: %v", err)
		}
	}
	if err := db.UseNonce(ctx, "live", t0, t0.Add(time.Hour)); err != nil {
		t.Fatalf("UseNonce: %v", err)
	}
	waitNonces(t, db, 11)
	// Within noncePurgeEvery of the first purge nothing is purged, even
	// expired entries.
	t1 := t0.Add(noncePurgeEvery / 2)
	if err := db.UseNonce(ctx, "early", t1, t1.Add(time.Minute)); err != nil {
		t.Fatalf("UseNonce: %v", err)
	}
	waitNonces(t, db, 12)
	t2 := t0.Add(2 * time.Minute)
	if err := db.UseNonce(ctx, "new", t2, t2.Add(time.Minute)); err != nil {
		t.Fatalf("UseNonce: %v", err)
	}
	waitNonces(t, db, 2) // live and new
	if err := db.UseNonce(ctx, "live", t2, t2.Add(time.Hour)); coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Fatalf("UseNonce of the live entry after the purge: got %v, want conflict", err)
	}
	live := 0
	for i := range db.nonces.shards {
		live += len(db.nonces.shards[i].m)
	}
	// Shards sweep when they are next used after noncePurgeEvery, so
	// some expired entries may linger in shards not used since; never
	// more than were written.
	if live < 2 || live > 13 {
		t.Fatalf("entries in memory: %d, want between 2 and 13", live)
	}
}

// TestUseNonceSurvivesRestart checks that a use is remembered across Close
// and Open: Close flushes, Open loads the live uses and not the expired.
func TestUseNonceSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Now()
	for i := range 100 {
		if err := db.UseNonce(ctx, fmt.Sprint("k", i), now, now.Add(time.Hour)); err != nil {
			t.Fatalf("UseNonce: %v", err)
		}
	}
	if err := db.UseNonce(ctx, "expired", now.Add(-time.Hour), now.Add(-time.Minute)); err != nil {
		t.Fatalf("UseNonce: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.UseNonce(ctx, "after-close", now, now.Add(time.Hour)); coffer.ErrorCode(err) != coffer.EUNAVAILABLE {
		t.Fatalf("UseNonce after Close: got %v, want unavailable", err)
	}

	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	for i := range 100 {
		if err := db.UseNonce(ctx, fmt.Sprint("k", i), now.Add(time.Second), now.Add(time.Hour)); coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Fatalf("UseNonce of k%d after restart: got %v, want conflict", i, err)
		}
	}
	if err := db.UseNonce(ctx, "expired", now, now.Add(time.Hour)); err != nil {
		t.Fatalf("UseNonce of an expired key after restart: %v", err)
	}
}

// TestUseNonceFull checks that a full cache refuses new uses rather than
// forgetting old ones, and takes uses again once entries expire.
func TestUseNonceFull(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{MaxNonces: nonceShards})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	now := time.Now()
	// One entry a shard: every key past the first of its shard is refused.
	shards := map[byte]bool{}
	for i := range 10 * nonceShards {
		shards[digestNonce(fmt.Sprint("k", i))[0]%nonceShards] = true
	}
	round := func(at time.Time) (refused int) {
		for i := range 10 * nonceShards {
			err := db.UseNonce(ctx, fmt.Sprint("k", i), at, at.Add(time.Minute))
			switch coffer.ErrorCode(err) {
			case "":
			case coffer.EUNAVAILABLE:
				refused++
			default:
				t.Fatalf("UseNonce: %v", err)
			}
		}
		return refused
	}
	want := 10*nonceShards - len(shards)
	if got := round(now); got != want {
		t.Fatalf("refused uses: got %d, want %d", got, want)
	}
	// Once the entries expire, each shard takes one use again.
	if got := round(now.Add(2 * time.Minute)); got != want {
		t.Fatalf("refused uses after expiry: got %d, want %d", got, want)
	}
}

// TestLegacyNoncesMove checks that the uses in the table nonces, where
// they were kept before migration 0008, are still refused after an
// upgrade, and move to nonce_log.
func TestLegacyNoncesMove(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Now()
	for _, row := range []struct {
		key string
		exp time.Time
	}{{"live", now.Add(time.Hour)}, {"expired", now.Add(-time.Hour)}} {
		if _, err := db.conn.ExecContext(ctx, `INSERT INTO nonces (key, expires) VALUES (?, ?)`, row.key, row.exp.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if err := db.UseNonce(ctx, "live", now, now.Add(time.Hour)); coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Fatalf("UseNonce of a legacy live use: got %v, want conflict", err)
	}
	if err := db.UseNonce(ctx, "expired", now, now.Add(time.Hour)); err != nil {
		t.Fatalf("UseNonce of a legacy expired use: %v", err)
	}
	var legacy int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM nonces`).Scan(&legacy); err != nil {
		t.Fatal(err)
	}
	if legacy != 0 {
		t.Fatalf("rows left in nonces: %d", legacy)
	}
	waitNonces(t, db, 2) // live, moved, and expired, used again
}

// TestUseNonceManyPersist checks the batched insert: more uses than one
// statement takes, and a remainder, all reach the table and survive a
// restart.
func TestUseNonceManyPersist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Now()
	n := 3*nonceRows + 5
	// Uses made while the writer is busy pile up into one flush.
	for i := range n {
		if err := db.UseNonce(ctx, fmt.Sprint("k", i), now, now.Add(time.Hour)); err != nil {
			t.Fatalf("UseNonce: %v", err)
		}
	}
	waitNonces(t, db, n)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	for i := range n {
		if err := db.UseNonce(ctx, fmt.Sprint("k", i), now, now.Add(time.Hour)); coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Fatalf("UseNonce of k%d after restart: got %v, want conflict", i, err)
		}
	}
}
