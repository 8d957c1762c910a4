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
	cliRegisterGroup("key", "create, list and revoke API keys", keyCreateCmd, keyListCmd, keyRevokeCmd)
}

var keyCreateCmd = &clientCommand{
	Name:    "key create",
	Args:    "NAME",
	Summary: "mint an API key and print its token once",
	Help: `Create an API key called NAME. The token is printed once, alone on standard
output, so that TOKEN=$(coffer key create ...) captures it; the key's id
(for 'coffer key revoke') goes to standard error. The server keeps only a
hash of the token: it cannot be shown again.

The key belongs to the principal of the key you call with, or with
--principal to another principal of the account ('coffer principal list'
shows ids).

A key is either --admin (everything in its account, including managing
keys and principals and reading the audit log) or limited to its --scope
flags, of which it needs at least one. Each --scope is

    STORE:SECRET:ACTION[,ACTION...]

  STORE    a store name or id, or * for every store
  SECRET   a secret name, a prefix ending in * (like db/*), or * for every
           secret in the store
  ACTION   list    list stores and secrets
           read    read metadata and version history
           reveal  read values
           write   create, write new versions, roll back, undelete
           delete  delete, destroy versions, purge
           admin   manage the store itself

A request is allowed when one scope names its store, its secret and its
action. A scope limited to some secrets also lets the key list the store,
and nothing else on the store itself.

No escalation: a key can only mint keys narrower than itself. An admin key
may mint any key, for any principal of its account. Any other key may mint
keys only for its own principal, and only keys that are
  - not --admin;
  - limited to scopes that each fall within one of its own: the same STORE
    written the same way (name or id) unless its own is *, a SECRET that
    matches no name its own does not, and only actions its own has;
  - expiring no later than itself (a key that expires must pass --expires).
The server refuses anything else with forbidden.

--expires makes the key stop working after a duration: 90m, 24h, 30d.`,
	Examples: `coffer key create deploy --scope 'prod:db/*:read,reveal'
coffer key create ci --scope 'staging:*:list,read,reveal,write' --expires 30d
coffer key create backup-admin --admin --expires 24h
coffer key create ci-deploy --principal 0190a4c2e1f37b5d9e8a6c4b2d0f1e3a --scope 'prod:deploy/*:reveal'
export COFFER_TOKEN=$(coffer key create app --scope 'prod:app/*:reveal')`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		admin := c.Flags.Bool("admin", false, "make an admin key: every action, keys and audit included")
		principal := c.Flags.String("principal", "", "mint the key for the principal with this `ID` (default: your own; only admin keys may name another)")
		var scopes []coffer.Scope
		c.Flags.Func("scope", "grant `STORE:SECRET:ACTIONS` (repeatable; see above)", func(s string) error {
			sc, err := coffer.ParseScope(s)
			if err != nil {
				return errors.New(coffer.ErrorMessage(err))
			}
			scopes = append(scopes, sc)
			return nil
		})
		var expires time.Duration
		c.Flags.Func("expires", "expire the key after `DURATION` (like 90m, 24h, 30d)", func(s string) (err error) {
			expires, err = cliParseExpiry(s)
			return err
		})
		args, err := c.Parse(args, "NAME")
		if err != nil {
			return err
		}
		if !*admin && len(scopes) == 0 {
			return c.usageError("a key needs --admin or at least one --scope")
		}
		in := &coffer.APIKeyCreate{Name: args[0], PrincipalID: *principal, Admin: *admin, Scopes: scopes}
		if expires > 0 {
			at := time.Now().Add(expires).UTC()
			in.ExpiresAt = &at
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		key, token, err := cl.CreateAPIKey(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, token)
		fmt.Fprintf(c.Stderr, "created key %s, id %s; its token above is shown only this once\n", key.Name, key.ID)
		return nil
	},
}

// cliParseExpiry parses a positive duration: Go's forms (90m, 24h, 1h30m) or a
// whole number of days (30d).
func cliParseExpiry(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100*365 {
			return 0, errors.New("want a duration like 90m, 24h or 30d")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New("want a duration like 90m, 24h or 30d")
		}
	}
	if d <= 0 {
		return 0, errors.New("the duration must be positive")
	}
	return d, nil
}

var keyListCmd = &clientCommand{
	Name:    "key list",
	Summary: "list API keys",
	Help: `List the account's API keys: id, name, rights (admin, or the scopes in the
STORE:SECRET:ACTIONS grammar), status, creation, expiry, last use and the
id of the principal the key belongs to. Only admin keys may list keys.`,
	Examples: `coffer key list`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		keys, err := cl.APIKeys(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		tw := c.table()
		fmt.Fprintln(tw, "ID\tNAME\tRIGHTS\tSTATUS\tCREATED\tEXPIRES\tLAST USED\tPRINCIPAL")
		for _, k := range keys {
			rights := "admin"
			if !k.Admin {
				var s []string
				for i := range k.Scopes {
					s = append(s, k.Scopes[i].String())
				}
				rights = strings.Join(s, " ")
			}
			status := "active"
			if k.RevokedAt != nil {
				status = "revoked"
			} else if !k.Usable(now) {
				status = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, rights, status,
				cliTime(&k.CreatedAt), cliTime(k.ExpiresAt), cliTime(k.LastUsedAt), cliFirstNonEmpty(k.PrincipalID, "-"))
		}
		return tw.Flush()
	},
}

var keyRevokeCmd = &clientCommand{
	Name:     "key revoke",
	Args:     "ID",
	Summary:  "revoke an API key",
	Help:     `Revoke the API key with the given id ('coffer key list' shows ids). Its token stops working at once.`,
	Examples: `coffer key revoke 3f2a9c0d1e4b5a6f7081928374655647`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "ID")
		if err != nil {
			return err
		}
		if err := cl.RevokeAPIKey(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "key %s revoked\n", args[0])
		return nil
	},
}
