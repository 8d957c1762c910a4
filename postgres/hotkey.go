package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const hotkeyCols = `ss58, account_id, principal_id, created_at, mac`

// AddHotkey registers a hotkey to a principal of its account (ENOTFOUND for
// a missing account or a principal not in it, ECONFLICT if the address is
// registered in any account).
func (db *DB) AddHotkey(ctx context.Context, h *coffer.Hotkey, ev *coffer.AuditEvent) error {
	h.CreatedAt = stamp(h.CreatedAt)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, h.AccountID, "", "")
		if h.SS58 == "" {
			return coffer.Errorf(coffer.EINVALID, "hotkey address is required")
		}
		var ok bool
		if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM principals WHERE id = $1 AND account_id = $2)`,
			h.PrincipalID, h.AccountID).Scan(&ok); err != nil {
			return fmt.Errorf("read principal: %w", err)
		} else if !ok {
			return coffer.Errorf(coffer.ENOTFOUND, "principal not found")
		}
		_, err := w.exec(`INSERT INTO hotkeys (`+hotkeyCols+`) VALUES ($1, $2, $3, $4, $5)`,
			h.SS58, h.AccountID, h.PrincipalID, h.CreatedAt.UnixNano(), h.MAC)
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "hotkey %s is already registered", h.SS58)
		} else if err != nil {
			return fmt.Errorf("add hotkey: %w", err)
		}
		return nil
	})
}

func scanHotkey(sc pgx.Row) (*coffer.Hotkey, error) {
	var h coffer.Hotkey
	var created int64
	if err := sc.Scan(&h.SS58, &h.AccountID, &h.PrincipalID, &created, &h.MAC); err != nil {
		return nil, err
	}
	h.CreatedAt = fromNanos(created)
	return &h, nil
}

// Hotkey returns a hotkey by address, in any account (ENOTFOUND).
func (db *DB) Hotkey(ctx context.Context, ss58 string) (*coffer.Hotkey, error) {
	var h *coffer.Hotkey
	err := db.query(ctx, `SELECT `+hotkeyCols+` FROM hotkeys WHERE ss58 = $1`, []any{ss58}, func(rows pgx.Rows) (err error) {
		h, err = scanHotkey(rows)
		return err
	})
	if err != nil {
		return nil, dbErr("read hotkey", err)
	} else if h == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "hotkey not found")
	}
	return h, nil
}

// Hotkeys lists the hotkeys of an account, oldest first.
func (db *DB) Hotkeys(ctx context.Context, accountID string) ([]*coffer.Hotkey, error) {
	out := []*coffer.Hotkey{}
	err := db.query(ctx, `SELECT `+hotkeyCols+` FROM hotkeys WHERE account_id = $1 ORDER BY created_at, ss58`,
		[]any{accountID}, func(rows pgx.Rows) error {
			h, err := scanHotkey(rows)
			if err != nil {
				return err
			}
			out = append(out, h)
			return nil
		})
	if err != nil {
		return nil, dbErr("list hotkeys", err)
	}
	return out, nil
}

// RemoveHotkey unregisters a hotkey of the account (ENOTFOUND).
func (db *DB) RemoveHotkey(ctx context.Context, accountID, ss58 string, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		ct, err := w.exec(`DELETE FROM hotkeys WHERE ss58 = $1 AND account_id = $2`, ss58, accountID)
		if err != nil {
			return fmt.Errorf("remove hotkey: %w", err)
		} else if ct.RowsAffected() == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "hotkey not found")
		}
		return nil
	})
}

// noncePurgeEvery is how often, by the callers' clock, each server deletes
// the expired entries of the replay cache.
const noncePurgeEvery = 30 * time.Second

// UseNonce records one use of key until expires (ECONFLICT if it was used
// and that use has not expired at time at). It is one statement in a
// transaction of its own, outside the writer and its audit chain, sent in
// one round trip: the primary key on the key makes concurrent uses of one
// key, on any server, succeed exactly once (INSERT ... ON CONFLICT waits for
// the other transaction and then sees its row). The transaction commits
// with synchronous_commit=off, as coffer.Storage allows: the use survives a
// crash of the coffer process, and one of PostgreSQL or the machine may
// forget the last fraction of a second of uses. Every noncePurgeEvery a call
// also deletes the expired entries; if that fails, a later call tries again.
func (db *DB) UseNonce(ctx context.Context, key string, at, expires time.Time) error {
	db.mu.RLock()
	closed := db.closed
	db.mu.RUnlock()
	if closed {
		return coffer.Errorf(coffer.EUNAVAILABLE, "database is closed")
	}
	digest := coffer.NonceDigest(key)
	key = hex.EncodeToString(digest[:])
	now, exp := stamp(at).UnixNano(), stamp(expires).UnixNano()
	var used bool
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	// An expired entry is taken over; a live one leaves the statement
	// changing no row.
	b.Queue(`INSERT INTO nonces (key, expires) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE nonces.expires <= $3`, key, exp, now).
		Exec(func(ct pgconn.CommandTag) error { used = ct.RowsAffected() == 0; return nil })
	b.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return fmt.Errorf("transaction rolled back (%s)", ct)
		}
		return nil
	})
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return dbErr("use nonce", err)
	} else if used {
		return coffer.Errorf(coffer.ECONFLICT, "nonce already used")
	}
	if last := db.noncePurgedAt.Load(); (now-last >= int64(noncePurgeEvery) || now < last) &&
		db.noncePurgedAt.CompareAndSwap(last, now) {
		if _, err := db.pool.Exec(ctx, `DELETE FROM nonces WHERE expires <= $1`, now); err != nil {
			db.noncePurgedAt.Store(last)
		}
	}
	return nil
}
