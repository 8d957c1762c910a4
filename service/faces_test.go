package service_test

import (
	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/service"
)

// withFaces adds to opts what the server registers for its faces (Chutes'
// token format and hotkeys, Cloudflare's pending state), so that the tests
// see the service as the server runs it.
func withFaces(opts service.Options) service.Options {
	opts.KeyFormats = []coffer.KeyFormat{chutes.TokenFormat{}}
	opts.Hotkeys = chutes.HotkeyScheme{}
	opts.FirstReadClears = []string{cloudflare.AttrUnused}
	return opts
}
