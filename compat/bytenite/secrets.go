package bytenite

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Where a secret's fields live in coffer: secretType and id make its name
// <secretType>/<id>, name is its comment, secretKey its value, expiresAt its
// expiry, and accessKey and each param attributes.
const (
	attrAccessKey   = "accessKey"
	attrParamPrefix = "params."
)

// Bounds of a secret's fields. An attribute key holds at most 63
// characters, so a param's name at most 63-len("params.").
const (
	maxTypeLen      = 64
	maxIDLen        = 128
	maxDisplayName  = 255
	maxAccessKeyLen = 255
	maxParams       = 32
	maxParamKeyLen  = 63 - len(attrParamPrefix)
	maxParamValLen  = 255
)

// secretJSON is a secret as ByteNite lists it: never with its secretKey.
// Every field is present; expiresAt is null when the secret never expires.
type secretJSON struct {
	ID         string            `json:"id"`
	SecretType string            `json:"secretType"`
	ExpiresAt  *string           `json:"expiresAt"`
	AccessKey  string            `json:"accessKey"`
	Params     map[string]string `json:"params"`
	Name       string            `json:"name"`
}

// secretIn is the secret of a POST /secrets.
type secretIn struct {
	ID         string            `json:"id"`
	SecretType string            `json:"secretType"`
	ExpiresAt  *string           `json:"expiresAt"`
	AccessKey  string            `json:"accessKey"`
	Params     map[string]string `json:"params"`
	Name       string            `json:"name"`
}

// saveSecretRequest is the body of POST /secrets.
type saveSecretRequest struct {
	Secret    *secretIn `json:"secret"`
	SecretKey string    `json:"secretKey"`
}

// secretPut checks the request and turns it into the coffer write. The
// write carries the whole object, as ByteNite's create-or-update does: a
// field left out is cleared (no expiry, no accessKey, no params).
func (req *saveSecretRequest) secretPut() (*coffer.SecretPut, error) {
	in := req.Secret
	if in == nil {
		return nil, errRequired("secret")
	}
	name, err := secretName(in.SecretType, in.ID, "secret.")
	if err != nil {
		return nil, err
	}
	if req.SecretKey == "" {
		return nil, errRequired("secretKey")
	} else if len(req.SecretKey) > coffer.MaxValueSize {
		return nil, coffer.Errorf(coffer.ETOOLARGE, "secretKey is larger than %d bytes", coffer.MaxValueSize)
	}
	if utf8.RuneCountInString(in.Name) > maxDisplayName {
		return nil, coffer.Errorf(coffer.EINVALID, "secret.name is longer than %d characters", maxDisplayName)
	} else if len(in.AccessKey) > maxAccessKeyLen {
		return nil, coffer.Errorf(coffer.EINVALID, "secret.accessKey is longer than %d bytes", maxAccessKeyLen)
	} else if len(in.Params) > maxParams {
		return nil, coffer.Errorf(coffer.EINVALID, "secret.params has more than %d entries", maxParams)
	}
	attrs := make(map[string]string, len(in.Params)+1)
	if in.AccessKey != "" {
		attrs[attrAccessKey] = in.AccessKey
	}
	for k, v := range in.Params {
		if k == "" || len(k) > maxParamKeyLen {
			return nil, coffer.Errorf(coffer.EINVALID, "secret.params names must be 1-%d bytes", maxParamKeyLen)
		} else if len(v) > maxParamValLen {
			return nil, coffer.Errorf(coffer.EINVALID, "secret.params values must be at most %d bytes", maxParamValLen)
		}
		attrs[attrParamPrefix+k] = v
	}
	exp := &time.Time{} // none
	if in.ExpiresAt != nil {
		t, err := parseTime("secret.expiresAt", *in.ExpiresAt)
		if err != nil {
			return nil, err
		}
		if err := coffer.ValidateExpiry(&t); err != nil {
			return nil, coffer.Errorf(coffer.EINVALID, "secret.expiresAt must be between 1970 and 2200")
		}
		exp = &t
	}
	display := in.Name
	return &coffer.SecretPut{
		Name: name, Value: []byte(req.SecretKey), Comment: &display,
		Attributes: attrs, ReplaceAttributes: true, ExpiresAt: exp,
	}, nil
}

// secretName is the coffer name of a ByteNite secret, <secretType>/<id>.
// Both parts are 1 to 64 (type) or 128 (id) letters, digits, '_', '-' and
// '.', and neither is "." or "..": a name splits back one way only.
func secretName(secretType, id, field string) (string, error) {
	if err := checkPart(field+"secretType", secretType, maxTypeLen); err != nil {
		return "", err
	}
	if err := checkPart(field+"id", id, maxIDLen); err != nil {
		return "", err
	}
	return secretType + "/" + id, nil
}

func checkPart(field, s string, max int) error {
	if s == "" {
		return errRequired(field)
	}
	ok := len(s) <= max && s != "." && s != ".."
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	if !ok {
		return coffer.Errorf(coffer.EINVALID, "%s must be 1-%d letters, digits, '_', '-' or '.' (not \".\" or \"..\")", field, max)
	}
	return nil
}

// toSecret renders a coffer secret, or reports false for one whose name is
// not <secretType>/<id> (written to the store through another face).
func toSecret(sec *coffer.Secret) (secretJSON, bool) {
	typ, id, ok := strings.Cut(sec.Name, "/")
	if !ok || strings.Contains(id, "/") {
		return secretJSON{}, false
	}
	out := secretJSON{
		ID: id, SecretType: typ, ExpiresAt: protoTimePtr(sec.ExpiresAt), Name: sec.Comment,
		AccessKey: sec.Attributes[attrAccessKey], Params: map[string]string{},
	}
	for k, v := range sec.Attributes {
		if p, ok := strings.CutPrefix(k, attrParamPrefix); ok {
			out.Params[p] = v
		}
	}
	return out, true
}

// listSecrets answers GET /secrets[?secretType=]: the caller's secrets,
// expired ones included (with their past expiresAt), never a secretKey.
func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	prefix := ""
	if typ := r.URL.Query().Get("secretType"); typ != "" {
		if err := checkPart("secretType", typ, maxTypeLen); err != nil {
			return err
		}
		prefix = typ + "/"
	}
	out := struct {
		Secrets []secretJSON `json:"secrets"`
	}{Secrets: []secretJSON{}}
	q := coffer.ListSecrets{Page: coffer.Page{Limit: coffer.MaxPageSize}, Prefix: prefix}
	for {
		page, err := s.Service.Secrets(r.Context(), StoreName, q)
		if isNotFound(err) {
			break // no store yet: nothing saved
		} else if err != nil {
			return err
		}
		for _, sec := range page.Secrets {
			if js, ok := toSecret(sec); ok {
				out.Secrets = append(out.Secrets, js)
			}
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

// saveSecret answers POST /secrets: create the secret, or write a new
// version of it and replace its metadata.
func (s *Server) saveSecret(w http.ResponseWriter, r *http.Request) error {
	var req saveSecretRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	put, err := req.secretPut()
	if err != nil {
		return err
	}
	sec, err := s.Service.PutSecret(r.Context(), StoreName, put)
	if isNotFound(err) {
		if err := s.ensureStore(r.Context()); err != nil {
			return err
		}
		sec, err = s.Service.PutSecret(r.Context(), StoreName, put)
	}
	if err != nil {
		return err
	}
	msg := "secret updated"
	if sec.Version == 1 {
		msg = "secret created"
	}
	return writeOK(w, r, msg)
}

// ensureStore creates the account's ByteNite store. Two requests may race
// to create it: the loser's ECONFLICT means it exists, which is all that is
// asked.
func (s *Server) ensureStore(ctx context.Context) error {
	_, err := s.Service.CreateStore(ctx, &coffer.StoreCreate{Name: StoreName, Comment: "ByteNite secrets"})
	if err != nil && coffer.ErrorCode(err) != coffer.ECONFLICT {
		return err
	}
	return nil
}

// deleteSecret answers DELETE /secrets/{secretType}/{id}. The delete is
// coffer's soft delete: the native API can restore the secret.
func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	name, err := secretName(r.PathValue("secretType"), r.PathValue("id"), "")
	if err != nil {
		return err
	}
	if _, err := s.Service.DeleteSecret(r.Context(), StoreName, name, 0); err != nil {
		if isNotFound(err) {
			return coffer.Errorf(coffer.ENOTFOUND, "secret not found")
		}
		return err
	}
	return writeOK(w, r, "secret deleted")
}
