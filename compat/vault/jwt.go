package vault

import (
	"math"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// msgBadJWT is the one answer of every refused JWT or Kubernetes login, as
// OpenBao's jwt method words a token it cannot validate. An unknown mount,
// an unknown role and a bad token all get it, so that the answer tells
// nobody which trust configurations or roles exist.
const msgBadJWT = "error validating token"

// jwtLogin is the body of auth/MOUNT/login for the jwt and kubernetes
// methods.
type jwtLogin struct {
	Role string `json:"role"`
	JWT  string `json:"jwt"`
}

// jwtLoginRoute sends auth/{mount}/login to login for every mount but
// token and approle: token/login keeps Vault's answer for a path with no
// handler (noRoute, behind authentication as every unknown auth path), and
// approle/login has its own route (approle.go), so the name never reaches
// a JWT login.
func (s *Server) jwtLoginRoute(login, noRoute http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := r.PathValue("mount"); m == "token" || m == "approle" {
			noRoute.ServeHTTP(w, r)
			return
		}
		login.ServeHTTP(w, r)
	})
}

// jwtLoginHandler serves POST auth/{mount}/login for every mount but token
// and approle: the mount names a JWT trust configuration ("jwt",
// "kubernetes", "github" or any name), the body its role and the token.
// The answer is Vault's auth block with an access token of the role.
func (s *Server) jwtLoginHandler(w http.ResponseWriter, r *http.Request) error {
	mount := r.PathValue("mount")
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return errUnsupported
	}
	var in jwtLogin
	if err := decode(w, r, &in); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(in.Role) == "":
		return badRequest("missing role")
	case strings.TrimSpace(in.JWT) == "":
		return badRequest("missing jwt")
	}
	ip := web.RemoteIP(r)
	ctx := coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: web.RequestID(r.Context()), Face: s.face.Name})
	tok, err := s.Service.JWTLogin(ctx, mount, strings.TrimSpace(in.Role), strings.TrimSpace(in.JWT), ip)
	if coffer.ErrorCode(err) == coffer.EUNAUTHORIZED {
		return &Error{Status: http.StatusBadRequest, Errors: []string{msgBadJWT}}
	} else if err != nil {
		return err
	}
	pol := policiesOf(tok.Caller)
	return respond(w, r, "", nil, authOut{ClientToken: tok.Token, Accessor: tok.Caller.KeyID, Policies: pol, TokenPolicies: pol,
		Metadata: map[string]string{"role": tok.Role.Name}, LeaseDuration: int(math.Ceil(tok.ExpiresAt.Sub(s.Now()).Seconds())),
		TokenType: "service", Orphan: true})
}
