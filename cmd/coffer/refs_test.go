package main

// The refs tests check issue 17's two rules about refs end to end, on every
// face: a scope is checked against the secret really read or written, never
// against the ref that named it (an id); and a name is never mistaken for an
// id: new names of an id's shape are refused, refs that are ids resolve as
// ids first, and secrets named so before the rule keep working.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// refsWant checks a refusal's status and that its body is in the face's
// error format (holds marker).
func refsWant(t *testing.T, what string, r reply, status int, marker string) {
	t.Helper()
	if r.Status != status || !bytes.Contains(r.Body, []byte(marker)) {
		t.Errorf("%s: got %d %s, want %d with %s", what, r.Status, bytes.TrimSpace(r.Body), status, marker)
	}
}

// refsDashed writes a 32-hex-digit id as a UUID, as the Chutes face shows it.
func refsDashed(id string) string {
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// refsConsole sends a request through a console session and returns the
// reply.
func refsConsole(t *testing.T, base string, s consoleSession, method, path, body string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.AddCookie(&http.Cookie{Name: "coffer_session", Value: s.cookie})
	req.Header.Set("Origin", base)
	if method != "GET" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return reply{Status: res.StatusCode, Header: res.Header, Body: b.Bytes()}
}

// refsSecretNames lists the names of store's secrets, deleted ones too.
func refsSecretNames(t *testing.T, a *rawAPI, store string) []string {
	t.Helper()
	return authzNames(t, a.must(200, "GET", "/v1/stores/"+store+"/secrets?deleted=true", nil), "secrets", "name")
}

// TestRefsNoIDShapedNames: no face creates a secret whose name has the
// shape of an id (32 hex digits in either case, or a UUID), so that no name
// can stand for another secret's id; each refuses in its own error format
// and writes nothing, and the real secret stays the one its id names on
// every face.
func TestRefsNoIDShapedNames(t *testing.T) {
	base, root := startServer(t)
	api := &rawAPI{t: t, base: base, token: root}
	prod := authzStr(api.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"}).JSON(t)["id"])
	real := authzStr(api.must(201, "PUT", authzSecretPath("prod", "db_pw"), map[string]any{"value": "real"}).JSON(t)["id"])
	shapes := []string{real, strings.ToUpper(real), refsDashed(real), strings.ToUpper(refsDashed(real)), "0123456789abcdef0123456789abcdef"}
	cf := "/cloudflare/client/v4/accounts/" + accountOf(t, base, root) + "/secrets_store/stores/" + prod + "/secrets"
	const tf = "/truefoundry/api/svc/v1"
	group := authzStr(api.must(200, "POST", tf+"/secret-groups",
		`{"name":"tfgroup","integrationId":"coffer","secrets":[{"key":"FIRST","value":"one"}]}`).JSON(t)["data"].(map[string]any)["id"])
	chutes := api.must(200, "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"HF_TOKEN","value":"from-chutes"}`).JSON(t)
	chutesID := strings.ReplaceAll(authzStr(chutes["secret_id"]), "-", "")
	console := consoleSignIn(t, base, root)

	for _, name := range shapes {
		refsWant(t, "native PUT "+name, api.do("PUT", authzSecretPath("prod", name), map[string]any{"value": "attacker"}), 400, `"invalid"`)
		refsWant(t, "console PUT "+name, refsConsole(t, base, console, "PUT", authzSecretPath("prod", name), `{"value":"attacker"}`), 400, `"invalid"`)
		refsWant(t, "Cloudflare create "+name, api.do("POST", cf, `[{"name":"OK_FIRST","value":"1","scopes":["workers"]},{"name":"`+name+`","value":"attacker","scopes":["workers"]}]`), 400, `"success":false`)
		refsWant(t, "Cloudflare duplicate as "+name, api.do("POST", cf+"/"+real+"/duplicate", `{"name":"`+name+`","scopes":["workers"]}`), 400, `"success":false`)
		refsWant(t, "TrueFoundry group create with key "+name, api.do("POST", tf+"/secret-groups",
			`{"name":"tfnew","integrationId":"coffer","secrets":[{"key":"OK","value":"1"},{"key":"`+name+`","value":"attacker"}]}`), 422, `"VALIDATION_ERROR"`)
		refsWant(t, "TrueFoundry group update with key "+name, api.do("PUT", tf+"/secret-groups/"+group,
			`{"secrets":[{"key":"FIRST","value":"two"},{"key":"`+name+`","value":"attacker"}]}`), 422, `"VALIDATION_ERROR"`)
	}
	// Chutes and ByteNite name their secrets purpose/key and type/id, which
	// never have an id's shape; the attack on Chutes was a secret made
	// through another face and named like a Chutes id.
	for _, name := range []string{chutesID, refsDashed(chutesID)} {
		refsWant(t, "native PUT in chutes "+name, api.do("PUT", authzSecretPath("chutes", name), map[string]any{"value": "attacker"}), 400, `"invalid"`)
	}

	if got := refsSecretNames(t, api, "prod"); len(got) != 1 || got[0] != "db_pw" {
		t.Errorf("prod after the refusals: got %v, want only db_pw", got)
	}
	if got := refsSecretNames(t, api, "tfgroup"); len(got) != 1 || got[0] != "FIRST" {
		t.Errorf("tfgroup after the refusals: got %v, want only FIRST", got)
	}
	if r := api.do("GET", "/v1/stores/tfnew", nil); r.Status != 404 {
		t.Errorf("group tfnew: got %d, want 404 (never created)", r.Status)
	}
	if v, _ := value(t, api.must(200, "GET", authzSecretPath("tfgroup", "FIRST")+"/value", nil)); v != "one" {
		t.Errorf("tfgroup FIRST: got %q, want one (the refused update wrote nothing)", v)
	}
	if got := refsSecretNames(t, api, "chutes"); len(got) != 1 || got[0] != "my-chute/HF_TOKEN" {
		t.Errorf("chutes after the refusals: got %v, want only my-chute/HF_TOKEN", got)
	}
	// Every face still finds the real secret by its id.
	if v, _ := value(t, api.must(200, "GET", authzSecretPath("prod", real)+"/value", nil)); v != "real" {
		t.Errorf("native value by id: got %q, want real", v)
	}
	if r := api.must(200, "GET", cf+"/"+real, nil); !bytes.Contains(r.Body, []byte(`"name":"db_pw"`)) {
		t.Errorf("Cloudflare secret by id: got %s, want db_pw", r.Body)
	}
	if r := api.must(200, "GET", tf+"/secrets/"+real, nil); !bytes.Contains(r.Body, []byte(`"value":"real"`)) {
		t.Errorf("TrueFoundry secret by id: got %s, want the value real", r.Body)
	}
	if r := api.must(200, "GET", "/chutes/secrets/"+refsDashed(chutesID), nil); !bytes.Contains(r.Body, []byte(`"key":"HF_TOKEN"`)) {
		t.Errorf("Chutes secret by id: got %s, want HF_TOKEN", r.Body)
	}
}

// TestRefsScopeOnRealName: a key whose pattern matches a secret's id but
// not its name gets nothing by naming the secret by id, on any route of any
// face, and changes nothing; the same key with a pattern matching the name
// is allowed by id.
func TestRefsScopeOnRealName(t *testing.T) {
	base, root := startServer(t)
	admin := &rawAPI{t: t, base: base, token: root}
	prod := authzStr(admin.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"}).JSON(t)["id"])
	id := authzStr(admin.must(201, "PUT", authzSecretPath("prod", "db_pw"), map[string]any{"value": "CANARY-refs-8c1f"}).JSON(t)["id"])
	admin.must(200, "PUT", authzSecretPath("prod", "db_pw"), map[string]any{"value": "CANARY-refs-8c1f-v2"})
	chutes := admin.must(200, "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"HF_TOKEN","value":"CANARY-refs-chutes"}`).JSON(t)
	chutesDashed := authzStr(chutes["secret_id"])
	chutesID := strings.ReplaceAll(chutesDashed, "-", "")
	bnAdmin := &rawAPI{t: t, base: base, token: authzStr(admin.must(200, "POST", "/bytenite/v1/auth/access_token", `{"apiKey":"`+root+`"}`).JSON(t)["token"])}
	bnAdmin.must(200, "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"my_aws","secretType":"aws","name":"bucket","accessKey":"AKIA1"},"secretKey":"CANARY-refs-bytenite"}`)
	bnID := authzStr(admin.must(200, "GET", authzSecretPath("bytenite", "aws/my_aws"), nil).JSON(t)["id"])
	all := "list,read,reveal,write,delete"
	tok, _ := authzMint(t, admin, map[string]any{"name": "by-id", "scopes": authzScopes(
		"prod:"+id[:4]+"*:"+all, "chutes:"+chutesID[:4]+"*:"+all, "bytenite:"+bnID[:4]+"*:"+all, "tfgroup:*:list")})
	key := &rawAPI{t: t, base: base, token: tok}
	cf := "/cloudflare/client/v4/accounts/" + accountOf(t, base, root) + "/secrets_store/stores/" + prod + "/secrets"
	const tf = "/truefoundry/api/svc/v1"
	state := func() string {
		return authzState(admin, prod, id) + string(admin.must(200, "GET", "/v1/stores/chutes/secrets?deleted=true", nil).Body) +
			string(admin.must(200, "GET", "/v1/stores/bytenite/secrets?deleted=true", nil).Body)
	}
	before := state()

	native := []struct{ method, path, body string }{
		{"POST", "/v1/stores/prod/values", `{"names":["` + id + `"]}`},
		{"POST", "/v1/stores/" + prod + "/values", `{"names":["db_pw","` + id + `"]}`},
		{"GET", authzSecretPath("prod", id) + "/value", ""},
		{"GET", authzSecretPath("prod", id), ""},
		{"GET", "/v1/secrets/" + id, ""},
		{"GET", authzSecretPath("prod", id) + "/versions", ""},
		{"PATCH", authzSecretPath("prod", id), `{"comment":"attacker"}`},
		{"POST", authzSecretPath("prod", id) + "/rollback", `{"version":1}`},
		{"DELETE", authzSecretPath("prod", id) + "/versions/1", ""},
		{"DELETE", authzSecretPath("prod", id), ""},
		{"POST", "/v1/stores/chutes/values", `{"names":["` + chutesID + `"]}`},
		{"GET", authzSecretPath("chutes", chutesID) + "/value", ""},
	}
	console := consoleSignIn(t, base, tok)
	for _, c := range native {
		var body any
		if c.body != "" {
			body = c.body
		}
		refsWant(t, "native "+c.method+" "+c.path, key.do(c.method, c.path, body), 403, `"forbidden"`)
		refsWant(t, "console "+c.method+" "+c.path, refsConsole(t, base, console, c.method, c.path, c.body), 403, `"forbidden"`)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", cf + "/" + id, ""},
		{"PATCH", cf + "/" + id, `{"comment":"attacker"}`},
		{"POST", cf + "/" + id + "/duplicate", `{"name":"copy_of_pw","scopes":["workers"]}`},
		{"DELETE", cf + "/" + id, ""},
		{"DELETE", cf, `{"ids":["` + id + `"]}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		refsWant(t, "Cloudflare "+c.method+" "+c.path, key.do(c.method, c.path, body), 403, `"success":false`)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", tf + "/secrets/" + id},
		{"GET", tf + "/secrets/" + id + "/versions"},
		{"DELETE", tf + "/secrets/" + id},
	} {
		refsWant(t, "TrueFoundry "+c.method+" "+c.path, key.do(c.method, c.path, nil), 403, `"FORBIDDEN"`)
	}
	if r := key.do("POST", tf+"/secrets", `{"withValue":true}`); bytes.Contains(r.Body, []byte("CANARY")) {
		t.Errorf("TrueFoundry listing with values: got %s, want no value of prod", r.Body)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/chutes/secrets/" + chutesDashed},
		{"DELETE", "/chutes/secrets/" + chutesDashed},
	} {
		refsWant(t, "Chutes "+c.method+" "+c.path, key.do(c.method, c.path, nil), 401, `"detail"`)
	}
	// ByteNite names its secrets type/id, never by coffer id; a pattern
	// on the coffer id still reaches nothing.
	bn := &rawAPI{t: t, base: base, token: authzStr(key.must(200, "POST", "/bytenite/v1/auth/access_token", `{"apiKey":"`+tok+`"}`).JSON(t)["token"])}
	refsWant(t, "ByteNite delete", bn.do("DELETE", "/bytenite/v1/auth/secrets/aws/my_aws", nil), 403, `"message"`)
	if r := bn.do("GET", "/bytenite/v1/auth/secrets", nil); bytes.Contains(r.Body, []byte("CANARY")) || bytes.Contains(r.Body, []byte("my_aws")) {
		t.Errorf("ByteNite listing: got %s, want nothing of a secret the key's pattern matches only by id", r.Body)
	}
	refsWant(t, "native batch values in bytenite by id", key.do("POST", "/v1/stores/bytenite/values", `{"names":["`+bnID+`"]}`), 403, `"forbidden"`)
	if after := state(); after != before {
		t.Errorf("refused requests changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	audit := admin.must(200, "GET", "/v1/audit?limit=1000", nil).Body
	if bytes.Contains(audit, []byte("CANARY")) {
		t.Errorf("the audit log holds a value")
	}

	// The same requests with a pattern that matches the name are allowed.
	okTok, _ := authzMint(t, admin, map[string]any{"name": "by-name", "scopes": authzScopes("prod:db_*:reveal")})
	okKey := &rawAPI{t: t, base: base, token: okTok}
	r := okKey.must(200, "POST", "/v1/stores/prod/values", map[string]any{"names": []string{id}})
	var page struct {
		Values []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"values"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Values) != 1 || page.Values[0].Name != "db_pw" || page.Values[0].Value != "CANARY-refs-8c1f-v2" {
		t.Errorf("batch values by id with a scope on the name: got %s", r.Body)
	}
}

// TestRefsLegacyNames: secrets named like ids before the rule (here renamed
// in the database while the server is stopped) keep working by their
// names, a ref that is an id reaches the secret with that id even when a
// legacy secret is named like it, on every face, and coffer doctor lists
// the legacy names.
func TestRefsLegacyNames(t *testing.T) {
	dir := t.TempDir()
	first := mustOpenServer(t, dir)
	base, root := "http://"+first.Addr, first.RootToken
	api := &rawAPI{t: t, base: base, token: root}
	prod := authzStr(api.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"}).JSON(t)["id"])
	real := authzStr(api.must(201, "PUT", authzSecretPath("prod", "db_pw"), map[string]any{"value": "real"}).JSON(t)["id"])
	shadow := authzStr(api.must(201, "PUT", authzSecretPath("prod", "shadow"), map[string]any{"value": "shadow"}).JSON(t)["id"])
	api.must(201, "PUT", authzSecretPath("prod", "upper"), map[string]any{"value": "upper"})
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	upper := "ABCDEF0123456789ABCDEF0123456789"
	db, err := sql.Open("sqlite", "file:"+dir+"/coffer.db")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range [][]any{
		{`UPDATE secrets SET name = ? WHERE id = ?`, real, shadow}, // a legacy secret named after another's id
		{`UPDATE secrets SET name = ? WHERE name = 'upper'`, upper},
	} {
		if _, err := db.Exec(q[0].(string), q[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	second := mustOpenServer(t, dir)
	base = "http://" + second.Addr
	api = &rawAPI{t: t, base: base, token: root}
	cf := "/cloudflare/client/v4/accounts/" + accountOf(t, base, root) + "/secrets_store/stores/" + prod + "/secrets"
	const tf = "/truefoundry/api/svc/v1"
	for _, c := range []struct{ what, path, want string }{
		{"native value by id", authzSecretPath("prod", real) + "/value", `"value":"real"`},
		{"native metadata by id", authzSecretPath("prod", real), `"name":"db_pw"`},
		{"native secret by id", "/v1/secrets/" + real, `"name":"db_pw"`},
		{"native value of the shadow by its own id", authzSecretPath("prod", shadow) + "/value", `"value":"shadow"`},
		{"native value by a legacy name", authzSecretPath("prod", upper) + "/value", `"value":"upper"`},
		{"Cloudflare secret by id", cf + "/" + real, `"name":"db_pw"`},
		{"TrueFoundry secret by id", tf + "/secrets/" + real, `"value":"real"`},
	} {
		if r := api.do("GET", c.path, nil); r.Status != 200 || !bytes.Contains(r.Body, []byte(c.want)) {
			t.Errorf("%s: got %d %s, want 200 with %s", c.what, r.Status, r.Body, c.want)
		}
	}
	r := api.must(200, "POST", "/v1/stores/prod/values", map[string]any{"names": []string{real, upper}})
	if !bytes.Contains(r.Body, []byte(`"value":"real"`)) || !bytes.Contains(r.Body, []byte(`"value":"upper"`)) || bytes.Contains(r.Body, []byte(`"value":"shadow"`)) {
		t.Errorf("batch values by id and legacy name: got %s, want real and upper", r.Body)
	}
	// A legacy secret takes new versions under its name.
	api.must(200, "PUT", authzSecretPath("prod", upper), map[string]any{"value": "upper2"})
	if v, _ := value(t, api.must(200, "GET", authzSecretPath("prod", upper)+"/value", nil)); v != "upper2" {
		t.Errorf("legacy secret after a new version: got %q, want upper2", v)
	}

	_, out := runDoctorCmd(t, "--data", dir)
	for _, want := range []string{"warn  secret names", "prod/" + real, "prod/" + upper} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}

	// migrate copies them as they are, and says so.
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	to := t.TempDir() + "/copy"
	if r := runMigrateCmd("--from", dir, "--to", to); r.Code != 0 || !strings.Contains(r.Stdout, "2 secret(s) are named like an id") {
		t.Errorf("migrate: got %d %q %q, want a copy that reports 2 names like ids", r.Code, r.Stdout, r.Stderr)
	}
	third := mustOpenServer(t, to)
	api = &rawAPI{t: t, base: "http://" + third.Addr, token: root}
	if v, _ := value(t, api.must(200, "GET", authzSecretPath("prod", real)+"/value", nil)); v != "real" {
		t.Errorf("value by id in the copy: got %q, want real", v)
	}
}

// TestRefsImport: coffer import refuses a file with a key of an id's shape
// before writing anything, and adds a version to a legacy secret of that
// exact name.
func TestRefsImport(t *testing.T) {
	e := newCLIE2E(t)
	api := &rawAPI{t: t, base: e.addr, token: e.token}
	api.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	id := authzStr(api.must(201, "PUT", authzSecretPath("prod", "db_pw"), map[string]any{"value": "real"}).JSON(t)["id"])
	for _, key := range []string{id, strings.ToUpper(id), refsDashed(id)} {
		file := t.TempDir() + "/x.env"
		if err := os.WriteFile(file, []byte("FIRST=1\n"+key+"=attacker\nLAST=2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := e.Run("", "import", "prod", file)
		if r.Code != 1 || !strings.Contains(r.Stderr, "line 2") || !strings.Contains(r.Stderr, "shape of an id") {
			t.Errorf("import of key %s: got %d %q, want a refusal of line 2", key, r.Code, r.Stderr)
		}
	}
	if got := refsSecretNames(t, api, "prod"); len(got) != 1 || got[0] != "db_pw" {
		t.Errorf("prod after the refused imports: got %v, want only db_pw", got)
	}
	if v, _ := value(t, api.must(200, "GET", authzSecretPath("prod", id)+"/value", nil)); v != "real" {
		t.Errorf("value by id after the refused imports: got %q, want real", v)
	}
}

// TestRefsDoctorPostgres: coffer doctor lists secrets named like ids in a
// PostgreSQL database too.
func TestRefsDoctorPostgres(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	_, url := startPostgres(t)
	dir := t.TempDir()
	srv := mustOpenPGServer(t, url, dir, "")
	api := &rawAPI{t: t, base: "http://" + srv.Addr, token: srv.RootToken}
	api.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	api.must(201, "PUT", authzSecretPath("prod", "db_pw"), map[string]any{"value": "x"})
	if _, out := runDoctorCmd(t, "--data", dir, "--database", url); !strings.Contains(out, "ok    secret names") {
		t.Errorf("doctor before: output lacks the ok of secret names:\n%s", out)
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	legacy := "01234567-89AB-CDEF-0123-456789ABCDEF"
	if _, err := pool.Exec(context.Background(), `UPDATE secrets SET name = $1 WHERE name = 'db_pw'`, legacy); err != nil {
		t.Fatal(err)
	}
	if _, out := runDoctorCmd(t, "--data", dir, "--database", url); !strings.Contains(out, "warn  secret names") || !strings.Contains(out, "prod/"+legacy) {
		t.Errorf("doctor: output lacks the legacy name:\n%s", out)
	}
}
