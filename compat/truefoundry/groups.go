package truefoundry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// groupMeta is what a group records beyond a store: the integration it was
// created with, who created it, and the manifest it was applied with.
type groupMeta struct {
	integrationID string
	createdBy     string
	manifest      *groupManifest
}

// Store attributes that hold a group's metadata.
const (
	attrIntegration = "truefoundry.integration_id"
	attrCreatedBy   = "truefoundry.created_by"
)

func groupMetaOf(st *coffer.Store) groupMeta {
	return groupMeta{
		integrationID: st.Attributes[attrIntegration],
		createdBy:     st.Attributes[attrCreatedBy],
		manifest:      manifestOf(st.Attributes),
	}
}

// group resolves a group id. Only ids name groups here: coffer would also
// take a name, which TrueFoundry's API never sends.
func (s *Server) group(ctx context.Context, id string) (*coffer.Store, error) {
	st, err := s.Secrets.Store(ctx, id)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && st.ID != id {
		return nil, notFound("Secret group " + strconv.Quote(id) + " not found")
	}
	return st, err
}

// parseInt reads an optional integer query parameter within [min, max].
func parseInt(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		msg := name + " must be an integer"
		if max > min {
			msg += " from " + strconv.Itoa(min) + " to " + strconv.Itoa(max)
		} else {
			msg += " of at least " + strconv.Itoa(min)
		}
		return 0, invalid(name, msg)
	}
	return n, nil
}

// window returns the [offset, offset+limit) part of n items.
func window(n, offset, limit int) (int, int) {
	lo := min(offset, n)
	return lo, min(lo+limit, n)
}

const maxOffset = 1 << 30

// listGroups answers GET /secret-groups: limit (1-1000, default 100),
// offset, fqn (exact, with or without tfy-secret://) and search (a
// substring of the name). Past the end, data is [] so that pagers stop.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	limit, err := parseInt(r, "limit", 100, 1, coffer.MaxPageSize)
	if err != nil {
		return err
	}
	offset, err := parseInt(r, "offset", 0, 0, maxOffset)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	fqn, search := strings.TrimPrefix(q.Get("fqn"), refScheme), q.Get("search")
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	// The service filters, pages and counts the groups; an FQN names one
	// group of the caller's tenant.
	lq := coffer.ListStores{Contains: search, Limit: limit, Offset: offset, Total: true}
	page := &coffer.StorePage{}
	if fqn != "" {
		lq.Name, _ = strings.CutPrefix(fqn, v.tenant()+":")
	}
	// A search or name longer than any group's matches none.
	named := fqn == "" || lq.Name != "" && lq.Name != fqn && len(lq.Name) <= coffer.MaxNameLen
	if named && len(search) <= coffer.MaxNameLen {
		if page, err = s.Secrets.ListStores(ctx, lq); err != nil {
			return err
		}
	}
	out := make([]groupJSON, 0, len(page.Stores))
	for _, st := range page.Stores {
		secrets, err := coffer.AllSecrets(ctx, s.Secrets, st.ID, false)
		if err != nil {
			return err
		}
		out = append(out, v.group(st, secrets))
	}
	return writeList(w, out, pagination{Total: page.Total, Offset: offset, Limit: limit})
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st, err := s.group(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeGroup(w, ctx, st)
}

func (s *Server) writeGroup(w http.ResponseWriter, ctx context.Context, st *coffer.Store) error {
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	secrets, err := coffer.AllSecrets(ctx, s.Secrets, st.ID, false)
	if err != nil {
		return err
	}
	return writeData(w, v.group(st, secrets))
}

// secretInput is one item of the secrets of a group create or update.
type secretInput struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

// validSecrets checks the secrets of a create (every value required) or an
// update (values optional): at least one, keys valid and distinct, values
// within coffer's limits. A key of live, the group's secrets in an update,
// may break the face's name rule: it was written through another face, and
// the update must be able to keep it.
func validSecrets(in []secretInput, needValue bool, live map[string]*coffer.Secret) error {
	if len(in) == 0 {
		if needValue {
			return invalid("secrets", "secrets must contain at least one secret")
		}
		return invalid("secrets", "cannot update secret group with zero secrets")
	}
	if len(in) > coffer.MaxPageSize {
		return invalid("secrets", "at most "+strconv.Itoa(coffer.MaxPageSize)+" secrets per group")
	}
	seen := make(map[string]bool, len(in))
	for i, sec := range in {
		field := "secrets[" + strconv.Itoa(i) + "]"
		if sec.Key == nil || *sec.Key == "" {
			return invalid(field+".key", "key is required")
		}
		if err := validKey(*sec.Key); err != nil && live[*sec.Key] == nil {
			return invalid(field+".key", err.Error())
		}
		// The service refuses a new name of an id's shape too; refused here
		// first, so that a group is written whole or not at all.
		if coffer.IDShaped(*sec.Key) && live[*sec.Key] == nil {
			return invalid(field+".key", "key may not have the shape of an id (32 hex digits, or a UUID)")
		}
		if seen[*sec.Key] {
			return invalid(field+".key", "key "+strconv.Quote(*sec.Key)+" is given twice")
		}
		seen[*sec.Key] = true
		if sec.Value == nil {
			if needValue {
				return invalid(field+".value", "value is required")
			}
			continue
		}
		if len(*sec.Value) > coffer.MaxValueSize {
			return invalid(field+".value", "value is larger than "+strconv.Itoa(coffer.MaxValueSize)+" bytes")
		}
	}
	return nil
}

// keyError is a rule broken by a key or group name; its text names no value.
type keyError string

func (e keyError) Error() string { return string(e) }

// validKey checks a secret key or a group name: coffer's name rule without
// '/', so that the FQN tenant:group:key stays unambiguous.
func validKey(name string) error {
	if !utf8.ValidString(name) || strings.ContainsAny(name, "/:") {
		return keyError("may contain only letters, digits, '_', '-' and '.'")
	}
	if err := coffer.ValidateName("secret", name); err != nil {
		return keyError("may contain only letters, digits, '_', '-' and '.', at most " + strconv.Itoa(coffer.MaxNameLen) + " characters")
	}
	return nil
}

// createGroupRequest is the body of POST /secret-groups.
type createGroupRequest struct {
	Name          *string       `json:"name"`
	IntegrationID *string       `json:"integrationId"`
	Secrets       []secretInput `json:"secrets"`
}

// createGroup answers POST /secret-groups: a store with a first version of
// each secret, made whole or not at all by the service, which checks the
// key's right to write every secret before anything is written.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req createGroupRequest
	if err := decodeGroup(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.Name == nil || *req.Name == "":
		return invalid("name", "name is required")
	case req.IntegrationID == nil || *req.IntegrationID == "":
		return invalid("integrationId", "integrationId is required")
	case req.Secrets == nil:
		return invalid("secrets", "secrets is required")
	}
	if err := validKey(*req.Name); err != nil {
		return invalid("name", "name "+err.Error())
	}
	if err := validSecrets(req.Secrets, true, nil); err != nil {
		return err
	}
	if len(*req.IntegrationID) > 255 || !utf8.ValidString(*req.IntegrationID) {
		return invalid("integrationId", "integrationId must be at most 255 characters of UTF-8")
	}
	attrs := map[string]string{attrIntegration: *req.IntegrationID}
	if c := coffer.CallerFrom(ctx); c != nil {
		attrs[attrCreatedBy] = c.PrincipalID
	}
	in := &coffer.SecretBatchPut{Puts: make([]*coffer.SecretPut, len(req.Secrets))}
	for i, sec := range req.Secrets {
		in.Puts[i] = &coffer.SecretPut{Name: *sec.Key, Value: []byte(*sec.Value), IfVersion: -1}
	}
	st, _, err := s.Secrets.CreateStoreWithSecrets(ctx, &coffer.StoreCreate{Name: *req.Name, Attributes: attrs}, in)
	var ie *coffer.BatchItemError
	if coffer.ErrorCode(err) == coffer.ECONFLICT && !errors.As(err, &ie) {
		return conflict("Secret group with name " + strconv.Quote(*req.Name) + " already exists")
	} else if err != nil {
		return err
	}
	if st, err = s.Secrets.Store(ctx, st.ID); err != nil {
		return err
	}
	return s.writeGroup(w, ctx, st)
}

// updateGroupRequest is the body of PUT /secret-groups/{id}.
type updateGroupRequest struct {
	Secrets []secretInput `json:"secrets"`
}

// updateGroup answers PUT /secret-groups/{id}. The list is the full desired
// state: a key whose value changed gets a new version, a key listed without
// a value keeps its value, a key left out is deleted (soft: the native API
// can undelete it), and a new key needs a value. The service writes it all
// or nothing, after checking the key's right to every write and delete it
// needs.
func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req updateGroupRequest
	if err := decodeGroup(w, r, &req); err != nil {
		return err
	}
	if req.Secrets == nil {
		return invalid("secrets", "secrets is required")
	}
	st, err := s.group(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	current, err := coffer.AllSecrets(ctx, s.Secrets, st.ID, false)
	if err != nil {
		return err
	}
	live := make(map[string]*coffer.Secret, len(current))
	for _, sec := range current {
		live[sec.Name] = sec
	}
	if err := validSecrets(req.Secrets, false, live); err != nil {
		return err
	}
	c := coffer.CallerFrom(ctx)
	var compare []string // ids of existing keys given a value: write only if it changed
	for i, in := range req.Secrets {
		sec := live[*in.Key]
		if sec == nil && in.Value == nil {
			return invalid("secrets["+strconv.Itoa(i)+"].value", "value is required for new secret "+strconv.Quote(*in.Key))
		}
		// Only a value the key may reveal is compared: telling a key that
		// may not whether its value is the one stored would reveal it. The
		// others are written.
		if sec != nil && in.Value != nil && sec.Version > 0 && c != nil {
			if ok, _ := c.Allows(coffer.ActionReveal, st.ID, st.Name, sec.Name); ok {
				compare = append(compare, sec.ID) // by id: the very secret listed
			}
		}
	}
	old := map[string][]byte{}
	if len(compare) > 0 {
		page, err := s.Secrets.RevealMany(ctx, st.ID, &coffer.RevealQuery{Names: compare})
		if err != nil && coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			return err
		}
		if err == nil {
			for _, val := range page.Values {
				old[val.Name] = val.Data
			}
		}
	}
	var puts []*coffer.SecretPut
	keep := make(map[string]bool, len(req.Secrets))
	for _, in := range req.Secrets {
		keep[*in.Key] = true
		if in.Value == nil {
			continue
		}
		sec := live[*in.Key]
		put := &coffer.SecretPut{Name: *in.Key, Value: []byte(*in.Value), IfVersion: -1}
		if sec != nil {
			if prev, ok := old[sec.Name]; ok && string(prev) == *in.Value {
				continue
			}
			put.IfVersion = sec.Version
		}
		puts = append(puts, put)
	}
	in := &coffer.SecretBatchPut{Puts: puts}
	for _, sec := range current {
		if !keep[sec.Name] {
			in.Deletes = append(in.Deletes, sec.ID)
		}
	}
	if len(in.Puts)+len(in.Deletes) > 0 {
		_, err := s.Secrets.PutSecrets(ctx, st.ID, in)
		var ie *coffer.BatchItemError
		if coffer.ErrorCode(err) == coffer.EPRECONDITION && errors.As(err, &ie) && ie.Index < len(puts) {
			return conflict("secret " + strconv.Quote(puts[ie.Index].Name) + " was changed by another request; read the group and try again")
		} else if err != nil {
			return err
		}
	}
	if st, err = s.Secrets.Store(ctx, st.ID); err != nil {
		return err
	}
	return s.writeGroup(w, ctx, st)
}

// deleteGroup answers DELETE /secret-groups/{id}: the group goes with its
// secrets and their versions. forceDelete is about a faulty backing
// integration at TrueFoundry; coffer has none, so it is checked and
// otherwise changes nothing.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if v := r.URL.Query().Get("forceDelete"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return invalid("forceDelete", "forceDelete must be true or false")
		}
	}
	ctx := r.Context()
	st, err := s.group(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.Secrets.DeleteStore(ctx, st.ID, true); coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return notFound("Secret group " + strconv.Quote(st.ID) + " not found")
	} else if err != nil {
		return err
	}
	return writeEmpty(w)
}

// writeEmpty writes the body {} of a delete.
func writeEmpty(w http.ResponseWriter) error {
	return web.WriteRaw(w, http.StatusOK, []byte("{}\n"))
}
