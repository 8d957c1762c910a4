package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer"
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
		var n int
		if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM principals WHERE id = ? AND account_id = ?`,
			h.PrincipalID, h.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("read principal: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "principal not found")
		}
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO hotkeys (`+hotkeyCols+`) VALUES (?, ?, ?, ?, ?)`,
			h.SS58, h.AccountID, h.PrincipalID, h.CreatedAt.UnixNano(), h.MAC)
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "hotkey %s is already registered", h.SS58)
		} else if err != nil {
			return fmt.Errorf("add hotkey: %w", err)
		}
		return nil
	})
}

// Hotkey returns a hotkey by address, in any account (ENOTFOUND).
func (db *DB) Hotkey(ctx context.Context, ss58 string) (*coffer.Hotkey, error) {
	h, err := scanHotkey(db.read.QueryRowContext(ctx, `SELECT `+hotkeyCols+` FROM hotkeys WHERE ss58 = ?`, ss58))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "hotkey not found")
	} else if err != nil {
		return nil, fmt.Errorf("read hotkey: %w", err)
	}
	return h, nil
}

// Hotkeys lists the hotkeys of an account, oldest first.
func (db *DB) Hotkeys(ctx context.Context, accountID string) ([]*coffer.Hotkey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+hotkeyCols+` FROM hotkeys WHERE account_id = ?
		ORDER BY created_at, ss58`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list hotkeys: %w", err)
	}
	defer rows.Close()
	out := []*coffer.Hotkey{}
	for rows.Next() {
		h, err := scanHotkey(rows)
		if err != nil {
			return nil, fmt.Errorf("list hotkeys: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list hotkeys: %w", err)
	}
	return out, nil
}

func scanHotkey(sc scanner) (*coffer.Hotkey, error) {
	var h coffer.Hotkey
	var created int64
	if err := sc.Scan(&h.SS58, &h.AccountID, &h.PrincipalID, &created, &h.MAC); err != nil {
		return nil, err
	}
	h.CreatedAt = fromNanos(created)
	return &h, nil
}

// RemoveHotkey unregisters a hotkey of the account (ENOTFOUND).
func (db *DB) RemoveHotkey(ctx context.Context, accountID, ss58 string, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		res, err := w.conn.ExecContext(w.ctx, `DELETE FROM hotkeys WHERE ss58 = ? AND account_id = ?`, ss58, accountID)
		if err != nil {
			return fmt.Errorf("remove hotkey: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("remove hotkey: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "hotkey not found")
		}
		return nil
	})
}
