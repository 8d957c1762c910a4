package bytenite

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// accessTokenRequest is the body of POST /access_token.
type accessTokenRequest struct {
	APIKey string `json:"apiKey"`
}

// accessTokenResponse is authAccessTokenResponse. expiresIn is an int64,
// which grpc-gateway writes as a JSON string.
type accessTokenResponse struct {
	Token     string `json:"token"`
	ExpiresIn string `json:"expiresIn"`
	Scope     string `json:"scope"`
}

// accessToken answers POST /access_token: an API key in, a short-lived
// access token out. It needs no Authorization; the service authenticates
// the key (its failures audited and rate-limited) and audits the issue.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) error {
	var req accessTokenRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.APIKey) == "" {
		return errRequired("apiKey")
	}
	ip := web.RemoteIP(r)
	// The context carries what the audit of a failed attempt records.
	ctx := coffer.NewContext(r.Context(), &coffer.Caller{RemoteAddr: ip, RequestID: web.RequestID(r.Context()), Face: s.face.Name})
	at, err := s.Tokens.IssueAccessToken(ctx, coffer.Credential{Token: strings.TrimSpace(req.APIKey), RemoteIP: ip}, s.TokenTTL)
	if err != nil {
		return err
	}
	secs := int64(math.Ceil(at.ExpiresAt.Sub(s.Now()).Seconds()))
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusOK, accessTokenResponse{
		Token: at.Token, ExpiresIn: strconv.FormatInt(max(secs, 0), 10), Scope: scopeString(at.Caller),
	})
}

// signOut answers POST /signout ({}): the envelope, for any valid
// credential. An access token is signed, not stored, so there is nothing to
// withdraw: it stays valid until it expires or its key is revoked. The API
// key is left alone, as signing out of a session leaves the account's keys.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	var req struct{}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	return writeOK(w, r, "signed out")
}

// scopeString describes what a caller may do, OAuth-style: "admin", or its
// scopes in coffer's grammar (store:secret:actions), separated by spaces.
func scopeString(c *coffer.Caller) string {
	if c.Admin {
		return "admin"
	}
	parts := make([]string, len(c.Scopes))
	for i := range c.Scopes {
		parts[i] = c.Scopes[i].String()
	}
	return strings.Join(parts, " ")
}

// keyJSON is an API key as ByteNite lists it; expiresAt is null for a key
// that never expires.
type keyJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	IssuedAt    string  `json:"issuedAt"`
	ExpiresAt   *string `json:"expiresAt"`
	UserID      string  `json:"userId"`
	Revoked     bool    `json:"revoked"`
	Fingerprint string  `json:"fingerprint"`
}

func toKey(k *coffer.APIKey) keyJSON {
	return keyJSON{
		ID: k.ID, Name: k.Name, IssuedAt: protoTime(k.CreatedAt), ExpiresAt: protoTimePtr(k.ExpiresAt),
		UserID: k.PrincipalID, Revoked: k.RevokedAt != nil, Fingerprint: fingerprint(k.ID),
	}
}

// fingerprint identifies a key without anything secret: the SHA-256 of its
// id, in hex. The token's secret part is never stored, so nothing can be
// derived from it.
func fingerprint(id string) string {
	sum := sha256.Sum256([]byte("coffer-api-key:" + id))
	return hex.EncodeToString(sum[:])
}

// listKeys answers GET /api_keys: for an admin key every key of the
// account, for any other the keys of its own principal no wider than
// itself. Revoked keys stay listed, with revoked true.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.Service.APIKeys(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		APIKeys []keyJSON `json:"apiKeys"`
	}{APIKeys: make([]keyJSON, 0, len(keys))}
	for _, k := range keys {
		out.APIKeys = append(out.APIKeys, toKey(k))
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// createKeyRequest is the body of POST /api_keys, which ByteNite does not
// document (its console makes keys): a name and either an expiry or a
// validity, a protobuf Duration such as "2592000s". With neither the key
// never expires.
type createKeyRequest struct {
	Name      string  `json:"name"`
	ExpiresAt *string `json:"expiresAt"`
	Validity  *string `json:"validity"`
}

// createKeyResponse is the answer of ByteNite's older POST /api_key: the
// token, shown only this once, and the key.
type createKeyResponse struct {
	Token  string  `json:"token"`
	APIKey keyJSON `json:"apiKey"`
}

// durationRE is protojson's Duration: seconds with up to 9 fractional
// digits and an "s".
var durationRE = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,9})?s$`)

// expiry reads the key's expiry from expiresAt or validity.
func (req *createKeyRequest) expiry(now time.Time) (*time.Time, error) {
	switch {
	case req.ExpiresAt != nil && req.Validity != nil:
		return nil, coffer.Errorf(coffer.EINVALID, "give expiresAt or validity, not both")
	case req.ExpiresAt != nil:
		t, err := parseTime("expiresAt", *req.ExpiresAt)
		if err != nil {
			return nil, err
		}
		return &t, nil
	case req.Validity != nil:
		v := *req.Validity
		if !durationRE.MatchString(v) {
			return nil, coffer.Errorf(coffer.EINVALID, `validity must be a duration in seconds such as "2592000s"`)
		}
		secs, err := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64)
		if err != nil || secs < 1 || secs > 100*365*24*3600 {
			return nil, coffer.Errorf(coffer.EINVALID, "validity must be between 1 second and 100 years")
		}
		t := now.Add(time.Duration(secs * float64(time.Second))).UTC()
		return &t, nil
	}
	return nil, nil
}

// createKey answers POST /api_keys: a new key of the caller's own
// principal with the caller's powers (admin for an admin, else the
// caller's scopes). The key service bounds its life by the caller's: a key
// made with an access token, admin or not, expires with that token when
// no expiry is asked for, and asking for a later one is refused (403).
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req createKeyRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return errRequired("name")
	}
	exp, err := req.expiry(s.Now())
	if err != nil {
		return err
	}
	k, tok, err := s.Service.CreateOwnAPIKey(r.Context(), req.Name, exp)
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusOK, createKeyResponse{Token: tok, APIKey: toKey(k)})
}

// revokeKey answers POST /api_keys/{id}/revoke. Any body is ignored.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.Service.RevokeAPIKey(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return writeOK(w, r, "API key revoked")
}
