package main

// This file holds 'coffer doctor', which checks what a server needs before
// and while it runs (package doctor), and 'coffer health', the container's
// health check.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/doctor"
	"github.com/coffer-dev/coffer/server"
)

func init() {
	register("doctor", command{Summary: "check the data directory, keys, database and TLS files, and say what to fix", Run: runDoctor})
	register("health", command{Summary: "exit 0 if the server at COFFER_ADDR answers /readyz (for container health checks)", Run: runHealth})
}

const doctorUsage = `Usage: coffer doctor [--config FILE] [server flags]

Checks what the server would use with the same configuration (file,
environment and flags, as 'coffer server' reads them): the data directory
and its permissions, the master key and whether it opens the database, the
database's reachability and migration level, the TLS files and their expiry,
and the clock. It changes nothing and may run next to a running server.

Each check prints one line: ok, warn or FAIL, and for the last two what to
do. The exit status is 1 if any check failed.

Flags:
`

func runDoctor(ctx context.Context, env *Env, args []string) error {
	cfg := server.DefaultConfig()
	if err := parseConfig(&cfg, "doctor", doctorUsage, args, env.Getenv, env.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		fmt.Fprintf(env.Stdout, "FAIL  %-14s %v\n", "config", err)
		return exitError{1}
	}
	dc := doctor.Config{
		ConfigFile: cfg.ConfigFile, DataDir: cfg.DataDir, Database: cfg.Database,
		MasterKeyFile: cfg.MasterKeyFile, MasterKey: cfg.MasterKey,
		Addr: cfg.Addr, DevTLS: cfg.DevTLS, TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey,
		TLSClientCA: cfg.TLSClientCA, ClientKeyMaps: len(cfg.TLSClientKeyMap),
		ReadKeyFile:   server.ReadKeyFile,
		OldMasterKeys: func() ([][]byte, error) { return server.LoadOldMasterKeys(cfg) },
		LoadCertPool:  func(file string) error { _, err := server.LoadCertPool(file); return err },
	}
	if doctor.Run(ctx, dc, env.Stdout) > 0 {
		return exitError{1}
	}
	return nil
}

const healthUsage = `Usage: coffer health [--addr URL] [--cacert FILE]

Asks the server's /readyz and exits 0 when it is ready, 1 otherwise. The
container image's HEALTHCHECK runs it: the image has no curl.
`

func runHealth(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprint(env.Stderr, healthUsage); fs.PrintDefaults() }
	addr := fs.String("addr", cliFirstNonEmpty(env.Getenv("COFFER_ADDR"), cliDefaultAddr), "server `URL`")
	cacert := fs.String("cacert", env.Getenv("COFFER_CACERT"), "PEM `FILE` of CA certificates to trust for https://")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	hc := &http.Client{Timeout: *timeout}
	if *cacert != "" {
		var err error
		if hc, err = cliTLSClient(*cacert); err != nil {
			return err
		}
		hc.Timeout = *timeout
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(*addr, "/")+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("bad --addr: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", resp.Status)
	}
	fmt.Fprintln(env.Stdout, "ready")
	return nil
}
