package main

// coffer bench and bench-bare: flags, then package internal/bench.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/bench"
)

func init() {
	register("bench", command{
		Summary: "measure the server's throughput and latency against a bare HTTP server",
		Run:     runBench,
	})
	// bench-bare is the baseline that bench starts; it is not for people.
	register("bench-bare", command{Run: runBenchBare})
}

const benchUsage = `Usage: coffer bench [--duration 5s] [--warmup 1s] [--scenarios all|read,create,version,list,cloudflare,truefoundry,chutes,bytenite,vault,login] [--keep]

Bench measures a coffer server against a bare net/http server in the same run,
on the same machine, and prints one table row per scenario.

It builds nothing. It starts its own binary twice, as child processes:
  coffer server --addr 127.0.0.1:PORT --data DIR/data   (a fresh server; its admin
                                                        token is read from DIR/data/root.token)
  coffer bench-bare --addr 127.0.0.1:PORT2              (a net/http handler returning a
                                                        fixed 64-byte JSON body)
DIR is a new temporary directory that also holds the children's logs; it is
removed at the end unless --keep is given. With --database URL the server
keeps its data in that PostgreSQL database instead of SQLite in DIR/data:
give an empty database, since the run creates its own master key. The children run without the
COFFER_* variables of the environment, so the server runs with its defaults
and never on a database named there. They are stopped with SIGTERM at the end
(SIGKILL after 10s).

Setup, through the native API: store "bench" with secret "read-me" (64-byte
value) and secret "hot"; with the list scenario, store "list1k" with 1,000
secrets, created 32 at a time.

Scenarios. Each runs for --warmup, then is measured for --duration, by a
closed-loop load generator over HTTP/1.1 keep-alive connections: each of c
workers sends its next request as soon as it has read the previous reply.
Each value read runs right after the baseline it is compared with; progress
goes to stderr, and the table is printed at the end.
  row                             --scenarios  request
  baseline bare c=1, 16, 64       (always)     GET / on the bare server
  value read c=1, 16, 64          read         GET /v1/stores/bench/secrets/read-me/value
  create secret c=64              create       PUT /v1/stores/bench/secrets/new-W-I (W worker, I its count)
  new version of one secret c=64  version      PUT /v1/stores/bench/secrets/hot
  list 1,000 secrets c=16         list         GET /v1/stores/list1k/secrets?limit=1000
  cloudflare list 100 c=16        cloudflare   GET /cloudflare/client/v4/accounts/A/secrets_store/stores/S/secrets?per_page=100
                                               (the Cloudflare face: the first page of store list1k)
  truefoundry value read c=64     truefoundry  GET /truefoundry/api/svc/v1/secrets/ID
                                               (the TrueFoundry face: secret read-me with its value and
                                               versions, found by id alone)
  chutes read, API key c=64       chutes       GET /chutes/secrets/ID with the admin token
  chutes read, signed c=64        chutes       the same request signed with a registered hotkey
                                               (X-Chutes-Hotkey/-Nonce/-Signature, sr25519); each
                                               request has its own signature, made before the
                                               scenario starts (one use each: the server refuses
                                               replays), so the load generator does not sign
  bytenite token exchange c=16    bytenite     POST /bytenite/v1/auth/access_token {"apiKey": admin token}
                                               (an API key for a short-lived access token, audited)
  vault value read c=64           vault        GET /vault/v1/bench/data/read-me with X-Vault-Token
                                               (the Vault face, KV v2 mount "bench": the same secret
                                               as {"value": v}); runs right after value read c=64,
                                               which vault runs too, and is compared with it
  approle login c=16              login        POST /v1/approle/login {"role_id","secret_id"}, no key
                                               (a role that may reveal read-me; each login mints an
                                               access token and is audited, a durable write)
Replies are checked: status (201 for creates, else 200), and the body of
value reads and lists against the one verified during setup.

With --servers N (and --database), N servers run on the database (the others
with the first one's master key, data in DIR/dataI), and two more rows spread
their c=64 workers over all of them: "value read c=64, N servers" and
"create secret c=64, N servers". The load generator, every server and
PostgreSQL then share the machine's CPUs.

Columns: successful requests per second; latency p50 and p99 (from sending a
request to having read its whole reply); failed requests (wrong status, wrong
body, transport error); CPU/req, the CPU time (user and system, from
/proc/PID/stat) that the server used while replies were counted, divided by
the requests, summed over all servers in the multi-server rows, which holds
steadier than requests/s when other work shares the machine (PostgreSQL's
own processes are not counted); host, the share of the whole machine's CPU
that was busy meanwhile (/proc/stat: servers, load generator, PostgreSQL and
anything else); the server's VmRSS and VmHWM (peak RSS) from
/proc/PID/status right after the scenario (on Linux only); for value reads, the
ratio to the bare server at the same concurrency.

Targets, printed with PASS or FAIL after the table:
  value read c=64 >= 0.40x bare c=64    create secret c=64 >= 5,000/s
  list 1,000 secrets c=16 >= 3,000/s    server peak RSS < 100 MiB
  chutes signed read >= 0.50x the same read with an API key
  value read c=64 on N servers >= 1.6x on one (with --servers N)
  vault value read c=64 >= 0.90x value read c=64
For scale, OpenBao 2.6.2 (raft) measured about 10.8k/s value reads at c=64,
2.0k/s creates and 2.7k/s lists (c=16) on a machine of this kind.

The load generator, the server and the bare server share the machine's CPUs,
so compare rows of one run, not absolute numbers across machines or runs.

Exit status: 0 whether targets pass or fail (it is a measurement); 1 if setup
failed or a scenario failed more than 1% of its requests; 2 for bad flags.

Flags:
`

// parseBenchFlags parses the command line of bench.
func parseBenchFlags(stderr io.Writer, args []string) (bench.Config, error) {
	var cfg bench.Config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long each scenario is measured")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "how long each scenario runs before it is measured")
	scen := fs.String("scenarios", "all", "comma-separated scenarios to run: all, or some of "+strings.Join(bench.ScenarioKeys, ","))
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory (data and logs) and print its path")
	fs.StringVar(&cfg.DebugAddr, "server-debug-addr", "", "serve the server's pprof on this loopback address, to profile it during a run")
	fs.StringVar(&cfg.Database, "database", "", "run the server on this PostgreSQL `URL`, an empty database that the run fills (default: SQLite in the temporary directory)")
	fs.IntVar(&cfg.Servers, "servers", 1, "with --database: also measure value reads and creates spread over this many servers on the database (1 to 4)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return cfg, exitError{2}
	}
	if cfg.Servers < 1 || cfg.Servers > 4 || cfg.Servers > 1 && cfg.Database == "" {
		fmt.Fprintln(stderr, "--servers must be 1 to 4, and more than 1 only with --database")
		return cfg, exitError{2}
	}
	if cfg.Duration <= 0 || cfg.Warmup < 0 {
		fmt.Fprintln(stderr, "--duration must be positive and --warmup not negative")
		return cfg, exitError{2}
	}
	cfg.Scenarios = map[string]bool{}
	for s := range strings.SplitSeq(*scen, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			for _, k := range bench.ScenarioKeys {
				cfg.Scenarios[k] = true
			}
		case slices.Contains(bench.ScenarioKeys, s):
			cfg.Scenarios[s] = true
		default:
			fmt.Fprintf(stderr, "unknown scenario %q: want all or some of %s\n", s, strings.Join(bench.ScenarioKeys, ","))
			return cfg, exitError{2}
		}
	}
	return cfg, nil
}

// runBench is the bench command: it starts the two servers as children of
// its own binary, then measures them.
func runBench(ctx context.Context, env *Env, args []string) error {
	cfg, err := parseBenchFlags(env.Stderr, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return err
		}
		return exitError{2} // the flag package has printed the problem
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	if err := bench.Run(ctx, cfg, exe, env.Stdout, env.Stderr); errors.Is(err, bench.ErrFailed) {
		return exitError{1}
	} else if err != nil {
		return err
	}
	return nil
}

// runBenchBare is the bench-bare command: the baseline server.
func runBenchBare(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("bench-bare", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	addr := fs.String("addr", "127.0.0.1:8299", "address to listen on")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "bench-bare: listening on %s\n", ln.Addr())
	return bench.ServeBare(ctx, ln)
}
