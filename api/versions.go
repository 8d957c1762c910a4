package api

import (
	"net/http"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// versionsRequest is the body of the version delete and undelete routes.
type versionsRequest struct {
	Versions []int `json:"versions"`
}

// markVersions serves POST .../versions/delete (del) and .../undelete:
// soft-deletes or undeletes the listed versions and answers the secret.
func (s *Server) markVersions(del bool) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in versionsRequest
		if err := web.DecodeJSON(w, r, MaxBodySize, &in); err != nil {
			return err
		}
		if len(in.Versions) == 0 { // the native API names the versions; the service's "latest" is for Vault's DELETE data/NAME
			return coffer.Errorf(coffer.EINVALID, "name at least one version")
		}
		vd, ok := s.Secrets.(coffer.VersionDeleter)
		if !ok {
			return notFound(w, r)
		}
		store, ref := r.PathValue("store"), r.PathValue("secret")
		var sec *coffer.Secret
		var err error
		if del {
			sec, err = vd.DeleteVersions(r.Context(), store, ref, in.Versions)
		} else {
			sec, err = vd.UndeleteVersions(r.Context(), store, ref, in.Versions)
		}
		if err != nil {
			return err
		}
		return writeSecret(w, http.StatusOK, sec)
	}
}
