// Package web is the HTTP plumbing every face shares: handlers that return
// errors, one wrapper that renders them in the face's own shape, strict JSON
// decoding, authentication, request ids, metrics and panic recovery.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/prometheus/client_golang/prometheus"
)

// HandlerFunc is an HTTP handler that returns its failure instead of
// writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Status maps an error code to its HTTP status. It is the one table for the
// native API; faces with other conventions map codes themselves.
func Status(code string) int {
	switch code {
	case coffer.EINVALID:
		return http.StatusBadRequest
	case coffer.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case coffer.EFORBIDDEN:
		return http.StatusForbidden
	case coffer.ENOTFOUND:
		return http.StatusNotFound
	case coffer.ECONFLICT:
		return http.StatusConflict
	case coffer.EPRECONDITION:
		return http.StatusPreconditionFailed
	case coffer.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case coffer.ERATELIMIT:
		return http.StatusTooManyRequests
	case coffer.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Face is one API served over the shared model: its name (recorded on every
// caller and audit event), how it authenticates, and how it renders errors.
type Face struct {
	Name string
	Auth coffer.Authenticator
	Log  *slog.Logger
	// Token extracts the credential from a request ("" when absent).
	Token func(r *http.Request) string
	// Errors is the face's one table from coffer error codes to its own
	// errors: it returns the error, in the face's shape, for a code and a
	// public message.
	Errors func(code, message string) Renderer
}

// Renderer is an error in a face's own shape: it writes itself, status,
// headers and body, in the face's format. A handler may return one (wrapped
// or not); Face.Error writes it as it is.
type Renderer interface {
	error
	Render(w http.ResponseWriter, r *http.Request)
}

// Public wraps a handler that needs no credential.
func (f *Face) Public(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer f.recover(w, r)
		if err := h(w, r); err != nil {
			f.Error(w, r, err)
		}
	})
}

// Authed wraps a handler that needs a valid credential: it authenticates the
// request and puts the caller in its context.
func (f *Face) Authed(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer f.recover(w, r)
		ip, id := RemoteIP(r), RequestID(r.Context())
		// The context carries what the audit of a failed attempt records.
		actx := coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: id, Face: f.Name})
		c, err := f.Auth.Authenticate(actx, coffer.Credential{Token: f.Token(r), RemoteIP: ip})
		if err != nil {
			f.Error(w, r, err)
			return
		}
		c.RemoteAddr, c.RequestID, c.Face = ip, id, f.Name
		r = r.WithContext(coffer.NewContext(r.Context(), c))
		if err := h(w, r); err != nil {
			f.Error(w, r, err)
		}
	})
}

// Error renders err: a Renderer renders itself, and a coffer error is
// rendered as the face's error for its code (Errors). Other errors are
// logged with the request id and answered as "internal error": their text
// may hold details that are not the caller's business.
func (f *Face) Error(w http.ResponseWriter, r *http.Request, err error) {
	var own Renderer
	if errors.As(err, &own) {
		own.Render(w, r)
		return
	}
	code, msg := coffer.ErrorCode(err), coffer.ErrorMessage(err)
	var mbe *http.MaxBytesError
	var ce *coffer.Error
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ce.RetryAfter+time.Second-1)/time.Second)))
	}
	switch {
	case errors.As(err, &mbe):
		code, msg = coffer.ETOOLARGE, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		code, msg = coffer.EUNAVAILABLE, "request canceled"
	case code == coffer.EINTERNAL:
		f.Log.Error("request failed", "err", err, "request_id", RequestID(r.Context()), "method", r.Method, "route", r.Pattern)
	case code == coffer.EUNAVAILABLE && !isBare(err):
		// The caller sees only "unavailable"; the operator needs the
		// cause (a refused connection, a full pool), once in a while:
		// while the database is down every request fails alike.
		if n, ok := unavailableLog.due(time.Now()); ok {
			f.Log.Warn("request failed: storage unavailable", "err", err, "request_id", RequestID(r.Context()),
				"route", r.Pattern, "suppressed", n)
		}
	}
	f.Errors(code, msg).Render(w, r)
}

// isBare reports whether err is a coffer error with no cause behind it.
func isBare(err error) bool {
	_, ok := err.(*coffer.Error)
	return ok
}

// unavailableLog spaces the logging of unavailable storage to one line a
// second, across faces, counting the lines it suppressed.
var unavailableLog logSpacer

type logSpacer struct {
	last       atomic.Int64 // UnixNano of the last line
	suppressed atomic.Int64
}

// due reports whether a line may be logged at now and how many were
// suppressed since the last one.
func (l *logSpacer) due(now time.Time) (int64, bool) {
	last := l.last.Load()
	if now.UnixNano()-last < int64(time.Second) || !l.last.CompareAndSwap(last, now.UnixNano()) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

func (f *Face) recover(w http.ResponseWriter, r *http.Request) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		// The panic value is not logged: it could quote a request's data.
		f.Log.Error("handler panic", "request_id", RequestID(r.Context()), "route", r.Pattern, "type", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
		f.Errors(coffer.EINTERNAL, "internal error").Render(w, r)
	}
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// RemoteIP returns the client address without its port.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// DecodeJSON reads a JSON body of at most limit bytes into v, strictly: the
// body must be valid UTF-8 and pair its surrogate escapes (encoding/json
// would otherwise replace bad bytes and unpaired escapes with U+FFFD
// silently), hold exactly one JSON value, have no unknown fields and no
// object key twice in one object (DuplicateKey) and no field name that
// matches only in another case (FoldedField). If v has a Validate method it
// is called.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := ReadBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return coffer.Errorf(coffer.EINVALID, "request body is empty; want a JSON object")
	}
	if !utf8.Valid(body) {
		return coffer.Errorf(coffer.EINVALID, "request body is not valid UTF-8")
	}
	if !PairedSurrogates(body) {
		return ErrUnpairedSurrogate()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return coffer.Errorf(coffer.EINVALID, "invalid JSON body: %s", jsonProblem(err))
	}
	// Anything but white space after the value is refused; dec.More alone
	// would let a stray ']' or '}' through.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return coffer.Errorf(coffer.EINVALID, "invalid JSON body: more than one value")
	}
	if at := DuplicateKey(body); at >= 0 {
		return ErrDuplicateKey(at)
	}
	if at, key := FoldedField(body, v); at >= 0 {
		return coffer.Errorf(coffer.EINVALID, "invalid JSON body: unknown field %s", strconv.Quote(key))
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		return val.Validate()
	}
	return nil
}

// ErrUnpairedSurrogate returns the EINVALID refusal of a body that
// PairedSurrogates refuses, for faces that decode bodies by rules of their
// own.
func ErrUnpairedSurrogate() error {
	return coffer.Errorf(coffer.EINVALID, "invalid JSON body: a \\u escape of a UTF-16 surrogate (D800-DFFF) is not half of a pair")
}

// PairedSurrogates reports whether every \u escape of a UTF-16 surrogate in
// a JSON text is half of a pair: a high surrogate (\uD800-\uDBFF) followed
// at once by a low one (\uDC00-\uDFFF), which together encode one character.
// encoding/json decodes an unpaired one as U+FFFD without an error, so a
// value would be stored altered; faces refuse such bodies instead. It scans
// the bytes once without parsing: a backslash escapes the byte after it, and
// outside strings a backslash is a syntax error that decoding reports. It
// runs on every request body and allocates nothing.
func PairedSurrogates(body []byte) bool {
	for i := 0; i < len(body); i++ {
		j := bytes.IndexByte(body[i:], '\\')
		if j < 0 {
			return true
		}
		i += j + 1 // the escaped byte
		u, ok := escapedRune(body, i)
		if !ok {
			continue // not \uXXXX: another escape, or one decoding refuses
		}
		i += 4 // the last hex digit
		switch {
		case 0xDC00 <= u && u <= 0xDFFF:
			return false // a low surrogate with no high one before it
		case 0xD800 <= u && u <= 0xDBFF:
			if i+2 >= len(body) || body[i+1] != '\\' {
				return false
			}
			lo, ok := escapedRune(body, i+2)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// escapedRune returns the code unit of the escape "uXXXX" at body[i:], or
// false when there is none.
func escapedRune(body []byte, i int) (rune, bool) {
	if i+4 >= len(body) || body[i] != 'u' {
		return 0, false
	}
	var u rune
	for _, c := range body[i+1 : i+5] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		u = u<<4 | rune(c)
	}
	return u, true
}

// ReadBody reads a request body of at most limit bytes. Beyond the limit it
// returns the *http.MaxBytesError that Error renders as ETOOLARGE. A body
// that the client stops sending (cut off by the server's read deadline, as
// a slowloris client is) or ends before its Content-Length is the client's
// fault, EINVALID, not an internal error.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case err == nil, errors.As(err, &mbe):
		return body, err
	case errors.As(err, &ne) && ne.Timeout():
		return nil, coffer.Errorf(coffer.EINVALID, "request body was not received in time")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, coffer.Errorf(coffer.EINVALID, "request body ended before its declared length")
	}
	return nil, fmt.Errorf("read request body: %w", err)
}

// JSONProblem describes an encoding/json decode error for a caller, without
// quoting the body, as DecodeJSON does: for faces that decode bodies by
// rules of their own.
func JSONProblem(err error) string { return jsonProblem(err) }

// jsonProblem describes a decode error without quoting the body: the
// message of a type error names the field, never the value.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ) && typ.Field == "":
		return "the body must be a JSON " + jsonKind(typ.Type)
	case errors.As(err, &typ):
		return "field " + strconv.Quote(typ.Field) + " must be " + jsonKind(typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed"
}

// jsonKind names the JSON form of a Go type, for error messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "value of another type"
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	return WriteRaw(w, status, append(b, '\n'))
}

// WriteRaw writes an already encoded JSON body.
func WriteRaw(w http.ResponseWriter, status int, body []byte) error {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing left to tell it
	return nil
}

type requestIDKey struct{}

// RequestID returns the request id that Middleware put in ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts 1-64 characters that are safe in a header and a log.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Metrics are the server's request metrics, labelled by route pattern and
// status: never by anything a caller chooses, such as a secret name.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the request metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coffer_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Middleware gives every request an id (kept from X-Request-Id when safe,
// echoed in the response), counts and times it, and logs it at debug level.
func Middleware(next http.Handler, m *Metrics, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = idPrefix + "-" + strconv.FormatUint(idCounter.Add(1), 10)
		}
		w.Header()["X-Request-Id"] = []string{id}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
		if log.Enabled(r.Context(), slog.LevelDebug) {
			log.Debug("request", "request_id", id, "method", r.Method, "route", route, "status", sw.status, "duration", elapsed, "remote", RemoteIP(r))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
