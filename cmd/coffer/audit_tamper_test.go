package main

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // to edit the database behind the server's back
)

// TestAuditTamper edits the audit table of a stopped server's database the
// way an intruder with the file would, and checks that verification through
// the API (what `coffer audit verify` calls) catches each edit.
func TestAuditTamper(t *testing.T) {
	for _, tt := range []struct {
		name     string
		sql      string
		brokenAt float64
	}{
		{"EditedEvent", `UPDATE audit SET outcome = 'forbidden' WHERE seq = 5`, 5},
		{"DeletedEvent", `DELETE FROM audit WHERE seq = 4`, 4},
		{"CutTail", `DELETE FROM audit WHERE seq >= (SELECT max(seq) - 1 FROM audit)`, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpenServer(t, dir)
			a := &rawAPI{t: t, base: "http://" + s.Addr, token: s.RootToken}
			a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
			for i := 0; i < 5; i++ {
				a.must(201, "PUT", "/v1/stores/s/secrets/K"+string(rune('a'+i)), map[string]any{"value": "v"})
			}
			if m := a.must(200, "GET", "/v1/audit/verify", nil).JSON(t); m["ok"] != true {
				t.Fatalf("before tampering: %v", m)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", filepath.Join(dir, "coffer.db"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tt.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s2 := mustOpenServer(t, dir)
			a.base = "http://" + s2.Addr
			m := a.must(200, "GET", "/v1/audit/verify", nil).JSON(t)
			if m["ok"] != false {
				t.Fatalf("after %s: got %v, want ok=false", tt.name, m)
			}
			if tt.brokenAt > 0 && m["broken_at"] != tt.brokenAt {
				t.Errorf("broken_at: got %v, want %v (%v)", m["broken_at"], tt.brokenAt, m["problem"])
			}
			t.Logf("detected: %v", m["problem"])
		})
	}
}
