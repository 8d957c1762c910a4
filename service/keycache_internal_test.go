package service

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/coffer-dev/coffer"
)

// TestKeyCacheEvicts: a full key cache makes room by evicting (stale
// entries first), never by dropping every key at once, so filling it with
// unknown ids' neighbours cannot make every working key fetch again.
func TestKeyCacheEvicts(t *testing.T) {
	s, _, err := openInternal(t, filepath.Join(t.TempDir(), "coffer.db"), newKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, err := s.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := s.now()
	s.keysMu.Lock()
	for i := 0; i < maxCachedKeys; i++ {
		fetched := now
		if i%4 == 0 {
			fetched = now.Add(-2 * keyCacheTTL) // stale
		}
		s.keys["fill"+strconv.Itoa(i)] = cachedKey{key: &coffer.APIKey{}, fetched: fetched}
	}
	s.keysMu.Unlock()
	if _, err := s.Authenticate(ctx, coffer.Credential{Token: root, RemoteIP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	stale := 0
	for _, ck := range s.keys {
		if now.Sub(ck.fetched) >= keyCacheTTL {
			stale++
		}
	}
	if n := len(s.keys); n < maxCachedKeys/2 || n >= maxCachedKeys || stale > 0 {
		t.Errorf("after filling the cache: %d keys cached, %d stale; want the stale ones evicted and at least %d kept", n, stale, maxCachedKeys/2)
	}
}
