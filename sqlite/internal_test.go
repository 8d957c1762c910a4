package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestPragmas checks the settings the durability promise rests on.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
	} {
		var got string
		if err := db.conn.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("writer PRAGMA %s: got %s, want %s", c.pragma, got, c.want)
		}
	}
	var got string
	if err := db.read.QueryRowContext(ctx, "PRAGMA query_only").Scan(&got); err != nil {
		t.Fatalf("PRAGMA query_only: %v", err)
	}
	if got != "1" {
		t.Errorf("reader PRAGMA query_only: got %s, want 1", got)
	}
	if _, err := db.read.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('x', 'y')`); err == nil {
		t.Error("write on a read connection: got nil, want an error")
	}
}
