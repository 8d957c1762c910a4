package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// consoleSession returns a session made at base+at with the given idle and
// absolute ends, its id derived from name.
func consoleSession(name string, at, idle, max time.Duration) *coffer.ConsoleSession {
	id := sha256.Sum256([]byte(name))
	return &coffer.ConsoleSession{ID: id[:], Sealed: []byte("sealed " + name), CreatedAt: base.Add(at),
		IdleUntil: base.Add(at + idle), ExpiresAt: base.Add(at + max)}
}

func (r *runner) consoleSessions() {
	r.run("ConsoleSessions", func(t *testing.T, e *env) {
		s := consoleSession("a", 0, 15*time.Minute, 8*time.Hour)
		noErr(t, "create", e.s.CreateConsoleSession(e.ctx, s))
		got, err := e.s.ConsoleSession(e.ctx, s.ID)
		noErr(t, "read", err)
		if !bytes.Equal(got.ID, s.ID) || !bytes.Equal(got.Sealed, s.Sealed) {
			t.Fatalf("read back id %x sealed %q, want %x %q", got.ID, got.Sealed, s.ID, s.Sealed)
		}
		sameTime(t, "created", got.CreatedAt, s.CreatedAt)
		sameTime(t, "idle until", got.IdleUntil, s.IdleUntil)
		sameTime(t, "expires", got.ExpiresAt, s.ExpiresAt)
		wantCode(t, "same id again", e.s.CreateConsoleSession(e.ctx, consoleSession("a", time.Minute, time.Hour, time.Hour)),
			coffer.ECONFLICT)

		other := sha256.Sum256([]byte("nobody"))
		_, err = e.s.ConsoleSession(e.ctx, other[:])
		wantCode(t, "unknown id", err, coffer.ENOTFOUND)

		// Extending moves IdleUntil forward only.
		later := s.IdleUntil.Add(10 * time.Minute)
		noErr(t, "extend", e.s.ExtendConsoleSession(e.ctx, s.ID, later))
		noErr(t, "extend backwards", e.s.ExtendConsoleSession(e.ctx, s.ID, s.IdleUntil))
		got, err = e.s.ConsoleSession(e.ctx, s.ID)
		noErr(t, "read extended", err)
		sameTime(t, "extended idle until", got.IdleUntil, later)
		noErr(t, "extend a missing session", e.s.ExtendConsoleSession(e.ctx, other[:], later))
		_, err = e.s.ConsoleSession(e.ctx, other[:])
		wantCode(t, "extending made a session", err, coffer.ENOTFOUND)

		noErr(t, "delete", e.s.DeleteConsoleSession(e.ctx, s.ID))
		_, err = e.s.ConsoleSession(e.ctx, s.ID)
		wantCode(t, "read deleted", err, coffer.ENOTFOUND)
		noErr(t, "delete twice", e.s.DeleteConsoleSession(e.ctx, s.ID))
	})

	r.run("ConsoleSessionsSweep", func(t *testing.T, e *env) {
		idle := consoleSession("idle", 0, 10*time.Minute, 8*time.Hour) // idle at 10m
		old := consoleSession("old", 0, 8*time.Hour, 30*time.Minute)   // expires at 30m
		live := consoleSession("live", 0, 2*time.Hour, 8*time.Hour)    // lives past 1h
		edge := consoleSession("edge", 0, time.Hour, 8*time.Hour)      // idle exactly at 1h
		for _, s := range []*coffer.ConsoleSession{idle, old, live, edge} {
			noErr(t, "create", e.s.CreateConsoleSession(e.ctx, s))
		}
		noErr(t, "create later", e.s.CreateConsoleSession(e.ctx, consoleSession("new", time.Hour, time.Hour, time.Hour)))
		for _, c := range []struct {
			s    *coffer.ConsoleSession
			want string
		}{{idle, coffer.ENOTFOUND}, {old, coffer.ENOTFOUND}, {edge, coffer.ENOTFOUND}, {live, ""}} {
			_, err := e.s.ConsoleSession(e.ctx, c.s.ID)
			if c.want == "" {
				noErr(t, "live session after a sweep", err)
			} else {
				wantCode(t, "ended session after a sweep", err, c.want)
			}
		}
	})
}
