package postgres_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// chain returns n audit events linked into a chain.
func chain(n int) []*coffer.Record {
	var out []*coffer.Record
	var prev []byte
	for i := range n {
		e := &coffer.AuditEvent{Time: time.Unix(0, int64(i+1)*1000).UTC(), Action: "secret.reveal", Outcome: "ok"}
		e.Chain(int64(i+1), prev)
		prev = e.Hash
		out = append(out, &coffer.Record{Audit: e})
	}
	return out
}

func load(db coffer.Dumper, recs []*coffer.Record) error {
	return db.Load(context.Background(), func() (*coffer.Record, error) {
		if len(recs) == 0 {
			return nil, io.EOF
		}
		r := recs[0]
		recs = recs[1:]
		return r, nil
	})
}

// TestLoadRefuses checks what Load refuses on PostgreSQL beyond the
// conformance suite: text PostgreSQL cannot store (named, never shown),
// and an audit head that the writers could not continue from. Each leaves
// the database empty.
func TestLoadRefuses(t *testing.T) {
	db := MustOpenDB(t)
	const raw = "bad\xffname"
	events := chain(3)
	last := events[2].Audit
	for name, recs := range map[string][]*coffer.Record{
		"InvalidUTF8": append(chain(2), &coffer.Record{Audit: func() *coffer.AuditEvent {
			e := &coffer.AuditEvent{Action: "secret.read", Name: raw, Outcome: "invalid"}
			e.Chain(3, chain(2)[1].Audit.Hash)
			return e
		}()}),
		"NUL":           {{Account: &coffer.Account{ID: coffer.NewID(), Name: "a\x00b"}}},
		"NoHead":        events,
		"HeadBehind":    append(append([]*coffer.Record{}, events...), &coffer.Record{AuditHead: &coffer.AuditHead{Seq: 2, Hash: events[1].Audit.Hash}}),
		"SecondHead":    append(append([]*coffer.Record{}, events...), &coffer.Record{AuditHead: &coffer.AuditHead{Seq: 3, Hash: last.Hash}}, &coffer.Record{AuditHead: &coffer.AuditHead{Seq: 3, Hash: last.Hash}}),
		"ReservedMeta":  {{Meta: &coffer.MetaEntry{Key: "audit_head", Value: []byte{1}}}},
		"OrphanVersion": {{Version: &coffer.Version{SecretID: coffer.NewID(), Number: 1, Ciphertext: []byte("ct"), CreatedAt: time.Now()}}},
	} {
		t.Run(name, func(t *testing.T) {
			err := load(db, recs)
			if err == nil {
				t.Fatal("Load: got nil error")
			}
			if strings.Contains(err.Error(), raw) || strings.Contains(err.Error(), "a\x00b") {
				t.Fatalf("Load error shows the text it refused: %v", err)
			}
			if name == "InvalidUTF8" || name == "NUL" {
				if code := coffer.ErrorCode(err); code != coffer.EINVALID || !strings.Contains(err.Error(), "UTF-8") {
					t.Fatalf("Load: got %v (%s), want EINVALID naming UTF-8", err, code)
				}
			}
			if head, err := db.AuditHead(context.Background()); err != nil || head != nil {
				t.Fatalf("after a refused Load: head %+v, %v; want none", head, err)
			}
			if evs, err := db.AuditEvents(context.Background(), "", coffer.AuditQuery{Limit: 10}); err != nil || len(evs) != 0 {
				t.Fatalf("after a refused Load: %d events, %v; want none", len(evs), err)
			}
		})
	}

	// The same chain with its head loads, and the writer continues it.
	ok := append(append([]*coffer.Record{}, events...), &coffer.Record{AuditHead: &coffer.AuditHead{Seq: 3, Hash: last.Hash, MAC: []byte("m")}})
	if err := load(db, ok); err != nil {
		t.Fatalf("Load: %v", err)
	}
	ev := &coffer.AuditEvent{Action: "secret.reveal"}
	if err := db.Audit(context.Background(), ev); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if ev.Seq != 4 || !bytes.Equal(ev.PrevHash, last.Hash) {
		t.Fatalf("event after Load: got seq %d prev %x, want 4 and %x", ev.Seq, ev.PrevHash, last.Hash)
	}
}
