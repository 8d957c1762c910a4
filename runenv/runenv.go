// Package runenv turns secrets into the environment of the process that
// 'coffer run' starts: each secret becomes a variable named after it
// ([Name]), on top of the current environment ([Merge]).
//
// Variables that change what a process runs (PATH, LD_PRELOAD,
// NODE_OPTIONS, ...) are not set from secrets unless an [AllowList] names
// them ([Denied], [Filter]): a key that may only write a store must not
// gain code execution in every workload started with 'coffer run' on it.
// Values holding a NUL byte, which no environment variable can carry, are
// left out too. Each variable left out is named on a warning writer, never
// its value.
package runenv

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/dotenv"
)

// Vars maps secrets to environment variables named after them by [Name].
// Two secrets mapping to the same variable are an error.
func Vars(values []*coffer.Value, prefix string) (map[string]string, error) {
	vars := make(map[string]string, len(values))
	from := make(map[string]string, len(values)) // variable name -> secret name
	for _, v := range values {
		name, err := Name(v.Name, prefix)
		if err != nil {
			return nil, err
		}
		if other, dup := from[name]; dup {
			return nil, fmt.Errorf("secrets %q and %q both map to the variable %s", other, v.Name, name)
		}
		from[name] = v.Name
		vars[name] = string(v.Data)
	}
	return vars, nil
}

var nameReplacer = strings.NewReplacer("/", "_", ".", "_", "-", "_")

// Name returns the variable name of a secret: prefix removed, '/', '.' and
// '-' replaced by '_'. It is an error if that leaves no valid POSIX name
// (letters, digits and '_', not starting with a digit).
func Name(secret, prefix string) (string, error) {
	name := nameReplacer.Replace(strings.TrimPrefix(secret, prefix))
	if !dotenv.IsShellName(name) {
		return "", fmt.Errorf("secret %q does not make a valid environment variable name (%q)", secret, name)
	}
	return name, nil
}

// Merge returns environ (KEY=value strings, as os.Environ returns them) with
// vars set, replacing variables of the same name; vars come last, sorted.
func Merge(environ []string, vars map[string]string) []string {
	out := make([]string, 0, len(environ)+len(vars))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, replaced := vars[k]; !replaced {
			out = append(out, kv)
		}
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// denyExact are variables that choose the program, its libraries, its
// interpreter's start-up code or a command some tool runs. Each needs no
// more than a value to take over a process (PERL5OPT, LUA_INIT, BASH_ENV with
// a here-path, GIT_SSH_COMMAND, PROMPT_COMMAND, ...) or points the process at
// files of the writer's choosing (PATH, PYTHONPATH, HOME, ...).
var denyExact = []string{
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

// denyPrefixes are namespaces refused whole: the loader's (LD_*, DYLD_*
// on macOS), glibc's malloc debugging (MALLOC_TRACE writes a file), bash's
// exported functions, Python's (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME,
// PYTHONINSPECT, PYTHONWARNINGS, PYTHONBREAKPOINT, PYTHONUSERBASE all load or
// run code), git's configuration by environment (GIT_CONFIG_COUNT,
// GIT_CONFIG_KEY_n, GIT_CONFIG_PARAMETERS, GIT_CONFIG_GLOBAL) and npm's
// (npm_config_script_shell, npm_config_node_options).
var denyPrefixes = []string{"LD_", "DYLD_", "MALLOC_", "BASH_FUNC_", "PYTHON", "GIT_CONFIG", "NPM_CONFIG_"}

// Denied reports whether the variable name is one 'coffer run' does not set
// unless allowed. Case is ignored: some programs read either case
// (npm_config_*), and on Windows the environment ignores case.
func Denied(name string) bool {
	up := strings.ToUpper(name)
	for _, d := range denyExact {
		if up == d {
			return true
		}
	}
	for _, p := range denyPrefixes {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}

// DenyHelp lists the refused names, wrapped and indented, for the help of
// 'coffer run'.
func DenyHelp() string {
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
	for _, d := range denyExact {
		add(d)
	}
	for _, p := range denyPrefixes {
		add(p + "*")
	}
	return b.String()
}

// AllowList holds the variable names that are set even though [Denied]
// refuses them: the repeatable --allow flag of 'coffer run'. It is a
// flag.Value.
type AllowList []string

// String returns the names, separated by commas.
func (a *AllowList) String() string { return strings.Join(*a, ",") }

// Set adds a name; an empty one is an error.
func (a *AllowList) Set(s string) error {
	if s == "" {
		return fmt.Errorf("an empty variable name")
	}
	*a = append(*a, s)
	return nil
}

// Allows reports whether the list names name (ignoring case, as [Denied]
// does).
func (a AllowList) Allows(name string) bool {
	for _, n := range a {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Filter removes from vars the variables 'coffer run' must not set: those
// [Denied] refuses and allow does not name, and values holding a NUL byte,
// which no environment variable can carry. Each is named on warn, in name
// order, never its value.
func Filter(vars map[string]string, allow AllowList, warn io.Writer) {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case Denied(k) && !allow.Allows(k):
			delete(vars, k)
			fmt.Fprintf(warn, "coffer run: not setting %s: it changes what a process runs (--allow %s sets it)\n", k, k)
		case strings.IndexByte(vars[k], 0) >= 0:
			delete(vars, k)
			fmt.Fprintf(warn, "coffer run: not setting %s: its value holds a NUL byte, which an environment variable cannot carry\n", k)
		}
	}
}
