package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

func init() {
	cliRegisterGroup("audit", "read and verify the audit log (admin only)", auditListCmd, auditVerifyCmd)
}

var auditListCmd = &clientCommand{
	Name:    "audit list",
	Summary: "print audit events, one per line",
	Help: `Print the account's audit events, oldest first (--newest: newest first),
one per line:

  SEQ TIME ACTION OUTCOME [key=value...]

with the fields that are set among store, secret, name, version, key,
principal, reason, face, remote and request (values with spaces are
quoted). The server does the filtering; the filters that are given must
all match:

  --principal ID   the principal id or the key id, exactly
  --object REF     the secret id, the store id or the name, exactly
  --action A       the action exactly (secret.reveal), or every action
                   that starts with A when A ends in "." (secret.)
  --outcome O      ok, or an error code such as forbidden
  --since T        events at or after T
  --until T        events before T

T is an RFC 3339 time (2026-03-04T05:06:07Z) or a duration back from now
(90m, 24h, 7d). --after N starts after event N (with --newest: --before N
starts before it); --limit N stops after N events.`,
	Examples: `coffer audit list
coffer audit list --after 1200 --limit 50
coffer audit list --newest --limit 20
coffer audit list --action secret.reveal --object DB_PASSWORD --since 24h
coffer audit list --principal 0190a4c2e1f37b5d9e8a6c4b2d0f1e3a --outcome forbidden`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		var q coffer.AuditQuery
		c.Flags.Int64Var(&q.After, "after", 0, "start after event number `N`")
		c.Flags.Int64Var(&q.Before, "before", 0, "only events before event number `N`")
		limit := c.Flags.Int("limit", 0, "print at most `N` events (0: all)")
		c.Flags.BoolVar(&q.Newest, "newest", false, "newest first")
		c.Flags.StringVar(&q.Principal, "principal", "", "only events of the principal or key with this `ID`")
		c.Flags.StringVar(&q.Object, "object", "", "only events of the secret or store with this id, or of this `NAME`")
		c.Flags.StringVar(&q.Action, "action", "", "only events of `ACTION` (or of every action with this prefix when it ends in \".\")")
		c.Flags.StringVar(&q.Outcome, "outcome", "", "only events with `OUTCOME`: ok or an error code")
		now := time.Now()
		c.Flags.Func("since", "only events at or after `TIME` (RFC 3339, or a duration back from now like 24h)", func(s string) (err error) {
			q.Since, err = cliParseSince(s, now)
			return err
		})
		c.Flags.Func("until", "only events before `TIME` (RFC 3339, or a duration back from now like 24h)", func(s string) (err error) {
			q.Until, err = cliParseSince(s, now)
			return err
		})
		if _, err := c.Parse(args); err != nil {
			return err
		}
		if q.After < 0 || q.Before < 0 || *limit < 0 {
			return c.usageError("--after, --before and --limit must not be negative")
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		printed := 0
		for *limit == 0 || printed < *limit {
			q.Limit = 0 // the server's page size
			if *limit > 0 {
				q.Limit = min(*limit-printed, coffer.MaxPageSize)
			}
			page, err := cl.AuditEvents(ctx, q)
			if err != nil {
				return err
			}
			for _, e := range page.Events {
				if *limit > 0 && printed >= *limit {
					break
				}
				fmt.Fprintln(c.Stdout, cliFormatEvent(e))
				printed++
			}
			// A filtered page may hold fewer events than asked, even none,
			// and still have a next page: the server searches a bounded
			// part of the log per request.
			if page.Next == 0 {
				break
			}
			if q.Newest {
				if q.Before != 0 && page.Next >= q.Before {
					return fmt.Errorf("the server's next event %d does not move before %d", page.Next, q.Before)
				}
				q.Before = page.Next
			} else {
				if page.Next <= q.After {
					return fmt.Errorf("the server's next event %d does not move past %d", page.Next, q.After)
				}
				q.After = page.Next
			}
		}
		return nil
	},
}

// cliParseSince parses a point in time: RFC 3339, or a duration (90m, 24h,
// 7d) back from now.
func cliParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := cliParseExpiry(s)
	if err != nil {
		return time.Time{}, errors.New("want an RFC 3339 time like 2026-03-04T05:06:07Z, or a duration like 90m, 24h or 7d")
	}
	return now.Add(-d), nil
}

// cliFormatEvent renders an audit event on one line.
func cliFormatEvent(e *coffer.AuditEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s %s", e.Seq, e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), e.Action, e.Outcome)
	field := func(k, v string) {
		if v == "" {
			return
		}
		if strings.ContainsAny(v, " \t\"\\") || !strconv.CanBackquote(v) {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	field("store", e.StoreID)
	field("secret", e.SecretID)
	field("name", e.Name)
	if e.Version != 0 {
		field("version", strconv.Itoa(e.Version))
	}
	field("key", e.KeyID)
	field("principal", e.PrincipalID)
	field("reason", e.Reason)
	field("face", e.Face)
	field("remote", e.Remote)
	field("request", e.RequestID)
	return b.String()
}

var auditVerifyCmd = &clientCommand{
	Name:    "audit verify",
	Summary: "check the audit log's hash chain",
	Help: `Ask the server to verify the whole audit hash chain and its recorded head,
and print the report. Exits with status 1 when the log does not verify:
an event was edited, removed, or cut off the end.`,
	Examples: `coffer audit verify && echo intact`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		r, err := cl.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		if r.OK {
			fmt.Fprintf(c.Stdout, "audit log OK: %d events, head %d %s\n", r.Events, r.HeadSeq, hex.EncodeToString(r.HeadHash))
			return nil
		}
		fmt.Fprintf(c.Stdout, "audit log BROKEN at event %d: %s\n%d events verified before it, head %d %s\n",
			r.BrokenAt, r.Problem, r.Events, r.HeadSeq, hex.EncodeToString(r.HeadHash))
		return exitError{1}
	},
}
