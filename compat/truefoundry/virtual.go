package truefoundry

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// A virtual account is a coffer service principal, named by the manifest's
// name, with its keys. Its permissions are the scopes of its manifest key
// (manifestKey): each secret-group permission is a scope on that group with
// the actions of the role. Key scopes cannot change, so an update that
// changes them mints a new key and revokes all the others. The id of a virtual account is the
// principal's id. Every virtual-account route needs an admin key.

// Roles of a secret group and the actions each grants.
var groupRoles = map[string][]coffer.Action{
	"secret-group-admin":  {coffer.ActionList, coffer.ActionRead, coffer.ActionReveal, coffer.ActionWrite, coffer.ActionDelete, coffer.ActionAdmin},
	"secret-group-editor": {coffer.ActionList, coffer.ActionRead, coffer.ActionReveal, coffer.ActionWrite, coffer.ActionDelete},
	"secret-group-viewer": {coffer.ActionList, coffer.ActionRead},
}

const resourceGroup = "secret-group"

// permission is one item of a manifest's permissions.
type permission struct {
	ResourceFQN  string `json:"resource_fqn"`
	ResourceType string `json:"resource_type"`
	RoleID       string `json:"role_id"`
}

// vaManifest is the manifest coffer returns: what it keeps of the one it
// was given.
type vaManifest struct {
	Name           string       `json:"name"`
	Type           string       `json:"type"`
	Permissions    []permission `json:"permissions"`
	ExpirationDate string       `json:"expiration_date,omitempty"`
}

// permissionInput is a permission as sent.
type permissionInput struct {
	ResourceFQN  *string `json:"resource_fqn"`
	ResourceType *string `json:"resource_type"`
	RoleID       *string `json:"role_id"`
}

// vaManifestInput is the manifest of PUT /virtual-accounts. Fields that
// coffer does not keep are accepted whatever their value and dropped, except
// secret_store_config, which asks for something coffer does not do.
type vaManifestInput struct {
	Name                    *string           `json:"name"`
	Type                    *string           `json:"type"`
	Permissions             []permissionInput `json:"permissions"`
	ExpirationDate          *string           `json:"expiration_date"`
	TokenType               *string           `json:"token_type"`
	SecretStoreConfig       json.RawMessage   `json:"secret_store_config"`
	AutoRotate              json.RawMessage   `json:"auto_rotate"`
	NotificationTarget      json.RawMessage   `json:"notification_target"`
	OwnedBy                 json.RawMessage   `json:"ownedBy"`
	Tags                    json.RawMessage   `json:"tags"`
	IdentityProviderMapping json.RawMessage   `json:"identity_provider_mapping"`
}

// applyVARequest is the body of PUT /virtual-accounts.
type applyVARequest struct {
	Manifest *vaManifestInput `json:"manifest"`
	DryRun   bool             `json:"dryRun"`
}

// va is a virtual account: its principal and live keys, newest first.
type va struct {
	p    *coffer.Principal
	keys []*coffer.APIKey
}

// virtualAccount renders a virtual account from its principal and newest
// key. coffer does not record who made a principal outside the audit log, so
// createdBySubject is the account itself.
func (v *view) virtualAccount(a va, now time.Time) accountJSON {
	sub := toSubject(a.p)
	out := accountJSON{
		ID: a.p.ID, Name: a.p.Name, Type: typeVA, TenantName: v.tenant(),
		Manifest:         &vaManifest{Name: a.p.Name, Type: typeVA, Permissions: []permission{}},
		CreatedBySubject: *sub, CreatedAt: isoTime(a.p.CreatedAt), UpdatedAt: isoTime(a.p.CreatedAt),
		AccountID: a.p.AccountID, CreatedBy: sub.SubjectSlug,
	}
	if len(a.keys) == 0 {
		return out
	}
	k := manifestKey(a.keys)
	out.UpdatedAt, out.IsExpired = isoTime(k.CreatedAt), !k.Usable(now)
	if k.LastUsedAt != nil {
		out.LastAccessedAt = isoTime(*k.LastUsedAt)
	}
	if k.ExpiresAt != nil {
		// The last day on which the key is valid.
		out.Manifest.ExpirationDate = k.ExpiresAt.Add(-time.Nanosecond).UTC().Format(time.DateOnly)
	}
	out.Manifest.Permissions = v.permissions(k)
	return out
}

// manifestKey picks the key that shows a virtual account's manifest among
// its live keys, newest first: the newest that can do everything each of
// the others can (a narrower key the account minted for itself is not its
// manifest), else the newest.
func manifestKey(keys []*coffer.APIKey) *coffer.APIKey {
	for _, k := range keys {
		p := coffer.Powers{Admin: k.Admin, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt}
		if !slices.ContainsFunc(keys, func(o *coffer.APIKey) bool { return !p.Grants(o) }) {
			return k
		}
	}
	return keys[0]
}

// permissions renders a key's power as manifest permissions. A scope that
// is not a whole secret group with one role's actions (a key minted through
// another face) shows as resource_type "coffer-scope" with the scope in
// coffer's grammar; an admin key as the tenant-admin role.
func (v *view) permissions(k *coffer.APIKey) []permission {
	if k.Admin {
		return []permission{{ResourceFQN: v.tenant(), ResourceType: "tenant", RoleID: "tenant-admin"}}
	}
	out := make([]permission, 0, len(k.Scopes))
	for i := range k.Scopes {
		sc := &k.Scopes[i]
		p := permission{ResourceFQN: sc.String(), ResourceType: "coffer-scope", RoleID: "custom"}
		whole := (sc.ObjectType == "" || sc.ObjectType == "secrets") && sc.Store != "" && sc.Store != "*" && (sc.Secret == "" || sc.Secret == "*")
		for role, actions := range groupRoles {
			if whole && sameActions(sc.Actions, actions) {
				p = permission{ResourceFQN: v.tenant() + ":" + sc.Store, ResourceType: resourceGroup, RoleID: role}
			}
		}
		out = append(out, p)
	}
	return out
}

func sameActions(a, b []coffer.Action) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x coffer.Action) bool { return !slices.Contains(b, x) })
}

// virtualAccounts returns the caller's account's virtual accounts: service
// principals with at least one key that is not revoked, by name.
func (s *Server) virtualAccounts(ctx context.Context) ([]va, error) {
	ps, err := s.Accounts.Principals(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.Keys.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(keys, func(a, b *coffer.APIKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	byPrincipal := map[string][]*coffer.APIKey{}
	for _, k := range keys {
		if k.RevokedAt == nil {
			byPrincipal[k.PrincipalID] = append(byPrincipal[k.PrincipalID], k)
		}
	}
	var out []va
	for _, p := range ps {
		if p.Kind == "service" && len(byPrincipal[p.ID]) > 0 {
			out = append(out, va{p, byPrincipal[p.ID]})
		}
	}
	slices.SortFunc(out, func(a, b va) int { return strings.Compare(a.p.Name, b.p.Name) })
	return out, nil
}

// virtualAccount finds a virtual account by id (404 when there is none).
func (s *Server) virtualAccount(ctx context.Context, id string) (va, error) {
	vas, err := s.virtualAccounts(ctx)
	if err != nil {
		return va{}, err
	}
	if i := slices.IndexFunc(vas, func(a va) bool { return a.p.ID == id }); i >= 0 {
		return vas[i], nil
	}
	return va{}, notFound("Virtual account " + strconv.Quote(id) + " not found")
}

// listVAs answers GET /virtual-accounts: limit (1-1000, default 100),
// offset, nameSearchQuery (a substring of the name) and isExpired. The
// ownedByTeams and filter parameters are accepted and do not filter: coffer
// has no teams or tags.
func (s *Server) listVAs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.list", "virtual-accounts"); err != nil {
		return err
	}
	limit, err := parseInt(r, "limit", 100, 1, coffer.MaxPageSize)
	if err != nil {
		return err
	}
	offset, err := parseInt(r, "offset", 0, 0, maxOffset)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var expired *bool
	if e := q.Get("isExpired"); e != "" {
		b, err := strconv.ParseBool(e)
		if err != nil {
			return invalid("isExpired", "isExpired must be true or false")
		}
		expired = &b
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	vas, err := s.virtualAccounts(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	var matched []accountJSON
	for _, a := range vas {
		out := v.virtualAccount(a, now)
		if strings.Contains(a.p.Name, q.Get("nameSearchQuery")) && (expired == nil || *expired == out.IsExpired) {
			matched = append(matched, out)
		}
	}
	lo, hi := window(len(matched), offset, limit)
	return writeList(w, append([]accountJSON{}, matched[lo:hi]...), pagination{Total: len(matched), Offset: offset, Limit: limit})
}

func (s *Server) getVA(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.list", r.PathValue("id")); err != nil {
		return err
	}
	a, err := s.virtualAccount(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.view(ctx)
	if err != nil {
		return err
	}
	return writeData(w, v.virtualAccount(a, time.Now()))
}

// deleteVA answers DELETE /virtual-accounts/{id}: every key of the account
// is revoked, so its tokens stop working on every face, and it is no longer
// listed. The principal stays (coffer deletes no principal): applying a
// manifest of the same name later makes it a virtual account again.
func (s *Server) deleteVA(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.revoke", r.PathValue("id")); err != nil {
		return err
	}
	a, err := s.virtualAccount(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.revokeAll(ctx, a.p.ID, ""); err != nil {
		return err
	}
	return writeEmpty(w)
}

// vaToken answers GET /virtual-accounts/{id}/token. TrueFoundry returns the
// token again; coffer cannot (it keeps only a hash), so it answers 400.
func (s *Server) vaToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.list", r.PathValue("id")); err != nil {
		return err
	}
	a, err := s.virtualAccount(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	return badRequest("The token of virtual account " + strconv.Quote(a.p.Name) + " cannot be shown again: coffer keeps only a hash of it. " +
		"Use the token returned when the virtual account was created or last updated, or delete it and apply its manifest again")
}

// vaChange is a validated manifest: the account's name and its new key.
type vaChange struct {
	name    string
	scopes  []coffer.Scope
	expires *time.Time
}

// validVAName checks a virtual account's name: coffer's principal names,
// 1-64 letters, digits, '_', '-' and '.'.
func validVAName(name string) error {
	ok := name != "" && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	if !ok {
		return invalid("manifest.name", "manifest.name must be 1-64 letters, digits, '_', '-' and '.'")
	}
	return nil
}

// validManifest checks a manifest whole, including that each group it
// names exists, and returns what it asks for.
func (s *Server) validManifest(ctx context.Context, tenant string, m *vaManifestInput) (vaChange, error) {
	var ch vaChange
	switch {
	case m.Name == nil:
		return ch, invalid("manifest.name", "manifest.name is required")
	case m.Type != nil && *m.Type != typeVA:
		return ch, invalid("manifest.type", "manifest.type must be virtual-account")
	case len(m.Permissions) == 0:
		return ch, invalid("manifest.permissions", "manifest.permissions must hold at least one permission")
	case len(m.Permissions) > 100:
		return ch, invalid("manifest.permissions", "manifest.permissions may hold at most 100 permissions")
	case len(m.SecretStoreConfig) > 0 && string(m.SecretStoreConfig) != "null":
		return ch, invalid("manifest.secret_store_config", "manifest.secret_store_config is not supported: coffer does not copy tokens into a secret store")
	}
	if err := validVAName(*m.Name); err != nil {
		return ch, err
	}
	if err := validTokenType("manifest.token_type", m.TokenType); err != nil {
		return ch, err
	}
	ch.name = *m.Name
	if m.ExpirationDate != nil && *m.ExpirationDate != "" {
		var err error
		if ch.expires, err = parseExpiry("manifest.expiration_date", *m.ExpirationDate, time.Now()); err != nil {
			return ch, err
		}
	}
	for i, p := range m.Permissions {
		field := "manifest.permissions[" + strconv.Itoa(i) + "]."
		switch {
		case p.ResourceType == nil || *p.ResourceType != resourceGroup:
			return ch, invalid(field+"resource_type", field+"resource_type must be secret-group: coffer grants secret-group permissions only")
		case p.RoleID == nil || groupRoles[*p.RoleID] == nil:
			return ch, invalid(field+"role_id", field+"role_id must be secret-group-admin, secret-group-editor or secret-group-viewer")
		case p.ResourceFQN == nil:
			return ch, invalid(field+"resource_fqn", field+"resource_fqn is required")
		}
		t, group, ok := strings.Cut(strings.TrimPrefix(*p.ResourceFQN, refScheme), ":")
		if !ok || t == "" || group == "" || strings.Contains(group, ":") {
			return ch, invalid(field+"resource_fqn", field+"resource_fqn must be tenant:group")
		}
		if t != tenant {
			return ch, invalid(field+"resource_fqn", field+"resource_fqn names tenant "+strconv.Quote(t)+", not "+strconv.Quote(tenant))
		}
		if st, err := s.Secrets.Store(ctx, group); coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && st.Name != group {
			return ch, invalid(field+"resource_fqn", "secret group "+strconv.Quote(group)+" not found")
		} else if err != nil {
			return ch, err
		}
		ch.scopes = append(ch.scopes, coffer.Scope{Store: group, Actions: slices.Clone(groupRoles[*p.RoleID])})
	}
	return ch, nil
}

// powers is what ch asks the account's keys to grant.
func (ch *vaChange) powers() coffer.Powers {
	return coffer.Powers{Scopes: ch.scopes, ExpiresAt: ch.expires}
}

// applyVA answers PUT /virtual-accounts, an upsert by name: a new account
// gets a service principal and a key; an account whose permissions or
// expiry change, or any of whose keys (one it minted for itself included)
// can do more than the manifest grants, gets a new key, and all its other
// keys are revoked (coffer.PowerSetter decides). The token of a new key is
// in the answer, once; an account that the manifest does not change keeps
// its key and the answer has no token. With dryRun, the manifest is checked
// and nothing is written.
func (s *Server) applyVA(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.requireAdmin(ctx, "key.create", "virtual-accounts"); err != nil {
		return err
	}
	var req applyVARequest
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
	ch, err := s.validManifest(ctx, v.tenant(), req.Manifest)
	if err != nil {
		return err
	}
	ps, err := s.Accounts.Principals(ctx)
	if err != nil {
		return err
	}
	var p *coffer.Principal
	if i := slices.IndexFunc(ps, func(p *coffer.Principal) bool { return p.Name == ch.name }); i >= 0 {
		if p = ps[i]; p.Kind != "service" {
			return conflict("The name " + strconv.Quote(ch.name) + " belongs to a user, not a virtual account")
		}
	}
	now := time.Now()
	type answer struct {
		Data  accountJSON `json:"data"`
		Token string      `json:"token,omitempty"`
	}
	if req.DryRun {
		// What the account would look like: nothing is written.
		var keys []*coffer.APIKey
		if p != nil {
			if keys, err = s.liveKeys(ctx, p.ID); err != nil {
				return err
			}
		}
		if k := coffer.SettledKey(keys, ch.powers(), now); k != nil {
			return writeData(w, v.virtualAccount(va{p, []*coffer.APIKey{k}}, now))
		}
		if p == nil {
			p = &coffer.Principal{Name: ch.name, Kind: "service", AccountID: v.account.ID, CreatedAt: now}
		}
		k := &coffer.APIKey{AccountID: p.AccountID, PrincipalID: p.ID, Name: ch.name, Scopes: ch.scopes, CreatedAt: now, ExpiresAt: ch.expires}
		return web.WriteJSON(w, http.StatusOK, answer{Data: v.virtualAccount(va{p, []*coffer.APIKey{k}}, now)})
	}
	if p == nil {
		p, err = s.Accounts.CreatePrincipal(ctx, &coffer.PrincipalCreate{Name: ch.name, Kind: "service"})
		if coffer.ErrorCode(err) == coffer.ECONFLICT {
			return conflict("Virtual account " + strconv.Quote(ch.name) + " is being created by another request; try again")
		} else if err != nil {
			return err
		}
	}
	// The service decides: unchanged when a key already has exactly these
	// powers and none has more; else a new key, and every other key of the
	// account (those it minted for itself too) revoked.
	k, token, err := s.Powers.SetPowers(ctx, p.ID, ch.name, ch.powers())
	if err != nil {
		return err
	}
	if token == "" {
		return writeData(w, v.virtualAccount(va{p, []*coffer.APIKey{k}}, now))
	}
	return writeToken(w, answer{Data: v.virtualAccount(va{p, []*coffer.APIKey{k}}, now), Token: token})
}
