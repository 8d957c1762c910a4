package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/coffer-dev/coffer"
)

// idShapedNamesSQL lists, on either engine, the secrets whose names could
// have the shape of an id (coffer.IDShaped decides): 32 or 36 characters.
const idShapedNamesSQL = `SELECT a.name, st.name, s.name FROM secrets s
	JOIN stores st ON st.id = s.store_id JOIN accounts a ON a.id = s.account_id
	WHERE length(s.name) IN (32, 36) ORDER BY a.name, st.name, s.name`

// maxListedNames bounds how many legacy names the check prints.
const maxListedNames = 20

// checkIDShapedNames reports secrets named like ids (coffer.IDShaped):
// names that new writes refuse, kept from before that rule. They keep
// working: a ref that is an id still reaches the secret with that id first,
// and only when there is none the secret of that name. Renaming them (a new
// secret with the value, then deleting the old) makes every ref
// unambiguous.
func (d *doctor) checkIDShapedNames(ctx context.Context, db doctorDB) {
	var names []string
	err := db.eachRow(ctx, idShapedNamesSQL, func(r rowScanner) error {
		var account, store, name string
		if err := r.Scan(&account, &store, &name); err != nil {
			return err
		}
		if coffer.IDShaped(name) {
			names = append(names, account+":"+store+"/"+name)
		}
		return nil
	})
	switch {
	case err != nil:
		d.warn("secret names", "could not list secret names: "+err.Error(), "")
	case len(names) == 0:
		d.ok("secret names", "none has the shape of an id")
	default:
		shown := names
		if len(shown) > maxListedNames {
			shown = shown[:maxListedNames]
		}
		msg := fmt.Sprintf("%d secret(s) named like an id (account:store/name): %s", len(names), strings.Join(shown, ", "))
		if len(names) > len(shown) {
			msg += fmt.Sprintf(" and %d more", len(names)-len(shown))
		}
		d.warn("secret names", msg,
			"they keep working, but a ref that is an id reaches the secret with that id first; give each a new name (new secret, then delete the old)")
	}
}

// idShapedCount counts the secrets named like ids in a database read back
// after a migrate or a restore, which copy such data as it is: reported,
// never refused.
type idShapedCount int

func (n *idShapedCount) add(r *coffer.Record) {
	if r.Secret != nil && coffer.IDShaped(r.Secret.Name) {
		*n++
	}
}

// report tells the user about them, if any.
func (n idShapedCount) report(w io.Writer) {
	if n > 0 {
		fmt.Fprintf(w, "Note: %d secret(s) are named like an id (32 hex digits, or a UUID), which new secrets may not be; they keep working, and 'coffer doctor' lists them.\n", int(n))
	}
}
