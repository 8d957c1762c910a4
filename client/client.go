// Package client is a Go client for coffer's native HTTP API (/v1/). A
// *Client implements coffer.SecretService, coffer.KeyService,
// coffer.AuditService, coffer.AccountService and coffer.HotkeyService, so
// code written against those interfaces runs the same in-process or over
// the network. Errors the
// server reports come back as *coffer.Error with the server's code and
// message (and, for rate_limited and unavailable, the Retry-After delay in
// RetryAfter), so coffer.ErrorCode works on this side exactly as on the
// server. No error this package returns holds the token or a secret value.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

var (
	_ coffer.SecretService  = (*Client)(nil)
	_ coffer.KeyService     = (*Client)(nil)
	_ coffer.AuditService   = (*Client)(nil)
	_ coffer.HotkeyService  = (*Client)(nil)
	_ coffer.AccountService = (*Client)(nil)
	_ coffer.VersionDeleter = (*Client)(nil)
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent sets another.
const DefaultUserAgent = "coffer-client"

// maxErrorBody caps how much of an error response is read.
const maxErrorBody = 64 << 10

// Client talks to one coffer server with one token. It is safe for
// concurrent use. The caller in a method's context is ignored: the token
// decides who acts.
type Client struct {
	base      string // scheme://host[/path] without a trailing slash
	token     string
	hc        *http.Client
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc instead of a
// client of its own with the default transport.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the server at addr (like http://127.0.0.1:8200,
// optionally with a base path) that authenticates with token.
func New(addr, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(addr)
	if err != nil {
		// The parse error would repeat addr, which may hold a password.
		return nil, fmt.Errorf("client: server address is not a valid URL")
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: server address %q must be http:// or https:// and a host, like http://127.0.0.1:8200", u.Redacted())
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("client: token contains spaces or control characters")
		}
	}
	c := &Client{
		base:      strings.TrimRight(addr, "/"),
		token:     token,
		hc:        &http.Client{},
		userAgent: DefaultUserAgent,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// CreateStore creates a store.
func (c *Client) CreateStore(ctx context.Context, in *coffer.StoreCreate) (*coffer.Store, error) {
	var s coffer.Store
	if err := c.do(ctx, http.MethodPost, []string{"stores"}, nil, nil, in, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Store returns a store by id or name.
func (c *Client) Store(ctx context.Context, ref string) (*coffer.Store, error) {
	var s coffer.Store
	if err := c.do(ctx, http.MethodGet, []string{"stores", ref}, nil, nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// UpdateStore changes a store's comment or attributes.
func (c *Client) UpdateStore(ctx context.Context, ref string, in *coffer.StoreUpdate) (*coffer.Store, error) {
	var s coffer.Store
	if err := c.do(ctx, http.MethodPatch, []string{"stores", ref}, nil, nil, in, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Stores lists one page of stores by name.
func (c *Client) Stores(ctx context.Context, p coffer.Page) (*coffer.StorePage, error) {
	var page coffer.StorePage
	if err := c.do(ctx, http.MethodGet, []string{"stores"}, pageQuery(p), nil, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// DeleteStore deletes a store; with force also the secrets it holds.
func (c *Client) DeleteStore(ctx context.Context, ref string, force bool) error {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return c.do(ctx, http.MethodDelete, []string{"stores", ref}, q, nil, nil, nil)
}

// putBody is the body of PUT /v1/stores/{store}/secrets/{name}.
type putBody struct {
	Value     string            `json:"value"`
	Encoding  string            `json:"encoding,omitempty"`
	Comment   *string           `json:"comment,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	ExpiresAt json.RawMessage   `json:"expires_at,omitempty"`
}

// patchBody is the body of PATCH /v1/stores/{store}/secrets/{secret}.
type patchBody struct {
	Comment   *string           `json:"comment,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Scopes    []string          `json:"scopes,omitempty"`
	ExpiresAt json.RawMessage   `json:"expires_at,omitempty"`
}

// expiryJSON is the wire form of an expiry change: nothing for nil (keep),
// null for the zero time (remove), else the time.
func expiryJSON(t *time.Time) json.RawMessage {
	switch {
	case t == nil:
		return nil
	case t.IsZero():
		return json.RawMessage("null")
	}
	b, err := t.MarshalJSON()
	if err != nil { // a year outside 0-9999: let the server refuse it
		return json.RawMessage(`"invalid"`)
	}
	return b
}

// PutSecret writes a new version of the named secret, creating it when
// missing. IfVersion > 0 becomes If-Match: "N"; -1 becomes If-None-Match: *.
func (c *Client) PutSecret(ctx context.Context, store string, in *coffer.SecretPut) (*coffer.Secret, error) {
	h, err := ifVersionHeader(in.IfVersion, true)
	if err != nil {
		return nil, err
	}
	body := putBody{Comment: in.Comment, Labels: in.Labels, ExpiresAt: expiryJSON(in.ExpiresAt)}
	body.Value, body.Encoding = coffer.EncodeValue(in.Value)
	var s coffer.Secret
	if err := c.do(ctx, http.MethodPut, []string{"stores", store, "secrets", in.Name}, nil, h, &body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Secret returns a secret's metadata by live name or by id.
func (c *Client) Secret(ctx context.Context, store, ref string) (*coffer.Secret, error) {
	var s coffer.Secret
	if err := c.do(ctx, http.MethodGet, []string{"stores", store, "secrets", ref}, nil, nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// SecretByID returns a secret's metadata by id, in whichever store holds it.
func (c *Client) SecretByID(ctx context.Context, id string) (*coffer.Secret, error) {
	var s coffer.Secret
	if err := c.do(ctx, http.MethodGet, []string{"secrets", id}, nil, nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Secrets lists one page of a store's secrets by name.
func (c *Client) Secrets(ctx context.Context, store string, q coffer.ListSecrets) (*coffer.SecretPage, error) {
	v := pageQuery(q.Page)
	if q.Prefix != "" {
		v.Set("prefix", q.Prefix)
	}
	if q.IncludeDeleted {
		v.Set("deleted", "true")
	}
	var page coffer.SecretPage
	if err := c.do(ctx, http.MethodGet, []string{"stores", store, "secrets"}, v, nil, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// UpdateSecret changes a secret's comment, labels, usage scopes and expiry.
func (c *Client) UpdateSecret(ctx context.Context, store, ref string, in *coffer.SecretPatch) (*coffer.Secret, error) {
	h, err := ifVersionHeader(in.IfVersion, false)
	if err != nil {
		return nil, err
	}
	body := patchBody{Comment: in.Comment, Labels: in.Labels, Scopes: in.Scopes, ExpiresAt: expiryJSON(in.ExpiresAt)}
	var s coffer.Secret
	if err := c.do(ctx, http.MethodPatch, []string{"stores", store, "secrets", ref}, nil, h, &body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Reveal returns the latest value of a secret, or the given version when
// version > 0.
func (c *Client) Reveal(ctx context.Context, store, ref string, version int) (*coffer.Value, error) {
	var q url.Values
	if version < 0 {
		return nil, coffer.Errorf(coffer.EINVALID, "version must be a positive number")
	} else if version > 0 {
		q = url.Values{"version": {strconv.Itoa(version)}}
	}
	var v coffer.Value
	if err := c.do(ctx, http.MethodGet, []string{"stores", store, "secrets", ref, "value"}, q, nil, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// RevealMany returns many values in one request; see coffer.RevealQuery.
func (c *Client) RevealMany(ctx context.Context, store string, q *coffer.RevealQuery) (*coffer.ValuePage, error) {
	var page coffer.ValuePage
	if err := c.do(ctx, http.MethodPost, []string{"stores", store, "values"}, nil, nil, q, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Versions lists a secret's versions, newest first.
func (c *Client) Versions(ctx context.Context, store, ref string) ([]*coffer.Version, error) {
	var resp struct {
		Versions []*coffer.Version `json:"versions"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"stores", store, "secrets", ref, "versions"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Versions, nil
}

// Rollback writes the value of version to as a new version.
func (c *Client) Rollback(ctx context.Context, store, ref string, to, ifVersion int) (*coffer.Secret, error) {
	h, err := ifVersionHeader(ifVersion, false)
	if err != nil {
		return nil, err
	}
	body := struct {
		Version int `json:"version"`
	}{to}
	var s coffer.Secret
	if err := c.do(ctx, http.MethodPost, []string{"stores", store, "secrets", ref, "rollback"}, nil, h, &body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// DeleteSecret soft-deletes a secret and returns it with status deleted.
func (c *Client) DeleteSecret(ctx context.Context, store, ref string, ifVersion int) (*coffer.Secret, error) {
	h, err := ifVersionHeader(ifVersion, false)
	if err != nil {
		return nil, err
	}
	var s coffer.Secret
	if err := c.do(ctx, http.MethodDelete, []string{"stores", store, "secrets", ref}, nil, h, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// UndeleteSecret restores a deleted secret by id or by name.
func (c *Client) UndeleteSecret(ctx context.Context, store, ref string) (*coffer.Secret, error) {
	var s coffer.Secret
	if err := c.do(ctx, http.MethodPost, []string{"stores", store, "secrets", ref, "undelete"}, nil, nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// PurgeSecret removes a deleted secret for good.
func (c *Client) PurgeSecret(ctx context.Context, store, ref string) error {
	q := url.Values{"purge": {"true"}}
	return c.do(ctx, http.MethodDelete, []string{"stores", store, "secrets", ref}, q, nil, nil, nil)
}

// DestroyVersion erases one version's value for good.
func (c *Client) DestroyVersion(ctx context.Context, store, ref string, version int) error {
	if version <= 0 {
		return coffer.Errorf(coffer.EINVALID, "version must be a positive number")
	}
	return c.do(ctx, http.MethodDelete, []string{"stores", store, "secrets", ref, "versions", strconv.Itoa(version)}, nil, nil, nil, nil)
}

// DeleteVersions soft-deletes versions of a secret: their values are kept
// but not served until UndeleteVersions. It returns the secret.
func (c *Client) DeleteVersions(ctx context.Context, store, ref string, versions []int) (*coffer.Secret, error) {
	return c.markVersions(ctx, store, ref, "delete", versions)
}

// UndeleteVersions clears the soft deletion, done or scheduled, of versions
// of a secret. It returns the secret.
func (c *Client) UndeleteVersions(ctx context.Context, store, ref string, versions []int) (*coffer.Secret, error) {
	return c.markVersions(ctx, store, ref, "undelete", versions)
}

func (c *Client) markVersions(ctx context.Context, store, ref, op string, versions []int) (*coffer.Secret, error) {
	if err := coffer.ValidateVersionNumbers(versions); err != nil {
		return nil, err
	}
	body := struct {
		Versions []int `json:"versions"`
	}{versions}
	var sec coffer.Secret
	if err := c.do(ctx, http.MethodPost, []string{"stores", store, "secrets", ref, "versions", op}, nil, nil, &body, &sec); err != nil {
		return nil, err
	}
	return &sec, nil
}

// CreateAPIKey mints a key and returns it with its token, which the server
// shows only this once. PrincipalID, when set, names the principal the key
// is for; the server refuses (EFORBIDDEN) a key that is not narrower than
// the caller's own unless the caller is an admin key.
func (c *Client) CreateAPIKey(ctx context.Context, in *coffer.APIKeyCreate) (*coffer.APIKey, string, error) {
	body := *in
	if body.Scopes == nil {
		body.Scopes = []coffer.Scope{} // the API documents a list, never null
	}
	var resp struct {
		Key   *coffer.APIKey `json:"key"`
		Token string         `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, []string{"keys"}, nil, nil, &body, &resp); err != nil {
		return nil, "", err
	} else if resp.Key == nil || resp.Token == "" {
		return nil, "", fmt.Errorf("POST /v1/keys: response lacks the key or its token")
	}
	return resp.Key, resp.Token, nil
}

// APIKeys lists the account's keys.
func (c *Client) APIKeys(ctx context.Context) ([]*coffer.APIKey, error) {
	var resp struct {
		Keys []*coffer.APIKey `json:"keys"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"keys"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Keys, nil
}

// RevokeAPIKey revokes a key by id.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, []string{"keys", id}, nil, nil, nil, nil)
}

// CreateAccount makes an account with its first principal and an admin key,
// and returns them with the key's token, which the server shows only this
// once. Only the operator may call it.
func (c *Client) CreateAccount(ctx context.Context, in *coffer.AccountCreate) (*coffer.AccountCreated, error) {
	var out coffer.AccountCreated
	if err := c.do(ctx, http.MethodPost, []string{"accounts"}, nil, nil, in, &out); err != nil {
		return nil, err
	} else if out.Account == nil || out.Key == nil || out.Token == "" {
		return nil, fmt.Errorf("POST /v1/accounts: response lacks the account, the key or its token")
	}
	return &out, nil
}

// Accounts lists every account of the server (operator only).
func (c *Client) Accounts(ctx context.Context) ([]*coffer.Account, error) {
	var resp struct {
		Accounts []*coffer.Account `json:"accounts"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"accounts"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Accounts, nil
}

// CreatePrincipal adds a user or service principal to the caller's account
// (admin only).
func (c *Client) CreatePrincipal(ctx context.Context, in *coffer.PrincipalCreate) (*coffer.Principal, error) {
	var p coffer.Principal
	if err := c.do(ctx, http.MethodPost, []string{"principals"}, nil, nil, in, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Principals lists the principals of the caller's account (admin only).
func (c *Client) Principals(ctx context.Context) ([]*coffer.Principal, error) {
	var resp struct {
		Principals []*coffer.Principal `json:"principals"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"principals"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Principals, nil
}

// RegisterHotkey registers the SS58 address ss58 to the principal
// principalID of the caller's account, or to the caller's own principal when
// principalID is empty (admin only).
func (c *Client) RegisterHotkey(ctx context.Context, principalID, ss58 string) (*coffer.Hotkey, error) {
	segs := []string{"hotkeys"}
	if principalID != "" {
		segs = []string{"principals", principalID, "hotkeys"}
	}
	var h coffer.Hotkey
	if err := c.do(ctx, http.MethodPost, segs, nil, nil, struct {
		Hotkey string `json:"hotkey"`
	}{ss58}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Hotkeys lists the hotkeys of the caller's account (admin only).
func (c *Client) Hotkeys(ctx context.Context) ([]*coffer.Hotkey, error) {
	var resp struct {
		Hotkeys []*coffer.Hotkey `json:"hotkeys"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"hotkeys"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Hotkeys, nil
}

// RemoveHotkey unregisters a hotkey of the caller's account (admin only).
func (c *Client) RemoveHotkey(ctx context.Context, ss58 string) error {
	return c.do(ctx, http.MethodDelete, []string{"hotkeys", ss58}, nil, nil, nil, nil)
}

// AuditEvents lists a page of the account's audit events that q selects
// (admin only); q.Limit 0 leaves the page size to the server. Pass the
// page's Next as q.After (oldest first) or q.Before (q.Newest) for the next.
func (c *Client) AuditEvents(ctx context.Context, q coffer.AuditQuery) (*coffer.AuditPage, error) {
	var page coffer.AuditPage
	if err := c.do(ctx, http.MethodGet, []string{"audit"}, AuditQueryValues(q), nil, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// AuditQueryValues renders q as the query parameters of GET /v1/audit; zero
// fields are left out.
func AuditQueryValues(q coffer.AuditQuery) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.After != 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Before != 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Newest {
		v.Set("order", "desc")
	}
	set("principal", q.Principal)
	set("object", q.Object)
	set("action", q.Action)
	set("outcome", q.Outcome)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	return v
}

// VerifyAudit asks the server to check the whole audit hash chain.
func (c *Client) VerifyAudit(ctx context.Context) (*coffer.AuditReport, error) {
	var r coffer.AuditReport
	if err := c.do(ctx, http.MethodGet, []string{"audit", "verify"}, nil, nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// pageQuery renders a page request; zero fields are left to the server.
func pageQuery(p coffer.Page) url.Values {
	q := url.Values{}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}

// ifVersionHeader renders a compare-and-set condition: > 0 as If-Match,
// -1 (only where create-only makes sense) as If-None-Match: *, 0 as none.
func ifVersionHeader(v int, createOnly bool) (http.Header, error) {
	switch {
	case v > 0:
		return http.Header{"If-Match": {coffer.ETag(v)}}, nil
	case v == 0:
		return nil, nil
	case v == -1 && createOnly:
		return http.Header{"If-None-Match": {"*"}}, nil
	}
	return nil, coffer.Errorf(coffer.EINVALID, "if-version %d is not valid", v)
}

// escapePath joins the segments under /v1/, each percent-encoded on its own,
// so that a '/' inside a name travels as %2F.
func escapePath(segs []string) (string, error) {
	var b strings.Builder
	b.WriteString("/v1")
	for _, s := range segs {
		if s == "" {
			return "", coffer.Errorf(coffer.EINVALID, "a name or id is required")
		} else if s == "." || s == ".." {
			return "", coffer.Errorf(coffer.EINVALID, "%q is not a valid name or id", s)
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

// do sends one request with in (if not nil) as its JSON body and decodes a
// successful JSON answer into out (if not nil). An error answer in the API's
// shape comes back as *coffer.Error; any other failure names the status.
func (c *Client) do(ctx context.Context, method string, segs []string, q url.Values, h http.Header, in, out any) error {
	path, err := escapePath(segs)
	if err != nil {
		return err
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return err // a *url.Error: method, URL (without password) and cause
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
		resp.Body.Close()
	}()

	switch {
	case resp.StatusCode >= 400:
		return apiError(method, path, resp)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fmt.Errorf("%s %s: unexpected response %s", method, path, resp.Status)
	case out == nil:
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		// %v, not %w: a malformed answer is not the caller's invalid input.
		return fmt.Errorf("%s %s: unexpected response %s%s: %v", method, path, resp.Status, contentTypeNote(resp), err)
	}
	return nil
}

// apiError turns an error response into *coffer.Error when it has the API's
// error shape, else into an error that names the status. A 429 is always
// ERATELIMIT, even from a proxy that answers in its own shape. The delay of a
// Retry-After header goes into RetryAfter.
func apiError(method, path string, resp *http.Response) error {
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	retry := retryAfter(resp.Header.Get("Retry-After"), time.Now())
	if json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code != "" {
		return &coffer.Error{Code: e.Error.Code, Message: e.Error.Message, RetryAfter: retry}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return &coffer.Error{Code: coffer.ERATELIMIT, Message: "too many requests", RetryAfter: retry}
	}
	return fmt.Errorf("%s %s: unexpected response %s%s without a coffer error body", method, path, resp.Status, contentTypeNote(resp))
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (relative to now). It returns 0 when the header is missing or malformed,
// and never a negative delay.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		const maxSeconds = int64(1<<63-1) / int64(time.Second)
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, maxSeconds)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// contentTypeNote names a response's content type when it is not JSON.
func contentTypeNote(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
		return ""
	} else if ct == "" {
		return " (no Content-Type)"
	}
	return fmt.Sprintf(" (Content-Type %q)", ct)
}

var _ coffer.KeyRotationService = (*Client)(nil)

// RotateStoreKey gives a store a new data key; with reencrypt it also
// re-seals the existing versions with it.
func (c *Client) RotateStoreKey(ctx context.Context, ref string, reencrypt bool) (*coffer.StoreKeyRotation, error) {
	var q url.Values
	if reencrypt {
		q = url.Values{"reencrypt": {"true"}}
	}
	var out coffer.StoreKeyRotation
	if err := c.do(ctx, http.MethodPost, []string{"stores", ref, "rotate-key"}, q, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateMasterKey rewraps every data key under the server's active master
// key and replaces the auth secret (operator only); with reseal it also
// gives every store a new data key and re-seals the values with it.
func (c *Client) RotateMasterKey(ctx context.Context, reseal bool) (*coffer.MasterKeyReport, error) {
	var q url.Values
	if reseal {
		q = url.Values{"reseal": {"true"}}
	}
	var out coffer.MasterKeyReport
	if err := c.do(ctx, http.MethodPost, []string{"master-key", "rotate"}, q, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MasterKeyStatus tells which master keys wrap data (operator only).
func (c *Client) MasterKeyStatus(ctx context.Context) (*coffer.MasterKeyStatus, error) {
	var out coffer.MasterKeyStatus
	if err := c.do(ctx, http.MethodGet, []string{"master-key", "status"}, nil, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
