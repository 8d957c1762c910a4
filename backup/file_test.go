package backup_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/backup"
)

// testRecords are a few records in dump order.
func testRecords() []*coffer.Record {
	at := time.Unix(0, 1234567890123456789).UTC()
	return []*coffer.Record{
		{Account: &coffer.Account{ID: "a", Name: "acme", CreatedAt: at}},
		{Store: &coffer.Store{ID: "s", AccountID: "a", Name: "app", KeyID: 1, CreatedAt: at, UpdatedAt: at}},
		{Version: &coffer.Version{SecretID: "x", Number: 1, KeyID: 1, Ciphertext: []byte("ct"), CreatedAt: at}},
	}
}

var testMaster = bytes.Repeat([]byte{7}, 32)

// mustWrite returns a backup file of recs.
func mustWrite(t *testing.T, recs []*coffer.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw, err := backup.NewWriter(&buf, backup.Header{Created: time.Unix(1, 0).UTC(), Engine: "sqlite"}, testMaster)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := bw.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bw.Finish(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads a backup file to its end.
func readAll(file []byte, keys backup.Keys) ([]*coffer.Record, error) {
	br, err := backup.NewReader(bytes.NewReader(file), keys)
	if err != nil {
		return nil, err
	}
	var recs []*coffer.Record
	for {
		r, err := br.Next()
		if err == io.EOF {
			return recs, nil
		} else if err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
}

func TestFile(t *testing.T) {
	keys := backup.Keys{Masters: [][]byte{testMaster}}
	file := mustWrite(t, testRecords())

	t.Run("OK", func(t *testing.T) {
		recs, err := readAll(file, keys)
		if err != nil {
			t.Fatal(err)
		}
		want := coffer.NewDumpSummary()
		for _, r := range testRecords() {
			want.Add(r)
		}
		got := coffer.NewDumpSummary()
		for _, r := range recs {
			got.Add(r)
		}
		if !bytes.Equal(got.Digest(), want.Digest()) || got.Total() != want.Total() {
			t.Errorf("got %d records, want %d, the same", got.Total(), want.Total())
		}
	})
	t.Run("ErrCorrupt", func(t *testing.T) {
		for name, f := range map[string][]byte{
			"Truncated": file[:len(file)-40],
			"Magic":     append([]byte("XOFFERBK"), file[8:]...),
			"Trailing":  append(bytes.Clone(file), 0),
		} {
			if _, err := readAll(f, keys); !errors.Is(err, backup.ErrCorrupt) {
				t.Errorf("%s: got %v, want ErrCorrupt", name, err)
			}
		}
	})
	t.Run("ErrForged", func(t *testing.T) {
		// A changed record with a recomputed checksum: only the MAC tells.
		i := bytes.Index(file, []byte("acme"))
		f := bytes.Clone(file)
		f[i] = 'A'
		sum := sha256.Sum256(f[:len(f)-64])
		copy(f[len(f)-64:], sum[:])
		if _, err := readAll(f, keys); !errors.Is(err, backup.ErrForged) {
			t.Errorf("got %v, want ErrForged", err)
		}
		f = bytes.Clone(file)
		f[len(f)-1] ^= 1
		if _, err := readAll(f, keys); !errors.Is(err, backup.ErrForged) {
			t.Errorf("changed MAC: got %v, want ErrForged", err)
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		other := backup.Keys{Masters: [][]byte{bytes.Repeat([]byte{8}, 32)}}
		if _, err := readAll(file, other); err == nil || !strings.Contains(err.Error(), "the master key given is") {
			t.Errorf("got %v, want the wrong master key named", err)
		}
		if _, err := readAll(file, backup.Keys{}); err == nil || !strings.Contains(err.Error(), "which was not given") {
			t.Errorf("no key: got %v, want the missing key named", err)
		}
	})
	t.Run("ErrVersion1", func(t *testing.T) {
		// Version 1: no MAC, so the file ends at the checksum.
		v1 := bytes.Clone(file[:len(file)-64])
		v1[len(backup.Magic)+1] = backup.VersionNoMAC
		sum := sha256.Sum256(v1)
		v1 = append(v1, sum[:]...)
		if _, err := readAll(v1, keys); err == nil || !strings.Contains(err.Error(), "format version 1 has no MAC") {
			t.Errorf("got %v, want version 1 refused", err)
		}
		if _, err := readAll(v1, backup.Keys{NoMAC: true}); err != nil {
			t.Errorf("with NoMAC: %v", err)
		}
	})
}
