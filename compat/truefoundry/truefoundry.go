// Package truefoundry serves TrueFoundry's secret-groups API
// (/api/svc/v1/secret-groups and /api/svc/v1/secrets), with its personal
// access tokens and virtual accounts (coffer API keys), over coffer's model,
// wire-compatibly, so that TrueFoundry's clients (the Fern-generated Python
// and TypeScript SDKs, scripts written against the REST API) work against
// coffer by changing only their base URL to http://HOST/truefoundry.
//
// A TrueFoundry tenant is a coffer account (tenantName is the account's
// name), a secret group is a coffer store and a secret is a coffer secret:
// what one face writes, every face reads. Values are returned only where
// TrueFoundry returns them: GET /secrets/{id} and POST /secrets with
// withValue, each read audited by the service. Success bodies are {"data":
// ...} and {"data": [...], "pagination": {...}}; errors are TrueFoundry's
// HttpError {"statusCode", "message", "code"?, "details"?}.
package truefoundry

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Prefix is where the face is mounted: the equivalent of
// https://<control-plane>/api/svc/v1/.
const Prefix = "/truefoundry/api/svc/v1/"

// Request body limits. A group create or update carries many secrets of up
// to 64 KiB each, which JSON escaping can grow sixfold; other requests are
// small.
const (
	maxBody      = 512 << 10
	maxGroupBody = 8 << 20
)

// Service is what the face needs of coffer: the secret service, the
// caller's identity (tenant and subject names) and the audit of the face's
// own refusals. *service.Service implements it.
type Service interface {
	coffer.SecretService
	coffer.SecretBatcher
	coffer.StoreLister
	coffer.IdentityService
	coffer.Refuser
	coffer.AccessChecker
	coffer.OwnKeyService
}

// Server is the TrueFoundry secret-groups face.
type Server struct {
	Secrets Service
	// Keys and Accounts serve personal access tokens and virtual accounts,
	// which are coffer API keys of user and service principals.
	Keys     coffer.KeyService
	Accounts coffer.AccountService
	// Powers sets a virtual account's permissions (PUT /virtual-accounts).
	Powers coffer.PowerSetter
	Auth   coffer.Authenticator
	Log    *slog.Logger

	face *web.Face
}

// Handler returns the face's routes. Mount it at Prefix.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.face = &web.Face{Name: "truefoundry", Auth: s.Auth, Log: s.Log, Token: web.BearerToken, Errors: RenderError}
	mux := http.NewServeMux()
	s.routes(mux)
	return mux
}

// routes is the one table of the face's routes.
func (s *Server) routes(mux *http.ServeMux) {
	h := func(fn web.HandlerFunc) http.Handler { return s.face.Authed(checkQuery(fn)) }

	mux.Handle("GET "+Prefix+"secret-groups", h(s.listGroups))
	mux.Handle("POST "+Prefix+"secret-groups", h(s.createGroup))
	mux.Handle("PUT "+Prefix+"secret-groups", h(s.applyGroup))
	mux.Handle("GET "+Prefix+"secret-groups/{id}", h(s.getGroup))
	mux.Handle("PUT "+Prefix+"secret-groups/{id}", h(s.updateGroup))
	mux.Handle("DELETE "+Prefix+"secret-groups/{id}", h(s.deleteGroup))

	mux.Handle("POST "+Prefix+"secrets", h(s.listSecrets))
	mux.Handle("GET "+Prefix+"secrets/{id}", h(s.getSecret))
	mux.Handle("DELETE "+Prefix+"secrets/{id}", h(s.deleteSecret))
	mux.Handle("GET "+Prefix+"secrets/{id}/versions", h(s.secretVersions))

	s.tokenRoutes(mux, h)

	mux.Handle(Prefix, s.face.Public(noRoute))
}

// checkQuery refuses a malformed query string (400).
func checkQuery(fn web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.RawQuery != "" {
			if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
				return badRequest("malformed query string")
			}
		}
		return fn(w, r)
	}
}

// noRoute answers a path or method the API does not have, as TrueFoundry's
// server does: 404 "Cannot METHOD /path".
func noRoute(w http.ResponseWriter, r *http.Request) error {
	path := strings.TrimPrefix(r.URL.Path, "/truefoundry")
	return &Error{Status: http.StatusNotFound, Message: "Cannot " + r.Method + " " + path}
}

// Detail is one item of an error's details: which field is wrong and why.
type Detail struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error is TrueFoundry's HttpError: an HTTP status, a message, and for
// validation failures (422) the details. Messages never hold a secret value.
type Error struct {
	Status  int
	Message string
	Code    string
	Details []Detail
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "truefoundry error: status=" + strconv.Itoa(e.Status) + " message=" + e.Message
}

// errorBody is the wire form of an Error.
type errorBody struct {
	StatusCode int      `json:"statusCode"`
	Message    string   `json:"message"`
	Code       string   `json:"code,omitempty"`
	Details    []Detail `json:"details,omitempty"`
}

// Render writes the error as TrueFoundry's HttpError body.
func (e *Error) Render(w http.ResponseWriter, r *http.Request) {
	_ = web.WriteJSON(w, e.Status, errorBody{StatusCode: e.Status, Message: e.Message, Code: e.Code, Details: e.Details})
}

// badRequest is a request the server cannot parse: malformed JSON or query.
func badRequest(message string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: message, Code: "BAD_REQUEST"}
}

// invalid is a well-formed request that breaks a rule (422), naming the
// field.
func invalid(field, message string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Message: message, Code: "VALIDATION_ERROR",
		Details: []Detail{{Field: field, Message: message}}}
}

func notFound(message string) *Error {
	return &Error{Status: http.StatusNotFound, Message: message, Code: "NOT_FOUND"}
}

func conflict(message string) *Error {
	return &Error{Status: http.StatusConflict, Message: message, Code: "CONFLICT"}
}

// RenderError returns the face's error for a coffer error code and public
// message (from authentication, decoding, the service, or the server's
// overload shedding, which answers before any face sees the request). It is
// the face's one table from coffer codes to statuses.
func RenderError(code, message string) web.Renderer {
	var e *Error
	switch code {
	case coffer.EINVALID:
		e = badRequest(message)
	case coffer.EUNAUTHORIZED:
		e = &Error{Status: http.StatusUnauthorized, Message: "Unauthorized", Code: "UNAUTHORIZED"}
	case coffer.EFORBIDDEN:
		e = &Error{Status: http.StatusForbidden, Message: "Forbidden: " + message, Code: "FORBIDDEN"}
	case coffer.ENOTFOUND:
		e = notFound(message)
	case coffer.ECONFLICT, coffer.EPRECONDITION:
		e = conflict(message)
	case coffer.ETOOLARGE:
		e = &Error{Status: http.StatusRequestEntityTooLarge, Message: message, Code: "PAYLOAD_TOO_LARGE"}
	case coffer.ERATELIMIT:
		e = &Error{Status: http.StatusTooManyRequests, Message: message, Code: "TOO_MANY_REQUESTS"}
	case coffer.EUNAVAILABLE:
		e = &Error{Status: http.StatusServiceUnavailable, Message: message, Code: "SERVICE_UNAVAILABLE"}
	default:
		e = &Error{Status: http.StatusInternalServerError, Message: "internal error", Code: "INTERNAL_SERVER_ERROR"}
	}
	return e
}

// decode reads a JSON body strictly (web.DecodeJSON). As a NestJS server
// with class-validator answers: a body that is not JSON is 400; a field of
// the wrong type or a field the request does not have is 422 naming it
// (TrueFoundry declares 422 for invalid input on every write); the request's
// own rules are checked by the caller (422).
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	err := web.DecodeJSON(w, r, limit, v)
	if coffer.ErrorCode(err) != coffer.EINVALID {
		return err
	}
	msg := coffer.ErrorMessage(err)
	if rest, ok := strings.CutPrefix(msg, "invalid JSON body: unknown field "); ok {
		field, _ := strconv.Unquote(rest)
		return invalid(field, "property "+field+" should not exist")
	}
	if rest, ok := strings.CutPrefix(msg, "invalid JSON body: field "); ok {
		field, _, _ := strings.Cut(rest, " must be ")
		field, _ = strconv.Unquote(field)
		return invalid(field, strings.TrimPrefix(msg, "invalid JSON body: "))
	}
	return badRequest(msg)
}

// buffer reads the body (at most limit bytes, as decode would) and puts it
// back for decode, returning it.
func buffer(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := web.ReadBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// decodeOptional is decode for a body whose fields are all optional: an
// empty body is taken as {}, as the body parser of TrueFoundry's NestJS
// server takes it. A body that is there but malformed is still 400.
func decodeOptional(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := buffer(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return decode(w, r, limit, v)
}

// decodeGroup is decode for a body with a group's secrets. encoding/json
// names a wrong type inside the list secrets.value; the face names the item,
// secrets[i].value, as its own checks do.
func decodeGroup(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := buffer(w, r, maxGroupBody)
	if err != nil {
		return err
	}
	err = decode(w, r, maxGroupBody, v)
	var e *Error
	if !errors.As(err, &e) || len(e.Details) != 1 {
		return err
	}
	rest, ok := strings.CutPrefix(e.Details[0].Field, "secrets.")
	if !ok {
		return err
	}
	var loose struct {
		Secrets []json.RawMessage `json:"secrets"`
	}
	if json.Unmarshal(body, &loose) != nil {
		return err
	}
	for i, item := range loose.Secrets {
		var in secretInput
		if json.Unmarshal(item, &in) != nil {
			field := "secrets[" + strconv.Itoa(i) + "]." + rest
			msg := strings.Replace(e.Message, strconv.Quote(e.Details[0].Field), strconv.Quote(field), 1)
			return invalid(field, msg)
		}
	}
	return err
}
