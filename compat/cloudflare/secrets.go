package cloudflare

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// AttrUnused is the attribute that marks a secret whose value no one has
// read yet: Cloudflare shows a new secret as pending until it is first
// used. The face sets it on the secrets it creates; registered with the
// service (service.Options.FirstReadClears), it is removed on the first
// value read, through any face.
const AttrUnused = "unused"

// unused returns the attributes of a secret this face creates (AttrUnused).
func unused() map[string]string { return map[string]string{AttrUnused: "1"} }

// secret resolves the path's secret_id in store st; deleted secrets are
// found too (their status says so) when deleted is set.
func (s *Server) secret(ctx context.Context, st *coffer.Store, id string, deleted bool) (*coffer.Secret, error) {
	// coffer resolves an id first; it falls back to a (legacy) secret named
	// like the id only when no secret has it, and that is not this id's.
	sec, err := s.Secrets.Secret(ctx, st.ID, id)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && (sec.ID != id || !deleted && sec.Status == coffer.StatusDeleted) {
		return nil, cfError(http.StatusNotFound, codeNotFound, "secret_not_found")
	}
	return sec, err
}

var secretOrders = []string{"created", "name", "comment", "modified", "status"}

// storageOrders are the orders of secretOrders that the service sorts by.
var storageOrders = map[string]coffer.SecretOrder{
	"created": coffer.OrderCreated, "name": coffer.OrderName, "modified": coffer.OrderUpdated,
}

// maxOffset is the largest offset asked of the service, far past the end
// of any store.
const maxOffset = 1 << 30

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	lq, err := parseList(r, secretOrders, true)
	if err != nil {
		return err
	}
	st, err := s.store(r)
	if err != nil {
		return err
	}
	var secrets []*coffer.Secret
	var info *resultInfo
	if order, ok := storageOrders[lq.order]; ok && lq.search == "" && len(lq.scopes) == 0 {
		// The service orders, pages and counts.
		sp, err := s.Secrets.Secrets(r.Context(), st.ID, coffer.ListSecrets{
			Page: coffer.Page{Limit: lq.perPage}, Order: order, Desc: lq.desc,
			Offset: min((lq.page-1)*lq.perPage, maxOffset), Total: true,
		})
		if err != nil {
			return err
		}
		secrets, info = sp.Secrets, pageInfo(lq, sp.Total, len(sp.Secrets))
	} else {
		// Search (name or comment, any case), usage scopes and the orders
		// by comment or status are Cloudflare's own: they are applied
		// here, over the whole store.
		all, err := coffer.AllSecrets(r.Context(), s.Secrets, st.ID, false)
		if err != nil {
			return err
		}
		all = filterSecrets(all, lq)
		sortSecrets(all, lq)
		secrets, info = page(all, lq)
	}
	out := make([]secretJSON, len(secrets))
	for i, sec := range secrets {
		out[i] = toSecret(sec)
	}
	return writeResult(w, http.StatusOK, out, info)
}

// createSecretRequest is one item of the array that POST .../secrets takes.
type createSecretRequest struct {
	Name    *string   `json:"name"`
	Value   *string   `json:"value"`
	Scopes  *[]string `json:"scopes"`
	Comment *string   `json:"comment"`
}

// validate checks a secret to create against the account's limits.
func (c *createSecretRequest) validate(l Limits) error {
	switch {
	case c.Name == nil:
		return invalid("name is required")
	case c.Value == nil:
		return invalid("value is required")
	case c.Scopes == nil:
		return invalid("scopes is required")
	}
	if err := validName(*c.Name); err != nil {
		return err
	}
	if err := validValue(*c.Value, l); err != nil {
		return err
	}
	if err := validScopes(*c.Scopes); err != nil {
		return err
	}
	return validComment(c.Comment)
}

func validValue(v string, l Limits) error {
	if v == "" {
		return invalid("value must not be empty")
	} else if len(v) > l.MaxValueSize {
		return invalid("value is larger than " + strconv.Itoa(l.MaxValueSize) + " bytes")
	} else if !utf8.ValidString(v) {
		return invalid("value is not valid UTF-8")
	}
	return nil
}

// createSecrets answers POST .../secrets: an array of secrets in, an array
// of secret objects out. Every item is checked (fields, names, limits)
// before any is written, and the service writes them all or none: a name
// already taken, or the account's secret quota, refuses the whole array,
// also when concurrent requests race for the last places.
func (s *Server) createSecrets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := coffer.CallerFrom(ctx)
	l := s.limits(c.AccountID)
	var reqs []createSecretRequest
	if err := web.DecodeJSON(w, r, maxCreateBody, &reqs); err != nil {
		return err
	}
	if len(reqs) == 0 {
		return invalid("the body must be a non-empty array of secrets")
	}
	names := make(map[string]bool, len(reqs))
	for i := range reqs {
		if err := reqs[i].validate(l); err != nil {
			return err
		}
		if names[*reqs[i].Name] {
			return invalid("secret name " + strconv.Quote(*reqs[i].Name) + " is given twice")
		}
		names[*reqs[i].Name] = true
	}
	st, err := s.store(r)
	if err != nil {
		return err
	}
	in := &coffer.SecretBatchPut{Puts: make([]*coffer.SecretPut, len(reqs)), MaxLiveSecrets: l.MaxSecrets}
	for i, req := range reqs {
		in.Puts[i] = &coffer.SecretPut{
			Name: *req.Name, Value: []byte(*req.Value), IfVersion: -1, Comment: req.Comment,
			Scopes: *req.Scopes, Attributes: unused(),
		}
	}
	made, err := s.Secrets.PutSecrets(ctx, st.ID, in)
	var ie *coffer.BatchItemError
	switch {
	case errors.Is(err, coffer.ErrSecretLimit):
		return cfError(http.StatusBadRequest, codeMaxSecrets, "maximum_secrets_exceeded")
	case coffer.ErrorCode(err) == coffer.EPRECONDITION && errors.As(err, &ie) && ie.Index < len(reqs):
		return nameTaken(*reqs[ie.Index].Name)
	case err != nil:
		return err
	}
	out := make([]secretJSON, len(made))
	for i, sec := range made {
		out[i] = toSecret(sec)
	}
	return writeResult(w, http.StatusOK, out, nil)
}

func nameTaken(name string) *Error {
	return cfError(http.StatusConflict, codeConflict, "secret_name_already_exists: "+strconv.Quote(name))
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) error {
	st, err := s.store(r)
	if err != nil {
		return err
	}
	sec, err := s.secret(r.Context(), st, r.PathValue("secret_id"), true)
	if err != nil {
		return err
	}
	return writeResult(w, http.StatusOK, toSecret(sec), nil)
}

// patchSecretRequest is the body of PATCH .../secrets/{id}. The name cannot
// change; a value adds a version.
type patchSecretRequest struct {
	Comment *string   `json:"comment"`
	Scopes  *[]string `json:"scopes"`
	Value   *string   `json:"value"`
}

func (s *Server) patchSecret(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := coffer.CallerFrom(ctx)
	var req patchSecretRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	if err := validComment(req.Comment); err != nil {
		return err
	}
	var scopes []string
	if req.Scopes != nil {
		if scopes = *req.Scopes; scopes == nil {
			scopes = []string{}
		}
		if err := validScopes(scopes); err != nil {
			return err
		}
	}
	if req.Value != nil {
		if err := validValue(*req.Value, s.limits(c.AccountID)); err != nil {
			return err
		}
	}
	st, err := s.store(r)
	if err != nil {
		return err
	}
	sec, err := s.secret(ctx, st, r.PathValue("secret_id"), false)
	if err != nil {
		return err
	}
	switch {
	case req.Value != nil:
		// The write must land on this secret, not on one made since under
		// its name: it requires the version just read.
		sec, err = s.Secrets.PutSecret(ctx, st.ID, &coffer.SecretPut{
			Name: sec.Name, Value: []byte(*req.Value), IfVersion: sec.Version, Comment: req.Comment, Scopes: scopes,
		})
	case req.Comment != nil || req.Scopes != nil:
		sec, err = s.Secrets.UpdateSecret(ctx, st.ID, sec.ID, &coffer.SecretPatch{Comment: req.Comment, Scopes: scopes})
	}
	if coffer.ErrorCode(err) == coffer.EPRECONDITION {
		return cfError(http.StatusConflict, codeConflict, "the secret was changed by another request; read it and try again")
	} else if err != nil {
		return err
	}
	return writeResult(w, http.StatusOK, toSecret(sec), nil)
}

// deleteSecret answers DELETE .../secrets/{id}: a soft delete, 202 and a
// null result. The secret stays recoverable with the native API.
func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	st, err := s.store(r)
	if err != nil {
		return err
	}
	sec, err := s.secret(r.Context(), st, r.PathValue("secret_id"), false)
	if err != nil {
		return err
	}
	if err := s.delete(r.Context(), st, sec); err != nil {
		return err
	}
	return writeResult(w, http.StatusAccepted, nil, nil)
}

func (s *Server) delete(ctx context.Context, st *coffer.Store, sec *coffer.Secret) error {
	_, err := s.Secrets.DeleteSecret(ctx, st.ID, sec.ID, 0)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return cfError(http.StatusNotFound, codeNotFound, "secret_not_found")
	}
	return err
}

// bulkDeleteRequest is the body of DELETE .../secrets.
type bulkDeleteRequest struct {
	IDs []string `json:"ids"`
}

// bulkDelete answers DELETE .../secrets with {"ids": [...]}: every id must
// name a live secret of the store (404 otherwise, and nothing is deleted).
// cloudflare-go and the TypeScript SDK send this request without a body;
// it is refused (400) rather than read as "delete everything". With
// cloudflare-go, pass option.WithJSONSet("ids", ids).
func (s *Server) bulkDelete(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength == 0 {
		return invalid(`ids is required: send {"ids":["<secret id>",...]}`)
	}
	var req bulkDeleteRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	if len(req.IDs) == 0 {
		return invalid(`ids is required: send {"ids":["<secret id>",...]}`)
	} else if len(req.IDs) > coffer.MaxPageSize {
		return invalid("at most " + strconv.Itoa(coffer.MaxPageSize) + " ids per request")
	}
	seen := make(map[string]bool, len(req.IDs))
	for _, id := range req.IDs {
		if !coffer.IsID(id) {
			return invalid("ids must be secret ids of 32 hex digits")
		}
		seen[id] = true
	}
	st, err := s.store(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	secrets := make([]*coffer.Secret, 0, len(seen))
	for _, id := range req.IDs {
		if !seen[id] {
			continue // given twice
		}
		seen[id] = false
		sec, err := s.secret(ctx, st, id, false)
		if err != nil {
			return err
		}
		secrets = append(secrets, sec)
	}
	for _, sec := range secrets {
		if err := s.delete(ctx, st, sec); err != nil {
			return err
		}
	}
	return writeResult(w, http.StatusAccepted, nil, nil)
}

// duplicateRequest is the body of POST .../secrets/{id}/duplicate.
type duplicateRequest struct {
	Name    *string   `json:"name"`
	Scopes  *[]string `json:"scopes"`
	Comment *string   `json:"comment"`
}

// duplicateSecret makes a new secret with the value of another; the value
// stays inside coffer.
func (s *Server) duplicateSecret(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c := coffer.CallerFrom(ctx)
	var req duplicateRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	switch {
	case req.Name == nil:
		return invalid("name is required")
	case req.Scopes == nil:
		return invalid("scopes is required")
	}
	if err := validName(*req.Name); err != nil {
		return err
	} else if err := validScopes(*req.Scopes); err != nil {
		return err
	} else if err := validComment(req.Comment); err != nil {
		return err
	}
	st, err := s.store(r)
	if err != nil {
		return err
	}
	src, err := s.secret(ctx, st, r.PathValue("secret_id"), false)
	if err != nil {
		return err
	}
	if u, err := s.Secrets.Usage(ctx); err != nil {
		return err
	} else if u.Secrets+1 > s.limits(c.AccountID).MaxSecrets {
		return cfError(http.StatusBadRequest, codeMaxSecrets, "maximum_secrets_exceeded")
	}
	scopes := *req.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	// The usage read above answers first; the limit inside the write holds
	// against concurrent creates.
	sec, err := s.Secrets.DuplicateSecret(ctx, st.ID, src.ID, &coffer.SecretDuplicate{
		Name: *req.Name, Comment: req.Comment, Scopes: scopes, Attributes: unused(),
		MaxLiveSecrets: s.limits(c.AccountID).MaxSecrets,
	})
	switch coffer.ErrorCode(err) {
	case "":
	case coffer.ECONFLICT:
		if errors.Is(err, coffer.ErrSecretLimit) {
			return cfError(http.StatusBadRequest, codeMaxSecrets, "maximum_secrets_exceeded")
		}
		if taken, e := s.Secrets.Secret(ctx, st.ID, *req.Name); e == nil && taken.Name == *req.Name {
			return nameTaken(*req.Name)
		}
		return err
	case coffer.ENOTFOUND:
		return cfError(http.StatusNotFound, codeNotFound, "secret_not_found")
	default:
		return err
	}
	return writeResult(w, http.StatusOK, toSecret(sec), nil)
}
