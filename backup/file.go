// Package backup is the file format of 'coffer backup' and 'coffer
// restore', and the copy-and-verify of 'coffer migrate'. Version 2:
//
//	"COFFERBK" | version (uint16) | header length (uint32) | header (JSON)
//	then each record: length (uint32, > 0) | coffer.Record.AppendBinary
//	then 0 (uint32) | trailer length (uint32) | trailer (JSON)
//	then the SHA-256 of every byte before it (32 bytes)
//	then the MAC of every byte before it (32 bytes), and nothing more.
//
// Integers are big-endian. The trailer holds the counts of records by
// kind and the coffer.DumpSummary digest of all of them; the checksum
// covers the header and trailer too. Values stay encrypted as stored.
//
// The checksum and digest only catch damage: anyone can recompute them
// after editing a file (moving an API key record into another account, say).
// The MAC is HMAC-SHA256 under a key derived from the master key
// (envelope.NewMAC, purpose MACPurpose), whose id the header names:
// only a holder of the master key can make one, and restore verifies it
// before writing anything. Version 1 is version 2 without the MAC (and
// without mac_key); restore refuses it unless told to accept a file nobody
// can vouch for.
package backup

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

const (
	// Magic starts every backup file.
	Magic = "COFFERBK"
	// Version is the format that NewWriter writes.
	Version = 2
	// VersionNoMAC is the old format, without a MAC.
	VersionNoMAC = 1
	// MACPurpose derives the backup MAC key from the master key.
	MACPurpose = "backup/v2"
	// maxRecord bounds one record, so that a corrupt length cannot
	// make restore allocate gigabytes. Values are at most a few MiB.
	maxRecord = 64 << 20
	maxMeta   = 1 << 20
)

// Header is the JSON header of a backup file.
type Header struct {
	Created time.Time `json:"created"`
	Engine  string    `json:"engine"` // "sqlite" or "postgres"
	// MACKey is the id (8 hex digits, envelope.KeyID) of the master key the
	// MAC is keyed from; version 2 only.
	MACKey string `json:"mac_key,omitempty"`
}

// Trailer is the JSON trailer of a backup file.
type Trailer struct {
	Counts map[string]int64 `json:"counts"` // by coffer.RecordKind name
	Total  int64            `json:"total"`
	Digest string           `json:"digest"` // hex coffer.DumpSummary digest
	// MasterKeys are the ids (8 hex digits, envelope.KeyID) of the master
	// keys that wrap the stores' data keys: restore needs one of them.
	MasterKeys []string `json:"master_keys"`
}

// Writer writes a backup file: NewWriter, then Add for each record, then
// Finish.
type Writer struct {
	macKey string // the id of the master key of the MAC
	out    io.Writer
	w      *bufio.Writer
	h      hash.Hash
	mac    hash.Hash
	sum    *coffer.DumpSummary
	keys   map[string]bool
	buf    []byte
	err    error
}

// NewWriter starts a backup file whose MAC is keyed from the master
// key master, which the header names by id.
func NewWriter(w io.Writer, hdr Header, master []byte) (*Writer, error) {
	h, mac := sha256.New(), envelope.NewMAC(master, MACPurpose)
	bw := &Writer{out: w, w: bufio.NewWriterSize(io.MultiWriter(w, h, mac), 1<<16), h: h, mac: mac,
		sum: coffer.NewDumpSummary(), keys: map[string]bool{}}
	hdr.MACKey = fmt.Sprintf("%08x", envelope.KeyID(master))
	bw.macKey = hdr.MACKey
	meta, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	bw.write([]byte(Magic))
	bw.write(binary.BigEndian.AppendUint16(nil, Version))
	bw.block(meta)
	return bw, bw.err
}

func (bw *Writer) write(p []byte) {
	if bw.err == nil {
		_, bw.err = bw.w.Write(p)
	}
}

// block writes p with its length.
func (bw *Writer) block(p []byte) {
	bw.write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
	bw.write(p)
}

// MACKey returns the id (8 hex digits) of the master key of the MAC.
func (bw *Writer) MACKey() string { return bw.macKey }

// Add writes the next record.
func (bw *Writer) Add(r *coffer.Record) error {
	var err error
	if bw.buf, err = r.AppendBinary(bw.buf[:0]); err != nil {
		return err
	}
	if len(bw.buf) > maxRecord {
		return fmt.Errorf("a %s record of %d bytes is too large for a backup", r.Kind(), len(bw.buf))
	}
	bw.sum.Add(r)
	if id, ok := wrappingKey(r); ok {
		bw.keys[id] = true
	}
	bw.block(bw.buf)
	return bw.err
}

// Finish writes the trailer, the checksum and the MAC, and flushes.
func (bw *Writer) Finish() (*Trailer, error) {
	tr := summaryTrailer(bw.sum, bw.keys)
	meta, err := json.Marshal(tr)
	if err != nil {
		return nil, err
	}
	bw.write(binary.BigEndian.AppendUint32(nil, 0))
	bw.block(meta)
	if bw.err == nil {
		bw.err = bw.w.Flush()
	}
	if bw.err != nil {
		return nil, bw.err
	}
	// The checksum goes past the hash (and into the MAC); the MAC goes to
	// the file alone.
	_, err = bw.w.Write(bw.h.Sum(nil))
	if err == nil {
		err = bw.w.Flush()
	}
	if err == nil {
		_, err = bw.out.Write(bw.mac.Sum(nil))
	}
	return tr, err
}

func summaryTrailer(sum *coffer.DumpSummary, keys map[string]bool) *Trailer {
	tr := &Trailer{Counts: map[string]int64{}, Total: sum.Total(), Digest: hex.EncodeToString(sum.Digest()),
		MasterKeys: slices.Sorted(maps.Keys(keys))}
	for _, k := range coffer.RecordKinds() {
		// Kinds added after nonces (the roles of issue 20) are counted
		// only when the backup has some: trailers of older builds lack
		// their names, and must still match what this build reads.
		if k > coffer.KindNonce && sum.Count(k) == 0 {
			continue
		}
		tr.Counts[k.String()] = sum.Count(k)
	}
	return tr
}

// wrappingKey returns the id of the master key that wraps a store's data
// key, for a StoreKey record.
func wrappingKey(r *coffer.Record) (string, bool) {
	if r.StoreKey == nil || len(r.StoreKey.Wrapped) < 5 || r.StoreKey.Wrapped[0] != envelope.FormatWrappedKey {
		return "", false
	}
	return hex.EncodeToString(r.StoreKey.Wrapped[1:5]), true
}

// ErrCorrupt is the cause of every error about a backup file's
// content.
var ErrCorrupt = errors.New("the backup file is damaged or incomplete")

// Reader reads a backup file and checks it as it goes. Next returns
// io.EOF only after the trailer and the checksum have been verified.
type Reader struct {
	r      *bufio.Reader
	h      hash.Hash
	mac    hash.Hash // nil for a version 1 file
	Header Header
	sum    *coffer.DumpSummary
	order  coffer.RecordOrder
	keys   map[string]bool
	n      int64
	done   *Trailer
}

// Keys are what a Reader needs to authenticate a file.
type Keys struct {
	// Masters are the master keys at hand; the one the header names keys
	// the MAC.
	Masters [][]byte
	// NoMAC accepts a version 1 file, which has no MAC.
	NoMAC bool
}

// ErrForged is the cause of a MAC that does not verify.
var ErrForged = errors.New("the backup's MAC does not match: the file was changed after coffer backup wrote it")

// NewReader starts reading a backup file. A version 2 file needs the
// master key its header names among keys.Masters; a version 1 file is
// refused unless keys.NoMAC.
func NewReader(r io.Reader, keys Keys) (*Reader, error) {
	br := &Reader{r: bufio.NewReaderSize(r, 1<<16), h: sha256.New(), sum: coffer.NewDumpSummary(), keys: map[string]bool{}}
	magic := make([]byte, len(Magic)+2)
	if _, err := io.ReadFull(br.r, magic); err != nil || string(magic[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("not a coffer backup file (no %s header): %w", Magic, ErrCorrupt)
	}
	v := binary.BigEndian.Uint16(magic[len(Magic):])
	switch {
	case v == VersionNoMAC && !keys.NoMAC:
		return nil, fmt.Errorf("backup format version 1 has no MAC: nothing shows that the file is the one coffer backup wrote (an edited file with recomputed checksums passes every other check); take a new backup, or give --accept-no-mac to restore this one knowingly")
	case v != Version && v != VersionNoMAC:
		return nil, fmt.Errorf("backup format version %d: this coffer reads version %d (and %d)", v, Version, VersionNoMAC)
	}
	br.h.Write(magic)
	meta, err := br.lenBlock(maxMeta)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(meta[4:], &br.Header); err != nil {
		return nil, fmt.Errorf("backup header: %v: %w", err, ErrCorrupt)
	}
	if v == Version {
		var master []byte
		for _, k := range keys.Masters {
			if fmt.Sprintf("%08x", envelope.KeyID(k)) == br.Header.MACKey {
				master = k
			}
		}
		switch {
		case master == nil && len(keys.Masters) > 0:
			return nil, fmt.Errorf("the backup is authenticated with master key %s, but the master key given is %08x: give the backup's (--master-key-file or COFFER_MASTER_KEY)", br.Header.MACKey, envelope.KeyID(keys.Masters[0]))
		case master == nil:
			return nil, fmt.Errorf("the backup is authenticated with master key %s, which was not given (--master-key-file, COFFER_MASTER_KEY, or master.key in the new data directory): without it the backup cannot be verified", br.Header.MACKey)
		}
		br.mac = envelope.NewMAC(master, MACPurpose)
		br.mac.Write(magic)
		br.mac.Write(meta)
	}
	return br, nil
}

// lenBlock reads a length-prefixed block and returns it with its length.
func (br *Reader) lenBlock(max uint32) ([]byte, error) {
	n, err := br.length(max)
	if err != nil {
		return nil, err
	}
	p := make([]byte, 4+n)
	binary.BigEndian.PutUint32(p, n)
	if err := br.read(p[4:]); err != nil {
		return nil, err
	}
	return p, nil
}

func (br *Reader) read(p []byte) error {
	if _, err := io.ReadFull(br.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("the file ends early (truncated): %w", ErrCorrupt)
		}
		return err
	}
	br.h.Write(p)
	if br.mac != nil {
		br.mac.Write(p)
	}
	return nil
}

func (br *Reader) length(max uint32) (uint32, error) {
	var n [4]byte
	if err := br.read(n[:]); err != nil {
		return 0, err
	}
	l := binary.BigEndian.Uint32(n[:])
	if l > max {
		return 0, fmt.Errorf("a block of %d bytes after record %d: %w", l, br.n, ErrCorrupt)
	}
	return l, nil
}

func (br *Reader) block(max uint32) ([]byte, error) {
	n, err := br.length(max)
	if err != nil {
		return nil, err
	}
	p := make([]byte, n)
	return p, br.read(p)
}

// Next returns the next record, or io.EOF once the whole file has been
// read and verified.
func (br *Reader) Next() (*coffer.Record, error) {
	if br.done != nil {
		return nil, io.EOF
	}
	n, err := br.length(maxRecord)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, br.finish()
	}
	p := make([]byte, n)
	if err := br.read(p); err != nil {
		return nil, err
	}
	br.n++
	r := new(coffer.Record)
	if err := r.UnmarshalBinary(p); err != nil {
		return nil, fmt.Errorf("record %d: %v: %w", br.n, err, ErrCorrupt)
	}
	if _, err := br.order.Check(r); err != nil {
		return nil, fmt.Errorf("record %d: %v: %w", br.n, err, ErrCorrupt)
	}
	br.sum.Add(r)
	if id, ok := wrappingKey(r); ok {
		br.keys[id] = true
	}
	return r, nil
}

// finish reads the trailer and the checksum and compares them with what
// was read.
func (br *Reader) finish() error {
	meta, err := br.block(maxMeta)
	if err != nil {
		return err
	}
	want := br.h.Sum(nil)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br.r, got); err != nil {
		return fmt.Errorf("the file ends early (no checksum): %w", ErrCorrupt)
	}
	if string(got) != string(want) {
		return fmt.Errorf("checksum mismatch: %w", ErrCorrupt)
	}
	if br.mac != nil {
		br.mac.Write(got)
		mac := make([]byte, br.mac.Size())
		if _, err := io.ReadFull(br.r, mac); err != nil {
			return fmt.Errorf("the file ends early (no MAC): %w", ErrCorrupt)
		}
		if !hmac.Equal(mac, br.mac.Sum(nil)) {
			return ErrForged
		}
	}
	if _, err := br.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("bytes after the checksum: %w", ErrCorrupt)
	}
	var tr Trailer
	if err := json.Unmarshal(meta, &tr); err != nil {
		return fmt.Errorf("backup trailer: %v: %w", err, ErrCorrupt)
	}
	read := summaryTrailer(br.sum, br.keys)
	if tr.Total != read.Total || tr.Digest != read.Digest || !maps.Equal(tr.Counts, read.Counts) {
		return fmt.Errorf("the records (%d, digest %s) differ from the trailer's (%d, digest %s): %w",
			read.Total, read.Digest, tr.Total, tr.Digest, ErrCorrupt)
	}
	br.done = &tr
	return io.EOF
}

// Authenticated reports whether the file has a MAC (format version 2),
// which Next verifies before it returns io.EOF.
func (br *Reader) Authenticated() bool { return br.mac != nil }

// Trailer returns the verified trailer once Next has returned io.EOF.
func (br *Reader) Trailer() *Trailer { return br.done }
