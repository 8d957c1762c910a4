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
	var in coffer.AppRoleRequest
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
		Role *coffer.AppRoleJSON `json:"role"`
	}{coffer.AppRoleJSONOf(role)})
}

func (s *Server) listAppRoles(w http.ResponseWriter, r *http.Request) error {
	roles, err := s.AppRoles.AppRoles(r.Context())
	if err != nil {
		return err
	}
	out := make([]*coffer.AppRoleJSON, len(roles))
	for i, role := range roles {
		out[i] = coffer.AppRoleJSONOf(role)
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Roles []*coffer.AppRoleJSON `json:"roles"`
	}{out})
}

func (s *Server) getAppRole(w http.ResponseWriter, r *http.Request) error {
	role, err := s.AppRoles.AppRole(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Role *coffer.AppRoleJSON `json:"role"`
	}{coffer.AppRoleJSONOf(role)})
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
	var in coffer.AppRoleRequest
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
		Role *coffer.AppRoleJSON `json:"role"`
	}{coffer.AppRoleJSONOf(role)})
}

func (s *Server) deleteAppRole(w http.ResponseWriter, r *http.Request) error {
	if err := s.AppRoles.DeleteAppRole(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createAppRoleSecret(w http.ResponseWriter, r *http.Request) error {
	var in coffer.AppRoleSecretRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	sec, secretID, err := s.AppRoles.CreateAppRoleSecret(r.Context(), r.PathValue("name"),
		&coffer.AppRoleSecretCreate{Metadata: in.Metadata, CIDRs: in.CIDRs})
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusCreated, &coffer.AppRoleSecretCreated{SecretID: secretID, AppRoleSecretJSON: coffer.AppRoleSecretJSONOf(sec)})
}

func (s *Server) listAppRoleSecrets(w http.ResponseWriter, r *http.Request) error {
	secs, err := s.AppRoles.AppRoleSecrets(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	out := make([]*coffer.AppRoleSecretJSON, len(secs))
	for i, sec := range secs {
		out[i] = coffer.AppRoleSecretJSONOf(sec)
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		SecretIDs []*coffer.AppRoleSecretJSON `json:"secret_ids"`
	}{out})
}

func (s *Server) destroyAppRoleSecret(w http.ResponseWriter, r *http.Request) error {
	if err := s.AppRoles.DestroyAppRoleSecret(r.Context(), r.PathValue("name"), r.PathValue("accessor")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appRoleLogin serves POST /v1/approle/login: no key, a role id and secret
// id in, an access token of the role out.
func (s *Server) appRoleLogin(w http.ResponseWriter, r *http.Request) error {
	var in coffer.AppRoleLoginRequest
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
	return web.WriteJSON(w, http.StatusOK, &coffer.AppRoleLoginResponse{Token: tok.Token, ExpiresAt: tok.ExpiresAt,
		KeyID: tok.Caller.KeyID, Role: tok.Role.Name, Scopes: tok.Caller.Scopes})
}
