package api

// This file serves the web console at /ui/ and its sessions: sign-in with
// an API key makes a server-side session, kept in the database, whose id
// travels in an HttpOnly, SameSite=Strict cookie; the native API then
// authenticates a request that carries the cookie as the session's key.
// The key never goes back to the browser. State changes need the session's
// CSRF token in X-CSRF-Token and a same-origin request.

import (
	"context"
	"crypto/subtle"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// consoleFace names the console on audit events and on the secrets it
// creates.
const consoleFace = "console"

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "coffer_session"

// CSRFHeader is the header that carries a session's CSRF token on every
// state-changing request.
const CSRFHeader = "X-CSRF-Token"

// Console policy headers, on every /ui/ response.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Default session lifetimes.
const (
	DefaultSessionIdle = 15 * time.Minute
	DefaultSessionMax  = 8 * time.Hour
)

// Console serves the embedded web console and its sessions.
type Console struct {
	// Files are the console's static files (ui.Files()).
	Files fs.FS
	// Audit records sign-ins and sign-outs.
	Audit coffer.ConsoleAudit
	// Sessions keeps the sessions in the database (the service), so that
	// every server of it serves a sign-in and a restart keeps them.
	Sessions coffer.ConsoleSessions
	// Origin is the console's public origin ("https://coffer.example.com")
	// when a proxy in front of the server changes the Host header; a
	// request's Origin must then equal it. Empty: the Origin's host must
	// be the Host the request addressed.
	Origin string
	// Idle ends a session not used for this long; Max ends any session
	// this long after sign-in. Zero takes the defaults.
	Idle, Max time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (c *Console) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Console) idle() time.Duration {
	if c.Idle > 0 {
		return c.Idle
	}
	return DefaultSessionIdle
}

func (c *Console) max() time.Duration {
	if c.Max > 0 {
		return c.Max
	}
	return DefaultSessionMax
}

// session is one live sign-in: the API key it acts as and its CSRF token.
type session struct {
	token, csrf string
}

// create starts a session acting as token and returns its id and CSRF
// token.
func (c *Console) create(ctx context.Context, token string) (id, csrf string, err error) {
	return c.Sessions.StartConsoleSession(ctx, token, c.now(), c.idle(), c.max())
}

// lookup returns the live session id, or nil, and marks it used.
func (c *Console) lookup(ctx context.Context, id string) (*session, error) {
	if id == "" {
		return nil, nil
	}
	token, csrf, ok, err := c.Sessions.ResumeConsoleSession(ctx, id, c.now(), c.idle())
	if !ok || err != nil {
		return nil, err
	}
	return &session{token: token, csrf: csrf}, nil
}

// end deletes the session id.
func (c *Console) end(ctx context.Context, id string) error {
	return c.Sessions.EndConsoleSession(ctx, id)
}

func sessionID(r *http.Request) string {
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return ck.Value
}

// safeMethod reports whether m changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin refuses a request that a browser marks as coming from another
// site or origin: Sec-Fetch-Site other than same-origin (or none, a typed
// address), or an Origin other than the console's (see Console.Origin).
func (c *Console) sameOrigin(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return coffer.Errorf(coffer.EFORBIDDEN, "cross-origin request refused")
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	if c.Origin != "" {
		if o != c.Origin {
			return coffer.Errorf(coffer.EFORBIDDEN, "cross-origin request refused")
		}
		return nil
	}
	if u, err := url.Parse(o); err != nil || u.Host != r.Host {
		return coffer.Errorf(coffer.EFORBIDDEN, "cross-origin request refused")
	}
	return nil
}

// checkCSRF requires the session's CSRF token on a state change.
func (c *Console) checkCSRF(r *http.Request, s *session) error {
	if err := c.sameOrigin(r); err != nil {
		return err
	}
	if safeMethod(r.Method) {
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
		return coffer.Errorf(coffer.EFORBIDDEN, "missing or wrong CSRF token; reload the console")
	}
	return nil
}

type sessionTokenKey struct{}

// sessionToken returns the API key a session request acts as, or "".
func sessionToken(r *http.Request) string {
	t, _ := r.Context().Value(sessionTokenKey{}).(string)
	return t
}

// withSession lets a native API request without an Authorization header
// authenticate with a console session cookie: the session must be live,
// the request same-origin, and a state change must carry the CSRF token.
// Such a request is served by session, the same route under the console
// face, so that its audit events and the secrets it creates name the
// console. Its responses are not cached.
func (s *Server) withSession(next, session http.Handler) http.Handler {
	if s.Console == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := sessionID(r)
		if id == "" || r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header()["Cache-Control"] = []string{"no-store"}
		sess, err := s.Console.lookup(r.Context(), id)
		if err == nil && sess == nil {
			err = coffer.Errorf(coffer.EUNAUTHORIZED, "the console session has ended; sign in again")
		}
		if err != nil {
			s.face.Error(w, r, err)
			return
		}
		if err := s.Console.checkCSRF(r, sess); err != nil {
			s.face.Error(w, r, err)
			return
		}
		session.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionTokenKey{}, sess.token)))
	})
}

// consoleRoutes adds the console's routes to mux.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	if s.Console == nil {
		return
	}
	pub := func(h web.HandlerFunc) http.Handler { return consoleHeaders(s.face.Public(h)) }
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.Handle("GET /ui/", consoleHeaders(http.HandlerFunc(s.consoleFile)))
	mux.Handle("POST /ui/session", pub(s.signIn))
	mux.Handle("GET /ui/session", pub(s.sessionInfo))
	mux.Handle("DELETE /ui/session", pub(s.signOut))
}

// consoleHeaders sets the console's security headers.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = []string{consoleCSP}
		h["X-Frame-Options"] = []string{"DENY"}
		h["Referrer-Policy"] = []string{"no-referrer"}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["Cross-Origin-Opener-Policy"] = []string{"same-origin"}
		h["Cache-Control"] = []string{"no-store"}
		next.ServeHTTP(w, r)
	})
}

// consoleFile serves a static file; any path that is not a file serves
// the shell, whose script routes by the URL fragment.
func (s *Server) consoleFile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/ui")
	name = strings.TrimPrefix(name, "/")
	if name == "" || !fs.ValidPath(name) {
		name = "index.html"
	}
	b, err := fs.ReadFile(s.Console.Files, name)
	if err != nil {
		name = "index.html"
		if b, err = fs.ReadFile(s.Console.Files, name); err != nil {
			http.Error(w, "console not available", http.StatusNotFound)
			return
		}
	}
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(b)
}

// signInRequest is the body of POST /ui/session.
type signInRequest struct {
	Key string `json:"key"`
}

// Validate implements the check DecodeJSON calls.
func (in *signInRequest) Validate() error {
	if in.Key == "" {
		return coffer.Errorf(coffer.EINVALID, "key is required")
	}
	return nil
}

// sessionResponse tells the console who it acts as and the CSRF token it
// must send on state changes. It never holds the key.
type sessionResponse struct {
	CSRFToken   string         `json:"csrf_token"`
	AccountID   string         `json:"account_id"`
	PrincipalID string         `json:"principal_id"`
	KeyID       string         `json:"key_id"`
	Admin       bool           `json:"admin"`
	Scopes      []coffer.Scope `json:"scopes"`
	IdleSeconds int            `json:"idle_seconds"`
}

// consoleContext is r's context carrying what the audit of a console
// request records: the address, the request id and the console face.
func consoleContext(r *http.Request) (context.Context, coffer.Credential) {
	ip, id := web.RemoteIP(r), web.RequestID(r.Context())
	return coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: id, Face: consoleFace}),
		coffer.Credential{RemoteIP: ip}
}

// consoleCaller authenticates a session's key as a console request.
func (s *Server) consoleCaller(r *http.Request, token string) (*coffer.Caller, error) {
	ctx, cred := consoleContext(r)
	cred.Token = token
	c, err := s.Auth.Authenticate(ctx, cred)
	if err != nil {
		return nil, err
	}
	pre := coffer.CallerFrom(ctx)
	c.RemoteAddr, c.RequestID, c.Face = pre.RemoteAddr, pre.RequestID, pre.Face
	return c, nil
}

func (s *Server) writeSession(w http.ResponseWriter, c *coffer.Caller, csrf string) error {
	scopes := c.Scopes
	if scopes == nil {
		scopes = []coffer.Scope{}
	}
	return web.WriteJSON(w, http.StatusOK, sessionResponse{CSRFToken: csrf, AccountID: c.AccountID, PrincipalID: c.PrincipalID,
		KeyID: c.KeyID, Admin: c.Admin, Scopes: scopes, IdleSeconds: int(s.Console.idle() / time.Second)})
}

// signIn checks an API key and starts a session acting as it; the sign-in
// is audited (console.signin).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := s.Console.sameOrigin(r); err != nil {
		return err
	}
	var in signInRequest
	if err := web.DecodeJSON(w, r, 4<<10, &in); err != nil {
		return err
	}
	c, err := s.consoleCaller(r, in.Key)
	if err != nil {
		return err
	}
	if err := s.Console.Audit.ConsoleEvent(coffer.NewContext(r.Context(), c), coffer.ActionConsoleSignIn); err != nil {
		return err
	}
	if old := sessionID(r); old != "" {
		if err := s.Console.end(r.Context(), old); err != nil {
			return err
		}
	}
	id, csrf, err := s.Console.create(r.Context(), in.Key)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.Console.max() / time.Second)})
	return s.writeSession(w, c, csrf)
}

// sessionInfo answers the session's caller and CSRF token, for a console
// page loaded again; 401 once the session or its key has ended.
func (s *Server) sessionInfo(w http.ResponseWriter, r *http.Request) error {
	if err := s.Console.sameOrigin(r); err != nil {
		return err
	}
	sess, err := s.Console.lookup(r.Context(), sessionID(r))
	if err != nil {
		return err
	} else if sess == nil {
		return coffer.Errorf(coffer.EUNAUTHORIZED, "not signed in")
	}
	c, err := s.consoleCaller(r, sess.token)
	if coffer.ErrorCode(err) == coffer.EUNAUTHORIZED { // its key was revoked or expired
		if err := s.Console.end(r.Context(), sessionID(r)); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	return s.writeSession(w, c, sess.csrf)
}

// signOut ends the session, clears its cookie and, while its key is still
// valid, records console.signout.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	id := sessionID(r)
	sess, err := s.Console.lookup(r.Context(), id)
	if err != nil {
		return err
	}
	if sess != nil {
		if err := s.Console.checkCSRF(r, sess); err != nil {
			return err
		}
		if err := s.Console.end(r.Context(), id); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	if sess != nil {
		if c, err := s.consoleCaller(r, sess.token); err == nil {
			if err := s.Console.Audit.ConsoleEvent(coffer.NewContext(r.Context(), c), coffer.ActionConsoleSignOut); err != nil {
				return err
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
