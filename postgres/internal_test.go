package postgres

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestPoolConfig(t *testing.T) {
	for _, c := range []struct {
		url         string
		maxConns    int32
		idle        time.Duration
		connect     time.Duration
		app, commit string
	}{
		{"postgres://u@db.example/coffer", defaultMaxConns, defaultMaxConnIdle, defaultConnectTimeout, "coffer", "on"},
		{"postgres://u@db.example/coffer?pool_max_conns=3&pool_max_conn_idle_time=1m&connect_timeout=2&application_name=x&synchronous_commit=remote_apply",
			3, time.Minute, 2 * time.Second, "x", "remote_apply"},
		{"host=db.example user=u dbname=coffer pool_max_conns=5", 5, defaultMaxConnIdle, defaultConnectTimeout, "coffer", "on"},
	} {
		cfg, err := poolConfig(c.url)
		if err != nil {
			t.Fatalf("poolConfig(%q): %v", c.url, err)
		}
		rp := cfg.ConnConfig.RuntimeParams
		if cfg.MaxConns != c.maxConns || cfg.MaxConnIdleTime != c.idle || cfg.ConnConfig.ConnectTimeout != c.connect ||
			rp["application_name"] != c.app || rp["synchronous_commit"] != c.commit {
			t.Errorf("poolConfig(%q): got max %d idle %v connect %v app %q commit %q, want %d %v %v %q %q", c.url,
				cfg.MaxConns, cfg.MaxConnIdleTime, cfg.ConnConfig.ConnectTimeout, rp["application_name"], rp["synchronous_commit"],
				c.maxConns, c.idle, c.connect, c.app, c.commit)
		}
		if _, ok := rp["pool_max_conns"]; ok {
			t.Errorf("poolConfig(%q): pool_max_conns sent to the server as a setting", c.url)
		}
	}
	for _, bad := range []string{"", "postgres://u@db.example/coffer?pool_max_conns=x"} {
		if _, err := poolConfig(bad); err == nil {
			t.Errorf("poolConfig(%q): got nil, want an error", bad)
		}
	}
}

func TestPoolConfigHidesPassword(t *testing.T) {
	_, err := poolConfig("postgres://u:hunter2@db.example/coffer?pool_max_conns=x")
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	if s := err.Error(); strings.Contains(s, "hunter2") {
		t.Fatalf("error %q shows the password", s)
	}
}

func TestDBErr(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "57P01"}, coffer.EUNAVAILABLE},
		{&pgconn.PgError{Code: "08006"}, coffer.EUNAVAILABLE},
		{&pgconn.PgError{Code: "53300"}, coffer.EUNAVAILABLE},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), coffer.EUNAVAILABLE},
		{&pgconn.PgError{Code: "23505"}, coffer.EINTERNAL},
		{&pgconn.PgError{Code: "42P01"}, coffer.EINTERNAL},
		{errors.New("cannot scan"), coffer.EINTERNAL},
		{coffer.Errorf(coffer.ENOTFOUND, "x"), coffer.ENOTFOUND},
	} {
		if got := coffer.ErrorCode(dbErr("op", c.err)); got != c.want {
			t.Errorf("dbErr(%v): got code %q, want %q", c.err, got, c.want)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		p, want string
		ok      bool
	}{
		{"a", "b", true},
		{"a¿", "aÀ", true},
		{"a\u007f", "a\u0080", true},
		{"a\ud7ff", "a\ue000", true},
		{"a\U0010ffff", "b", true},
		{"\U0010ffff", "", false},
		{"", "", false},
	} {
		got, ok := prefixEnd(c.p)
		if got != c.want || ok != c.ok {
			t.Errorf("prefixEnd(%q): got %q, %v, want %q, %v", c.p, got, ok, c.want, c.ok)
		}
	}
}

func TestTextEscapes(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "é": "é", "a\x00b": `a\x00b`, "\xff\xfe": `\xff\xfe`, "": ""} {
		if got := text(in); got != want {
			t.Errorf("text(%q): got %q, want %q", in, got, want)
		}
	}
}
