// Package api serves coffer's native HTTP API under /v1/, the operational
// endpoints (/healthz, /readyz, /metrics), and mounts the provider faces.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxBodySize bounds every request body: a 64 KiB value, base64-encoded and
// JSON-escaped, with metadata, fits well inside it.
const MaxBodySize = 256 << 10

// Server is the HTTP face of coffer.
type Server struct {
	Secrets  coffer.SecretService
	Keys     coffer.KeyService
	Audit    coffer.AuditService
	Accounts coffer.AccountService
	Hotkeys  coffer.HotkeyService
	// JWT serves /v1/jwt/; nil leaves its routes answering 404.
	JWT coffer.JWTService
	// AppRoles serves /v1/approle/; nil leaves its routes answering 404.
	AppRoles coffer.AppRoleService
	// Rotation rotates the master key and store data keys; nil leaves
	// its routes answering 404.
	Rotation coffer.KeyRotationService
	Auth     coffer.Authenticator
	// Ready reports whether the server can serve: the database answers.
	Ready    func(ctx context.Context) error
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Faces are the provider APIs served next to the native one.
	Faces []Mount
	// Admission, when set, bounds the requests served at once; a request
	// it refuses gets 503 with Retry-After in its face's error format.
	// The operational endpoints are never refused.
	Admission *web.Admission
	// Console, when set, serves the web console at /ui/ and lets the
	// native API authenticate its sessions.
	Console *Console

	face    *web.Face
	console *web.Face // the native API as the console's sessions use it
}

// Mount is a provider face and where it is served: Handler gets every
// request whose path starts with Prefix (which ends in '/'), with the path
// unchanged. A face that routes with its own http.ServeMux sets the
// request's Pattern, so metrics are labelled by the face's routes.
type Mount struct {
	Name   string // the face's name, a metric label
	Prefix string
	// Paths are further patterns at the server's root (http.ServeMux's,
	// without method: "/ping" exactly, "/secrets/" and below,
	// "/ping/{$}" exactly) that Handler serves, with the path unchanged:
	// for a face whose clients cannot send a path prefix.
	Paths   []string
	Handler http.Handler
	// Render returns the face's error, which renders itself in the face's
	// format, for a coffer error code and public message: it answers the
	// requests of the face that the server refuses before routing (overload
	// shedding, ambiguous framing).
	Render func(code, message string) web.Renderer
}

// Handler returns the server's routes wrapped in the request middleware.
func (s *Server) Handler() http.Handler {
	s.face = &web.Face{Name: "native", Auth: s.Auth, Log: s.Log, Token: web.BearerToken, Errors: nativeError}
	s.console = &web.Face{Name: consoleFace, Auth: s.Auth, Log: s.Log, Token: sessionToken, Errors: nativeError}
	mux := http.NewServeMux()
	s.routes(mux)
	var h http.Handler = mux
	if s.Admission != nil {
		h = s.admit(mux)
	}
	return web.Middleware(s.framing(h), web.NewMetrics(s.Registry), s.Log)
}

// framing refuses a request whose length is ambiguous (both Content-Length
// and Transfer-Encoding, see web.AmbiguousFraming) with 400 in the error
// format of the face its path belongs to, and closes the connection after
// the answer, as RFC 9112 section 6.3 allows: what follows on it may be
// read differently by a proxy in front.
func (s *Server) framing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !web.AmbiguousFraming(r) {
			next.ServeHTTP(w, r)
			return
		}
		const code, msg = coffer.EINVALID, "a request may not carry both Content-Length and Transfer-Encoding (nor Transfer-Encoding in HTTP/1.0)"
		r.Pattern = "(framing)" // the metrics' route label
		w.Header().Set("Connection", "close")
		for _, f := range s.Faces {
			if f.serves(r.URL.Path) && f.Render != nil {
				f.Render(code, msg).Render(w, r)
				return
			}
		}
		nativeError(code, msg).Render(w, r)
	})
}

// admit serves a request only once s.Admission lets it in, and refuses it
// otherwise with 503 and Retry-After: 1, in the error format of the face
// its path belongs to. It runs before routing, so that a refusal costs as
// little as possible. /healthz, /readyz and /metrics always pass: an
// overloaded server is alive, and its operator needs to watch it.
func (s *Server) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		release, ok := s.Admission.Acquire(r.Context())
		if !ok {
			const code, msg = coffer.EUNAVAILABLE, "the server is overloaded; retry in a second"
			r.Pattern = "(shed)" // the metrics' route label
			w.Header().Set("Retry-After", "1")
			for _, f := range s.Faces {
				if f.serves(r.URL.Path) && f.Render != nil {
					s.Admission.Shed(f.Name)
					f.Render(code, msg).Render(w, r)
					return
				}
			}
			s.Admission.Shed("native")
			nativeError(code, msg).Render(w, r)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// routes is the one table of the native API's routes.
func (s *Server) routes(mux *http.ServeMux) {
	pub := s.face.Public
	auth := func(h web.HandlerFunc) http.Handler {
		return s.withSession(s.face.Authed(strictQuery(h)), s.console.Authed(strictQuery(h)))
	}
	mux.Handle("GET /healthz", pub(s.healthz))
	mux.Handle("GET /readyz", pub(s.readyz))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))

	mux.Handle("POST /v1/stores", auth(s.createStore))
	mux.Handle("GET /v1/stores", auth(s.listStores))
	mux.Handle("GET /v1/stores/{store}", auth(s.getStore))
	mux.Handle("PATCH /v1/stores/{store}", auth(s.patchStore))
	mux.Handle("DELETE /v1/stores/{store}", auth(s.deleteStore))
	mux.Handle("POST /v1/stores/{store}/rotate-key", auth(s.rotateStoreKey))
	mux.Handle("GET /v1/secrets/{id}", auth(s.getSecretByID))

	mux.Handle("GET /v1/stores/{store}/secrets", auth(s.listSecrets))
	mux.Handle("PUT /v1/stores/{store}/secrets/{secret}", auth(s.putSecret))
	mux.Handle("GET /v1/stores/{store}/secrets/{secret}", auth(s.getSecret))
	mux.Handle("PATCH /v1/stores/{store}/secrets/{secret}", auth(s.patchSecret))
	mux.Handle("DELETE /v1/stores/{store}/secrets/{secret}", auth(s.deleteSecret))
	mux.Handle("POST /v1/stores/{store}/secrets/{secret}/undelete", auth(s.undeleteSecret))
	mux.Handle("GET /v1/stores/{store}/secrets/{secret}/value", auth(s.getValue))
	mux.Handle("GET /v1/stores/{store}/secrets/{secret}/versions", auth(s.listVersions))
	mux.Handle("POST /v1/stores/{store}/secrets/{secret}/rollback", auth(s.rollback))
	mux.Handle("DELETE /v1/stores/{store}/secrets/{secret}/versions/{version}", auth(s.destroyVersion))
	mux.Handle("POST /v1/stores/{store}/secrets/{secret}/versions/delete", auth(s.markVersions(true)))
	mux.Handle("POST /v1/stores/{store}/secrets/{secret}/versions/undelete", auth(s.markVersions(false)))
	mux.Handle("POST /v1/stores/{store}/values", auth(s.batchValues))

	mux.Handle("POST /v1/keys", auth(s.createKey))
	mux.Handle("GET /v1/keys", auth(s.listKeys))
	mux.Handle("DELETE /v1/keys/{id}", auth(s.revokeKey))

	mux.Handle("POST /v1/accounts", auth(s.createAccount))
	mux.Handle("GET /v1/accounts", auth(s.listAccounts))
	mux.Handle("POST /v1/principals", auth(s.createPrincipal))
	mux.Handle("GET /v1/principals", auth(s.listPrincipals))
	mux.Handle("POST /v1/principals/{id}/hotkeys", auth(s.addHotkey))
	mux.Handle("POST /v1/hotkeys", auth(s.addHotkey))
	mux.Handle("GET /v1/hotkeys", auth(s.listHotkeys))
	mux.Handle("DELETE /v1/hotkeys/{ss58}", auth(s.removeHotkey))

	if s.JWT != nil {
		mux.Handle("POST /v1/jwt/configs", auth(s.createJWTConfig))
		mux.Handle("GET /v1/jwt/configs", auth(s.listJWTConfigs))
		mux.Handle("GET /v1/jwt/configs/{name}", auth(s.getJWTConfig))
		mux.Handle("PATCH /v1/jwt/configs/{name}", auth(s.patchJWTConfig))
		mux.Handle("DELETE /v1/jwt/configs/{name}", auth(s.deleteJWTConfig))
		mux.Handle("POST /v1/jwt/configs/{name}/roles", auth(s.createJWTRole))
		mux.Handle("GET /v1/jwt/configs/{name}/roles", auth(s.listJWTRoles))
		mux.Handle("GET /v1/jwt/configs/{name}/roles/{role}", auth(s.getJWTRole))
		mux.Handle("PATCH /v1/jwt/configs/{name}/roles/{role}", auth(s.patchJWTRole))
		mux.Handle("DELETE /v1/jwt/configs/{name}/roles/{role}", auth(s.deleteJWTRole))
		mux.Handle("POST /v1/jwt/login", pub(strictQuery(s.jwtLogin)))
	}

	if s.AppRoles != nil {
		mux.Handle("POST /v1/approle/roles", auth(s.createAppRole))
		mux.Handle("GET /v1/approle/roles", auth(s.listAppRoles))
		mux.Handle("GET /v1/approle/roles/{name}", auth(s.getAppRole))
		mux.Handle("PATCH /v1/approle/roles/{name}", auth(s.patchAppRole))
		mux.Handle("DELETE /v1/approle/roles/{name}", auth(s.deleteAppRole))
		mux.Handle("GET /v1/approle/roles/{name}/role-id", auth(s.getAppRoleID))
		mux.Handle("POST /v1/approle/roles/{name}/secret-ids", auth(s.createAppRoleSecret))
		mux.Handle("GET /v1/approle/roles/{name}/secret-ids", auth(s.listAppRoleSecrets))
		mux.Handle("DELETE /v1/approle/roles/{name}/secret-ids/{accessor}", auth(s.destroyAppRoleSecret))
		mux.Handle("POST /v1/approle/login", pub(strictQuery(s.appRoleLogin)))
	}

	mux.Handle("GET /v1/audit", auth(s.listAudit))
	mux.Handle("GET /v1/audit/verify", auth(s.verifyAudit))

	mux.Handle("POST /v1/master-key/rotate", auth(s.rotateMasterKey))
	mux.Handle("GET /v1/master-key/status", auth(s.masterKeyStatus))

	mux.Handle("/v1/", pub(notFound))
	s.consoleRoutes(mux)

	for _, f := range s.Faces {
		mux.Handle(f.Prefix, f.Handler)
		for _, p := range f.Paths {
			mux.Handle(p, f.Handler)
		}
	}
}

// serves reports whether the face's Prefix or one of its Paths matches
// path, as the mux matches them.
func (m *Mount) serves(path string) bool {
	if strings.HasPrefix(path, m.Prefix) {
		return true
	}
	for _, p := range m.Paths {
		if exact, ok := strings.CutSuffix(p, "{$}"); ok {
			if path == exact {
				return true
			}
		} else if path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// apiError is an error of the native API: a coffer error code and public
// message, rendered as {"error":{"code":...,"message":...}} with the code's
// status (web.Status).
type apiError struct{ code, message string }

// nativeError returns the native API's error for a coffer error code and
// public message.
func nativeError(code, message string) web.Renderer { return &apiError{code, message} }

func (e *apiError) Error() string { return e.code + ": " + e.message }

// Render writes the native error body.
func (e *apiError) Render(w http.ResponseWriter, r *http.Request) {
	code, message := e.code, e.message
	status := web.Status(code)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="coffer"`)
	}
	b := make([]byte, 0, 64+len(message))
	b = append(b, `{"error":{"code":`...)
	b = web.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = web.AppendString(b, message)
	b = append(b, "}}\n"...)
	_ = web.WriteRaw(w, status, b)
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return coffer.Errorf(coffer.ENOTFOUND, "no such route: %s %s", r.Method, r.URL.Path)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ok\n"))
	return err
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.Ready(r.Context()); err != nil {
		s.Log.Warn("not ready", "err", err)
		return coffer.Errorf(coffer.EUNAVAILABLE, "database is not reachable")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ready\n"))
	return err
}

// strictQuery refuses a malformed query string instead of letting it read as
// empty parameters, and one whose parameters are not valid UTF-8 (no name,
// prefix or cursor is).
func strictQuery(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				return coffer.Errorf(coffer.EINVALID, "malformed query string")
			}
			for k, vs := range q {
				for _, v := range vs {
					if !utf8.ValidString(k) || !utf8.ValidString(v) {
						return coffer.Errorf(coffer.EINVALID, "query parameters must be valid UTF-8")
					}
				}
			}
		}
		return h(w, r)
	}
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || len(v) > 10 {
		return 0, coffer.Errorf(coffer.EINVALID, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// querySeq parses an optional audit sequence number: a non-negative
// 64-bit integer.
func querySeq(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, coffer.Errorf(coffer.EINVALID, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// queryTime parses an optional RFC 3339 time query parameter, like
// 2026-03-04T05:06:07Z or 2026-03-04T06:06:07.5+01:00.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, coffer.Errorf(coffer.EINVALID, "%s must be an RFC 3339 time, like 2026-03-04T05:06:07Z", name)
	}
	return t, nil
}

// queryBool parses an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, coffer.Errorf(coffer.EINVALID, "%s must be true or false", name)
	}
	return b, nil
}

// ifMatch reads a compare-and-set precondition: If-Match: "N" (or N) gives
// N; If-None-Match: * gives -1; none gives 0.
func ifMatch(r *http.Request) (int, error) {
	if v := r.Header.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" {
			return 0, coffer.Errorf(coffer.EINVALID, `If-None-Match supports only "*"`)
		}
		return -1, nil
	}
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return 0, nil
	}
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, coffer.Errorf(coffer.EINVALID, `If-Match must be a version ETag such as "3"`)
	}
	return n, nil
}
