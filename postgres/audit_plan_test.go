package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/jackc/pgx/v5"
)

// TestAuditPlans checks, on an analyzed log of 20,000 events, that a
// search with a principal, object or exact action filter reads a page from
// its index in seq order instead of walking the primary key or the table.
func TestAuditPlans(t *testing.T) {
	url := NewDatabase(t)
	db := MustOpenURL(t, url)
	ctx := context.Background()
	a := &coffer.Account{Name: "acme"}
	if err := db.CreateAccount(ctx, a, &coffer.AuditEvent{Action: "account.create"}); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		evs := make([]*coffer.AuditEvent, 500)
		for j := range evs {
			n := i*500 + j
			action := []string{"secret.reveal", "secret.write"}[n%2]
			if n%97 == 0 {
				action = "key.revoke"
			}
			evs[j] = &coffer.AuditEvent{Time: time.Now(), AccountID: a.ID, PrincipalID: fmt.Sprint("p", n%200), KeyID: fmt.Sprint("k", n%300),
				Action: action, StoreID: fmt.Sprint("st", n%10), SecretID: fmt.Sprint("s", n%1000), Name: fmt.Sprint("n", n%1000), Outcome: "ok"}
		}
		if err := db.Audit(ctx, evs...); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `ANALYZE audit`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    coffer.AuditQuery
		want []string
	}{
		{"Principal", coffer.AuditQuery{Principal: "p5", Newest: true}, []string{"audit_principal", "audit_key"}},
		{"PrincipalAndAction", coffer.AuditQuery{Principal: "k7", Action: "secret.reveal"}, []string{"audit_principal", "audit_key"}},
		{"Object", coffer.AuditQuery{Object: "s5", Newest: true}, []string{"audit_secret", "audit_store", "audit_name"}},
		{"Action", coffer.AuditQuery{Action: "key.revoke", Newest: true}, []string{"audit_action"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.q.Limit = 51
			query, args := postgres.AuditSQL(a.ID, c.q)
			rows, err := conn.Query(ctx, `EXPLAIN `+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN: %v", err)
			}
			var plan []string
			for rows.Next() {
				var l string
				if err := rows.Scan(&l); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, l)
			}
			rows.Close()
			all := strings.Join(plan, "\n")
			for _, idx := range c.want {
				if !strings.Contains(all, "using "+idx+" on") {
					t.Errorf("plan does not read %s:\n%s", idx, all)
				}
			}
			if strings.Contains(all, "audit_pkey") || strings.Contains(all, "Seq Scan") || strings.Contains(all, "audit_account") {
				t.Errorf("plan walks the primary key, audit_account or the table:\n%s", all)
			}
		})
	}
}
