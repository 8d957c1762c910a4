package bytenite_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/compat/bytenite"
	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// bnAPI is the ByteNite face of a running server, driven with the raw
// requests ByteNite documents (there is no ByteNite SDK), next to the
// native API as the root key.
type bnAPI struct {
	t      *testing.T
	face   *servertest.Client // no token: each call sets its own Authorization
	native *servertest.Client
	root   string // the root API key
	*bnState
}

// bnState is what the copies of a bnAPI for subtests share.
type bnState struct {
	mu     sync.Mutex
	logs   *servertest.SyncBuffer // everything the server logged
	bodies []string               // every face response, to search for values
	secret map[string]string      // secretKeys written, which no response may hold
}

// at returns b for the subtest t.
func (b *bnAPI) at(t *testing.T) *bnAPI {
	c := *b
	c.t = t
	f, n := *b.face, *b.native
	f.T, n.T = t, t
	c.face, c.native = &f, &n
	return &c
}

func (s *bnState) record(body string) {
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.mu.Unlock()
}

func (s *bnState) remember(name, secretKey string) {
	s.mu.Lock()
	s.secret[name] = secretKey
	s.mu.Unlock()
}

// callFrom is call from another loopback address, so that failed
// authentications do not spend the budget of 127.0.0.1.
func (b *bnAPI) callFrom(ip, method, path, auth string, body any) servertest.Reply {
	b.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer hc.CloseIdleConnections()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, b.face.Base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s from %s: %v", method, path, ip, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	b.record(string(rb))
	return servertest.Reply{Status: resp.StatusCode, Header: resp.Header, Body: rb}
}

// startByteNite starts a server whose ByteNite access tokens live ttl (the
// default when 0).
func startByteNite(t *testing.T, ttl time.Duration) *bnAPI {
	t.Helper()
	var b *bnAPI
	t.Cleanup(func() { // after the server's Close, which servertest.Open registers later
		if b != nil {
			b.checkNoLeaks()
		}
	})
	logs := &servertest.SyncBuffer{}
	s := servertest.Open(t, logs, func(c *server.Config) {
		if ttl > 0 {
			c.ByteNiteTokenTTL = ttl
		}
	})
	b = &bnAPI{
		t:       t,
		face:    &servertest.Client{T: t, Base: "http://" + s.Addr + strings.TrimSuffix(bytenite.Prefix, "/")},
		native:  &servertest.Client{T: t, Base: "http://" + s.Addr, Token: s.RootToken},
		root:    s.RootToken,
		bnState: &bnState{logs: logs, secret: map[string]string{}},
	}
	return b
}

// call sends one request to the face with auth as the whole Authorization
// header ("" for none).
func (b *bnAPI) call(method, path, auth string, body any) servertest.Reply {
	b.t.Helper()
	var hdr []string
	if auth != "" {
		hdr = []string{"Authorization", auth}
	}
	r := b.face.Do(method, path, body, hdr...)
	b.record(string(r.Body))
	return r
}

// must is call that fails the test unless the status is want.
func (b *bnAPI) must(want int, method, path, auth string, body any) servertest.Reply {
	b.t.Helper()
	r := b.call(method, path, auth, body)
	if r.Status != want {
		b.t.Fatalf("%s %s: got %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// token exchanges an API key for an access token.
func (b *bnAPI) token(apiKey string) bnToken {
	b.t.Helper()
	r := b.must(200, "POST", "/access_token", "", map[string]string{"apiKey": apiKey})
	var tok bnToken
	servertest.Strict(b.t, r.Body, &tok)
	wantFields(b.t, "access token", r.Body, "expiresIn", "scope", "token")
	return tok
}

// save posts a secret and checks the envelope.
func (b *bnAPI) save(auth string, secret map[string]any, secretKey string) bnEnvelope {
	b.t.Helper()
	b.remember(fmt.Sprint(secret["secretType"], "/", secret["id"]), secretKey)
	return b.ok(b.call("POST", "/secrets", auth, map[string]any{"secret": secret, "secretKey": secretKey}))
}

// list returns GET /secrets[?secretType=] decoded strictly, each secret
// with every field.
func (b *bnAPI) list(auth, query string) []bnSecret {
	b.t.Helper()
	r := b.must(200, "GET", "/secrets"+query, auth, nil)
	var raw struct {
		Secrets []json.RawMessage `json:"secrets"`
	}
	servertest.Strict(b.t, r.Body, &raw)
	if raw.Secrets == nil {
		b.t.Fatalf("GET /secrets: secrets is %s, want a list", r.Body)
	}
	out := make([]bnSecret, len(raw.Secrets))
	for i, s := range raw.Secrets {
		wantFields(b.t, "secret", s, "accessKey", "expiresAt", "id", "name", "params", "secretType")
		servertest.Strict(b.t, s, &out[i])
		if out[i].Params == nil {
			b.t.Fatalf("secret %s: params is null, want an object", s)
		}
	}
	return out
}

// ok checks a 200 envelope: ok true, the request id, a message, error null.
func (b *bnAPI) ok(r servertest.Reply) bnEnvelope {
	b.t.Helper()
	if r.Status != 200 {
		b.t.Fatalf("got %d %s, want 200 and an envelope", r.Status, r.Body)
	}
	wantFields(b.t, "envelope", r.Body, "error", "message", "ok", "requestId")
	var e bnEnvelope
	servertest.Strict(b.t, r.Body, &e)
	if !e.OK || e.Message == "" || e.Error != nil || e.RequestID == "" || e.RequestID != r.Header.Get("X-Request-Id") {
		b.t.Fatalf("envelope %s: want ok, a message, error null and the X-Request-Id %q", r.Body, r.Header.Get("X-Request-Id"))
	}
	return e
}

// fail checks an error answer: the status, and a body with both ByteNite's
// envelope and grpc-gateway's status.
func (b *bnAPI) fail(r servertest.Reply, status, grpc int) bnError {
	b.t.Helper()
	if r.Status != status {
		b.t.Fatalf("got %d %s, want %d", r.Status, r.Body, status)
	}
	wantFields(b.t, "error", r.Body, "code", "details", "error", "message", "ok", "requestId")
	var e bnError
	servertest.Strict(b.t, r.Body, &e)
	if e.OK || e.Message == "" || e.RequestID == "" || e.RequestID != r.Header.Get("X-Request-Id") ||
		e.Error == nil || e.Error.Code != status || e.Error.Message != http.StatusText(status) || e.Error.Description != e.Message ||
		e.Code != grpc || e.Details == nil || len(e.Details) != 0 {
		b.t.Fatalf("error body %s: want ok false, error{%d, %q, message}, code %d, details []", r.Body, status, http.StatusText(status), grpc)
	}
	wantFields(b.t, "error.error", mustRaw(b.t, r.Body, "error"), "code", "description", "message")
	return e
}

// checkNoLeaks fails if a secretKey shows in a face response, the server
// log or the audit log, or a token or API key in the log or audit log.
func (b *bnAPI) checkNoLeaks() {
	b.t.Helper()
	logs := b.logs.String()
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, v := range b.secret {
		for _, body := range b.bodies {
			if strings.Contains(body, v) {
				b.t.Errorf("a response holds the secretKey of %s: %s", name, body)
			}
		}
		if strings.Contains(logs, v) {
			b.t.Errorf("the log holds the secretKey of %s", name)
		}
	}
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`cat_[A-Za-z0-9_-]{20,}`), regexp.MustCompile(`cfr_[0-9a-f]{16}_[0-9a-f]{8,}`)} {
		if m := re.FindString(logs); m != "" {
			b.t.Errorf("the log holds a credential: %s", m)
		}
	}
}

// checkAudit fails unless the audit log holds none of the secrets, tokens
// or keys given, and returns its events.
func (b *bnAPI) audit(never ...string) []bnAuditEvent {
	b.t.Helper()
	r := b.native.Must(200, "GET", "/v1/audit?limit=1000", nil)
	for _, s := range never {
		if strings.Contains(string(r.Body), s) {
			b.t.Fatalf("the audit log holds a secret or credential")
		}
	}
	var page struct {
		Events []bnAuditEvent `json:"events"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		b.t.Fatal(err)
	}
	return page.Events
}

type bnAuditEvent struct {
	Action  string `json:"action"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	Face    string `json:"face"`
	KeyID   string `json:"key_id"`
}

// The face's objects as ByteNite's spec declares them; strict decoding
// proves that the face sends no other field.
type bnToken struct {
	Token     string `json:"token"`
	ExpiresIn string `json:"expiresIn"` // int64: a JSON string
	Scope     string `json:"scope"`
}

type bnSecret struct {
	ID         string            `json:"id"`
	SecretType string            `json:"secretType"`
	ExpiresAt  *string           `json:"expiresAt"`
	AccessKey  string            `json:"accessKey"`
	Params     map[string]string `json:"params"`
	Name       string            `json:"name"`
}

type bnEnvelope struct {
	OK        bool            `json:"ok"`
	RequestID string          `json:"requestId"`
	Message   string          `json:"message"`
	Error     json.RawMessage `json:"error"`
}

// UnmarshalJSON keeps a null error nil, so that ok can tell it apart.
func (e *bnEnvelope) UnmarshalJSON(b []byte) error {
	type plain bnEnvelope
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	if string(e.Error) == "null" {
		e.Error = nil
	}
	return nil
}

type bnError struct {
	OK        bool   `json:"ok"`
	RequestID string `json:"requestId"`
	Message   string `json:"message"`
	Error     *struct {
		Code        int    `json:"code"`
		Message     string `json:"message"`
		Description string `json:"description"`
	} `json:"error"`
	Code    int               `json:"code"`
	Details []json.RawMessage `json:"details"`
}

type bnKey struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	IssuedAt    string  `json:"issuedAt"`
	ExpiresAt   *string `json:"expiresAt"`
	UserID      string  `json:"userId"`
	Revoked     bool    `json:"revoked"`
	Fingerprint string  `json:"fingerprint"`
}

type bnContact struct {
	Company     string `json:"company"`
	JobTitle    string `json:"jobTitle"`
	PhoneNumber string `json:"phoneNumber"`
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	State       string `json:"state"`
	Zip         string `json:"zip"`
	Country     string `json:"country"`
}

type bnUser struct {
	ID             string            `json:"id"`
	CreatedAt      string            `json:"createdAt"`
	LastLogin      *string           `json:"lastLogin"`
	DisplayName    string            `json:"displayName"`
	Email          string            `json:"email"`
	Settings       map[string]any    `json:"settings"`
	PhotoURL       string            `json:"photoUrl"`
	ProviderID     string            `json:"providerId"`
	EmailVerified  bool              `json:"emailVerified"`
	CustomClaims   map[string]string `json:"customClaims"`
	Role           string            `json:"role"`
	FirstName      string            `json:"firstName"`
	LastName       string            `json:"lastName"`
	ContactInfo    bnContact         `json:"contactInfo"`
	Disabled       bool              `json:"disabled"`
	IsOnboarded    bool              `json:"isOnboarded"`
	OnboardingInfo []json.RawMessage `json:"onboardingInfo"`
	UserName       string            `json:"userName"`
}

// wantFields fails unless the JSON object raw has exactly the named fields.
func wantFields(t *testing.T, what string, raw []byte, want ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %s is not a JSON object", what, raw)
	}
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got fields %v, want %v", what, got, want)
	}
}

// mustRaw returns the raw JSON of one field of an object.
func mustRaw(t *testing.T, raw []byte, field string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m[field] == nil {
		t.Fatalf("%s has no field %s", raw, field)
	}
	return m[field]
}

// rfc3339Z is how grpc-gateway writes a Timestamp: UTC with "Z" and 0, 3, 6
// or 9 fractional digits.
var rfc3339Z = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$`)

func TestByteNiteAccessToken(t *testing.T) {
	b := startByteNite(t, 0)

	// The documented exchange: no Authorization, {"apiKey"}.
	r := b.must(200, "POST", "/access_token", "", fmt.Sprintf(`{"apiKey": %q}`, b.root))
	if raw := string(mustRaw(t, r.Body, "expiresIn")); raw != `"3600"` {
		t.Fatalf("expiresIn: got %s, want the JSON string \"3600\"", raw)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	var tok bnToken
	servertest.Strict(t, r.Body, &tok)
	if !strings.HasPrefix(tok.Token, "cat_") || tok.Scope != "admin" {
		t.Fatalf("token: got %+v, want a cat_ token with scope admin", tok)
	}

	t.Run("AuthorizationForms", func(t *testing.T) {
		b := b.at(t)
		for _, auth := range []string{tok.Token, "Bearer " + tok.Token, "bearer " + tok.Token, "  " + tok.Token + " ",
			b.root, "Bearer " + b.root} {
			if r := b.call("GET", "/secrets", auth, nil); r.Status != 200 || string(r.Body) != "{\"secrets\":[]}\n" {
				t.Fatalf("GET /secrets with Authorization %.12s...: got %d %s, want 200 and no secrets", auth, r.Status, r.Body)
			}
		}
		// The access token works on the native API too.
		nat := &servertest.Client{T: t, Base: b.native.Base, Token: tok.Token}
		nat.Must(200, "GET", "/v1/stores", nil)
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		b := b.at(t)
		ip := 10
		for _, auth := range []string{"", "Bearer", "Bearer ", tok.Token + "x", "cat_" + strings.Repeat("A", 40) + "." + strings.Repeat("B", 43),
			"Basic " + tok.Token, "Bearer Bearer " + tok.Token} {
			ip++
			b.fail(b.callFrom(fmt.Sprint("127.0.0.", ip), "GET", "/secrets", auth, nil), 401, 16)
		}
		for _, body := range []any{
			map[string]string{"apiKey": "cfr_0123456789abcdef_" + strings.Repeat("0", 64)},
			map[string]string{"apiKey": tok.Token}, // an access token is not an API key
			map[string]string{"apiKey": "eyJjcnYiOiJQLTM4NCIsImQiOiJyM1VFQ21naUNiNjI1c19CZWc3emdULUlCajJUOUZW"},
		} {
			ip++
			b.fail(b.callFrom(fmt.Sprint("127.0.0.", ip), "POST", "/access_token", "", body), 401, 16)
		}
		events := b.audit(tok.Token, b.root)
		last := events[len(events)-1]
		if last.Action != "auth.fail" || last.Face != "bytenite" {
			t.Fatalf("audit of a failed exchange: got %+v, want auth.fail by the bytenite face", last)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		b := b.at(t)
		for _, body := range []string{"", "{}", `{"apiKey":""}`, `{"apiKey":null}`, "not json", `{"apiKey":5}`, `["x"]`, `{"apiKey":"a"} {}`} {
			e := b.fail(b.call("POST", "/access_token", "", body), 400, 3)
			if body == "{}" && !strings.Contains(e.Message, "apiKey") {
				t.Errorf("missing apiKey: message %q does not name it", e.Message)
			}
		}
	})

	t.Run("UnknownFieldsIgnored", func(t *testing.T) {
		b := b.at(t)
		r := b.must(200, "POST", "/access_token", "", map[string]any{"apiKey": b.root, "grantType": "x", "ttl": 5})
		wantFields(t, "access token", r.Body, "expiresIn", "scope", "token")
	})

	t.Run("AuditedIssue", func(t *testing.T) {
		b := b.at(t)
		events := b.audit(tok.Token)
		n := 0
		for _, ev := range events {
			if ev.Action == "token.issue" && ev.Face == "bytenite" && ev.Outcome == "ok" {
				n++
			}
		}
		if n < 2 {
			t.Fatalf("audit: got %d token.issue events of the bytenite face, want at least 2", n)
		}
	})
}

func TestByteNiteTokenExpiry(t *testing.T) {
	b := startByteNite(t, 2*time.Second)
	tok := b.token(b.root)
	if tok.ExpiresIn != "2" {
		t.Fatalf("expiresIn: got %q, want \"2\"", tok.ExpiresIn)
	}
	b.must(200, "GET", "/secrets", tok.Token, nil)
	time.Sleep(2100 * time.Millisecond)
	b.fail(b.call("GET", "/secrets", tok.Token, nil), 401, 16)
	b.fail(b.call("GET", "/user", "Bearer "+tok.Token, nil), 401, 16)
	events := b.audit(tok.Token)
	last := events[len(events)-1]
	if last.Action != "auth.fail" || last.Reason != "expired access token" || last.Face != "bytenite" || last.KeyID == "" {
		t.Fatalf("audit: got %+v, want auth.fail of an expired token, naming its key", last)
	}
	// A new exchange works: the key is not locked out.
	b.must(200, "GET", "/secrets", b.token(b.root).Token, nil)
}

func TestByteNiteRevokedKeyKillsToken(t *testing.T) {
	b := startByteNite(t, 0)
	admin := b.token(b.root).Token

	r := b.must(200, "POST", "/api_keys", admin, map[string]any{"name": "ci", "validity": "1800s"})
	wantFields(t, "create key", r.Body, "apiKey", "token")
	var created struct {
		Token  string `json:"token"`
		APIKey bnKey  `json:"apiKey"`
	}
	servertest.Strict(t, r.Body, &created)
	wantFields(t, "apiKey", mustRaw(t, r.Body, "apiKey"), "expiresAt", "fingerprint", "id", "issuedAt", "name", "revoked", "userId")
	if created.APIKey.Name != "ci" || created.APIKey.Revoked || created.APIKey.ExpiresAt == nil || !strings.HasPrefix(created.Token, "cfr_") {
		t.Fatalf("created key: got %s", r.Body)
	}
	exp, err := time.Parse(time.RFC3339Nano, *created.APIKey.ExpiresAt)
	if err != nil || time.Until(exp) < 29*time.Minute || time.Until(exp) > 30*time.Minute {
		t.Fatalf("created key expiresAt %q: want about half an hour from now", *created.APIKey.ExpiresAt)
	}

	tok := b.token(created.Token)
	b.must(200, "GET", "/secrets", tok.Token, nil)
	b.ok(b.call("POST", "/api_keys/"+created.APIKey.ID+"/revoke", admin, nil))
	b.fail(b.call("GET", "/secrets", tok.Token, nil), 401, 16)
	b.fail(b.call("POST", "/access_token", "", map[string]string{"apiKey": created.Token}), 401, 16)
	// Revoked keys stay listed.
	var keys struct {
		APIKeys []bnKey `json:"apiKeys"`
	}
	servertest.Strict(t, b.must(200, "GET", "/api_keys", admin, nil).Body, &keys)
	found := false
	for _, k := range keys.APIKeys {
		if k.ID == created.APIKey.ID {
			found = k.Revoked
		}
	}
	if !found {
		t.Fatalf("GET /api_keys: the revoked key is not listed with revoked true: %+v", keys.APIKeys)
	}
	events := b.audit(tok.Token, created.Token)
	last := events[len(events)-1]
	if last.Reason != "access token of a revoked key" && last.Reason != "revoked key" {
		t.Fatalf("audit: got %+v, want a refusal of a revoked key", last)
	}
}

// orNull prints a JSON string field that may be null.
func orNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// byteniteExample is the request of ByteNite's "Create or update a secret"
// example, verbatim.
const byteniteExample = `{
  "secret": {
    "id": "s3-secret",
    "secretType": "s3",
    "expiresAt": "2025-12-29T18:02:27.140Z",
    "accessKey": "AKIAIOSFODNN7EXAMPLE",
    "params": {
      "ANY_ADDITIONAL_PROPERTY": "text"
    },
    "name": "My S3 Secret"
  },
  "secretKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
}`

func TestByteNiteSecrets(t *testing.T) {
	b := startByteNite(t, 0)
	tok := b.token(b.root).Token

	// The documented example, raw token as ByteNite's clients send it. Its
	// expiresAt is past: the secret is saved expired.
	b.remember("s3/s3-secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	if e := b.ok(b.call("POST", "/secrets", tok, byteniteExample)); e.Message != "secret created" {
		t.Fatalf("message: got %q", e.Message)
	}
	// A fraction of whole milliseconds, written with 3 digits; a whole
	// second would be written with none, as protojson does (compat/bytenite TestTimestamps).
	future := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Add(140 * time.Millisecond)
	b.save("Bearer "+tok, map[string]any{"id": "my_aws_secret", "secretType": "aws", "accessKey": "AKIAAWS",
		"params": map[string]string{"region": "us-east-1"}, "name": "AWS", "expiresAt": future.Format(time.RFC3339Nano)}, "aws-s3cr3t-key-1")
	b.save(tok, map[string]any{"id": "gcs", "secretType": "gcp"}, "gcp-s3cr3t-key")

	t.Run("List", func(t *testing.T) {
		b := b.at(t)
		got := b.list(tok, "")
		if len(got) != 3 {
			t.Fatalf("GET /secrets: got %d secrets, want 3", len(got))
		}
		byID := map[string]bnSecret{}
		for _, s := range got {
			byID[s.ID] = s
		}
		s3 := byID["s3-secret"]
		if s3.SecretType != "s3" || s3.ExpiresAt == nil || *s3.ExpiresAt != "2025-12-29T18:02:27.140Z" || s3.AccessKey != "AKIAIOSFODNN7EXAMPLE" ||
			s3.Name != "My S3 Secret" || len(s3.Params) != 1 || s3.Params["ANY_ADDITIONAL_PROPERTY"] != "text" {
			t.Fatalf("s3-secret: got %+v, want the example back (its past expiresAt included)", s3)
		}
		aws := byID["my_aws_secret"]
		if aws.ExpiresAt == nil || !rfc3339Z.MatchString(*aws.ExpiresAt) || *aws.ExpiresAt != future.Format("2006-01-02T15:04:05.000Z") {
			t.Fatalf("my_aws_secret expiresAt: got %s, want %s", orNull(aws.ExpiresAt), future.Format("2006-01-02T15:04:05.000Z"))
		}
		gcs := byID["gcs"]
		if gcs.ExpiresAt != nil || gcs.AccessKey != "" || gcs.Name != "" || len(gcs.Params) != 0 || gcs.SecretType != "gcp" {
			t.Fatalf("gcs: got %+v, want empty fields, params {} and expiresAt null", gcs)
		}
		if only := b.list(tok, "?secretType=aws"); len(only) != 1 || only[0].ID != "my_aws_secret" {
			t.Fatalf("secretType=aws: got %+v", only)
		}
		if none := b.list(tok, "?secretType=storj"); len(none) != 0 {
			t.Fatalf("secretType=storj: got %+v, want none", none)
		}
	})

	t.Run("Native", func(t *testing.T) {
		b := b.at(t)
		var list struct {
			Secrets []struct {
				Name       string            `json:"name"`
				Comment    string            `json:"comment"`
				Attributes map[string]string `json:"attributes"`
				Origin     string            `json:"origin"`
				ExpiresAt  *string           `json:"expires_at"`
				Status     string            `json:"status"`
			} `json:"secrets"`
		}
		if err := json.Unmarshal(b.native.Must(200, "GET", "/v1/stores/bytenite/secrets", nil).Body, &list); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list.Secrets {
			names = append(names, s.Name)
			if s.Origin != "bytenite" || s.Status != "active" {
				t.Errorf("%s: origin %q status %q, want bytenite active", s.Name, s.Origin, s.Status)
			}
			if s.Name == "s3/s3-secret" && (s.Comment != "My S3 Secret" || s.Attributes["accessKey"] != "AKIAIOSFODNN7EXAMPLE" ||
				s.Attributes["params.ANY_ADDITIONAL_PROPERTY"] != "text" || s.ExpiresAt == nil || *s.ExpiresAt != "2025-12-29T18:02:27.14Z") {
				t.Errorf("s3/s3-secret natively: got %+v", s)
			}
		}
		if want := []string{"aws/my_aws_secret", "gcp/gcs", "s3/s3-secret"}; !slices.Equal(names, want) {
			t.Fatalf("native names: got %v, want %v", names, want)
		}
		// A key that may reveal the store reads the value natively.
		r := b.native.Must(201, "POST", "/v1/keys", map[string]any{"name": "reader",
			"scopes": []map[string]any{{"store": "bytenite", "actions": []string{"reveal"}}}})
		var k struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(r.Body, &k); err != nil {
			t.Fatal(err)
		}
		reader := &servertest.Client{T: t, Base: b.native.Base, Token: k.Token}
		if v, n := servertest.Value(t, reader.Must(200, "GET", "/v1/stores/bytenite/secrets/aws%2Fmy_aws_secret/value", nil)); v != "aws-s3cr3t-key-1" || n != 1 {
			t.Fatalf("native value: got %q v%v", v, n)
		}
		// The expired one is refused, and said to be expired.
		r = reader.Do("GET", "/v1/stores/bytenite/secrets/s3%2Fs3-secret/value", nil)
		if r.Status != 409 || r.Code(t) != "conflict" || !strings.Contains(string(r.Body), "expired") {
			t.Fatalf("expired secret natively: got %d %s, want 409 conflict", r.Status, r.Body)
		}
		b.record(string(r.Body))
		// Secrets written natively whose names are not <type>/<id> are
		// not ByteNite's: not listed here.
		b.native.Must(201, "PUT", "/v1/stores/bytenite/secrets/plain", map[string]any{"value": "native-s3cr3t"})
		b.native.Must(201, "PUT", "/v1/stores/bytenite/secrets/a%2Fb%2Fc", map[string]any{"value": "native-s3cr3t"})
		b.remember("native", "native-s3cr3t")
		if got := b.list(tok, ""); len(got) != 3 {
			t.Fatalf("GET /secrets with native secrets beside: got %+v, want the 3 ByteNite ones", got)
		}
	})

	t.Run("Update", func(t *testing.T) {
		b := b.at(t)
		// Re-posting the same id is an update: a new value, and the object
		// replaced whole (params and expiry left out are cleared).
		if e := b.save(tok, map[string]any{"id": "my_aws_secret", "secretType": "aws", "accessKey": "AKIANEW", "name": "AWS 2"}, "aws-s3cr3t-key-2"); e.Message != "secret updated" {
			t.Fatalf("message: got %q", e.Message)
		}
		got := b.list(tok, "?secretType=aws")
		if len(got) != 1 || got[0].AccessKey != "AKIANEW" || got[0].Name != "AWS 2" || len(got[0].Params) != 0 || got[0].ExpiresAt != nil {
			t.Fatalf("after update: got %+v", got)
		}
		if v, n := servertest.Value(t, b.native.Must(200, "GET", "/v1/stores/bytenite/secrets/aws%2Fmy_aws_secret/value", nil)); v != "aws-s3cr3t-key-2" || n != 2 {
			t.Fatalf("native value after update: got %q v%v, want version 2", v, n)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		b := b.at(t)
		if e := b.ok(b.call("DELETE", "/secrets/gcp/gcs", tok, nil)); e.Message != "secret deleted" {
			t.Fatalf("message: got %q", e.Message)
		}
		if got := b.list(tok, "?secretType=gcp"); len(got) != 0 {
			t.Fatalf("after delete: got %+v", got)
		}
		b.fail(b.call("DELETE", "/secrets/gcp/gcs", tok, nil), 404, 5)
		b.fail(b.call("DELETE", "/secrets/nope/nope", tok, nil), 404, 5)
		// Deleted through ByteNite, restorable natively.
		b.native.Must(200, "POST", "/v1/stores/bytenite/secrets/gcp%2Fgcs/undelete", nil)
		if got := b.list(tok, "?secretType=gcp"); len(got) != 1 {
			t.Fatalf("after a native undelete: got %+v", got)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		b := b.at(t)
		var writes, deletes int
		for _, ev := range b.audit(tok, b.root, "aws-s3cr3t", "gcp-s3cr3t", "wJalrXUtnFEMI") {
			switch {
			case ev.Action == "secret.write" && ev.Face == "bytenite" && ev.Outcome == "ok":
				writes++
			case ev.Action == "secret.delete" && ev.Face == "bytenite" && ev.Outcome == "ok":
				deletes++
			case ev.Action == "store.create" && ev.Face == "bytenite" && ev.Name != "bytenite":
				t.Errorf("store created: %+v", ev)
			}
		}
		if writes != 4 || deletes != 1 {
			t.Fatalf("audit: got %d writes and %d deletes by the bytenite face, want 4 and 1", writes, deletes)
		}
	})
}

func TestByteNiteStoreCreateRace(t *testing.T) {
	b := startByteNite(t, 0)
	tok := b.token(b.root).Token
	const n = 8
	errs := make(chan string, n)
	for i := range n {
		go func() {
			body := map[string]any{"secret": map[string]any{"id": fmt.Sprint("k", i), "secretType": "aws"}, "secretKey": fmt.Sprint("race-s3cr3t-", i)}
			r := b.face.Do("POST", "/secrets", body, "Authorization", tok)
			if r.Status != 200 {
				errs <- fmt.Sprintf("%d %s", r.Status, r.Body)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if e := <-errs; e != "" {
			t.Errorf("concurrent first writes: %s", e)
		}
	}
	if got := b.list(tok, ""); len(got) != n {
		t.Fatalf("got %d secrets, want %d", len(got), n)
	}
}

func TestByteNiteBadInput(t *testing.T) {
	b := startByteNite(t, 0)
	tok := b.token(b.root).Token
	b.save(tok, map[string]any{"id": "keep", "secretType": "aws", "accessKey": "A"}, "keep-s3cr3t")
	before := b.native.Must(200, "GET", "/v1/stores/bytenite/secrets?deleted=true", nil).Body
	b.remember("refused", "bad-s3cr3t") // no error may echo it

	sec := func(kv ...any) map[string]any {
		m := map[string]any{"id": "x1", "secretType": "aws"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	body := func(secret any, secretKey any) map[string]any {
		m := map[string]any{"secretKey": secretKey}
		if secret != nil {
			m["secret"] = secret
		}
		if secretKey == nil {
			delete(m, "secretKey")
		}
		return m
	}
	manyParams := map[string]string{}
	for i := range 33 {
		manyParams[fmt.Sprint("p", i)] = "v"
	}
	cases := []struct {
		name   string
		body   any
		status int
		grpc   int
	}{
		{"MissingSecretKey", body(sec(), nil), 400, 3},
		{"EmptySecretKey", body(sec(), ""), 400, 3},
		{"MissingSecret", body(nil, "bad-s3cr3t"), 400, 3},
		{"EmptyBody", "", 400, 3},
		{"MissingID", body(sec("id", nil), "bad-s3cr3t"), 400, 3},
		{"IDWithSlash", body(sec("id", "a/b"), "bad-s3cr3t"), 400, 3},
		{"IDDotDot", body(sec("id", ".."), "bad-s3cr3t"), 400, 3},
		{"IDSpace", body(sec("id", "a b"), "bad-s3cr3t"), 400, 3},
		{"IDTooLong", body(sec("id", strings.Repeat("i", 129)), "bad-s3cr3t"), 400, 3},
		{"MissingSecretType", body(sec("secretType", nil), "bad-s3cr3t"), 400, 3},
		{"SecretTypeWithSlash", body(sec("secretType", "s3/x"), "bad-s3cr3t"), 400, 3},
		{"SecretTypeUnicode", body(sec("secretType", "ü"), "bad-s3cr3t"), 400, 3},
		{"SecretTypeTooLong", body(sec("secretType", strings.Repeat("t", 65)), "bad-s3cr3t"), 400, 3},
		{"BadExpiresAt", body(sec("expiresAt", "tomorrow"), "bad-s3cr3t"), 400, 3},
		{"FarExpiresAt", body(sec("expiresAt", "2300-01-01T00:00:00Z"), "bad-s3cr3t"), 400, 3},
		{"ExpiresAtNumber", body(sec("expiresAt", 1700000000), "bad-s3cr3t"), 400, 3},
		{"SecretKeyNumber", body(sec(), 12345), 400, 3},
		{"ParamsArray", body(sec("params", []string{"a"}), "bad-s3cr3t"), 400, 3},
		{"ParamsNumberValue", body(sec("params", map[string]any{"a": 1}), "bad-s3cr3t"), 400, 3},
		{"TooManyParams", body(sec("params", manyParams), "bad-s3cr3t"), 400, 3},
		{"LongParamName", body(sec("params", map[string]string{strings.Repeat("p", 57): "v"}), "bad-s3cr3t"), 400, 3},
		{"EmptyParamName", body(sec("params", map[string]string{"": "v"}), "bad-s3cr3t"), 400, 3},
		{"LongParamValue", body(sec("params", map[string]string{"p": strings.Repeat("v", 256)}), "bad-s3cr3t"), 400, 3},
		{"LongAccessKey", body(sec("accessKey", strings.Repeat("A", 256)), "bad-s3cr3t"), 400, 3},
		{"LongName", body(sec("name", strings.Repeat("n", 256)), "bad-s3cr3t"), 400, 3},
		{"NotJSON", "secretKey=bad-s3cr3t", 400, 3},
		{"Array", `[{"secretKey":"bad-s3cr3t"}]`, 400, 3},
		{"TwoValues", `{"secretKey":"bad-s3cr3t"} {}`, 400, 3},
		{"BadUTF8", []byte("{\"secret\":{\"id\":\"x1\",\"secretType\":\"aws\"},\"secretKey\":\"bad-s3cr3t\xff\"}"), 400, 3},
		{"LoneSurrogate", `{"secret":{"id":"x1","secretType":"aws"},"secretKey":"bad-s3cr3t\ud800"}`, 400, 3},
		{"HugeSecretKey", body(sec(), strings.Repeat("k", 64<<10+1)), 413, 8},
		{"OversizedBody", body(sec("name", "n"), strings.Repeat("k", 600<<10)), 413, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := b.at(t)
			b.fail(b.call("POST", "/secrets", tok, c.body), c.status, c.grpc)
		})
	}
	for _, path := range []string{"/secrets/aws/a%2Fb", "/secrets/aws/%2E%2E", "/secrets/a%20b/x", "/secrets/aws/" + strings.Repeat("i", 129)} {
		b.fail(b.call("DELETE", path, tok, nil), 400, 3)
	}
	b.fail(b.call("GET", "/secrets?secretType=a%2Fb", tok, nil), 400, 3)
	b.fail(b.call("GET", "/secrets?secretType=%zz", tok, nil), 400, 3)

	// Nothing was written.
	if after := b.native.Must(200, "GET", "/v1/stores/bytenite/secrets?deleted=true", nil).Body; string(after) != string(before) {
		t.Fatalf("bad requests changed the store:\nbefore %s\nafter  %s", before, after)
	}
	for _, ev := range b.audit("bad-s3cr3t") {
		if ev.Action == "secret.write" && ev.Name != "aws/keep" {
			t.Fatalf("a bad request was written: %+v", ev)
		}
	}

	// Fields ByteNite's API does not have are ignored, as grpc-gateway does.
	b.remember("aws/extra", "extra-s3cr3t")
	b.ok(b.call("POST", "/secrets", tok, `{"secret":{"id":"extra","secretType":"aws","color":"red"},"secretKey":"extra-s3cr3t","dryRun":true}`))
	if got := b.list(tok, "?secretType=aws"); len(got) != 2 {
		t.Fatalf("after a request with unknown fields: got %+v", got)
	}
}

func TestByteNiteAPIKeys(t *testing.T) {
	b := startByteNite(t, 0)
	admin := b.token(b.root).Token

	listKeys := func(b *bnAPI, auth string) []bnKey {
		t := b.t
		t.Helper()
		r := b.must(200, "GET", "/api_keys", auth, nil)
		var raw struct {
			APIKeys []json.RawMessage `json:"apiKeys"`
		}
		servertest.Strict(t, r.Body, &raw)
		out := make([]bnKey, len(raw.APIKeys))
		for i, k := range raw.APIKeys {
			wantFields(t, "apiKey", k, "expiresAt", "fingerprint", "id", "issuedAt", "name", "revoked", "userId")
			servertest.Strict(t, k, &out[i])
		}
		return out
	}
	keys := listKeys(b, admin)
	if len(keys) != 1 {
		t.Fatalf("GET /api_keys: got %+v, want the root key", keys)
	}
	root := keys[0]
	var principals struct {
		Principals []struct{ ID, Name string } `json:"principals"`
	}
	if err := json.Unmarshal(b.native.Must(200, "GET", "/v1/principals", nil).Body, &principals); err != nil {
		t.Fatal(err)
	}
	if root.Name != "root" || root.Revoked || root.ExpiresAt != nil || !rfc3339Z.MatchString(root.IssuedAt) ||
		root.UserID != principals.Principals[0].ID || !strings.Contains(b.root, root.ID) {
		t.Fatalf("root key: got %+v", root)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(root.Fingerprint) || strings.Contains(b.root, root.Fingerprint[:16]) {
		t.Fatalf("fingerprint %q: want 64 hex digits that are not part of the token", root.Fingerprint)
	}

	t.Run("Create", func(t *testing.T) {
		b := b.at(t)
		// admin is an access token (an hour): the keys it makes expire
		// no later than it does.
		at := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
		r := b.must(200, "POST", "/api_keys", admin, map[string]any{"name": "deploy", "expiresAt": at.Format(time.RFC3339)})
		var created struct {
			Token  string `json:"token"`
			APIKey bnKey  `json:"apiKey"`
		}
		servertest.Strict(t, r.Body, &created)
		if created.APIKey.ExpiresAt == nil || *created.APIKey.ExpiresAt != at.Format(time.RFC3339) {
			t.Fatalf("expiresAt: got %v, want %s", created.APIKey.ExpiresAt, at.Format(time.RFC3339))
		}
		if created.APIKey.Fingerprint == root.Fingerprint {
			t.Fatal("two keys share a fingerprint")
		}
		if tok := b.token(created.Token); tok.Scope != "admin" {
			t.Fatalf("a key made by an admin: scope %q, want admin", tok.Scope)
		}
		r = b.must(200, "POST", "/api_keys", admin, map[string]any{"name": "forever"})
		var forever struct {
			Token  string `json:"token"`
			APIKey bnKey  `json:"apiKey"`
		}
		servertest.Strict(t, r.Body, &forever)
		if forever.APIKey.ExpiresAt == nil {
			t.Fatal("a key asked without expiry by an access token: expiresAt null, want the token's expiry")
		} else if exp, err := time.Parse(time.RFC3339Nano, *forever.APIKey.ExpiresAt); err != nil || time.Until(exp) > time.Hour {
			t.Fatalf("a key asked without expiry by an access token: expiresAt %s, want within the token's hour", *forever.APIKey.ExpiresAt)
		}
		if n := len(listKeys(b, admin)); n != 3 {
			t.Fatalf("GET /api_keys: got %d keys, want 3", n)
		}
		for _, bad := range []any{
			map[string]any{}, map[string]any{"name": ""},
			map[string]any{"name": "x", "validity": "1h"}, map[string]any{"name": "x", "validity": "0s"},
			map[string]any{"name": "x", "validity": "60s", "expiresAt": at.Format(time.RFC3339)},
			map[string]any{"name": "x", "expiresAt": "2020-01-01T00:00:00Z"}, map[string]any{"name": "x", "expiresAt": "soon"},
			map[string]any{"name": strings.Repeat("n", 129)},
		} {
			b.fail(b.call("POST", "/api_keys", admin, bad), 400, 3)
		}
	})

	t.Run("NotAdmin", func(t *testing.T) {
		b := b.at(t)
		r := b.native.Must(201, "POST", "/v1/keys", map[string]any{"name": "narrow",
			"scopes": []map[string]any{{"store": "bytenite", "actions": []string{"list", "read", "write"}}}})
		var nk struct {
			Key struct {
				ID string `json:"id"`
			} `json:"key"`
			Token string `json:"token"`
		}
		if err := json.Unmarshal(r.Body, &nk); err != nil {
			t.Fatal(err)
		}
		tok := b.token(nk.Token)
		if tok.Scope != "bytenite:*:list,read,write" {
			t.Fatalf("scope: got %q", tok.Scope)
		}
		// It lists only itself (no wider key of its principal), and mints
		// keys no wider than itself, living no longer than its token.
		if got := listKeys(b, tok.Token); len(got) != 1 || got[0].ID != nk.Key.ID {
			t.Fatalf("GET /api_keys as a narrow key: got %+v, want only itself", got)
		}
		r = b.must(200, "POST", "/api_keys", tok.Token, map[string]any{"name": "child"})
		var child struct {
			Token  string `json:"token"`
			APIKey bnKey  `json:"apiKey"`
		}
		servertest.Strict(t, r.Body, &child)
		exp, err := time.Parse(time.RFC3339Nano, *child.APIKey.ExpiresAt)
		if err != nil || time.Until(exp) > time.Hour {
			t.Fatalf("child of an access token: expiresAt %v, want within the token's hour", child.APIKey.ExpiresAt)
		}
		if got := b.token(child.Token).Scope; got != tok.Scope {
			t.Fatalf("child scope: got %q, want %q", got, tok.Scope)
		}
		// It may not revoke the root key (wider than itself)...
		b.fail(b.call("POST", "/api_keys/"+root.ID+"/revoke", tok.Token, nil), 403, 7)
		// ...nor do what its scopes do not allow.
		b.save(admin, map[string]any{"id": "a", "secretType": "aws"}, "narrow-s3cr3t")
		b.fail(b.call("DELETE", "/secrets/aws/a", tok.Token, nil), 403, 7)
		if got := b.list(tok.Token, ""); len(got) != 1 {
			t.Fatalf("GET /secrets as a narrow key: got %+v", got)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		b := b.at(t)
		b.fail(b.call("POST", "/api_keys/0123456789abcdef/revoke", admin, nil), 404, 5)
	})
}

func TestByteNiteUser(t *testing.T) {
	b := startByteNite(t, 0)
	tok := b.token(b.root).Token
	get := func(r servertest.Reply) bnUser {
		t.Helper()
		wantFields(t, "answer", r.Body, "user")
		raw := mustRaw(t, r.Body, "user")
		wantFields(t, "user", raw, "contactInfo", "createdAt", "customClaims", "disabled", "displayName", "email", "emailVerified",
			"firstName", "id", "isOnboarded", "lastLogin", "lastName", "onboardingInfo", "photoUrl", "providerId", "role", "settings", "userName")
		wantFields(t, "contactInfo", mustRaw(t, raw, "contactInfo"), "address1", "address2", "city", "company", "country", "jobTitle",
			"phoneNumber", "state", "zip")
		var u struct {
			User bnUser `json:"user"`
		}
		servertest.Strict(t, r.Body, &u)
		return u.User
	}

	u := get(b.must(200, "GET", "/user", tok, nil))
	var principals struct {
		Principals []struct{ ID, Name string } `json:"principals"`
	}
	if err := json.Unmarshal(b.native.Must(200, "GET", "/v1/principals", nil).Body, &principals); err != nil {
		t.Fatal(err)
	}
	if u.ID != principals.Principals[0].ID || u.UserName != "root" || u.DisplayName != "root" || u.Role != "ROLE_NONE" ||
		u.LastLogin != nil || !rfc3339Z.MatchString(u.CreatedAt) || u.Settings == nil || len(u.Settings) != 0 ||
		u.OnboardingInfo == nil || u.CustomClaims["role"] != "admin" || u.ContactInfo != (bnContact{}) || u.Disabled || !u.IsOnboarded {
		t.Fatalf("GET /user: got %+v", u)
	}

	// The documented PATCH, verbatim.
	u = get(b.must(200, "PATCH", "/user", tok, `{
  "contactInfo": {
    "company": "ByteNite",
    "jobTitle": "Software Engineer",
    "phoneNumber": "1234567890",
    "address1": "1234 Main St",
    "address2": "Apt 123",
    "city": "San Francisco",
    "state": "CA",
    "zip": "94107",
    "country": "United States"
  },
  "firstName": "John",
  "lastName": "Doe"
}`))
	want := bnContact{"ByteNite", "Software Engineer", "1234567890", "1234 Main St", "Apt 123", "San Francisco", "CA", "94107", "United States"}
	if u.FirstName != "John" || u.LastName != "Doe" || u.DisplayName != "John Doe" || u.ContactInfo != want || u.UserName != "root" {
		t.Fatalf("PATCH /user: got %+v", u)
	}
	if got := get(b.must(200, "GET", "/user", tok, nil)); got.FirstName != "John" || got.ContactInfo != want {
		t.Fatalf("GET /user after PATCH: got %+v", got)
	}
	// Only the fields present change; "" clears one.
	u = get(b.must(200, "PATCH", "/user", tok, `{"lastName":"","contactInfo":{"city":"Oslo"},"email":"ignored@example.com"}`))
	want.City = "Oslo"
	if u.FirstName != "John" || u.LastName != "" || u.DisplayName != "John" || u.ContactInfo != want || u.Email != "" {
		t.Fatalf("partial PATCH: got %+v", u)
	}
	// Kept with the principal, where the native API shows it.
	var ps struct {
		Principals []struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"principals"`
	}
	if err := json.Unmarshal(b.native.Must(200, "GET", "/v1/principals", nil).Body, &ps); err != nil {
		t.Fatal(err)
	}
	if a := ps.Principals[0].Attributes; a["firstName"] != "John" || a["contactInfo.city"] != "Oslo" || a["lastName"] != "" {
		t.Fatalf("native principal attributes: got %v", a)
	}

	for _, bad := range []string{`{"firstName":5}`, `{"firstName":"` + strings.Repeat("x", 256) + `"}`,
		`{"contactInfo":{"zip":"` + strings.Repeat("9", 256) + `"}}`, `{"contactInfo":"x"}`, "nope"} {
		b.fail(b.call("PATCH", "/user", tok, bad), 400, 3)
	}
	if got := get(b.must(200, "GET", "/user", tok, nil)); got.FirstName != "John" || got.ContactInfo != want {
		t.Fatalf("bad PATCHes changed the user: %+v", got)
	}
	n := 0
	for _, ev := range b.audit(tok) {
		if ev.Action == "principal.update" && ev.Face == "bytenite" && ev.Outcome == "ok" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("audit: got %d principal.update events of the bytenite face, want 2", n)
	}
	b.fail(b.call("GET", "/user", "", nil), 401, 16)
}

func TestByteNiteRoutes(t *testing.T) {
	b := startByteNite(t, 0)
	r := b.must(200, "GET", "/info", "", nil)
	var info struct {
		Version struct {
			Major string `json:"major"`
			Minor string `json:"minor"`
			Tag   string `json:"tag"`
		} `json:"version"`
	}
	servertest.Strict(t, r.Body, &info)
	wantFields(t, "version", mustRaw(t, r.Body, "version"), "major", "minor", "tag")
	if info.Version.Major != "1" || info.Version.Minor != "0" || !strings.HasPrefix(info.Version.Tag, "coffer") {
		t.Fatalf("GET /info: got %s", r.Body)
	}
	tok := b.token(b.root).Token
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"}, {"PUT", "/secrets"}, {"GET", "/secrets/aws"}, {"GET", "/api_keys/x/revoke"}, {"GET", "/signout"},
		{"DELETE", "/user"}, {"GET", "/access_token"},
	} {
		b.fail(b.call(c.method, c.path, tok, nil), 404, 5)
	}
}

// TestByteNiteSignOut checks POST /signout: the envelope for a valid
// credential, 401 without one. Coffer's access tokens are signed, not
// stored, so the token stays valid until it expires or its key is revoked.
func TestByteNiteSignOut(t *testing.T) {
	b := startByteNite(t, 0)
	tok := b.token(b.root).Token
	for _, auth := range []string{tok, "Bearer " + tok, b.root} {
		if e := b.ok(b.call("POST", "/signout", auth, `{}`)); e.Message != "signed out" {
			t.Errorf("%.10s: message %q, want \"signed out\"", auth, e.Message)
		}
	}
	b.ok(b.call("POST", "/signout", tok, nil))
	b.must(200, "GET", "/secrets", tok, nil)
	b.fail(b.call("POST", "/signout", tok, `[`), 400, 3)
	b.fail(b.callFrom("127.0.0.2", "POST", "/signout", "", `{}`), 401, 16)
	b.fail(b.callFrom("127.0.0.2", "POST", "/signout", "cat_forged.x", `{}`), 401, 16)
}
