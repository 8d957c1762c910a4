package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestSecretHygiene runs flows through every face and the CLI with canary
// values (random, unique strings) as secret values and credentials,
// failures included: bad requests carrying a canary in their body,
// reveals, new versions, rollback, delete, undelete, destroy, import and
// export. Then it scans every log line (at debug level), every audit event,
// every answer that is not a value read, every CLI error, the /metrics
// output and the raw database files (coffer.db, -wal, -shm, while the
// server runs and after it stops) for each canary, plain and in hex and
// base64 (at every byte alignment): there must be no hit. Only the answers
// of value reads and of key creation (a token is shown once) may hold one.
func TestSecretHygiene(t *testing.T) {
	h := startHostile(t)
	hy := &hygiene{t: t, h: h}
	root := "Bearer " + h.token
	hy.canaries = append(hy.canaries, h.token)

	// Native API.
	c1, c2, c3 := hy.canary("native-v1"), hy.canary("native-v2"), hy.canary("native-bin")
	hy.want(201, "POST", "/v1/stores", `{"name":"hy"}`, root, false)
	hy.want(201, "PUT", "/v1/stores/hy/secrets/DB", `{"value":"`+c1+`"}`, root, false)
	hy.want(200, "PUT", "/v1/stores/hy/secrets/DB", `{"value":"`+c2+`","comment":"rotated"}`, root, false)
	hy.want(200, "GET", "/v1/stores/hy/secrets/DB/value", "", root, true)
	hy.want(200, "GET", "/v1/stores/hy/secrets/DB/value?version=1", "", root, true)
	hy.want(200, "POST", "/v1/stores/hy/values", `{"names":["DB","MISSING"]}`, root, true)
	hy.want(200, "GET", "/v1/stores/hy/secrets/DB", "", root, false)
	hy.want(200, "GET", "/v1/stores/hy/secrets/DB/versions", "", root, false)
	hy.want(200, "GET", "/v1/stores/hy/secrets", "", root, false)
	hy.want(200, "POST", "/v1/stores/hy/secrets/DB/rollback", `{"version":1}`, root, false)
	hy.want(201, "PUT", "/v1/stores/hy/secrets/BIN", `{"value":"`+base64.StdEncoding.EncodeToString([]byte(c3))+`","encoding":"base64"}`, root, false)
	hy.want(200, "DELETE", "/v1/stores/hy/secrets/BIN", "", root, false)
	hy.want(200, "POST", "/v1/stores/hy/secrets/BIN/undelete", "", root, false)
	hy.want(204, "DELETE", "/v1/stores/hy/secrets/DB/versions/2", "", root, false)
	hy.want(400, "PUT", "/v1/stores/hy/secrets/NEW", `{"value":"x","valu":"`+hy.canary("native-typo")+`"}`, root, false)
	hy.want(413, "PUT", "/v1/stores/hy/secrets/NEW", `{"value":"`+hy.canary("native-big")+strings.Repeat("x", 64<<10)+`"}`, root, false)
	hy.want(400, "PUT", "/v1/stores/hy/secrets/NEW", `{"value":"`+hy.canary("native-b64")+`!!","encoding":"base64"}`, root, false)
	hy.want(400, "PUT", "/v1/stores/hy/secrets/bad%20name", `{"value":"`+hy.canary("native-name")+`"}`, root, false)
	hy.want(412, "PUT", "/v1/stores/hy/secrets/DB", `{"value":"`+hy.canary("native-cas")+`"}`, root, false, "If-Match", `"99"`)
	hy.want(400, "PUT", "/v1/stores/hy/secrets/NEW", "{\"value\":\""+hy.canary("native-utf8")+"\xff\"}", root, false)
	hy.want(404, "PUT", "/v1/stores/nope/secrets/NEW", `{"value":"`+hy.canary("native-nostore")+`"}`, root, false)
	hy.want(400, "PUT", "/v1/stores/hy/secrets/NEW", `{"value":"`+hy.canary("native-json")+`"`, root, false)
	r := hy.want(201, "POST", "/v1/keys", `{"name":"reader","scopes":[{"store":"hy","secret":"*","actions":["read","reveal"]}]}`, root, true)
	var key struct {
		Token string `json:"token"`
	}
	strictish(t, r.Body, &key)
	hy.canaries = append(hy.canaries, key.Token)
	hy.want(200, "GET", "/v1/stores/hy/secrets/DB/value", "", "Bearer "+key.Token, true)
	hy.want(403, "PUT", "/v1/stores/hy/secrets/DB", `{"value":"`+hy.canary("native-forbidden")+`"}`, "Bearer "+key.Token, false)
	hy.want(401, "GET", "/v1/stores", "", "Bearer "+flipLast(key.Token), false)
	hy.want(401, "GET", "/v1/stores", "", "Bearer "+hy.canary("native-badtoken"), false)

	// Cloudflare.
	cf := "/cloudflare/client/v4/accounts/" + h.account + "/secrets_store"
	// Cloudflare allows one store per account: the native API's.
	var st struct {
		Result []struct{ ID string } `json:"result"`
	}
	strictish(t, hy.want(200, "GET", cf+"/stores", "", root, false).Body, &st)
	hy.want(400, "POST", cf+"/stores", `{"name":"cfstore"}`, root, false)
	secrets := cf + "/stores/" + st.Result[0].ID + "/secrets"
	var made struct {
		Result []struct{ ID string } `json:"result"`
	}
	strictish(t, hy.want(200, "POST", secrets, `[{"name":"CF_A","value":"`+hy.canary("cf-v1")+`","scopes":["workers"]}]`, root, false).Body, &made)
	one := secrets + "/" + made.Result[0].ID
	hy.want(200, "PATCH", one, `{"value":"`+hy.canary("cf-v2")+`","comment":"c"}`, root, false)
	hy.want(200, "POST", one+"/duplicate", `{"name":"CF_COPY","scopes":["workers"]}`, root, false)
	hy.want(200, "GET", one, "", root, false)
	hy.want(200, "GET", secrets, "", root, false)
	hy.want(400, "POST", secrets, `[{"name":"bad.name","value":"`+hy.canary("cf-name")+`","scopes":["workers"]}]`, root, false)
	hy.want(400, "POST", secrets, `[{"name":"CF_B","value":"`+hy.canary("cf-big")+strings.Repeat("x", 64<<10)+`","scopes":["workers"]}]`, root, false)
	hy.want(400, "POST", secrets, `[{"name":"CF_B","value":"`+hy.canary("cf-unknown")+`","scopes":["workers"],"labels":{"a":"`+hy.canary("cf-label")+`"}}]`, root, false)
	hy.want(409, "POST", secrets, `[{"name":"CF_A","value":"`+hy.canary("cf-taken")+`","scopes":["workers"]}]`, root, false)
	hy.want(202, "DELETE", one, "", root, false)

	// TrueFoundry.
	tf := "/truefoundry/api/svc/v1"
	var g struct {
		Data struct {
			ID                string `json:"id"`
			AssociatedSecrets []struct {
				ID string `json:"id"`
			} `json:"associatedSecrets"`
		} `json:"data"`
	}
	strictish(t, hy.want(200, "POST", tf+"/secret-groups", `{"name":"tfgroup","integrationId":"internal:aws:aws-1:secret-store:internal-secret-store","secrets":[{"key":"TF_A","value":"`+hy.canary("tf-v1")+`"}]}`, root, false).Body, &g)
	hy.want(200, "GET", tf+"/secrets/"+g.Data.AssociatedSecrets[0].ID, "", root, true)
	hy.want(200, "PUT", tf+"/secret-groups/"+g.Data.ID, `{"secrets":[{"key":"TF_A","value":"`+hy.canary("tf-v2")+`"},{"key":"TF_B","value":"`+hy.canary("tf-b")+`"}]}`, root, false)
	hy.want(200, "POST", tf+"/secrets", `{"secretGroupId":"`+g.Data.ID+`","withValue":true}`, root, true)
	hy.want(200, "POST", tf+"/secrets", `{"secretGroupId":"`+g.Data.ID+`"}`, root, false)
	hy.want(200, "GET", tf+"/secret-groups/"+g.Data.ID, "", root, false)
	hy.want(200, "GET", tf+"/secrets/"+g.Data.AssociatedSecrets[0].ID+"/versions", "", root, false)
	hy.want(422, "PUT", tf+"/secret-groups/"+g.Data.ID, `{"secrets":[{"key":"bad key","value":"`+hy.canary("tf-key")+`"}]}`, root, false)
	hy.want(422, "PUT", tf+"/secret-groups/"+g.Data.ID, `{"secrets":[{"key":"TF_C","value":"`+hy.canary("tf-unknown")+`","extra":"`+hy.canary("tf-extra")+`"}]}`, root, false)
	r = hy.want(200, "POST", tf+"/personal-access-tokens", `{"name":"hygiene-pat"}`, root, true)
	var pat struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	json.Unmarshal(r.Body, &pat)
	if pat.Data.Token != "" {
		hy.canaries = append(hy.canaries, pat.Data.Token)
	}

	// Chutes.
	hy.want(200, "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"CH_A","value":"`+hy.canary("ch-v1")+`"}`, root, false)
	hy.want(200, "GET", "/chutes/secrets/", "", root, false)
	hy.want(422, "POST", "/chutes/secrets/", `{"purpose":5,"key":"CH_B","value":"`+hy.canary("ch-purpose")+`"}`, root, false)
	hy.want(422, "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"CH_B","value":["`+hy.canary("ch-list")+`"]}`, root, false)
	hy.want(413, "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"CH_B","value":"`+hy.canary("ch-big")+strings.Repeat("x", 64<<10)+`"}`, root, false)
	r = hy.want(200, "POST", "/chutes/api_keys/", `{"admin":true,"name":"hygiene"}`, root, true)
	var cpk struct {
		SecretKey string `json:"secret_key"`
	}
	json.Unmarshal(r.Body, &cpk)
	if !strings.HasPrefix(cpk.SecretKey, "cpk_") {
		t.Fatalf("Chutes key: %s", r.Body)
	}
	hy.canaries = append(hy.canaries, cpk.SecretKey)
	hy.want(200, "GET", "/chutes/secrets/", "", cpk.SecretKey, false)
	hy.want(401, "GET", "/chutes/secrets/", "", flipLast(cpk.SecretKey), false)

	// ByteNite.
	r = hy.want(200, "POST", "/bytenite/v1/auth/access_token", `{"apiKey":"`+h.token+`"}`, "", true)
	var at struct {
		Token string `json:"token"`
	}
	strictish(t, r.Body, &at)
	hy.canaries = append(hy.canaries, at.Token)
	hy.want(200, "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"bn","secretType":"aws","accessKey":"AK"},"secretKey":"`+hy.canary("bn-v1")+`"}`, at.Token, false)
	hy.want(200, "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"bn","secretType":"aws"},"secretKey":"`+hy.canary("bn-v2")+`"}`, at.Token, false)
	hy.want(200, "GET", "/bytenite/v1/auth/secrets", "", at.Token, false)
	hy.want(400, "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"../x","secretType":"aws"},"secretKey":"`+hy.canary("bn-id")+`"}`, at.Token, false)
	hy.want(400, "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"x","secretType":5},"secretKey":"`+hy.canary("bn-type")+`"}`, at.Token, false)
	hy.want(401, "POST", "/bytenite/v1/auth/access_token", `{"apiKey":"`+hy.canary("bn-badkey")+`"}`, "", false)
	hy.want(401, "GET", "/bytenite/v1/auth/secrets", "", flipLast(at.Token), false)
	hy.want(200, "DELETE", "/bytenite/v1/auth/secrets/aws/bn", "", at.Token, false)

	// The CLI.
	addr := h.base
	cli := func(code int, stdin string, reveal bool, args ...string) cliResult {
		t.Helper()
		res := cliExec(t, addr, h.token, stdin, args...)
		if res.Code != code {
			t.Fatalf("coffer %s: exit %d, want %d; stderr %q", strings.Join(args, " "), res.Code, code, res.Stderr)
		}
		hy.record("coffer "+strings.Join(args, " ")+" (stderr)", []byte(res.Stderr), false)
		hy.record("coffer "+strings.Join(args, " "), []byte(res.Stdout), reveal)
		return res
	}
	cli(0, hy.canary("cli-put")+"\n", false, "secret", "put", "hy", "CLI_A")
	cli(0, hy.canary("cli-put2")+"\n", false, "secret", "put", "hy", "CLI_A")
	cli(0, "", true, "secret", "get", "hy", "CLI_A")
	cli(0, "", false, "secret", "history", "hy", "CLI_A")
	cli(0, "", false, "secret", "delete", "hy", "CLI_A")
	cli(0, "", false, "secret", "undelete", "hy", "CLI_A")
	cli(0, "IMP_A="+hy.canary("cli-imp-a")+"\nIMP_B='"+hy.canary("cli-imp-b")+"'\n", false, "import", "hy", "-")
	cli(0, `{"IMP_J":"`+hy.canary("cli-imp-json")+`"}`, false, "import", "hy", "-", "--format", "json")
	cli(0, "", true, "export", "hy")
	cli(0, "", true, "export", "hy", "--format", "json")
	cli(1, "GOOD=x\nBAD LINE "+hy.canary("cli-bad-dotenv")+"\n", false, "import", "hy", "-")
	cli(1, `{"OK":"x","bad key":"`+hy.canary("cli-bad-json")+`"}`, false, "import", "hy", "-", "--format", "json")
	cli(1, `{"OK":"`+hy.canary("cli-json-trailing")+`"} x`, false, "import", "hy", "-", "--format", "json")
	cli(0, "", false, "secret", "list", "hy")
	cli(0, "", false, "audit", "list")

	// Every audit event, through the API.
	after := 0
	for {
		var page struct {
			Events []struct {
				Seq int `json:"seq"`
			} `json:"events"`
		}
		r := hy.want(200, "GET", fmt.Sprintf("/v1/audit?after=%d&limit=1000", after), "", root, false)
		strictish(t, r.Body, &page)
		if len(page.Events) == 0 {
			break
		}
		after = page.Events[len(page.Events)-1].Seq
	}
	hy.want(200, "GET", "/metrics", "", "", false)

	// The scans: answers, logs, and the database while it runs.
	hy.scanRecorded()
	hy.scan("the server log", []byte(h.logs.String()))
	dir := h.srv.Config.DataDir
	hy.scanFiles(dir, "while running")
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	hy.scan("the server log after shutdown", []byte(h.logs.String()))
	hy.scanFiles(dir, "after shutdown")
	t.Logf("%d canaries, %d answers scanned (%d value reads excluded), %d bytes of log", len(hy.canaries), len(hy.answers), hy.reveals, len(h.logs.String()))
}

// hygiene collects canaries and answers.
type hygiene struct {
	t        *testing.T
	h        *hostileServer
	canaries []string
	mu       sync.Mutex
	answers  []hygieneAnswer
	reveals  int
}

type hygieneAnswer struct {
	what string
	body []byte
}

// canary returns a new random canary value.
func (hy *hygiene) canary(label string) string {
	b := make([]byte, 12)
	rand.Read(b)
	c := "cnry-" + label + "-" + hex.EncodeToString(b)
	hy.canaries = append(hy.canaries, c)
	return c
}

// want sends a request (auth is the whole Authorization header), fails
// unless the status is status, and records the answer for the scan unless
// it is a value read (reveal).
func (hy *hygiene) want(status int, method, target, body, auth string, reveal bool, hdr ...string) reply {
	hy.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	if strings.HasPrefix(auth, "Bearer cpk_") || strings.HasPrefix(auth, "cpk_") {
		auth = strings.TrimPrefix(auth, "Bearer ")
	}
	r := hy.h.send(hy.t, method, target, b, auth, hdr...)
	if r.Status != status {
		hy.t.Fatalf("%s %s: got %d %.400s, want %d", method, target, r.Status, r.Body, status)
	}
	var hdrs bytes.Buffer
	r.Header.Write(&hdrs)
	hy.record(method+" "+target+" (headers)", hdrs.Bytes(), false)
	hy.record(method+" "+target, r.Body, reveal)
	return r
}

func (hy *hygiene) record(what string, body []byte, reveal bool) {
	hy.mu.Lock()
	defer hy.mu.Unlock()
	if reveal {
		hy.reveals++
		return
	}
	hy.answers = append(hy.answers, hygieneAnswer{what, body})
}

func (hy *hygiene) scanRecorded() {
	for _, a := range hy.answers {
		hy.scan(a.what, a.body)
	}
}

// scan fails for every canary found in data, in any of its forms.
func (hy *hygiene) scan(where string, data []byte) {
	hy.t.Helper()
	for _, c := range hy.canaries {
		for _, form := range canaryForms(c) {
			if i := bytes.Index(data, []byte(form.text)); i >= 0 {
				lo, hi := max(0, i-80), min(len(data), i+len(form.text)+80)
				hy.t.Errorf("%s holds a canary (%s): ...%q...", where, form.name, data[lo:hi])
				break
			}
		}
	}
}

// scanFiles scans the database files of the data directory.
func (hy *hygiene) scanFiles(dir, when string) {
	hy.t.Helper()
	found := 0
	for _, name := range []string{"coffer.db", "coffer.db-wal", "coffer.db-shm"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			hy.t.Fatal(err)
		}
		found++
		hy.scan(name+" "+when, b)
	}
	if found == 0 {
		hy.t.Fatalf("no database file in %s", dir)
	}
}

type canaryForm struct{ name, text string }

// canaryForms are the ways a canary could show: as is, in hex, and in
// base64 (standard and URL alphabets) at each of the three byte alignments
// it could have inside a longer encoded blob.
func canaryForms(c string) []canaryForm {
	forms := []canaryForm{{"plain", c}, {"hex", hex.EncodeToString([]byte(c))}, {"HEX", strings.ToUpper(hex.EncodeToString([]byte(c)))}}
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
		for k := 0; k < 3; k++ {
			s := enc.e.EncodeToString(append(make([]byte, k), c...))
			// Drop the characters that hold the padding bytes before the
			// canary, and the last group, which depends on what follows.
			s = s[(k*8+5)/6 : len(s)-4]
			forms = append(forms, canaryForm{fmt.Sprintf("%s+%d", enc.name, k), s})
		}
	}
	return forms
}

// TestCanaryForms checks that the scan finds a canary base64-encoded inside
// a longer blob at any offset, and in hex.
func TestCanaryForms(t *testing.T) {
	c := "cnry-forms-0123456789abcdef"
	for pre := 0; pre < 7; pre++ {
		blob := append(bytes.Repeat([]byte{0xA5}, pre), c...)
		blob = append(blob, "tail"...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
			s := enc.EncodeToString(blob)
			found := false
			for _, f := range canaryForms(c) {
				found = found || strings.Contains(s, f.text)
			}
			if !found {
				t.Errorf("canary at offset %d not found in %s", pre, s)
			}
		}
		if found := strings.Contains(hex.EncodeToString(blob), canaryForms(c)[1].text); !found {
			t.Errorf("canary at offset %d not found in hex", pre)
		}
	}
}
