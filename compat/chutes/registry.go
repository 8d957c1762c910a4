package chutes

import (
	"encoding/base64"
	"net/http"

	"github.com/coffer-dev/coffer/internal/web"
)

// registryAuth answers GET /registry/auth, the target of the registry
// proxy's nginx auth_request: nginx forwards the puller's headers (a hotkey
// signature over "{hotkey}:{nonce}:registry", or an API key) without a
// body, and looks only at the status (200 lets the pull through, anything
// else is 401 to the puller) and at the Authorization header it then sets
// on its request to the registry. A caller may pull images through the
// proxy with a hotkey of the account or an admin key (Chutes requires a
// hotkey registered on its subnet; coffer's allow-list is the hotkeys
// registered to its principals), or with a key that has a registry scope
// whose action is read or null.
func (s *Server) registryAuth(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.Secrets.RequireObjectScope(ctx, typeRegistry, "read", "registry.auth"); err != nil {
		return err
	}
	if s.RegistryPassword != "" {
		w.Header().Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+s.RegistryPassword)))
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Authenticated bool `json:"authenticated"`
	}{true})
}
