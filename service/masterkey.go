package service

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

// MetaReader reads one value of a database's meta table; coffer.Storage
// has it, and so can a read-only look at a database that must not be
// migrated or locked (coffer doctor).
type MetaReader interface {
	Meta(ctx context.Context, key string) ([]byte, error)
}

// CheckMasterKey reports whether keyring opens the data behind meta without
// changing anything: nil when it does, or when there is no data yet (a
// first start will seal it with this key); an error wrapping
// ErrWrongMasterKey when the data was sealed with another key.
func CheckMasterKey(ctx context.Context, meta MetaReader, keyring *envelope.Keyring) error {
	wrapped, err := meta.Meta(ctx, metaPepper)
	switch {
	case coffer.ErrorCode(err) == coffer.ENOTFOUND:
		return nil
	case err != nil:
		return fmt.Errorf("read pepper: %w", err)
	}
	if _, err := keyring.Unwrap(wrapped, pepperAAD); err == nil {
		return nil
	}
	if _, err := keyring.Unwrap(wrapped, pepperAADv1); err != nil { // before record MACs (records.go)
		if id, idErr := envelope.WrappedKeyID(wrapped); idErr == nil && !keyring.Has(id) {
			return fmt.Errorf("%w (data key id %08x, given key id %08x)", ErrWrongMasterKey, id, keyring.ActiveID())
		}
		return fmt.Errorf("%w: %v", ErrWrongMasterKey, err)
	}
	return nil
}
