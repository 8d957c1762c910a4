package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

func (s *Server) createStore(w http.ResponseWriter, r *http.Request) error {
	var in coffer.StoreCreate
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	st, err := s.Secrets.CreateStore(r.Context(), &in)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, st)
}

func (s *Server) listStores(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	page, err := s.Secrets.Stores(r.Context(), coffer.Page{Limit: limit, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, page)
}

func (s *Server) getStore(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Secrets.Store(r.Context(), r.PathValue("store"))
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, st)
}

func (s *Server) patchStore(w http.ResponseWriter, r *http.Request) error {
	var in coffer.StoreUpdate
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	st, err := s.Secrets.UpdateStore(r.Context(), r.PathValue("store"), &in)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, st)
}

func (s *Server) getSecretByID(w http.ResponseWriter, r *http.Request) error {
	sec, err := s.Secrets.SecretByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeSecret(w, http.StatusOK, sec)
}

func (s *Server) deleteStore(w http.ResponseWriter, r *http.Request) error {
	force, err := queryBool(r, "force")
	if err != nil {
		return err
	}
	if err := s.Secrets.DeleteStore(r.Context(), r.PathValue("store"), force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	deleted, err := queryBool(r, "deleted")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.Secrets.Secrets(r.Context(), r.PathValue("store"), coffer.ListSecrets{
		Page: coffer.Page{Limit: limit, Cursor: q.Get("cursor")}, Prefix: q.Get("prefix"), IncludeDeleted: deleted,
	})
	if err != nil {
		return err
	}
	return web.WriteRaw(w, http.StatusOK, secretPageJSON(page))
}

// putSecretRequest is the body of PUT .../secrets/{name}.
type putSecretRequest struct {
	Value     *string           `json:"value"`
	Encoding  string            `json:"encoding"`
	Comment   *string           `json:"comment"`
	Labels    map[string]string `json:"labels"`
	ExpiresAt json.RawMessage   `json:"expires_at"` // see parseExpiry
}

func (p *putSecretRequest) Validate() error {
	if p.Value == nil {
		return coffer.Errorf(coffer.EINVALID, "value is required")
	}
	return nil
}

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) error {
	var in putSecretRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	cas, err := ifMatch(r)
	if err != nil {
		return err
	}
	value, err := coffer.DecodeValue(*in.Value, in.Encoding)
	if err != nil {
		return err
	}
	exp, err := parseExpiry(in.ExpiresAt)
	if err != nil {
		return err
	}
	sec, err := s.Secrets.PutSecret(r.Context(), r.PathValue("store"), &coffer.SecretPut{
		Name: r.PathValue("secret"), Value: value, IfVersion: cas, Comment: in.Comment, Labels: in.Labels, ExpiresAt: exp,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if sec.Version == 1 {
		status = http.StatusCreated
	}
	return writeSecret(w, status, sec)
}

func writeSecret(w http.ResponseWriter, status int, sec *coffer.Secret) error {
	w.Header().Set("ETag", sec.ETag())
	return web.WriteJSON(w, status, sec)
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) error {
	sec, err := s.Secrets.Secret(r.Context(), r.PathValue("store"), r.PathValue("secret"))
	if err != nil {
		return err
	}
	return writeSecret(w, http.StatusOK, sec)
}

// patchSecretRequest is the body of PATCH .../secrets/{secret}.
type patchSecretRequest struct {
	Comment   *string           `json:"comment"`
	Labels    map[string]string `json:"labels"`
	Scopes    []string          `json:"scopes"`
	ExpiresAt json.RawMessage   `json:"expires_at"` // see parseExpiry
}

// parseExpiry reads an expires_at field: absent keeps the expiry (nil), null
// removes it (the zero time), an RFC 3339 time sets it.
func parseExpiry(raw json.RawMessage) (*time.Time, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var t time.Time
	if string(raw) != "null" {
		if err := json.Unmarshal(raw, &t); err != nil || t.IsZero() {
			return nil, coffer.Errorf(coffer.EINVALID, "expires_at must be an RFC 3339 time, or null to remove the expiry")
		}
	}
	return &t, nil
}

func (s *Server) patchSecret(w http.ResponseWriter, r *http.Request) error {
	var req patchSecretRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &req); err != nil {
		return err
	}
	exp, err := parseExpiry(req.ExpiresAt)
	if err != nil {
		return err
	}
	in := coffer.SecretPatch{Comment: req.Comment, Labels: req.Labels, Scopes: req.Scopes, ExpiresAt: exp}
	cas, err := ifMatch(r)
	if err != nil {
		return err
	} else if cas < 0 {
		return coffer.Errorf(coffer.EINVALID, "If-None-Match is only for PUT")
	}
	in.IfVersion = cas
	sec, err := s.Secrets.UpdateSecret(r.Context(), r.PathValue("store"), r.PathValue("secret"), &in)
	if err != nil {
		return err
	}
	return writeSecret(w, http.StatusOK, sec)
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	purge, err := queryBool(r, "purge")
	if err != nil {
		return err
	}
	if purge {
		if err := s.Secrets.PurgeSecret(r.Context(), r.PathValue("store"), r.PathValue("secret")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	cas, err := ifMatch(r)
	if err != nil {
		return err
	} else if cas < 0 {
		return coffer.Errorf(coffer.EINVALID, "If-None-Match is only for PUT")
	}
	sec, err := s.Secrets.DeleteSecret(r.Context(), r.PathValue("store"), r.PathValue("secret"), cas)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, sec)
}

func (s *Server) undeleteSecret(w http.ResponseWriter, r *http.Request) error {
	sec, err := s.Secrets.UndeleteSecret(r.Context(), r.PathValue("store"), r.PathValue("secret"))
	if err != nil {
		return err
	}
	return writeSecret(w, http.StatusOK, sec)
}

// getValue is the hot path: the body is written without reflection.
func (s *Server) getValue(w http.ResponseWriter, r *http.Request) error {
	version, err := queryInt(r, "version")
	if err != nil {
		return err
	}
	v, err := s.Secrets.Reveal(r.Context(), r.PathValue("store"), r.PathValue("secret"), version)
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteRaw(w, http.StatusOK, appendValue(make([]byte, 0, 64+len(v.Name)+len(v.Data)*2), v))
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := s.Secrets.Versions(r.Context(), r.PathValue("store"), r.PathValue("secret"))
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Versions []*coffer.Version `json:"versions"`
	}{vs})
}

type rollbackRequest struct {
	Version int `json:"version"`
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	var in rollbackRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	cas, err := ifMatch(r)
	if err != nil {
		return err
	}
	sec, err := s.Secrets.Rollback(r.Context(), r.PathValue("store"), r.PathValue("secret"), in.Version, cas)
	if err != nil {
		return err
	}
	return writeSecret(w, http.StatusOK, sec)
}

func (s *Server) destroyVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n <= 0 {
		return coffer.Errorf(coffer.EINVALID, "version must be a positive number")
	}
	if err := s.Secrets.DestroyVersion(r.Context(), r.PathValue("store"), r.PathValue("secret"), n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) batchValues(w http.ResponseWriter, r *http.Request) error {
	var in coffer.RevealQuery
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	page, err := s.Secrets.RevealMany(r.Context(), r.PathValue("store"), &in)
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusOK, page)
}

type createKeyRequest struct {
	Name        string         `json:"name"`
	PrincipalID string         `json:"principal_id"`
	Admin       bool           `json:"admin"`
	Scopes      []coffer.Scope `json:"scopes"`
	ExpiresAt   *time.Time     `json:"expires_at"`
	Format      string         `json:"format"` // "" (native) or "chutes"; the service checks it
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var in createKeyRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	// The key service makes a key with neither admin nor a scope (it may do
	// nothing; Chutes' clients ask for such keys), but here it is almost
	// surely a mistake.
	if !in.Admin && len(in.Scopes) == 0 {
		return coffer.Errorf(coffer.EINVALID, "a key that is not admin needs at least one scope")
	}
	k, token, err := s.Keys.CreateAPIKey(r.Context(), &coffer.APIKeyCreate{Name: in.Name, PrincipalID: in.PrincipalID, Admin: in.Admin, Scopes: in.Scopes, ExpiresAt: in.ExpiresAt, Format: in.Format})
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusCreated, struct {
		Key   *coffer.APIKey `json:"key"`
		Token string         `json:"token"`
	}{k, token})
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.Keys.APIKeys(r.Context())
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Keys []*coffer.APIKey `json:"keys"`
	}{keys})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.Keys.RevokeAPIKey(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listAudit serves GET /v1/audit: a page of the account's audit events,
// filtered and ordered on the server. Parameters not listed here are
// ignored, as on every native listing.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := auditQuery(r)
	if err != nil {
		return err
	}
	page, err := s.Audit.AuditEvents(r.Context(), q)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, page)
}

// auditQuery reads the parameters of GET /v1/audit: after, before, limit,
// order (asc or desc), principal, object, action, outcome, since and until
// (RFC 3339). The service checks what they mean together.
func auditQuery(r *http.Request) (coffer.AuditQuery, error) {
	var q coffer.AuditQuery
	var err error
	if q.Limit, err = queryInt(r, "limit"); err != nil {
		return q, err
	}
	if q.After, err = querySeq(r, "after"); err != nil {
		return q, err
	}
	if q.Before, err = querySeq(r, "before"); err != nil {
		return q, err
	}
	v := r.URL.Query()
	switch v.Get("order") {
	case "", "asc":
	case "desc":
		q.Newest = true
	default:
		return q, coffer.Errorf(coffer.EINVALID, "order must be asc or desc")
	}
	q.Principal, q.Object, q.Action, q.Outcome = v.Get("principal"), v.Get("object"), v.Get("action"), v.Get("outcome")
	if q.Since, err = queryTime(r, "since"); err != nil {
		return q, err
	}
	if q.Until, err = queryTime(r, "until"); err != nil {
		return q, err
	}
	return q, nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.Audit.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, rep)
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) error {
	var in coffer.AccountCreate
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	out, err := s.Accounts.CreateAccount(r.Context(), &in)
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	return web.WriteJSON(w, http.StatusCreated, out)
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) error {
	accts, err := s.Accounts.Accounts(r.Context())
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Accounts []*coffer.Account `json:"accounts"`
	}{accts})
}

func (s *Server) createPrincipal(w http.ResponseWriter, r *http.Request) error {
	var in coffer.PrincipalCreate
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	p, err := s.Accounts.CreatePrincipal(r.Context(), &in)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, p)
}

func (s *Server) listPrincipals(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.Accounts.Principals(r.Context())
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Principals []*coffer.Principal `json:"principals"`
	}{ps})
}

type addHotkeyRequest struct {
	Hotkey string `json:"hotkey"`
}

func (r *addHotkeyRequest) Validate() error {
	if r.Hotkey == "" {
		return coffer.Errorf(coffer.EINVALID, "hotkey is required: the SS58 address of an sr25519 key")
	}
	return nil
}

// addHotkey registers a hotkey to the principal of the path, or to the
// caller's own principal on POST /v1/hotkeys.
func (s *Server) addHotkey(w http.ResponseWriter, r *http.Request) error {
	var in addHotkeyRequest
	if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
		return err
	}
	h, err := s.Hotkeys.RegisterHotkey(r.Context(), r.PathValue("id"), in.Hotkey)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, h)
}

func (s *Server) listHotkeys(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.Hotkeys.Hotkeys(r.Context())
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Hotkeys []*coffer.Hotkey `json:"hotkeys"`
	}{hs})
}

func (s *Server) removeHotkey(w http.ResponseWriter, r *http.Request) error {
	if err := s.Hotkeys.RemoveHotkey(r.Context(), r.PathValue("ss58")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
