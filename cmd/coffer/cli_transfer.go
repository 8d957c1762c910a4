package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
	"github.com/coffer-dev/coffer/dotenv"
)

func init() {
	cliRegister(cliImportCmd)
	cliRegister(cliExportCmd)
}

// cliMaxImportFile caps the size of an imported file.
const cliMaxImportFile = 64 << 20

var cliImportCmd = &clientCommand{
	Name:    "import",
	Args:    "STORE FILE",
	Summary: "write secrets from a dotenv or JSON file",
	Help: `Write every KEY=value of FILE into STORE as the secret KEY, creating secrets
that do not exist and adding a version to those that do. Prints
"NAME version N" for each. The whole file is parsed first: a bad line is
reported with its number and nothing is written.

The format comes from the file's extension (.json is JSON, anything else
dotenv) unless --format says otherwise; FILE "-" reads standard input.

dotenv:
  # comments and blank lines are skipped
  KEY=value                  unquoted values are trimmed; " #" starts a comment
  export KEY=value           "export " is ignored
  KEY='literal value'        single quotes: taken as written
  KEY='it'\''s'              as in a shell, '\'' between quoted parts is a '
  KEY="line one\nline two"   double quotes: \n \r \t \" \\ are escapes
  Quoted values may span lines; there is no ${VAR} interpolation.

JSON: one flat object whose values are all strings, like {"KEY": "value"}.

Keys are secret names: letters, digits, '_', '-', '.' and '/'.`,
	Examples: `coffer import prod .env
coffer import prod secrets.json
some-generator | coffer import prod - --format json`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		format := c.Flags.String("format", "", "file `FORMAT`: dotenv or json (default: from the extension)")
		args, err := c.Parse(args, "STORE", "FILE")
		if err != nil {
			return err
		}
		store, file := args[0], args[1]
		f := *format
		if f == "" {
			f = "dotenv"
			if strings.EqualFold(filepath.Ext(file), ".json") {
				f = "json"
			}
		}
		var parse func([]byte, func(string) error) ([]dotenv.Entry, error)
		switch f {
		case "dotenv":
			parse = dotenv.Parse
		case "json":
			parse = dotenv.ParseJSON
		default:
			return c.usageError("--format must be dotenv or json")
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		data, err := c.readImportFile(file)
		if err != nil {
			return err
		}
		entries, err := parse(data, cliImportKey)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if err := cliCheckIDShapedKeys(ctx, cl, store, file, entries); err != nil {
			return err
		}
		for i, e := range entries {
			sec, err := cl.PutSecret(ctx, store, &coffer.SecretPut{Name: e.Key, Value: []byte(e.Value)})
			if err != nil {
				return fmt.Errorf("%s (line %d): %w; %d of %d secrets were written", e.Key, e.Line, err, i, len(entries))
			}
			fmt.Fprintf(c.Stdout, "%s version %d\n", sec.Name, sec.Version)
		}
		return nil
	},
}

// cliImportKey checks a key of an imported file: it must be a secret name.
// The error is the bare reason, which the parser puts after the line and key.
func cliImportKey(key string) error {
	if err := coffer.ValidateName("secret", key); err != nil {
		return errors.New(coffer.ErrorMessage(err))
	}
	return nil
}

// cliCheckIDShapedKeys refuses an import whose keys include a new name of
// an id's shape, which the server refuses (coffer.IDShaped), before
// anything is written; a key naming a legacy secret of that exact name only
// adds a version and passes.
func cliCheckIDShapedKeys(ctx context.Context, cl *client.Client, store, file string, entries []dotenv.Entry) error {
	for _, e := range entries {
		if !coffer.IDShaped(e.Key) {
			continue
		}
		sec, err := cl.Secret(ctx, store, e.Key)
		if err == nil && sec.Name == e.Key {
			continue
		} else if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
			return err
		}
		return fmt.Errorf("%s: line %d: key %q: %s; nothing was written", file, e.Line, e.Key,
			coffer.ErrorMessage(coffer.ValidateNewSecretName(e.Key)))
	}
	return nil
}

func (c *cli) readImportFile(name string) ([]byte, error) {
	var r io.Reader = c.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	} else if r == nil {
		return nil, fmt.Errorf("no standard input to read")
	}
	data, err := cliReadLimited(r, cliMaxImportFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	} else if len(data) > cliMaxImportFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, cliMaxImportFile>>20)
	}
	return data, nil
}

var cliExportCmd = &clientCommand{
	Name:    "export",
	Args:    "STORE",
	Summary: "print a store's secrets as dotenv or JSON",
	Help: `Print the latest values of the live secrets in STORE (or those whose names
start with --prefix) to standard output, as dotenv (the default) or as a flat
JSON object. The output reads back exactly with 'coffer import'. Values that
are not valid UTF-8 can only be exported as dotenv. Expired secrets are
left out, each named on standard error.

The dotenv output is safe to source in a POSIX shell (set -a; . ./file):
values are single-quoted, so no $(...), backquote, $VAR or glob in a value
is expanded or run, and each variable gets its value byte for byte. Two
kinds of secret are named on standard error, as the file cannot give them
to a shell: a name that is not a shell variable name (db/password; its line
starts with ': ', so a shell runs the no-op ':' with unexpanded arguments
and dotenv loaders skip it; use --format json, or 'coffer run', which
renames them), and a value holding a NUL byte. Both still read back with
'coffer import'.

Other dotenv loaders run nothing either, but python-dotenv expands ${NAME}
even in single quotes (load exported files with load_dotenv(...,
interpolate=False)), reads a doubled backslash there as one, and skips a
line holding the '\'' form with a warning; Node's dotenv reads single
quotes literally but takes '\'' as written. 'coffer run' sets the variables
without any file. Unlike 'coffer run', a loader sets whatever names the file
holds: check a file for PATH, LD_PRELOAD, NODE_OPTIONS and the like before
loading it into a process ('coffer run --help' lists them).

The output holds secret values: send it to a file with tight permissions or
straight into another command, never to a shared terminal log.`,
	Examples: `coffer export prod > prod.env && chmod 600 prod.env
coffer export prod --format json --prefix app/
coffer export old | coffer import new -`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		format := c.Flags.String("format", "dotenv", "output `FORMAT`: dotenv or json")
		prefix := c.Flags.String("prefix", "", "only secrets whose names start with `PREFIX`")
		args, err := c.Parse(args, "STORE")
		if err != nil {
			return err
		}
		write := dotenv.Write
		switch *format {
		case "dotenv":
		case "json":
			write = dotenv.WriteJSON
		default:
			return c.usageError("--format must be dotenv or json")
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		values, err := cliRevealAll(ctx, cl, args[0], *prefix, c.Stderr)
		if err != nil {
			return err
		}
		entries := make([]dotenv.Entry, len(values))
		for i, v := range values {
			entries[i] = dotenv.Entry{Key: v.Name, Value: string(v.Data)}
			if *format == "dotenv" {
				dotenvWarnShell(c.Stderr, entries[i])
			}
		}
		return write(c.Stdout, entries)
	},
}

// dotenvWarnShell names on warn an exported entry that a shell sourcing the
// file cannot set: a key that is not a variable name, or a value holding a
// NUL byte. The value is never printed.
func dotenvWarnShell(warn io.Writer, e dotenv.Entry) {
	switch {
	case !dotenv.IsShellName(e.Key):
		fmt.Fprintf(warn, "coffer: %s is not a shell variable name: a shell sourcing the file does not set it (its line starts with ': ')\n", e.Key)
	case strings.IndexByte(e.Value, 0) >= 0:
		fmt.Fprintf(warn, "coffer: the value of %s holds a NUL byte, which a shell variable cannot hold\n", e.Key)
	}
}

// cliRevealAll reads the latest values of a store's live secrets under prefix,
// following RevealMany's pages to the end. Expired secrets, whose values the
// server does not serve, are named on warn and left out.
func cliRevealAll(ctx context.Context, cl *client.Client, store, prefix string, warn io.Writer) ([]*coffer.Value, error) {
	var all []*coffer.Value
	q := &coffer.RevealQuery{Prefix: prefix}
	for {
		page, err := cl.RevealMany(ctx, store, q)
		if err != nil {
			return nil, err
		}
		for _, name := range page.Expired {
			fmt.Fprintf(warn, "coffer: secret %s has expired; it is left out\n", name)
		}
		all = append(all, page.Values...)
		if q.Cursor, err = cliNextCursor(q.Cursor, page.NextCursor); err != nil || q.Cursor == "" {
			return all, err
		}
	}
}
