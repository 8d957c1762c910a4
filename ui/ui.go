// Package ui holds coffer's web console: static files embedded in the
// binary, an HTML shell, one stylesheet and plain ES modules that call the
// native API. There is no build step: the files served are the files here.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files returns the console's files, rooted so that "index.html" is the
// shell.
func Files() fs.FS {
	f, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded; this cannot fail
	}
	return f
}
