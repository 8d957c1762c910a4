package coffer

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Action is what a request does to an object. Metadata reads (list, read)
// are separate from value reads (reveal).
type Action string

// Actions a scope may grant.
const (
	ActionList   Action = "list"   // list stores or secrets
	ActionRead   Action = "read"   // read metadata and version history
	ActionReveal Action = "reveal" // read a value
	ActionWrite  Action = "write"  // create, new version, rollback, metadata, undelete
	ActionDelete Action = "delete" // delete, destroy, purge
	ActionAdmin  Action = "admin"  // manage API keys and the store itself
)

// Actions lists every action in order of increasing power.
var Actions = []Action{ActionList, ActionRead, ActionReveal, ActionWrite, ActionDelete, ActionAdmin}

// Scope grants actions on a set of objects. An empty Store or "*" means every
// store of the account; Secret is a secret name, a prefix ending in '*', or
// empty/"*" for every secret. Faces that carry their own scope shapes (Chutes'
// {object_type, object_id, action}) keep them in ObjectType/ObjectID verbatim.
type Scope struct {
	Store      string   `json:"store,omitempty"`
	Secret     string   `json:"secret,omitempty"`
	Actions    []Action `json:"actions"`
	ObjectType string   `json:"object_type,omitempty"`
	ObjectID   string   `json:"object_id,omitempty"`
}

// Validate checks the scope's shape. Scopes of other object types (Chutes'
// images, chutes, invocations) are kept verbatim: any lowercase actions, and
// none meaning all; they never grant anything on secrets.
func (s *Scope) Validate() error {
	if s.ObjectType != "" && s.ObjectType != "secrets" {
		if !lowerWord(s.ObjectType) || len(s.ObjectID) > 255 || len(s.Actions) > 16 {
			return Errorf(EINVALID, "scope object_type must be 1-64 lowercase letters or '_', object_id at most 255 characters")
		}
		for _, a := range s.Actions {
			if !lowerWord(string(a)) {
				return Errorf(EINVALID, "scope actions must be 1-64 lowercase letters or '_'")
			}
		}
		return nil
	}
	if len(s.Actions) == 0 {
		return Errorf(EINVALID, "scope needs at least one action")
	}
	for _, a := range s.Actions {
		if !validAction(a) {
			return Errorf(EINVALID, "unknown action %q (want one of list, read, reveal, write, delete, admin)", a)
		}
	}
	if s.Store != "" && s.Store != "*" {
		if err := ValidateName("store", s.Store); err != nil {
			return err
		}
	}
	if p := strings.TrimSuffix(s.Secret, "*"); p != "" && s.Secret != "*" {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/') {
				return Errorf(EINVALID, "scope secret pattern may contain only name characters and a trailing '*'")
			}
		}
	}
	return nil
}

func lowerWord(w string) bool {
	if w == "" || len(w) > 64 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; !('a' <= c && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

func validAction(a Action) bool {
	for _, b := range Actions {
		if a == b {
			return true
		}
	}
	return false
}

// Allows reports whether the scope grants action on the secret named secret
// in the store with the given id and name. An empty secret means the store
// itself (listing it, managing it); a scope limited to some secrets still
// allows listing the store, but only ActionList.
func (s *Scope) Allows(action Action, storeID, storeName, secret string) bool {
	if s.ObjectType != "" && s.ObjectType != "secrets" {
		return false
	}
	if s.Store != "" && s.Store != "*" && s.Store != storeID && s.Store != storeName {
		return false
	}
	if !s.has(action) {
		return false
	}
	if s.Secret == "" || s.Secret == "*" {
		return true
	}
	if secret == "" {
		return action == ActionList
	}
	if p, ok := strings.CutSuffix(s.Secret, "*"); ok {
		return strings.HasPrefix(secret, p)
	}
	return s.Secret == secret
}

func (s *Scope) has(a Action) bool {
	for _, b := range s.Actions {
		if a == b {
			return true
		}
	}
	return false
}

// APIKey is a credential of a principal. The secret part of the token is
// never stored; Hash is its keyed hash.
type APIKey struct {
	ID          string     `json:"id"`
	AccountID   string     `json:"account_id"`
	PrincipalID string     `json:"principal_id"`
	Name        string     `json:"name"`
	Admin       bool       `json:"admin"`
	Scopes      []Scope    `json:"scopes"`
	Hash        []byte     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	MAC         []byte     `json:"-"` // as Account.MAC
}

// Usable reports whether the key may authenticate at time now.
func (k *APIKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// Credential is what a request presents to authenticate.
type Credential struct {
	Token    string // the API key or token exactly as sent
	RemoteIP string // the client address: failed attempts are limited per address
}

// Caller is the authenticated identity of a request.
type Caller struct {
	AccountID   string
	PrincipalID string
	KeyID       string
	Admin       bool
	// Operator marks an admin key of the operator account (the account made
	// at first start): the server's administrator, who manages accounts.
	Operator   bool
	Scopes     []Scope
	ExpiresAt  *time.Time // of the key, or of the access token; keys it mints may not outlive it
	RemoteAddr string
	RequestID  string
	Face       string // native, cloudflare, truefoundry, chutes, bytenite
}

// Allows reports whether the caller may do action on the named secret (or on
// the store itself when secret is empty), and which scope allowed it.
func (c *Caller) Allows(action Action, storeID, storeName, secret string) (bool, string) {
	if c.Admin {
		return true, "admin"
	}
	for i := range c.Scopes {
		if c.Scopes[i].Allows(action, storeID, storeName, secret) {
			return true, c.Scopes[i].String()
		}
	}
	return false, ""
}

// AllowsEvery reports whether the caller may do action on every secret of
// the store, present and future.
func (c *Caller) AllowsEvery(action Action, storeID, storeName string) bool {
	if c.Admin {
		return true
	}
	for i := range c.Scopes {
		s := &c.Scopes[i]
		if (s.Secret == "" || s.Secret == "*") && s.Allows(action, storeID, storeName, "") {
			return true
		}
	}
	return false
}

// String renders the scope in the CLI grammar store:secret:action,action.
func (s *Scope) String() string {
	var b strings.Builder
	if s.ObjectType != "" {
		b.WriteString(s.ObjectType + "/" + s.ObjectID + ":")
	}
	st, sec := s.Store, s.Secret
	if st == "" {
		st = "*"
	}
	if sec == "" {
		sec = "*"
	}
	b.WriteString(st + ":" + sec + ":")
	for i, a := range s.Actions {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(a))
	}
	return b.String()
}

// ParseScope parses the CLI scope grammar STORE:SECRET:ACTION[,ACTION...],
// where STORE and SECRET may be "*" and SECRET may end in '*' for a prefix.
func ParseScope(s string) (Scope, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Scope{}, Errorf(EINVALID, "scope %q: want STORE:SECRET:ACTION[,ACTION...]", s)
	}
	sc := Scope{Store: parts[0], Secret: parts[1]}
	for _, a := range strings.Split(parts[2], ",") {
		sc.Actions = append(sc.Actions, Action(strings.TrimSpace(a)))
	}
	if err := sc.Validate(); err != nil {
		return Scope{}, err
	}
	return sc, nil
}

type callerKey struct{}

// NewContext returns a context carrying the caller.
func NewContext(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// Covers reports whether s grants everything t grants, so that a key holding
// s may mint a key holding t. Stores named differently (one by id, one by
// name) are not assumed to be the same store.
func (s *Scope) Covers(t *Scope) bool {
	if t.ObjectType != "" || s.ObjectType != "" {
		if t.ObjectType == "" {
			t2 := *t
			t2.ObjectType = "secrets"
			t = &t2
		}
		if s.ObjectType != "" && s.ObjectType != t.ObjectType ||
			s.ObjectType == "" && t.ObjectType != "secrets" ||
			s.ObjectID != "" && s.ObjectID != t.ObjectID {
			return false
		}
	}
	if s.Store != "" && s.Store != "*" && s.Store != t.Store {
		return false
	}
	if !covers(s.Secret, t.Secret) {
		return false
	}
	if len(s.Actions) == 0 { // all actions (foreign object types only)
		return true
	}
	if len(t.Actions) == 0 {
		return false
	}
	for _, a := range t.Actions {
		if !s.has(a) {
			return false
		}
	}
	return true
}

// covers reports whether secret pattern p matches everything pattern q does.
func covers(p, q string) bool {
	if p == "" || p == "*" {
		return true
	}
	if q == "" || q == "*" {
		return false
	}
	if pp, ok := strings.CutSuffix(p, "*"); ok {
		return strings.HasPrefix(strings.TrimSuffix(q, "*"), pp)
	}
	return p == q
}

// CoveredBy reports whether every scope of child is covered by one scope of
// parent.
func CoveredBy(child, parent []Scope) bool {
	for i := range child {
		ok := false
		for j := range parent {
			if parent[j].Covers(&child[i]) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// MaxAccessTokenTTL is the longest lifetime an access token may be given.
const MaxAccessTokenTTL = 24 * time.Hour

// AccessTokenIssuer exchanges an API key for a short-lived access token, as
// ByteNite clients exchange theirs (POST /v1/auth/access_token). The token
// is signed by the server, not stored: Authenticate accepts it wherever an
// API key is accepted, on every face, as a Caller with the key's powers,
// until the token expires or the key stops being usable (revoked or
// expired), whichever comes first. A revocation reaches a key's access
// tokens as fast as the key itself.
type AccessTokenIssuer interface {
	// IssueAccessToken authenticates cred as Authenticate does (its
	// failures audited and rate-limited: EUNAUTHORIZED, ERATELIMIT) and
	// returns a token that expires after ttl, or with the key if that is
	// sooner. An access token is not an API key: giving one as cred is
	// EUNAUTHORIZED. EINVALID for a ttl outside (0, MaxAccessTokenTTL].
	// Each issue is audited (token.issue); the token itself never is.
	IssueAccessToken(ctx context.Context, cred Credential, ttl time.Duration) (*AccessToken, error)
}

// AccessToken is an issued access token. Token is a credential: it redacts
// itself when printed or logged.
type AccessToken struct {
	Token     string
	ExpiresAt time.Time
	// Caller is who the token authenticates as (the key's principal and
	// powers), with ExpiresAt the token's.
	Caller *Caller
}

// String implements fmt.Stringer without revealing the token.
func (t AccessToken) String() string {
	return "AccessToken{expires " + t.ExpiresAt.UTC().Format(time.RFC3339) + " [REDACTED]}"
}

// GoString implements fmt.GoStringer without revealing the token.
func (t AccessToken) GoString() string { return t.String() }

// LogValue implements slog.LogValuer without revealing the token.
func (t AccessToken) LogValue() slog.Value {
	return slog.GroupValue(slog.Time("expires_at", t.ExpiresAt), slog.String("token", "[REDACTED]"))
}

// Console session events, recorded by ConsoleAudit.
const (
	ActionConsoleSignIn  = "console.signin"
	ActionConsoleSignOut = "console.signout"
)

// ConsoleAudit records the web console's sign-ins and sign-outs in the
// audit log. The session itself (its id, its CSRF token, the key it acts
// as) lives in the server's memory and is never recorded.
type ConsoleAudit interface {
	// ConsoleEvent records action, ActionConsoleSignIn or
	// ActionConsoleSignOut (else EINVALID), for the authenticated caller
	// in ctx.
	ConsoleEvent(ctx context.Context, action string) error
}

// ConsoleSessions keeps the web console's sessions in storage, where every
// server of the database finds them and a restart keeps them. A session id
// is 256 random bits, base64url-encoded, that only the browser holds: from
// it the keeper derives the session's storage id, the key that seals in
// storage the API key the session acts as, and its CSRF token, so what
// storage holds opens no session and reveals no key.
type ConsoleSessions interface {
	// StartConsoleSession keeps a new session acting as token (which the
	// caller authenticated), live from now until idle passes without use
	// or max has passed, and returns its id and CSRF token.
	StartConsoleSession(ctx context.Context, token string, now time.Time, idle, max time.Duration) (id, csrf string, err error)
	// ResumeConsoleSession returns the API key and CSRF token of the
	// session id, live at now, and moves its idle end to now+idle; ok is
	// false when there is no such live session (an ended one is deleted).
	ResumeConsoleSession(ctx context.Context, id string, now time.Time, idle time.Duration) (token, csrf string, ok bool, err error)
	// EndConsoleSession deletes the session id; none is no error.
	EndConsoleSession(ctx context.Context, id string) error
}
