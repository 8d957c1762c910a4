package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/coffer-dev/coffer/runenv"
)

func init() {
	cliRegister(cliRunCmd)
}

var cliRunCmd = &clientCommand{
	Name:    "run",
	Usage:   "coffer run --store STORE [--prefix PREFIX] -- CMD [ARGS...]",
	Summary: "run a command with a store's secrets as environment variables",
	Help: `Start CMD with the latest values of the live secrets in STORE (or those whose
names start with --prefix) set as environment variables, on top of the
current environment. coffer waits for CMD, passes SIGINT and SIGTERM on to
it, and exits with its exit status (128+N if signal N ended it; 127 if CMD
was not found). The values are never printed.

A variable's name is the secret's name with the prefix removed and every
'/', '.' and '-' replaced by '_': with --prefix app/, the secret
app/db-password becomes db_password. If a name is then not a valid
variable name (letters, digits and '_', not starting with a digit), or two
secrets map to the same variable, nothing is started.

Expired secrets are left out, each named on standard error.

Variables that change what a process runs are not set from secrets: a key
that may only write the store must not choose the program, its libraries or
its interpreter's start-up code. Each one skipped is named on standard error
(its value never is), and CMD starts without it. --allow NAME (repeatable)
sets the variable NAME anyway. Names are compared ignoring case. Refused:
` + runenv.DenyHelp() + `

A value holding a NUL byte cannot be an environment variable: it is left out
and named on standard error.

Flags go before CMD; "--" ends them, so CMD's own flags are left alone.`,
	Examples: `coffer run --store prod -- ./server --port 8080
coffer run --store prod --prefix app/ -- sh -c 'echo "connecting as $DB_USER"'`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		store := c.Flags.String("store", "", "read the secrets of `STORE` (required)")
		prefix := c.Flags.String("prefix", "", "only secrets whose names start with `PREFIX`, which is removed from the variable names")
		var allow runenv.AllowList
		c.Flags.Var(&allow, "allow", "set the variable `NAME` even though it changes what a process runs (repeatable)")
		argv, err := c.ParseLeading(args)
		if err != nil {
			return err
		}
		switch {
		case *store == "":
			return c.usageError("--store is required")
		case len(argv) == 0:
			return c.usageError("missing CMD")
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		values, err := cliRevealAll(ctx, cl, *store, *prefix, c.Stderr)
		if err != nil {
			return err
		}
		vars, err := runenv.Vars(values, *prefix)
		if err != nil {
			return err
		}
		runenv.Filter(vars, allow, c.Stderr)
		return c.runChild(ctx, argv, runenv.Merge(os.Environ(), vars))
	},
}

// runChild runs argv with env and the command's standard streams, passes
// SIGINT and SIGTERM on to it and returns its exit status as an exitError.
func (c *cli) runChild(ctx context.Context, argv []string, env []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := ctx.Err(); err != nil { // interrupted while the values were read
		return err
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(c.Stderr, "coffer run: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitError{127}
		}
		return exitError{126}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s) // it may have just exited; Wait tells
		case err := <-done:
			return cliExitStatus(err)
		}
	}
}

// cliExitStatus turns the result of Wait into the status coffer exits with.
func cliExitStatus(err error) error {
	var ee *exec.ExitError
	if err == nil {
		return nil
	} else if !errors.As(err, &ee) {
		return err // copying a stream failed
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitError{128 + int(ws.Signal())}
	}
	return exitError{ee.ExitCode()}
}
