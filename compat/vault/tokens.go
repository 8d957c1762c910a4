package vault

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

// Vault capabilities.
const (
	capCreate = "create"
	capRead   = "read"
	capUpdate = "update"
	capPatch  = "patch"
	capDelete = "delete"
	capList   = "list"
	capSudo   = "sudo"
	capDeny   = "deny"
)

// capabilities maps the coffer actions a caller holds on a KV path to the
// Vault capabilities of that path's kind (docs/vault.md has the table):
//
//	data:      reveal -> read; write -> create, update; write+reveal -> patch; delete -> delete
//	metadata:  read -> read; list -> list; write -> create, update, patch; delete -> delete
//	delete, destroy: delete -> update;  undelete: write -> update
//	subkeys:   reveal -> read;  config: read -> read, admin -> update
//	admin on anything adds sudo.
func capabilities(verb string, acts []coffer.Action) []string {
	has := func(a coffer.Action) bool { return slices.Contains(acts, a) }
	var caps []string
	add := func(ok bool, cs ...string) {
		if ok {
			caps = append(caps, cs...)
		}
	}
	switch verb {
	case verbData:
		add(has(coffer.ActionWrite), capCreate)
		add(has(coffer.ActionReveal), capRead)
		add(has(coffer.ActionWrite), capUpdate)
		add(has(coffer.ActionWrite) && has(coffer.ActionReveal), capPatch)
		add(has(coffer.ActionDelete), capDelete)
	case verbMetadata:
		add(has(coffer.ActionWrite), capCreate)
		add(has(coffer.ActionRead), capRead)
		add(has(coffer.ActionWrite), capUpdate, capPatch)
		add(has(coffer.ActionDelete), capDelete)
		add(has(coffer.ActionList), capList)
	case verbDelete, verbDestroy:
		add(has(coffer.ActionDelete), capUpdate)
	case verbUndelete:
		add(has(coffer.ActionWrite), capUpdate)
	case verbSubkeys:
		add(has(coffer.ActionReveal), capRead)
	case verbConfig:
		add(has(coffer.ActionRead), capRead)
		add(has(coffer.ActionAdmin), capUpdate)
	}
	add(has(coffer.ActionAdmin), capSudo)
	if len(caps) == 0 {
		return []string{capDeny}
	}
	return caps
}

// capabilitiesSelf serves POST sys/capabilities-self: for each of the
// paths, what the caller's token may do there, as the service says
// (coffer.CapabilityChecker). A path that is no KV path of a store the
// caller can see is "deny".
func (s *Server) capabilitiesSelf(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return errUnsupported
	}
	var in struct {
		Path  json.RawMessage `json:"path"`
		Paths json.RawMessage `json:"paths"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	var paths []string
	for _, raw := range []json.RawMessage{in.Path, in.Paths} {
		if !given(raw) {
			continue
		}
		var one string
		var many []string
		if json.Unmarshal(raw, &one) == nil {
			paths = append(paths, one)
		} else if json.Unmarshal(raw, &many) == nil {
			paths = append(paths, many...)
		} else {
			return badRequest("paths must be a list of strings")
		}
	}
	if len(paths) == 0 {
		return badRequest("missing paths")
	}
	if len(paths) > 256 {
		return badRequest("at most 256 paths")
	}
	data := map[string]any{}
	var last []string
	for _, p := range paths {
		caps := []string{capDeny}
		if kp, err := s.resolve(r.Context(), strings.TrimPrefix(p, "/"), strings.HasSuffix(p, "/")); err == nil {
			acts, err := s.Service.Capabilities(r.Context(), kp.mount, kp.name)
			if err != nil {
				return err
			}
			caps = capabilities(kp.verb, acts)
		}
		data[p] = caps
		last = caps
	}
	if len(paths) == 1 {
		data["capabilities"] = last
	}
	return respond(w, r, "", data, nil)
}

// policiesOf names a caller's powers as Vault policies: "root" for an
// admin key, else its scopes in coffer's STORE:SECRET:ACTIONS grammar.
func policiesOf(c *coffer.Caller) []string {
	if c.Admin {
		return []string{"root"}
	}
	out := []string{}
	for i := range c.Scopes {
		out = append(out, c.Scopes[i].String())
	}
	return out
}

// ttlOf is the seconds left until expires (0: never).
func ttlOf(expires *time.Time, now time.Time) int {
	if expires == nil {
		return 0
	}
	return max(0, int(expires.Sub(now)/time.Second))
}

// lookupSelf serves GET and POST auth/token/lookup-self: the caller's key
// as a Vault token. Its accessor is the key's id.
func (s *Server) lookupSelf(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodPut {
		return errUnsupported
	}
	ctx := r.Context()
	c := caller(ctx)
	now := s.Now()
	name, created := "", now
	if keys, err := s.Service.OwnAPIKeys(ctx); err == nil {
		for _, k := range keys {
			if k.ID == c.KeyID {
				name, created = k.Name, k.CreatedAt
			}
		}
	}
	var expire any
	if c.ExpiresAt != nil {
		expire = vaultTime(c.ExpiresAt)
	}
	ttl := ttlOf(c.ExpiresAt, now)
	return respond(w, r, "token", map[string]any{
		"accessor": c.KeyID, "creation_time": created.Unix(), "creation_ttl": ttl, "display_name": "token-" + name,
		"entity_id": "", "expire_time": expire, "explicit_max_ttl": 0, "id": token(r), "issue_time": vaultTime(&created),
		"meta": nil, "num_uses": 0, "orphan": true, "path": "auth/token/create", "policies": policiesOf(c),
		"renewable": false, "ttl": ttl, "type": "service",
	}, nil)
}

// authOut is Vault's auth block of a token answer.
type authOut struct {
	ClientToken   string            `json:"client_token"`
	Accessor      string            `json:"accessor"`
	Policies      []string          `json:"policies"`
	TokenPolicies []string          `json:"token_policies"`
	Metadata      map[string]string `json:"metadata"`
	LeaseDuration int               `json:"lease_duration"`
	Renewable     bool              `json:"renewable"`
	EntityID      string            `json:"entity_id"`
	TokenType     string            `json:"token_type"`
	Orphan        bool              `json:"orphan"`
	NumUses       int               `json:"num_uses"`
}

// renewSelf serves POST auth/token/renew-self. A coffer key's expiry is
// fixed when it is made, so nothing is renewed: the answer is the token's
// remaining lifetime, with Vault's warning when more was asked.
func (s *Server) renewSelf(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return errUnsupported
	}
	var in struct {
		Increment json.RawMessage `json:"increment"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c := caller(r.Context())
	ttl := ttlOf(c.ExpiresAt, s.Now())
	var warnings []string
	if given(in.Increment) {
		d, err := parseDuration("increment", in.Increment)
		if err != nil {
			return err
		}
		if c.ExpiresAt != nil && int(d/time.Second) > ttl {
			warnings = append(warnings, "TTL of \""+d.String()+"\" exceeded the effective max_ttl of \""+(time.Duration(ttl)*time.Second).String()+"\"; TTL value is capped accordingly")
		}
	}
	pol := policiesOf(c)
	return respond(w, r, "token", nil, authOut{ClientToken: token(r), Accessor: c.KeyID, Policies: pol, TokenPolicies: pol,
		LeaseDuration: ttl, TokenType: "service", Orphan: true}, warnings...)
}

// revokeSelf serves POST auth/token/revoke-self: the caller's key is
// revoked (204).
func (s *Server) revokeSelf(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return errUnsupported
	}
	if err := s.Service.RevokeOwnAPIKey(r.Context(), caller(r.Context()).KeyID); err != nil {
		return err
	}
	return noContent(w)
}

// tokenCreate is the body of auth/token/create.
type tokenCreate struct {
	ID          string            `json:"id"`
	Policies    []string          `json:"policies"`
	Meta        map[string]string `json:"meta"`
	DisplayName string            `json:"display_name"`
	NumUses     int               `json:"num_uses"`
	TTL         json.RawMessage   `json:"ttl"`
	Type        string            `json:"type"`
}

// createToken serves POST auth/token/create and create-orphan (the same:
// a coffer key outlives the key that made it). The child is a coffer key
// of the caller's principal, never wider than the caller: with no policies
// it has the caller's powers; policies that are coffer scopes
// (STORE:SECRET:ACTIONS) narrow it, "default" is ignored, and anything
// else is 400. Its ttl is capped at the caller's expiry, with a warning.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return errUnsupported
	}
	ctx := r.Context()
	var in tokenCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	switch {
	case in.ID != "":
		return badRequest("a token's id cannot be chosen: coffer makes every token")
	case in.NumUses != 0:
		return badRequest("num_uses is not supported: coffer tokens are not limited in uses")
	case in.Type != "" && in.Type != "service" && in.Type != "batch" && in.Type != "default-service" && in.Type != "default":
		return badRequest("unsupported token type %q", in.Type)
	}
	var scopes []coffer.Scope
	for _, p := range in.Policies {
		if p == "default" {
			continue
		}
		sc, err := coffer.ParseScope(p)
		if err != nil {
			return badRequest("unknown policy %q: coffer tokens take coffer scopes STORE:SECRET:ACTION[,ACTION...] as policies", p)
		}
		scopes = append(scopes, sc)
	}
	now := s.Now()
	c := caller(ctx)
	var expires *time.Time
	var warnings []string
	if given(in.TTL) {
		d, err := parseDuration("ttl", in.TTL)
		if err != nil {
			return err
		}
		if d > 0 {
			t := now.Add(d).UTC()
			expires = &t
		}
	}
	if expires != nil && c.ExpiresAt != nil && expires.After(*c.ExpiresAt) {
		t := c.ExpiresAt.UTC()
		expires = &t
		warnings = append(warnings, "TTL of the child token is capped at the expiry of the token that makes it")
	}
	name := in.DisplayName
	if name == "" {
		name = "vault-token"
	}
	var key *coffer.APIKey
	var tok string
	var err error
	if len(scopes) == 0 {
		key, tok, err = s.Service.CreateOwnAPIKey(ctx, name, expires)
	} else {
		key, tok, err = s.Service.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: name, Scopes: scopes, ExpiresAt: expires})
	}
	if err != nil {
		return err
	}
	pol := []string{"root"}
	if !key.Admin {
		pol = pol[:0]
		for i := range key.Scopes {
			pol = append(pol, key.Scopes[i].String())
		}
	}
	return respond(w, r, "token", nil, authOut{ClientToken: tok, Accessor: key.ID, Policies: pol, TokenPolicies: pol,
		Metadata: in.Meta, LeaseDuration: ttlOf(key.ExpiresAt, now), TokenType: "service", Orphan: true}, warnings...)
}
