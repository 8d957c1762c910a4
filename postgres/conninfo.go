package postgres

// This file reads the connection strings that Open takes, for the commands
// that name a database to people: which string is one, which database it
// names, and the same string without its password.

import (
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// conninfoRE matches libpq's key=value form: it starts with a keyword and
// '='. A directory whose name looks like that can be given as ./name.
var conninfoRE = regexp.MustCompile(`^\s*[a-z_]+\s*=`)

// IsConnString reports whether s is a PostgreSQL connection string: a
// postgres:// or postgresql:// URL, or libpq's key=value form.
func IsConnString(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") || conninfoRE.MatchString(s)
}

// ConnInfo is the database a connection string names.
type ConnInfo struct {
	Host     string
	Port     uint16
	Database string
}

// ParseConnString parses a connection string as Open would. Its error
// hides the string's password.
func ParseConnString(s string) (*ConnInfo, error) {
	cfg, err := pgconn.ParseConfig(s)
	if err != nil {
		return nil, errors.New(RedactError(err, s))
	}
	return &ConnInfo{Host: cfg.Host, Port: cfg.Port, Database: cfg.Database}, nil
}

// WithApplicationName sets application_name in a postgres:// URL or
// key=value string.
func WithApplicationName(s, app string) string {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return s + " application_name=" + app // the last setting of a keyword wins
}

// Redact hides the password of a postgres:// URL or key=value string.
func Redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return passwordRE.ReplaceAllString(s, "${1}xxxxx")
}

// passwordRE matches the value of a password keyword in key=value form,
// quoted or not.
var passwordRE = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// RedactError returns err's message with the passwords of the given
// connection strings hidden, wherever they appear in it.
func RedactError(err error, conns ...string) string {
	msg := err.Error()
	for _, c := range conns {
		if c == "" {
			continue
		}
		if cfg, perr := pgconn.ParseConfig(c); perr == nil && cfg.Password != "" {
			msg = strings.ReplaceAll(msg, cfg.Password, "xxxxx")
			msg = strings.ReplaceAll(msg, url.QueryEscape(cfg.Password), "xxxxx")
			msg = strings.ReplaceAll(msg, url.PathEscape(cfg.Password), "xxxxx")
		}
		msg = strings.ReplaceAll(msg, c, Redact(c))
	}
	return msg
}
