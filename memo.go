package coffer

import "sync/atomic"

// Memo holds bytes derived once from a value that never changes after it is
// made, such as a SecretPage shared by a cache: the first user that derives
// them stores them and every later one loads them. What the bytes are is
// the business of the adapter that stores them; the zero Memo is empty and
// a Memo must not be copied after first use. It is safe for concurrent use.
type Memo struct {
	p atomic.Pointer[[]byte]
}

// Load returns the bytes stored, or nil.
func (m *Memo) Load() []byte {
	if b := m.p.Load(); b != nil {
		return *b
	}
	return nil
}

// Store keeps b; a later Store replaces it.
func (m *Memo) Store(b []byte) {
	m.p.Store(&b)
}
