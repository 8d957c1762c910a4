package server

import "context"

// startJWT starts the background refresh of the fetched keys of JWT trust
// configurations; release stops it.
func (s *Server) startJWT() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopJWT = cancel
	go s.svc.RunJWTSources(ctx)
}
