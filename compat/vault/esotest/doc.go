// Package esotest runs External Secrets Operator's own Vault provider
// (github.com/external-secrets/external-secrets/pkg/provider/vault, the
// release pinned in go.mod) as a library against a real coffer server's
// Vault KV v2 face.
//
// It is a module of its own so that the server's module does not carry
// ESO's Kubernetes dependencies. Its tests build the coffer binary from the
// repository (../../..), start `coffer server` on a fresh data directory, and
// drive it with the provider built from a SecretStore spec with token auth,
// the token being a coffer API key held in a fake Kubernetes Secret.
// Run them with `make test` (or `cd compat/vault/esotest && go test ./...`).
package esotest
