package vault

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Vault's AppRole auth method (auth/approle/), over coffer's AppRole roles
// (docs/identity.md): login, and the management paths the vault CLI and
// Terraform's vault_approle_auth_backend_role use. Policies are coffer
// scope strings (STORE:SECRET:ACTIONS), as auth/token/create takes them.

// msgBadLogin is Vault's answer (400) to any bad role_id or secret_id.
const msgBadLogin = "invalid role or secret ID"

// approleLogin is the body of auth/approle/login.
type approleLogin struct {
	RoleID   string `json:"role_id"`
	SecretID string `json:"secret_id"`
}

// approleLoginHandler serves POST auth/approle/login. It needs no token.
func (s *Server) approleLoginHandler(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return errUnsupported
	}
	var in approleLogin
	if err := decode(w, r, &in); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(in.RoleID) == "":
		return badRequest("missing role_id")
	case strings.TrimSpace(in.SecretID) == "":
		return badRequest("missing secret_id")
	}
	ip := web.RemoteIP(r)
	ctx := coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: web.RequestID(r.Context()), Face: s.face.Name})
	tok, err := s.Service.AppRoleLogin(ctx, strings.TrimSpace(in.RoleID), strings.TrimSpace(in.SecretID), ip)
	if coffer.ErrorCode(err) == coffer.EUNAUTHORIZED {
		return &Error{Status: http.StatusBadRequest, Errors: []string{msgBadLogin}}
	} else if err != nil {
		return err
	}
	pol := policiesOf(tok.Caller)
	return respond(w, r, "", nil, authOut{ClientToken: tok.Token, Accessor: tok.Caller.KeyID, Policies: pol, TokenPolicies: pol,
		Metadata: map[string]string{"role_name": tok.Role.Name}, LeaseDuration: int(math.Ceil(tok.ExpiresAt.Sub(s.Now()).Seconds())),
		TokenType: "service", Orphan: true})
}

// approleRoleInput is the body of a write to auth/approle/role/NAME. Lists
// are JSON arrays or comma-separated strings, durations seconds or Go
// duration strings, as Vault takes them.
type approleRoleInput struct {
	TokenPolicies      json.RawMessage `json:"token_policies"`
	Policies           json.RawMessage `json:"policies"`
	TokenTTL           json.RawMessage `json:"token_ttl"`
	SecretIDTTL        json.RawMessage `json:"secret_id_ttl"`
	SecretIDNumUses    json.RawMessage `json:"secret_id_num_uses"`
	SecretIDBoundCIDRs json.RawMessage `json:"secret_id_bound_cidrs"`
	TokenBoundCIDRs    json.RawMessage `json:"token_bound_cidrs"`
	BindSecretID       *bool           `json:"bind_secret_id"`
}

// stringList reads a list field: an array of strings or a comma-separated
// string; nil when absent.
func stringList(field string, raw json.RawMessage) ([]string, error) {
	if !given(raw) {
		return nil, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, badRequest("%s must be a list of strings or a comma-separated string", field)
		}
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
	}
	if list == nil {
		list = []string{}
	}
	return list, nil
}

// scopesOf reads policies as coffer scopes ("default" is ignored).
func scopesOf(field string, raw json.RawMessage) ([]coffer.Scope, error) {
	list, err := stringList(field, raw)
	if list == nil || err != nil {
		return nil, err
	}
	// A comma-separated string splits the actions of a scope too
	// ("app:*:read,reveal"): a piece without ':' is one more action of the
	// scope before it.
	var joined []string
	for _, p := range list {
		if n := len(joined); n > 0 && !strings.Contains(p, ":") && strings.Count(joined[n-1], ":") == 2 {
			joined[n-1] += "," + p
			continue
		}
		joined = append(joined, p)
	}
	scopes := []coffer.Scope{}
	for _, p := range joined {
		if p == "default" {
			continue
		}
		sc, err := coffer.ParseScope(p)
		if err != nil {
			return nil, badRequest("unknown policy %q: coffer roles take coffer scopes STORE:SECRET:ACTION[,ACTION...] as policies", p)
		}
		scopes = append(scopes, sc)
	}
	return scopes, nil
}

// update reads the body as a change of a role.
func (in *approleRoleInput) update() (*coffer.AppRoleUpdate, error) {
	if in.BindSecretID != nil && !*in.BindSecretID {
		return nil, badRequest("bind_secret_id=false is not supported: every coffer login needs a secret_id")
	}
	u := &coffer.AppRoleUpdate{}
	var err error
	pol := in.TokenPolicies
	if !given(pol) {
		pol = in.Policies
	}
	if u.Scopes, err = scopesOf("token_policies", pol); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		field string
		raw   json.RawMessage
		dst   **time.Duration
	}{{"token_ttl", in.TokenTTL, &u.TokenTTL}, {"secret_id_ttl", in.SecretIDTTL, &u.SecretIDTTL}} {
		if given(d.raw) {
			v, err := parseDuration(d.field, d.raw)
			if err != nil {
				return nil, err
			}
			*d.dst = &v
		}
	}
	if given(in.SecretIDNumUses) {
		n, err := parseInt("secret_id_num_uses", in.SecretIDNumUses)
		if err != nil {
			return nil, err
		}
		u.SecretIDNumUses = &n
	}
	if u.SecretIDBoundCIDRs, err = stringList("secret_id_bound_cidrs", in.SecretIDBoundCIDRs); err != nil {
		return nil, err
	}
	if u.TokenBoundCIDRs, err = stringList("token_bound_cidrs", in.TokenBoundCIDRs); err != nil {
		return nil, err
	}
	return u, nil
}

// approleRoles serves LIST auth/approle/role.
func (s *Server) approleRoles(w http.ResponseWriter, r *http.Request) error {
	if op, err := operation(r); err != nil {
		return err
	} else if op != opList {
		return errUnsupported
	}
	roles, err := s.Service.AppRoles(r.Context())
	if err != nil {
		return err
	}
	if len(roles) == 0 {
		return &Error{Status: http.StatusNotFound}
	}
	keys := make([]string, len(roles))
	for i, role := range roles {
		keys[i] = role.Name
	}
	return respond(w, r, "approle", map[string]any{"keys": keys}, nil)
}

// approleRole serves auth/approle/role/NAME: read, write (create or
// update) and delete.
func (s *Server) approleRole(w http.ResponseWriter, r *http.Request) error {
	ctx, name := r.Context(), r.PathValue("name")
	op, err := operation(r)
	if err != nil {
		return err
	}
	switch op {
	case opRead:
		role, err := s.Service.AppRole(ctx, name)
		if err != nil {
			return err
		}
		return respond(w, r, "approle", roleData(role), nil)
	case opDelete:
		if err := s.Service.DeleteAppRole(ctx, name); err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
			return err
		}
		return noContent(w)
	case opWrite:
		var in approleRoleInput
		if err := decode(w, r, &in); err != nil {
			return err
		}
		u, err := in.update()
		if err != nil {
			return err
		}
		_, err = s.Service.AppRole(ctx, name)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND {
			c := &coffer.AppRoleCreate{Name: name, Scopes: u.Scopes, SecretIDBoundCIDRs: u.SecretIDBoundCIDRs, TokenBoundCIDRs: u.TokenBoundCIDRs}
			if u.TokenTTL != nil {
				c.TokenTTL = *u.TokenTTL
			}
			if u.SecretIDTTL != nil {
				c.SecretIDTTL = *u.SecretIDTTL
			}
			if u.SecretIDNumUses != nil {
				c.SecretIDNumUses = *u.SecretIDNumUses
			}
			_, err = s.Service.CreateAppRole(ctx, c)
		} else if err == nil {
			_, err = s.Service.UpdateAppRole(ctx, name, u)
		}
		if err != nil {
			return err
		}
		return noContent(w)
	}
	return errUnsupported
}

// roleData is a role as Vault reads it.
func roleData(role *coffer.AppRole) map[string]any {
	pol := make([]string, 0, len(role.Scopes))
	for i := range role.Scopes {
		pol = append(pol, role.Scopes[i].String())
	}
	cidrs := func(c []string) []string {
		if c == nil {
			return []string{}
		}
		return c
	}
	return map[string]any{
		"bind_secret_id": true, "local_secret_ids": false, "policies": pol, "token_policies": pol,
		"token_ttl": int64(role.TokenTTL / time.Second), "token_max_ttl": int64(role.TokenTTL / time.Second),
		"token_explicit_max_ttl": 0, "token_num_uses": 0, "token_period": 0, "token_type": "service",
		"token_no_default_policy": true, "token_bound_cidrs": cidrs(role.TokenBoundCIDRs),
		"secret_id_ttl": int64(role.SecretIDTTL / time.Second), "secret_id_num_uses": role.SecretIDNumUses,
		"secret_id_bound_cidrs": cidrs(role.SecretIDBoundCIDRs),
	}
}

// approleRoleID serves GET auth/approle/role/NAME/role-id.
func (s *Server) approleRoleID(w http.ResponseWriter, r *http.Request) error {
	if op, err := operation(r); err != nil {
		return err
	} else if op != opRead {
		return badRequest("the role_id of a coffer role is chosen by coffer and cannot be set")
	}
	role, err := s.Service.AppRole(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return respond(w, r, "approle", map[string]any{"role_id": role.RoleID}, nil)
}

// approleSecretInput is the body of POST auth/approle/role/NAME/secret-id.
type approleSecretInput struct {
	Metadata json.RawMessage `json:"metadata"`
	CIDRList json.RawMessage `json:"cidr_list"`
}

// approleSecretID serves auth/approle/role/NAME/secret-id: POST makes a
// secret id, LIST lists the accessors.
func (s *Server) approleSecretID(w http.ResponseWriter, r *http.Request) error {
	ctx, name := r.Context(), r.PathValue("name")
	op, err := operation(r)
	if err != nil {
		return err
	}
	switch op {
	case opList:
		secs, err := s.Service.AppRoleSecrets(ctx, name)
		if err != nil {
			return err
		}
		if len(secs) == 0 {
			return &Error{Status: http.StatusNotFound}
		}
		keys := make([]string, len(secs))
		for i, sec := range secs {
			keys[i] = sec.Accessor
		}
		return respond(w, r, "approle", map[string]any{"keys": keys}, nil)
	case opWrite:
		var in approleSecretInput
		if err := decode(w, r, &in); err != nil {
			return err
		}
		cidrs, err := stringList("cidr_list", in.CIDRList)
		if err != nil {
			return err
		}
		md := map[string]string{}
		if given(in.Metadata) {
			// Vault takes metadata as a JSON object encoded in a string.
			var text string
			if json.Unmarshal(in.Metadata, &text) == nil {
				if err := json.Unmarshal([]byte(text), &md); err != nil {
					return badRequest("failed to parse metadata: must be a JSON object of strings")
				}
			} else if err := json.Unmarshal(in.Metadata, &md); err != nil {
				return badRequest("failed to parse metadata: must be a JSON object of strings")
			}
		}
		sec, secretID, err := s.Service.CreateAppRoleSecret(ctx, name, &coffer.AppRoleSecretCreate{Metadata: md, CIDRs: cidrs})
		if err != nil {
			return err
		}
		ttl := 0
		if sec.ExpiresAt != nil {
			ttl = int(sec.ExpiresAt.Sub(sec.CreatedAt) / time.Second)
		}
		return respond(w, r, "approle", map[string]any{"secret_id": secretID, "secret_id_accessor": sec.Accessor,
			"secret_id_ttl": ttl, "secret_id_num_uses": sec.NumUses}, nil)
	}
	return errUnsupported
}

// approleDestroyAccessor serves POST
// auth/approle/role/NAME/secret-id-accessor/destroy.
func (s *Server) approleDestroyAccessor(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return errUnsupported
	}
	var in struct {
		Accessor string `json:"secret_id_accessor"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Accessor == "" {
		return badRequest("missing secret_id_accessor")
	}
	if err := s.Service.DestroyAppRoleSecret(r.Context(), r.PathValue("name"), in.Accessor); err != nil {
		return err
	}
	return noContent(w)
}
