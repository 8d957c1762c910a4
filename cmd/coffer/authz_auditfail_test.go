package main

import "testing"

// TestAuthzAuditFailedAuth checks that every failed authentication is
// audited as auth.fail with outcome unauthorized, the client's address and
// the key id the token named: in the log of the account that owns the key
// when the token names a real key (its admins see attacks on their keys),
// else in the operator's log.
func TestAuthzAuditFailedAuth(t *testing.T) {
	w := authzAuditSetup(t)
	operator, _ := authzEvents(t, w.base, w.root)
	owner, _ := authzEvents(t, w.base, w.acme.Token)
	for _, f := range w.failures {
		fromIP := func(e authzEvent) bool { return e.Action == "auth.fail" && e.Remote == f.ip }
		want, other, where := operator, owner, "the operator's"
		if f.keyID == w.keyID {
			want, other, where = owner, operator, "the key owner's"
		}
		e := authzFind(want, fromIP)
		if e == nil {
			t.Errorf("%s: no auth.fail event from %s in %s audit log", f.name, f.ip, where)
			continue
		}
		if e.Outcome != "unauthorized" || e.KeyID != f.keyID {
			t.Errorf("%s: got outcome %q key_id %q, want unauthorized %q", f.name, e.Outcome, e.KeyID, f.keyID)
		}
		if authzFind(other, fromIP) != nil {
			t.Errorf("%s: the event is in both accounts' logs", f.name)
		}
	}
}
