// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb in a
// new temporary directory, then the server on a free port of 127.0.0.1 with
// trust authentication, stopped and removed by Close. It finds the binaries
// on PATH or under /usr/lib/postgresql/*/bin (Debian's layout). PostgreSQL
// refuses to run as root, so when the tests run as root the cluster runs as
// the postgres user, in a directory that user owns.
//
// The server runs as a child of the test process, which it does not outlive
// (on Linux it gets SIGQUIT, an immediate shutdown, when the test process
// dies), so a test that panics leaves no server behind.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that gives an existing server to use instead of
// a throwaway cluster (see External): a URL whose user may create
// databases.
const EnvURL = "COFFER_TEST_POSTGRES_URL"

// Cluster is a PostgreSQL server for tests.
type Cluster struct {
	// Dir is the cluster's directory: data/ and the server log (server.log)
	// and unix socket. Empty for an external server.
	Dir  string
	Port int

	base *url.URL // of the maintenance database
	bin  string   // directory of initdb, pg_ctl and postgres
	cred *syscall.Credential

	mu     sync.Mutex
	proc   *exec.Cmd
	exited chan struct{} // closed when proc has exited
	admin  *pgx.Conn
}

// Start creates and starts a throwaway cluster.
func Start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	// The cluster's directory and its parents must be open to the postgres
	// user, which the test's own temporary directories are not.
	parent := ""
	if c.cred != nil {
		parent = "/tmp"
	}
	if c.Dir, err = os.MkdirTemp(parent, "coffer-pg-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := c.setup(); err != nil {
		os.RemoveAll(c.Dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) setup() error {
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(c.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	out, err := c.command("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	var last error
	for range 3 { // the free port may be taken before the server binds it
		if c.Port, err = freePort(); err != nil {
			return err
		}
		c.base = &url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
			Path: "/postgres", RawQuery: "sslmode=disable"}
		if last = c.Restart(); last == nil {
			return nil
		}
	}
	return last
}

// External returns the server at the URL in COFFER_TEST_POSTGRES_URL, or
// nil when it is unset. Stop and Restart fail on it.
func External() *Cluster {
	s := os.Getenv(EnvURL)
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		panic(fmt.Sprintf("pgtest: %s is not a URL: %v", EnvURL, err))
	}
	return &Cluster{base: u}
}

// URL returns the URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	u := *c.base
	u.Path = "/" + name
	return u.String()
}

// CreateDB creates database name as a copy of template (an empty database
// when template is "").
func (c *Cluster) CreateDB(ctx context.Context, name, template string) error {
	q := `CREATE DATABASE ` + pgx.Identifier{name}.Sanitize()
	if template != "" {
		q += ` TEMPLATE ` + pgx.Identifier{template}.Sanitize()
	}
	return c.exec(ctx, q)
}

// DropDB drops database name, closing its connections.
func (c *Cluster) DropDB(ctx context.Context, name string) error {
	return c.exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
}

// exec runs a statement on the maintenance database.
func (c *Cluster) exec(ctx context.Context, sql string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin == nil || c.admin.IsClosed() {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		c.admin = conn
	}
	if _, err := c.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

// Stop stops the server with pg_ctl stop -m mode: "fast" (roll back open
// transactions and shut down cleanly) or "immediate" (quit without a
// checkpoint, as a crash would; the next start recovers from the WAL).
func (c *Cluster) Stop(mode string) error {
	if c.Dir == "" {
		return errors.New("pgtest: an external server cannot be stopped")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin != nil {
		c.admin.Close(context.Background())
		c.admin = nil
	}
	if c.proc == nil {
		return nil
	}
	out, err := c.command("pg_ctl", "stop", "-D", c.data(), "-m", mode, "-w", "-t", "60").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		return errors.New("pgtest: the server did not exit after pg_ctl stop")
	}
	c.proc = nil
	return nil
}

// Restart starts the server again (after Stop) on the same port and data,
// and waits until it accepts connections.
func (c *Cluster) Restart() error {
	if c.Dir == "" {
		return errors.New("pgtest: an external server cannot be started")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		return errors.New("pgtest: the server is running")
	}
	logf, err := os.OpenFile(c.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	cmd := c.command("postgres", "-D", c.data(), "-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+c.Dir, "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	c.proc, c.exited = cmd, exited

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-exited:
			c.proc = nil
			return fmt.Errorf("pgtest: postgres exited at start:\n%s", c.logTail())
		case <-ctx.Done():
			cmd.Process.Kill()
			<-exited
			c.proc = nil
			return fmt.Errorf("pgtest: postgres did not accept connections within 60s: %v\n%s", err, c.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the server (fast) and removes its directory; on an external
// server it only closes the maintenance connection.
func (c *Cluster) Close() error {
	if c.Dir == "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.admin != nil {
			c.admin.Close(context.Background())
		}
		return nil
	}
	err := c.Stop("fast")
	if err != nil {
		c.mu.Lock()
		if c.proc != nil {
			c.proc.Process.Kill()
			<-c.exited
		}
		c.mu.Unlock()
	}
	return errors.Join(err, os.RemoveAll(c.Dir))
}

func (c *Cluster) data() string    { return filepath.Join(c.Dir, "data") }
func (c *Cluster) logPath() string { return filepath.Join(c.Dir, "server.log") }

// logTail returns the end of the server log.
func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// command returns a command running one of the cluster's binaries, as the
// postgres user when the test runs as root.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// findBin returns the directory that holds initdb, pg_ctl and postgres.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL's initdb is not on PATH nor under /usr/lib/postgresql/*/bin; " +
		"install PostgreSQL (Debian: apt-get install postgresql), or set " + EnvURL + " to a server to use")
}

// version is the major version in a path like /usr/lib/postgresql/15/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// postgresUser returns the credential of the postgres user.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL refuses root: %w (the postgresql package creates the postgres user)", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartDB starts a throwaway cluster for tb, stopped when tb ends, and
// returns it with the URL of its new, empty database "coffer". It never
// skips: without PostgreSQL tb fails, saying how to get it.
func StartDB(tb testing.TB) (*Cluster, string) {
	tb.Helper()
	c, err := Start()
	if err != nil {
		tb.Fatalf("start PostgreSQL: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("stop PostgreSQL: %v", err)
		}
	})
	if err := c.CreateDB(context.Background(), "coffer", ""); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	return c, c.URL("coffer")
}
