package coffer

import (
	"context"
	"time"
)

// AccessChecker answers the questions of authorization that a face must
// settle before, or instead of, a call of SecretService: whether a request
// may name an account, whether its caller is an admin, whether a scope of a
// face's own object type lets it through. Faces translate the answer into
// their wire error and decide nothing themselves. Every refusal is recorded
// in the audit log unless the method says otherwise; without a caller every
// method fails with EUNAUTHORIZED. The service package implements it.
type AccessChecker interface {
	// RequireAccount returns nil when accountID is the caller's account.
	// Otherwise it records the refusal (account.access, naming accountID)
	// and returns EFORBIDDEN, whether or not that account exists.
	RequireAccount(ctx context.Context, accountID string) error
	// RequireAdmin returns nil for an admin caller. Otherwise it records
	// the refusal of action on name, with reason, and returns EFORBIDDEN
	// with reason as its message.
	RequireAdmin(ctx context.Context, action, name, reason string) error
	// RequireObjectScope returns nil for an admin caller, or for one with a
	// scope on objects of objectType (a face's own object type, such as
	// Chutes' "registry") whose actions are none (all) or include action.
	// Otherwise it records the refusal as event, with the reason "no
	// <objectType> scope", and returns EFORBIDDEN.
	RequireObjectScope(ctx context.Context, objectType string, action Action, event string) error
	// AuthorizeNewStore is for a store that does not exist yet (a face's
	// store made on its first write): it returns nil when a scope lets the
	// caller do action in a store named name, and otherwise records the
	// refusal (secret.<action>, naming the store, "no scope grants
	// <action>") and returns EFORBIDDEN.
	AuthorizeNewStore(ctx context.Context, action Action, name string) error
	// CheckStoreAdmin is the check of a dry run, and records nothing: it
	// returns nil when the caller may administer every secret, present and
	// future, of the store id (empty for a store not yet made) named name,
	// and EFORBIDDEN otherwise.
	CheckStoreAdmin(ctx context.Context, id, name string) error
}

// OwnKeyService serves the API keys of the caller's own principal, for faces
// whose users see and mint only their own keys (Chutes' API keys,
// TrueFoundry's personal access tokens, ByteNite's API keys).
type OwnKeyService interface {
	// OwnAPIKeys returns the live (not revoked) keys of the caller's
	// principal that the caller may see (KeyService.APIKeys), newest first.
	OwnAPIKeys(ctx context.Context) ([]*APIKey, error)
	// CreateOwnAPIKey mints a key named name for the caller's principal with
	// the caller's own powers: admin for an admin caller, else the caller's
	// scopes; expiresAt as in APIKeyCreate. Errors as CreateAPIKey.
	CreateOwnAPIKey(ctx context.Context, name string, expiresAt *time.Time) (*APIKey, string, error)
	// RevokeOwnAPIKey revokes the key id if it is one of OwnAPIKeys, and
	// answers ENOTFOUND for any other key, whoever's it is. Errors as
	// RevokeAPIKey.
	RevokeOwnAPIKey(ctx context.Context, id string) error
}

// SecretPurger purges a deleted secret only for a caller that may, without
// refusing one that may not: for faces that purge on their own initiative
// (Chutes reuses a deleted secret's id for a new secret of the same name).
type SecretPurger interface {
	// PurgeIfAllowed purges the deleted secret ref (an id or a name) of the
	// store when the caller may delete it, and reports whether it did. A
	// caller that may not gets false and no error, and nothing is recorded:
	// it did not ask for a purge. ENOTFOUND and ECONFLICT (the secret is
	// live) as PurgeSecret.
	PurgeIfAllowed(ctx context.Context, store, ref string) (bool, error)
}
