package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestAuditPlans checks that a search of one account's audit log walks an
// index in seq order and stops at the page's end: no full scan of the
// table, and no sort of every match, except where migrations/0009 says
// the filter is tested on the rows walked.
func TestAuditPlans(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		q    coffer.AuditQuery
		want []string // indexes the plan must use
	}{
		{"All", coffer.AuditQuery{}, []string{"audit_account"}},
		{"Before", coffer.AuditQuery{Before: 100, Newest: true}, []string{"audit_account"}},
		{"Principal", coffer.AuditQuery{Principal: "p", Newest: true}, []string{"audit_principal", "audit_key"}},
		{"PrincipalAndAction", coffer.AuditQuery{Principal: "p", Action: "secret.reveal", Newest: true}, []string{"audit_principal", "audit_key"}},
		{"PrincipalAndObject", coffer.AuditQuery{Principal: "p", Object: "o"}, []string{"audit_principal", "audit_key"}},
		{"Object", coffer.AuditQuery{Object: "o", Newest: true}, []string{"audit_secret", "audit_store", "audit_name"}},
		{"Action", coffer.AuditQuery{Action: "key.revoke", Newest: true}, []string{"audit_action"}},
		{"ActionPrefix", coffer.AuditQuery{Action: "secret.", Newest: true}, []string{"audit_account"}},
		{"Time", coffer.AuditQuery{Since: since, Until: since.Add(time.Hour), Newest: true}, []string{"audit_account"}},
		{"Outcome", coffer.AuditQuery{Outcome: coffer.EFORBIDDEN}, []string{"audit_account"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.q.Limit = 51
			query, args := auditSQL("0123456789abcdef0123456789abcdef", c.q)
			rows, err := db.read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN: %v", err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "\n")
			for _, idx := range c.want {
				if !strings.Contains(all, "INDEX "+idx+" ") {
					t.Errorf("plan does not use %s:\n%s", idx, all)
				}
			}
			for _, l := range plan {
				// A temporary B-tree may order the union of the branches
				// (at most a page from each), never a whole index range.
				if strings.HasPrefix(l, "SCAN audit") || (strings.Contains(l, "TEMP B-TREE") && len(c.want) == 1) {
					t.Errorf("plan walks the whole table or sorts the matches:\n%s", all)
				}
			}
		})
	}
}
