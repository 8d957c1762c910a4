package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/engine"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind engine.Kind
		name string
	}{
		{"./data", engine.SQLite, "./data"},
		{"/var/lib/coffer", engine.SQLite, "/var/lib/coffer"},
		{"./host=x", engine.SQLite, "./host=x"},
		{"postgres://u:pw@db/coffer", engine.PostgreSQL, "postgres://u:xxxxx@db/coffer"},
		{"postgresql://db/coffer?password=pw", engine.PostgreSQL, "postgresql://db/coffer?password=xxxxx"},
		{"host=db dbname=coffer password=pw", engine.PostgreSQL, "host=db dbname=coffer password=xxxxx"},
	} {
		tg, err := engine.Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if tg.Kind() != c.kind || tg.Name() != c.name {
			t.Errorf("Parse(%q): got %s %q, want %s %q", c.in, tg.Kind(), tg.Name(), c.kind, c.name)
		}
	}
	for _, in := range []string{"mysql://u:pw@db/x", "postgres://u:pw@db:notaport/x"} {
		if _, err := engine.Parse(in); err == nil || strings.Contains(err.Error(), "pw") {
			t.Errorf("Parse(%q): got %v, want an error without the password", in, err)
		}
	}
}

func TestSame(t *testing.T) {
	dir := t.TempDir()
	a, _ := engine.Parse(dir)
	b, _ := engine.Parse(dir + "/.")
	c, _ := engine.Parse(t.TempDir())
	p1, _ := engine.Parse("postgres://u@db:5432/coffer")
	p2, _ := engine.Parse("host=db port=5432 dbname=coffer user=other")
	p3, _ := engine.Parse("postgres://u@db:5432/other")
	for _, c := range []struct {
		x, y *engine.Target
		want bool
	}{{a, b, true}, {a, c, false}, {p1, p2, true}, {p1, p3, false}, {a, p1, false}} {
		if got := c.x.Same(c.y); got != c.want {
			t.Errorf("%s Same %s: got %v, want %v", c.x, c.y, got, c.want)
		}
	}
}

// TestDiscard checks that Discard removes an SQLite database that Open
// created, and keeps one that was there.
func TestDiscard(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := engine.Open(ctx, dir, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if db.Existed {
		t.Error("Existed on a new database")
	}
	db.Close()
	db, err = engine.Open(ctx, dir, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !db.Existed {
		t.Error("not Existed on the second open")
	}
	db.Discard()
	if _, err := os.Stat(filepath.Join(dir, "coffer.db")); err != nil {
		t.Errorf("Discard removed a database it did not create: %v", err)
	}

	dir2 := t.TempDir()
	db, err = engine.Open(ctx, dir2, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Discard()
	if left, _ := os.ReadDir(dir2); len(left) != 0 {
		t.Errorf("Discard left %s", left[0].Name())
	}
}
