package main

// This file holds what every client subcommand shares: the command tables,
// flag parsing with --help, the connection settings and error reporting.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
	"github.com/coffer-dev/coffer/server"
)

// Client connection defaults.
const (
	cliDefaultAddr = "http://127.0.0.1:8200"
	cliTokenFile   = "coffer-data/root.token" // the server's default data directory, relative to the working directory
)

// clientCommand is one client subcommand, like "secret put" or "export".
type clientCommand struct {
	Name     string // the words after "coffer", like "secret put"
	Args     string // positional arguments for the usage line, like "STORE NAME"
	Usage    string // the whole usage line, when "coffer NAME ARGS [flags]" does not fit
	Summary  string // one line for the command list
	Help     string // what it does, shown by --help
	Examples string // shown by --help

	// Run defines the command's flags on c.Flags, calls c.Parse and does the
	// work.
	Run func(ctx context.Context, c *cli, args []string) error
}

// cliRegister registers a command that has no subcommands.
func cliRegister(cmd *clientCommand) {
	register(cmd.Name, command{Summary: cmd.Summary, Run: func(ctx context.Context, env *Env, args []string) error {
		return cliRunCommand(ctx, env, cmd, args)
	}})
}

// cliRegisterGroup registers a command such as "secret" whose first argument
// names one of subs.
func cliRegisterGroup(name, summary string, subs ...*clientCommand) {
	register(name, command{Summary: summary, Run: func(ctx context.Context, env *Env, args []string) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
			w := env.Stdout
			if len(args) == 0 {
				w = env.Stderr
			}
			cliGroupUsage(w, name, summary, subs)
			if len(args) == 0 {
				return exitError{2}
			}
			return nil
		}
		for _, sub := range subs {
			if sub.Name == name+" "+args[0] {
				return cliRunCommand(ctx, env, sub, args[1:])
			}
		}
		fmt.Fprintf(env.Stderr, "coffer %s: unknown command %q\n\n", name, args[0])
		cliGroupUsage(env.Stderr, name, summary, subs)
		return exitError{2}
	}})
}

func cliGroupUsage(w io.Writer, name, summary string, subs []*clientCommand) {
	fmt.Fprintf(w, "coffer %s: %s\n\nUsage: coffer %s COMMAND [flags] [args]\n\nCommands:\n", name, summary, name)
	for _, sub := range subs {
		fmt.Fprintf(w, "  %-10s %s\n", strings.TrimPrefix(sub.Name, name+" "), sub.Summary)
	}
	fmt.Fprintf(w, "\nRun 'coffer %s COMMAND --help' for a command's flags and examples.\n", name)
}

// cliRunCommand runs one client command and reports its error: the server's
// message and code, never a value or a token.
func cliRunCommand(ctx context.Context, env *Env, cmd *clientCommand, args []string) error {
	c := &cli{Env: env, cmd: cmd, Flags: flag.NewFlagSet("coffer "+cmd.Name, flag.ContinueOnError)}
	c.Flags.SetOutput(env.Stderr)
	c.Flags.Usage = func() {} // parse prints the help or a hint itself
	c.Flags.StringVar(&c.addr, "addr", "", "server `URL` (default $COFFER_ADDR, else "+cliDefaultAddr+")")
	c.Flags.StringVar(&c.token, "token", "", "API `TOKEN` (default $COFFER_TOKEN, else ./"+cliTokenFile+"); prefer the variable: flags stay in shell history")
	c.Flags.StringVar(&c.cacert, "cacert", "", "PEM `FILE` of CA certificates to trust for an https:// server (default $COFFER_CACERT, else the system's)")
	err := cmd.Run(ctx, c, args)
	var exit exitError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errCLIHelpShown):
		return nil
	case errors.As(err, &exit):
		return exit
	}
	fmt.Fprintf(env.Stderr, "coffer %s: %s\n", cmd.Name, cliDescribeError(err))
	return exitError{1}
}

// errCLIHelpShown ends a command after --help printed its help.
var errCLIHelpShown = errors.New("help shown")

// cliDescribeError renders an error for the terminal: a server error as its
// message and code, with a hint where one helps.
func cliDescribeError(err error) string {
	var e *coffer.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	// Keep the context an error was wrapped in, with the server's part
	// rendered as message and code.
	s := strings.Replace(err.Error(), e.Error(), e.Message+" ("+e.Code+")", 1)
	switch e.Code {
	case coffer.EUNAUTHORIZED:
		s += "; check COFFER_TOKEN or --token"
	case coffer.EPRECONDITION:
		s += "; see the latest version with 'coffer secret history'"
	case coffer.ERATELIMIT, coffer.EUNAVAILABLE:
		if e.RetryAfter > 0 {
			s += "; retry in " + max(e.RetryAfter.Round(time.Second), time.Second).String()
		} else if e.Code == coffer.ERATELIMIT {
			s += "; retry later"
		}
	}
	return s
}

// cli is the state of one client command run.
type cli struct {
	*Env
	Flags  *flag.FlagSet
	cmd    *clientCommand
	addr   string
	token  string
	cacert string
}

// Parse parses flags, which may come before, between or after the
// positional arguments ("--" ends the flags), and checks that exactly the
// named positional arguments are present.
func (c *cli) Parse(args []string, names ...string) ([]string, error) {
	pos, err := cliParseInterspersed(c.Flags, args)
	if err != nil {
		return nil, c.flagError(err)
	}
	switch {
	case len(pos) < len(names):
		return nil, c.usageError("missing " + strings.Join(names[len(pos):], " "))
	case len(pos) > len(names):
		return nil, c.usageError("unexpected argument " + strconv.Quote(pos[len(names)]))
	}
	return pos, nil
}

// ParseLeading parses the flags before the first positional argument (or
// "--") and returns everything after them untouched, for commands whose
// arguments are another command line.
func (c *cli) ParseLeading(args []string) ([]string, error) {
	if err := c.Flags.Parse(args); err != nil {
		return nil, c.flagError(err)
	}
	return c.Flags.Args(), nil
}

// flagError shows the help for --help, or a hint after the flag package
// printed what was wrong.
func (c *cli) flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		c.printHelp(c.Stdout)
		return errCLIHelpShown
	}
	return c.usageError("")
}

// usageError prints msg, the usage line and a hint, and returns exit status 2.
func (c *cli) usageError(msg string) error {
	if msg != "" {
		fmt.Fprintf(c.Stderr, "coffer %s: %s\n", c.cmd.Name, msg)
	}
	fmt.Fprintf(c.Stderr, "Usage: %s\nRun 'coffer %s --help' for more.\n", c.usageLine(), c.cmd.Name)
	return exitError{2}
}

func (c *cli) usageLine() string {
	if c.cmd.Usage != "" {
		return c.cmd.Usage
	}
	s := "coffer " + c.cmd.Name
	if c.cmd.Args != "" {
		s += " " + c.cmd.Args
	}
	return s + " [flags]"
}

// printHelp prints the usage line, description, flags and examples.
func (c *cli) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.usageLine(), strings.TrimSpace(c.cmd.Help))
	var own, conn strings.Builder
	c.Flags.VisitAll(func(f *flag.Flag) {
		b := &own
		if f.Name == "addr" || f.Name == "token" || f.Name == "cacert" {
			b = &conn
		}
		cliWriteFlag(b, f)
	})
	if own.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", own.String())
	}
	fmt.Fprintf(w, "\nConnection flags:\n%s", conn.String())
	if c.cmd.Examples != "" {
		fmt.Fprintf(w, "\nExamples:\n")
		for _, line := range strings.Split(strings.Trim(c.cmd.Examples, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// cliWriteFlag renders one flag like flag.PrintDefaults, with two dashes.
func cliWriteFlag(b *strings.Builder, f *flag.Flag) {
	name, usage := flag.UnquoteUsage(f)
	fmt.Fprintf(b, "  --%s", f.Name)
	if name != "" {
		fmt.Fprintf(b, " %s", name)
	}
	b.WriteString("\n    \t")
	b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
	if !cliIsZeroFlagValue(f) {
		fmt.Fprintf(b, " (default %s)", f.DefValue)
	}
	b.WriteByte('\n')
}

func cliIsZeroFlagValue(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false":
		return true
	}
	return false
}

// cliParseInterspersed parses flags anywhere among the positional arguments;
// everything after "--" is positional.
func cliParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" && !cliIsFlagValue(fs, args[:n-1]) {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// cliIsFlagValue reports whether the argument after before was taken as the
// value of the flag that ends before (like "--comment --").
func cliIsFlagValue(fs *flag.FlagSet, before []string) bool {
	if len(before) == 0 {
		return false
	}
	last := before[len(before)-1]
	if !strings.HasPrefix(last, "-") || strings.Contains(last, "=") || last == "-" || last == "--" {
		return false
	}
	f := fs.Lookup(strings.TrimLeft(last, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// isSet reports whether the flag was given on the command line.
func (c *cli) isSet(name string) bool {
	set := false
	c.Flags.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func (c *cli) getenv(key string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(key)
}

// Client returns a client configured from --addr/COFFER_ADDR and
// --token/COFFER_TOKEN, falling back to the server's root token file in the
// working directory.
// Start parses the positional arguments named by names and makes the API
// client: the opening of most subcommands.
func (c *cli) Start(args []string, names ...string) ([]string, *client.Client, error) {
	args, err := c.Parse(args, names...)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.Client()
	return args, cl, err
}

func (c *cli) Client() (*client.Client, error) {
	addr := cliFirstNonEmpty(c.addr, c.getenv("COFFER_ADDR"), cliDefaultAddr)
	token := cliFirstNonEmpty(c.token, c.getenv("COFFER_TOKEN"))
	if token == "" {
		b, err := os.ReadFile(filepath.FromSlash(cliTokenFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, errors.New("no token: set COFFER_TOKEN (or pass --token)")
		case err != nil:
			return nil, fmt.Errorf("read token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	opts := []client.Option{client.WithUserAgent("coffer-cli")}
	if ca := cliFirstNonEmpty(c.cacert, c.getenv("COFFER_CACERT")); ca != "" {
		hc, err := cliTLSClient(ca)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithHTTPClient(hc))
	}
	return client.New(addr, token, opts...)
}

// cliTLSClient returns an HTTP client that trusts only the CA certificates
// in the PEM file ca.
func cliTLSClient(ca string) (*http.Client, error) {
	pool, err := server.LoadCertPool(ca)
	if err != nil {
		return nil, fmt.Errorf("--cacert/COFFER_CACERT: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

func cliFirstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// ifVersionFlag turns --if-version into a compare-and-set condition: unset
// is none, N > 0 requires version N, and 0 (where allowed) means "only if it
// does not exist yet" (coffer.SecretPut's -1).
func (c *cli) ifVersionFlag(v int, zeroAllowed bool) (int, error) {
	switch {
	case !c.isSet("if-version"):
		return 0, nil
	case v > 0:
		return v, nil
	case v == 0 && zeroAllowed:
		return -1, nil
	}
	return 0, c.usageError("--if-version must be a positive version number")
}

// positiveInt parses a version number argument.
func (c *cli) positiveInt(what, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, c.usageError(fmt.Sprintf("%s must be a positive number, not %q", what, s))
	}
	return n, nil
}

// table returns a tabwriter for aligned columns on stdout; call Flush.
func (c *cli) table() *tabwriter.Writer {
	return tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
}

// cliTime renders a time for tables: UTC, to the second; "-" for none.
func cliTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// cliNextCursor guards page loops against a server that repeats a cursor.
func cliNextCursor(prev, next string) (string, error) {
	if next != "" && next == prev {
		return "", errors.New("the server returned the same page cursor twice")
	}
	return next, nil
}
