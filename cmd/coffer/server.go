package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/coffer-dev/coffer/server"
)

func init() {
	register("server", command{Summary: "run the coffer server", Run: runServer})
}

const serverUsage = `Usage: coffer server [flags]

Runs the coffer server. With no flags it keeps everything in ./coffer-data:
an SQLite database (WAL, synchronous=FULL), the master key (master.key, 0600)
and, on first start, the root API key (root.token, 0600), which is also
printed once.

With --database postgres://... (or COFFER_DATABASE_URL) the data lives in
PostgreSQL instead, and any number of servers may share it; the data
directory then holds only master.key (and root.token after the first start).
Every server of one database needs the same master key.

The master key comes from, in order: --master-key-file, the COFFER_MASTER_KEY
environment variable (64 hex digits or base64 of 32 bytes), or DATA/master.key,
which a first start creates. A database that already holds data is never
given a new key: a missing or wrong key stops the server with an error.
During a master-key rotation the previous key is given too, with
--old-master-key-file (repeatable): it only unwraps data until 'coffer
master-key rotate' has rewrapped everything under the new key, and 'coffer
master-key status' shows when it wraps nothing and can be removed. The
server refuses to start without a key that some data still needs.

Every flag is also a key of the configuration file (--config FILE, or
COFFER_CONFIG; see deploy/coffer.conf for a commented example) and an
environment variable (named after each flag below). Precedence: defaults,
then the file, then the environment, then flags.

With --tls-cert and --tls-key the server speaks only HTTPS; SIGHUP reloads
the certificate, key and client CA without dropping connections.

Flags:
`

// parseServerFlags reads the server's configuration: the defaults in c,
// then the configuration file (--config or COFFER_CONFIG), then the
// environment, then the flags, and validates the result once.
func parseServerFlags(c *server.Config, args []string, getenv func(string) string, stderr io.Writer) error {
	return parseConfig(c, "server", serverUsage, args, getenv, stderr)
}

func runServer(ctx context.Context, env *Env, args []string) error {
	cfg := server.DefaultConfig()
	if err := parseServerFlags(&cfg, args, env.Getenv, env.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	s := &server.Server{Config: cfg, Log: log, Stdout: env.Stdout}
	if err := s.Open(ctx); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := s.ReloadTLS(); err != nil {
				log.Error("SIGHUP: TLS reload failed; still serving the previous certificate", "err", err)
			} else if notAfter, ok := s.TLSNotAfter(); ok {
				log.Info("SIGHUP: TLS certificate reloaded", "not_after", notAfter)
			}
			continue
		case <-ctx.Done():
			log.Info("shutting down")
		case err := <-s.Done():
			log.Error("server stopped", "err", err)
		}
		return s.Close()
	}
}
