package service

import (
	"sync"

	"github.com/coffer-dev/coffer"
)

// cacheSize bounds each cache; a full cache starts over rather than track
// recency on every hit.
const cacheSize = 10000

// genCache maps keys to values that are valid while their store's Gen is
// what it was when they were read. Entries are never changed after they are
// stored, so a hit may be shared by concurrent requests.
type genCache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]genEntry[V]
}

type genEntry[V any] struct {
	gen int64
	v   V
}

func (c *genCache[K, V]) get(k K, gen int64) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.gen != gen {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *genCache[K, V]) put(k K, gen int64, v V) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= cacheSize {
		c.m = make(map[K]genEntry[V])
	}
	c.m[k] = genEntry[V]{gen, v}
	c.mu.Unlock()
}

// listKey names one page of one store's listing.
type listKey struct {
	storeID, prefix, cursor string
	limit                   int
	deleted                 bool
	// The listing's order, offset, substring and count (see
	// Service.listing); zero for the native listing by name.
	order    coffer.SecretOrder
	desc     bool
	offset   int
	contains string
	total    bool
}

// versionKey names a value lookup: a secret ref (name or id) and a version
// number (0 for the latest).
type versionKey struct {
	storeID, ref string
	version      int
}

type versionHit struct {
	sec *coffer.Secret
	v   *coffer.Version
}

// secretKey names a secret lookup: a secret ref (name or id) in a store.
type secretKey struct{ storeID, ref string }

// homes maps secret ids to the ids of the stores that hold them, which never
// change: a secret never moves.
type homes struct {
	mu sync.RWMutex
	m  map[string]string
}

func (h *homes) get(secretID string) (string, bool) {
	h.mu.RLock()
	storeID, ok := h.m[secretID]
	h.mu.RUnlock()
	return storeID, ok
}

func (h *homes) put(secretID, storeID string) {
	h.mu.Lock()
	if h.m == nil || len(h.m) >= cacheSize {
		h.m = make(map[string]string)
	}
	h.m[secretID] = storeID
	h.mu.Unlock()
}
