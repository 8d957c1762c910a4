package vault

import (
	"context"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer"
)

// KV verbs: the path segment after a mount that says what a KV v2 request
// is about.
const (
	verbData     = "data"
	verbMetadata = "metadata"
	verbDelete   = "delete"
	verbUndelete = "undelete"
	verbDestroy  = "destroy"
	verbSubkeys  = "subkeys"
	verbConfig   = "config"
)

func isVerb(s string) bool {
	switch s {
	case verbData, verbMetadata, verbDelete, verbUndelete, verbDestroy, verbSubkeys, verbConfig:
		return true
	}
	return false
}

// kvPath is a KV v2 request's path: the mount (a store's name), the verb,
// and the secret name after it ("" for config, or for a list of the
// mount's root).
type kvPath struct {
	mount, verb, name string
}

// errInvalidKVPath answers a path under a mount that has no KV verb, as a
// KV v2 mount answers a version 1 path.
var errInvalidKVPath = &Error{Status: http.StatusNotFound, Errors: []string{"Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation."}}

// splitPath splits a logical path into segments, refusing empty, "." and
// ".." segments (400). A list may end in '/'.
func splitPath(p string, list bool) ([]string, error) {
	if list {
		p = strings.TrimSuffix(p, "/")
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return nil, badRequest("invalid path: empty, '.' or '..' segment")
		}
	}
	return segs, nil
}

// resolve finds the mount of a KV path: the longest prefix that names a
// store the caller can see, tried only at the split points just before a
// KV verb (config only as the last segment). With one split point, which
// is the common case, no store is looked up here: the operation itself
// answers 404 for a store that does not exist. With several, each but the
// shortest is looked up, longest first.
func (s *Server) resolve(ctx context.Context, p string, list bool) (kvPath, error) {
	segs, err := splitPath(p, list)
	if err != nil {
		return kvPath{}, err
	}
	var splits []int
	for i := len(segs) - 1; i >= 1; i-- {
		if isVerb(segs[i]) && (segs[i] != verbConfig || i == len(segs)-1) {
			splits = append(splits, i)
		}
	}
	if len(splits) == 0 {
		return kvPath{}, errInvalidKVPath
	}
	pick := splits[len(splits)-1]
	for _, i := range splits[:len(splits)-1] {
		_, err := s.Service.Store(ctx, strings.Join(segs[:i], "/"))
		if err == nil || isCode(err, coffer.EFORBIDDEN) {
			pick = i
			break
		} else if !isCode(err, coffer.ENOTFOUND) {
			return kvPath{}, err
		}
	}
	kp := kvPath{mount: strings.Join(segs[:pick], "/"), verb: segs[pick], name: strings.Join(segs[pick+1:], "/")}
	switch {
	case kp.verb == verbConfig:
	case kp.name == "" && !(list && kp.verb == verbMetadata):
		return kvPath{}, badRequest("missing path")
	case kp.name != "":
		if err := coffer.ValidateName("secret", kp.name); err != nil {
			return kvPath{}, err
		}
	}
	return kp, nil
}
