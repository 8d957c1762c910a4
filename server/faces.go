package server

import (
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/api"
	"github.com/coffer-dev/coffer/compat/bytenite"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/compat/truefoundry"
	"github.com/coffer-dev/coffer/compat/vault"
	"github.com/coffer-dev/coffer/internal/web"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// serviceOptions are the options the service runs with: the per-account
// rate limits and the client certificate policy every face authenticates
// under, and what the faces register with the core.
func (s *Server) serviceOptions() (service.Options, error) {
	cfg := s.Config
	rl, err := service.ParseRateLimits(cfg.RateLimits)
	if err != nil {
		return service.Options{}, err
	}
	return service.Options{Logger: s.Log, AuditWindow: cfg.AuditWindow, RateLimits: rl,
		RequireClientCert: cfg.TLSClientAuth == ClientAuthRequire,
		JWT:               service.JWTOptions{NoFetch: cfg.JWTNoFetch},
		// The faces' words: Chutes' tokens and hotkeys, Cloudflare's pending state.
		KeyFormats: []coffer.KeyFormat{chutes.TokenFormat{}}, Hotkeys: chutes.HotkeyScheme{}, FirstReadClears: []string{cloudflare.AttrUnused}}, nil
}

// handler builds the native API with the console and the faces switched
// on, all over the service, behind the client certificate mapping when
// clients may present certificates.
func (s *Server) handler() (http.Handler, error) {
	cfg := s.Config
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	faces, err := s.faces()
	if err != nil {
		return nil, err
	}
	keys, err := parseKeyMap(cfg.TLSClientKeyMap)
	if err != nil {
		return nil, err
	}
	var adm *web.Admission
	if cfg.MaxInflight > 0 {
		adm = web.NewAdmission(cfg.MaxInflight, cfg.QueueTimeout, reg)
	}
	a := &api.Server{Admission: adm, Secrets: s.svc, Keys: s.svc, Audit: s.svc, Accounts: s.svc, Hotkeys: s.svc, AppRoles: s.svc, JWT: s.svc, Rotation: s.svc, Auth: s.svc, Ready: s.db.Ping, Log: s.Log, Registry: reg,
		Faces: faces}
	if cfg.Console {
		a.Console = &api.Console{Files: ui.Files(), Audit: s.svc, Sessions: s.svc, Origin: cfg.ConsoleOrigin, Idle: cfg.ConsoleIdle, Max: cfg.ConsoleMax}
	}
	var h http.Handler = a.Handler()
	if cfg.TLSClientCA != "" {
		h = clientCerts(h, keys)
	}
	return h, nil
}

// faces makes the provider faces switched on. Every face authenticates
// through the service, so mapped client certificates and per-account rate
// limits apply to all alike.
func (s *Server) faces() ([]api.Mount, error) {
	cfg := s.Config
	cf, err := cloudflareFace(cfg)
	if err != nil {
		return nil, err
	}
	cf.Secrets, cf.Auth, cf.Log = s.svc, s.svc, s.Log
	ch, err := s.chutesFace()
	if err != nil {
		return nil, err
	}
	var faces []api.Mount
	if cfg.Faces.Cloudflare {
		faces = append(faces, api.Mount{Name: "cloudflare", Prefix: cloudflare.Prefix, Handler: cf.Handler(), Render: cloudflare.RenderError})
	}
	if cfg.Faces.TrueFoundry {
		faces = append(faces, api.Mount{Name: "truefoundry", Prefix: truefoundry.Prefix, Render: truefoundry.RenderError,
			Handler: (&truefoundry.Server{Secrets: s.svc, Keys: s.svc, Accounts: s.svc, Powers: s.svc, Auth: s.svc, Log: s.Log}).Handler()})
	}
	if cfg.Faces.Chutes {
		m := api.Mount{Name: chutes.Face, Prefix: chutes.Prefix, Render: chutes.RenderError}
		if cfg.ChutesRoot {
			ch.Root, m.Paths = true, chutes.RootPaths
		}
		m.Handler = ch.Handler()
		faces = append(faces, m)
	}
	if cfg.Faces.ByteNite {
		faces = append(faces, api.Mount{Name: "bytenite", Prefix: bytenite.Prefix, Render: bytenite.RenderError, Handler: (&bytenite.Server{Service: s.svc, Auth: s.svc, Tokens: s.svc, Log: s.Log,
			TokenTTL: cfg.ByteNiteTokenTTL, Version: buildVersion()}).Handler()})
	}
	if cfg.Faces.Vault {
		faces = append(faces, api.Mount{Name: "vault", Prefix: vault.Prefix, Render: vault.RenderError, Handler: s.vaultFace(vault.Prefix).Handler()})
	}
	return faces, nil
}

// buildVersion is the main module's version from the build information.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// cloudflareFace makes the Cloudflare face with the configured limits.
func cloudflareFace(cfg Config) (*cloudflare.Server, error) {
	cf, err := cloudflareLimits(cfg.CloudflareLimits)
	if err != nil {
		return nil, fmt.Errorf("--cloudflare-limits: %w", err)
	}
	return cf, nil
}

// cloudflareLimits parses the Cloudflare face's limits: the default and
// each account's, each spec overriding what earlier ones set.
func cloudflareLimits(specs []string) (*cloudflare.Server, error) {
	cf := &cloudflare.Server{AccountLimits: map[string]cloudflare.Limits{}}
	for _, spec := range specs {
		acct, l, err := cloudflare.ParseLimits(spec)
		if err != nil {
			return nil, err
		}
		if acct == "" {
			cf.Limits = l.Or(cf.Limits)
		} else {
			cf.AccountLimits[acct] = l.Or(cf.AccountLimits[acct])
		}
	}
	return cf, nil
}

// chutesFace makes the Chutes face; tokens and hotkey signatures are
// checked by the service.
func (s *Server) chutesFace() (*chutes.Server, error) {
	ch := &chutes.Server{Secrets: s.svc, Keys: s.svc, Auth: s.svc, Log: s.Log, Hotkeys: s.svc}
	if f := s.Config.ChutesRegistryPasswordFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--chutes-registry-password-file: %w", err)
		}
		if ch.RegistryPassword = strings.TrimRight(string(b), "\r\n"); ch.RegistryPassword == "" {
			return nil, fmt.Errorf("--chutes-registry-password-file: %s is empty", f)
		}
	}
	return ch, nil
}
