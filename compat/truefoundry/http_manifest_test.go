package truefoundry_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// tfManifest is TrueFoundry's SecretGroupManifest as its SDK declares it.
type tfManifest struct {
	Type           string           `json:"type"`
	Name           string           `json:"name"`
	IntegrationFQN string           `json:"integration_fqn"`
	Collaborators  []tfCollaborator `json:"collaborators"`
	OwnedBy        *tfOwnedBy       `json:"ownedBy,omitempty"`
}

type tfCollaborator struct {
	Subject string `json:"subject"`
	RoleID  string `json:"role_id"`
}

type tfOwnedBy struct {
	Account string `json:"account"`
}

const tfIntegration = "internal:aws:aws-1:secret-store:internal-secret-store"

func tfNewManifest(name, integration string, collaborators ...tfCollaborator) tfManifest {
	if collaborators == nil {
		collaborators = []tfCollaborator{}
	}
	return tfManifest{Type: "secret-group", Name: name, IntegrationFQN: integration, Collaborators: collaborators}
}

// apply sends PUT /secret-groups with the manifest, as the SDK's
// create_or_update does, and decodes the group it answers.
func (a *tfAPI) apply(m tfManifest, dryRun bool) tfGroup {
	a.T.Helper()
	var g tfGroup
	a.data(a.Must(200, "PUT", "/secret-groups", map[string]any{"manifest": m, "dryRun": dryRun}), &g)
	return g
}

// manifestOf decodes the manifest a group shows, refusing fields the SDK
// does not declare.
func manifestOf(t *testing.T, g tfGroup) tfManifest {
	t.Helper()
	if len(g.Manifest) == 0 {
		t.Fatalf("group %s shows no manifest", g.Name)
	}
	var m tfManifest
	servertest.Strict(t, g.Manifest, &m)
	return m
}

// groupByID reads a group through GET /secret-groups/{id}.
func (a *tfAPI) groupByID(id string) tfGroup {
	a.T.Helper()
	var g tfGroup
	a.data(a.Must(200, "GET", "/secret-groups/"+id, nil), &g)
	return g
}

// groups lists every group.
func (a *tfAPI) groups() []tfGroup {
	a.T.Helper()
	var gs []tfGroup
	a.list(a.Must(200, "GET", "/secret-groups?limit=1000", nil), &gs)
	return gs
}

// auditCount is the number of audit events the native root key sees.
func (a *tfAPI) auditCount() int {
	a.T.Helper()
	evs, _ := servertest.Events(a.T, a.native.Base, a.native.Token)
	return len(evs)
}

// tfCollaborators returns n collaborators, some with non-ASCII names, so
// that the manifest is long and its JSON has multi-byte characters.
func tfCollaborators(n int) []tfCollaborator {
	out := make([]tfCollaborator, n)
	for i := range out {
		out[i] = tfCollaborator{Subject: fmt.Sprintf("user:dévéloppeur-ü%02d@example.com", i), RoleID: "secret-group-editor"}
	}
	out[0] = tfCollaborator{Subject: "team:platform", RoleID: "secret-group-admin"}
	out[1] = tfCollaborator{Subject: "team:" + strings.Repeat("🔑", 200), RoleID: "secret-group-viewer"}
	return out
}

func TestTrueFoundryManifest(t *testing.T) {
	a := startTrueFoundry(t)

	t.Run("Create", func(t *testing.T) {
		// Sent without ownedBy, as a manifest written by hand may be.
		m := tfNewManifest("payments", tfIntegration, tfCollaborators(8)...)
		r := a.Must(200, "PUT", "/secret-groups", map[string]any{"manifest": map[string]any{
			"type": "secret-group", "name": "payments", "integration_fqn": tfIntegration,
			"collaborators": m.Collaborators,
		}})
		if !strings.Contains(string(r.Body), `"associatedSecrets":[]`) {
			t.Fatalf("got %s, want associatedSecrets []", r.Body)
		}
		var g tfGroup
		a.data(r, &g)
		tenant := g.TenantName
		if g.ID == "" || g.Name != "payments" || g.FQN != tenant+":payments" || tenant == "" || g.AccountID == "" {
			t.Fatalf("got %+v, want a new group with id and fqn", g)
		}
		if g.IntegrationID != tfIntegration || g.CreatedBySubject.SubjectID == "" || g.CreatedBy == "" || g.CreatedAt == "" || g.UpdatedAt == "" {
			t.Fatalf("got %+v, want the integration, the creator and times", g)
		}
		if got := manifestOf(t, g); !reflect.DeepEqual(got, m) {
			t.Fatalf("got manifest %+v, want %+v", got, m)
		}
		if got := manifestOf(t, a.groupByID(g.ID)); !reflect.DeepEqual(got, m) {
			t.Fatalf("GET: got manifest %+v, want %+v", got, m)
		}
		gs := a.groups()
		if len(gs) != 1 || gs[0].ID != g.ID || !reflect.DeepEqual(manifestOf(t, gs[0]), m) {
			t.Fatalf("list: got %+v, want the group with its manifest", gs)
		}
		// ownedBy naming the tenant is kept.
		m.OwnedBy = &tfOwnedBy{Account: tenant}
		if got := manifestOf(t, a.apply(m, false)); !reflect.DeepEqual(got, m) {
			t.Fatalf("got manifest %+v, want ownedBy kept: %+v", got, m)
		}
	})

	t.Run("Upsert", func(t *testing.T) {
		old := a.createGroup("orders", "DB_PASSWORD", "hunter2")
		sec := secretNamed(t, old, "DB_PASSWORD")
		// A long manifest, then a short one: nothing of the first is left.
		for _, m := range []tfManifest{
			tfNewManifest("orders", "internal:gcp:gcp-1:secret-store:sm", tfCollaborators(20)...),
			tfNewManifest("orders", "internal:azure:az-1:secret-store:kv", tfCollaborator{"user:bob@example.com", "secret-group-viewer"}),
		} {
			g := a.apply(m, false)
			if g.ID != old.ID || g.IntegrationID != m.IntegrationFQN || !reflect.DeepEqual(manifestOf(t, g), m) {
				t.Fatalf("got %+v, want group %s with integration %s and the manifest", g, old.ID, m.IntegrationFQN)
			}
			if len(g.AssociatedSecrets) != 1 || g.AssociatedSecrets[0].ID != sec.ID {
				t.Fatalf("got secrets %+v, want DB_PASSWORD kept", g.AssociatedSecrets)
			}
			if g.CreatedBySubject != old.CreatedBySubject || g.CreatedAt != old.CreatedAt {
				t.Fatalf("got creator %+v at %s, want %+v at %s kept", g.CreatedBySubject, g.CreatedAt, old.CreatedBySubject, old.CreatedAt)
			}
			got := a.groupByID(old.ID)
			if got.IntegrationID != m.IntegrationFQN || !reflect.DeepEqual(manifestOf(t, got), m) {
				t.Fatalf("GET: got %+v, want the new integration and manifest", got)
			}
		}
		if s := a.getSecret(sec.ID); *s.Value != "hunter2" || len(s.SecretVersions) != 1 {
			t.Fatalf("got %q with %d versions, want hunter2 unchanged", *s.Value, len(s.SecretVersions))
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		before, events := a.groups(), a.auditCount()
		orders := a.groupByID(secretGroupNamed(t, before, "orders").ID)

		m := tfNewManifest("ghost", tfIntegration, tfCollaborator{"user:alice@example.com", "secret-group-admin"})
		r := a.Must(200, "PUT", "/secret-groups", map[string]any{"manifest": m, "dryRun": true})
		var g tfGroup
		a.data(r, &g)
		if g.ID != "" || g.Name != "ghost" || g.FQN != orders.TenantName+":ghost" || g.AccountID != orders.AccountID ||
			g.IntegrationID != tfIntegration || len(g.AssociatedSecrets) != 0 || g.CreatedAt == "" || g.CreatedBySubject.SubjectID == "" {
			t.Fatalf("got %+v, want the group that would be made, without an id", g)
		}
		if !reflect.DeepEqual(manifestOf(t, g), m) {
			t.Fatalf("got manifest %s, want %+v", g.Manifest, m)
		}

		m = tfNewManifest("orders", "internal:other", tfCollaborator{"team:ops", "secret-group-admin"})
		g = a.apply(m, true)
		if g.ID != orders.ID || g.IntegrationID != "internal:other" || len(g.AssociatedSecrets) != 1 || !reflect.DeepEqual(manifestOf(t, g), m) {
			t.Fatalf("got %+v, want orders as it would be", g)
		}

		after := a.groups()
		if len(after) != len(before) {
			t.Fatalf("got %d groups, want %d: a dry run creates nothing", len(after), len(before))
		}
		if got := a.groupByID(orders.ID); got.IntegrationID != orders.IntegrationID || string(got.Manifest) != string(orders.Manifest) || got.UpdatedAt != orders.UpdatedAt {
			t.Fatalf("got %+v, want orders unchanged: %+v", got, orders)
		}
		if n := a.auditCount(); n != events {
			t.Fatalf("got %d audit events, want %d: a dry run writes nothing", n, events)
		}
	})

	t.Run("NameShapedLikeAnID", func(t *testing.T) {
		// A group may be named like another group's id; the manifest names
		// a group by name only.
		orders := secretGroupNamed(t, a.groups(), "orders")
		m := tfNewManifest(orders.ID, "internal:id-named")
		g := a.apply(m, false)
		if g.ID == orders.ID || g.Name != orders.ID {
			t.Fatalf("got %+v, want a new group named %s", g, orders.ID)
		}
		if again := a.apply(m, false); again.ID != g.ID {
			t.Fatalf("got %s, want the group named like an id, %s, updated", again.ID, g.ID)
		}
		if got := a.groupByID(orders.ID); got.Name != "orders" || got.IntegrationID == "internal:id-named" {
			t.Fatalf("got %+v, want orders untouched", got)
		}
	})
}

func secretGroupNamed(t *testing.T, gs []tfGroup, name string) tfGroup {
	t.Helper()
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no group %s in %+v", name, gs)
	return tfGroup{}
}

// TestTrueFoundryManifestBadInput sends manifests TrueFoundry refuses and
// checks the HttpError and that nothing was written.
func TestTrueFoundryManifestBadInput(t *testing.T) {
	a := startTrueFoundry(t)
	kept := a.apply(tfNewManifest("kept", tfIntegration, tfCollaborator{"user:alice@example.com", "secret-group-admin"}), false)
	events := a.auditCount()

	body := func(manifest string) string { return `{"manifest":` + manifest + `}` }
	const good = `"type":"secret-group","name":"kept","integration_fqn":"changed"`
	many, _ := json.Marshal(tfCollaborators(300))
	for _, tt := range []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"NoManifest", `{}`, 422, "manifest"},
		{"NullManifest", `{"manifest":null}`, 422, "manifest"},
		{"WrongType", body(`{"type":"secret","name":"kept","integration_fqn":"x","collaborators":[]}`), 422, "manifest.type"},
		{"NoType", body(`{"name":"kept","integration_fqn":"x","collaborators":[]}`), 422, "manifest.type"},
		{"NoName", body(`{"type":"secret-group","integration_fqn":"x","collaborators":[]}`), 422, "manifest.name"},
		{"BadName", body(`{"type":"secret-group","name":"a:b","integration_fqn":"x","collaborators":[]}`), 422, "manifest.name"},
		{"NameNotString", body(`{"type":"secret-group","name":7,"integration_fqn":"x","collaborators":[]}`), 422, "manifest.name"},
		{"NoIntegration", body(`{"type":"secret-group","name":"kept","collaborators":[]}`), 422, "manifest.integration_fqn"},
		{"LongIntegration", body(`{"type":"secret-group","name":"kept","integration_fqn":"` + strings.Repeat("x", 256) + `","collaborators":[]}`), 422, "manifest.integration_fqn"},
		{"NoCollaborators", body(`{` + good + `}`), 422, "manifest.collaborators"},
		{"CollaboratorsNotList", body(`{` + good + `,"collaborators":{}}`), 422, "manifest.collaborators"},
		{"SubjectNoType", body(`{` + good + `,"collaborators":[{"subject":"alice","role_id":"r"}]}`), 422, "manifest.collaborators[0].subject"},
		{"SubjectUnknownType", body(`{` + good + `,"collaborators":[{"subject":"robot:r2","role_id":"r"}]}`), 422, "manifest.collaborators[0].subject"},
		{"SubjectNoName", body(`{` + good + `,"collaborators":[{"subject":"user:","role_id":"r"}]}`), 422, "manifest.collaborators[0].subject"},
		{"NoRole", body(`{` + good + `,"collaborators":[{"subject":"team:a","role_id":"r"},{"subject":"team:b"}]}`), 422, "manifest.collaborators[1].role_id"},
		{"UnknownCollaboratorField", body(`{` + good + `,"collaborators":[{"subject":"team:a","role_id":"r","email":"x"}]}`), 422, "email"},
		{"UnknownManifestField", body(`{` + good + `,"collaborators":[],"secrets":[]}`), 422, "secrets"},
		{"UnknownField", `{"manifest":{` + good + `,"collaborators":[]},"force":true}`, 422, "force"},
		{"OwnedByOther", body(`{` + good + `,"collaborators":[],"ownedBy":{"account":"someone-else"}}`), 422, "manifest.ownedBy.account"},
		{"DryRunNotBool", `{"manifest":{` + good + `,"collaborators":[]},"dryRun":"yes"}`, 422, "dryRun"},
		{"TooLarge", body(`{` + good + `,"collaborators":` + string(many) + `}`), 422, "manifest"},
		{"NotJSON", `manifest: {}`, 400, ""},
		{"Truncated", `{"manifest":{`, 400, ""},
		{"NotAnObject", `[]`, 400, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := a.httpError(a.Do("PUT", "/secret-groups", tt.body), tt.status)
			if tt.field != "" && (len(e.Details) != 1 || e.Details[0].Field != tt.field || e.Code != "VALIDATION_ERROR") {
				t.Fatalf("got %+v, want a validation error naming %s", e, tt.field)
			}
		})
	}
	gs := a.groups()
	if len(gs) != 1 || gs[0].IntegrationID != tfIntegration || string(gs[0].Manifest) != string(kept.Manifest) || gs[0].UpdatedAt != kept.UpdatedAt {
		t.Fatalf("got %+v, want only kept, unchanged", gs)
	}
	if n := a.auditCount(); n != events {
		t.Fatalf("got %d audit events, want %d", n, events)
	}
}

// TestTrueFoundryManifestAccess checks that applying a manifest needs admin
// on the group, and that groups are per tenant.
func TestTrueFoundryManifestAccess(t *testing.T) {
	a := startTrueFoundry(t)
	kept := a.apply(tfNewManifest("kept", tfIntegration, tfCollaborator{"user:alice@example.com", "secret-group-admin"}), false)
	as := func(token string) *tfAPI {
		return &tfAPI{Client: &servertest.Client{T: t, Base: a.Base, Token: token}}
	}
	mint := func(scopes ...string) *tfAPI {
		tok, _ := servertest.Mint(t, a.native, map[string]any{"name": "k" + servertest.RandHex(4), "scopes": servertest.Scopes(scopes...)})
		return as(tok)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		gs := a.groups()
		if len(gs) != 1 || gs[0].IntegrationID != tfIntegration || string(gs[0].Manifest) != string(kept.Manifest) {
			t.Fatalf("got %+v, want only kept, unchanged", gs)
		}
	}
	changed := tfNewManifest("kept", "internal:changed", tfCollaborator{"team:x", "secret-group-admin"})

	t.Run("NoAdmin", func(t *testing.T) {
		b := mint("*:*:list,read,reveal,write,delete")
		for _, dry := range []bool{false, true} {
			for _, m := range []tfManifest{changed, tfNewManifest("fresh", tfIntegration)} {
				e := b.httpError(b.Do("PUT", "/secret-groups", map[string]any{"manifest": m, "dryRun": dry}), 403)
				if e.Code != "FORBIDDEN" {
					t.Fatalf("got %+v, want FORBIDDEN", e)
				}
			}
		}
		unchanged(t)
	})
	t.Run("OtherGroup", func(t *testing.T) {
		b := mint("other:*:list,admin")
		b.httpError(b.Do("PUT", "/secret-groups", map[string]any{"manifest": changed}), 403)
		unchanged(t)
		g := b.apply(tfNewManifest("other", tfIntegration), false)
		if g.Name != "other" || g.ID == "" {
			t.Fatalf("got %+v, want group other made by the key scoped to it", g)
		}
		a.Must(200, "DELETE", "/secret-groups/"+g.ID, nil)
	})
	t.Run("Admin", func(t *testing.T) {
		b := mint("kept:*:list,admin")
		if g := b.apply(changed, false); g.ID != kept.ID || g.IntegrationID != "internal:changed" {
			t.Fatalf("got %+v, want kept updated by a key with admin on it", g)
		}
		b.apply(tfNewManifest("kept", tfIntegration, tfCollaborator{"user:alice@example.com", "secret-group-admin"}), false)
		unchanged(t)
	})
	t.Run("OtherTenant", func(t *testing.T) {
		other := servertest.NewTenant(t, a.native.Base, a.native.Token)
		b := as(other.Token)
		b.httpError(b.Do("GET", "/secret-groups/"+kept.ID, nil), 404)
		m := tfNewManifest("kept", "internal:theirs")
		b.httpError(b.Do("PUT", "/secret-groups", map[string]any{"manifest": tfManifest{
			Type: "secret-group", Name: "kept", IntegrationFQN: "x", Collaborators: []tfCollaborator{},
			OwnedBy: &tfOwnedBy{Account: kept.TenantName},
		}}), 422)
		g := b.apply(m, false)
		if g.ID == kept.ID || g.AccountID == kept.AccountID || g.TenantName == kept.TenantName || g.IntegrationID != "internal:theirs" {
			t.Fatalf("got %+v, want the other tenant's own group kept", g)
		}
		if gs := b.groups(); len(gs) != 1 || gs[0].ID != g.ID {
			t.Fatalf("got %+v, want the other tenant to see only its own group", gs)
		}
		unchanged(t)
	})
}

// TestTrueFoundrySecretByID reads, lists versions of and deletes secrets by
// id alone, across many groups and tenants.
func TestTrueFoundrySecretByID(t *testing.T) {
	a := startTrueFoundry(t)
	var groups []tfGroup
	for i := range 5 {
		groups = append(groups, a.createGroup(fmt.Sprintf("g%d", i), "K", fmt.Sprintf("v%d", i), "L", "l"))
	}
	sec := secretNamed(t, groups[1], "K")

	t.Run("SecondGroup", func(t *testing.T) {
		s := a.getSecret(sec.ID)
		if s.Value == nil || *s.Value != "v1" || s.SecretGroupID != groups[1].ID || s.FQN != groups[1].FQN+":K" || len(s.SecretVersions) != 1 {
			t.Fatalf("got %+v, want g1's K=v1", s)
		}
	})
	t.Run("Versions", func(t *testing.T) {
		a.Must(200, "PUT", "/secret-groups/"+groups[1].ID, map[string]any{"secrets": []map[string]any{{"key": "K", "value": "v1b"}, {"key": "L"}}})
		var vs []tfVersion
		p := a.list(a.Must(200, "GET", "/secrets/"+sec.ID+"/versions", nil), &vs)
		if *p.Total != 2 || len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 || vs[0].SecretID != sec.ID {
			t.Fatalf("got %+v %+v, want versions 2, 1", p, vs)
		}
		p = a.list(a.Must(200, "GET", "/secrets/"+sec.ID+"/versions?limit=1&offset=1", nil), &vs)
		if *p.Total != 2 || p.Limit != 1 || p.Offset != 1 || len(vs) != 1 || vs[0].Version != 1 {
			t.Fatalf("got %+v %+v, want version 1 alone", p, vs)
		}
		r := a.Must(200, "GET", "/secrets/"+sec.ID+"/versions?offset=2", nil)
		if p = a.list(r, &vs); *p.Total != 2 || len(vs) != 0 || !strings.Contains(string(r.Body), `"data":[]`) {
			t.Fatalf("got %s, want data [] and total 2 past the end", r.Body)
		}
		a.httpError(a.Do("GET", "/secrets/"+sec.ID+"/versions?limit=0", nil), 422)
	})
	t.Run("ListPastTheEnd", func(t *testing.T) {
		var secrets []tfSecret
		r := a.Must(200, "POST", "/secrets", map[string]any{"offset": 10})
		if p := a.list(r, &secrets); *p.Total != 10 || p.Offset != 10 || len(secrets) != 0 || !strings.Contains(string(r.Body), `"data":[]`) {
			t.Fatalf("got %s, want data [] and total 10", r.Body)
		}
		r = a.Must(200, "POST", "/secrets", map[string]any{"secretGroupId": groups[3].ID, "offset": 2})
		if p := a.list(r, &secrets); *p.Total != 2 || len(secrets) != 0 {
			t.Fatalf("got %s, want data [] and total 2", r.Body)
		}
	})
	t.Run("ScopedToAnotherGroup", func(t *testing.T) {
		tok, _ := servertest.Mint(t, a.native, map[string]any{"name": "g0-reader", "scopes": servertest.Scopes("g0:*:list,read,reveal")})
		b := &tfAPI{Client: &servertest.Client{T: t, Base: a.Base, Token: tok}}
		var s tfSecret
		b.data(b.Must(200, "GET", "/secrets/"+secretNamed(t, groups[0], "K").ID, nil), &s)
		if *s.Value != "v0" {
			t.Fatalf("got %q, want v0", *s.Value)
		}
		for _, path := range []string{"/secrets/" + sec.ID, "/secrets/" + sec.ID + "/versions"} {
			if e := b.httpError(b.Do("GET", path, nil), 403); e.Code != "FORBIDDEN" {
				t.Fatalf("GET %s: got %+v, want FORBIDDEN", path, e)
			}
		}
		b.httpError(b.Do("DELETE", "/secrets/"+sec.ID, nil), 403)
	})
	t.Run("OtherTenant", func(t *testing.T) {
		other := servertest.NewTenant(t, a.native.Base, a.native.Token)
		b := &tfAPI{Client: &servertest.Client{T: t, Base: a.Base, Token: other.Token}}
		b.createGroup("g1", "K", "theirs")
		for _, rq := range [][2]string{{"GET", "/secrets/" + sec.ID}, {"GET", "/secrets/" + sec.ID + "/versions"}, {"DELETE", "/secrets/" + sec.ID}} {
			b.httpError(b.Do(rq[0], rq[1], nil), 404)
		}
		if s := a.getSecret(sec.ID); *s.Value != "v1b" {
			t.Fatalf("got %q, want v1b untouched", *s.Value)
		}
	})
	t.Run("Deleted", func(t *testing.T) {
		a.Must(200, "DELETE", "/secrets/"+sec.ID, nil)
		for _, rq := range [][2]string{{"GET", "/secrets/" + sec.ID}, {"GET", "/secrets/" + sec.ID + "/versions"}, {"DELETE", "/secrets/" + sec.ID}} {
			a.httpError(a.Do(rq[0], rq[1], nil), 404)
		}
		if s := a.getSecret(secretNamed(t, groups[1], "L").ID); *s.Value != "l" {
			t.Fatalf("got %q, want the group's other secret kept", *s.Value)
		}
	})
}
