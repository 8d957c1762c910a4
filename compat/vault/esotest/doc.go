// Package esotest runs External Secrets Operator's own Vault provider
// (github.com/external-secrets/external-secrets/pkg/provider/vault, the
// release pinned in go.mod) as a library against a real coffer server's
// Vault KV v2 face.
//
// It is a module of its own so that the server's module does not carry
// ESO's Kubernetes dependencies, and it imports no coffer package, so that
// ESO runs on the versions it was released with (hashicorp/vault/api
// v1.16.0) and the server's go.mod can change without this one. Its tests
// build the coffer binary from the repository (../../.., with the
// repository's go.mod), start `coffer server` on a fresh data directory,
// seed and check secrets through the native API over HTTP, and drive the
// server with the provider built from a SecretStore spec with token auth,
// the token being a coffer API key held in a fake Kubernetes Secret.
// Run them with `make test` (or `cd compat/vault/esotest && go test ./...`).
package esotest
