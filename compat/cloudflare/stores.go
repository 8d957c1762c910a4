package cloudflare

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// quota answers GET .../quota: the account's secret limit and how many live
// secrets it holds, in every store, whatever the caller's key may list.
func (s *Server) quota(w http.ResponseWriter, r *http.Request) error {
	c := coffer.CallerFrom(r.Context())
	u, err := s.Secrets.Usage(r.Context())
	if err != nil {
		return err
	}
	type usage struct {
		Quota int `json:"quota"`
		Usage int `json:"usage"`
	}
	return writeResult(w, http.StatusOK, struct {
		Secrets usage `json:"secrets"`
	}{usage{Quota: s.limits(c.AccountID).MaxSecrets, Usage: u.Secrets}}, nil)
}

// store resolves the path's store_id. Only ids name stores here: coffer
// would also take a name, which Cloudflare's API never sends.
func (s *Server) store(r *http.Request) (*coffer.Store, error) {
	id := r.PathValue("store_id")
	st, err := s.Secrets.Store(r.Context(), id)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && st.ID != id {
		return nil, cfError(http.StatusNotFound, codeNotFound, "store_not_found")
	}
	return st, err
}

var storeOrders = []string{"created", "name", "modified"}

func (s *Server) listStores(w http.ResponseWriter, r *http.Request) error {
	lq, err := parseList(r, storeOrders, false)
	if err != nil {
		return err
	}
	sp, err := s.Secrets.ListStores(r.Context(), coffer.ListStores{
		Order: storageOrders[lq.order], Desc: lq.desc, Limit: lq.perPage,
		Offset: min((lq.page-1)*lq.perPage, maxOffset), Total: true,
	})
	if err != nil {
		return err
	}
	info := pageInfo(lq, sp.Total, len(sp.Stores))
	out := make([]storeJSON, len(sp.Stores))
	for i, st := range sp.Stores {
		out[i] = toStore(st)
	}
	return writeResult(w, http.StatusOK, out, info)
}

// createStoreRequest is the body of POST .../stores. cloudflare-go up to
// v6.6 sent an array of them and read an array back; later clients send one
// object. Both are served.
type createStoreRequest struct {
	Name *string `json:"name"`
}

func (s *Server) createStore(w http.ResponseWriter, r *http.Request) error {
	var raw json.RawMessage
	if err := web.DecodeJSON(w, r, maxBody, &raw); err != nil {
		return err
	}
	var reqs []createStoreRequest
	array := bytes.HasPrefix(bytes.TrimSpace(raw), []byte("["))
	if array {
		if err := decodeStrict(raw, &reqs); err != nil {
			return err
		}
		if len(reqs) == 0 {
			return invalid("at least one store is required")
		}
	} else {
		var one createStoreRequest
		if err := decodeStrict(raw, &one); err != nil {
			return err
		}
		reqs = []createStoreRequest{one}
	}
	for i, req := range reqs {
		if req.Name == nil || *req.Name == "" {
			return invalid("name is required")
		} else if err := coffer.ValidateName("store", *req.Name); err != nil {
			return err
		}
		for _, prev := range reqs[:i] {
			if *prev.Name == *req.Name {
				return invalid("store name " + strconv.Quote(*req.Name) + " is given twice")
			}
		}
	}
	// The service makes every store or none, and checks the account's
	// store limit inside the same write.
	ctx := r.Context()
	in := make([]*coffer.StoreCreate, len(reqs))
	for i, req := range reqs {
		in[i] = &coffer.StoreCreate{Name: *req.Name}
	}
	made, err := s.Secrets.CreateStores(ctx, in, s.limits(coffer.CallerFrom(ctx).AccountID).MaxStores)
	switch {
	case errors.Is(err, coffer.ErrStoreLimit):
		return cfError(http.StatusBadRequest, codeMaxStores, "maximum_stores_exceeded")
	case coffer.ErrorCode(err) == coffer.ECONFLICT:
		return cfError(http.StatusConflict, codeConflict, "store_name_already_exists")
	case err != nil:
		return err
	}
	out := make([]storeJSON, len(made))
	for i, st := range made {
		out[i] = toStore(st)
	}
	if array {
		return writeResult(w, http.StatusOK, out, nil)
	}
	return writeResult(w, http.StatusOK, out[0], nil)
}

func (s *Server) getStore(w http.ResponseWriter, r *http.Request) error {
	st, err := s.store(r)
	if err != nil {
		return err
	}
	return writeResult(w, http.StatusOK, toStore(st), nil)
}

// deleteStore answers DELETE .../stores/{id}: a store that holds live
// secrets is deleted only with force=true (409 store_not_empty otherwise),
// and its secrets go with it.
func (s *Server) deleteStore(w http.ResponseWriter, r *http.Request) error {
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		var err error
		if force, err = strconv.ParseBool(v); err != nil {
			return invalid("force must be true or false")
		}
	}
	st, err := s.store(r)
	if err != nil {
		return err
	}
	err = s.Secrets.DeleteStore(r.Context(), st.ID, force)
	switch coffer.ErrorCode(err) {
	case "":
	case coffer.ECONFLICT:
		return cfError(http.StatusConflict, codeStoreNotEmpty, "store_not_empty")
	case coffer.ENOTFOUND:
		return cfError(http.StatusNotFound, codeNotFound, "store_not_found")
	default:
		return err
	}
	return writeResult(w, http.StatusOK, nil, nil)
}

// decodeStrict decodes an already size-checked, UTF-8-checked body,
// refusing unknown fields and trailing data.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("invalid JSON body: " + jsonProblem(err))
	}
	if dec.More() {
		return invalid("invalid JSON body: more than one value")
	}
	return nil
}

// jsonProblem describes a decode error without quoting the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the body must be " + jsonKind(typ.Type)
		}
		return "field " + strconv.Quote(typ.Field) + " must be " + jsonKind(typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed"
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a number"
}
