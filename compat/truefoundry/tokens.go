package truefoundry

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Personal access tokens and virtual accounts are coffer API keys, so a
// token minted here works on every face within its scopes. A personal
// access token (PAT) is any live key of the caller's own principal, named
// by the PAT's name; a virtual account (VA) is a service principal with its
// keys (virtual.go). coffer keeps only a keyed hash of a token: a token is
// shown once, when it is minted, and never again.

// tokenRoutes adds the personal-access-token and virtual-account routes,
// when the server has the key and account services they need.
func (s *Server) tokenRoutes(mux *http.ServeMux, h func(web.HandlerFunc) http.Handler) {
	if s.Keys == nil || s.Accounts == nil {
		return
	}
	mux.Handle("GET "+Prefix+"personal-access-tokens", h(s.listPATs))
	mux.Handle("POST "+Prefix+"personal-access-tokens", h(s.createPAT))
	mux.Handle("GET "+Prefix+"personal-access-tokens/{name}", h(s.getOrCreatePAT))
	mux.Handle("DELETE "+Prefix+"personal-access-tokens/{id}", h(s.deletePAT))
	mux.Handle("DELETE "+Prefix+"personal-access-tokens/revoke/all", h(s.revokeAllPATs))

	mux.Handle("GET "+Prefix+"virtual-accounts", h(s.listVAs))
	mux.Handle("PUT "+Prefix+"virtual-accounts", h(s.applyVA))
	mux.Handle("GET "+Prefix+"virtual-accounts/{id}", h(s.getVA))
	mux.Handle("DELETE "+Prefix+"virtual-accounts/{id}", h(s.deleteVA))
	mux.Handle("GET "+Prefix+"virtual-accounts/{id}/token", h(s.vaToken))
}

// Types of the VirtualAccount object: TrueFoundry's manifest types.
const (
	typeVA  = "virtual-account"
	typePAT = "pat"
)

// accountJSON is TrueFoundry's VirtualAccount, the shape of both virtual
// accounts and personal access tokens. Name is not in the SDK's type but in
// TrueFoundry's earlier API reference; the SDK keeps unknown fields, and a
// PAT has no manifest to carry its name (the SDK types the manifest as a
// virtual account's, which a PAT's does not fit).
type accountJSON struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	Type             string      `json:"type"`
	TenantName       string      `json:"tenantName"`
	Manifest         *vaManifest `json:"manifest,omitempty"`
	CreatedBySubject subject     `json:"createdBySubject"`
	CreatedAt        string      `json:"createdAt"`
	UpdatedAt        string      `json:"updatedAt"`
	LastAccessedAt   string      `json:"lastAccessedAt,omitempty"`
	IsExpired        bool        `json:"isExpired"`
	AccountID        string      `json:"accountId"`
	CreatedBy        string      `json:"createdBy,omitempty"`
}

// pat renders a key of the caller's principal as a personal access token.
func (v *view) pat(k *coffer.APIKey, now time.Time) accountJSON {
	sub := v.subject(k.PrincipalID)
	a := accountJSON{
		ID: k.ID, Name: k.Name, Type: typePAT, TenantName: v.tenant(), CreatedBySubject: *sub,
		CreatedAt: isoTime(k.CreatedAt), UpdatedAt: isoTime(k.CreatedAt), IsExpired: !k.Usable(now),
		AccountID: k.AccountID, CreatedBy: sub.SubjectSlug,
	}
	if k.LastUsedAt != nil {
		a.LastAccessedAt = isoTime(*k.LastUsedAt)
	}
	return a
}

// writeToken writes a body that holds a token: never cached.
func writeToken(w http.ResponseWriter, body any) error {
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusOK, body)
}

// liveKeys returns the keys of principal that are not revoked, of those the
// caller may see (KeyService.APIKeys), newest first.
func (s *Server) liveKeys(ctx context.Context, principal string) ([]*coffer.APIKey, error) {
	keys, err := s.Keys.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []*coffer.APIKey
	for _, k := range keys {
		if k.PrincipalID == principal && k.RevokedAt == nil {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b *coffer.APIKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// pats returns the caller's personal access tokens: every key of its own
// principal that is not revoked and that it may see, newest first. Admin
// keys too list only their own principal's: PATs belong to their user.
func (s *Server) pats(ctx context.Context) ([]*coffer.APIKey, error) {
	return s.Secrets.OwnAPIKeys(ctx)
}

// usablePAT returns the caller's usable (not expired) PAT named name, or nil.
func usablePAT(keys []*coffer.APIKey, name string, now time.Time) *coffer.APIKey {
	for _, k := range keys {
		if k.Name == name && k.Usable(now) {
			return k
		}
	}
	return nil
}

// listPATs answers GET /personal-access-tokens: limit (1-1000, default
// 100), offset and nameSearchQuery (a substring of the name). Expired
// tokens are listed with isExpired; revoked ones are gone.
func (s *Server) listPATs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	limit, err := parseInt(r, "limit", 100, 1, coffer.MaxPageSize)
	if err != nil {
		return err
	}
	offset, err := parseInt(r, "offset", 0, 0, maxOffset)
	if err != nil {
		return err
	}
	search := r.URL.Query().Get("nameSearchQuery")
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	keys, err := s.pats(ctx)
	if err != nil {
		return err
	}
	matched := keys[:0]
	for _, k := range keys {
		if strings.Contains(k.Name, search) {
			matched = append(matched, k)
		}
	}
	now := time.Now()
	lo, hi := window(len(matched), offset, limit)
	out := make([]accountJSON, 0, hi-lo)
	for _, k := range matched[lo:hi] {
		out = append(out, v.pat(k, now))
	}
	return writeList(w, out, pagination{Total: len(matched), Offset: offset, Limit: limit})
}

// validPATName checks TrueFoundry's rule for PAT names: 3-36 characters of
// [a-z0-9-], starting with a letter and ending with a letter or digit.
func validPATName(field, name string) error {
	ok := len(name) >= 3 && len(name) <= 36 && 'a' <= name[0] && name[0] <= 'z' && name[len(name)-1] != '-'
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
	}
	if !ok {
		return invalid(field, field+" must be 3-36 characters of lowercase letters, digits and '-', start with a letter and end with a letter or digit")
	}
	return nil
}

// parseExpiry reads an expiry date: RFC 3339, an ISO date-time without a
// zone (taken as UTC), or a date alone, which is valid through that whole
// day (UTC) and so expires at the next midnight. It must be in the future.
func parseExpiry(field, s string, now time.Time) (*time.Time, error) {
	var t time.Time
	var err error
	if t, err = time.Parse(time.DateOnly, s); err == nil {
		t = t.AddDate(0, 0, 1)
	} else if t, err = time.Parse(time.RFC3339, s); err != nil {
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
			if t, err = time.ParseInLocation(layout, s, time.UTC); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, invalid(field, field+" must be an ISO 8601 date (2025-08-01) or date-time (2025-08-01T12:00:00Z)")
	}
	if !t.After(now) {
		return nil, invalid(field, field+" is in the past")
	}
	t = t.UTC()
	return &t, nil
}

// validTokenType accepts the token types coffer issues: opaque ones.
func validTokenType(field string, t *string) error {
	if t == nil || *t == "" || *t == "opaque" {
		return nil
	}
	return invalid(field, field+" must be opaque: coffer issues opaque tokens, not JWTs")
}

// mintPAT makes a PAT of the caller's principal with the caller's power:
// an admin key for an admin caller, otherwise one with the caller's scopes.
// Without expires it expires when the caller's key does, if that key
// expires; no caller, admin or not, may ask for a later expiry (the key
// service decides both). ECONFLICT when a usable PAT of the name exists.
func (s *Server) mintPAT(ctx context.Context, name string, expires *time.Time) (*coffer.APIKey, string, error) {
	keys, err := s.pats(ctx)
	if err != nil {
		return nil, "", err
	}
	if usablePAT(keys, name, time.Now()) != nil {
		return nil, "", conflict("Personal access token with name " + strconv.Quote(name) + " already exists")
	}
	return s.Secrets.CreateOwnAPIKey(ctx, name, expires)
}

// createPATRequest is the body of POST /personal-access-tokens.
type createPATRequest struct {
	Name           *string `json:"name"`
	ExpirationDate *string `json:"expirationDate"`
	AccountName    *string `json:"accountName"`
	TeamName       *string `json:"teamName"`
	TokenType      *string `json:"tokenType"`
}

// createPAT answers POST /personal-access-tokens with {token}, shown once.
// accountName and teamName are accepted and not kept: coffer has no teams,
// and the token belongs to the caller's account.
func (s *Server) createPAT(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req createPATRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	if req.Name == nil || *req.Name == "" {
		return invalid("name", "name is required")
	}
	if err := validPATName("name", *req.Name); err != nil {
		return err
	}
	var expires *time.Time
	if req.ExpirationDate != nil && *req.ExpirationDate != "" {
		var err error
		if expires, err = parseExpiry("expirationDate", *req.ExpirationDate, time.Now()); err != nil {
			return err
		}
	}
	if err := validTokenType("tokenType", req.TokenType); err != nil {
		return err
	}
	_, token, err := s.mintPAT(ctx, *req.Name, expires)
	if err != nil {
		return err
	}
	return writeToken(w, struct {
		Token string `json:"token"`
	}{token})
}

// getOrCreatePAT answers GET /personal-access-tokens/{name}: a new PAT with
// its token when the caller has no usable one of that name. When it has
// one, TrueFoundry returns its token again; coffer cannot (it keeps only a
// hash), so it answers 400 saying so. teamName is accepted and not kept.
func (s *Server) getOrCreatePAT(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if err := validPATName("name", name); err != nil {
		return err
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	keys, err := s.pats(ctx)
	if err != nil {
		return err
	}
	if usablePAT(keys, name, time.Now()) != nil {
		return badRequest("Personal access token " + strconv.Quote(name) + " already exists and its token cannot be shown again: " +
			"coffer keeps only a hash of it. Use the token saved when it was created, or delete the token and create it again")
	}
	k, token, err := s.mintPAT(ctx, name, nil)
	if err != nil {
		return err
	}
	return writeToken(w, struct {
		Data    accountJSON `json:"data"`
		Token   string      `json:"token"`
		Created bool        `json:"created"`
	}{v.pat(k, time.Now()), token, true})
}

// deletePAT answers DELETE /personal-access-tokens/{id}: it revokes one of
// the caller's PATs (404 for any other key) and answers {}.
func (s *Server) deletePAT(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if err := s.Secrets.RevokeOwnAPIKey(ctx, id); coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return notFound("Personal access token " + strconv.Quote(id) + " not found")
	} else if err != nil {
		return err
	}
	return writeEmpty(w)
}

// revokeAllRequest is the body of DELETE /personal-access-tokens/revoke/all.
type revokeAllRequest struct {
	Email *string `json:"email"`
}

// revokeAllPATs answers DELETE /personal-access-tokens/revoke/all (tenant
// admin only): every key of the user principal named by email is revoked.
// coffer principals have names, not emails: email must be the name.
func (s *Server) revokeAllPATs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.revoke", "personal-access-tokens"); err != nil {
		return err
	}
	var req revokeAllRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	if req.Email == nil || *req.Email == "" {
		return invalid("email", "email is required")
	}
	ps, err := s.Accounts.Principals(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ps, func(p *coffer.Principal) bool { return p.Kind == "user" && p.Name == *req.Email })
	if i < 0 {
		return notFound("User " + strconv.Quote(*req.Email) + " not found")
	}
	if err := s.revokeAll(ctx, ps[i].ID, ""); err != nil {
		return err
	}
	return writeEmpty(w)
}

// revokeAll revokes every live key of principal but keep.
func (s *Server) revokeAll(ctx context.Context, principal, keep string) error {
	keys, err := s.liveKeys(ctx, principal)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.ID == keep {
			continue
		}
		if err := s.Keys.RevokeAPIKey(ctx, k.ID); err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
			return err
		}
	}
	return nil
}

// requireAdmin refuses a caller whose key is not admin (403), recording the
// refusal in the audit log.
func (s *Server) requireAdmin(ctx context.Context, action, name string) error {
	return s.Secrets.RequireAdmin(ctx, action, name, "this action needs an admin API key (a tenant admin)")
}
