package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/engine"
)

// maxListedNames bounds how many legacy names the check prints.
const maxListedNames = 20

// checkIDShapedNames reports secrets named like ids (coffer.IDShaped):
// names that new writes refuse, kept from before that rule. They keep
// working: a ref that is an id still reaches the secret with that id first,
// and only when there is none the secret of that name. Renaming them (a new
// secret with the value, then deleting the old) makes every ref
// unambiguous.
func (d *doctor) checkIDShapedNames(ctx context.Context, db *engine.Inspector) {
	names, err := db.IDShapedNames(ctx)
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
