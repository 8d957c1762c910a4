package main

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
)

func init() {
	cliRegisterGroup("store", "create, list, delete stores and rotate their keys", storeCreateCmd, storeListCmd, storeDeleteCmd, storeRotateKeyCmd)
}

var storeCreateCmd = &clientCommand{
	Name:    "store create",
	Args:    "STORE",
	Summary: "create a store",
	Help: `Create a store: a named group of secrets with its own data key. Names are
1-255 letters, digits, '_', '-', '.' and '/'. Prints the store's name and id.`,
	Examples: `coffer store create prod --comment "production services"`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		comment := c.Flags.String("comment", "", "a `COMMENT` describing the store")
		args, cl, err := c.Start(args, "STORE")
		if err != nil {
			return err
		}
		st, err := cl.CreateStore(ctx, &coffer.StoreCreate{Name: args[0], Comment: *comment})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s id %s\n", st.Name, st.ID)
		return nil
	},
}

var storeListCmd = &clientCommand{
	Name:     "store list",
	Summary:  "list stores",
	Help:     `List the stores of the account by name, as a table of name, id, creation time and comment.`,
	Examples: `coffer store list`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "NAME\tID\tCREATED\tCOMMENT")
		var cursor string
		for {
			page, err := cl.Stores(ctx, coffer.Page{Cursor: cursor})
			if err != nil {
				return err
			}
			for _, st := range page.Stores {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.Name, st.ID, cliTime(&st.CreatedAt), st.Comment)
			}
			if cursor, err = cliNextCursor(cursor, page.NextCursor); err != nil || cursor == "" {
				tw.Flush()
				return err
			}
		}
	},
}

var storeDeleteCmd = &clientCommand{
	Name:    "store delete",
	Args:    "STORE",
	Summary: "delete a store",
	Help: `Delete a store, by name or id. A store that still holds live secrets is
only deleted with --force, which deletes its secrets and all their versions
for good.`,
	Examples: `coffer store delete staging
coffer store delete staging --force`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		force := c.Flags.Bool("force", false, "also delete every secret in the store, for good")
		args, cl, err := c.Start(args, "STORE")
		if err != nil {
			return err
		}
		if err := cl.DeleteStore(ctx, args[0], *force); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s deleted\n", args[0])
		return nil
	},
}
