package service

import (
	"context"

	"github.com/coffer-dev/coffer"
)

// ConsoleEvent implements coffer.ConsoleAudit.
func (s *Service) ConsoleEvent(ctx context.Context, action string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if action != coffer.ActionConsoleSignIn && action != coffer.ActionConsoleSignOut {
		return coffer.Errorf(coffer.EINVALID, "%q is not a console event", action)
	}
	return s.audit(ctx, s.event(c, action))
}
