package truefoundry_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/compat/truefoundry"
	"github.com/coffer-dev/coffer/internal/servertest"
)

// tfAPI is the TrueFoundry face of a running server, driven with the raw
// requests TrueFoundry documents: there is no Go client to replay them with.
type tfAPI struct {
	*servertest.Client
	native *servertest.Client
}

func startTrueFoundry(t *testing.T) *tfAPI {
	t.Helper()
	srv := servertest.Open(t, nil)
	addr, token := "http://"+srv.Addr, srv.RootToken
	return &tfAPI{
		Client: &servertest.Client{T: t, Base: addr + strings.TrimSuffix(truefoundry.Prefix, "/"), Token: token},
		native: &servertest.Client{T: t, Base: addr, Token: token},
	}
}

// tfSubject, tfSecret, tfVersion and tfGroup are TrueFoundry's objects as
// its SDK's types declare them; decoding with DisallowUnknownFields proves
// that the face sends no field TrueFoundry does not.
type tfSubject struct {
	SubjectID          string `json:"subjectId"`
	SubjectType        string `json:"subjectType"`
	SubjectSlug        string `json:"subjectSlug"`
	SubjectDisplayName string `json:"subjectDisplayName"`
}

type tfVersion struct {
	ID        string  `json:"id"`
	FQN       string  `json:"fqn"`
	Value     *string `json:"value"`
	Version   int     `json:"version"`
	SecretID  string  `json:"secretId"`
	CreatedAt string  `json:"createdAt"`
	UpdatedAt string  `json:"updatedAt"`
}

type tfSecret struct {
	ID                     string      `json:"id"`
	FQN                    string      `json:"fqn"`
	Name                   string      `json:"name"`
	SecretGroupID          string      `json:"secretGroupId"`
	Value                  *string     `json:"value"`
	CreatedBySubject       *tfSubject  `json:"createdBySubject"`
	CreatedAt              string      `json:"createdAt"`
	UpdatedAt              string      `json:"updatedAt"`
	SecretVersions         []tfVersion `json:"secretVersions"`
	ActiveDeploymentsCount int         `json:"activeDeploymentsCount"`
	CreatedBy              string      `json:"createdBy"`
}

type tfGroup struct {
	ID                string          `json:"id"`
	FQN               string          `json:"fqn"`
	Name              string          `json:"name"`
	TenantName        string          `json:"tenantName"`
	AccountID         string          `json:"accountId"`
	CreatedBySubject  tfSubject       `json:"createdBySubject"`
	AssociatedSecrets []tfSecret      `json:"associatedSecrets"`
	IntegrationID     string          `json:"integrationId"`
	Manifest          json.RawMessage `json:"manifest"`
	CreatedAt         string          `json:"createdAt"`
	UpdatedAt         string          `json:"updatedAt"`
	CreatedBy         string          `json:"createdBy"`
}

type tfPagination struct {
	Total  *int `json:"total"`
	Offset int  `json:"offset"`
	Limit  int  `json:"limit"`
}

type tfHTTPError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Code       string `json:"code"`
	Details    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

func (a *tfAPI) data(r servertest.Reply, v any) {
	a.T.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	servertest.Strict(a.T, r.Body, &env)
	servertest.Strict(a.T, env.Data, v)
}

func (a *tfAPI) list(r servertest.Reply, v any) tfPagination {
	a.T.Helper()
	var env struct {
		Data       json.RawMessage `json:"data"`
		Pagination tfPagination    `json:"pagination"`
	}
	servertest.Strict(a.T, r.Body, &env)
	if env.Pagination.Total == nil {
		a.T.Fatalf("pagination without total: %s", r.Body)
	}
	servertest.Strict(a.T, env.Data, v)
	return env.Pagination
}

func (a *tfAPI) httpError(r servertest.Reply, status int) tfHTTPError {
	a.T.Helper()
	if r.Status != status {
		a.T.Fatalf("got %d %s, want %d", r.Status, r.Body, status)
	}
	var e tfHTTPError
	servertest.Strict(a.T, r.Body, &e)
	if e.StatusCode != status || e.Message == "" {
		a.T.Fatalf("got error body %s, want statusCode %d and a message", r.Body, status)
	}
	return e
}

func (a *tfAPI) createGroup(name string, kv ...string) tfGroup {
	a.T.Helper()
	var secrets []map[string]string
	for i := 0; i+1 < len(kv); i += 2 {
		secrets = append(secrets, map[string]string{"key": kv[i], "value": kv[i+1]})
	}
	var g tfGroup
	a.data(a.Must(200, "POST", "/secret-groups", map[string]any{"name": name, "integrationId": "internal:aws:aws-1:secret-store:internal-secret-store", "secrets": secrets}), &g)
	return g
}

func (a *tfAPI) getSecret(id string) tfSecret {
	a.T.Helper()
	var s tfSecret
	a.data(a.Must(200, "GET", "/secrets/"+id, nil), &s)
	return s
}

func secretNamed(t *testing.T, g tfGroup, name string) tfSecret {
	t.Helper()
	for _, s := range g.AssociatedSecrets {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("group %s has no secret %s: %+v", g.Name, name, g.AssociatedSecrets)
	return tfSecret{}
}

func TestTrueFoundryGroups(t *testing.T) {
	a := startTrueFoundry(t)

	g := a.createGroup("my-app-secrets", "DB_PASSWORD", "hunter2", "API_KEY", "k1")
	t.Run("Create", func(t *testing.T) {
		tenant := g.TenantName
		if tenant == "" || g.ID == "" || g.Name != "my-app-secrets" || g.FQN != tenant+":my-app-secrets" || g.AccountID == "" {
			t.Fatalf("got %+v, want the group with fqn tenant:name", g)
		}
		if g.CreatedBySubject.SubjectID == "" || g.CreatedBySubject.SubjectType != "user" || g.CreatedAt == "" || g.UpdatedAt == "" {
			t.Fatalf("got subject %+v created %q, want the creator and times", g.CreatedBySubject, g.CreatedAt)
		}
		if g.IntegrationID != "internal:aws:aws-1:secret-store:internal-secret-store" || len(g.AssociatedSecrets) != 2 {
			t.Fatalf("got integration %q and %d secrets, want the one given and 2", g.IntegrationID, len(g.AssociatedSecrets))
		}
		var got tfGroup
		a.data(a.Must(200, "GET", "/secret-groups/"+g.ID, nil), &got)
		if got.IntegrationID != g.IntegrationID || got.CreatedBySubject != g.CreatedBySubject || got.CreatedBy != g.CreatedBy {
			t.Fatalf("got %+v, want integration and creator kept: %+v", got, g)
		}
		for _, s := range g.AssociatedSecrets {
			if s.Value != nil || s.SecretVersions != nil {
				t.Fatalf("got %+v, want no value in a group", s)
			}
			if s.FQN != tenant+":my-app-secrets:"+s.Name || s.SecretGroupID != g.ID || s.ID == "" {
				t.Fatalf("got %+v, want fqn tenant:group:key", s)
			}
		}
		if strings.Contains(string(a.Must(200, "GET", "/secret-groups/"+g.ID, nil).Body), "hunter2") {
			t.Fatal("a group response holds a value")
		}
	})
	t.Run("GetSecret", func(t *testing.T) {
		s := a.getSecret(secretNamed(t, g, "DB_PASSWORD").ID)
		if s.Value == nil || *s.Value != "hunter2" || len(s.SecretVersions) != 1 || s.SecretVersions[0].Version != 1 {
			t.Fatalf("got %+v, want value hunter2 and version 1", s)
		}
		if v := s.SecretVersions[0]; v.Value != nil || v.SecretID != s.ID || v.FQN != s.FQN+":1" {
			t.Fatalf("got version %+v, want no value, secretId and fqn", v)
		}
	})
	t.Run("Update", func(t *testing.T) {
		// DB_PASSWORD changes, API_KEY keeps its value, NEW is added; a
		// second group update leaves out API_KEY, which is deleted.
		var got tfGroup
		a.data(a.Must(200, "PUT", "/secret-groups/"+g.ID, map[string]any{"secrets": []map[string]any{
			{"key": "DB_PASSWORD", "value": "s3cret"}, {"key": "API_KEY"}, {"key": "NEW", "value": "n"},
		}}), &got)
		if len(got.AssociatedSecrets) != 3 {
			t.Fatalf("got %d secrets, want 3", len(got.AssociatedSecrets))
		}
		db := a.getSecret(secretNamed(t, got, "DB_PASSWORD").ID)
		if *db.Value != "s3cret" || len(db.SecretVersions) != 2 {
			t.Fatalf("got %q with %d versions, want s3cret with 2", *db.Value, len(db.SecretVersions))
		}
		api := a.getSecret(secretNamed(t, got, "API_KEY").ID)
		if *api.Value != "k1" || len(api.SecretVersions) != 1 {
			t.Fatalf("got API_KEY %q with %d versions, want k1 with 1", *api.Value, len(api.SecretVersions))
		}
		// The same value again adds no version.
		a.data(a.Must(200, "PUT", "/secret-groups/"+g.ID, map[string]any{"secrets": []map[string]any{
			{"key": "DB_PASSWORD", "value": "s3cret"}, {"key": "NEW"},
		}}), &got)
		if len(got.AssociatedSecrets) != 2 {
			t.Fatalf("got %+v, want API_KEY deleted", got.AssociatedSecrets)
		}
		if db = a.getSecret(db.ID); len(db.SecretVersions) != 2 {
			t.Fatalf("got %d versions, want 2: an unchanged value is no new version", len(db.SecretVersions))
		}
		a.httpError(a.Do("GET", "/secrets/"+api.ID, nil), 404)
		e := a.httpError(a.Do("PUT", "/secret-groups/"+g.ID, map[string]any{"secrets": []any{}}), 422)
		if !strings.Contains(e.Message, "zero secrets") {
			t.Fatalf("got %q, want the zero-secrets refusal", e.Message)
		}
	})
	t.Run("List", func(t *testing.T) {
		for i := range 3 {
			a.createGroup(fmt.Sprintf("page-%d", i), "K", "v")
		}
		var groups []tfGroup
		p := a.list(a.Must(200, "GET", "/secret-groups?limit=2&offset=1", nil), &groups)
		if *p.Total != 4 || p.Limit != 2 || p.Offset != 1 || len(groups) != 2 || groups[0].Name != "page-0" {
			t.Fatalf("got %+v %d groups, want total 4 and page-0, page-1", p, len(groups))
		}
		p = a.list(a.Must(200, "GET", "/secret-groups?offset=10", nil), &groups)
		if *p.Total != 4 || len(groups) != 0 || string(a.Must(200, "GET", "/secret-groups?offset=10", nil).Body) == "" {
			t.Fatalf("got %+v, %d groups, want [] past the end", p, len(groups))
		}
		if !strings.Contains(string(a.Must(200, "GET", "/secret-groups?offset=10", nil).Body), `"data":[]`) {
			t.Fatal("past the end, data is not []")
		}
		a.list(a.Must(200, "GET", "/secret-groups?search=page-", nil), &groups)
		if len(groups) != 3 {
			t.Fatalf("search: got %d groups, want 3", len(groups))
		}
		for _, fqn := range []string{g.FQN, "tfy-secret://" + g.FQN} {
			a.list(a.Must(200, "GET", "/secret-groups?fqn="+fqn, nil), &groups)
			if len(groups) != 1 || groups[0].ID != g.ID {
				t.Fatalf("fqn %s: got %d groups, want %s", fqn, len(groups), g.Name)
			}
		}
	})
	t.Run("Delete", func(t *testing.T) {
		d := a.createGroup("doomed", "X", "1")
		r := a.Must(200, "DELETE", "/secret-groups/"+d.ID+"?forceDelete=true", nil)
		if strings.TrimSpace(string(r.Body)) != "{}" {
			t.Fatalf("got %s, want {}", r.Body)
		}
		a.httpError(a.Do("GET", "/secret-groups/"+d.ID, nil), 404)
		a.httpError(a.Do("GET", "/secrets/"+d.AssociatedSecrets[0].ID, nil), 404)
		a.httpError(a.Do("DELETE", "/secret-groups/"+d.ID, nil), 404)
	})
}

func TestTrueFoundrySecrets(t *testing.T) {
	a := startTrueFoundry(t)
	g1 := a.createGroup("one", "A", "a1", "B", "b1")
	g2 := a.createGroup("two", "A", "a2")
	tenant := g1.TenantName

	t.Run("ListByGroup", func(t *testing.T) {
		var secrets []tfSecret
		p := a.list(a.Must(200, "POST", "/secrets", map[string]any{"secretGroupId": g1.ID}), &secrets)
		if *p.Total != 2 || len(secrets) != 2 || secrets[0].Name != "A" || secrets[0].Value != nil {
			t.Fatalf("got %+v %+v, want A, B without values", p, secrets)
		}
	})
	t.Run("ListWithValue", func(t *testing.T) {
		var secrets []tfSecret
		a.list(a.Must(200, "POST", "/secrets", map[string]any{
			"secretFqns": []string{tenant + ":one:B", "tfy-secret://" + tenant + ":two:A", tenant + ":two:MISSING", "other:one:A"},
			"withValue":  true,
		}), &secrets)
		if len(secrets) != 2 || *secrets[0].Value != "b1" || *secrets[1].Value != "a2" || secrets[1].SecretGroupID != g2.ID {
			t.Fatalf("got %+v, want one:B=b1 and two:A=a2", secrets)
		}
	})
	t.Run("ListAllPaged", func(t *testing.T) {
		var secrets []tfSecret
		p := a.list(a.Must(200, "POST", "/secrets", map[string]any{"limit": 2, "offset": 2}), &secrets)
		if *p.Total != 3 || len(secrets) != 1 || secrets[0].SecretGroupID != g2.ID {
			t.Fatalf("got %+v %+v, want the third of 3", p, secrets)
		}
	})
	t.Run("Versions", func(t *testing.T) {
		id := secretNamed(t, g1, "A").ID
		var vs []tfVersion
		p := a.list(a.Must(200, "GET", "/secrets/"+id+"/versions", nil), &vs)
		if *p.Total != 1 || len(vs) != 1 || vs[0].Version != 1 || vs[0].Value != nil {
			t.Fatalf("got %+v, want version 1 without value", vs)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		id := secretNamed(t, g1, "B").ID
		r := a.Must(200, "DELETE", "/secrets/"+id, nil)
		if strings.TrimSpace(string(r.Body)) != "1" {
			t.Fatalf("got %s, want 1", r.Body)
		}
		a.httpError(a.Do("DELETE", "/secrets/"+id, nil), 404)
	})
}

// TestTrueFoundryNative writes through one face and reads through the other.
func TestTrueFoundryNative(t *testing.T) {
	a := startTrueFoundry(t)
	g := a.createGroup("cross", "TOKEN", "from-tf")
	sec := secretNamed(t, g, "TOKEN")

	v, n := servertest.Value(t, a.native.Must(200, "GET", "/v1/stores/"+g.ID+"/secrets/TOKEN/value", nil))
	if v != "from-tf" || n != 1 {
		t.Fatalf("native read: got %q v%v, want from-tf v1", v, n)
	}
	a.native.Must(200, "PUT", "/v1/stores/"+g.ID+"/secrets/TOKEN", map[string]any{"value": "from-native"})
	got := a.getSecret(sec.ID)
	if *got.Value != "from-native" || len(got.SecretVersions) != 2 || got.SecretVersions[0].Version != 2 {
		t.Fatalf("got %q %+v, want from-native and versions 2, 1", *got.Value, got.SecretVersions)
	}
	// A secret made natively in a store shows in its group.
	a.native.Must(201, "PUT", "/v1/stores/"+g.ID+"/secrets/NATIVE", map[string]any{"value": "n"})
	var secrets []tfSecret
	a.list(a.Must(200, "POST", "/secrets", map[string]any{"secretGroupId": g.ID, "withValue": true}), &secrets)
	if len(secrets) != 2 || secrets[0].Name != "NATIVE" || *secrets[0].Value != "n" {
		t.Fatalf("got %+v, want NATIVE=n listed", secrets)
	}
}

// TestTrueFoundryBadInput sends requests TrueFoundry refuses and checks the
// HttpError body and that nothing was written.
func TestTrueFoundryBadInput(t *testing.T) {
	a := startTrueFoundry(t)
	g := a.createGroup("kept", "K", "v")
	big := strings.Repeat("x", 64<<10+1)
	for _, tt := range []struct {
		name         string
		method, path string
		body         any
		status       int
		field        string
	}{
		{"NoName", "POST", "/secret-groups", `{"integrationId":"coffer","secrets":[{"key":"A","value":"1"}]}`, 422, "name"},
		{"NoIntegration", "POST", "/secret-groups", `{"name":"x","secrets":[{"key":"A","value":"1"}]}`, 422, "integrationId"},
		{"NoSecrets", "POST", "/secret-groups", `{"name":"x","integrationId":"coffer"}`, 422, "secrets"},
		{"EmptySecrets", "POST", "/secret-groups", `{"name":"x","integrationId":"coffer","secrets":[]}`, 422, "secrets"},
		{"NoValue", "POST", "/secret-groups", `{"name":"x","integrationId":"coffer","secrets":[{"key":"A"}]}`, 422, "secrets[0].value"},
		{"BadName", "POST", "/secret-groups", `{"name":"a:b","integrationId":"coffer","secrets":[{"key":"A","value":"1"}]}`, 422, "name"},
		{"BadKey", "POST", "/secret-groups", `{"name":"x","integrationId":"coffer","secrets":[{"key":"a/b","value":"1"}]}`, 422, "secrets[0].key"},
		{"DupKey", "POST", "/secret-groups", `{"name":"x","integrationId":"coffer","secrets":[{"key":"A","value":"1"},{"key":"A","value":"2"}]}`, 422, "secrets[1].key"},
		{"BigValue", "POST", "/secret-groups", map[string]any{"name": "x", "integrationId": "coffer", "secrets": []any{map[string]string{"key": "A", "value": big}}}, 422, "secrets[0].value"},
		{"UnknownField", "POST", "/secret-groups", `{"name":"x","integrationId":"coffer","secrets":[{"key":"A","value":"1"}],"extra":1}`, 422, "extra"},
		{"WrongType", "POST", "/secret-groups", `{"name":7,"integrationId":"coffer","secrets":[{"key":"A","value":"1"}]}`, 422, "name"},
		{"WrongTypeNested", "PUT", "/secret-groups/" + g.ID, `{"secrets":[{"key":"K","value":1}]}`, 422, "secrets[0].value"},
		{"WrongTypeSecond", "POST", "/secret-groups", `{"name":"x","integrationId":"coffer","secrets":[{"key":"A","value":"1"},{"key":7,"value":"2"}]}`, 422, "secrets[1].key"},
		{"NotAnObject", "POST", "/secrets", `[1]`, 400, ""},
		{"BadJSON", "POST", "/secret-groups", `{"name":`, 400, ""},
		{"Taken", "POST", "/secret-groups", `{"name":"kept","integrationId":"coffer","secrets":[{"key":"A","value":"1"}]}`, 409, ""},
		{"UpdateZero", "PUT", "/secret-groups/" + g.ID, `{"secrets":[]}`, 422, "secrets"},
		{"UpdateNewNoValue", "PUT", "/secret-groups/" + g.ID, `{"secrets":[{"key":"K"},{"key":"NEW"}]}`, 422, "secrets[1].value"},
		{"UpdateMissing", "PUT", "/secret-groups/0123456789abcdef0123456789abcdef", `{"secrets":[{"key":"K"}]}`, 404, ""},
		{"LimitZero", "GET", "/secret-groups?limit=0", nil, 422, "limit"},
		{"LimitHuge", "GET", "/secret-groups?limit=1001", nil, 422, "limit"},
		{"OffsetNegative", "GET", "/secret-groups?offset=-1", nil, 422, "offset"},
		{"ListLimit", "POST", "/secrets", `{"limit":0}`, 422, "limit"},
		{"ListBadFQN", "POST", "/secrets", `{"secretFqns":["nocolons"]}`, 422, "secretFqns[0]"},
		{"ListNoGroup", "POST", "/secrets", `{"secretGroupId":"nope"}`, 404, ""},
		{"GetMissing", "GET", "/secrets/0123456789abcdef0123456789abcdef", nil, 404, ""},
		{"DeleteBadForce", "DELETE", "/secret-groups/" + g.ID + "?forceDelete=maybe", nil, 422, "forceDelete"},
		{"NoRoute", "GET", "/nowhere", nil, 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := a.httpError(a.Do(tt.method, tt.path, tt.body), tt.status)
			if tt.field != "" && (len(e.Details) != 1 || e.Details[0].Field != tt.field) {
				t.Fatalf("got details %+v, want field %s", e.Details, tt.field)
			}
			if strings.Contains(e.Message, big[:100]) {
				t.Fatal("the error quotes the value")
			}
		})
	}
	var groups []tfGroup
	a.list(a.Must(200, "GET", "/secret-groups", nil), &groups)
	if len(groups) != 1 || len(groups[0].AssociatedSecrets) != 1 {
		t.Fatalf("got %+v, want only the group kept with its one secret", groups)
	}
	if got := a.getSecret(groups[0].AssociatedSecrets[0].ID); *got.Value != "v" || len(got.SecretVersions) != 1 {
		t.Fatalf("got %+v, want K=v unchanged", got)
	}
}

func TestTrueFoundryAuth(t *testing.T) {
	a := startTrueFoundry(t)
	for _, tok := range []string{"", "not-a-key", "coffer_0123456789abcdef0123456789abcdef_deadbeef"} {
		anon := &servertest.Client{T: t, Base: a.Base, Token: tok}
		(&tfAPI{Client: anon}).httpError(anon.Do("GET", "/secret-groups", nil), 401)
	}
	// Basic or any other scheme is not TrueFoundry's.
	(&tfAPI{Client: a.Client}).httpError(a.Do("GET", "/secret-groups", nil, "Authorization", "Basic "+a.Token), 401)
}
