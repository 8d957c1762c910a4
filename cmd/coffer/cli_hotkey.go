package main

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
)

func init() {
	cliRegisterGroup("hotkey", "register, list and remove the hotkeys that sign Chutes requests (admin only)",
		hotkeyAddCmd, hotkeyListCmd, hotkeyRemoveCmd)
}

var hotkeyAddCmd = &clientCommand{
	Name:    "hotkey add",
	Args:    "PRINCIPAL SS58",
	Summary: "register a hotkey to a principal",
	Help: `Register the hotkey SS58 to PRINCIPAL, a principal of the account given by
id or by name ('coffer principal list' shows both). A hotkey is the SS58
address of an sr25519 public key, such as a Bittensor hotkey ("5..."): a
Chutes client that signs its requests with the key's secret acts as that
principal, with the powers of an admin key, without any API key.

The address may be in any one-byte SS58 format; it is kept in the generic
Substrate format (prefix 42, "5..."), which is Bittensor's. One key belongs
to at most one principal of the whole server. A signed request is accepted
once: its nonce (unix seconds) must be within 600 seconds of the server's
clock, and the same signature is refused a second time.

Only admin keys may register hotkeys.`,
	Examples: `coffer hotkey add alice 5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu
coffer hotkey add 0190a4c2e1f37b5d9e8a6c4b2d0f1e3a 5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "PRINCIPAL", "SS58")
		if err != nil {
			return err
		}
		principal := args[0]
		if !cliIsID(principal) {
			ps, err := cl.Principals(ctx)
			if err != nil {
				return err
			}
			principal = ""
			for _, p := range ps {
				if p.Name == args[0] {
					principal = p.ID
				}
			}
			if principal == "" {
				return coffer.Errorf(coffer.ENOTFOUND, "no principal named %s in the account", args[0])
			}
		}
		h, err := cl.RegisterHotkey(ctx, principal, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "hotkey %s registered to principal %s\n", h.SS58, h.PrincipalID)
		return nil
	},
}

// cliIsID reports whether s has the shape of an object id: 32 lowercase
// hex digits.
func cliIsID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

var hotkeyListCmd = &clientCommand{
	Name:    "hotkey list",
	Summary: "list hotkeys",
	Help: `List the hotkeys of the account, oldest first, as a table of address, the
id of the principal it signs for, and registration time. Only admin keys
may list hotkeys.`,
	Examples: `coffer hotkey list`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		hs, err := cl.Hotkeys(ctx)
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "HOTKEY\tPRINCIPAL\tCREATED")
		for _, h := range hs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", h.SS58, h.PrincipalID, cliTime(&h.CreatedAt))
		}
		return tw.Flush()
	},
}

var hotkeyRemoveCmd = &clientCommand{
	Name:    "hotkey remove",
	Args:    "SS58",
	Summary: "remove a hotkey",
	Help: `Remove the hotkey SS58 from the account. Requests it signs stop working at
once on the server that removes it and within a second on every other
server of the same database. Only admin keys may remove hotkeys.`,
	Examples: `coffer hotkey remove 5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "SS58")
		if err != nil {
			return err
		}
		if err := cl.RemoveHotkey(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "hotkey %s removed\n", args[0])
		return nil
	},
}
