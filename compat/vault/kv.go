package vault

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// mountType is the mount_type of every KV answer.
const mountType = "kv"

// kv serves every KV v2 path: {mount}/{verb}/{name}.
func (s *Server) kv(w http.ResponseWriter, r *http.Request) error {
	op, err := operation(r)
	if err != nil {
		return err
	}
	kp, err := s.resolve(r.Context(), s.path(r), op == opList)
	if err != nil {
		return err
	}
	switch kp.verb + " " + op {
	case "data read":
		return s.readData(w, r, kp)
	case "data write":
		return s.writeData(w, r, kp)
	case "data patch":
		return s.patchData(w, r, kp)
	case "data delete":
		return s.deleteLatest(w, r, kp)
	case "metadata read":
		return s.readMetadata(w, r, kp)
	case "metadata list":
		return s.list(w, r, kp)
	case "metadata write", "metadata patch":
		return s.writeMetadata(w, r, kp, op == opPatch)
	case "metadata delete":
		return s.deleteMetadata(w, r, kp)
	case "delete write", "undelete write", "destroy write":
		return s.versionsOp(w, r, kp)
	case "subkeys read":
		return s.subkeys(w, r, kp)
	case "config read":
		return s.readConfig(w, r, kp)
	case "config write":
		return s.writeConfig(w, r, kp)
	}
	return errUnsupported
}

// versionMeta is a version's metadata as KV v2 shows it.
type versionMeta struct {
	CreatedTime    string            `json:"created_time"`
	CustomMetadata map[string]string `json:"custom_metadata"`
	DeletionTime   string            `json:"deletion_time"`
	Destroyed      bool              `json:"destroyed"`
	Version        int               `json:"version"`
}

func metaOf(v *coffer.Version, labels map[string]string) versionMeta {
	return versionMeta{CreatedTime: vaultTime(&v.CreatedAt), CustomMetadata: nilIfEmpty(labels),
		DeletionTime: vaultTime(v.DeletedAt), Destroyed: v.DestroyedAt != nil, Version: v.Number}
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// queryInt reads a non-negative integer query parameter (0 when absent).
func queryInt(r *http.Request, name string) (int, error) {
	if r.URL.RawQuery == "" {
		return 0, nil
	}
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxInt {
		return 0, badRequest("%s must be a non-negative integer", name)
	}
	return n, nil
}

// unknownTime stands for a time the caller may not read.
const unknownTime = "0001-01-01T00:00:00Z"

// readVersion reveals a version (the latest when version is 0) with its
// metadata. A version that is deleted or destroyed is answered as Vault
// does, 404 with its metadata and null data; a missing secret or version
// 404 with nothing.
func (s *Server) readVersion(w http.ResponseWriter, r *http.Request, kp kvPath, version int) (*coffer.Value, *versionMeta, error) {
	ctx := r.Context()
	rv, err := s.Service.RevealDetail(ctx, kp.mount, kp.name, version)
	if err == nil {
		// The hot path: one call gives the value and, for a caller that
		// may read it, the metadata. A caller that may only reveal sees
		// no times: the zero time stands for them (clients need a time).
		meta := &versionMeta{Version: rv.Value.Version, CreatedTime: unknownTime}
		if rv.Secret != nil {
			m := metaOf(rv.Version, rv.Secret.Labels)
			meta = &m
		}
		return rv.Value, meta, nil
	} else if !isCode(err, coffer.ENOTFOUND) {
		return nil, nil, err
	}
	// Not served: a deleted or destroyed version answers with its
	// metadata, for a caller that may read it.
	// The version's metadata, for a caller that may read it (asked
	// first, so that a key that may only reveal is not refused, and
	// audited, on every read).
	var vers []*coffer.Version
	var verr, serr error = coffer.Errorf(coffer.EFORBIDDEN, msgDenied), coffer.Errorf(coffer.EFORBIDDEN, msgDenied)
	var labels map[string]string
	var sec *coffer.Secret
	if may, cerr := s.may(ctx, kp.mount, kp.name, coffer.ActionRead); cerr != nil {
		return nil, nil, cerr
	} else if may {
		vers, verr = s.Service.Versions(ctx, kp.mount, kp.name)
		if sec, serr = s.Service.Secret(ctx, kp.mount, kp.name); serr == nil {
			labels = sec.Labels
		}
	}
	want := version
	if want == 0 && verr == nil && len(vers) > 0 {
		want = vers[0].Number
	}
	var meta *versionMeta
	if verr == nil {
		for _, v := range vers {
			if v.Number == want {
				m := metaOf(v, labels)
				meta = &m
			}
		}
	}
	if meta == nil || meta.Destroyed && serr == nil && s.pruned(ctx, kp, sec, meta.Version) {
		return nil, nil, err
	}
	return nil, nil, respondStatus(w, r, http.StatusNotFound, mountType, map[string]any{"data": nil, "metadata": meta}, nil)
}

// pruned reports whether a version of the secret lies beyond its
// effective max_versions: Vault forgets such versions, so they read as
// missing, not as destroyed.
func (s *Server) pruned(ctx context.Context, kp kvPath, sec *coffer.Secret, version int) bool {
	mount, err := s.mountSettings(ctx, kp.mount)
	if err != nil {
		return false
	}
	eff := effective(sec, mount)
	return eff.maxVersions > 0 && version <= sec.Version-eff.maxVersions
}

// readData serves GET {mount}/data/{name}[?version=N].
func (s *Server) readData(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	version, err := queryInt(r, "version")
	if err != nil {
		return err
	}
	val, meta, err := s.readVersion(w, r, kp, version)
	if val == nil {
		return err
	}
	return writeRead(w, r, DataOf(val.Data), meta)
}

// writeRead writes the answer of a data read, the face's hot path, without
// reflection: the same bytes as respond would write.
func writeRead(w http.ResponseWriter, r *http.Request, data json.RawMessage, m *versionMeta) error {
	b := make([]byte, 0, 320+len(data))
	b = append(b, `{"request_id":`...)
	b = web.AppendString(b, web.RequestID(r.Context()))
	b = append(b, `,"lease_id":"","renewable":false,"lease_duration":0,"data":{"data":`...)
	b = append(b, data...)
	b = append(b, `,"metadata":{"created_time":`...)
	b = web.AppendString(b, m.CreatedTime)
	b = append(b, `,"custom_metadata":`...)
	if m.CustomMetadata == nil {
		b = append(b, "null"...)
	} else {
		cm, err := json.Marshal(m.CustomMetadata)
		if err != nil {
			return err
		}
		b = append(b, cm...)
	}
	b = append(b, `,"deletion_time":`...)
	b = web.AppendString(b, m.DeletionTime)
	b = append(b, `,"destroyed":`...)
	b = strconv.AppendBool(b, m.Destroyed)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(m.Version), 10)
	b = append(b, `}},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"kv"}`+"\n"...)
	return web.WriteRaw(w, http.StatusOK, b)
}

// dataInput is the body of a data write or patch.
type dataInput struct {
	Data    json.RawMessage `json:"data"`
	Options *struct {
		CAS json.RawMessage `json:"cas"`
	} `json:"options"`
}

func (in *dataInput) cas() (int, bool, error) {
	if in.Options == nil {
		return 0, false, nil
	}
	return parseCAS(in.Options.CAS)
}

// may reports whether the service grants the caller action on the secret
// name of the store mount (on the store itself when name is ""): asked
// before a call that would otherwise be refused, and the refusal audited,
// only because the face wants optional facts (settings, metadata).
func (s *Server) may(ctx context.Context, mount, name string, action coffer.Action) (bool, error) {
	acts, err := s.Service.Capabilities(ctx, mount, name)
	return slices.Contains(acts, action), err
}

// mountSettings returns the KV settings of a mount (a store's config); a
// caller that may not see the store gets none and the write decides.
func (s *Server) mountSettings(ctx context.Context, mount string) (settings, error) {
	if may, err := s.may(ctx, mount, "", coffer.ActionList); err != nil || !may {
		return settings{}, err
	}
	st, err := s.Service.Store(ctx, mount)
	switch {
	case err == nil:
		return settingsOf(st.Attributes), nil
	case isCode(err, coffer.EFORBIDDEN), isCode(err, coffer.ENOTFOUND):
		return settings{}, nil
	}
	return settings{}, err
}

// current returns the live secret of a KV path, or nil when there is none
// or the caller may not read it.
func (s *Server) current(ctx context.Context, kp kvPath) (*coffer.Secret, error) {
	if may, err := s.may(ctx, kp.mount, kp.name, coffer.ActionRead); err != nil || !may {
		return nil, err
	}
	sec, err := s.Service.Secret(ctx, kp.mount, kp.name)
	if isCode(err, coffer.ENOTFOUND) || isCode(err, coffer.EFORBIDDEN) {
		return nil, nil
	}
	return sec, err
}

// writeData serves POST/PUT {mount}/data/{name}: a new version, with
// options.cas as Vault's check-and-set (0: only if the secret has no
// version), max_versions and delete_version_after applied in the write.
func (s *Server) writeData(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	ctx := r.Context()
	var in dataInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if !given(in.Data) {
		return badRequest("no data provided")
	}
	value, err := ValueOf(in.Data)
	if err != nil {
		return err
	}
	cas, hasCAS, err := in.cas()
	if err != nil {
		return err
	}
	mount, err := s.mountSettings(ctx, kp.mount)
	if err != nil {
		return err
	}
	sec, err := s.current(ctx, kp)
	if err != nil {
		return err
	}
	eff := effective(sec, mount)
	put := &coffer.SecretPut{Name: kp.name, Value: value, KeepVersions: eff.maxVersions, DeleteVersionAfter: eff.deleteAfter}
	switch {
	case hasCAS && cas == 0 && sec != nil && sec.Version > 0:
		return coffer.Errorf(coffer.EPRECONDITION, msgCASMismatch)
	case hasCAS && cas == 0 && sec == nil:
		put.IfVersion = -1
	case hasCAS && cas > 0:
		put.IfVersion = cas
	case !hasCAS && eff.casRequired:
		return badRequest("check-and-set parameter required for this call")
	}
	out, err := s.Service.PutSecret(ctx, kp.mount, put)
	if err != nil {
		if hasCAS && (isCode(err, coffer.ECONFLICT) || isCode(err, coffer.ENOTFOUND) && sec == nil) {
			return coffer.Errorf(coffer.EPRECONDITION, msgCASMismatch)
		}
		return err
	}
	return respond(w, r, mountType, writtenMeta(out, eff, s.Now()), nil)
}

// writtenMeta is the metadata of the version a write made.
func writtenMeta(sec *coffer.Secret, eff settings, now time.Time) versionMeta {
	created := sec.UpdatedAt
	if created.IsZero() {
		created = now
	}
	v := &coffer.Version{Number: sec.Version, CreatedAt: created}
	if eff.deleteAfter > 0 {
		t := created.Add(eff.deleteAfter)
		v.DeletedAt = &t
	}
	return metaOf(v, sec.Labels)
}

// patchRetries is how often a patch is tried again when another write
// made a new version between its read and its write.
const patchRetries = 4

// patchData serves PATCH {mount}/data/{name}: an RFC 7386 merge of the
// body's data into the latest version's, written as a new version only if
// no other write came in between (retried a few times otherwise).
func (s *Server) patchData(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	ctx := r.Context()
	if err := mergePatch(r); err != nil {
		return err
	}
	var in dataInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if !given(in.Data) {
		return badRequest("no data provided")
	}
	if !objectText(in.Data) {
		return badRequest("data must be a JSON object")
	}
	cas, hasCAS, err := in.cas()
	if err != nil {
		return err
	}
	mount, err := s.mountSettings(ctx, kp.mount)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		val, err := s.Service.Reveal(ctx, kp.mount, kp.name, 0)
		if err != nil {
			return err
		}
		sec, err := s.current(ctx, kp)
		if err != nil {
			return err
		}
		eff := effective(sec, mount)
		if hasCAS && cas != val.Version {
			return coffer.Errorf(coffer.EPRECONDITION, msgCASMismatch)
		} else if !hasCAS && eff.casRequired {
			return badRequest("check-and-set parameter required for this call")
		}
		merged, err := mergeJSON(DataOf(val.Data), in.Data)
		if err != nil {
			return err
		}
		value, err := ValueOf(merged)
		if err != nil {
			return err
		}
		out, err := s.Service.PutSecret(ctx, kp.mount, &coffer.SecretPut{Name: kp.name, Value: value, IfVersion: val.Version,
			KeepVersions: eff.maxVersions, DeleteVersionAfter: eff.deleteAfter})
		if isCode(err, coffer.EPRECONDITION) && !hasCAS && try < patchRetries {
			continue
		} else if err != nil {
			return err
		}
		return respond(w, r, mountType, writtenMeta(out, eff, s.Now()), nil)
	}
}

// deleteLatest serves DELETE {mount}/data/{name}: a soft delete of the
// latest version. A missing secret is no error, as in Vault.
func (s *Server) deleteLatest(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	if _, err := s.Service.DeleteVersions(r.Context(), kp.mount, kp.name, nil); err != nil && !isCode(err, coffer.ENOTFOUND) {
		return err
	}
	return noContent(w)
}

// versionsOp serves POST {mount}/delete|undelete|destroy/{name} with a
// versions list. A missing secret is no error, as in Vault.
func (s *Server) versionsOp(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	ctx := r.Context()
	var in struct {
		Versions json.RawMessage `json:"versions"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	versions, err := parseVersions(in.Versions)
	if err != nil {
		return err
	}
	switch kp.verb {
	case verbDelete:
		_, err = s.Service.DeleteVersions(ctx, kp.mount, kp.name, versions)
	case verbUndelete:
		_, err = s.Service.UndeleteVersions(ctx, kp.mount, kp.name, versions)
	case verbDestroy:
		for _, v := range versions {
			if err = s.Service.DestroyVersion(ctx, kp.mount, kp.name, v); err != nil && !isCode(err, coffer.ENOTFOUND) {
				return err
			}
		}
		err = nil
	}
	if err != nil && !isCode(err, coffer.ENOTFOUND) {
		return err
	}
	return noContent(w)
}

// metadata is a secret's metadata as KV v2 shows it.
type metadata struct {
	CASRequired        bool                   `json:"cas_required"`
	CreatedTime        string                 `json:"created_time"`
	CurrentVersion     int                    `json:"current_version"`
	CustomMetadata     map[string]string      `json:"custom_metadata"`
	DeleteVersionAfter string                 `json:"delete_version_after"`
	MaxVersions        int                    `json:"max_versions"`
	OldestVersion      int                    `json:"oldest_version"`
	UpdatedTime        string                 `json:"updated_time"`
	Versions           map[string]versionInfo `json:"versions"`
}

type versionInfo struct {
	CreatedTime  string `json:"created_time"`
	DeletionTime string `json:"deletion_time"`
	Destroyed    bool   `json:"destroyed"`
}

// readMetadata serves GET {mount}/metadata/{name}. Versions that a
// max_versions pruned (older than the newest max_versions) are left out,
// as Vault forgets them; oldest_version is then the oldest one shown.
func (s *Server) readMetadata(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	ctx := r.Context()
	sec, err := s.Service.Secret(ctx, kp.mount, kp.name)
	if err != nil {
		return err
	}
	vers, err := s.Service.Versions(ctx, kp.mount, kp.name)
	if err != nil {
		return err
	}
	mount, err := s.mountSettings(ctx, kp.mount)
	if err != nil {
		return err
	}
	own := settingsOf(sec.Attributes)
	eff := effective(sec, mount)
	m := metadata{CASRequired: own.casRequired, CreatedTime: vaultTime(&sec.CreatedAt), CurrentVersion: sec.Version,
		CustomMetadata: nilIfEmpty(sec.Labels), DeleteVersionAfter: own.deleteAfter.String(), MaxVersions: own.maxVersions,
		UpdatedTime: vaultTime(&sec.UpdatedAt), Versions: map[string]versionInfo{}}
	for _, v := range vers {
		if eff.maxVersions > 0 && v.Number <= sec.Version-eff.maxVersions {
			m.OldestVersion = sec.Version - eff.maxVersions + 1
			continue
		}
		m.Versions[strconv.Itoa(v.Number)] = versionInfo{CreatedTime: vaultTime(&v.CreatedAt), DeletionTime: vaultTime(v.DeletedAt), Destroyed: v.DestroyedAt != nil}
	}
	return respond(w, r, mountType, m, nil)
}

// list serves LIST {mount}/metadata/[{prefix}/]: the names right below the
// prefix, with a trailing '/' for those that have names below them, sorted;
// 404 when there are none. It pages through every secret of the prefix.
func (s *Server) list(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	ctx := r.Context()
	prefix := kp.name
	if prefix != "" {
		prefix += "/"
	}
	seen := map[string]bool{}
	keys := []string{}
	q := coffer.ListSecrets{Page: coffer.Page{Limit: coffer.MaxPageSize}, Prefix: prefix}
	for {
		page, err := s.Service.Secrets(ctx, kp.mount, q)
		if err != nil {
			return err
		}
		for _, sec := range page.Secrets {
			key, ok := strings.CutPrefix(sec.Name, prefix)
			if !ok || key == "" {
				continue
			}
			if i := strings.IndexByte(key, '/'); i >= 0 {
				key = key[:i+1]
			}
			if !seen[key] {
				seen[key] = true
				keys = append(keys, key)
			}
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if len(keys) == 0 {
		return &Error{Status: http.StatusNotFound}
	}
	slices.Sort(keys)
	return respond(w, r, mountType, map[string]any{"keys": keys}, nil)
}

// metadataInput is the body of a metadata write or patch.
type metadataInput struct {
	settingsInput
	CustomMetadata json.RawMessage `json:"custom_metadata"`
}

// writeMetadata serves POST/PUT and PATCH {mount}/metadata/{name}. A POST
// for a secret that does not exist creates it without a version
// (pending); its custom_metadata replaces the secret's labels (the
// labels are replaced whole: SecretPatch.Labels), while a PATCH merges
// them (a null value removes a key, a null custom_metadata every key) and
// needs the secret to exist.
func (s *Server) writeMetadata(w http.ResponseWriter, r *http.Request, kp kvPath, patch bool) error {
	ctx := r.Context()
	if patch {
		if err := mergePatch(r); err != nil {
			return err
		}
	}
	var in metadataInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	attrs, err := in.attrs()
	if err != nil {
		return err
	}
	var custom map[string]*string
	if given(in.CustomMetadata) {
		if custom, err = customMetadata(in.CustomMetadata, patch); err != nil {
			return err
		}
	}
	sec, err := s.Service.Secret(ctx, kp.mount, kp.name)
	if isCode(err, coffer.ENOTFOUND) && !patch {
		put := &coffer.SecretPut{Name: kp.name, NoValue: true, Attributes: map[string]string{}}
		for k, v := range attrs {
			if v != "" {
				put.Attributes[k] = v
			}
		}
		if custom != nil {
			put.Labels = map[string]string{}
			for k, v := range custom {
				put.Labels[k] = *v
			}
		}
		if _, err := s.Service.PutSecret(ctx, kp.mount, put); err != nil {
			return err
		}
		return noContent(w)
	} else if err != nil {
		return err
	}
	in2 := &coffer.SecretPatch{}
	if len(attrs) > 0 {
		in2.Attributes = attrs
	}
	switch {
	case patch && len(in.CustomMetadata) > 0 && !given(in.CustomMetadata):
		in2.Labels = map[string]string{} // null: every key removed
	case custom != nil && patch:
		in2.Labels = map[string]string{}
		for k, v := range sec.Labels {
			in2.Labels[k] = v
		}
		for k, v := range custom {
			if v == nil {
				delete(in2.Labels, k)
			} else {
				in2.Labels[k] = *v
			}
		}
	case custom != nil:
		in2.Labels = map[string]string{}
		for k, v := range custom {
			in2.Labels[k] = *v
		}
	}
	if in2.Attributes == nil && in2.Labels == nil {
		return noContent(w)
	}
	if _, err := s.Service.UpdateSecret(ctx, kp.mount, kp.name, in2); err != nil {
		return err
	}
	return noContent(w)
}

// deleteMetadata serves DELETE {mount}/metadata/{name}: the secret's soft
// delete (recoverable natively); a later write starts again at version 1.
func (s *Server) deleteMetadata(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	_, err := s.Service.DeleteSecret(r.Context(), kp.mount, kp.name, 0)
	if err != nil && !isCode(err, coffer.ENOTFOUND) {
		return err
	}
	return noContent(w)
}

// subkeys serves GET {mount}/subkeys/{name}[?version=N&depth=D]: the
// structure of the data with every leaf null.
func (s *Server) subkeys(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	version, err := queryInt(r, "version")
	if err != nil {
		return err
	}
	depth, err := queryInt(r, "depth")
	if err != nil {
		return err
	}
	val, meta, err := s.readVersion(w, r, kp, version)
	if val == nil {
		return err
	}
	keys, err := subkeysOf(DataOf(val.Data), depth)
	if err != nil {
		return err
	}
	return respond(w, r, mountType, struct {
		Subkeys  json.RawMessage `json:"subkeys"`
		Metadata *versionMeta    `json:"metadata"`
	}{keys, meta}, nil)
}

// configOut is a mount's KV config.
type configOut struct {
	CASRequired        bool   `json:"cas_required"`
	DeleteVersionAfter string `json:"delete_version_after"`
	MaxVersions        int    `json:"max_versions"`
}

// readConfig serves GET {mount}/config.
func (s *Server) readConfig(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	st, err := s.Service.Store(r.Context(), kp.mount)
	if err != nil {
		return err
	}
	c := settingsOf(st.Attributes)
	return respond(w, r, mountType, configOut{CASRequired: c.casRequired, DeleteVersionAfter: c.deleteAfter.String(), MaxVersions: c.maxVersions}, nil)
}

// writeConfig serves POST {mount}/config: the settings given change in the
// store's attributes.
func (s *Server) writeConfig(w http.ResponseWriter, r *http.Request, kp kvPath) error {
	ctx := r.Context()
	var in settingsInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	changes, err := in.attrs()
	if err != nil {
		return err
	}
	st, err := s.Service.Store(ctx, kp.mount)
	if err != nil {
		return err
	}
	attrs := map[string]string{}
	for k, v := range st.Attributes {
		attrs[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(attrs, k)
		} else {
			attrs[k] = v
		}
	}
	if _, err := s.Service.UpdateStore(ctx, kp.mount, &coffer.StoreUpdate{Attributes: attrs}); err != nil {
		return err
	}
	return noContent(w)
}
