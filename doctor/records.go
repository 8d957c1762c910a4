package doctor

// This file is doctor's check of record MACs (service/records.go): every
// account, principal, API key and hotkey, and the operator setting, read
// from the database as it is, against the auth secret the master key
// unseals.

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/engine"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/service"
)

// checkRecords reports records whose MAC fails: changed in the database by
// something other than coffer. The server refuses them where they are used.
func (d *doctor) checkRecords(ctx context.Context, db *engine.Inspector, keyring *envelope.Keyring) {
	rep, err := service.CheckRecords(ctx, db, keyring, func(fn func(rec any) error) error { return db.EachRecord(ctx, fn) })
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
