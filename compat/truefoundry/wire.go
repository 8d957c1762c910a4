package truefoundry

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// refScheme starts a deployment's reference to a secret:
// tfy-secret://<tenant>:<group>:<key>.
const refScheme = "tfy-secret://"

// integrationID is the one secret-store integration coffer offers: its own
// encrypted store. Groups record the integration a client names; this one
// is used when none is.
const integrationID = "coffer"

// subject is TrueFoundry's createdBySubject.
type subject struct {
	SubjectID          string `json:"subjectId"`
	SubjectType        string `json:"subjectType"`
	SubjectSlug        string `json:"subjectSlug"`
	SubjectDisplayName string `json:"subjectDisplayName"`
}

// groupJSON is a SecretGroup.
type groupJSON struct {
	ID                string         `json:"id,omitempty"` // none in a dry run that would create the group
	FQN               string         `json:"fqn"`
	Name              string         `json:"name"`
	TenantName        string         `json:"tenantName"`
	AccountID         string         `json:"accountId"`
	CreatedBySubject  subject        `json:"createdBySubject"`
	AssociatedSecrets []secretJSON   `json:"associatedSecrets"`
	IntegrationID     string         `json:"integrationId,omitempty"`
	Manifest          *groupManifest `json:"manifest,omitempty"`
	CreatedAt         string         `json:"createdAt"`
	UpdatedAt         string         `json:"updatedAt"`
	CreatedBy         string         `json:"createdBy,omitempty"`
}

// secretJSON is a Secret. Value is set only where TrueFoundry returns
// values.
type secretJSON struct {
	ID                     string        `json:"id"`
	FQN                    string        `json:"fqn"`
	Name                   string        `json:"name"`
	SecretGroupID          string        `json:"secretGroupId"`
	Value                  *string       `json:"value,omitempty"`
	CreatedBySubject       *subject      `json:"createdBySubject,omitempty"`
	CreatedAt              string        `json:"createdAt"`
	UpdatedAt              string        `json:"updatedAt"`
	SecretVersions         []versionJSON `json:"secretVersions,omitempty"`
	ActiveDeploymentsCount int           `json:"activeDeploymentsCount"`
	CreatedBy              string        `json:"createdBy,omitempty"`
}

// versionJSON is a SecretVersion, always without its value.
type versionJSON struct {
	ID        string `json:"id"`
	FQN       string `json:"fqn"`
	Version   int    `json:"version"`
	SecretID  string `json:"secretId"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

// pagination is the page information of a listing.
type pagination struct {
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

func writeData(w http.ResponseWriter, data any) error {
	return web.WriteJSON(w, http.StatusOK, struct {
		Data any `json:"data"`
	}{data})
}

func writeList(w http.ResponseWriter, data any, p pagination) error {
	return web.WriteJSON(w, http.StatusOK, struct {
		Data       any        `json:"data"`
		Pagination pagination `json:"pagination"`
	}{data, p})
}

// isoTime formats a time as TrueFoundry does: UTC, milliseconds, "Z".
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// view renders objects for one request: it knows the tenant and names the
// principals that created them, asking the service once per principal.
type view struct {
	s       *Server
	ctx     context.Context
	account *coffer.Account
	subs    map[string]*subject
}

func (s *Server) view(ctx context.Context) (*view, error) {
	a, p, err := s.Secrets.Whoami(ctx)
	if err != nil {
		return nil, err
	}
	v := &view{s: s, ctx: ctx, account: a, subs: map[string]*subject{}}
	v.subs[p.ID] = toSubject(p)
	return v, nil
}

func (v *view) tenant() string { return v.account.Name }

func toSubject(p *coffer.Principal) *subject {
	typ := "user"
	if p.Kind == "service" {
		typ = "virtualaccount"
	}
	return &subject{SubjectID: p.ID, SubjectType: typ, SubjectSlug: p.Name, SubjectDisplayName: p.Name}
}

// subject names the principal with id id; one that cannot be found (gone,
// or an id from before principals existed) is shown by its id.
func (v *view) subject(id string) *subject {
	if sub, ok := v.subs[id]; ok {
		return sub
	}
	sub := &subject{SubjectID: id, SubjectType: "user", SubjectSlug: id, SubjectDisplayName: id}
	if p, err := v.s.Secrets.Principal(v.ctx, id); err == nil {
		sub = toSubject(p)
	}
	v.subs[id] = sub
	return sub
}

func (v *view) groupFQN(st *coffer.Store) string { return v.tenant() + ":" + st.Name }

func (v *view) secretFQN(st *coffer.Store, name string) string {
	return v.tenant() + ":" + st.Name + ":" + name
}

// group renders a store with its secrets, never their values.
func (v *view) group(st *coffer.Store, secrets []*coffer.Secret) groupJSON {
	g := groupJSON{
		ID: st.ID, FQN: v.groupFQN(st), Name: st.Name, TenantName: v.tenant(), AccountID: st.AccountID,
		AssociatedSecrets: make([]secretJSON, 0, len(secrets)),
		IntegrationID:     integrationID,
		CreatedAt:         isoTime(st.CreatedAt), UpdatedAt: isoTime(st.UpdatedAt),
	}
	for _, sec := range secrets {
		g.AssociatedSecrets = append(g.AssociatedSecrets, v.secret(st, sec))
	}
	meta := groupMetaOf(st)
	if meta.integrationID != "" {
		g.IntegrationID = meta.integrationID
	}
	g.Manifest = meta.manifest
	by := meta.createdBy
	if by == "" && len(secrets) > 0 {
		by = secrets[0].CreatedBy
	}
	if by != "" {
		sub := v.subject(by)
		g.CreatedBySubject, g.CreatedBy = *sub, sub.SubjectSlug
	} else {
		g.CreatedBySubject = subject{SubjectType: "user"}
	}
	return g
}

// secret renders a secret without its value.
func (v *view) secret(st *coffer.Store, sec *coffer.Secret) secretJSON {
	sub := v.subject(sec.CreatedBy)
	return secretJSON{
		ID: sec.ID, FQN: v.secretFQN(st, sec.Name), Name: sec.Name, SecretGroupID: st.ID,
		CreatedBySubject: sub, CreatedAt: isoTime(sec.CreatedAt), UpdatedAt: isoTime(sec.UpdatedAt),
		CreatedBy: sub.SubjectSlug,
	}
}

// versions renders a secret's versions, newest first, without values.
func (v *view) versions(st *coffer.Store, sec *coffer.Secret, vs []*coffer.Version) []versionJSON {
	out := make([]versionJSON, 0, len(vs))
	for _, ver := range vs {
		if ver.DestroyedAt != nil {
			continue
		}
		n := strconv.Itoa(ver.Number)
		out = append(out, versionJSON{
			ID: sec.ID + "-v" + n, FQN: v.secretFQN(st, sec.Name) + ":" + n, Version: ver.Number, SecretID: sec.ID,
			CreatedAt: isoTime(ver.CreatedAt), UpdatedAt: isoTime(ver.CreatedAt),
		})
	}
	return out
}

// parseFQN splits a secret FQN, tenant:group:key, with or without the
// tfy-secret:// scheme.
func parseFQN(s string) (tenant, group, key string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(s, refScheme), ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
