package truefoundry

import (
	"context"
	"net/http"
	"strconv"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// located is a secret with its group.
type located struct {
	st  *coffer.Store
	sec *coffer.Secret
}

// secretByID finds a live secret by id, in whichever group holds it: one
// lookup, since TrueFoundry's secret paths carry no group. A deleted secret,
// or one of another tenant, is not found.
func (s *Server) secretByID(ctx context.Context, id string) (located, error) {
	missing := notFound("Secret " + strconv.Quote(id) + " not found")
	if !coffer.IsID(id) {
		return located{}, missing
	}
	sec, err := s.Secrets.SecretByID(ctx, id)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && sec.Status == coffer.StatusDeleted {
		return located{}, missing
	} else if err != nil {
		return located{}, err
	}
	st, err := s.Secrets.Store(ctx, sec.StoreID)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return located{}, missing
	} else if err != nil {
		return located{}, err
	}
	return located{st, sec}, nil
}

// listSecretsRequest is the body of POST /secrets, a listing.
type listSecretsRequest struct {
	Limit         *int     `json:"limit"`
	Offset        *int     `json:"offset"`
	SecretFQNs    []string `json:"secretFqns"`
	SecretGroupID *string  `json:"secretGroupId"`
	WithValue     bool     `json:"withValue"`
}

// listSecrets answers POST /secrets: the secrets of one group
// (secretGroupId), the ones named by secretFqns (tenant:group:key, with or
// without tfy-secret://), both (those of the group among the named), or
// every secret the caller may see; by group name, then key. Values only
// with withValue, read through the service and audited.
func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req listSecretsRequest
	if err := decodeOptional(w, r, maxBody, &req); err != nil {
		return err
	}
	limit, offset := 100, 0
	if req.Limit != nil {
		if limit = *req.Limit; limit < 1 || limit > coffer.MaxPageSize {
			return invalid("limit", "limit must be an integer from 1 to "+strconv.Itoa(coffer.MaxPageSize))
		}
	}
	if req.Offset != nil {
		if offset = *req.Offset; offset < 0 || offset > maxOffset {
			return invalid("offset", "offset must be an integer of at least 0")
		}
	}
	if len(req.SecretFQNs) > coffer.MaxPageSize {
		return invalid("secretFqns", "at most "+strconv.Itoa(coffer.MaxPageSize)+" secretFqns")
	}
	var want map[wanted]bool
	if req.SecretFQNs != nil {
		want = make(map[wanted]bool, len(req.SecretFQNs))
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	for i, f := range req.SecretFQNs {
		tenant, group, key, ok := parseFQN(f)
		if !ok {
			return invalid("secretFqns["+strconv.Itoa(i)+"]", "secret FQN must be tenant:group:key or tfy-secret://tenant:group:key")
		}
		if tenant == v.tenant() {
			want[wanted{group, key}] = true
		}
	}
	var stores []*coffer.Store
	if req.SecretGroupID != nil {
		st, err := s.group(ctx, *req.SecretGroupID)
		if err != nil {
			return err
		}
		if want == nil {
			// One whole group: the service pages and counts it.
			sp, err := s.Secrets.Secrets(ctx, st.ID, coffer.ListSecrets{Page: coffer.Page{Limit: limit}, Offset: offset, Total: true})
			if err != nil {
				return err
			}
			page := make([]located, len(sp.Secrets))
			for i, sec := range sp.Secrets {
				page[i] = located{st, sec}
			}
			return s.writeSecrets(w, ctx, v, page, req.WithValue, pagination{Total: sp.Total, Offset: offset, Limit: limit})
		}
		stores = []*coffer.Store{st}
	} else if stores, err = coffer.AllStores(ctx, s.Secrets); err != nil {
		return err
	}
	var all []located
	for _, st := range stores {
		if want != nil && !hasGroup(want, st.Name) {
			continue
		}
		secrets, err := coffer.AllSecrets(ctx, s.Secrets, st.ID, false)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND && req.SecretGroupID == nil {
			continue // deleted meanwhile
		} else if err != nil {
			return err
		}
		for _, sec := range secrets {
			if want == nil || want[wanted{st.Name, sec.Name}] {
				all = append(all, located{st, sec})
			}
		}
	}
	lo, hi := window(len(all), offset, limit)
	return s.writeSecrets(w, ctx, v, all[lo:hi], req.WithValue, pagination{Total: len(all), Offset: offset, Limit: limit})
}

// writeSecrets writes a page of a secret listing, with values when asked.
func (s *Server) writeSecrets(w http.ResponseWriter, ctx context.Context, v *view, page []located, withValue bool, p pagination) error {
	out := make([]secretJSON, len(page))
	for i, l := range page {
		out[i] = v.secret(l.st, l.sec)
	}
	if withValue {
		if err := s.fillValues(ctx, page, out); err != nil {
			return err
		}
	}
	return writeList(w, out, p)
}

// wanted is a secret named by an FQN: its group's name and its key.
type wanted struct{ group, key string }

func hasGroup(want map[wanted]bool, group string) bool {
	for k := range want {
		if k.group == group {
			return true
		}
	}
	return false
}

// fillValues reads the values of a page of secrets, one RevealMany per
// group, and sets them on out.
func (s *Server) fillValues(ctx context.Context, page []located, out []secretJSON) error {
	byStore := map[string][]int{}
	var order []string
	for i, l := range page {
		if l.sec.Version == 0 {
			continue // pending: no value yet
		}
		if _, ok := byStore[l.st.ID]; !ok {
			order = append(order, l.st.ID)
		}
		byStore[l.st.ID] = append(byStore[l.st.ID], i)
	}
	for _, id := range order {
		idx := byStore[id]
		ids := make([]string, len(idx)) // by id: the very secrets listed
		for j, i := range idx {
			ids[j] = page[i].sec.ID
		}
		vals, err := s.Secrets.RevealMany(ctx, id, &coffer.RevealQuery{Names: ids})
		if err != nil {
			return err
		}
		got := make(map[string]string, len(vals.Values))
		for _, val := range vals.Values {
			got[val.Name] = string(val.Data)
		}
		for _, i := range idx {
			if val, ok := got[page[i].sec.Name]; ok {
				out[i].Value = &val
			}
		}
	}
	return nil
}

// getSecret answers GET /secrets/{id}: the secret with its latest value
// (an audited read) and its versions, without their values.
func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	l, err := s.secretByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	out := v.secret(l.st, l.sec)
	vs, err := s.Secrets.Versions(ctx, l.st.ID, l.sec.ID)
	if err != nil {
		return err
	}
	out.SecretVersions = v.versions(l.st, l.sec, vs)
	if l.sec.Version > 0 {
		val, err := s.Secrets.Reveal(ctx, l.st.ID, l.sec.ID, 0)
		if err != nil {
			return err
		}
		str := string(val.Data)
		out.Value = &str
	}
	return writeData(w, out)
}

// secretVersions answers GET /secrets/{id}/versions: when values changed,
// never the values; newest first, paged as the group listing is (limit
// 1-1000, default 100, and offset), so that past the end data is [].
func (s *Server) secretVersions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	limit, err := parseInt(r, "limit", 100, 1, coffer.MaxPageSize)
	if err != nil {
		return err
	}
	offset, err := parseInt(r, "offset", 0, 0, maxOffset)
	if err != nil {
		return err
	}
	l, err := s.secretByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	vs, err := s.Secrets.Versions(ctx, l.st.ID, l.sec.ID)
	if err != nil {
		return err
	}
	out := v.versions(l.st, l.sec, vs)
	lo, hi := window(len(out), offset, limit)
	return writeList(w, out[lo:hi], pagination{Total: len(out), Offset: offset, Limit: limit})
}

// deleteSecret answers DELETE /secrets/{id} with the number of secrets
// deleted. The delete is soft: the native API can still undelete it.
func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	if v := r.URL.Query().Get("forceDelete"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return invalid("forceDelete", "forceDelete must be true or false")
		}
	}
	ctx := r.Context()
	l, err := s.secretByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := s.Secrets.DeleteSecret(ctx, l.st.ID, l.sec.ID, 0); coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return notFound("Secret " + strconv.Quote(l.sec.ID) + " not found")
	} else if err != nil {
		return err
	}
	return web.WriteRaw(w, http.StatusOK, []byte("1\n"))
}
