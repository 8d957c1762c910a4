package api

import (
	"net/http"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// The native JWT/OIDC and Kubernetes login API (docs/identity.md): trust
// configurations under /v1/jwt/configs and their roles, managed by admin
// keys, and POST /v1/jwt/login, which needs no key. Durations on the wire
// are whole seconds.

// jwtConfigUpdate reads the settings of a config request.
func jwtConfigUpdate(in *coffer.JWTConfigRequest) (*coffer.JWTConfigUpdate, error) {
	u := &coffer.JWTConfigUpdate{Issuer: in.Issuer, Keys: in.Keys, JWKSURL: in.JWKSURL, Discovery: in.Discovery, SingleUse: in.SingleUse}
	var err error
	if u.MaxAge, err = seconds("max_age", in.MaxAge); err != nil {
		return nil, err
	}
	if u.Leeway, err = seconds("leeway", in.Leeway); err != nil {
		return nil, err
	}
	return u, nil
}

func writeJWTConfig(w http.ResponseWriter, status int, c *coffer.JWTConfig) error {
	return web.WriteJSON(w, status, struct {
		Config *coffer.JWTConfigJSON `json:"config"`
	}{coffer.JWTConfigJSONOf(c)})
}

func writeJWTRole(w http.ResponseWriter, status int, r *coffer.JWTRole) error {
	return web.WriteJSON(w, status, struct {
		Role *coffer.JWTRoleJSON `json:"role"`
	}{coffer.JWTRoleJSONOf(r)})
}

func (s *Server) createJWTConfig(w http.ResponseWriter, r *http.Request) error {
	var in coffer.JWTConfigRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	u, err := jwtConfigUpdate(&in)
	if err != nil {
		return err
	}
	c := &coffer.JWTConfig{Name: in.Name}
	if u.Issuer != nil {
		c.Issuer = *u.Issuer
	}
	if u.Keys != nil {
		c.Keys = *u.Keys
	}
	if u.JWKSURL != nil {
		c.JWKSURL = *u.JWKSURL
	}
	if u.Discovery != nil {
		c.Discovery = *u.Discovery
	}
	if u.MaxAge != nil {
		c.MaxAge = *u.MaxAge
	}
	if u.Leeway != nil {
		c.Leeway = *u.Leeway
	}
	if u.SingleUse != nil {
		c.SingleUse = *u.SingleUse
	}
	c, err = s.JWT.CreateJWTConfig(r.Context(), c)
	if err != nil {
		return err
	}
	return writeJWTConfig(w, http.StatusCreated, c)
}

func (s *Server) listJWTConfigs(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.JWT.JWTConfigs(r.Context())
	if err != nil {
		return err
	}
	out := make([]*coffer.JWTConfigJSON, len(cs))
	for i, c := range cs {
		out[i] = coffer.JWTConfigJSONOf(c)
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Configs []*coffer.JWTConfigJSON `json:"configs"`
	}{out})
}

func (s *Server) getJWTConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := s.JWT.JWTConfig(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJWTConfig(w, http.StatusOK, c)
}

func (s *Server) patchJWTConfig(w http.ResponseWriter, r *http.Request) error {
	var in coffer.JWTConfigRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	if in.Name != "" {
		return coffer.Errorf(coffer.EINVALID, "a config's name cannot change")
	}
	u, err := jwtConfigUpdate(&in)
	if err != nil {
		return err
	}
	c, err := s.JWT.UpdateJWTConfig(r.Context(), r.PathValue("name"), u)
	if err != nil {
		return err
	}
	return writeJWTConfig(w, http.StatusOK, c)
}

func (s *Server) deleteJWTConfig(w http.ResponseWriter, r *http.Request) error {
	if err := s.JWT.DeleteJWTConfig(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createJWTRole(w http.ResponseWriter, r *http.Request) error {
	var in coffer.JWTRoleRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	ttl, err := seconds("token_ttl", in.TokenTTL)
	if err != nil {
		return err
	}
	role := &coffer.JWTRole{Name: in.Name, Kind: in.Kind, PrincipalID: in.PrincipalID, Scopes: in.Scopes,
		BoundAudiences: in.BoundAudiences, BoundClaims: in.BoundClaims, BoundServiceAccountNames: in.BoundServiceAccountNames,
		BoundServiceAccountNamespaces: in.BoundServiceAccountNamespaces}
	if in.BoundSubject != nil {
		role.BoundSubject = *in.BoundSubject
	}
	if in.BoundClaimsType != nil {
		role.BoundClaimsType = *in.BoundClaimsType
	}
	if ttl != nil {
		role.TokenTTL = *ttl
	}
	role, err = s.JWT.CreateJWTRole(r.Context(), r.PathValue("name"), role)
	if err != nil {
		return err
	}
	return writeJWTRole(w, http.StatusCreated, role)
}

func (s *Server) listJWTRoles(w http.ResponseWriter, r *http.Request) error {
	roles, err := s.JWT.JWTRoles(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	out := make([]*coffer.JWTRoleJSON, len(roles))
	for i, role := range roles {
		out[i] = coffer.JWTRoleJSONOf(role)
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Roles []*coffer.JWTRoleJSON `json:"roles"`
	}{out})
}

func (s *Server) getJWTRole(w http.ResponseWriter, r *http.Request) error {
	role, err := s.JWT.JWTRole(r.Context(), r.PathValue("name"), r.PathValue("role"))
	if err != nil {
		return err
	}
	return writeJWTRole(w, http.StatusOK, role)
}

func (s *Server) patchJWTRole(w http.ResponseWriter, r *http.Request) error {
	var in coffer.JWTRoleRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	if in.Name != "" || in.Kind != "" || in.PrincipalID != "" {
		return coffer.Errorf(coffer.EINVALID, "a role's name, kind and principal cannot change")
	}
	u := &coffer.JWTRoleUpdate{Scopes: in.Scopes, BoundAudiences: in.BoundAudiences, BoundSubject: in.BoundSubject,
		BoundClaims: in.BoundClaims, BoundClaimsType: in.BoundClaimsType, BoundServiceAccountNames: in.BoundServiceAccountNames,
		BoundServiceAccountNamespaces: in.BoundServiceAccountNamespaces}
	var err error
	if u.TokenTTL, err = seconds("token_ttl", in.TokenTTL); err != nil {
		return err
	}
	role, err := s.JWT.UpdateJWTRole(r.Context(), r.PathValue("name"), r.PathValue("role"), u)
	if err != nil {
		return err
	}
	return writeJWTRole(w, http.StatusOK, role)
}

func (s *Server) deleteJWTRole(w http.ResponseWriter, r *http.Request) error {
	if err := s.JWT.DeleteJWTRole(r.Context(), r.PathValue("name"), r.PathValue("role")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// jwtLogin serves POST /v1/jwt/login: no key, a config (mount), role and
// JWT in, an access token of the role out.
func (s *Server) jwtLogin(w http.ResponseWriter, r *http.Request) error {
	var in coffer.JWTLoginRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	if in.Config == "" || in.Role == "" || in.JWT == "" {
		return coffer.Errorf(coffer.EINVALID, "config, role and jwt are required")
	}
	ip := web.RemoteIP(r)
	ctx := coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: web.RequestID(r.Context()), Face: s.face.Name})
	tok, err := s.JWT.JWTLogin(ctx, in.Config, in.Role, in.JWT, ip)
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusOK, &coffer.JWTLoginResponse{Token: tok.Token, ExpiresAt: tok.ExpiresAt,
		KeyID: tok.Caller.KeyID, Role: tok.Role.Name, Scopes: tok.Caller.Scopes})
}
