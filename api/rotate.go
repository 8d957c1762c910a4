package api

import (
	"net/http"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// rotation returns the rotation service, or ENOTFOUND when the server has
// none (as if the route did not exist).
func (s *Server) rotation() (coffer.KeyRotationService, error) {
	if s.Rotation == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "no such endpoint")
	}
	return s.Rotation, nil
}

// rotateStoreKey is POST /v1/stores/{store}/rotate-key[?reencrypt=true].
func (s *Server) rotateStoreKey(w http.ResponseWriter, r *http.Request) error {
	rot, err := s.rotation()
	if err != nil {
		return err
	}
	reencrypt, err := queryBool(r, "reencrypt")
	if err != nil {
		return err
	}
	out, err := rot.RotateStoreKey(r.Context(), r.PathValue("store"), reencrypt)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// rotateMasterKey is POST /v1/master-key/rotate[?reseal=true].
func (s *Server) rotateMasterKey(w http.ResponseWriter, r *http.Request) error {
	rot, err := s.rotation()
	if err != nil {
		return err
	}
	reseal, err := queryBool(r, "reseal")
	if err != nil {
		return err
	}
	out, err := rot.RotateMasterKey(r.Context(), reseal)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// masterKeyStatus is GET /v1/master-key/status.
func (s *Server) masterKeyStatus(w http.ResponseWriter, r *http.Request) error {
	rot, err := s.rotation()
	if err != nil {
		return err
	}
	out, err := rot.MasterKeyStatus(r.Context())
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, out)
}
