package main

// The variables 'coffer run' does not set from secrets: those that change
// what a process runs. A key that may only write a store must not gain code
// execution in every workload started with 'coffer run' on it.

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// runDenyExact are variables that choose the program, its libraries, its
// interpreter's start-up code or a command some tool runs. Each needs no
// more than a value to take over a process (PERL5OPT, LUA_INIT, BASH_ENV with
// a here-path, GIT_SSH_COMMAND, PROMPT_COMMAND, ...) or points the process at
// files of the writer's choosing (PATH, PYTHONPATH, HOME, ...).
var runDenyExact = []string{
	// The shell: where commands are found, start-up files, word splitting,
	// traced and prompted commands, options.
	"PATH", "IFS", "ENV", "BASH_ENV", "CDPATH", "SHELL", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND",
	// Where every tool reads its configuration (git's core.sshCommand,
	// ~/.npmrc, ssh's ProxyCommand, ...).
	"HOME", "XDG_CONFIG_HOME",
	// The dynamic loader and the C library: preloaded libraries, character
	// set converters (GCONV_PATH loads a shared object), locales, resolver
	// files, glibc tunables (CVE-2023-4911).
	"GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "RESOLV_HOST_CONF", "GLIBC_TUNABLES",
	// Perl, Ruby, Node.js, Java, PHP, Lua, Tcl, .NET, Go and Rust builds.
	"PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB",
	"RUBYOPT", "RUBYLIB",
	"NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE",
	"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "JAVA_OPTS", "CLASSPATH",
	"PHPRC", "PHP_INI_SCAN_DIR",
	"LUA_INIT", "LUA_PATH", "LUA_CPATH", "TCLLIBPATH",
	"DOTNET_STARTUP_HOOKS",
	"GOFLAGS", "RUSTC_WRAPPER",
	// Commands that tools start: git's, pagers, editors, password prompts.
	"GIT_ASKPASS", "GIT_EDITOR", "GIT_EXEC_PATH", "GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_PROXY_COMMAND",
	"GIT_SEQUENCE_EDITOR", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_TEMPLATE_DIR",
	"PAGER", "MANPAGER", "EDITOR", "VISUAL", "BROWSER", "LESSOPEN", "LESSCLOSE", "SSH_ASKPASS", "SUDO_ASKPASS",
}

// runDenyPrefixes are namespaces refused whole: the loader's (LD_*, DYLD_*
// on macOS), glibc's malloc debugging (MALLOC_TRACE writes a file), bash's
// exported functions, Python's (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME,
// PYTHONINSPECT, PYTHONWARNINGS, PYTHONBREAKPOINT, PYTHONUSERBASE all load or
// run code), git's configuration by environment (GIT_CONFIG_COUNT,
// GIT_CONFIG_KEY_n, GIT_CONFIG_PARAMETERS, GIT_CONFIG_GLOBAL) and npm's
// (npm_config_script_shell, npm_config_node_options).
var runDenyPrefixes = []string{"LD_", "DYLD_", "MALLOC_", "BASH_FUNC_", "PYTHON", "GIT_CONFIG", "NPM_CONFIG_"}

// runDenied reports whether the variable name is one 'coffer run' does not
// set unless allowed. Case is ignored: some programs read either case
// (npm_config_*), and on Windows the environment ignores case.
func runDenied(name string) bool {
	up := strings.ToUpper(name)
	for _, d := range runDenyExact {
		if up == d {
			return true
		}
	}
	for _, p := range runDenyPrefixes {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}

// runDenyHelp lists the refused names for the help of 'coffer run'.
func runDenyHelp() string {
	var b strings.Builder
	line := 0
	add := func(s string) {
		if line > 0 && line+len(s)+1 > 76 {
			b.WriteByte('\n')
			line = 0
		}
		if line == 0 {
			b.WriteString("  ")
			line = 2
		} else {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(s)
		line += len(s)
	}
	for _, d := range runDenyExact {
		add(d)
	}
	for _, p := range runDenyPrefixes {
		add(p + "*")
	}
	return b.String()
}

// runAllowList is the repeatable --allow flag of 'coffer run'.
type runAllowList []string

func (a *runAllowList) String() string { return strings.Join(*a, ",") }

func (a *runAllowList) Set(s string) error {
	if s == "" {
		return fmt.Errorf("an empty variable name")
	}
	*a = append(*a, s)
	return nil
}

// allows reports whether name was given to --allow (ignoring case, as
// runDenied does).
func (a runAllowList) allows(name string) bool {
	for _, n := range a {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// runFilterEnv removes from vars the variables 'coffer run' must not set:
// those runDenied refuses and --allow does not name, and values holding a
// NUL byte, which no environment variable can carry. Each is named on warn,
// never its value.
func runFilterEnv(vars map[string]string, allow runAllowList, warn io.Writer) {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case runDenied(k) && !allow.allows(k):
			delete(vars, k)
			fmt.Fprintf(warn, "coffer run: not setting %s: it changes what a process runs (--allow %s sets it)\n", k, k)
		case strings.IndexByte(vars[k], 0) >= 0:
			delete(vars, k)
			fmt.Fprintf(warn, "coffer run: not setting %s: its value holds a NUL byte, which an environment variable cannot carry\n", k)
		}
	}
}
