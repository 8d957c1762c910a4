package postgres

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
)

// recordTables names the table and key column of each kind of record that
// carries a MAC.
var recordTables = map[coffer.RecordKind][2]string{
	coffer.KindAccount:   {"accounts", "id"},
	coffer.KindPrincipal: {"principals", "id"},
	coffer.KindAPIKey:    {"api_keys", "id"},
	coffer.KindHotkey:    {"hotkeys", "ss58"},
}

// SetRecordMAC implements coffer.Storage.
func (db *DB) SetRecordMAC(ctx context.Context, kind coffer.RecordKind, id string, old, mac []byte) error {
	t, ok := recordTables[kind]
	if !ok {
		return coffer.Errorf(coffer.EINVALID, "records of kind %s carry no MAC", kind)
	}
	return db.do(ctx, nil, func(w *writer) error {
		q := `UPDATE ` + t[0] + ` SET mac = $1 WHERE ` + t[1] + ` = $2 AND mac = $3`
		args := []any{mac, id, old}
		if old == nil {
			q = `UPDATE ` + t[0] + ` SET mac = $1 WHERE ` + t[1] + ` = $2 AND (mac IS NULL OR octet_length(mac) = 0)`
			args = args[:2]
		}
		ct, err := w.exec(q, args...)
		if err != nil {
			return fmt.Errorf("set record mac: %w", err)
		} else if ct.RowsAffected() == 1 {
			return nil
		}
		return w.missingOr(`SELECT count(*) FROM `+t[0]+` WHERE `+t[1]+` = $1`, []any{id},
			coffer.Errorf(coffer.ENOTFOUND, "%s not found", kind),
			coffer.Errorf(coffer.EPRECONDITION, "the MAC of %s %s changed meanwhile", kind, id))
	})
}
