package truefoundry

import (
	"net/http"

	"github.com/coffer-dev/coffer/internal/web"
)

// tokenRoutes adds the personal-access-token and virtual-account routes.
func (s *Server) tokenRoutes(mux *http.ServeMux, h func(web.HandlerFunc) http.Handler) {}
