package truefoundry_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// tfState is a group's secrets read back by the root key: key to value and
// number of versions.
func (a *tfAPI) tfState(groupID string) map[string]string {
	a.T.Helper()
	var secrets []tfSecret
	a.list(a.Must(200, "POST", "/secrets", map[string]any{"secretGroupId": groupID, "withValue": true}), &secrets)
	out := map[string]string{}
	for _, s := range secrets {
		out[s.Name] = *s.Value + "@" + strconv.Itoa(len(a.getSecret(s.ID).SecretVersions))
	}
	return out
}

// scoped returns the face as a key with the given scopes sees it.
func (a *tfAPI) scoped(scopes ...string) *tfAPI {
	a.T.Helper()
	tok, _ := servertest.Mint(a.T, a.native, map[string]any{"name": "scoped", "scopes": servertest.Scopes(scopes...)})
	return &tfAPI{Client: &servertest.Client{T: a.T, Base: a.Base, Token: tok}, native: a.native}
}

// TestTrueFoundryScopedUpdate checks that an update or create the key may
// not do in full is refused (403) before anything is written.
func TestTrueFoundryScopedUpdate(t *testing.T) {
	a := startTrueFoundry(t)
	g := a.createGroup("half", "A", "1", "B", "2")
	want := map[string]string{"A": "1@1", "B": "2@1"}
	same := func(t *testing.T) {
		t.Helper()
		got := a.tfState(g.ID)
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v unchanged", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("got %v, want %v unchanged", got, want)
			}
		}
	}
	refused := `{"secrets":[{"key":"A","value":"CHANGED"},{"key":"N","value":"new"}]}`

	t.Run("ErrNoDelete", func(t *testing.T) {
		// B is left out, so it would be deleted: refused before A or N is
		// written.
		w := a.scoped("half:*:list,read,reveal,write")
		e := w.httpError(w.Do("PUT", "/secret-groups/"+g.ID, refused), 403)
		if e.Code != "FORBIDDEN" || !strings.Contains(e.Message, "delete") {
			t.Fatalf("got %+v, want FORBIDDEN naming delete", e)
		}
		same(t)
		evs, _ := servertest.Events(t, a.native.Base, a.native.Token)
		if servertest.Find(evs, func(e servertest.Event) bool {
			return e.Action == "secret.delete" && e.Name == "B" && e.Outcome == "forbidden"
		}) == nil {
			t.Fatal("the refusal is not in the audit log")
		}
		// Keeping B is within the key's power.
		w.Must(200, "PUT", "/secret-groups/"+g.ID, `{"secrets":[{"key":"A","value":"1"},{"key":"B"}]}`)
		same(t)
	})
	t.Run("ErrOneSecret", func(t *testing.T) {
		w := a.scoped("half:A:list,read,reveal,write,delete")
		w.httpError(w.Do("PUT", "/secret-groups/"+g.ID, refused), 403)
		same(t)
	})
	t.Run("ErrCreate", func(t *testing.T) {
		w := a.scoped("*:*:admin,list,read")
		w.httpError(w.Do("POST", "/secret-groups", `{"name":"nowrite","integrationId":"coffer","secrets":[{"key":"A","value":"1"}]}`), 403)
		var groups []tfGroup
		a.list(a.Must(200, "GET", "/secret-groups?search=nowrite", nil), &groups)
		if len(groups) != 0 {
			t.Fatalf("got %+v, want no group", groups)
		}
		evs, _ := servertest.Events(t, a.native.Base, a.native.Token)
		if servertest.Find(evs, func(e servertest.Event) bool { return e.Action == "store.create" && e.Name == "nowrite" }) != nil {
			t.Fatal("the group was created before the refusal")
		}
	})
	t.Run("WriteOnly", func(t *testing.T) {
		// A key that may not reveal cannot have its value compared (that
		// would tell it the stored value): the value is written, and no
		// reveal is tried and refused.
		wo := a.createGroup("wo", "A", "1", "B", "2")
		w := a.scoped("wo:*:list,read,write")
		w.Must(200, "PUT", "/secret-groups/"+wo.ID, `{"secrets":[{"key":"A","value":"1"},{"key":"B"}]}`)
		if got := a.tfState(wo.ID); got["A"] != "1@2" || got["B"] != "2@1" {
			t.Fatalf("got %v, want A=1 at version 2, B unchanged", got)
		}
		evs, _ := servertest.Events(t, a.native.Base, a.native.Token)
		if servertest.Find(evs, func(e servertest.Event) bool { return e.Action == "secret.reveal" && e.Outcome == "forbidden" }) != nil {
			t.Fatal("the update tried a reveal the key may not do")
		}
	})
}

// TestTrueFoundryForeignKey checks that a group holding a key written
// natively that breaks the face's name rule can be updated through the face.
func TestTrueFoundryForeignKey(t *testing.T) {
	a := startTrueFoundry(t)
	g := a.createGroup("nat", "X", "x")
	a.native.Must(201, "PUT", servertest.SecretPath(g.ID, "some/key"), map[string]any{"value": "s"})

	a.Must(200, "PUT", "/secret-groups/"+g.ID, `{"secrets":[{"key":"X"},{"key":"some/key"},{"key":"NEW","value":"n"}]}`)
	if got := a.tfState(g.ID); got["some/key"] != "s@1" || got["NEW"] != "n@1" || len(got) != 3 {
		t.Fatalf("got %v, want some/key kept and NEW added", got)
	}
	a.Must(200, "PUT", "/secret-groups/"+g.ID, `{"secrets":[{"key":"X"},{"key":"some/key","value":"s2"},{"key":"NEW"}]}`)
	if got := a.tfState(g.ID); got["some/key"] != "s2@2" {
		t.Fatalf("got %v, want some/key=s2 at version 2", got)
	}
	// A new key still follows the rule.
	e := a.httpError(a.Do("PUT", "/secret-groups/"+g.ID, `{"secrets":[{"key":"X"},{"key":"some/key"},{"key":"other/key","value":"o"}]}`), 422)
	if len(e.Details) != 1 || e.Details[0].Field != "secrets[2].key" {
		t.Fatalf("got %+v, want secrets[2].key", e)
	}
}

// TestTrueFoundryEmptyListBody checks that POST /secrets, whose fields are
// all optional, takes an empty body as {}, and still refuses a malformed one.
func TestTrueFoundryEmptyListBody(t *testing.T) {
	a := startTrueFoundry(t)
	a.createGroup("g", "A", "1")
	for _, body := range []any{nil, "", " \n"} {
		var secrets []tfSecret
		p := a.list(a.Must(200, "POST", "/secrets", body, "Content-Type", "application/json"), &secrets)
		if *p.Total != 1 || p.Limit != 100 || len(secrets) != 1 || secrets[0].Value != nil {
			t.Fatalf("body %q: got %+v %+v, want A without value", body, p, secrets)
		}
	}
	a.httpError(a.Do("POST", "/secrets", `{`), 400)
	// Other bodies are still required.
	a.httpError(a.Do("PUT", "/secret-groups", nil), 400)
}
