package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

func init() {
	cliRegisterGroup("approle", "manage AppRole roles and secret ids; log in with one",
		approleCreateCmd, approleListCmd, approleGetCmd, approleDeleteCmd, approleRoleIDCmd, approleSecretIDCmd, approleLoginCmd)
}

var approleCreateCmd = &clientCommand{
	Name:    "approle create",
	Args:    "NAME",
	Summary: "create an AppRole role",
	Help: `Create an AppRole role called NAME (docs/identity.md). A workload logs in
with the role's id ('coffer approle role-id') and one of its secret ids
('coffer approle secret-id create') and gets an access token with the role's
--scope flags (the grammar of 'coffer key create'), for --token-ttl.

The role acts as a new service principal approle-NAME, or with --principal
as an existing one. --secret-id-ttl and --secret-id-uses limit each secret
id made after; --secret-id-cidr and --token-cidr limit where logins may come
from (repeatable). Admin keys only.`,
	Examples: `coffer approle create ci --scope 'prod:app/*:reveal' --token-ttl 20m
coffer approle create deploy --scope 'prod:*:read,reveal' --secret-id-ttl 24h --secret-id-uses 1 --secret-id-cidr 10.0.0.0/8`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		in := &coffer.AppRoleCreate{}
		c.Flags.StringVar(&in.PrincipalID, "principal", "", "log in as the principal with this `ID` (default: a new service principal approle-NAME)")
		approleFlags(c, &in.Scopes, &in.TokenTTL, &in.SecretIDTTL, &in.SecretIDNumUses, &in.SecretIDBoundCIDRs, &in.TokenBoundCIDRs)
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		in.Name = args[0]
		r, err := cl.CreateAppRole(ctx, in)
		if err != nil {
			return err
		}
		return printAppRole(c, r)
	},
}

// approleFlags defines the flags of a role's settings.
func approleFlags(c *cli, scopes *[]coffer.Scope, ttl, sttl *time.Duration, uses *int, scidrs, tcidrs *[]string) {
	c.Flags.Func("scope", "grant `STORE:SECRET:ACTIONS` (repeatable; see 'coffer key create --help')", func(s string) error {
		sc, err := coffer.ParseScope(s)
		if err != nil {
			return errors.New(coffer.ErrorMessage(err))
		}
		*scopes = append(*scopes, sc)
		return nil
	})
	c.Flags.DurationVar(ttl, "token-ttl", 0, "life of a login's token (`DURATION`, default 1h, at most 24h)")
	c.Flags.DurationVar(sttl, "secret-id-ttl", 0, "life of each new secret id (`DURATION`; default: no expiry)")
	c.Flags.IntVar(uses, "secret-id-uses", 0, "logins each new secret id allows (`N`; 0: unlimited)")
	c.Flags.Func("secret-id-cidr", "allow logins from this `CIDR` only (repeatable)", func(s string) error {
		*scidrs = append(*scidrs, s)
		return nil
	})
	c.Flags.Func("token-cidr", "allow logins from this `CIDR` only (repeatable; checked at login)", func(s string) error {
		*tcidrs = append(*tcidrs, s)
		return nil
	})
}

// printAppRole prints a role's settings, one per line.
func printAppRole(c *cli, r *coffer.AppRole) error {
	var s []string
	for i := range r.Scopes {
		s = append(s, r.Scopes[i].String())
	}
	tw := c.table()
	for _, row := range [][2]string{
		{"name", r.Name}, {"role_id", r.RoleID}, {"principal", r.PrincipalID}, {"key", r.KeyID},
		{"scopes", strings.Join(s, " ")}, {"token_ttl", r.TokenTTL.String()}, {"secret_id_ttl", r.SecretIDTTL.String()},
		{"secret_id_uses", strconv.Itoa(r.SecretIDNumUses)}, {"secret_id_cidrs", strings.Join(r.SecretIDBoundCIDRs, " ")},
		{"token_cidrs", strings.Join(r.TokenBoundCIDRs, " ")},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], cliFirstNonEmpty(row[1], "-"))
	}
	return tw.Flush()
}

var approleListCmd = &clientCommand{
	Name:     "approle list",
	Summary:  "list AppRole roles",
	Help:     `List the account's AppRole roles: name, scopes, token TTL and principal. Admin keys only.`,
	Examples: `coffer approle list`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		roles, err := cl.AppRoles(ctx)
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "NAME\tSCOPES\tTOKEN TTL\tPRINCIPAL")
		for _, r := range roles {
			var s []string
			for i := range r.Scopes {
				s = append(s, r.Scopes[i].String())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, cliFirstNonEmpty(strings.Join(s, " "), "-"), r.TokenTTL, r.PrincipalID)
		}
		return tw.Flush()
	},
}

var approleGetCmd = &clientCommand{
	Name:     "approle get",
	Args:     "NAME",
	Summary:  "show an AppRole role",
	Help:     `Show the settings of the role NAME, its role id included. Admin keys only.`,
	Examples: `coffer approle get ci`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		r, err := cl.AppRole(ctx, args[0])
		if err != nil {
			return err
		}
		return printAppRole(c, r)
	},
}

var approleDeleteCmd = &clientCommand{
	Name:     "approle delete",
	Args:     "NAME",
	Summary:  "delete an AppRole role",
	Help:     `Delete the role NAME and its secret ids. Every token a login to it made stops working at once.`,
	Examples: `coffer approle delete ci`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		if err := cl.DeleteAppRole(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "role %s deleted\n", args[0])
		return nil
	},
}

var approleRoleIDCmd = &clientCommand{
	Name:     "approle role-id",
	Args:     "NAME",
	Summary:  "print a role's role id",
	Help:     `Print the role id of the role NAME, alone on standard output. It is an identifier, not a secret.`,
	Examples: `ROLE_ID=$(coffer approle role-id ci)`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		r, err := cl.AppRole(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, r.RoleID)
		return nil
	},
}

var approleSecretIDCmd = &clientCommand{
	Name:    "approle secret-id",
	Usage:   "coffer approle secret-id create|list|destroy NAME [ACCESSOR] [flags]",
	Summary: "create, list and destroy a role's secret ids",
	Help: `create NAME prints a new secret id of the role NAME once, alone on standard
output (its accessor goes to standard error); --cidr limits where it may log
in from, --meta KEY=VALUE is kept with it. list NAME lists the accessors;
destroy NAME ACCESSOR removes one. Admin keys only.`,
	Examples: `SECRET_ID=$(coffer approle secret-id create ci --meta env=ci)
coffer approle secret-id list ci
coffer approle secret-id destroy ci 6a1f0c2e-4b7d-4e3a-9c8b-2d5f7a9e1b3c`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		in := &coffer.AppRoleSecretCreate{Metadata: map[string]string{}}
		c.Flags.Func("cidr", "allow logins from this `CIDR` only (repeatable; create)", func(s string) error {
			in.CIDRs = append(in.CIDRs, s)
			return nil
		})
		c.Flags.Func("meta", "keep `KEY=VALUE` with the secret id (repeatable; create)", func(s string) error {
			k, v, ok := strings.Cut(s, "=")
			if !ok || k == "" {
				return errors.New("want KEY=VALUE")
			}
			in.Metadata[k] = v
			return nil
		})
		if len(args) == 0 {
			return c.usageError("want create, list or destroy")
		}
		verb := args[0]
		names := map[string][]string{"create": {"NAME"}, "list": {"NAME"}, "destroy": {"NAME", "ACCESSOR"}}[verb]
		if names == nil {
			return c.usageError("want create, list or destroy, not " + strconv.Quote(verb))
		}
		args, cl, err := c.Start(args[1:], names...)
		if err != nil {
			return err
		}
		switch verb {
		case "create":
			sec, sid, err := cl.CreateAppRoleSecret(ctx, args[0], in)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Stdout, sid)
			fmt.Fprintf(c.Stderr, "created a secret id of role %s, accessor %s; it is shown only this once\n", args[0], sec.Accessor)
			return nil
		case "list":
			secs, err := cl.AppRoleSecrets(ctx, args[0])
			if err != nil {
				return err
			}
			tw := c.table()
			fmt.Fprintln(tw, "ACCESSOR\tCREATED\tEXPIRES\tUSES LEFT\tCIDRS")
			for _, s := range secs {
				left := "unlimited"
				if s.NumUses > 0 {
					left = strconv.Itoa(s.UsesLeft)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Accessor, cliTime(&s.CreatedAt), cliTime(s.ExpiresAt), left,
					cliFirstNonEmpty(strings.Join(s.BoundCIDRs, " "), "-"))
			}
			return tw.Flush()
		}
		if err := cl.DestroyAppRoleSecret(ctx, args[0], args[1]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "secret id %s destroyed\n", args[1])
		return nil
	},
}

var approleLoginCmd = &clientCommand{
	Name:    "approle login",
	Args:    "ROLE_ID",
	Summary: "log in with a role id and secret id; print the token",
	Help: `Exchange ROLE_ID and a secret id for an access token, printed alone on
standard output. The secret id is read from COFFER_SECRET_ID, else from the
first line of standard input (never from the command line, where other users
of the machine could see it). No API key is needed.`,
	Examples: `export COFFER_TOKEN=$(COFFER_SECRET_ID=$SECRET_ID coffer approle login $ROLE_ID)`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, err := c.Parse(args, "ROLE_ID")
		if err != nil {
			return err
		}
		sid := c.getenv("COFFER_SECRET_ID")
		if sid == "" {
			b, err := c.readValueStdin(false)
			if err != nil {
				return err
			}
			sid = strings.TrimSpace(string(b))
		}
		if sid == "" {
			return c.usageError("no secret id: set COFFER_SECRET_ID or pipe it on standard input")
		}
		if c.token == "" && c.getenv("COFFER_TOKEN") == "" {
			c.token = "none" // the login route takes no key; the client wants one to send
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		tok, err := cl.AppRoleLogin(ctx, args[0], sid, "")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, tok.Token)
		fmt.Fprintf(c.Stderr, "logged in to role %s until %s\n", tok.Role.Name, tok.ExpiresAt.Format(time.RFC3339))
		return nil
	},
}
