package postgres_test

import (
	"testing"

	"github.com/coffer-dev/coffer/postgres"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestMigrateConnString checks WithApplicationName with the name of
// migrate's sessions, on both forms of connection string.
func TestMigrateConnString(t *testing.T) {
	const app = "coffer-migrate" // engine.ToolApp
	for _, c := range []struct{ in, want string }{
		{"postgres://u:pw@db.example:5433/coffer?sslmode=require", "postgres://u:xxxxx@db.example:5433/coffer?application_name=coffer-migrate&sslmode=require"},
		{"postgresql://u@db.example/coffer?application_name=coffer", "postgresql://u@db.example/coffer?application_name=coffer-migrate"},
		{"host=db.example dbname=coffer application_name=coffer password='a b'", "host=db.example dbname=coffer application_name=coffer password=xxxxx application_name=coffer-migrate"},
	} {
		got := postgres.WithApplicationName(c.in, app)
		if postgres.Redact(got) != c.want {
			t.Errorf("WithApplicationName(%q): got %q, want %q", postgres.Redact(c.in), postgres.Redact(got), c.want)
		}
		cfg, err := pgconn.ParseConfig(got)
		if err != nil {
			t.Fatalf("parse %q: %v", postgres.Redact(got), err)
		}
		if name := cfg.RuntimeParams["application_name"]; name != app {
			t.Errorf("%q: application_name %q, want %q", postgres.Redact(got), name, app)
		}
	}
}
