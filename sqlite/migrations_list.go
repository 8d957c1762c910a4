package sqlite

import (
	"io/fs"
	"path"
)

// MigrationNames lists the embedded migrations in the order they apply,
// like "0001_init.sql": what a database of this build is migrated to.
func MigrationNames() []string {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		panic("embedded migrations: " + err.Error())
	}
	for i, n := range names {
		names[i] = path.Base(n)
	}
	return names
}
