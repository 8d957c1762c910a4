package vault

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

// KV settings live in attributes: a secret's in its Attributes, a mount's
// (its config) in its store's, under these keys, with values as Vault
// prints them ("3", "true", "1h0m0s"); an unset setting has no key.
const (
	AttrMaxVersions        = "vault.max_versions"
	AttrCASRequired        = "vault.cas_required"
	AttrDeleteVersionAfter = "vault.delete_version_after"
)

// settings are KV settings of a secret or a mount.
type settings struct {
	maxVersions int
	casRequired bool
	deleteAfter time.Duration
	hasDelete   bool // deleteAfter was set
}

// settingsOf reads settings from attributes; a malformed one is unset.
func settingsOf(attrs map[string]string) settings {
	var st settings
	if n, err := strconv.Atoi(attrs[AttrMaxVersions]); err == nil && n > 0 {
		st.maxVersions = n
	}
	st.casRequired = attrs[AttrCASRequired] == "true"
	if d, err := time.ParseDuration(attrs[AttrDeleteVersionAfter]); err == nil && d >= 0 {
		st.deleteAfter, st.hasDelete = d, true
	}
	return st
}

// effective combines the settings of a secret (nil for none, or one the
// caller may not read) with its mount's, as Vault does: the secret's
// max_versions if set, else the mount's; CAS required if either requires
// it; the secret's delete_version_after if set, else the mount's.
func effective(secret *coffer.Secret, mount settings) settings {
	var sec settings
	if secret != nil {
		sec = settingsOf(secret.Attributes)
	}
	out := mount
	if sec.maxVersions > 0 {
		out.maxVersions = sec.maxVersions
	}
	out.casRequired = sec.casRequired || mount.casRequired
	if sec.hasDelete {
		out.deleteAfter, out.hasDelete = sec.deleteAfter, true
	}
	return out
}

// settingsInput is the settings of a metadata or config write; a nil field
// was not given.
type settingsInput struct {
	MaxVersions        json.RawMessage `json:"max_versions"`
	CASRequired        json.RawMessage `json:"cas_required"`
	DeleteVersionAfter json.RawMessage `json:"delete_version_after"`
}

// attrs returns the attribute changes of the given settings: each given
// one set, or "" (removed) when zero.
func (in *settingsInput) attrs() (map[string]string, error) {
	out := map[string]string{}
	if given(in.MaxVersions) {
		n, err := parseInt("max_versions", in.MaxVersions)
		if err != nil {
			return nil, err
		}
		out[AttrMaxVersions] = ""
		if n > 0 {
			out[AttrMaxVersions] = strconv.Itoa(n)
		}
	}
	if given(in.CASRequired) {
		b, err := parseBool("cas_required", in.CASRequired)
		if err != nil {
			return nil, err
		}
		out[AttrCASRequired] = ""
		if b {
			out[AttrCASRequired] = "true"
		}
	}
	if given(in.DeleteVersionAfter) {
		d, err := parseDuration("delete_version_after", in.DeleteVersionAfter)
		if err != nil {
			return nil, err
		}
		out[AttrDeleteVersionAfter] = ""
		if d > 0 {
			out[AttrDeleteVersionAfter] = d.String()
		}
	}
	return out, nil
}

// given reports whether a field was sent with a value other than null.
func given(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// maxInt is the largest number a version or a setting may be.
const maxInt = math.MaxInt32

// parseInt reads a non-negative integer sent as a JSON number or a string
// of digits, as Vault's weak decoding accepts both (Terraform sends cas as
// a string).
func parseInt(field string, raw json.RawMessage) (int, error) {
	s := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, badRequest("%s must be a non-negative integer", field)
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxInt {
		return 0, badRequest("%s must be a non-negative integer", field)
	}
	return int(n), nil
}

// parseBool reads a JSON boolean, or a string strconv.ParseBool reads.
func parseBool(field string, raw json.RawMessage) (bool, error) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
	}
	return false, badRequest("%s must be a boolean", field)
}

// maxDuration bounds durations: storage keeps times to the year 2262.
const maxDuration = 100 * 365 * 24 * time.Hour

// parseDuration reads a duration as Vault's duration fields do: a number
// of seconds (as a number or a string of digits) or a Go duration string
// ("1h30m"). Negative durations are refused.
func parseDuration(field string, raw json.RawMessage) (time.Duration, error) {
	bad := badRequest("%s must be a duration such as \"1h30m\" or a number of seconds", field)
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(bytes.TrimSpace(raw))
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(maxDuration/time.Second) {
			return 0, bad
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxDuration {
		return 0, bad
	}
	return d, nil
}

// parseCAS reads options.cas: absent or null is none; otherwise a
// non-negative integer, as a number or a string (Terraform's).
func parseCAS(raw json.RawMessage) (int, bool, error) {
	if !given(raw) {
		return 0, false, nil
	}
	n, err := parseInt("cas", raw)
	if err != nil {
		return 0, false, badRequest("error parsing check-and-set parameter")
	}
	return n, true, nil
}

// parseVersions reads a versions list as Vault's comma-int-slice fields
// do: an array of numbers or strings of digits, a comma-separated string,
// or one number. Each must be a version number (1 or more); 400 for an
// empty list.
func parseVersions(raw json.RawMessage) ([]int, error) {
	if !given(raw) {
		return nil, badRequest("no version number provided")
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			for _, p := range strings.Split(s, ",") {
				items = append(items, json.RawMessage(strconv.Quote(strings.TrimSpace(p))))
			}
		} else {
			items = []json.RawMessage{raw}
		}
	}
	if len(items) == 0 {
		return nil, badRequest("no version number provided")
	}
	out := make([]int, 0, len(items))
	for _, it := range items {
		n, err := parseInt("versions", it)
		if err != nil || n < 1 {
			return nil, badRequest("versions must be version numbers (integers of 1 or more)")
		}
		out = append(out, n)
	}
	return out, nil
}

// customMetadata reads custom_metadata: an object of strings, or for a
// PATCH also nulls (a key to remove, returned as nil).
func customMetadata(raw json.RawMessage, patch bool) (map[string]*string, error) {
	var m map[string]*string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, badRequest("custom_metadata must be an object of strings")
	}
	if !patch {
		for _, v := range m {
			if v == nil {
				return nil, badRequest("custom_metadata must be an object of strings")
			}
		}
	}
	if len(m) > coffer.MaxLabels {
		return nil, badRequest("custom_metadata may hold at most %d keys", coffer.MaxLabels)
	}
	return m, nil
}
