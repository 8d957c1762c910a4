package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/coffer-dev/coffer"
)

func init() {
	cliRegisterGroup("secret", "write, read, list and manage secrets and their versions",
		secretPutCmd, secretGetCmd, secretListCmd, secretHistoryCmd, secretRollbackCmd,
		secretDeleteCmd, secretUndeleteCmd, secretDestroyCmd, secretPurgeCmd)
}

var secretPutCmd = &clientCommand{
	Name:    "secret put",
	Args:    "STORE NAME",
	Summary: "write a new version of a secret (value from stdin)",
	Help: `Write a new version of the secret NAME in STORE, creating the secret when
it does not exist, and print "NAME version N".

The value is read from standard input, so that it never lands in the shell
history, or with --file from a file. From standard input one trailing newline
("\n") is removed, so that 'echo s3cret | coffer secret put ...' stores
"s3cret"; every other byte is kept exactly. --raw keeps the trailing newline
too. A file given with --file is always stored byte for byte. Values may be
binary and up to 64 KiB.

--if-version N writes only if the secret's latest version is still N (a lost
race fails with precondition_failed); --if-version 0 writes only if no live
secret of that name exists yet.

--expires sets when the secret expires, as an RFC 3339 time or a duration
from now (720h); "never" removes the expiry. Without it a new secret never
expires and an existing one keeps its expiry. The value of an expired
secret is not served: reads fail with conflict, and 'coffer run' and
'coffer export' leave it out.`,
	Examples: `coffer secret put prod db/password < password.txt
printf %s "$DB_PASSWORD" | coffer secret put prod db/password
coffer secret put prod tls/key --file server.key --comment "rotated by ops"
coffer secret put prod db/password --if-version 3 < new-password.txt
coffer secret put prod s3/key --expires 720h < key.txt`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		file := c.Flags.String("file", "", "read the value from `FILE`, exact bytes, instead of stdin")
		raw := c.Flags.Bool("raw", false, "keep a trailing newline read from stdin")
		ifVersion := c.Flags.Int("if-version", 0, "write only if the latest version is `N` (0: only if the secret does not exist)")
		comment := c.Flags.String("comment", "", "set the secret's `COMMENT`")
		expires := c.Flags.String("expires", "", "expire the secret at `TIME` (RFC 3339, a duration from now such as 720h, or never)")
		args, err := c.Parse(args, "STORE", "NAME")
		if err != nil {
			return err
		}
		cas, err := c.ifVersionFlag(*ifVersion, true)
		if err != nil {
			return err
		}
		in := &coffer.SecretPut{Name: args[1], IfVersion: cas}
		if c.isSet("expires") {
			if in.ExpiresAt, err = cliExpiry(*expires, time.Now()); err != nil {
				return c.usageError(err.Error())
			}
		}
		if c.isSet("comment") {
			in.Comment = comment
		}
		cl, err := c.Client() // before the value is typed in, in case it fails
		if err != nil {
			return err
		}
		if *file != "" {
			in.Value, err = cliReadValueFile(*file)
		} else {
			in.Value, err = c.readValueStdin(*raw)
		}
		if err != nil {
			return err
		}
		sec, err := cl.PutSecret(ctx, args[0], in)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s version %d\n", sec.Name, sec.Version)
		return nil
	},
}

// cliExpiry parses --expires: "never" is the zero time (no expiry), else an
// RFC 3339 time or a positive duration from now.
func cliExpiry(s string, now time.Time) (*time.Time, error) {
	if s == "never" {
		return &time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		t := now.Add(d).UTC()
		return &t, nil
	}
	return nil, fmt.Errorf("--expires %q: want an RFC 3339 time, a positive duration such as 720h, or never", s)
}

// readValueStdin reads a value from stdin and, unless raw, removes one
// trailing newline.
func (c *cli) readValueStdin(raw bool) ([]byte, error) {
	if c.Stdin == nil {
		return nil, errors.New("no standard input to read the value from; use --file")
	}
	if f, ok := c.Stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(c.Stderr, "Type the value, then a newline and Ctrl-D:")
		}
	}
	// One byte more than a file may have: the newline that is removed.
	b, err := cliReadLimited(c.Stdin, coffer.MaxValueSize+1)
	if err != nil {
		return nil, fmt.Errorf("read value from stdin: %w", err)
	}
	if len(b) > coffer.MaxValueSize+1 {
		return nil, coffer.ValidateValue(b)
	}
	if !raw {
		b = bytes.TrimSuffix(b, []byte("\n"))
	}
	return b, coffer.ValidateValue(b)
}

// cliReadValueFile reads a value from a file, exactly.
func cliReadValueFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err // names the file, never its content
	}
	defer f.Close()
	b, err := cliReadLimited(f, coffer.MaxValueSize)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, coffer.ValidateValue(b)
}

// cliReadLimited reads r to the end, or max+1 bytes if it is longer, which the
// caller's size check then refuses.
func cliReadLimited(r io.Reader, max int) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, int64(max)+1))
}

var secretGetCmd = &clientCommand{
	Name:    "secret get",
	Args:    "STORE NAME",
	Summary: "print a secret's value",
	Help: `Print the value of the secret NAME (or its id) in STORE: the latest version,
or --version N. The value is followed by one newline; with --raw it is
written byte for byte with nothing added, for binary values or files.`,
	Examples: `coffer secret get prod db/password
coffer secret get prod db/password --version 2
coffer secret get prod tls/key --raw > server.key`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		version := c.Flags.Int("version", 0, "print version `N` instead of the latest")
		raw := c.Flags.Bool("raw", false, "print the exact bytes, without a newline")
		args, err := c.Parse(args, "STORE", "NAME")
		if err != nil {
			return err
		}
		if *version < 0 {
			return c.usageError("--version must be a positive version number")
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		v, err := cl.Reveal(ctx, args[0], args[1], *version)
		if err != nil {
			return err
		}
		out := v.Data
		if !*raw {
			out = append(out[:len(out):len(out)], '\n')
		}
		_, err = c.Stdout.Write(out)
		return err
	},
}

var secretListCmd = &clientCommand{
	Name:    "secret list",
	Args:    "STORE",
	Summary: "list the secrets of a store",
	Help: `List the secrets of STORE by name, as a table of name, latest version,
status (active, pending, deleted, or expired for an active secret past its
expiry) and time of the last change. --prefix limits the list to names that
start with a prefix; --deleted includes deleted secrets and adds their ids,
which 'coffer secret undelete' and 'coffer secret purge' take.`,
	Examples: `coffer secret list prod
coffer secret list prod --prefix db/
coffer secret list prod --deleted`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		prefix := c.Flags.String("prefix", "", "only names that start with `PREFIX`")
		deleted := c.Flags.Bool("deleted", false, "include deleted secrets, with their ids")
		args, cl, err := c.Start(args, "STORE")
		if err != nil {
			return err
		}
		tw := c.table()
		if *deleted {
			fmt.Fprintln(tw, "NAME\tVERSION\tSTATUS\tUPDATED\tID")
		} else {
			fmt.Fprintln(tw, "NAME\tVERSION\tSTATUS\tUPDATED")
		}
		q := coffer.ListSecrets{Prefix: *prefix, IncludeDeleted: *deleted}
		now := time.Now()
		for {
			page, err := cl.Secrets(ctx, args[0], q)
			if err != nil {
				return err
			}
			for _, s := range page.Secrets {
				status := string(s.Status)
				if s.Status == coffer.StatusActive && s.Expired(now) {
					status = "expired"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s", s.Name, s.Version, status, cliTime(&s.UpdatedAt))
				if *deleted {
					fmt.Fprintf(tw, "\t%s", s.ID)
				}
				fmt.Fprintln(tw)
			}
			if q.Cursor, err = cliNextCursor(q.Cursor, page.NextCursor); err != nil || q.Cursor == "" {
				tw.Flush()
				return err
			}
		}
	},
}

var secretHistoryCmd = &clientCommand{
	Name:    "secret history",
	Args:    "STORE NAME",
	Summary: "list a secret's versions",
	Help: `List the versions of the secret NAME (or its id) in STORE, newest first:
version number, when and by whom it was written, when its value was
destroyed, if it was, and when the version was soft-deleted (its value is
kept but not served until it is undeleted; a time still to come is a
scheduled deletion).`,
	Examples: `coffer secret history prod db/password`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "STORE", "NAME")
		if err != nil {
			return err
		}
		vs, err := cl.Versions(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "VERSION\tCREATED\tBY\tDESTROYED\tDELETED")
		for _, v := range vs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Number, cliTime(&v.CreatedAt), v.CreatedBy, cliTime(v.DestroyedAt),
				cliTime(v.DeletedAt))
		}
		return tw.Flush()
	},
}

var secretRollbackCmd = &clientCommand{
	Name:    "secret rollback",
	Args:    "STORE NAME VERSION",
	Summary: "write an earlier version's value as a new version",
	Help: `Roll the secret NAME in STORE back to VERSION: its value is written again as
a new version, so history is kept. Prints "NAME version N" with the new
version. --if-version N rolls back only if the latest version is still N.`,
	Examples: `coffer secret rollback prod db/password 2`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		ifVersion := c.Flags.Int("if-version", 0, "roll back only if the latest version is `N`")
		args, err := c.Parse(args, "STORE", "NAME", "VERSION")
		if err != nil {
			return err
		}
		to, err := c.positiveInt("VERSION", args[2])
		if err != nil {
			return err
		}
		cas, err := c.ifVersionFlag(*ifVersion, false)
		if err != nil {
			return err
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		sec, err := cl.Rollback(ctx, args[0], args[1], to, cas)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s version %d\n", sec.Name, sec.Version)
		return nil
	},
}

var secretDeleteCmd = &clientCommand{
	Name:    "secret delete",
	Args:    "STORE NAME",
	Summary: "delete a secret (recoverable)",
	Help: `Delete the secret NAME in STORE. The deletion is soft: the secret keeps its
versions and can be restored with 'coffer secret undelete' until it is
purged. Prints the secret's id. --if-version N deletes only if the latest
version is still N.`,
	Examples: `coffer secret delete prod old/api-key`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		ifVersion := c.Flags.Int("if-version", 0, "delete only if the latest version is `N`")
		args, err := c.Parse(args, "STORE", "NAME")
		if err != nil {
			return err
		}
		cas, err := c.ifVersionFlag(*ifVersion, false)
		if err != nil {
			return err
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		sec, err := cl.DeleteSecret(ctx, args[0], args[1], cas)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s deleted, id %s\n", sec.Name, sec.ID)
		return nil
	},
}

var secretUndeleteCmd = &clientCommand{
	Name:    "secret undelete",
	Args:    "STORE NAME_OR_ID",
	Summary: "restore a deleted secret",
	Help: `Restore a deleted secret in STORE, by id, or by name (then the most recently
deleted secret of that name). Fails with conflict if a live secret has taken
the name meanwhile. Prints "NAME version N".`,
	Examples: `coffer secret undelete prod old/api-key
coffer secret undelete prod 3f2a9c0d1e4b5a6f7081928374655647`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "STORE", "NAME_OR_ID")
		if err != nil {
			return err
		}
		sec, err := cl.UndeleteSecret(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s version %d\n", sec.Name, sec.Version)
		return nil
	},
}

var secretDestroyCmd = &clientCommand{
	Name:    "secret destroy",
	Args:    "STORE NAME VERSION",
	Summary: "erase one version's value for good",
	Help: `Erase the value of one version of the secret NAME in STORE, for good. The
version stays in the history, marked destroyed; its value cannot be read or
rolled back to any more.`,
	Examples: `coffer secret destroy prod db/password 1`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, err := c.Parse(args, "STORE", "NAME", "VERSION")
		if err != nil {
			return err
		}
		n, err := c.positiveInt("VERSION", args[2])
		if err != nil {
			return err
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		if err := cl.DestroyVersion(ctx, args[0], args[1], n); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s version %d destroyed\n", args[1], n)
		return nil
	},
}

var secretPurgeCmd = &clientCommand{
	Name:    "secret purge",
	Args:    "STORE ID",
	Summary: "remove a deleted secret for good",
	Help: `Remove a deleted secret and all its versions for good, by id ('coffer secret
delete' prints it; 'coffer secret list --deleted' lists them). A live secret
must be deleted first.`,
	Examples: `coffer secret purge prod 3f2a9c0d1e4b5a6f7081928374655647`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "STORE", "ID")
		if err != nil {
			return err
		}
		if err := cl.PurgeSecret(ctx, args[0], args[1]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s purged\n", args[1])
		return nil
	},
}
