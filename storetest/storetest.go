// Package storetest is the conformance suite of coffer.Storage. Every
// storage engine runs it unchanged from its own tests:
//
//	func TestStorage(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB) coffer.Storage { return MustOpenDB(tb) })
//	}
//
// Each subtest opens a fresh, empty storage and checks one documented rule of
// the interface: CRUD of every object, tenant isolation on every method,
// names unique among live secrets, version numbering under concurrent
// writers, compare-and-set, listings and paging, the audit chain, and the
// dump and load of a whole database (coffer.Dumper; RunTransfer runs it
// between two engines).
// Behaviour the contract leaves to the engine (durability across reopen,
// file modes) is tested by the engine itself.
package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// Run runs the conformance suite. open must return a new, empty storage and
// register its cleanup with tb; the suite closes it too, so Close must be
// safe to call twice.
func Run(t *testing.T, open func(tb testing.TB) coffer.Storage) {
	r := &runner{t: t, open: open}
	r.meta()
	r.accounts()
	r.apiKeys()
	r.hotkeys()
	r.recordMACs()
	r.nonces()
	r.consoleSessions()
	r.jwtRoles()
	r.appRoles()
	r.stores()
	r.secretWrites()
	r.secretLifecycle()
	r.secretListing()
	r.secretBatches()
	r.secretOrders()
	r.storeBatches()
	r.storeListing()
	r.versions()
	r.versionDeletes()
	r.attributeMerges()
	r.isolation()
	r.audit()
	r.auditQuery()
	r.lifecycle()
	r.rotation()
	r.dump()
}

// runner names and starts the subtests.
type runner struct {
	t    *testing.T
	open func(tb testing.TB) coffer.Storage
}

// run runs f as the subtest name against a fresh storage.
func (r *runner) run(name string, f func(t *testing.T, e *env)) {
	r.t.Run(name, func(t *testing.T) {
		f(t, newEnv(t, r.open(t)))
	})
}

// env is one subtest's storage and helpers.
type env struct {
	t     *testing.T
	s     coffer.Storage
	ctx   context.Context
	ticks atomic.Int64
}

// base is the start of the suite's clock. Times have microsecond precision,
// which every engine keeps; audit event times get nanoseconds, which the
// hash chain requires engines to keep.
var base = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func newEnv(t *testing.T, s coffer.Storage) *env {
	t.Cleanup(func() { s.Close() })
	return &env{t: t, s: s, ctx: context.Background()}
}

// now returns a new, later time on every call.
func (e *env) now() time.Time {
	return base.Add(time.Duration(e.ticks.Add(1)) * time.Millisecond)
}

// ev returns a new audit event for action.
func (e *env) ev(action string) *coffer.AuditEvent {
	return &coffer.AuditEvent{
		Time:        e.now().Add(789 * time.Nanosecond),
		PrincipalID: "p-test",
		Action:      action,
		RequestID:   "req-" + action,
		Remote:      "192.0.2.1",
		Face:        "native",
	}
}

func (e *env) account() *coffer.Account {
	e.t.Helper()
	a := &coffer.Account{ID: coffer.NewID(), Name: "acme", CreatedAt: e.now()}
	if err := e.s.CreateAccount(e.ctx, a, e.ev("account.create")); err != nil {
		e.t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

func (e *env) store(a *coffer.Account, name string) *coffer.Store {
	e.t.Helper()
	at := e.now()
	s := &coffer.Store{ID: coffer.NewID(), AccountID: a.ID, Name: name, Comment: "store " + name, KeyID: 1,
		CreatedAt: at, UpdatedAt: at}
	if err := e.s.CreateStore(e.ctx, s, []byte("wrapped-"+name), e.ev("store.create")); err != nil {
		e.t.Fatalf("CreateStore(%q): %v", name, err)
	}
	return s
}

// ciphertext is what seal makes of value for version n of secret id, so that
// reads can check that Seal saw the final id and number.
func ciphertext(id string, n int, value string) string {
	return fmt.Sprintf("ct|%s|%d|%s", id, n, value)
}

func seal(value string) coffer.SealFunc {
	return func(s *coffer.Secret, n int) ([]byte, int, error) {
		return []byte(ciphertext(s.ID, n, value)), 1, nil
	}
}

// create writes a new secret with its first value.
func (e *env) create(st *coffer.Store, name, value string) *coffer.Secret {
	e.t.Helper()
	s, err := e.s.WriteSecret(e.ctx, e.newSecret(st, name, seal(value)), e.ev("secret.create"))
	if err != nil {
		e.t.Fatalf("WriteSecret(create %q): %v", name, err)
	}
	return s
}

// createPending creates a secret without a value.
func (e *env) createPending(st *coffer.Store, name string) *coffer.Secret {
	e.t.Helper()
	s, err := e.s.WriteSecret(e.ctx, e.newSecret(st, name, nil), e.ev("secret.create"))
	if err != nil {
		e.t.Fatalf("WriteSecret(create pending %q): %v", name, err)
	}
	return s
}

func (e *env) newSecret(st *coffer.Store, name string, sf coffer.SealFunc) *coffer.SecretWrite {
	return &coffer.SecretWrite{
		AccountID: st.AccountID,
		StoreID:   st.ID,
		Name:      name,
		Create: &coffer.Secret{
			ID:     coffer.NewID(),
			Name:   name,
			Origin: "native",
		},
		Seal: sf,
		By:   "p-writer",
		At:   e.now(),
	}
}

// put writes a new version of the live secret name.
func (e *env) put(st *coffer.Store, name, value string) *coffer.Secret {
	e.t.Helper()
	s, err := e.write(st, name, value, 0)
	if err != nil {
		e.t.Fatalf("WriteSecret(%q): %v", name, err)
	}
	return s
}

// write writes a new version of the live secret name with IfVersion.
func (e *env) write(st *coffer.Store, name, value string, ifVersion int) (*coffer.Secret, error) {
	return e.s.WriteSecret(e.ctx, &coffer.SecretWrite{
		AccountID: st.AccountID,
		StoreID:   st.ID,
		Name:      name,
		IfVersion: ifVersion,
		Seal:      seal(value),
		By:        "p-writer",
		At:        e.now(),
	}, e.ev("secret.write"))
}

// setStatus soft-deletes or undeletes a secret.
func (e *env) setStatus(s *coffer.Secret, st coffer.Status) (*coffer.Secret, error) {
	return e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{Status: &st, At: e.now()}, e.ev("secret.status"))
}

func (e *env) delete(s *coffer.Secret) *coffer.Secret {
	e.t.Helper()
	d, err := e.setStatus(s, coffer.StatusDeleted)
	if err != nil {
		e.t.Fatalf("UpdateSecret(delete %q): %v", s.Name, err)
	}
	return d
}

// secret returns the secret by ref, failing the test on error.
func (e *env) secret(s *coffer.Secret, ref string) *coffer.Secret {
	e.t.Helper()
	got, err := e.s.Secret(e.ctx, s.AccountID, s.StoreID, ref)
	if err != nil {
		e.t.Fatalf("Secret(%q): %v", ref, err)
	}
	return got
}

// value reads a version and returns its ciphertext as a string.
func (e *env) value(st *coffer.Store, ref string, n int) string {
	e.t.Helper()
	_, v, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, ref, n)
	if err != nil {
		e.t.Fatalf("ReadVersion(%q, %d): %v", ref, n, err)
	}
	return string(v.Ciphertext)
}

// events returns every audit event.
func (e *env) events() []*coffer.AuditEvent {
	e.t.Helper()
	var all []*coffer.AuditEvent
	var after int64
	for {
		page, err := e.s.AuditEvents(e.ctx, "", coffer.AuditQuery{After: after, Limit: 100})
		if err != nil {
			e.t.Fatalf("AuditEvents: %v", err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// lastEvent returns the newest audit event.
func (e *env) lastEvent() *coffer.AuditEvent {
	e.t.Helper()
	all := e.events()
	if len(all) == 0 {
		e.t.Fatal("no audit events")
	}
	return all[len(all)-1]
}

// wantCode fails the test unless err has the error code want.
func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := coffer.ErrorCode(err); got != want {
		t.Fatalf("%s: got error code %q (%v), want %q", what, got, err, want)
	}
}

// noErr fails the test on err.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sameTime fails the test unless got is want, in UTC.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("%s: got %v, want %v in UTC", what, got, want.UTC())
	}
}

// checkSecret compares the fields of a secret that storage keeps.
func checkSecret(t *testing.T, what string, got, want *coffer.Secret) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: got nil secret", what)
	}
	switch {
	case got.ID != want.ID:
		t.Fatalf("%s: got ID %q, want %q", what, got.ID, want.ID)
	case got.AccountID != want.AccountID || got.StoreID != want.StoreID:
		t.Fatalf("%s: got account/store %q/%q, want %q/%q", what, got.AccountID, got.StoreID, want.AccountID, want.StoreID)
	case got.Name != want.Name:
		t.Fatalf("%s: got Name %q, want %q", what, got.Name, want.Name)
	case got.Status != want.Status:
		t.Fatalf("%s: got Status %q, want %q", what, got.Status, want.Status)
	case got.Version != want.Version:
		t.Fatalf("%s: got Version %d, want %d", what, got.Version, want.Version)
	case got.Comment != want.Comment:
		t.Fatalf("%s: got Comment %q, want %q", what, got.Comment, want.Comment)
	case !maps.Equal(got.Labels, want.Labels):
		t.Fatalf("%s: got Labels %v, want %v", what, got.Labels, want.Labels)
	case !slices.Equal(got.Scopes, want.Scopes):
		t.Fatalf("%s: got Scopes %v, want %v", what, got.Scopes, want.Scopes)
	case !maps.Equal(got.Attributes, want.Attributes):
		t.Fatalf("%s: got Attributes %v, want %v", what, got.Attributes, want.Attributes)
	case got.Origin != want.Origin || got.CreatedBy != want.CreatedBy:
		t.Fatalf("%s: got Origin/CreatedBy %q/%q, want %q/%q", what, got.Origin, got.CreatedBy, want.Origin, want.CreatedBy)
	case (got.DeletedAt == nil) != (want.DeletedAt == nil):
		t.Fatalf("%s: got DeletedAt %v, want %v", what, got.DeletedAt, want.DeletedAt)
	case (got.ExpiresAt == nil) != (want.ExpiresAt == nil):
		t.Fatalf("%s: got ExpiresAt %v, want %v", what, got.ExpiresAt, want.ExpiresAt)
	}
	sameTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+": UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	if want.DeletedAt != nil {
		sameTime(t, what+": DeletedAt", *got.DeletedAt, *want.DeletedAt)
	}
	if want.ExpiresAt != nil {
		sameTime(t, what+": ExpiresAt", *got.ExpiresAt, *want.ExpiresAt)
	}
}

// ids returns the ids of secrets, in order.
func ids(ss []*coffer.Secret) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func ptr[T any](v T) *T { return &v }
