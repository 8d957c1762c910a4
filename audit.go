package coffer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"
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
