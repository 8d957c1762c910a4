package server

import (
	"context"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/vault"
	"github.com/coffer-dev/coffer/service"
)

// vaultService is the service as the Vault face needs it.
// TEMPORARY until the model of issue 19 (VersionDeleter, CapabilityChecker)
// is merged: the methods *service.Service lacks answer unavailable.
func (s *Server) vaultService() vault.Service { return pendingModel{s.svc} }

type pendingModel struct{ *service.Service }

func (pendingModel) DeleteVersions(context.Context, string, string, []int) (*coffer.Secret, error) {
	return nil, coffer.Errorf(coffer.EUNAVAILABLE, "not implemented yet")
}

func (pendingModel) UndeleteVersions(context.Context, string, string, []int) (*coffer.Secret, error) {
	return nil, coffer.Errorf(coffer.EUNAVAILABLE, "not implemented yet")
}

func (pendingModel) Capabilities(context.Context, string, string) ([]coffer.Action, error) {
	return nil, coffer.Errorf(coffer.EUNAVAILABLE, "not implemented yet")
}
