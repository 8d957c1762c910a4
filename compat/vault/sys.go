package vault

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
)

// clusterName is what sys/health and sys/seal-status call the cluster.
const clusterName = "coffer"

// health serves GET and HEAD sys/health, unauthenticated. coffer is always
// initialized, unsealed and active; the query parameters Vault takes
// (standbyok, perfstandbyok, activecode, ...) are accepted, and
// activecode sets the status of the answer.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errUnsupported
	}
	status := http.StatusOK
	if c := r.URL.Query().Get("activecode"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 200 || n > 599 {
			return badRequest("activecode must be an HTTP status code")
		}
		status = n
	}
	if r.Method == http.MethodHead {
		w.Header()["Content-Type"] = []string{"application/json"}
		w.WriteHeader(status)
		return nil
	}
	now := s.Now()
	return writeStatus(w, status, map[string]any{
		"initialized": true, "sealed": false, "standby": false, "performance_standby": false,
		"replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
		"server_time_utc": now.Unix(), "version": s.Version, "enterprise": false,
		"cluster_name": clusterName, "cluster_id": "",
	})
}

// sealStatus serves GET sys/seal-status, unauthenticated: coffer has no
// seal of Vault's kind and is always unsealed.
func (s *Server) sealStatus(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	return writeStatus(w, http.StatusOK, map[string]any{
		"type": "shamir", "initialized": true, "sealed": false, "t": 1, "n": 1, "progress": 0, "nonce": "",
		"version": s.Version, "build_date": "", "migration": false, "cluster_name": clusterName, "cluster_id": "",
		"recovery_seal": false, "storage_type": "coffer",
	})
}

// leader serves sys/leader, which 'vault status' reads after the seal
// status: coffer has no Vault-style HA leader (every server of a database
// serves), so HA is reported off, as a single Vault server reports it.
func (s *Server) leader(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	return writeStatus(w, http.StatusOK, map[string]any{
		"ha_enabled": false, "is_self": false, "active_time": unknownTime, "leader_address": "",
		"leader_cluster_address": "", "performance_standby": false, "performance_standby_last_remote_wal": 0,
	})
}

// authMethods serves GET sys/auth: the auth methods coffer serves on this
// face, token/ (its keys) and approle/ (its AppRole roles). JWT and
// Kubernetes logins are not enabled (see docs/vault.md).
func (s *Server) authMethods(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	data := map[string]any{"token/": map[string]any{
		"type": "token", "description": "token based credentials (coffer API keys)", "accessor": "auth_token_coffer",
		"uuid": "", "local": false, "seal_wrap": false, "external_entropy_access": false, "options": nil,
		"config":         map[string]any{"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false, "token_type": "default-service"},
		"plugin_version": "", "running_plugin_version": "v0.0.0+builtin", "running_sha256": "", "deprecation_status": "",
	}, "approle/": map[string]any{
		"type": "approle", "description": "AppRole roles of coffer (docs/identity.md)", "accessor": "auth_approle_coffer",
		"uuid": "", "local": false, "seal_wrap": false, "external_entropy_access": false, "options": nil,
		"config":         map[string]any{"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false, "token_type": "default-service"},
		"plugin_version": "", "running_plugin_version": "v0.0.0+builtin", "running_sha256": "", "deprecation_status": "",
	}}
	return respond(w, r, "", data, nil)
}

// writeStatus writes a bare JSON object, as sys/health and sys/seal-status
// answer (without the envelope).
func writeStatus(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// mountInfo is a mount as sys/mounts and sys/internal/ui/mounts show it.
type mountInfo struct {
	Accessor              string            `json:"accessor"`
	Config                mountConfig       `json:"config"`
	Description           string            `json:"description"`
	ExternalEntropyAccess bool              `json:"external_entropy_access"`
	Local                 bool              `json:"local"`
	Options               map[string]string `json:"options"`
	PluginVersion         string            `json:"plugin_version"`
	RunningPluginVersion  string            `json:"running_plugin_version"`
	RunningSha256         string            `json:"running_sha256"`
	SealWrap              bool              `json:"seal_wrap"`
	Type                  string            `json:"type"`
	UUID                  string            `json:"uuid"`
	Path                  string            `json:"path,omitempty"`
}

type mountConfig struct {
	DefaultLeaseTTL int  `json:"default_lease_ttl"`
	MaxLeaseTTL     int  `json:"max_lease_ttl"`
	ForceNoCache    bool `json:"force_no_cache"`
}

func infoOf(st *coffer.Store) mountInfo {
	acc := st.ID
	if len(acc) > 8 {
		acc = acc[:8]
	}
	return mountInfo{Accessor: "kv_" + acc, Description: st.Comment, Options: map[string]string{"version": "2"},
		Type: "kv", UUID: st.ID, RunningPluginVersion: "v0.0.0+builtin"}
}

// uiMounts serves GET sys/internal/ui/mounts: the mounts the caller can
// see.
func (s *Server) uiMounts(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	stores, err := coffer.AllStores(r.Context(), s.Service)
	if err != nil {
		return err
	}
	secret := map[string]mountInfo{}
	for _, st := range stores {
		secret[st.Name+"/"] = infoOf(st)
	}
	return respond(w, r, "", map[string]any{"secret": secret, "auth": map[string]any{}}, nil)
}

// uiMount serves GET sys/internal/ui/mounts/{path}: the mount of a path
// (the CLI's KV version preflight), the longest prefix of it that names a
// store the caller can see; 403 when there is none, as Vault answers a
// token without access.
func (s *Server) uiMount(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	st, err := s.longestMount(r.Context(), r.PathValue("path"))
	if err != nil {
		return err
	}
	info := infoOf(st)
	info.Path = st.Name + "/"
	return respond(w, r, "", info, nil)
}

// longestMount returns the store named by the longest prefix of path (cut
// at '/') that the caller can see, or, for a caller that may not list it,
// on whose rest of the path the service grants it something (then only
// the name is known); EFORBIDDEN when none.
func (s *Server) longestMount(ctx context.Context, path string) (*coffer.Store, error) {
	segs, err := splitPath(strings.TrimSuffix(path, "/"), false)
	if err != nil {
		return nil, err
	}
	for i := len(segs); i >= 1; i-- {
		name := strings.Join(segs[:i], "/")
		st, err := s.Service.Store(ctx, name)
		switch {
		case err == nil:
			return st, nil
		case isCode(err, coffer.EFORBIDDEN):
			acts, err := s.Service.Capabilities(ctx, name, strings.Join(segs[i:], "/"))
			if err != nil {
				return nil, err
			} else if len(acts) > 0 {
				return &coffer.Store{Name: name}, nil
			}
		case !isCode(err, coffer.ENOTFOUND):
			return nil, err
		}
	}
	return nil, coffer.Errorf(coffer.EFORBIDDEN, msgDenied)
}

// listMounts serves GET sys/mounts: every store the caller can see, as a
// KV v2 mount, keyed by "name/" (in data and, as Vault still answers, at
// the top level).
func (s *Server) listMounts(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errUnsupported
	}
	stores, err := coffer.AllStores(r.Context(), s.Service)
	if err != nil {
		return err
	}
	data := map[string]mountInfo{}
	for _, st := range stores {
		data[st.Name+"/"] = infoOf(st)
	}
	return respond(w, r, "", data, nil)
}

// mountInput is the body of POST sys/mounts/{path}.
type mountInput struct {
	Type        string                     `json:"type"`
	Description string                     `json:"description"`
	Options     map[string]json.RawMessage `json:"options"`
}

// version is options.version, sent as a string ("2") or a number.
func (in *mountInput) version() string {
	raw := in.Options["version"]
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// mount serves sys/mounts/{path}: GET shows a mount, POST enables one (a
// kv-v2 mount, or kv with options.version 2, creates a store), DELETE
// disables one (deletes the store with its secrets: DeleteStore with
// force); {path}/tune reads and changes its description.
func (s *Server) mount(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	path := strings.TrimSuffix(r.PathValue("path"), "/")
	if p, ok := strings.CutSuffix(path, "/tune"); ok {
		return s.tune(w, r, p)
	}
	if _, err := splitPath(path, false); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		st, err := s.Service.Store(ctx, path)
		if isCode(err, coffer.ENOTFOUND) {
			return badRequest("No secret engine mount at %s/", path)
		} else if err != nil {
			return err
		}
		return respond(w, r, "", infoOf(st), nil)
	case http.MethodPost, http.MethodPut:
		var in mountInput
		if err := decode(w, r, &in); err != nil {
			return err
		}
		switch {
		case in.Type == "kv-v2":
		case in.Type == "kv" && in.version() == "2":
		case in.Type == "":
			return badRequest("backend type must be specified as a string")
		default:
			return badRequest("only KV version 2 mounts are served (type kv-v2, or kv with options.version 2)")
		}
		_, err := s.Service.CreateStore(ctx, &coffer.StoreCreate{Name: path, Comment: in.Description})
		if isCode(err, coffer.ECONFLICT) {
			return badRequest("path is already in use at %s/", path)
		} else if err != nil {
			return err
		}
		return noContent(w)
	case http.MethodDelete:
		if err := s.Service.DeleteStore(ctx, path, true); err != nil && !isCode(err, coffer.ENOTFOUND) {
			return err
		}
		return noContent(w)
	}
	return errUnsupported
}

// tune serves sys/mounts/{path}/tune: GET shows the mount's tunables, POST
// changes its description (the other tunables are Vault's lease settings,
// which coffer has not: accepted and left).
func (s *Server) tune(w http.ResponseWriter, r *http.Request, path string) error {
	ctx := r.Context()
	if _, err := splitPath(path, false); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		st, err := s.Service.Store(ctx, path)
		if err != nil {
			return err
		}
		return respond(w, r, "", map[string]any{"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false,
			"description": st.Comment, "options": map[string]string{"version": "2"}}, nil)
	case http.MethodPost, http.MethodPut:
		var in struct {
			Description *string `json:"description"`
		}
		if err := decode(w, r, &in); err != nil {
			return err
		}
		if in.Description != nil {
			if _, err := s.Service.UpdateStore(ctx, path, &coffer.StoreUpdate{Comment: in.Description}); err != nil {
				return err
			}
		}
		return noContent(w)
	}
	return errUnsupported
}
