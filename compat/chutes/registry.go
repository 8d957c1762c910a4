package chutes

import (
	"encoding/base64"
	"net/http"
	"slices"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// mayPull reports whether a caller may pull images through the registry
// proxy: a hotkey of the account or an admin key (Chutes requires a hotkey
// registered on its subnet; coffer's allow-list is the hotkeys registered
// to its principals), or a key with a registry scope whose action is read
// or null.
func mayPull(c *coffer.Caller) bool {
	if c.Admin {
		return true
	}
	for _, sc := range c.Scopes {
		if sc.ObjectType == typeRegistry && (len(sc.Actions) == 0 || slices.Contains(sc.Actions, "read")) {
			return true
		}
	}
	return false
}

// registryAuth answers GET /registry/auth, the target of the registry
// proxy's nginx auth_request: nginx forwards the puller's headers (a hotkey
// signature over "{hotkey}:{nonce}:registry", or an API key) without a
// body, and looks only at the status (200 lets the pull through, anything
// else is 401 to the puller) and at the Authorization header it then sets
// on its request to the registry.
func (s *Server) registryAuth(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if !mayPull(coffer.CallerFrom(ctx)) {
		return s.Secrets.Refuse(ctx, "registry.auth", "", "no registry scope")
	}
	if s.RegistryPassword != "" {
		w.Header().Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+s.RegistryPassword)))
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Authenticated bool `json:"authenticated"`
	}{true})
}
