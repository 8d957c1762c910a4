package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// benchVaultPath is the Vault face's KV v2 read of secret read-me in store
// (mount) bench, on the main listener's /vault/ prefix.
const benchVaultPath = "/vault/v1/bench/data/read-me"

// vaultRead is the Vault face's read of read-me, with the token as Vault's
// clients send it (X-Vault-Token, X-Vault-Request), not as a bearer.
func (b *bench) vaultRead() *http.Request {
	req := b.coffer.request("GET", benchVaultPath, nil)
	req.Header = http.Header{"X-Vault-Token": {b.coffer.Token}, "X-Vault-Request": {"true"}}
	return req
}

// benchCheckVault checks the Vault face's reply to a read of read-me: the
// 64-byte value written through the native API reads as {"value": v}, its
// version 1, neither deleted nor destroyed.
func benchCheckVault(body []byte) error {
	var r struct {
		Data *struct {
			Data     map[string]string `json:"data"`
			Metadata struct {
				Version      int    `json:"version"`
				DeletionTime string `json:"deletion_time"`
				Destroyed    bool   `json:"destroyed"`
			} `json:"metadata"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("vault reply: %w", err)
	}
	if r.Data == nil {
		return fmt.Errorf("vault reply: no data")
	}
	d, m := r.Data.Data, r.Data.Metadata
	if len(d) != 1 || d["value"] != benchValue || m.Version != 1 || m.DeletionTime != "" || m.Destroyed {
		return fmt.Errorf("vault reply: got data of %d keys with value %q, version %d, deletion_time %q, destroyed %v; want {value: %q} version 1, live",
			len(d), d["value"], m.Version, m.DeletionTime, m.Destroyed, benchValue)
	}
	return nil
}
