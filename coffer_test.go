package coffer_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func TestValidateName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"DB_PASSWORD", true},
		{"a", true},
		{"prod/db.password-2", true},
		{strings.Repeat("x", 255), true},
		{"", false},
		{strings.Repeat("x", 256), false},
		{"has space", false},
		{"semi;colon", false},
		{"../etc/passwd", false},
		{"a/../b", false},
		{"a//b", false},
		{"/leading", false},
		{"trailing/", false},
		{".", false},
		{"..", false},
		{"a/./b", false},
		{"nul\x00byte", false},
		{"ünïcode", false},
		{"percent%2F", false},
		{".hidden", true},
	} {
		err := coffer.ValidateName("secret", tt.name)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidateName(%q): got ok=%v (%v), want %v", tt.name, got, err, tt.ok)
		}
		if err != nil && coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("ValidateName(%q): code %q, want %q", tt.name, coffer.ErrorCode(err), coffer.EINVALID)
		}
	}
}

func TestValidateValue(t *testing.T) {
	if err := coffer.ValidateValue(make([]byte, coffer.MaxValueSize)); err != nil {
		t.Errorf("64 KiB: got %v, want nil", err)
	}
	err := coffer.ValidateValue(make([]byte, coffer.MaxValueSize+1))
	if got := coffer.ErrorCode(err); got != coffer.ETOOLARGE {
		t.Errorf("64 KiB + 1: got %q, want %q", got, coffer.ETOOLARGE)
	}
}

func TestErrorCode(t *testing.T) {
	if got := coffer.ErrorCode(nil); got != "" {
		t.Errorf("nil: got %q", got)
	}
	if got := coffer.ErrorCode(bytes.ErrTooLarge); got != coffer.EINTERNAL {
		t.Errorf("plain error: got %q, want internal", got)
	}
	if got := coffer.ErrorMessage(bytes.ErrTooLarge); got != "internal error" {
		t.Errorf("plain error message leaks: got %q", got)
	}
}

func TestParseScope(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // String() of the result, "" for an error
	}{
		{"prod:db/*:read,reveal", "prod:db/*:read,reveal"},
		{"*:*:list", "*:*:list"},
		{"prod:API_KEY:write", "prod:API_KEY:write"},
		{"prod:*:admin", "prod:*:admin"},
		{"prod:db:fly", ""},
		{"prod:db", ""},
		{"prod:db:", ""},
		{"../x:db:read", ""},
		{"prod:a b:read", ""},
	} {
		sc, err := coffer.ParseScope(tt.in)
		got := ""
		if err == nil {
			got = sc.String()
		}
		if got != tt.want {
			t.Errorf("ParseScope(%q): got %q (%v), want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	const id, name = "0123456789abcdef0123456789abcdef", "prod"
	for _, tt := range []struct {
		scope  string
		action coffer.Action
		secret string
		want   bool
	}{
		{"prod:*:reveal", coffer.ActionReveal, "DB", true},
		{"prod:*:reveal", coffer.ActionRead, "DB", false},
		{"prod:*:read", coffer.ActionReveal, "DB", false},
		{"dev:*:reveal", coffer.ActionReveal, "DB", false},
		{id + ":*:reveal", coffer.ActionReveal, "DB", true},
		{"*:*:reveal", coffer.ActionReveal, "DB", true},
		{"prod:db/*:reveal", coffer.ActionReveal, "db/password", true},
		{"prod:db/*:reveal", coffer.ActionReveal, "dbx", false},
		{"prod:DB:reveal", coffer.ActionReveal, "DB", true},
		{"prod:DB:reveal", coffer.ActionReveal, "DB2", false},
		{"prod:db/*:list", coffer.ActionList, "", true},    // may list the store...
		{"prod:db/*:read", coffer.ActionRead, "", false},   // ...but not act on the store itself
		{"prod:db/*:admin", coffer.ActionAdmin, "", false}, // a secret-limited scope never manages the store
	} {
		sc, err := coffer.ParseScope(tt.scope)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.Allows(tt.action, id, name, tt.secret); got != tt.want {
			t.Errorf("%s allows %s on %q: got %v, want %v", tt.scope, tt.action, tt.secret, got, tt.want)
		}
	}
	other := coffer.Scope{ObjectType: "images", Actions: []coffer.Action{coffer.ActionRead}}
	if other.Allows(coffer.ActionRead, id, name, "x") {
		t.Error("a scope of another object type must not allow secret actions")
	}
}

func chain(n int) []*coffer.AuditEvent {
	var evs []*coffer.AuditEvent
	var prev []byte
	for i := 1; i <= n; i++ {
		e := &coffer.AuditEvent{Time: time.Unix(int64(i), 0), AccountID: "acct", Action: "secret.reveal", Name: "DB", Version: i, Outcome: "ok"}
		e.Chain(int64(i), prev)
		prev = e.Hash
		evs = append(evs, e)
	}
	return evs
}

func verify(evs []*coffer.AuditEvent, head *coffer.AuditHead) *coffer.AuditReport {
	var v coffer.ChainVerifier
	for _, e := range evs {
		if !v.Add(e) {
			break
		}
	}
	return v.Finish(head, func(h *coffer.AuditHead) bool { return bytes.Equal(h.MAC, []byte("good")) })
}

func TestChainVerifier(t *testing.T) {
	headOf := func(evs []*coffer.AuditEvent) *coffer.AuditHead {
		last := evs[len(evs)-1]
		return &coffer.AuditHead{Seq: last.Seq, Hash: last.Hash, MAC: []byte("good")}
	}
	t.Run("OK", func(t *testing.T) {
		evs := chain(5)
		if r := verify(evs, headOf(evs)); !r.OK || r.Events != 5 {
			t.Errorf("got %+v, want ok with 5 events", r)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if r := verify(nil, nil); !r.OK {
			t.Errorf("got %+v, want ok", r)
		}
	})
	t.Run("Edited", func(t *testing.T) {
		evs := chain(5)
		head := headOf(evs)
		evs[2].Name = "OTHER"
		if r := verify(evs, head); r.OK || r.BrokenAt != 3 {
			t.Errorf("got %+v, want broken at 3", r)
		}
	})
	t.Run("EditedAndRehashed", func(t *testing.T) {
		evs := chain(5)
		head := headOf(evs)
		evs[2].Outcome = "forbidden"
		evs[2].Hash = evs[2].ComputeHash()
		if r := verify(evs, head); r.OK || r.BrokenAt != 4 {
			t.Errorf("got %+v, want broken at 4 (next link)", r)
		}
	})
	t.Run("DeletedMiddle", func(t *testing.T) {
		evs := chain(5)
		head := headOf(evs)
		evs = append(evs[:2], evs[3:]...)
		if r := verify(evs, head); r.OK || r.BrokenAt != 3 {
			t.Errorf("got %+v, want broken at 3", r)
		}
	})
	t.Run("DeletedTail", func(t *testing.T) {
		evs := chain(5)
		head := headOf(evs)
		if r := verify(evs[:4], head); r.OK {
			t.Errorf("got %+v, want not ok", r)
		}
	})
	t.Run("ForgedHead", func(t *testing.T) {
		evs := chain(5)
		head := headOf(evs[:4])
		head.MAC = []byte("forged")
		if r := verify(evs[:4], head); r.OK {
			t.Errorf("got %+v, want not ok", r)
		}
	})
}

func TestValueRedacts(t *testing.T) {
	v := coffer.Value{Name: "DB", Version: 2, Data: []byte("hunter2")}
	for _, s := range []string{v.String(), v.GoString()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("got %q: value leaked", s)
		}
	}
}

func TestValueEncoding(t *testing.T) {
	for _, data := range [][]byte{[]byte("text ü"), {0xff, 0x00, 0x80}, {}} {
		s, enc := coffer.EncodeValue(data)
		got, err := coffer.DecodeValue(s, enc)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("round trip %x: got %x, %v", data, got, err)
		}
	}
	if _, err := coffer.DecodeValue("x", "rot13"); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Errorf("unknown encoding: got %v, want invalid", err)
	}
	if _, err := coffer.DecodeValue("!!", "base64"); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Errorf("bad base64: got %v, want invalid", err)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := coffer.NewID()
		if !coffer.IsID(id) {
			t.Fatalf("NewID() = %q: not 32 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		if id[:12] < prev[:min(12, len(prev))] {
			t.Fatalf("NewID() went back in time: %q after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestScopeCovers(t *testing.T) {
	for _, tt := range []struct {
		parent, child string
		want          bool
	}{
		{"*:*:read,reveal", "prod:db/*:reveal", true},
		{"prod:*:read,reveal", "prod:db/*:reveal", true},
		{"prod:*:read", "prod:db/*:reveal", false},         // more actions
		{"prod:*:reveal", "*:*:reveal", false},             // more stores
		{"prod:*:reveal", "dev:*:reveal", false},           // another store
		{"prod:db/*:reveal", "prod:db/pw:reveal", true},    // a name under the prefix
		{"prod:db/*:reveal", "prod:db/x/*:reveal", true},   // a narrower prefix
		{"prod:db/*:reveal", "prod:d*:reveal", false},      // a wider prefix
		{"prod:db/*:reveal", "prod:*:reveal", false},       // every secret
		{"prod:db/pw:reveal", "prod:db/pw:reveal", true},   // the same name
		{"prod:db/pw:reveal", "prod:db/pw*:reveal", false}, // a prefix of the name
		{"prod:db/pw:reveal", "prod:db/pw2:reveal", false}, // another name
		{"prod:*:admin", "prod:*:write", false},            // admin is an action, not a superset
		{"prod:*:list,read,reveal", "prod:*:list,read", true},
	} {
		p, err := coffer.ParseScope(tt.parent)
		if err != nil {
			t.Fatal(err)
		}
		c, err := coffer.ParseScope(tt.child)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Covers(&c); got != tt.want {
			t.Errorf("%s covers %s: got %v, want %v", tt.parent, tt.child, got, tt.want)
		}
	}
	chutes := coffer.Scope{ObjectType: "images", ObjectID: "img1", Actions: []coffer.Action{coffer.ActionRead}}
	anyImage := coffer.Scope{ObjectType: "images", Actions: []coffer.Action{coffer.ActionRead, coffer.ActionWrite}}
	secrets := coffer.Scope{Actions: []coffer.Action{coffer.ActionRead}}
	if !anyImage.Covers(&chutes) || chutes.Covers(&anyImage) || secrets.Covers(&chutes) || chutes.Covers(&secrets) {
		t.Error("object-type scopes: wrong coverage")
	}
	anyAction := coffer.Scope{ObjectType: "images"}
	if err := anyAction.Validate(); err != nil || !anyAction.Covers(&chutes) || chutes.Covers(&anyAction) {
		t.Errorf("a foreign scope with no actions means all actions: %v", err)
	}
	for _, bad := range []coffer.Scope{{ObjectType: "Images"}, {ObjectType: "images", Actions: []coffer.Action{"READ"}}, {ObjectType: "a b"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v: got valid, want invalid", bad)
		}
	}
	if anyAction.Allows(coffer.ActionReveal, "s", "s", "x") {
		t.Error("a foreign scope must never allow secret actions")
	}
	if !coffer.CoveredBy([]coffer.Scope{chutes}, []coffer.Scope{secrets, anyImage}) || coffer.CoveredBy([]coffer.Scope{chutes, secrets}, []coffer.Scope{anyImage}) {
		t.Error("CoveredBy: wrong result")
	}
}

func TestValidateExpiry(t *testing.T) {
	at := func(y int) *time.Time { t := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); return &t }
	for _, c := range []struct {
		t    *time.Time
		code string
	}{
		{nil, ""}, {&time.Time{}, ""}, {at(1970), ""}, {at(2026), ""}, {at(2199), ""},
		{at(1969), coffer.EINVALID}, {at(2200), coffer.EINVALID}, {at(9999), coffer.EINVALID},
	} {
		if got := coffer.ErrorCode(coffer.ValidateExpiry(c.t)); got != c.code {
			t.Errorf("ValidateExpiry(%v): got %q, want %q", c.t, got, c.code)
		}
	}
}

func TestSecretExpired(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before, after := now.Add(-time.Nanosecond), now.Add(time.Nanosecond)
	for _, c := range []struct {
		exp  *time.Time
		want bool
	}{{nil, false}, {&after, false}, {&now, true}, {&before, true}} {
		if got := (&coffer.Secret{ExpiresAt: c.exp}).Expired(now); got != c.want {
			t.Errorf("Expired with ExpiresAt %v: got %v, want %v", c.exp, got, c.want)
		}
	}
}
