package coffer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AuditEvent records who did what to which object, when, from where, with
// which outcome. It never holds a secret value. Events form a hash chain:
// Hash = SHA-256(PrevHash || canonical encoding of the event), so that an
// edited or deleted event breaks every later link.
type AuditEvent struct {
	Seq         int64     `json:"seq"`
	Time        time.Time `json:"time"`
	AccountID   string    `json:"account_id,omitempty"`
	PrincipalID string    `json:"principal_id,omitempty"`
	KeyID       string    `json:"key_id,omitempty"`
	Action      string    `json:"action"` // e.g. secret.create, secret.reveal, key.revoke
	StoreID     string    `json:"store_id,omitempty"`
	SecretID    string    `json:"secret_id,omitempty"`
	Name        string    `json:"name,omitempty"` // store or secret name, or key name
	Version     int       `json:"version,omitempty"`
	Outcome     string    `json:"outcome"`          // "ok" or an error code
	Reason      string    `json:"reason,omitempty"` // scope that allowed it, or why it was refused
	RequestID   string    `json:"request_id,omitempty"`
	Remote      string    `json:"remote,omitempty"`
	Face        string    `json:"face,omitempty"`
	PrevHash    []byte    `json:"prev_hash"`
	Hash        []byte    `json:"hash"`
}

// Chain sets the event's sequence number and links it to prev, the hash of
// the event before it (nil for the first event).
func (e *AuditEvent) Chain(seq int64, prev []byte) {
	e.Seq = seq
	e.PrevHash = append([]byte(nil), prev...)
	e.Hash = e.ComputeHash()
}

// ComputeHash returns SHA-256(PrevHash || canonical encoding). The encoding is
// fixed: every field, in declaration order, length-prefixed; times as Unix
// nanoseconds in UTC.
func (e *AuditEvent) ComputeHash() []byte {
	h := sha256.New()
	h.Write(e.PrevHash)
	var b []byte
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range []string{e.AccountID, e.PrincipalID, e.KeyID, e.Action, e.StoreID, e.SecretID, e.Name} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(e.Version))
	for _, s := range []string{e.Outcome, e.Reason, e.RequestID, e.Remote, e.Face} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	h.Write(b)
	return h.Sum(nil)
}

// AuditQuery selects and pages audit events. Zero fields select everything;
// the filters that are set must all match.
type AuditQuery struct {
	// After and Before bound the sequence numbers: seq > After, and seq <
	// Before when Before is not 0.
	After, Before int64
	// Newest lists newest first (descending seq); else oldest first.
	Newest bool
	// Limit is the page size; 0 leaves it to the service.
	Limit int
	// Principal matches the event's principal id or key id, exactly.
	Principal string
	// Object matches the event's secret id, store id or name, exactly.
	Object string
	// Action matches the action exactly or, when it ends in ".", every
	// action it is a prefix of ("secret." for secret.write, secret.reveal ...).
	Action string
	// Outcome matches "ok" or an error code, exactly.
	Outcome string
	// Since and Until bound the event time: Since <= time < Until, each
	// bound applying when it is not zero.
	Since, Until time.Time
}

// AuditScanWindow bounds the work of one filtered page of audit events:
// the page covers at most this many sequence numbers of the log. When the
// window ends before the page is full, the page holds what it found (maybe
// nothing) and its Next cursor continues the search from there. Storage
// has no index per filter (each would slow every audited request), so the
// window is what keeps a rare filter over a long log from reading all of it
// in one request.
const AuditScanWindow = 1 << 16

// Filtered reports whether q sets any filter besides its sequence bounds.
func (q *AuditQuery) Filtered() bool {
	return q.Principal != "" || q.Object != "" || q.Action != "" || q.Outcome != "" || !q.Since.IsZero() || !q.Until.IsZero()
}

// MaxAuditFilterLen bounds each string filter of an AuditQuery.
const MaxAuditFilterLen = MaxNameLen

// Validate checks the query's own invariants (EINVALID). The page size is
// left to the service, which knows its default and maximum.
func (q *AuditQuery) Validate() error {
	switch {
	case q.After < 0:
		return Errorf(EINVALID, "after must not be negative")
	case q.Before < 0:
		return Errorf(EINVALID, "before must not be negative")
	case q.Limit < 0:
		return Errorf(EINVALID, "limit must not be negative")
	case !q.Since.IsZero() && !q.Until.IsZero() && q.Since.After(q.Until):
		return Errorf(EINVALID, "since must not be after until")
	}
	for _, f := range []struct{ name, v string }{
		{"principal", q.Principal}, {"object", q.Object}, {"action", q.Action}, {"outcome", q.Outcome},
	} {
		switch {
		case len(f.v) > MaxAuditFilterLen:
			return Errorf(EINVALID, "%s must be at most %d bytes", f.name, MaxAuditFilterLen)
		case !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0):
			return Errorf(EINVALID, "%s must be valid UTF-8 without NUL", f.name)
		}
	}
	if q.Action == "." {
		return Errorf(EINVALID, `action prefix must name a kind of object, like "secret."`)
	}
	return nil
}

// NanoBounds returns Since and Until as Unix nanoseconds, clamped to the
// int64 range (years 1678 to 2262), for engines that store times that way.
func (q *AuditQuery) NanoBounds() (since, until int64) {
	return clampNanos(q.Since), clampNanos(q.Until)
}

func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var minNanoTime, maxNanoTime = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// ActionPrefix reports whether the query's Action is a prefix ("secret.")
// rather than an exact action.
func (q *AuditQuery) ActionPrefix() bool { return strings.HasSuffix(q.Action, ".") }

// Matches reports whether e passes the query's filters (not its sequence
// bounds). It states the filters' meaning once, for engines and tests.
func (q *AuditQuery) Matches(e *AuditEvent) bool {
	switch {
	case q.Principal != "" && e.PrincipalID != q.Principal && e.KeyID != q.Principal:
		return false
	case q.Object != "" && e.SecretID != q.Object && e.StoreID != q.Object && e.Name != q.Object:
		return false
	case q.Action != "" && q.ActionPrefix() && !strings.HasPrefix(e.Action, q.Action):
		return false
	case q.Action != "" && !q.ActionPrefix() && e.Action != q.Action:
		return false
	case q.Outcome != "" && e.Outcome != q.Outcome:
		return false
	case !q.Since.IsZero() && e.Time.Before(q.Since):
		return false
	case !q.Until.IsZero() && !e.Time.Before(q.Until):
		return false
	}
	return true
}

// AuditHead is the newest link of the chain as storage last committed it,
// with a MAC that only a holder of the master key can make, so that cutting
// events off the end of the log is detected too.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash []byte `json:"hash"`
	MAC  []byte `json:"-"`
}

// AuditReport is the result of verifying the audit chain.
type AuditReport struct {
	OK       bool   `json:"ok"`
	Events   int64  `json:"events"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash []byte `json:"head_hash"`
	// BrokenAt is the sequence number of the first event that does not verify
	// (0 when OK), and Problem says why.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// ChainVerifier checks the audit chain one event at a time, in sequence
// order from 1, so that a long log never has to fit in memory.
type ChainVerifier struct {
	r    AuditReport
	prev []byte
}

// Add checks the next event. It returns false once the chain is broken.
func (v *ChainVerifier) Add(e *AuditEvent) bool {
	if v.r.Problem != "" {
		return false
	}
	want := v.r.Events + 1
	switch {
	case e.Seq != want:
		v.r.BrokenAt, v.r.Problem = want, "event "+strconv.FormatInt(want, 10)+" is missing (next is "+strconv.FormatInt(e.Seq, 10)+")"
	case !bytes.Equal(e.PrevHash, v.prev):
		v.r.BrokenAt, v.r.Problem = e.Seq, "previous-hash link does not match the event before it"
	case !bytes.Equal(e.ComputeHash(), e.Hash):
		v.r.BrokenAt, v.r.Problem = e.Seq, "event content does not match its hash (edited)"
	default:
		v.prev = e.Hash
		v.r.Events = want
		return true
	}
	return false
}

// Finish checks the head that storage recorded against the last event added;
// macOK verifies the head's MAC. It returns the report.
func (v *ChainVerifier) Finish(head *AuditHead, macOK func(*AuditHead) bool) *AuditReport {
	r := v.r
	r.HeadSeq, r.HeadHash = r.Events, v.prev
	switch {
	case r.Problem != "":
	case head == nil && r.Events > 0:
		r.Problem = "no recorded head"
	case head == nil:
		r.OK = true
	case head.Seq != r.Events || !bytes.Equal(head.Hash, v.prev):
		r.BrokenAt = r.Events + 1
		r.Problem = "recorded head is at event " + strconv.FormatInt(head.Seq, 10) + " but the log ends at " + strconv.FormatInt(r.Events, 10) + ": events were removed"
	case !macOK(head):
		r.Problem = "recorded head has a bad MAC (forged, or made with another master key)"
	default:
		r.OK = true
	}
	return &r
}
