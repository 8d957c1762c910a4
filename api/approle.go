package api

import (
	"net/http"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// The native AppRole API (docs/identity.md): roles and secret ids under
// /v1/approle/roles, managed by admin keys, and POST /v1/approle/login,
// which needs no key. Durations on the wire are whole seconds.

// appRoleJSON is a role on the wire.
type appRoleJSON struct {
	RoleID             string         `json:"role_id"`
	Name               string         `json:"name"`
	PrincipalID        string         `json:"principal_id"`
	KeyID              string         `json:"key_id"`
	Scopes             []coffer.Scope `json:"scopes"`
	TokenTTL           int64          `json:"token_ttl"`
	SecretIDTTL        int64          `json:"secret_id_ttl"`
	SecretIDNumUses    int            `json:"secret_id_num_uses"`
	SecretIDBoundCIDRs []string       `json:"secret_id_bound_cidrs"`
	TokenBoundCIDRs    []string       `json:"token_bound_cidrs"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

func appRoleOut(r *coffer.AppRole) *appRoleJSON {
	return &appRoleJSON{RoleID: r.RoleID, Name: r.Name, PrincipalID: r.PrincipalID, KeyID: r.KeyID, Scopes: r.Scopes,
		TokenTTL: int64(r.TokenTTL / time.Second), SecretIDTTL: int64(r.SecretIDTTL / time.Second),
		SecretIDNumUses: r.SecretIDNumUses, SecretIDBoundCIDRs: nonNil(r.SecretIDBoundCIDRs),
		TokenBoundCIDRs: nonNil(r.TokenBoundCIDRs), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// appRoleSecretJSON is a secret id on the wire, without its secret.
type appRoleSecretJSON struct {
	Accessor  string            `json:"accessor"`
	CreatedAt time.Time         `json:"created_at"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	NumUses   int               `json:"num_uses"`
	UsesLeft  int               `json:"uses_left"`
	CIDRs     []string          `json:"cidr_list"`
	Metadata  map[string]string `json:"metadata"`
}

func appRoleSecretOut(s *coffer.AppRoleSecret) *appRoleSecretJSON {
	md := s.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return &appRoleSecretJSON{Accessor: s.Accessor, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, NumUses: s.NumUses,
		UsesLeft: s.UsesLeft, CIDRs: nonNil(s.BoundCIDRs), Metadata: md}
}

type appRoleRequest struct {
	Name               string         `json:"name"`
	PrincipalID        string         `json:"principal_id"`
	Scopes             []coffer.Scope `json:"scopes"`
	TokenTTL           *int64         `json:"token_ttl"`
	SecretIDTTL        *int64         `json:"secret_id_ttl"`
	SecretIDNumUses    *int           `json:"secret_id_num_uses"`
	SecretIDBoundCIDRs []string       `json:"secret_id_bound_cidrs"`
	TokenBoundCIDRs    []string       `json:"token_bound_cidrs"`
}

// seconds converts a duration in seconds from the wire (EINVALID when
// negative or absurd).
func seconds(field string, n *int64) (*time.Duration, error) {
	if n == nil {
		return nil, nil
	}
	if *n < 0 || *n > 10*365*24*3600 {
		return nil, coffer.Errorf(coffer.EINVALID, "%s must be a number of seconds between 0 and ten years", field)
	}
	d := time.Duration(*n) * time.Second
	return &d, nil
}

func (s *Server) createAppRole(w http.ResponseWriter, r *http.Request) error {
	var in appRoleRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	ttl, err := seconds("token_ttl", in.TokenTTL)
	if err != nil {
		return err
	}
	sttl, err := seconds("secret_id_ttl", in.SecretIDTTL)
	if err != nil {
		return err
	}
	c := &coffer.AppRoleCreate{Name: in.Name, PrincipalID: in.PrincipalID, Scopes: in.Scopes,
		SecretIDBoundCIDRs: in.SecretIDBoundCIDRs, TokenBoundCIDRs: in.TokenBoundCIDRs}
	if ttl != nil {
		c.TokenTTL = *ttl
	}
	if sttl != nil {
		c.SecretIDTTL = *sttl
	}
	if in.SecretIDNumUses != nil {
		c.SecretIDNumUses = *in.SecretIDNumUses
	}
	role, err := s.AppRoles.CreateAppRole(r.Context(), c)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, struct {
		Role *appRoleJSON `json:"role"`
	}{appRoleOut(role)})
}

func (s *Server) listAppRoles(w http.ResponseWriter, r *http.Request) error {
	roles, err := s.AppRoles.AppRoles(r.Context())
	if err != nil {
		return err
	}
	out := make([]*appRoleJSON, len(roles))
	for i, role := range roles {
		out[i] = appRoleOut(role)
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Roles []*appRoleJSON `json:"roles"`
	}{out})
}

func (s *Server) getAppRole(w http.ResponseWriter, r *http.Request) error {
	role, err := s.AppRoles.AppRole(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Role *appRoleJSON `json:"role"`
	}{appRoleOut(role)})
}

func (s *Server) getAppRoleID(w http.ResponseWriter, r *http.Request) error {
	role, err := s.AppRoles.AppRole(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		RoleID string `json:"role_id"`
	}{role.RoleID})
}

func (s *Server) patchAppRole(w http.ResponseWriter, r *http.Request) error {
	var in appRoleRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	if in.Name != "" || in.PrincipalID != "" {
		return coffer.Errorf(coffer.EINVALID, "a role's name and principal cannot change")
	}
	u := &coffer.AppRoleUpdate{Scopes: in.Scopes, SecretIDNumUses: in.SecretIDNumUses,
		SecretIDBoundCIDRs: in.SecretIDBoundCIDRs, TokenBoundCIDRs: in.TokenBoundCIDRs}
	var err error
	if u.TokenTTL, err = seconds("token_ttl", in.TokenTTL); err != nil {
		return err
	}
	if u.SecretIDTTL, err = seconds("secret_id_ttl", in.SecretIDTTL); err != nil {
		return err
	}
	role, err := s.AppRoles.UpdateAppRole(r.Context(), r.PathValue("name"), u)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Role *appRoleJSON `json:"role"`
	}{appRoleOut(role)})
}

func (s *Server) deleteAppRole(w http.ResponseWriter, r *http.Request) error {
	if err := s.AppRoles.DeleteAppRole(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type appRoleSecretRequest struct {
	Metadata map[string]string `json:"metadata"`
	CIDRs    []string          `json:"cidr_list"`
}

func (s *Server) createAppRoleSecret(w http.ResponseWriter, r *http.Request) error {
	var in appRoleSecretRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	sec, secretID, err := s.AppRoles.CreateAppRoleSecret(r.Context(), r.PathValue("name"),
		&coffer.AppRoleSecretCreate{Metadata: in.Metadata, CIDRs: in.CIDRs})
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusCreated, struct {
		SecretID string `json:"secret_id"`
		*appRoleSecretJSON
	}{secretID, appRoleSecretOut(sec)})
}

func (s *Server) listAppRoleSecrets(w http.ResponseWriter, r *http.Request) error {
	secs, err := s.AppRoles.AppRoleSecrets(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	out := make([]*appRoleSecretJSON, len(secs))
	for i, sec := range secs {
		out[i] = appRoleSecretOut(sec)
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		SecretIDs []*appRoleSecretJSON `json:"secret_ids"`
	}{out})
}

func (s *Server) destroyAppRoleSecret(w http.ResponseWriter, r *http.Request) error {
	if err := s.AppRoles.DestroyAppRoleSecret(r.Context(), r.PathValue("name"), r.PathValue("accessor")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type appRoleLoginRequest struct {
	RoleID   string `json:"role_id"`
	SecretID string `json:"secret_id"`
}

// appRoleLogin serves POST /v1/approle/login: no key, a role id and secret
// id in, an access token of the role out.
func (s *Server) appRoleLogin(w http.ResponseWriter, r *http.Request) error {
	var in appRoleLoginRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	if in.RoleID == "" || in.SecretID == "" {
		return coffer.Errorf(coffer.EINVALID, "role_id and secret_id are required")
	}
	ip := web.RemoteIP(r)
	ctx := coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: web.RequestID(r.Context()), Face: s.face.Name})
	tok, err := s.AppRoles.AppRoleLogin(ctx, in.RoleID, in.SecretID, ip)
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusOK, struct {
		Token     string         `json:"token"`
		ExpiresAt time.Time      `json:"expires_at"`
		KeyID     string         `json:"key_id"`
		Role      string         `json:"role"`
		Scopes    []coffer.Scope `json:"scopes"`
	}{tok.Token, tok.ExpiresAt, tok.Caller.KeyID, tok.Role.Name, tok.Caller.Scopes})
}
