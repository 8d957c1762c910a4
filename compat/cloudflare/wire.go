package cloudflare

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
)

// timeFormat is Cloudflare's: RFC 3339 in UTC with microseconds.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

// storeJSON is a Cloudflare store.
type storeJSON struct {
	ID        string `json:"id"`
	Created   string `json:"created"`
	Modified  string `json:"modified"`
	Name      string `json:"name"`
	AccountID string `json:"account_id"`
}

func toStore(st *coffer.Store) storeJSON {
	return storeJSON{ID: st.ID, Created: stamp(st.CreatedAt), Modified: stamp(st.UpdatedAt), Name: st.Name, AccountID: st.AccountID}
}

// secretJSON is a Cloudflare secret: metadata only, never the value.
type secretJSON struct {
	ID       string   `json:"id"`
	Created  string   `json:"created"`
	Modified string   `json:"modified"`
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	StoreID  string   `json:"store_id"`
	Comment  string   `json:"comment"`
	Scopes   []string `json:"scopes"`
}

func toSecret(sec *coffer.Secret) secretJSON {
	scopes := sec.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return secretJSON{ID: sec.ID, Created: stamp(sec.CreatedAt), Modified: stamp(sec.UpdatedAt), Name: sec.Name,
		Status: status(sec), StoreID: sec.StoreID, Comment: sec.Comment, Scopes: scopes}
}

// status is the Cloudflare status of a secret: pending until its value is
// first read (AttrUnused) or while it has no value, active once used,
// deleted once deleted.
func status(sec *coffer.Secret) string {
	if _, unused := sec.Attributes[AttrUnused]; unused && sec.Status == coffer.StatusActive {
		return string(coffer.StatusPending)
	}
	return string(sec.Status)
}

// Paging defaults: Cloudflare's V4 page pagination.
const (
	defaultPerPage = 20
	maxPerPage     = 1000
	maxPage        = 1 << 20
)

// listQuery is the parsed query of a listing.
type listQuery struct {
	page, perPage int
	order         string
	desc          bool
	search        string   // lower case
	scopes        []string // any of them
}

// parseList reads page, per_page, order, direction and, for secrets,
// search and scopes. orders lists the accepted order fields; the first is
// the default.
func parseList(r *http.Request, orders []string, secrets bool) (*listQuery, error) {
	q := r.URL.Query()
	lq := &listQuery{page: 1, perPage: defaultPerPage, order: orders[0]}
	var err error
	if lq.page, err = queryInt(q.Get("page"), "page", 1, maxPage); err != nil {
		return nil, err
	}
	if lq.perPage, err = queryInt(q.Get("per_page"), "per_page", defaultPerPage, maxPerPage); err != nil {
		return nil, err
	}
	if o := q.Get("order"); o != "" {
		if !slices.Contains(orders, o) {
			return nil, invalid("order must be one of " + strings.Join(orders, ", "))
		}
		lq.order = o
	}
	switch q.Get("direction") {
	case "", "asc":
	case "desc":
		lq.desc = true
	default:
		return nil, invalid("direction must be asc or desc")
	}
	if !secrets {
		return lq, nil
	}
	search := q.Get("search")
	if len(search) > coffer.MaxComment || !utf8.ValidString(search) {
		return nil, invalid("search must be at most 1024 bytes of UTF-8")
	}
	lq.search = strings.ToLower(search)
	for _, sc := range q["scopes"] {
		if sc == "" || len(sc) > 63 || !utf8.ValidString(sc) {
			return nil, invalid("scopes must be 1-63 characters of UTF-8")
		}
		lq.scopes = append(lq.scopes, sc)
	}
	return lq, nil
}

// queryInt parses an optional integer parameter between lo and hi.
func queryInt(v, name string, def, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > hi {
		return 0, invalid(name + " must be an integer from 1 to " + strconv.Itoa(hi))
	}
	return n, nil
}

// page cuts one page out of items and describes it. A page past the end is
// empty, not an error: Cloudflare's pagers stop at the first empty page.
func page[T any](items []T, lq *listQuery) ([]T, *resultInfo) {
	start := (lq.page - 1) * lq.perPage
	if start >= len(items) {
		return []T{}, pageInfo(lq, len(items), 0)
	}
	out := items[start:min(start+lq.perPage, len(items))]
	return out, pageInfo(lq, len(items), len(out))
}

// pageInfo describes a page of count items out of total.
func pageInfo(lq *listQuery, total, count int) *resultInfo {
	return &resultInfo{Page: lq.page, PerPage: lq.perPage, Count: count, TotalCount: total,
		TotalPages: (total + lq.perPage - 1) / lq.perPage}
}

// filterSecrets keeps the secrets whose name or comment contains the search
// text (ignoring case) and that have any of the query's scopes.
func filterSecrets(secrets []*coffer.Secret, lq *listQuery) []*coffer.Secret {
	if lq.search == "" && len(lq.scopes) == 0 {
		return secrets
	}
	out := make([]*coffer.Secret, 0, len(secrets))
	for _, sec := range secrets {
		if lq.search != "" && !strings.Contains(strings.ToLower(sec.Name), lq.search) &&
			!strings.Contains(strings.ToLower(sec.Comment), lq.search) {
			continue
		}
		if len(lq.scopes) > 0 && !slices.ContainsFunc(lq.scopes, func(s string) bool { return slices.Contains(sec.Scopes, s) }) {
			continue
		}
		out = append(out, sec)
	}
	return out
}

// sortSecrets orders secrets by the query's field, then by name and id.
func sortSecrets(secrets []*coffer.Secret, lq *listQuery) {
	slices.SortStableFunc(secrets, func(a, b *coffer.Secret) int {
		var c int
		switch lq.order {
		case "comment":
			c = cmp.Compare(a.Comment, b.Comment)
		case "created":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "modified":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case "status":
			c = cmp.Compare(status(a), status(b))
		}
		if lq.desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
			if lq.desc && lq.order == "name" {
				c = -c
			}
		}
		return c
	})
}

// validName checks Cloudflare's rule for the name of a new secret: letters,
// digits, '_' and '-' (what wrangler and the dashboard accept), at most 255
// characters, and not of an id's shape (coffer.IDShaped).
func validName(name string) error {
	if name == "" {
		return invalid("name is required")
	} else if len(name) > coffer.MaxNameLen {
		return invalid("name is longer than " + strconv.Itoa(coffer.MaxNameLen) + " characters")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return invalid("name may contain only letters, digits, '_' and '-'")
		}
	}
	// The service refuses a new name of an id's shape too; refused here
	// first, so that a create of several secrets writes none.
	if coffer.IDShaped(name) {
		return invalid(coffer.ErrorMessage(coffer.ValidateNewSecretName(name)))
	}
	return nil
}

// validScopes checks usage scopes. Cloudflare's known scopes are workers,
// ai_gateway, dex, access, containers and websearch; others (such as the
// older "ai-gateway") are kept as given.
func validScopes(scopes []string) error {
	if len(scopes) > 64 {
		return invalid("at most 64 scopes")
	}
	for _, s := range scopes {
		if s == "" || len(s) > 63 {
			return invalid("scopes must be 1-63 characters")
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
				return invalid("scopes may contain only lowercase letters, digits, '_' and '-'")
			}
		}
	}
	return nil
}

// validComment checks a comment: at most 1024 bytes.
func validComment(c *string) error {
	if c != nil && len(*c) > coffer.MaxComment {
		return invalid("comment is longer than " + strconv.Itoa(coffer.MaxComment) + " bytes")
	}
	return nil
}
