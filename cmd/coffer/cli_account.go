package main

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
)

func init() {
	cliRegisterGroup("account", "create and list accounts (operator only)", accountCreateCmd, accountListCmd)
	cliRegisterGroup("principal", "create and list the users and services of an account (admin only)", principalCreateCmd, principalListCmd)
}

var accountCreateCmd = &clientCommand{
	Name:    "account create",
	Args:    "NAME",
	Summary: "create an account and print its admin token once",
	Help: `Create an account called NAME: a tenant whose stores, secrets, keys and
audit log nobody in another account can see. Names are 1-64 letters,
digits, '_', '-' and '.'.

The account gets a first principal, "admin", with an admin key. Standard
output gets two lines: the account's name and id, then the admin key's
token alone on the last line. The token is shown only this once (the
server keeps only a hash of it): hand it to the account's owner, who
creates stores, keys and principals with it.

Only the operator may create accounts: an admin key of the account made at
the server's first start, such as the root token in coffer-data/root.token.
Any other key gets forbidden.`,
	Examples: `coffer account create acme
coffer account create acme | tail -n 1 > acme.token`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		a, err := cl.CreateAccount(ctx, &coffer.AccountCreate{Name: args[0]})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s id %s\n%s\n", a.Account.Name, a.Account.ID, a.Token)
		principal := "its first principal"
		if a.Principal != nil {
			principal = fmt.Sprintf("principal %s (id %s)", a.Principal.Name, a.Principal.ID)
		}
		fmt.Fprintf(c.Stderr, "created account %s with %s and admin key id %s; the token on the last line is shown only this once\n",
			a.Account.Name, principal, a.Key.ID)
		return nil
	},
}

var accountListCmd = &clientCommand{
	Name:    "account list",
	Summary: "list accounts",
	Help: `List every account of the server, ordered by id, as a table of id, name and
creation time. Only the operator may list accounts.`,
	Examples: `coffer account list`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		accounts, err := cl.Accounts(ctx)
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "ID\tNAME\tCREATED")
		for _, a := range accounts {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.ID, a.Name, cliTime(&a.CreatedAt))
		}
		return tw.Flush()
	},
}

var principalCreateCmd = &clientCommand{
	Name:    "principal create",
	Args:    "NAME",
	Summary: "add a user or service principal",
	Help: `Add a principal called NAME to the account: a user (a person) or a service
(a program, like a CI job). Names are 1-64 letters, digits, '_', '-' and
'.', unique in the account. Prints the principal's name and id.

A principal acts through API keys: mint one for it with
'coffer key create KEYNAME --principal ID ...'. Only admin keys may create
principals.`,
	Examples: `coffer principal create ci
coffer principal create alice --kind user`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		kind := c.Flags.String("kind", "service", "`KIND` of principal: user or service")
		args, err := c.Parse(args, "NAME")
		if err != nil {
			return err
		}
		if *kind != "user" && *kind != "service" {
			return c.usageError(fmt.Sprintf("--kind must be user or service, not %q", *kind))
		}
		cl, err := c.Client()
		if err != nil {
			return err
		}
		p, err := cl.CreatePrincipal(ctx, &coffer.PrincipalCreate{Name: args[0], Kind: *kind})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s id %s\n", p.Name, p.ID)
		return nil
	},
}

var principalListCmd = &clientCommand{
	Name:    "principal list",
	Summary: "list principals",
	Help: `List the principals of the account, as a table of id, name, kind (user or
service) and creation time. Only admin keys may list principals.`,
	Examples: `coffer principal list`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		principals, err := cl.Principals(ctx)
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "ID\tNAME\tKIND\tCREATED")
		for _, p := range principals {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, p.Name, p.Kind, cliTime(&p.CreatedAt))
		}
		return tw.Flush()
	},
}
