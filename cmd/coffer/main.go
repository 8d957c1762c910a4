// Command coffer is the coffer server, its command-line client and its
// benchmark, in one binary.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. Run returns an error to print, or an exitError
// to end with a given status and no message.
type command struct {
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what a subcommand may touch of the process, so tests can run them
// in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

var commands = map[string]command{}

// register adds a subcommand; each file registers its own in init.
func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("coffer: command registered twice: " + name)
	}
	commands[name] = c
}

// exitError ends the process with Code and prints nothing more.
type exitError struct{ Code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	code := Main(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main runs the subcommand named by args[0] and returns the exit status.
func Main(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "coffer: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return 2
	}
	if err := c.Run(ctx, env, args[1:]); err != nil {
		if e, ok := err.(exitError); ok {
			return e.Code
		}
		fmt.Fprintf(env.Stderr, "coffer %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "coffer: a self-hosted secrets manager\n\nUsage: coffer COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		if commands[n].Summary != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nClient commands read COFFER_ADDR (default http://127.0.0.1:8200), COFFER_TOKEN and,\nfor an https:// server with its own CA, COFFER_CACERT.\nRun 'coffer COMMAND --help' for a command's flags.")
}
