// Package chutes serves the Chutes API's secrets, API keys and registry
// auth (api.chutes.ai/secrets/, /api_keys/, /registry/auth) over coffer's
// model, wire-compatibly, so that Chutes' clients (the chutes CLI, scripts
// and the registry proxy's nginx) work against coffer by changing only
// their base URL: to http://HOST/chutes, or, for the chutes CLI, which
// cannot send a path prefix, to http://HOST (see Server.Root).
//
// A Chutes user is a coffer principal; its secrets live in one store of the
// principal's account named "chutes", made on first use. A secret (purpose,
// key, value) is the coffer secret named "<purpose>/<key>" whose id is
// Chutes' deterministic uuid5, and an API key is a coffer API key in
// Chutes' cpk_ format: what this face writes, every face reads. Values are
// accepted and never returned, as at Chutes. Requests authenticate with an
// API key (the last word of Authorization) or a hotkey signature
// (X-Chutes-Hotkey, X-Chutes-Nonce, X-Chutes-Signature). Errors are
// FastAPI's {"detail": "..."}, and its 422 list for invalid input.
package chutes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Prefix is where the face is mounted: the equivalent of
// https://api.chutes.ai/.
const Prefix = "/chutes/"

// Face is the face's name on callers and audit events.
const Face = "chutes"

// StoreName is the store of each account that holds its Chutes secrets.
const StoreName = "chutes"

// maxBody bounds a request body: a secret's value is at most 64 KiB, which
// JSON escaping can grow sixfold.
const maxBody = 512 << 10

// Service is what the face needs of coffer's secret service: secrets, and
// the audit of the face's own refusals. *service.Service implements it.
type Service interface {
	coffer.SecretService
	coffer.AccessChecker
	coffer.SecretPurger
	coffer.OwnKeyService
}

// Server is the Chutes face.
type Server struct {
	Secrets Service
	Keys    coffer.KeyService
	Auth    coffer.Authenticator
	// Hotkeys verifies hotkey-signed requests. When nil, every signed
	// request is refused (401) and audited as a failed authentication.
	Hotkeys coffer.HotkeyAuthenticator
	Log     *slog.Logger
	// RegistryPassword is the password of the image registry behind the
	// registry proxy: GET /registry/auth hands it to nginx as
	// "Authorization: Basic base64(':' + password)". Empty, no header is
	// sent (a registry without auth).
	RegistryPassword string
	// Root serves the routes at the server's root too (RootPaths), where
	// the chutes CLI sends them: it joins its leading-slash paths
	// ("/secrets/") to its base URL as RFC 3986 does, which drops the
	// base URL's path, so it cannot reach Prefix.
	Root bool

	face *web.Face
}

// RootPaths are the patterns (http.ServeMux's, without method) of the
// face's routes at the server's root, to mount when Server.Root is set:
// each of Chutes' paths with and without its trailing slash, and below
// /secrets/ and /api_keys/ everything, as under Prefix.
var RootPaths = []string{"/ping", "/ping/{$}", "/secrets", "/secrets/", "/api_keys", "/api_keys/", "/registry/auth", "/registry/auth/{$}"}

// Handler returns the face's routes. Mount it at Prefix and, when Root is
// set, at each of RootPaths.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.face = &web.Face{Name: Face, Auth: s.Auth, Log: s.Log, Token: lastWord, Errors: RenderError}
	mux := http.NewServeMux()
	s.routes(mux)
	return mux
}

// Signing purposes: what a hotkey signature covers on each route. Routes
// without one (the creates) are signed over the SHA-256 of their body.
const (
	purposeSecrets  = "secrets"
	purposeAPIKeys  = "api_keys"
	purposeRegistry = "registry"
	purposeBody     = ""
)

// routes is the one table of the face's routes. Each path is served with
// and without a trailing slash: Chutes declares collections as "/secrets/"
// and items as "/secrets/{id}", and FastAPI redirects the other form. With
// Root, each is served at the server's root too, alike.
func (s *Server) routes(mux *http.ServeMux) {
	bases := []string{Prefix}
	if s.Root {
		bases = append(bases, "/")
	}
	allowed := map[string][]string{}
	handle := func(method, path string, h http.Handler) {
		for _, b := range bases {
			for _, p := range []string{b + path, b + path + "/{$}"} {
				mux.Handle(method+" "+p, h)
				allowed[p] = append(allowed[p], method)
			}
		}
	}
	authed := func(purpose string, fn web.HandlerFunc) http.Handler {
		return s.face.Public(s.authed(purpose, fn))
	}

	handle("GET", "ping", s.face.Public(ping))

	handle("GET", "secrets", authed(purposeSecrets, s.listSecrets))
	handle("POST", "secrets", authed(purposeBody, s.createSecret))
	handle("GET", "secrets/{secret_id}", authed(purposeSecrets, s.getSecret))
	handle("DELETE", "secrets/{secret_id}", authed(purposeSecrets, s.deleteSecret))

	handle("GET", "api_keys", authed(purposeAPIKeys, s.listKeys))
	handle("POST", "api_keys", authed(purposeBody, s.createKey))
	handle("GET", "api_keys/{api_key_id}", authed(purposeAPIKeys, s.getKey))
	handle("DELETE", "api_keys/{api_key_id}", authed(purposeAPIKeys, s.deleteKey))

	handle("GET", "registry/auth", authed(purposeRegistry, s.registryAuth))

	// A known path with another method is 405, as FastAPI answers.
	for p, methods := range allowed {
		sort.Strings(methods)
		allow := strings.Join(methods, ", ")
		mux.Handle(p, s.face.Public(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allow)
			return &Error{Status: http.StatusMethodNotAllowed, Detail: "Method Not Allowed"}
		}))
	}
	mux.Handle(Prefix, s.face.Public(noRoute))
	if s.Root {
		mux.Handle("/secrets/", s.face.Public(noRoute))
		mux.Handle("/api_keys/", s.face.Public(noRoute))
	}
}

// ping answers GET /ping.
func ping(w http.ResponseWriter, r *http.Request) error {
	return web.WriteJSON(w, http.StatusOK, struct {
		Message string `json:"message"`
	}{"pong"})
}

// noRoute answers a path the API does not have, as FastAPI does.
func noRoute(w http.ResponseWriter, r *http.Request) error {
	return &Error{Status: http.StatusNotFound, Detail: "Not Found"}
}

// The 401 details of Chutes' authentication.
const (
	detailNoCredential = "Can't find a user with that api key in our db :("
	detailBadToken     = "Invalid token or user not found"
)

// authed authenticates a request before fn runs, and puts the caller in its
// context. A request that carries both X-Chutes-Hotkey and
// X-Chutes-Signature is a hotkey request: the signed message is
// "{hotkey}:{nonce}:{purpose}", or for routes without a purpose the
// lower-case hex SHA-256 of the raw body, hashed before any parsing (the
// handler then decodes those same bytes). Any other request authenticates
// with the last space-separated word of Authorization, so that a bare
// token, "Basic <token>" and "Bearer <token>" all work. Every failure is
// audited by the authenticator.
func (s *Server) authed(purpose string, fn web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body []byte
		if r.Method == http.MethodPost {
			var err error
			if body, err = web.ReadBody(w, r, maxBody); err != nil {
				return err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		c, err := s.authenticate(r, purpose, body)
		if err != nil {
			return err
		}
		return fn(w, r.WithContext(coffer.NewContext(r.Context(), c)))
	}
}

func (s *Server) authenticate(r *http.Request, purpose string, body []byte) (*coffer.Caller, error) {
	ip, id := web.RemoteIP(r), web.RequestID(r.Context())
	// The context carries what the audit of a failed attempt records.
	actx := coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: id, Face: Face})
	var c *coffer.Caller
	var err error
	if hotkey, sig := r.Header.Get("X-Chutes-Hotkey"), r.Header.Get("X-Chutes-Signature"); hotkey != "" && sig != "" {
		c, err = s.hotkey(actx, r, hotkey, sig, purpose, body, ip)
	} else {
		h := r.Header.Get("Authorization")
		c, err = s.Auth.Authenticate(actx, coffer.Credential{Token: lastWord(r), RemoteIP: ip})
		if coffer.ErrorCode(err) == coffer.EUNAUTHORIZED {
			if strings.TrimSpace(h) == "" {
				return nil, unauthorized(detailNoCredential)
			}
			return nil, unauthorized(detailBadToken)
		}
	}
	if err != nil {
		return nil, err
	}
	c.RemoteAddr, c.RequestID, c.Face = ip, id, Face
	return c, nil
}

// hotkey authenticates a hotkey-signed request.
func (s *Server) hotkey(ctx context.Context, r *http.Request, hotkey, sig, purpose string, body []byte, ip string) (*coffer.Caller, error) {
	covered := purpose
	if covered == purposeBody {
		sum := sha256.Sum256(body)
		covered = hex.EncodeToString(sum[:])
	}
	nonce := r.Header.Get("X-Chutes-Nonce")
	if s.Hotkeys == nil {
		// No hotkey is registered anywhere: refuse as for an unknown
		// hotkey, recorded (and rate limited) as a failed authentication.
		if _, err := s.Auth.Authenticate(ctx, coffer.Credential{RemoteIP: ip}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			return nil, err
		}
		return nil, unauthorized("Could not find user with hotkey: " + hotkey)
	}
	p := coffer.HotkeyProof{
		Hotkey: hotkey, Nonce: nonce, Signature: sig, RemoteIP: ip,
		Message: []byte(hotkey + ":" + nonce + ":" + covered),
	}
	c, err := s.Hotkeys.AuthenticateHotkey(ctx, p)
	if coffer.ErrorCode(err) == coffer.EUNAUTHORIZED {
		return nil, unauthorized(hotkeyDetail(err, p))
	}
	return c, err
}

// lastWord returns the credential of a request: the last space-separated
// word of its Authorization header, as Chutes reads it.
func lastWord(r *http.Request) string {
	h := r.Header.Get("Authorization")
	return h[strings.LastIndexByte(h, ' ')+1:]
}

// Error is a failure in Chutes' terms: an HTTP status and FastAPI's detail,
// a string or, for invalid input (422), the list of problems. Neither ever
// holds a secret value or a token.
type Error struct {
	Status  int
	Detail  string
	Invalid []Invalid
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Invalid != nil {
		return "chutes error: status=" + strconv.Itoa(e.Status) + " invalid=" + strconv.Itoa(len(e.Invalid))
	}
	return "chutes error: status=" + strconv.Itoa(e.Status) + " detail=" + e.Detail
}

// Invalid is one item of FastAPI's 422 detail: pydantic's error type, where
// (loc: "body" or "query", then field names and list indexes), a message,
// and the offending input and context where they hold no secret.
type Invalid struct {
	Type  string          `json:"type"`
	Loc   []any           `json:"loc"`
	Msg   string          `json:"msg"`
	Input json.RawMessage `json:"input,omitempty"`
	Ctx   map[string]any  `json:"ctx,omitempty"`
}

// Render writes the error as FastAPI's {"detail": ...}.
func (e *Error) Render(w http.ResponseWriter, r *http.Request) {
	if e.Invalid != nil {
		_ = web.WriteJSON(w, e.Status, struct {
			Detail []Invalid `json:"detail"`
		}{e.Invalid})
		return
	}
	_ = web.WriteJSON(w, e.Status, struct {
		Detail string `json:"detail"`
	}{e.Detail})
}

func unauthorized(detail string) *Error {
	return &Error{Status: http.StatusUnauthorized, Detail: detail}
}

func badRequest(detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Detail: "Invalid request: " + detail}
}

func notFound(detail string) *Error {
	return &Error{Status: http.StatusNotFound, Detail: detail}
}

// RenderError returns the face's error for a coffer error code and public
// message (from authentication, the service, or the server's overload
// shedding, which answers before any face sees the request). It is the
// face's one table from coffer codes to statuses. A key whose scopes do not
// allow the request gets 401, as Chutes answers a scope denial.
func RenderError(code, message string) web.Renderer {
	var e *Error
	switch code {
	case coffer.EINVALID:
		e = &Error{Status: http.StatusBadRequest, Detail: message}
	case coffer.EUNAUTHORIZED, coffer.EFORBIDDEN:
		e = unauthorized(detailBadToken)
	case coffer.ENOTFOUND:
		e = notFound(message)
	case coffer.ECONFLICT, coffer.EPRECONDITION:
		e = &Error{Status: http.StatusConflict, Detail: message}
	case coffer.ETOOLARGE:
		e = &Error{Status: http.StatusRequestEntityTooLarge, Detail: message}
	case coffer.ERATELIMIT:
		e = &Error{Status: http.StatusTooManyRequests, Detail: message}
	case coffer.EUNAVAILABLE:
		e = &Error{Status: http.StatusServiceUnavailable, Detail: message}
	default:
		e = &Error{Status: http.StatusInternalServerError, Detail: "internal error"}
	}
	return e
}
