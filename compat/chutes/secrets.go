package chutes

import (
	"context"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Secret attributes: a Chutes secret keeps its purpose and key verbatim
// beside its coffer name.
const (
	AttrPurpose = "chutes.purpose"
	AttrKey     = "chutes.key"
)

// Bounds and rules of purpose and key. A secret is the coffer secret named
// "<purpose>/<key>": purpose is one or more '/'-separated segments and key
// one segment, each of coffer's name characters and never "." or "..", so
// the name is valid and splits one way only (at its last '/'), and
// 126 + 1 + 128 is coffer's 255.
const (
	maxPurpose     = 126
	maxKey         = 128
	purposePattern = `^(?!\.\.?(/|$))(?!.*/\.\.?(/|$))[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`
	keyPattern     = `^(?!\.\.?$)[A-Za-z0-9_.-]+$`
)

// validPurpose implements purposePattern.
func validPurpose(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if !validKey(seg) {
			return false
		}
	}
	return true
}

// validKey implements keyPattern.
func validKey(k string) bool {
	if k == "" || k == "." || k == ".." {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// banned reports whether Chutes refuses a secret key: a secret becomes an
// environment variable of a chute, and these would change how its Python
// runtime or its network behaves.
func banned(key string) bool {
	up := strings.ToUpper(key)
	switch up {
	case "HTTP_PROXY", "HTTPS_PROXY", "HF_HUB_DISABLE_SSL_VERIFY":
		return true
	case "UV_SYSTEM_PYTHON", "PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONWARNINGS":
		return false
	}
	low := strings.ToLower(key)
	return strings.Contains(low, "python") || strings.Contains(low, "sglang") ||
		strings.HasPrefix(low, "sgl_") || strings.HasPrefix(low, "ld_")
}

// secretJSON is Chutes' SecretResponse.
type secretJSON struct {
	SecretID  string `json:"secret_id"`
	Key       string `json:"key"`
	Purpose   string `json:"purpose"`
	CreatedAt string `json:"created_at"`
}

// secretCreated answers a create: Chutes returns its whole row; coffer
// returns it without the value.
type secretCreated struct {
	SecretID  string `json:"secret_id"`
	UserID    string `json:"user_id"`
	Purpose   string `json:"purpose"`
	Key       string `json:"key"`
	CreatedAt string `json:"created_at"`
}

// purposeKey returns a secret's purpose and key: its attributes, or for a
// secret made through another face, its name split at the last '/'.
func purposeKey(sec *coffer.Secret) (purpose, key string) {
	p, okP := sec.Attributes[AttrPurpose]
	k, okK := sec.Attributes[AttrKey]
	if okP && okK {
		return p, k
	}
	i := strings.LastIndexByte(sec.Name, '/')
	return sec.Name[:max(i, 0)], sec.Name[i+1:]
}

func toSecretJSON(sec *coffer.Secret) secretJSON {
	p, k := purposeKey(sec)
	return secretJSON{SecretID: dashed(sec.ID), Key: k, Purpose: p, CreatedAt: timestamp(sec.CreatedAt)}
}

// store returns the account's Chutes store, creating it when create is set
// and it is missing (a concurrent creation is fine).
func (s *Server) store(ctx context.Context, create bool) (*coffer.Store, error) {
	st, err := s.Secrets.Store(ctx, StoreName)
	if coffer.ErrorCode(err) != coffer.ENOTFOUND || !create {
		return st, err
	}
	st, err = s.Secrets.CreateStore(ctx, &coffer.StoreCreate{Name: StoreName, Comment: "Chutes secrets"})
	if coffer.ErrorCode(err) == coffer.ECONFLICT {
		return s.Secrets.Store(ctx, StoreName)
	}
	return st, err
}

var errDuplicate = &Error{Status: http.StatusConflict, Detail: "A secret already exists for this purpose with this key."}

// createSecret answers POST /secrets/: {purpose, key, value}, all required
// strings. The secret's id is Chutes' uuid5 of (owner, purpose, key); a
// live secret of the same purpose and key is 409. A deleted one (coffer
// deletes are soft) still holds the id: since Chutes' deletes are final, it
// is purged and the secret made anew, or, for a key that may not purge,
// made with a fresh id.
func (s *Server) createSecret(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	m, err := readObject(r)
	if err != nil {
		return err
	}
	var bad []Invalid
	f := fields{m: m, loc: []any{"body"}, bad: &bad}
	purpose, okP := f.str("purpose", true)
	key, okK := f.str("key", true)
	value, _ := f.str("value", false)
	if okP && f.checkLen("purpose", purpose, maxPurpose) {
		f.checkPattern("purpose", purpose, purposePattern, validPurpose)
	}
	if okK && f.checkLen("key", key, maxKey) {
		f.checkPattern("key", key, keyPattern, validKey)
	}
	if bad != nil {
		return invalid(bad...)
	}
	if banned(key) {
		return &Error{Status: http.StatusForbidden, Detail: "Banned secret key: " + key}
	}
	c := coffer.CallerFrom(ctx)
	st, err := s.store(ctx, true)
	if err != nil {
		return err
	}
	in := &coffer.SecretPut{
		Name: purpose + "/" + key, Value: []byte(value), IfVersion: -1, ID: secretID(c.AccountID, purpose, key),
		Attributes: map[string]string{AttrPurpose: purpose, AttrKey: key},
	}
	sec, err := s.Secrets.PutSecret(ctx, st.ID, in)
	if coffer.ErrorCode(err) == coffer.ECONFLICT {
		// The id is taken, by a deleted secret of this purpose and key
		// (named in.Name). Purging it is the face's choice, made only for a
		// key that may: one that may not is not refused (and audited) for a
		// purge it did not ask for, and gets a fresh id.
		switch purged, err := s.Secrets.PurgeIfAllowed(ctx, st.ID, in.ID); coffer.ErrorCode(err) {
		case "":
			if !purged {
				in.ID = ""
			}
		case coffer.ENOTFOUND: // not in this store
			in.ID = ""
		case coffer.ECONFLICT: // live after all
			return errDuplicate
		default:
			return err
		}
		sec, err = s.Secrets.PutSecret(ctx, st.ID, in)
	}
	switch coffer.ErrorCode(err) {
	case "":
	case coffer.EPRECONDITION, coffer.ECONFLICT:
		return errDuplicate
	default:
		return err
	}
	return web.WriteJSON(w, http.StatusOK, secretCreated{
		SecretID: dashed(sec.ID), UserID: dashed(c.PrincipalID), Purpose: purpose, Key: key, CreatedAt: timestamp(sec.CreatedAt),
	})
}

// listSecrets answers GET /secrets/: the account's Chutes secrets that the
// caller may see, newest first, paginated. The service orders, pages and
// counts them; secrets created at the very same time go by name.
func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, err := parsePage(r)
	if err != nil {
		return err
	}
	out := &page[secretJSON]{Page: q.Page, Limit: q.Limit, Items: []secretJSON{}}
	st, err := s.store(ctx, false)
	switch coffer.ErrorCode(err) {
	case "":
	case coffer.ENOTFOUND:
		// No secret yet: an empty list for a caller who could list them.
		if err := s.Secrets.AuthorizeNewStore(ctx, coffer.ActionList, StoreName); err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, out)
	default:
		return err
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	// Past any store's end, an offset asks only for the total.
	lq := coffer.ListSecrets{Page: coffer.Page{Limit: limit}, Order: coffer.OrderCreated, Desc: true, Offset: min(q.Page*limit, maxListOffset), Total: true}
	sp, err := s.Secrets.Secrets(ctx, st.ID, lq)
	if err != nil {
		return err
	}
	out.Total = sp.Total
	for _, sec := range sp.Secrets {
		out.Items = append(out.Items, toSecretJSON(sec))
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// maxListOffset is the largest offset asked of the service, far past the
// end of any store.
const maxListOffset = 1 << 30

var errSecretNotFound = notFound("Secret not found, or does not belong to you")

// secret finds a live secret of the Chutes store by the id in the path.
func (s *Server) secret(ctx context.Context, r *http.Request) (*coffer.Store, *coffer.Secret, error) {
	id, ok := parseID(r.PathValue("secret_id"))
	if !ok {
		return nil, nil, errSecretNotFound
	}
	st, err := s.store(ctx, false)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return nil, nil, errSecretNotFound
	} else if err != nil {
		return nil, nil, err
	}
	sec, err := s.Secrets.Secret(ctx, st.ID, id)
	switch {
	case coffer.ErrorCode(err) == coffer.ENOTFOUND:
		return nil, nil, errSecretNotFound
	case err != nil:
		return nil, nil, err
	case sec.ID != id || sec.Status == coffer.StatusDeleted: // a secret named like the id, or a deleted one
		return nil, nil, errSecretNotFound
	}
	return st, sec, nil
}

// getSecret answers GET /secrets/{secret_id}: the secret without its value.
func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) error {
	_, sec, err := s.secret(r.Context(), r)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, toSecretJSON(sec))
}

// deleteSecret answers DELETE /secrets/{secret_id}. The delete is coffer's
// soft delete: the native API can undelete the secret until the same
// purpose and key is created again through this face.
func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st, sec, err := s.secret(ctx, r)
	if err != nil {
		return err
	}
	if _, err := s.Secrets.DeleteSecret(ctx, st.ID, sec.ID, 0); coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return errSecretNotFound
	} else if err != nil {
		return err
	}
	id := dashed(sec.ID)
	return web.WriteJSON(w, http.StatusOK, struct {
		Status   string `json:"status"`
		SecretID string `json:"secret_id"`
	}{"Successfully deleted secret " + id, id})
}
