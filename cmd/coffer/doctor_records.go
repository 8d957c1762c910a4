package main

// This file is doctor's check of record MACs (service/records.go): every
// account, principal, API key and hotkey, and the operator setting, read
// from the database as it is, against the auth secret the master key
// unseals.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/service"
)

// rowScanner is a row of a doctorDB query.
type rowScanner interface{ Scan(dest ...any) error }

func (s *sqliteDoctor) eachRow(ctx context.Context, query string, fn func(rowScanner) error) error {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (p *postgresDoctor) eachRow(ctx context.Context, query string, fn func(rowScanner) error) error {
	rows, err := p.pool.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// eachRecord calls fn with every record that carries a MAC, with the
// fields its MAC covers.
func eachRecord(ctx context.Context, db doctorDB, fn func(rec any) error) error {
	err := db.eachRow(ctx, `SELECT id, name, mac FROM accounts ORDER BY id`, func(r rowScanner) error {
		var a coffer.Account
		if err := r.Scan(&a.ID, &a.Name, &a.MAC); err != nil {
			return err
		}
		return fn(&a)
	})
	if err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	err = db.eachRow(ctx, `SELECT id, account_id, name, kind, mac FROM principals ORDER BY id`, func(r rowScanner) error {
		var p coffer.Principal
		if err := r.Scan(&p.ID, &p.AccountID, &p.Name, &p.Kind, &p.MAC); err != nil {
			return err
		}
		return fn(&p)
	})
	if err != nil {
		return fmt.Errorf("read principals: %w", err)
	}
	err = db.eachRow(ctx, `SELECT id, account_id, principal_id, admin, scopes, hash, expires_at, revoked_at, mac FROM api_keys ORDER BY id`,
		func(r rowScanner) error {
			var k coffer.APIKey
			var scopes string
			var expires, revoked sql.NullInt64
			if err := r.Scan(&k.ID, &k.AccountID, &k.PrincipalID, &k.Admin, &scopes, &k.Hash, &expires, &revoked, &k.MAC); err != nil {
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
	err = db.eachRow(ctx, `SELECT ss58, account_id, principal_id, mac FROM hotkeys ORDER BY ss58`, func(r rowScanner) error {
		var h coffer.Hotkey
		if err := r.Scan(&h.SS58, &h.AccountID, &h.PrincipalID, &h.MAC); err != nil {
			return err
		}
		return fn(&h)
	})
	if err != nil {
		return fmt.Errorf("read hotkeys: %w", err)
	}
	return nil
}

// checkRecords reports records whose MAC fails: changed in the database by
// something other than coffer. The server refuses them where they are used.
func (d *doctor) checkRecords(ctx context.Context, db doctorDB, keyring *envelope.Keyring) {
	rep, err := service.CheckRecords(ctx, db, keyring, func(fn func(rec any) error) error { return eachRecord(ctx, db, fn) })
	switch {
	case err != nil:
		d.fail("records", err.Error(), "restore a backup taken before the change")
	case rep.Unbound:
		d.warn("records", "not yet bound to the master key", "the next server start binds them (upgrade)")
	case len(rep.Failed) > 0:
		shown := rep.Failed
		if len(shown) > 20 {
			shown = append(shown[:20:20], fmt.Sprintf("and %d more", len(rep.Failed)-20))
		}
		d.fail("records", fmt.Sprintf("%d of %d records fail their MAC (changed outside coffer; refused where used): %s",
			len(rep.Failed), rep.Checked, strings.Join(shown, ", ")),
			"find who wrote to the database; revoke or restore those records from a backup taken before the change")
	case rep.Rotating:
		d.warn("records", fmt.Sprintf("%d records verify; a master-key rotation has not finished binding them again", rep.Checked),
			"run coffer master-key rotate again once no rotation runs")
	default:
		d.ok("records", "%d records verify (keys, principals, accounts, hotkeys)", rep.Checked)
	}
}
