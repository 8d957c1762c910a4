package truefoundry

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
)

// groupManifest is the SecretGroupManifest of PUT /secret-groups, in
// snake_case as TrueFoundry's manifests are (ownedBy excepted). It has the
// fields TrueFoundry's SDK declares; any other is refused.
type groupManifest struct {
	Type           *string        `json:"type"`
	Name           *string        `json:"name"`
	IntegrationFQN *string        `json:"integration_fqn"`
	Collaborators  []collaborator `json:"collaborators"`
	OwnedBy        *ownedBy       `json:"ownedBy,omitempty"`
}

// collaborator is a user or team given a role on the group. coffer keeps
// collaborators with the group and shows them; access is still decided by
// the API keys' scopes.
type collaborator struct {
	Subject string `json:"subject"`
	RoleID  string `json:"role_id"`
}

// ownedBy names the account (the tenant) that owns the group.
type ownedBy struct {
	Account string `json:"account"`
}

// subjectTypes are the kinds of subject TrueFoundry names, as in
// "user:alice@example.com" or "team:platform".
var subjectTypes = []string{"user", "team", "serviceaccount", "virtualaccount", "external-identity", "agent-identity", "role"}

// A group's manifest is kept as JSON in store attributes, split into
// values of at most maxAttrValue bytes (coffer's bound on attribute values)
// under attrManifest.0, attrManifest.1, ...
const (
	attrManifest = "truefoundry.manifest"
	maxAttrValue = 255
	maxManifest  = 8 << 10
)

// validate checks a manifest for the tenant named tenant, naming the field
// at fault.
func (m *groupManifest) validate(tenant string) error {
	if m.Type == nil || *m.Type != "secret-group" {
		return invalid("manifest.type", `type must be "secret-group"`)
	}
	if m.Name == nil || *m.Name == "" {
		return invalid("manifest.name", "name is required")
	}
	if err := validKey(*m.Name); err != nil {
		return invalid("manifest.name", "name "+err.Error())
	}
	if m.IntegrationFQN == nil || *m.IntegrationFQN == "" {
		return invalid("manifest.integration_fqn", "integration_fqn is required")
	}
	if len(*m.IntegrationFQN) > maxAttrValue {
		return invalid("manifest.integration_fqn", "integration_fqn must be at most "+strconv.Itoa(maxAttrValue)+" bytes")
	}
	if m.Collaborators == nil {
		return invalid("manifest.collaborators", "collaborators is required")
	}
	for i, c := range m.Collaborators {
		field := "manifest.collaborators[" + strconv.Itoa(i) + "]"
		typ, name, _ := strings.Cut(c.Subject, ":")
		if name == "" || !slices.Contains(subjectTypes, typ) {
			return invalid(field+".subject", `subject must be TYPE:NAME, such as "user:<email>" or "team:<name>", with TYPE one of `+strings.Join(subjectTypes, ", "))
		}
		if c.RoleID == "" {
			return invalid(field+".role_id", "role_id is required")
		}
	}
	if m.OwnedBy != nil && m.OwnedBy.Account != tenant {
		return invalid("manifest.ownedBy.account", "ownedBy.account must be the tenant of the API key, "+strconv.Quote(tenant))
	}
	return nil
}

// manifestAttrs returns the attributes that hold m.
func manifestAttrs(m *groupManifest) (map[string]string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifest {
		return nil, invalid("manifest", "manifest is larger than "+strconv.Itoa(maxManifest)+" bytes as JSON")
	}
	attrs := map[string]string{}
	for i := 0; len(b) > 0; i++ {
		n := min(len(b), maxAttrValue)
		for n < len(b) && !utf8.RuneStart(b[n]) {
			n--
		}
		attrs[attrManifest+"."+strconv.Itoa(i)] = string(b[:n])
		b = b[n:]
	}
	return attrs, nil
}

// manifestOf reads the manifest kept in attrs, or nil when there is none.
func manifestOf(attrs map[string]string) *groupManifest {
	var b strings.Builder
	for i := 0; ; i++ {
		part, ok := attrs[attrManifest+"."+strconv.Itoa(i)]
		if !ok {
			break
		}
		b.WriteString(part)
	}
	if b.Len() == 0 {
		return nil
	}
	var m groupManifest
	if json.Unmarshal([]byte(b.String()), &m) != nil {
		return nil
	}
	return &m
}

// applyGroupRequest is the body of PUT /secret-groups.
type applyGroupRequest struct {
	Manifest *groupManifest `json:"manifest"`
	DryRun   bool           `json:"dryRun"`
}

// applyGroup answers PUT /secret-groups: create or update the group the
// manifest names (by name, in the caller's tenant), recording its
// integration and manifest; its secrets are left as they are. Either needs
// admin on the group. With dryRun it checks all that and answers with the
// group as it would be, writing nothing; a group that does not exist yet
// has no id then.
func (s *Server) applyGroup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req applyGroupRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	if req.Manifest == nil {
		return invalid("manifest", "manifest is required")
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	m := req.Manifest
	if err := m.validate(v.tenant()); err != nil {
		return err
	}
	attrs, err := manifestAttrs(m)
	if err != nil {
		return err
	}
	st, err := s.groupByName(ctx, *m.Name)
	if err != nil {
		return err
	}
	if st == nil {
		if c := coffer.CallerFrom(ctx); c != nil {
			attrs[attrCreatedBy] = c.PrincipalID
		}
	} else {
		for k, val := range st.Attributes {
			if _, ok := attrs[k]; !ok && !strings.HasPrefix(k, attrManifest+".") {
				attrs[k] = val
			}
		}
	}
	attrs[attrIntegration] = *m.IntegrationFQN
	if len(attrs) > coffer.MaxLabels {
		return invalid("manifest", "manifest is too large to keep with the group's other attributes")
	}
	if req.DryRun {
		return s.dryApply(w, ctx, v, st, *m.Name, attrs)
	}
	if st == nil {
		st, err = s.Secrets.CreateStore(ctx, &coffer.StoreCreate{Name: *m.Name, Attributes: attrs})
		if coffer.ErrorCode(err) == coffer.ECONFLICT {
			return conflict("Secret group " + strconv.Quote(*m.Name) + " was created by another request; try again")
		}
	} else {
		st, err = s.Secrets.UpdateStore(ctx, st.ID, &coffer.StoreUpdate{Attributes: attrs})
	}
	if err != nil {
		return err
	}
	return s.writeGroup(w, ctx, st)
}

// dryApply answers a dry run of applyGroup: the group st (nil when it would
// be created) with attrs, if the caller may administer it.
func (s *Server) dryApply(w http.ResponseWriter, ctx context.Context, v *view, st *coffer.Store, name string, attrs map[string]string) error {
	now := time.Now().UTC()
	next := &coffer.Store{Name: name, AccountID: v.account.ID, CreatedAt: now}
	if st != nil {
		cp := *st
		next = &cp
	}
	if err := s.Secrets.CheckStoreAdmin(ctx, next.ID, next.Name); err != nil {
		return err
	}
	var secrets []*coffer.Secret
	if st != nil {
		var err error
		if secrets, err = coffer.AllSecrets(ctx, s.Secrets, st.ID, false); err != nil {
			return err
		}
	}
	next.Attributes, next.UpdatedAt = attrs, now
	return writeData(w, v.group(next, secrets))
}

// groupByName returns the caller's group named name, or nil when there is
// none.
func (s *Server) groupByName(ctx context.Context, name string) (*coffer.Store, error) {
	st, err := s.Secrets.Store(ctx, name)
	switch {
	case coffer.ErrorCode(err) == coffer.ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, err
	case st.Name == name:
		return st, nil
	}
	// The name has an id's shape and is another group's id: look it up by
	// name alone.
	page, err := s.Secrets.ListStores(ctx, coffer.ListStores{Name: name, Limit: 1})
	if err != nil || len(page.Stores) == 0 {
		return nil, err
	}
	return page.Stores[0], nil
}
