package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/coffer-dev/coffer"
)

// DumpFile dumps the database at path as DB.Dump does, through a read-only
// connection that takes neither the write connection nor the lock of Open:
// it works while a server owns the database and writes on. The records come
// from the snapshot of one read transaction (WAL), so they are consistent:
// every version with its secret, the audit chain up to the head recorded
// in the same commit. Uses of the replay cache that the owner holds in
// memory and has not flushed yet are not in it.
func DumpFile(ctx context.Context, path string, emit func(*coffer.Record) error) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("dump: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("dump: open %s: %w", path, err)
	}
	defer tx.Rollback()
	for _, t := range dumpTables {
		if err := dumpRows(ctx, tx, t, emit); err != nil {
			return err
		}
	}
	return nil
}
