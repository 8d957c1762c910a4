package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/server"
)

// TestTLS_VaultAddr checks that the --vault-addr listener serves TLS with
// the main listener's certificate: Vault's own client, trusting the CA,
// writes and reads a secret at the listener's root, and plain HTTP to it
// gets no answer of the API.
func TestTLS_VaultAddr(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "coffer test CA")
	s := openTLSServer(t, ca.issue("server", 2, false, time.Now().Add(time.Hour)), func(c *server.Config) { c.VaultAddr = "127.0.0.1:0" })
	cfg := vaultapi.DefaultConfig()
	cfg.Address, cfg.MaxRetries, cfg.HttpClient = "https://"+s.VaultAddr, 0, httpsClient(ca.Pool)
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(s.RootToken)
	ctx := context.Background()
	if err := c.Sys().Mount("tls", &vaultapi.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatalf("mount over TLS: %v", err)
	}
	if _, err := c.KVv2("tls").Put(ctx, "app/db", map[string]any{"password": "s3cret"}); err != nil {
		t.Fatalf("put over TLS: %v", err)
	}
	if sec, err := c.KVv2("tls").Get(ctx, "app/db"); err != nil || sec.Data["password"] != "s3cret" {
		t.Fatalf("get over TLS: got %+v, %v", sec, err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if r, err := hc.Get("http://" + s.VaultAddr + "/v1/sys/health"); err == nil {
		r.Body.Close()
		if r.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP to the TLS Vault listener: got %d, want no API answer", r.StatusCode)
		}
	}
}
