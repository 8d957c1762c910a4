package chutes

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Object types of API key scopes. Chutes accepts images, chutes and
// invocations, which coffer keeps verbatim (they grant nothing in coffer);
// coffer adds secrets (the Chutes secrets of the account, enforced on every
// face) and registry (image pulls through GET /registry/auth).
const (
	typeSecrets  = "secrets"
	typeRegistry = "registry"
)

var objectTypes = []string{"images", "chutes", "invocations", typeSecrets, typeRegistry}

// Chutes' scope actions.
var actions = []string{"read", "write", "delete", "invoke"}

// secretActions maps a Chutes action on secrets ("" for null: every
// action) to coffer's. Reading metadata comes with each, because every
// route finds its secret first; no Chutes action reveals a value, because
// Chutes never returns one.
var secretActions = map[string][]coffer.Action{
	"read":   {coffer.ActionList, coffer.ActionRead},
	"write":  {coffer.ActionList, coffer.ActionRead, coffer.ActionWrite},
	"delete": {coffer.ActionList, coffer.ActionRead, coffer.ActionDelete},
	"":       {coffer.ActionList, coffer.ActionRead, coffer.ActionWrite, coffer.ActionDelete},
}

// scopeJSON is a scope of Chutes' APIKeyResponse. Chutes names the action
// "method" in its response (and always sends null there); coffer sends the
// action in both.
type scopeJSON struct {
	ScopeID    string  `json:"scope_id"`
	ObjectType string  `json:"object_type"`
	ObjectID   *string `json:"object_id"`
	Action     *string `json:"action"`
	Method     *string `json:"method"`
}

// keyJSON is Chutes' APIKeyResponse.
type keyJSON struct {
	APIKeyID   string      `json:"api_key_id"`
	UserID     string      `json:"user_id"`
	Admin      bool        `json:"admin"`
	Name       string      `json:"name"`
	CreatedAt  string      `json:"created_at"`
	LastUsedAt *string     `json:"last_used_at"`
	Scopes     []scopeJSON `json:"scopes"`
}

// keyCreated is Chutes' APIKeyCreationResponse: the key and, this once,
// its token.
type keyCreated struct {
	keyJSON
	SecretKey string `json:"secret_key"`
}

func toKeyJSON(k *coffer.APIKey) keyJSON {
	out := keyJSON{
		APIKeyID: dashed(k.ID), UserID: dashed(k.PrincipalID), Admin: k.Admin, Name: k.Name,
		CreatedAt: timestamp(k.CreatedAt), Scopes: []scopeJSON{},
	}
	if k.LastUsedAt != nil {
		t := timestamp(*k.LastUsedAt)
		out.LastUsedAt = &t
	}
	for i, sc := range k.Scopes {
		out.Scopes = append(out.Scopes, toScopeJSON(k.ID, i, sc))
	}
	return out
}

// toScopeJSON renders a stored scope. Coffer keeps no scope ids: each is
// uuid5 of the key id and the scope's place in the key.
func toScopeJSON(keyID string, i int, sc coffer.Scope) scopeJSON {
	out := scopeJSON{ScopeID: dashed(uuid5(dashed(keyID) + ":scope:" + strconv.Itoa(i))), ObjectType: sc.ObjectType}
	if sc.ObjectID != "" {
		id := sc.ObjectID
		out.ObjectID = &id
	}
	var action string
	if sc.ObjectType == "" || sc.ObjectType == typeSecrets {
		// A native scope reads as a secrets scope, its secret as the object.
		out.ObjectType = typeSecrets
		if out.ObjectID == nil && sc.Secret != "" && sc.Secret != "*" {
			id := sc.Secret
			out.ObjectID = &id
		}
		action = joinActions(sc.Actions)
		for a, as := range secretActions {
			if slices.Equal(as, sc.Actions) {
				action = a
			}
		}
	} else {
		action = joinActions(sc.Actions)
	}
	if action != "" {
		out.Action, out.Method = &action, &action
	}
	return out
}

func joinActions(as []coffer.Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ",")
}

// requireAdmin refuses, and records the refusal of, a caller that may not
// manage keys: an admin key or a hotkey (the user itself). Chutes' scopes
// cannot name api_keys, so no scoped key may.
func (s *Server) requireAdmin(ctx context.Context, action string) error {
	return s.Secrets.RequireAdmin(ctx, action, "", "Chutes API keys are managed with an admin key or a hotkey")
}

// ownKeys returns the caller's principal's live keys of Chutes' id shape,
// newest first: a Chutes user sees its own keys, and only those a UUID
// can name (coffer's native keys have shorter ids).
func (s *Server) ownKeys(ctx context.Context) ([]*coffer.APIKey, error) {
	keys, err := s.Secrets.OwnAPIKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []*coffer.APIKey
	for _, k := range keys {
		if coffer.IsID(k.ID) {
			out = append(out, k)
		}
	}
	return out, nil
}

// listKeys answers GET /api_keys/.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.list"); err != nil {
		return err
	}
	q, err := parsePage(r)
	if err != nil {
		return err
	}
	keys, err := s.ownKeys(ctx)
	if err != nil {
		return err
	}
	items := make([]keyJSON, len(keys))
	for i, k := range keys {
		items[i] = toKeyJSON(k)
	}
	return web.WriteJSON(w, http.StatusOK, paginate(q, items))
}

// key finds one of the caller's keys by the id in the path (nil if none).
func (s *Server) key(ctx context.Context, r *http.Request) (*coffer.APIKey, error) {
	id, ok := parseID(r.PathValue("api_key_id"))
	if !ok {
		return nil, nil
	}
	keys, err := s.ownKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, nil
}

// getKey answers GET /api_keys/{api_key_id}.
func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.read"); err != nil {
		return err
	}
	k, err := s.key(ctx, r)
	if err != nil {
		return err
	} else if k == nil {
		return notFound("API key with id " + r.PathValue("api_key_id") + " not found or doesn't belong to you")
	}
	return web.WriteJSON(w, http.StatusOK, toKeyJSON(k))
}

// deleteKey answers DELETE /api_keys/{api_key_id}: the key is revoked, at
// once on this server.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.revoke"); err != nil {
		return err
	}
	id, ok := parseID(r.PathValue("api_key_id"))
	if !ok {
		return notFound("API key not found, or does not belong to you")
	}
	if err := s.Secrets.RevokeOwnAPIKey(ctx, id); coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return notFound("API key not found, or does not belong to you")
	} else if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		APIKeyID string `json:"api_key_id"`
		Deleted  bool   `json:"deleted"`
	}{dashed(id), true})
}

// scopeArgs is Chutes' ScopeArgs.
type scopeArgs struct {
	objectType string
	objectID   *string
	action     *string
}

// scopes reads the optional list of ScopeArgs (null is none).
func (f fields) scopes(name string) []scopeArgs {
	raw, ok := f.m[name]
	if !ok || kind(raw) == 'n' {
		return nil
	}
	var items []json.RawMessage
	if kind(raw) != '[' || json.Unmarshal(raw, &items) != nil {
		f.add(Invalid{Type: "list_type", Loc: f.at(name), Msg: msgList, Input: raw})
		return nil
	}
	var out []scopeArgs
	for i, it := range items {
		loc := append(f.at(name), i)
		var m map[string]json.RawMessage
		if kind(it) != '{' || json.Unmarshal(it, &m) != nil {
			f.add(Invalid{Type: "model_attributes_type", Loc: loc, Msg: msgObject, Input: it})
			continue
		}
		g := fields{m: m, loc: loc, bad: f.bad}
		var a scopeArgs
		a.objectType, _ = g.str("object_type", true)
		a.objectID, _ = g.optStr("object_id")
		a.action = g.action("action")
		out = append(out, a)
	}
	return out
}

// action reads an optional Action enum (null is every action).
func (f fields) action(name string) *string {
	raw, ok := f.m[name]
	if !ok || kind(raw) == 'n' {
		return nil
	}
	var s string
	if kind(raw) == '"' && json.Unmarshal(raw, &s) == nil && slices.Contains(actions, s) {
		return &s
	}
	const expected = "'read', 'write', 'delete' or 'invoke'"
	f.add(Invalid{Type: "enum", Loc: f.at(name), Msg: "Input should be " + expected, Input: raw,
		Ctx: map[string]any{"expected": expected}})
	return nil
}

// validKeyName is Chutes' rule for key names, the regular expression
// [\$\w\u0080-\uFFFF\._\s-]{1,24}$ matched from the start: 1 to 24
// letters, digits, '$', '.', '_', '-', spaces or other non-ASCII
// characters.
func validKeyName(name string) bool {
	n := 0
	for _, r := range name {
		n++
		if !(r == '$' || r == '.' || r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsNumber(r) ||
			unicode.IsSpace(r) || r >= 0x80 && r <= 0xFFFF) {
			return false
		}
	}
	return n >= 1 && n <= 24
}

// createKey answers POST /api_keys/: {admin, name, scopes?}. The key is a
// coffer API key of the caller's principal in Chutes' format; an admin
// key's scopes are ignored, as at Chutes, and a key that is neither admin
// nor given a scope (none, [] or null) may do nothing.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.create"); err != nil {
		return err
	}
	m, err := readObject(r)
	if err != nil {
		return err
	}
	var bad []Invalid
	f := fields{m: m, loc: []any{"body"}, bad: &bad}
	admin, _ := f.boolean("admin")
	name, _ := f.str("name", true)
	args := f.scopes("scopes")
	if bad != nil {
		return invalid(bad...)
	}
	if !validKeyName(name) {
		return badRequest("API key name should start with alphanumeric character and contain up to 32 total allowed characters (letters, numbers, dashes, underscores, or spaces)")
	}
	in := &coffer.APIKeyCreate{Format: KeyFormatName, Name: name, Admin: admin, Scopes: []coffer.Scope{}}
	if !admin {
		for _, a := range args {
			sc, err := s.scope(ctx, a)
			if err != nil {
				return err
			}
			in.Scopes = append(in.Scopes, sc)
		}
	}
	keys, err := s.Secrets.OwnAPIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Name == name {
			return &Error{Status: http.StatusConflict, Detail: "An API key already exists with this name"}
		}
	}
	k, token, err := s.Keys.CreateAPIKey(ctx, in)
	if coffer.ErrorCode(err) == coffer.EINVALID {
		return badRequest(coffer.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, keyCreated{keyJSON: toKeyJSON(k), SecretKey: token})
}

// scope turns a ScopeArgs into a coffer scope. Chutes' own types are kept
// verbatim (object_id and action as given; no action is every action). A
// secrets scope applies to the Chutes store: object_id null is every
// secret, a secret_id is that secret, anything else a purpose, whose
// secrets (present and future) it covers.
func (s *Server) scope(ctx context.Context, a scopeArgs) (coffer.Scope, error) {
	if !slices.Contains(objectTypes, a.objectType) {
		return coffer.Scope{}, badRequest("Invalid object_type, must be one of images, chutes, invocations, " + typeSecrets + ", " + typeRegistry)
	}
	if a.objectID != nil && *a.objectID == "" {
		return coffer.Scope{}, badRequest("object_id must not be empty (null means every object)")
	}
	sc := coffer.Scope{ObjectType: a.objectType}
	if a.objectID != nil {
		sc.ObjectID = *a.objectID
	}
	action := ""
	if a.action != nil {
		action = *a.action
	}
	if a.objectType != typeSecrets {
		if action != "" {
			sc.Actions = []coffer.Action{coffer.Action(action)}
		}
		return sc, nil
	}
	as, ok := secretActions[action]
	if !ok {
		return coffer.Scope{}, badRequest("action " + action + " does not apply to secrets")
	}
	sc.Store, sc.Actions = StoreName, as
	// Keys with a secrets scope need the store, which only an admin can make.
	st, err := s.store(ctx, true)
	if err != nil {
		return coffer.Scope{}, err
	}
	if a.objectID == nil {
		return sc, nil
	}
	if id, ok := parseID(sc.ObjectID); ok {
		sec, err := s.Secrets.Secret(ctx, st.ID, id)
		if err == nil && sec.ID == id && sec.Status != coffer.StatusDeleted {
			sc.Secret = sec.Name
			return sc, nil
		} else if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
			return coffer.Scope{}, err
		}
	}
	if len(sc.ObjectID) > maxPurpose || !validPurpose(sc.ObjectID) {
		return coffer.Scope{}, badRequest("object_id of a secrets scope must be a secret_id or a purpose")
	}
	sc.Secret = sc.ObjectID + "/*"
	return sc, nil
}
