// Package bytenite serves ByteNite's authentication API (/v1/auth: access
// tokens, API keys, secrets and the user) over coffer's model,
// wire-compatibly, so that scripts written against api.bytenite.com work
// against coffer by changing only their base URL to http://HOST/bytenite.
//
// A ByteNite user is a coffer principal and its account; an API key is a
// coffer API key (any of them: cfr_..., cpk_...), exchanged at
// POST /access_token for a short-lived coffer access token; a secret is a
// coffer secret named <secretType>/<id> in the account's store "bytenite",
// made on first use. Its secretKey is the secret's value: written, never
// returned. ByteNite runs gRPC behind grpc-gateway, and the face answers as
// that stack does: lowerCamelCase JSON with every field present (null for an
// unset timestamp), int64 values as strings, RFC 3339 UTC timestamps, unknown
// request fields ignored, and errors as an HTTP status with a body that holds
// both ByteNite's envelope ({ok, requestId, message, error{code, message,
// description}}) and grpc-gateway's status ({code, message, details}).
package bytenite

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Prefix is where the face is mounted: the equivalent of
// https://api.bytenite.com/v1/auth/.
const Prefix = "/bytenite/v1/auth/"

// StoreName is the store that holds each account's ByteNite secrets.
const StoreName = "bytenite"

// DefaultTokenTTL is the lifetime of an access token, as at ByteNite.
const DefaultTokenTTL = time.Hour

// maxBody bounds a request body: a 64 KiB secretKey, JSON-escaped, with its
// metadata fits.
const maxBody = 512 << 10

// Service is what the face needs of coffer. *service.Service implements it.
type Service interface {
	coffer.SecretService
	coffer.KeyService
	coffer.OwnKeyService
	coffer.IdentityService
	coffer.ProfileService
	coffer.AccessTokenIssuer
}

// Server is the ByteNite face.
type Server struct {
	Service Service
	Auth    coffer.Authenticator
	// Tokens exchanges API keys for access tokens (POST /access_token);
	// Service when nil. A server with client certificates gives its gate,
	// so that the exchange obeys the same certificate rules as any request.
	Tokens coffer.AccessTokenIssuer
	Log    *slog.Logger
	// TokenTTL is the lifetime of the access tokens POST /access_token
	// issues (DefaultTokenTTL when 0).
	TokenTTL time.Duration
	// Version is the server's version, shown by GET /info.
	Version string
	// Now is the clock that expiresIn is counted on (time.Now when nil).
	Now func() time.Time

	face *web.Face
}

// Handler returns the face's routes. Mount it at Prefix.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Tokens == nil {
		s.Tokens = s.Service
	}
	if s.TokenTTL == 0 {
		s.TokenTTL = DefaultTokenTTL
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	s.face = &web.Face{Name: "bytenite", Auth: s.Auth, Log: s.Log, Token: token, Errors: RenderError}
	mux := http.NewServeMux()
	s.routes(mux)
	return mux
}

// routes is the one table of the face's routes.
func (s *Server) routes(mux *http.ServeMux) {
	pub := func(fn web.HandlerFunc) http.Handler { return s.face.Public(checkQuery(fn)) }
	h := func(fn web.HandlerFunc) http.Handler { return s.face.Authed(checkQuery(fn)) }

	mux.Handle("GET "+Prefix+"info", pub(s.info))
	mux.Handle("POST "+Prefix+"access_token", pub(s.accessToken))
	mux.Handle("POST "+Prefix+"signout", h(s.signOut))

	mux.Handle("GET "+Prefix+"secrets", h(s.listSecrets))
	mux.Handle("POST "+Prefix+"secrets", h(s.saveSecret))
	mux.Handle("DELETE "+Prefix+"secrets/{secretType}/{id}", h(s.deleteSecret))

	mux.Handle("GET "+Prefix+"api_keys", h(s.listKeys))
	mux.Handle("POST "+Prefix+"api_keys", h(s.createKey))
	mux.Handle("POST "+Prefix+"api_keys/{id}/revoke", h(s.revokeKey))

	mux.Handle("GET "+Prefix+"user", h(s.getUser))
	mux.Handle("PATCH "+Prefix+"user", h(s.patchUser))

	mux.Handle(Prefix, s.face.Public(noRoute))
}

// token reads the credential from Authorization: the raw token, as ByteNite's
// clients send it, or "Bearer <token>".
func token(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}

// checkQuery refuses a malformed query string (400).
func checkQuery(fn web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.RawQuery != "" {
			if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
				return coffer.Errorf(coffer.EINVALID, "malformed query string")
			}
		}
		return fn(w, r)
	}
}

// noRoute answers a path or method the API does not have, as grpc-gateway
// does: 404 Not Found.
func noRoute(w http.ResponseWriter, r *http.Request) error {
	return coffer.Errorf(coffer.ENOTFOUND, "Not Found")
}

// gRPC status codes, as grpc-gateway puts them in an error body.
const (
	grpcInvalidArgument    = 3
	grpcNotFound           = 5
	grpcAlreadyExists      = 6
	grpcPermissionDenied   = 7
	grpcResourceExhausted  = 8
	grpcFailedPrecondition = 9
	grpcInternal           = 13
	grpcUnavailable        = 14
	grpcUnauthenticated    = 16
)

// statusOf is the face's one table from coffer codes to HTTP statuses and
// gRPC codes.
func statusOf(code string) (status, grpc int) {
	switch code {
	case coffer.EINVALID:
		return http.StatusBadRequest, grpcInvalidArgument
	case coffer.EUNAUTHORIZED:
		return http.StatusUnauthorized, grpcUnauthenticated
	case coffer.EFORBIDDEN:
		return http.StatusForbidden, grpcPermissionDenied
	case coffer.ENOTFOUND:
		return http.StatusNotFound, grpcNotFound
	case coffer.ECONFLICT:
		return http.StatusConflict, grpcAlreadyExists
	case coffer.EPRECONDITION:
		return http.StatusBadRequest, grpcFailedPrecondition
	case coffer.ETOOLARGE:
		return http.StatusRequestEntityTooLarge, grpcResourceExhausted
	case coffer.ERATELIMIT:
		return http.StatusTooManyRequests, grpcResourceExhausted
	case coffer.EUNAVAILABLE:
		return http.StatusServiceUnavailable, grpcUnavailable
	}
	return http.StatusInternalServerError, grpcInternal
}

// errorBody is a failure: ByteNite's envelope and grpc-gateway's status in
// one object. Both carry the message at the top level, which is what
// clients read (errorJson.message).
type errorBody struct {
	OK        bool        `json:"ok"`
	RequestID string      `json:"requestId"`
	Message   string      `json:"message"`
	Error     errorDetail `json:"error"`
	Code      int         `json:"code"`
	Details   []any       `json:"details"`
}

// errorDetail is the envelope's error: the HTTP status, its text, and the
// message.
type errorDetail struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	Description string `json:"description"`
}

// Error is a failure in ByteNite's shape: an HTTP status, a gRPC code and a
// message, which never holds a value or a credential.
type Error struct {
	Status  int
	Code    int // gRPC's
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "bytenite error: status=" + strconv.Itoa(e.Status) + " message=" + e.Message
}

// Render writes the error as ByteNite's envelope and grpc-gateway's status
// in one object.
func (e *Error) Render(w http.ResponseWriter, r *http.Request) {
	_ = web.WriteJSON(w, e.Status, errorBody{
		RequestID: web.RequestID(r.Context()),
		Message:   e.Message,
		Error:     errorDetail{Code: e.Status, Message: http.StatusText(e.Status), Description: e.Message},
		Code:      e.Code,
		Details:   []any{},
	})
}

// RenderError returns the face's error for a coffer error code and public
// message (from authentication, decoding, the service, or the server's
// overload shedding, which answers before any face sees the request).
// Messages are coffer's public messages.
func RenderError(code, message string) web.Renderer {
	status, grpc := statusOf(code)
	switch code {
	case coffer.EUNAUTHORIZED:
		message = "missing, invalid or expired access token or API key"
	case coffer.EINTERNAL:
		message = "internal error"
	}
	return &Error{Status: status, Code: grpc, Message: message}
}

// envelope is ByteNite's answer to a mutation that succeeded. Its error is
// null, as grpc-gateway emits an unset message field.
type envelope struct {
	OK        bool         `json:"ok"`
	RequestID string       `json:"requestId"`
	Message   string       `json:"message"`
	Error     *errorDetail `json:"error"`
}

func writeOK(w http.ResponseWriter, r *http.Request, message string) error {
	return web.WriteJSON(w, http.StatusOK, envelope{OK: true, RequestID: web.RequestID(r.Context()), Message: message})
}

// decode reads a JSON body of at most maxBody bytes into v as grpc-gateway
// does: fields v does not have are ignored, an empty body is an empty
// message; a body that is not valid UTF-8, has an unpaired surrogate escape
// (web.PairedSurrogates), is not one JSON object, repeats a key
// (web.DuplicateKey) or names a field in another case (web.FoldedField) is
// 400.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := web.ReadBody(w, r, maxBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return coffer.Errorf(coffer.EINVALID, "request body is not valid UTF-8")
	}
	if !web.PairedSurrogates(body) {
		return web.ErrUnpairedSurrogate()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return coffer.Errorf(coffer.EINVALID, "invalid JSON body: %s", web.JSONProblem(err))
	}
	if dec.More() {
		return coffer.Errorf(coffer.EINVALID, "invalid JSON body: more than one value")
	}
	if at := web.DuplicateKey(body); at >= 0 {
		return web.ErrDuplicateKey(at)
	}
	// protojson matches field names exactly; encoding/json would also take
	// one in another case, which grpc-gateway ignores: refused instead.
	if at, key := web.FoldedField(body, v); at >= 0 {
		return coffer.Errorf(coffer.EINVALID, "invalid JSON body: unknown field %s", strconv.Quote(key))
	}
	return nil
}

// protoTime formats a time as protojson formats a Timestamp: UTC, "Z", and
// 0, 3, 6 or 9 fractional digits.
func protoTime(t time.Time) string {
	t = t.UTC()
	b := t.AppendFormat(make([]byte, 0, 30), "2006-01-02T15:04:05")
	ns := t.Nanosecond()
	digits := 9
	switch {
	case ns == 0:
		digits = 0
	case ns%1e6 == 0:
		ns, digits = ns/1e6, 3
	case ns%1e3 == 0:
		ns, digits = ns/1e3, 6
	}
	if digits > 0 {
		frac := strconv.Itoa(ns)
		b = append(b, '.')
		b = append(b, strings.Repeat("0", digits-len(frac))...)
		b = append(b, frac...)
	}
	return string(append(b, 'Z'))
}

// protoTimePtr is protoTime of t, or nil (JSON null) when t is nil.
func protoTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := protoTime(*t)
	return &s
}

// parseTime parses a Timestamp as protojson does: RFC 3339 with a "Z" or an
// offset and up to 9 fractional digits.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, coffer.Errorf(coffer.EINVALID, "%s must be an RFC 3339 timestamp such as 2025-12-29T18:02:27.140Z", field)
	}
	return t.UTC(), nil
}

// isNotFound reports whether err is coffer's ENOTFOUND.
func isNotFound(err error) bool { return coffer.ErrorCode(err) == coffer.ENOTFOUND }

// errRequired is the refusal of a request that lacks a required field.
func errRequired(field string) error {
	return coffer.Errorf(coffer.EINVALID, "%s is required", field)
}
