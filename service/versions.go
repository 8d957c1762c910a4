package service

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
)

var _ coffer.VersionDeleter = (*Service)(nil)

// DeleteVersions implements coffer.VersionDeleter.
func (s *Service) DeleteVersions(ctx context.Context, store, ref string, versions []int) (*coffer.Secret, error) {
	return s.markVersions(ctx, store, ref, versions, true)
}

// UndeleteVersions implements coffer.VersionDeleter.
func (s *Service) UndeleteVersions(ctx context.Context, store, ref string, versions []int) (*coffer.Secret, error) {
	return s.markVersions(ctx, store, ref, versions, false)
}

// markVersions soft-deletes (del) or undeletes versions of a live secret.
// Its audit event names the versions in its reason. The store's Gen
// changes with the versions, so every cache of them (versions, history,
// secrets) misses from then on.
func (s *Service) markVersions(ctx context.Context, store, ref string, versions []int, del bool) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	latest := del && len(versions) == 0 // DeleteVersions of the latest version
	if !latest {
		if err := coffer.ValidateVersionNumbers(versions); err != nil {
			return nil, err
		}
	}
	action, name := coffer.ActionDelete, "secret.version.delete"
	if !del {
		action, name = coffer.ActionWrite, "secret.version.undelete"
	}
	ev := s.event(c, name)
	_, sec, err := s.secret(ctx, c, store, ref, action, ev)
	if err != nil {
		return nil, err
	}
	if sec.Status == coffer.StatusDeleted {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	}
	if latest {
		if sec.Version == 0 {
			return sec, nil // pending: no version to delete
		}
		versions = []int{sec.Version}
	}
	ev.Reason += "; versions " + versionList(versions)
	now := s.now().UTC()
	if del {
		return s.storage.DeleteVersions(ctx, c.AccountID, sec.ID, versions, now, ev)
	}
	return s.storage.UndeleteVersions(ctx, c.AccountID, sec.ID, versions, now, ev)
}

// versionList prints version numbers for an audit reason: ascending, each
// once, comma-separated.
func versionList(ns []int) string {
	ns = slices.Clone(ns)
	slices.Sort(ns)
	ns = slices.Compact(ns)
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// errVersionDeleted is the refusal of a soft-deleted version's value.
func errVersionDeleted(sec *coffer.Secret, v *coffer.Version) error {
	return coffer.Errorf(coffer.ENOTFOUND, "version %d of secret %s is deleted; undelete it to read its value", v.Number, sec.Name)
}

var _ coffer.CapabilityChecker = (*Service)(nil)

// Capabilities implements coffer.CapabilityChecker. It asks the caller's
// scopes the question authorize asks them (coffer.Caller.Allows), for
// every action, and audits nothing.
func (s *Service) Capabilities(ctx context.Context, store, name string) ([]coffer.Action, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.storage.Store(ctx, c.AccountID, store)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return []coffer.Action{}, nil
	} else if err != nil {
		return nil, err
	}
	out := []coffer.Action{}
	for _, a := range coffer.Actions {
		if ok, _ := c.Allows(a, st.ID, st.Name, name); ok {
			out = append(out, a)
		}
	}
	return out, nil
}
