// Package cloudflare serves Cloudflare's Secrets Store API (v4) over coffer's
// model, wire-compatibly, so that Cloudflare's own clients (cloudflare-go,
// the TypeScript SDK, wrangler) work against coffer by changing only their
// base URL to http://HOST/cloudflare/client/v4.
//
// A Cloudflare account is a coffer account, a Cloudflare store is a coffer
// store and a Cloudflare secret is a coffer secret: what one face writes,
// every face reads. Values are accepted and never returned, as at
// Cloudflare. Every response, errors included, is Cloudflare's envelope
// {success, errors, messages, result, result_info}.
package cloudflare

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Prefix is where the face is mounted: the equivalent of
// https://api.cloudflare.com/client/v4/.
const Prefix = "/cloudflare/client/v4/"

// Request body limits. A create request carries many secrets of up to 64 KiB
// each, which JSON escaping can grow sixfold; every other request carries at
// most one value.
const (
	maxBody       = 512 << 10
	maxCreateBody = 8 << 20
)

// Service is what the face needs of coffer: the secret service,
// duplication, and the account's usage that limits count.
// *service.Service implements it.
type Service interface {
	coffer.SecretService
	coffer.SecretDuplicator
	coffer.SecretBatcher
	coffer.StoreLister
	coffer.UsageCounter
	coffer.AccessChecker
}

// Server is the Cloudflare Secrets Store face.
type Server struct {
	Secrets Service
	Auth    coffer.Authenticator
	Log     *slog.Logger
	// Limits apply to every account without limits of its own; zero fields
	// take DefaultLimits. AccountLimits holds per-account limits, by account
	// id; their zero fields take Limits.
	Limits        Limits
	AccountLimits map[string]Limits

	face *web.Face
}

// limits returns the limits of an account.
func (s *Server) limits(accountID string) Limits {
	def := s.Limits.Or(DefaultLimits)
	return s.AccountLimits[accountID].Or(def)
}

// Handler returns the face's routes. Mount it at Prefix.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.face = &web.Face{Name: "cloudflare", Auth: s.Auth, Log: s.Log, Token: token, Errors: RenderError}
	mux := http.NewServeMux()
	s.routes(mux)
	return mux
}

// routes is the one table of the face's routes.
func (s *Server) routes(mux *http.ServeMux) {
	const base = Prefix + "accounts/{account_id}/secrets_store"
	h := func(fn web.HandlerFunc) http.Handler { return s.face.Authed(s.checked(fn)) }

	mux.Handle("GET "+base+"/quota", h(s.quota))

	mux.Handle("GET "+base+"/stores", h(s.listStores))
	mux.Handle("POST "+base+"/stores", h(s.createStore))
	mux.Handle("GET "+base+"/stores/{store_id}", h(s.getStore))
	mux.Handle("DELETE "+base+"/stores/{store_id}", h(s.deleteStore))

	mux.Handle("GET "+base+"/stores/{store_id}/secrets", h(s.listSecrets))
	mux.Handle("POST "+base+"/stores/{store_id}/secrets", h(s.createSecrets))
	mux.Handle("DELETE "+base+"/stores/{store_id}/secrets", h(s.bulkDelete))
	mux.Handle("GET "+base+"/stores/{store_id}/secrets/{secret_id}", h(s.getSecret))
	mux.Handle("PATCH "+base+"/stores/{store_id}/secrets/{secret_id}", h(s.patchSecret))
	mux.Handle("DELETE "+base+"/stores/{store_id}/secrets/{secret_id}", h(s.deleteSecret))
	mux.Handle("POST "+base+"/stores/{store_id}/secrets/{secret_id}/duplicate", h(s.duplicateSecret))

	mux.Handle(Prefix, s.face.Public(noRoute))
}

// token reads the credential: "Authorization: Bearer <coffer key>", or
// Cloudflare's legacy pair X-Auth-Email and X-Auth-Key, where the key is a
// coffer key and any email is accepted.
func token(r *http.Request) string {
	if t := web.BearerToken(r); t != "" {
		return t
	}
	if k := strings.TrimSpace(r.Header.Get("X-Auth-Key")); k != "" && strings.TrimSpace(r.Header.Get("X-Auth-Email")) != "" {
		return k
	}
	return ""
}

// checked runs after authentication: it refuses a malformed query string and
// malformed ids in the path as Cloudflare's router does (400, codes 7003 and
// 7000), and an account id that is not the caller's as Cloudflare does for an
// account the token may not use (403, code 10000), whether or not that
// account exists. Errors of the face's own shape (*Error) are written here;
// any other goes to the shared wrapper, which calls render.
func (s *Server) checked(fn web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.check(r); err != nil {
			return err
		}
		return fn(w, r)
	}
}

func (s *Server) check(r *http.Request) error {
	if r.URL.RawQuery != "" {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			return invalid("malformed query string")
		}
	}
	for _, name := range []string{"account_id", "store_id", "secret_id"} {
		if v := r.PathValue(name); v != "" && !coffer.IsID(v) {
			return badRoute(r)
		}
	}
	if err := s.Secrets.RequireAccount(r.Context(), r.PathValue("account_id")); err != nil {
		if coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			return err // the refusal could not be recorded
		}
		return &Error{Status: http.StatusForbidden, Errors: []Message{{Code: codeAuth, Message: "Authentication error"}}}
	}
	return nil
}

func noRoute(w http.ResponseWriter, r *http.Request) error {
	return &Error{Status: http.StatusNotFound, Errors: []Message{{Code: codeNoRoute, Message: "No route for that URI"}}}
}

// badRoute is Cloudflare's answer to a path whose ids are malformed.
func badRoute(r *http.Request) *Error {
	path := strings.TrimPrefix(r.URL.Path, "/cloudflare")
	return &Error{Status: http.StatusBadRequest, Errors: []Message{
		{Code: codeBadID, Message: "Could not route to " + path + ", perhaps your object identifier is invalid?"},
		{Code: codeNoRoute, Message: "No route for that URI"},
	}}
}

// Error codes. Cloudflare documents few of them for the Secrets Store: 1003
// (maximum_stores_exceeded) is seen in the wild, 7003/7000 and 10000 are
// Cloudflare-wide; the rest are coffer's choice in the product's 1000 range.
const (
	codeInternal      = 1000
	codeInvalid       = 1001
	codeNotFound      = 1002
	codeMaxStores     = 1003
	codeMaxSecrets    = 1004
	codeConflict      = 1005
	codeStoreNotEmpty = 1006
	codeTooLarge      = 1007
	codeRateLimited   = 1008
	codeUnavailable   = 1009
	codeNoRoute       = 7000
	codeBadID         = 7003
	codeAuth          = 10000
)

// Message is an item of the envelope's errors or messages.
type Message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Error is a failure in Cloudflare's terms: an HTTP status and the errors of
// the envelope. Messages never hold a secret value.
type Error struct {
	Status int
	Errors []Message
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cloudflare error: status=" + strconv.Itoa(e.Status))
	for _, m := range e.Errors {
		b.WriteString(" " + strconv.Itoa(m.Code) + ":" + m.Message)
	}
	return b.String()
}

func cfError(status, code int, message string) *Error {
	return &Error{Status: status, Errors: []Message{{Code: code, Message: message}}}
}

func invalid(message string) *Error { return cfError(http.StatusBadRequest, codeInvalid, message) }

// RenderError returns the face's error for a coffer error code and public
// message (from authentication, decoding, the service, or the server's
// overload shedding, which answers before any face sees the request). It is
// the face's one table from coffer codes to Cloudflare statuses and codes.
func RenderError(code, message string) web.Renderer {
	var e *Error
	switch code {
	case coffer.EINVALID:
		e = invalid(message)
	case coffer.EUNAUTHORIZED:
		e = cfError(http.StatusUnauthorized, codeAuth, "Authentication error")
	case coffer.EFORBIDDEN:
		e = cfError(http.StatusForbidden, codeAuth, "Authentication error: "+message)
	case coffer.ENOTFOUND:
		e = cfError(http.StatusNotFound, codeNotFound, message)
	case coffer.ECONFLICT, coffer.EPRECONDITION:
		e = cfError(http.StatusConflict, codeConflict, message)
	case coffer.ETOOLARGE:
		e = cfError(http.StatusRequestEntityTooLarge, codeTooLarge, message)
	case coffer.ERATELIMIT:
		e = cfError(http.StatusTooManyRequests, codeRateLimited, message)
	case coffer.EUNAVAILABLE:
		e = cfError(http.StatusServiceUnavailable, codeUnavailable, message)
	default:
		e = cfError(http.StatusInternalServerError, codeInternal, "internal error")
	}
	return e
}

// Render writes a failure envelope. Cloudflare's SDKs retry 408, 409, 429
// and 5xx unless told otherwise: every 4xx but 408 and 429 says
// x-should-retry: false, because sending it again cannot succeed.
func (e *Error) Render(w http.ResponseWriter, r *http.Request) {
	if e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests {
		w.Header().Set("X-Should-Retry", "false")
	}
	_ = web.WriteJSON(w, e.Status, envelope{Errors: e.Errors, Messages: []Message{}})
}

// envelope is every response body.
type envelope struct {
	Success    bool        `json:"success"`
	Errors     []Message   `json:"errors"`
	Messages   []Message   `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

// resultInfo is the page information of a listing.
type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// writeResult writes a success envelope.
func writeResult(w http.ResponseWriter, status int, result any, info *resultInfo) error {
	return web.WriteJSON(w, status, envelope{Success: true, Errors: []Message{}, Messages: []Message{}, Result: result, ResultInfo: info})
}
