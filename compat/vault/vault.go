// Package vault serves HashiCorp Vault's (and OpenBao's) HTTP API over
// coffer's model, wire-compatibly, so that the tools through which
// workloads consume secrets (the vault and bao CLIs, External Secrets
// Operator, Terraform's Vault provider, vault-action, Vault Agent) work
// against coffer by pointing VAULT_ADDR at http://HOST/vault (or, on a
// listener of its own, at its root).
//
// Every coffer store is a KV version 2 mount named after it; the paths
// below a KV verb (data, metadata, delete, undelete, destroy, subkeys) are
// secret names. A token is a coffer API key of any format; its scopes
// decide, through the service, what it may do. Values map to Vault's JSON
// objects by DataOf and ValueOf. Errors are Vault's: {"errors":[...]} with
// its status codes; answers are Vault's envelope (request_id, lease_id,
// renewable, lease_duration, data, wrap_info, warnings, auth, mount_type).
package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Prefix is where the face is mounted on the main listener; Vault's
// clients add /v1/ to the address's path.
const Prefix = "/vault/"

// maxBody bounds a request body: a 64 KiB value, JSON-escaped, with its
// options fits.
const maxBody = 1 << 20

// Service is what the face needs of coffer. *service.Service implements
// it.
type Service interface {
	coffer.SecretService
	coffer.KeyService
	coffer.OwnKeyService
	coffer.VersionDeleter
	coffer.CapabilityChecker
	coffer.DetailRevealer
	coffer.JWTService
	coffer.AppRoleService
}

// Server is the Vault face.
type Server struct {
	Service Service
	Auth    coffer.Authenticator
	Log     *slog.Logger
	// Prefix is the path the face is served under, ending in '/': Prefix
	// (the default) on the main listener, "/" on a listener of its own.
	Prefix string
	// Version is the server's version, shown by sys/health and
	// sys/seal-status.
	Version string
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	face *web.Face
	v1   string // Prefix + "v1/"
}

// Handler returns the face's routes. Mount it at s.Prefix.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Prefix == "" {
		s.Prefix = Prefix
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Version == "" {
		s.Version = "(devel)"
	}
	s.v1 = s.Prefix + "v1/"
	s.face = &web.Face{Name: "vault", Auth: s.Auth, Log: s.Log, Token: token, Errors: RenderError}
	mux := http.NewServeMux()
	s.routes(mux)
	return noStore(mux)
}

// routes is the one table of the face's routes. Methods are dispatched by
// each handler, as Vault's logical paths take several (LIST included).
func (s *Server) routes(mux *http.ServeMux) {
	pub, h := s.face.Public, s.face.Authed
	v1 := s.v1
	mux.Handle(v1+"sys/health", pub(s.health))
	mux.Handle(v1+"sys/seal-status", pub(s.sealStatus))
	mux.Handle(v1+"sys/leader", pub(s.leader))
	mux.Handle(v1+"sys/auth", h(s.authMethods))
	mux.Handle(v1+"sys/internal/ui/mounts", h(s.uiMounts))
	mux.Handle(v1+"sys/internal/ui/mounts/{path...}", h(s.uiMount))
	mux.Handle(v1+"sys/mounts", h(s.listMounts))
	mux.Handle(v1+"sys/mounts/{path...}", h(s.mount))
	mux.Handle(v1+"sys/capabilities-self", h(s.capabilitiesSelf))
	mux.Handle(v1+"auth/token/lookup-self", h(s.lookupSelf))
	mux.Handle(v1+"auth/token/renew-self", h(s.renewSelf))
	mux.Handle(v1+"auth/token/revoke-self", h(s.revokeSelf))
	mux.Handle(v1+"auth/token/create", h(s.createToken))
	mux.Handle(v1+"auth/token/create-orphan", h(s.createToken))
	mux.Handle(v1+"auth/{mount}/login", s.jwtLoginRoute(pub(s.jwtLoginHandler), h(s.noRoute)))
	mux.Handle(v1+"auth/approle/login", pub(s.approleLoginHandler))
	mux.Handle(v1+"auth/approle/role", h(s.approleRoles))
	mux.Handle(v1+"auth/approle/role/{name}", h(s.approleRole))
	mux.Handle(v1+"auth/approle/role/{name}/role-id", h(s.approleRoleID))
	mux.Handle(v1+"auth/approle/role/{name}/secret-id", h(s.approleSecretID))
	mux.Handle(v1+"auth/approle/role/{name}/secret-id-accessor/destroy", h(s.approleDestroyAccessor))
	mux.Handle(v1+"sys/", h(s.noRoute))
	mux.Handle(v1+"auth/", h(s.noRoute))
	mux.Handle(v1, h(s.kv))
	if s.Prefix != v1 {
		mux.Handle(s.Prefix, pub(notFound))
	}
}

// noStore sets the header Vault sends with every answer.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = []string{"no-store"}
		next.ServeHTTP(w, r)
	})
}

// token reads the credential: X-Vault-Token, else "Authorization: Bearer".
func token(r *http.Request) string {
	if t := r.Header.Get("X-Vault-Token"); t != "" {
		return strings.TrimSpace(t)
	}
	return web.BearerToken(r)
}

// path returns the request's logical path: what follows /v1/.
func (s *Server) path(r *http.Request) string {
	return strings.TrimPrefix(r.URL.Path, s.v1)
}

// Operations, as Vault names them.
const (
	opRead   = "read"
	opList   = "list"
	opWrite  = "write" // POST and PUT: create or update
	opPatch  = "patch"
	opDelete = "delete"
)

// operation returns the Vault operation of a request: LIST, or GET with
// list=true, is a list; HEAD reads. Any other method is 405.
func operation(r *http.Request) (string, error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.URL.RawQuery == "" {
			return opRead, nil
		}
		if l := r.URL.Query().Get("list"); l != "" {
			list, err := strconv.ParseBool(l)
			if err != nil {
				return "", badRequest("list must be a boolean")
			}
			if list {
				return opList, nil
			}
		}
		return opRead, nil
	case "LIST":
		return opList, nil
	case http.MethodPost, http.MethodPut:
		return opWrite, nil
	case http.MethodPatch:
		return opPatch, nil
	case http.MethodDelete:
		return opDelete, nil
	}
	return "", errUnsupported
}

// Error is a failure in Vault's shape: a status and {"errors": [...]}.
// Its messages never hold a value or a token.
type Error struct {
	Status int
	Errors []string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "vault error: status=" + strconv.Itoa(e.Status) + " errors=" + strings.Join(e.Errors, "; ")
}

// Render writes the error as Vault does.
func (e *Error) Render(w http.ResponseWriter, r *http.Request) {
	errs := e.Errors
	if errs == nil {
		errs = []string{}
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	_ = web.WriteJSON(w, e.Status, struct {
		Errors []string `json:"errors"`
	}{errs})
}

// Messages Vault gives.
const (
	msgDenied      = "permission denied"
	msgCASMismatch = "check-and-set parameter did not match the current version"
)

var errUnsupported = &Error{Status: http.StatusMethodNotAllowed}

// RenderError returns the face's error for a coffer error code and public
// message: the face's one table from codes to Vault's statuses. A missing
// or refused credential is Vault's 403 "permission denied", whatever the
// reason; a missing object 404 with no message; a lost compare-and-set
// Vault's 400.
func RenderError(code, message string) web.Renderer {
	switch code {
	case coffer.EUNAUTHORIZED, coffer.EFORBIDDEN:
		return &Error{Status: http.StatusForbidden, Errors: []string{msgDenied}}
	case coffer.ENOTFOUND:
		return &Error{Status: http.StatusNotFound}
	case coffer.EPRECONDITION:
		return &Error{Status: http.StatusBadRequest, Errors: []string{msgCASMismatch}}
	case coffer.EINVALID, coffer.ECONFLICT:
		return &Error{Status: http.StatusBadRequest, Errors: []string{message}}
	case coffer.ETOOLARGE:
		return &Error{Status: http.StatusRequestEntityTooLarge, Errors: []string{message}}
	case coffer.ERATELIMIT:
		return &Error{Status: http.StatusTooManyRequests, Errors: []string{message}}
	case coffer.EUNAVAILABLE:
		return &Error{Status: http.StatusServiceUnavailable, Errors: []string{message}}
	}
	return &Error{Status: http.StatusInternalServerError, Errors: []string{"internal error"}}
}

func badRequest(format string, args ...any) error {
	return coffer.Errorf(coffer.EINVALID, format, args...)
}

// noRoute answers a path that names nothing coffer serves, as Vault
// answers a path with no mount.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) error {
	return &Error{Status: http.StatusNotFound, Errors: []string{"no handler for route " + strconv.Quote(s.path(r)) + ". route entry not found."}}
}

// notFound answers a path outside /v1/.
func notFound(w http.ResponseWriter, r *http.Request) error {
	return &Error{Status: http.StatusNotFound}
}

// response is Vault's envelope of a successful answer.
type response struct {
	RequestID     string   `json:"request_id"`
	LeaseID       string   `json:"lease_id"`
	Renewable     bool     `json:"renewable"`
	LeaseDuration int      `json:"lease_duration"`
	Data          any      `json:"data"`
	WrapInfo      any      `json:"wrap_info"`
	Warnings      []string `json:"warnings"`
	Auth          any      `json:"auth"`
	MountType     string   `json:"mount_type"`
}

// respond writes data (and auth, when not nil) in Vault's envelope with
// status 200; request_id is the request id coffer records.
func respond(w http.ResponseWriter, r *http.Request, mountType string, data, auth any, warnings ...string) error {
	return respondStatus(w, r, http.StatusOK, mountType, data, auth, warnings...)
}

func respondStatus(w http.ResponseWriter, r *http.Request, status int, mountType string, data, auth any, warnings ...string) error {
	if len(warnings) == 0 {
		warnings = nil
	}
	return web.WriteJSON(w, status, response{RequestID: web.RequestID(r.Context()), Data: data, Auth: auth, Warnings: warnings, MountType: mountType})
}

// noContent answers a write that returns nothing, as Vault does: 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decode reads a JSON body of at most maxBody bytes into v as Vault reads
// one: an empty body is an empty object and fields v does not have are
// ignored; a body that is not valid UTF-8, has an unpaired surrogate escape,
// is not one JSON object or repeats a key is 400.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := web.ReadBody(w, r, maxBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	if !web.PairedSurrogates(body) {
		return web.ErrUnpairedSurrogate()
	}
	if !objectText(body) {
		return badRequest("failed to parse JSON input: the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return badRequest("failed to parse JSON input: %s", web.JSONProblem(err))
	}
	if at := web.DuplicateKey(body); at >= 0 {
		return web.ErrDuplicateKey(at)
	}
	return nil
}

// mergePatch requires the content type of a PATCH, as Vault does (415).
func mergePatch(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if ct = strings.TrimSpace(strings.ToLower(ct)); ct != "application/merge-patch+json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Errors: []string{"PATCH requires Content-Type of application/merge-patch+json, provided " + ct}}
	}
	return nil
}

// vaultTime formats a time as Vault does: RFC 3339 in UTC with
// nanoseconds; "" for none.
func vaultTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// isCode reports whether err is the coffer error code.
func isCode(err error, code string) bool { return coffer.ErrorCode(err) == code }

// caller returns the request's caller (set by Face.Authed).
func caller(ctx context.Context) *coffer.Caller { return coffer.CallerFrom(ctx) }
