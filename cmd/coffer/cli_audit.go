package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
)

func init() {
	cliRegisterGroup("audit", "read and verify the audit log (admin only)", auditListCmd, auditVerifyCmd)
}

var auditListCmd = &clientCommand{
	Name:    "audit list",
	Summary: "print audit events, one per line",
	Help: `Print the account's audit events in order, one per line:

  SEQ TIME ACTION OUTCOME [key=value...]

with the fields that are set among store, secret, name, version, key,
principal, reason, face, remote and request (values with spaces are
quoted). --after N starts after event N; --limit N stops after N events.`,
	Examples: `coffer audit list
coffer audit list --after 1200 --limit 50
coffer audit list | grep secret.reveal`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		after := c.Flags.Int64("after", 0, "start after event number `N`")
		limit := c.Flags.Int("limit", 0, "print at most `N` events (0: all)")
		if _, err := c.Parse(args); err != nil {
			return err
		}
		if *after < 0 || *limit < 0 {
			return c.usageError("--after and --limit must not be negative")
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		printed := 0
		for *limit == 0 || printed < *limit {
			n := 0 // the server's page size
			if *limit > 0 {
				n = min(*limit-printed, coffer.MaxPageSize)
			}
			page, err := cl.AuditEvents(ctx, *after, n)
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
			if page.Next == 0 || len(page.Events) == 0 {
				break
			} else if page.Next <= *after {
				return fmt.Errorf("the server's next event %d does not move past %d", page.Next, *after)
			}
			*after = page.Next
		}
		return nil
	},
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
