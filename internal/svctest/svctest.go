// Package svctest opens a real coffer service over a fresh SQLite database
// for tests: the one setup that service, face and fuzz tests share.
package svctest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/sqlite"
)

// Env is a bootstrapped service: its first account, root principal and
// admin key.
type Env struct {
	Svc     *service.Service
	DB      *sqlite.DB
	Keyring *envelope.Keyring
	Token   string          // the root admin key's token
	Root    context.Context // acting as the root admin key, face "test", from 127.0.0.1
}

// Open opens a service with opts on a new database in a temporary
// directory, bootstraps it and closes both when tb ends.
func Open(tb testing.TB, opts service.Options) *Env {
	tb.Helper()
	ctx := context.Background()
	kr, err := envelope.NewKeyring(envelope.GenerateKey())
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "coffer.db"), sqlite.Options{HeadMAC: service.HeadMAC(kr)})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := service.New(ctx, db, kr, opts)
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close(); db.Close() })
	token, err := svc.Bootstrap(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, coffer.Credential{Token: token, RemoteIP: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	c.Face = "test"
	return &Env{Svc: svc, DB: db, Keyring: kr, Token: token, Root: coffer.NewContext(ctx, c)}
}
