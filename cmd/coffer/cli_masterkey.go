package main

// This file holds the master-key commands and 'coffer store rotate-key'.
// The operator flow of a master-key rotation is:
//
//  1. coffer master-key new FILE: a new key, in a new 0600 file.
//  2. Restart every server with --master-key-file FILE and the old key as
//     --old-master-key-file (servers of one database may restart one at a
//     time: each reads data wrapped by either key).
//  3. coffer master-key rotate [--reseal]: rewraps every data key under the
//     new key, replaces the auth secret (access tokens end, records are
//     MACed again), with --reseal gives every store a new data key and
//     re-seals the values, online, and reports counts (run it again if it
//     was interrupted).
//  4. coffer master-key status: when the old key id wraps nothing, remove
//     --old-master-key-file and restart; the old key is retired.

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/server"
)

func init() {
	cliRegisterGroup("master-key", "create, rotate to and retire master keys", masterKeyNewCmd, masterKeyRotateCmd, masterKeyStatusCmd)
}

var masterKeyNewCmd = &clientCommand{
	Name:    "master-key new",
	Args:    "FILE",
	Summary: "write a new master key to a new file",
	Help: `Write a new random master key to FILE (created with mode 0600; an existing
file is never overwritten) and print its key id. The key itself is not
printed. Back the file up: data rewrapped under it cannot be read without it.

Then restart the servers with --master-key-file FILE and the current key as
--old-master-key-file, and run 'coffer master-key rotate'.`,
	Examples: `coffer master-key new /etc/coffer/master-2026.key`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, err := c.Parse(args, "FILE")
		if err != nil {
			return err
		}
		k := envelope.GenerateKey()
		defer envelope.Zero(k)
		if err := server.WriteSecretFile(args[0], envelope.EncodeKey(k)+"\n"); err != nil {
			return fmt.Errorf("write master key: %w", err)
		}
		fmt.Fprintf(c.Stdout, "new master key %08x written to %s\n", envelope.KeyID(k), args[0])
		return nil
	},
}

var masterKeyRotateCmd = &clientCommand{
	Name:    "master-key rotate",
	Summary: "rewrap every data key under the server's active master key",
	Help: `Rewrap every store data key, and the server's sealed settings, under the
active master key of the server it asks (operator key only), and replace the
server's auth secret: every access token (cat_) ends, and every API key,
principal, account and hotkey record is MACed under the new secret. It runs
online: readers and writers go on. It is safe to run twice or to interrupt:
a second run skips what is done (but replaces the auth secret again).

Without --reseal values are not re-encrypted: their data keys stay the same,
so whoever holds the old master key and a copy of the database from before
the rotation can read every value written to those stores, even later ones.
After a leak of the master key, use --reseal: every store gets a new data
key and every live version is re-sealed with it (versions of deleted
secrets keep their old data keys). Prints the counts and which master keys
still wrap data.

Every server of the database must hold the new key as its active key before
the run (restarted with it), or servers still on the old key would wrap new
stores' keys with it.`,
	Examples: `coffer master-key rotate
coffer master-key rotate --reseal`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		reseal := c.Flags.Bool("reseal", false, "also give every store a new data key and re-seal its values (after a leak)")
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		rep, err := cl.RotateMasterKey(ctx, *reseal)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "active master key %s: rewrapped %d store keys and %d settings; %d were current, %d gone\n",
			rep.Active, rep.Rewrapped, rep.Settings, rep.Current, rep.Gone)
		fmt.Fprintf(c.Stdout, "new auth secret: access tokens ended; %d records bound again\n", rep.Rebound)
		if *reseal {
			fmt.Fprintf(c.Stdout, "resealed: %d stores have a new data key; %d versions re-encrypted, %d skipped (changed meanwhile)\n",
				rep.Rekeyed, rep.Reencrypted, rep.ReencryptSkipped)
		}
		if rep.RecordsFailed > 0 {
			fmt.Fprintf(c.Stdout, "WARNING: %d records fail their MAC (changed outside coffer); run coffer doctor\n", rep.RecordsFailed)
		}
		printMasterKeyStatus(c, rep.Status)
		if rep.Unreadable > 0 {
			return fmt.Errorf("%d store keys are wrapped by a master key this server does not hold: give it with --old-master-key-file and run again", rep.Unreadable)
		}
		return nil
	},
}

var masterKeyStatusCmd = &clientCommand{
	Name:    "master-key status",
	Summary: "show which master keys still wrap data",
	Help: `Show the server's active master key id, the ids it holds, and for each master
key id that wraps data how many store keys and settings it wraps (operator
key only). An old key that wraps nothing can be retired: remove it from the
servers' configuration. Key ids are printed, never keys.`,
	Examples: `coffer master-key status`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		st, err := cl.MasterKeyStatus(ctx)
		if err != nil {
			return err
		}
		printMasterKeyStatus(c, st)
		return nil
	},
}

func printMasterKeyStatus(c *cli, st *coffer.MasterKeyStatus) {
	tw := c.table()
	fmt.Fprintln(tw, "KEY ID\tSTORE KEYS\tSETTINGS\tSTATE")
	for _, k := range st.Keys {
		state := "old, still needed"
		switch {
		case k.ID == st.Active:
			state = "active"
		case !k.Loaded:
			state = "NOT LOADED: data under it cannot be read"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", k.ID, k.StoreKeys, k.Settings, state)
	}
	for _, id := range st.Loaded {
		if id != st.Active && st.Retired(id) {
			fmt.Fprintf(tw, "%s\t0\t0\t%s\n", id, "old, wraps nothing: can be retired")
		}
	}
	tw.Flush()
}

var storeRotateKeyCmd = &clientCommand{
	Name:    "store rotate-key",
	Args:    "STORE",
	Summary: "give a store a new data key",
	Help: `Give a store a new data key: every new version is sealed with it. Versions
sealed before keep their key and stay readable. With --reencrypt, also
re-seal every version of the store's live secrets with the new key, online,
one version at a time (versions of deleted secrets keep their key). Needs
admin on the store.`,
	Examples: `coffer store rotate-key prod
coffer store rotate-key prod --reencrypt`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		reencrypt := c.Flags.Bool("reencrypt", false, "also re-seal the existing versions with the new key")
		args, cl, err := c.Start(args, "STORE")
		if err != nil {
			return err
		}
		out, err := cl.RotateStoreKey(ctx, args[0], *reencrypt)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s: data key %d", out.Store.Name, out.KeyID)
		if *reencrypt {
			fmt.Fprintf(c.Stdout, "; re-encrypted %d versions, %d skipped (changed meanwhile)", out.Reencrypted, out.Skipped)
		}
		fmt.Fprintln(c.Stdout)
		return nil
	},
}
