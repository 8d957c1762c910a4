package engine

// This file is the read-only look at a database of 'coffer doctor': its
// migrations, meta values and clock, and the records it checks, read as
// they are stored. The queries run unchanged on both engines.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/sqlite"
)

// reader is what each engine's Inspector gives (sqlite.Inspector,
// postgres.Inspector).
type reader interface {
	// Migrations lists the applied migrations (none for a new database).
	Migrations(ctx context.Context) ([]string, error)
	// Meta returns a meta value, or ENOTFOUND.
	Meta(ctx context.Context, key string) ([]byte, error)
	// Now is the database server's clock, when it has its own.
	Now(ctx context.Context) (time.Time, bool, error)
	// EachRow runs a query and calls fn with the Scan of each row.
	EachRow(ctx context.Context, query string, fn func(scan func(dest ...any) error) error) error
	Close()
}

var (
	_ reader = (*sqlite.Inspector)(nil)
	_ reader = (*postgres.Inspector)(nil)
)

// Inspector is a read-only look at a database: it neither migrates nor
// locks it, so it runs next to a server.
type Inspector struct {
	reader
	kind Kind
}

// Inspect opens the database of t read-only. An SQLite database must
// exist; a PostgreSQL URL is not quoted in errors.
func Inspect(ctx context.Context, t *Target) (*Inspector, error) {
	if t.URL != "" {
		r, err := postgres.OpenInspector(ctx, t.URL)
		if err != nil {
			return nil, err
		}
		return &Inspector{r, PostgreSQL}, nil
	}
	r, err := sqlite.OpenInspector(t.Path())
	if err != nil {
		return nil, err
	}
	return &Inspector{r, SQLite}, nil
}

// KnownMigrations lists the migrations that this coffer's engine has.
func (in *Inspector) KnownMigrations() []string {
	if in.kind == PostgreSQL {
		return postgres.MigrationNames()
	}
	return sqlite.MigrationNames()
}

// idShapedNamesSQL lists the secrets whose names could have the shape of
// an id (coffer.IDShaped decides): 32 or 36 characters.
const idShapedNamesSQL = `SELECT a.name, st.name, s.name FROM secrets s
	JOIN stores st ON st.id = s.store_id JOIN accounts a ON a.id = s.account_id
	WHERE length(s.name) IN (32, 36) ORDER BY a.name, st.name, s.name`

// IDShapedNames lists the secrets named like ids (coffer.IDShaped), as
// account:store/name, ordered.
func (in *Inspector) IDShapedNames(ctx context.Context) ([]string, error) {
	var names []string
	err := in.EachRow(ctx, idShapedNamesSQL, func(scan func(...any) error) error {
		var account, store, name string
		if err := scan(&account, &store, &name); err != nil {
			return err
		}
		if coffer.IDShaped(name) {
			names = append(names, account+":"+store+"/"+name)
		}
		return nil
	})
	return names, err
}

// EachRecord calls fn with every record that carries a MAC (accounts,
// principals, API keys, hotkeys), with the fields its MAC covers, as
// stored (service.CheckRecords).
func (in *Inspector) EachRecord(ctx context.Context, fn func(rec any) error) error {
	err := in.EachRow(ctx, `SELECT id, name, mac FROM accounts ORDER BY id`, func(scan func(...any) error) error {
		var a coffer.Account
		if err := scan(&a.ID, &a.Name, &a.MAC); err != nil {
			return err
		}
		return fn(&a)
	})
	if err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	err = in.EachRow(ctx, `SELECT id, account_id, name, kind, mac FROM principals ORDER BY id`, func(scan func(...any) error) error {
		var p coffer.Principal
		if err := scan(&p.ID, &p.AccountID, &p.Name, &p.Kind, &p.MAC); err != nil {
			return err
		}
		return fn(&p)
	})
	if err != nil {
		return fmt.Errorf("read principals: %w", err)
	}
	err = in.EachRow(ctx, `SELECT id, account_id, principal_id, admin, scopes, hash, expires_at, revoked_at, mac FROM api_keys ORDER BY id`,
		func(scan func(...any) error) error {
			var k coffer.APIKey
			var scopes string
			var expires, revoked sql.NullInt64
			if err := scan(&k.ID, &k.AccountID, &k.PrincipalID, &k.Admin, &scopes, &k.Hash, &expires, &revoked, &k.MAC); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
				k.Scopes = []coffer.Scope{{Store: "(scopes do not decode)"}} // fails its MAC
			}
			if expires.Valid {
				t := time.Unix(0, expires.Int64)
				k.ExpiresAt = &t
			}
			if revoked.Valid {
				t := time.Unix(0, revoked.Int64)
				k.RevokedAt = &t
			}
			return fn(&k)
		})
	if err != nil {
		return fmt.Errorf("read api keys: %w", err)
	}
	err = in.EachRow(ctx, `SELECT ss58, account_id, principal_id, mac FROM hotkeys ORDER BY ss58`, func(scan func(...any) error) error {
		var h coffer.Hotkey
		if err := scan(&h.SS58, &h.AccountID, &h.PrincipalID, &h.MAC); err != nil {
			return err
		}
		return fn(&h)
	})
	if err != nil {
		return fmt.Errorf("read hotkeys: %w", err)
	}
	return nil
}
