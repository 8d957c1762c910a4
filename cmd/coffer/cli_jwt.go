package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
)

func init() {
	cliRegisterGroup("jwt", "JWT/OIDC and Kubernetes logins: trust configurations, their roles, and logging in with a token",
		jwtConfigCmd, jwtRoleCmd, jwtLoginCmd)
}

// jwtSubgroup runs the command of subs named by args[0].
func jwtSubgroup(ctx context.Context, c *cli, name string, args []string, subs ...*clientCommand) error {
	if len(args) > 0 {
		for _, sub := range subs {
			if sub.Name == name+" "+args[0] {
				return cliRunCommand(ctx, c.Env, sub, args[1:])
			}
		}
	}
	w := c.Stderr
	fmt.Fprintf(w, "Usage: coffer %s COMMAND [flags] [args]\n\nCommands:\n", name)
	for _, sub := range subs {
		fmt.Fprintf(w, "  %-8s %s\n", strings.TrimPrefix(sub.Name, name+" "), sub.Summary)
	}
	return exitError{2}
}

var jwtConfigCmd = &clientCommand{
	Name:    "jwt config",
	Args:    "create|list|get|delete ...",
	Summary: "manage trust configurations (admin only)",
	Run: func(ctx context.Context, c *cli, args []string) error {
		return jwtSubgroup(ctx, c, "jwt config", args, jwtConfigCreateCmd, jwtConfigListCmd, jwtConfigGetCmd, jwtConfigDeleteCmd)
	},
}

var jwtRoleCmd = &clientCommand{
	Name:    "jwt role",
	Args:    "create|list|get|delete ...",
	Summary: "manage the roles of a trust configuration (admin only)",
	Run: func(ctx context.Context, c *cli, args []string) error {
		return jwtSubgroup(ctx, c, "jwt role", args, jwtRoleCreateCmd, jwtRoleListCmd, jwtRoleGetCmd, jwtRoleDeleteCmd)
	},
}

// cliReadFile reads a small file, or standard input for "-".
func cliReadFile(c *cli, path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = c.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	return strings.TrimSpace(string(b)), err
}

var jwtConfigCreateCmd = &clientCommand{
	Name:    "jwt config create",
	Args:    "NAME",
	Summary: "add a trust configuration",
	Help: `Add a trust configuration NAME: an issuer whose tokens may log in. NAME is
what a login names (the Vault auth mount: jwt, kubernetes, github, ...).
The keys come from exactly one of --keys-file (a JWKS or PEM document kept
in the database), --jwks-url, or --discovery (the issuer's OIDC discovery
document); URLs must be https and are fetched by the server in the
background (a server started with --jwt-fetch=false refuses them).`,
	Examples: `coffer jwt config create github --issuer https://token.actions.githubusercontent.com --discovery
coffer jwt config create kubernetes --issuer https://kubernetes.default.svc.cluster.local --keys-file jwks.json`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		issuer := c.Flags.String("issuer", "", "the tokens' `ISSUER` (iss), exactly")
		keysFile := c.Flags.String("keys-file", "", "JWKS or PEM public keys from `FILE` (- for standard input)")
		jwksURL := c.Flags.String("jwks-url", "", "fetch the keys from this https `URL`")
		discovery := c.Flags.Bool("discovery", false, "fetch the keys through the issuer's OIDC discovery document")
		maxAge := c.Flags.Duration("max-age", 0, "refuse tokens issued longer ago than `DURATION` (default: only exp)")
		leeway := c.Flags.Duration("leeway", 0, "clock skew allowed on exp, nbf and iat (default 60s)")
		single := c.Flags.Bool("single-use", false, "accept each token once")
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		in := &coffer.JWTConfig{Name: args[0], Issuer: *issuer, JWKSURL: *jwksURL, Discovery: *discovery,
			MaxAge: *maxAge, Leeway: *leeway, SingleUse: *single}
		if *keysFile != "" {
			if in.Keys, err = cliReadFile(c, *keysFile); err != nil {
				return fmt.Errorf("--keys-file: %w", err)
			}
		}
		cfg, err := cl.CreateJWTConfig(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "trust configuration %s created for issuer %s\n", cfg.Name, cfg.Issuer)
		return nil
	},
}

var jwtConfigListCmd = &clientCommand{
	Name:     "jwt config list",
	Summary:  "list trust configurations",
	Help:     `List the account's trust configurations: name, issuer and where the keys come from.`,
	Examples: `coffer jwt config list`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		_, cl, err := c.Start(args)
		if err != nil {
			return err
		}
		cs, err := cl.JWTConfigs(ctx)
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "NAME\tISSUER\tKEYS")
		for _, cfg := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", cfg.Name, cfg.Issuer, jwtKeySource(cfg))
		}
		return tw.Flush()
	},
}

func jwtKeySource(c *coffer.JWTConfig) string {
	switch {
	case c.JWKSURL != "":
		return c.JWKSURL
	case c.Discovery:
		return "discovery"
	}
	return "given"
}

var jwtConfigGetCmd = &clientCommand{
	Name:     "jwt config get",
	Args:     "NAME",
	Summary:  "show a trust configuration",
	Help:     `Show a trust configuration and its roles.`,
	Examples: `coffer jwt config get github`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		cfg, err := cl.JWTConfig(ctx, args[0])
		if err != nil {
			return err
		}
		roles, err := cl.JWTRoles(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "name:       %s\nissuer:     %s\nkeys:       %s\nmax age:    %s\nleeway:     %s\nsingle use: %v\nroles:     ",
			cfg.Name, cfg.Issuer, jwtKeySource(cfg), cfg.MaxAge, cfg.Leeway, cfg.SingleUse)
		for _, r := range roles {
			fmt.Fprintf(c.Stdout, " %s", r.Name)
		}
		fmt.Fprintln(c.Stdout)
		return nil
	},
}

var jwtConfigDeleteCmd = &clientCommand{
	Name:    "jwt config delete",
	Args:    "NAME",
	Summary: "delete a trust configuration and its roles",
	Help: `Delete a trust configuration with its roles; every token its logins
issued stops working at once.`,
	Examples: `coffer jwt config delete github`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "NAME")
		if err != nil {
			return err
		}
		if err := cl.DeleteJWTConfig(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "trust configuration %s deleted\n", args[0])
		return nil
	},
}

var jwtRoleCreateCmd = &clientCommand{
	Name:    "jwt role create",
	Args:    "CONFIG NAME",
	Summary: "add a role to a trust configuration",
	Help: `Add a role NAME to the trust configuration CONFIG: which tokens of its
issuer may log in (their audience, subject and claims; for a kubernetes
role the service accounts' names and namespaces) and the scopes of the
token they get. A jwt role must bind something: --audience, --subject or
--claim. Login tokens live --ttl, never past the JWT's own exp.`,
	Examples: `coffer jwt role create github deploy --audience https://github.com/acme \
    --claim repository=acme/app --claim ref=refs/heads/main --scope 'prod:app/*:reveal'
coffer jwt role create kubernetes app --kind kubernetes --audience vault \
    --service-account app --namespace prod --scope 'prod:app/*:read,reveal'`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		kind := c.Flags.String("kind", "jwt", "`KIND` of role: jwt or kubernetes")
		subject := c.Flags.String("subject", "", "the tokens' sub must be `SUB`")
		glob := c.Flags.Bool("glob", false, "--claim values are globs ('*' for any run of characters)")
		ttl := c.Flags.Duration("ttl", 0, "life of a login's token (default 1h, at most 24h)")
		principal := c.Flags.String("principal", "", "the principal `ID` the tokens act as (default: a new service principal)")
		in := &coffer.JWTRole{}
		c.Flags.Func("audience", "accept tokens whose aud holds `AUD` (repeatable)", func(s string) error {
			in.BoundAudiences = append(in.BoundAudiences, s)
			return nil
		})
		c.Flags.Func("claim", "bind claim `NAME=VALUE` (repeatable; values of one name are alternatives)", func(s string) error {
			k, v, ok := strings.Cut(s, "=")
			if !ok || k == "" {
				return errors.New("want NAME=VALUE")
			}
			if in.BoundClaims == nil {
				in.BoundClaims = map[string][]string{}
			}
			in.BoundClaims[k] = append(in.BoundClaims[k], v)
			return nil
		})
		c.Flags.Func("service-account", "kubernetes: accept service account `NAME` (glob; repeatable)", func(s string) error {
			in.BoundServiceAccountNames = append(in.BoundServiceAccountNames, s)
			return nil
		})
		c.Flags.Func("namespace", "kubernetes: accept namespace `NS` (glob; repeatable)", func(s string) error {
			in.BoundServiceAccountNamespaces = append(in.BoundServiceAccountNamespaces, s)
			return nil
		})
		c.Flags.Func("scope", "grant `STORE:SECRET:ACTIONS` (repeatable)", func(s string) error {
			sc, err := coffer.ParseScope(s)
			if err != nil {
				return errors.New(coffer.ErrorMessage(err))
			}
			in.Scopes = append(in.Scopes, sc)
			return nil
		})
		args, cl, err := c.Start(args, "CONFIG", "NAME")
		if err != nil {
			return err
		}
		in.Name, in.Kind, in.BoundSubject, in.TokenTTL, in.PrincipalID = args[1], *kind, *subject, *ttl, *principal
		if *glob {
			in.BoundClaimsType = "glob"
		}
		r, err := cl.CreateJWTRole(ctx, args[0], in)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "role %s of %s created (principal %s)\n", r.Name, args[0], r.PrincipalID)
		return nil
	},
}

var jwtRoleListCmd = &clientCommand{
	Name:     "jwt role list",
	Args:     "CONFIG",
	Summary:  "list the roles of a trust configuration",
	Help:     `List the roles of the trust configuration CONFIG: name, kind, scopes and token life.`,
	Examples: `coffer jwt role list github`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "CONFIG")
		if err != nil {
			return err
		}
		roles, err := cl.JWTRoles(ctx, args[0])
		if err != nil {
			return err
		}
		tw := c.table()
		fmt.Fprintln(tw, "NAME\tKIND\tSCOPES\tTTL")
		for _, r := range roles {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Kind, jwtScopes(r.Scopes), r.TokenTTL)
		}
		return tw.Flush()
	},
}

func jwtScopes(scopes []coffer.Scope) string {
	s := make([]string, len(scopes))
	for i := range scopes {
		s[i] = scopes[i].String()
	}
	return strings.Join(s, " ")
}

var jwtRoleGetCmd = &clientCommand{
	Name:     "jwt role get",
	Args:     "CONFIG NAME",
	Summary:  "show a role",
	Help:     `Show a role of a trust configuration with its bindings.`,
	Examples: `coffer jwt role get github deploy`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "CONFIG", "NAME")
		if err != nil {
			return err
		}
		r, err := cl.JWTRole(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "name:      %s\nkind:      %s\nprincipal: %s\nscopes:    %s\naudiences: %s\nsubject:   %s\n",
			r.Name, r.Kind, r.PrincipalID, jwtScopes(r.Scopes), strings.Join(r.BoundAudiences, " "), r.BoundSubject)
		for k, v := range r.BoundClaims {
			fmt.Fprintf(c.Stdout, "claim:     %s = %s (%s)\n", k, strings.Join(v, " | "), r.BoundClaimsType)
		}
		if r.Kind == coffer.JWTKindKubernetes {
			fmt.Fprintf(c.Stdout, "accounts:  %s\nnamespaces: %s\n", strings.Join(r.BoundServiceAccountNames, " "),
				strings.Join(r.BoundServiceAccountNamespaces, " "))
		}
		fmt.Fprintf(c.Stdout, "token ttl: %s\n", r.TokenTTL)
		return nil
	},
}

var jwtRoleDeleteCmd = &clientCommand{
	Name:     "jwt role delete",
	Args:     "CONFIG NAME",
	Summary:  "delete a role",
	Help:     `Delete a role; every token its logins issued stops working at once.`,
	Examples: `coffer jwt role delete github deploy`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		args, cl, err := c.Start(args, "CONFIG", "NAME")
		if err != nil {
			return err
		}
		if err := cl.DeleteJWTRole(ctx, args[0], args[1]); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "role %s of %s deleted\n", args[1], args[0])
		return nil
	},
}

var jwtLoginCmd = &clientCommand{
	Name:    "jwt login",
	Args:    "CONFIG ROLE",
	Summary: "exchange a JWT for a coffer token",
	Help: `Log in with the JWT in --jwt-file (a Kubernetes service-account token, a CI
job's OIDC token; - reads standard input) as ROLE of the trust
configuration CONFIG, and print the coffer access token the login gives.
No API key is needed.`,
	Examples: `export COFFER_TOKEN=$(coffer jwt login kubernetes app --jwt-file /var/run/secrets/kubernetes.io/serviceaccount/token)
echo "$ACTIONS_ID_TOKEN" | coffer jwt login github deploy --jwt-file -`,
	Run: func(ctx context.Context, c *cli, args []string) error {
		file := c.Flags.String("jwt-file", "", "read the JWT from `FILE` (- for standard input)")
		args, err := c.Parse(args, "CONFIG", "ROLE")
		if err != nil {
			return err
		}
		if *file == "" {
			return c.usageError("--jwt-file is required (the token never goes on the command line)")
		}
		tok, err := cliReadFile(c, *file)
		if err != nil {
			return fmt.Errorf("--jwt-file: %w", err)
		}
		addr := cliFirstNonEmpty(c.addr, c.getenv("COFFER_ADDR"), cliDefaultAddr)
		opts := []client.Option{client.WithUserAgent("coffer-cli")}
		if ca := cliFirstNonEmpty(c.cacert, c.getenv("COFFER_CACERT")); ca != "" {
			hc, err := cliTLSClient(ca)
			if err != nil {
				return err
			}
			opts = append(opts, client.WithHTTPClient(hc))
		}
		cl, err := client.New(addr, "", opts...)
		if err != nil {
			return err
		}
		out, err := cl.JWTLogin(ctx, args[0], args[1], tok, "")
		if err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, out.Token)
		fmt.Fprintf(c.Stderr, "logged in as role %s of %s until %s\n", args[1], args[0], out.ExpiresAt.Format(time.RFC3339))
		return nil
	},
}
