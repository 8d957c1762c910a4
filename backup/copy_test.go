package backup_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/backup"
)

// fakeDumper is a Dumper over records in memory; Load keeps what it is
// given, changed by alter when set.
type fakeDumper struct {
	recs  []*coffer.Record
	alter func(*coffer.Record) *coffer.Record
}

func (f *fakeDumper) Dump(ctx context.Context, emit func(*coffer.Record) error) error {
	for _, r := range f.recs {
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeDumper) Load(ctx context.Context, next func() (*coffer.Record, error)) error {
	for {
		r, err := next()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if f.alter != nil {
			r = f.alter(r)
		}
		if r != nil {
			f.recs = append(f.recs, r)
		}
	}
}

// TestMigrateVerify checks that migrate's read-back finds a copy that
// lost or changed a record, and passes a faithful one.
func TestMigrateVerify(t *testing.T) {
	at := time.Unix(0, 1234567890123456789).UTC()
	src := &fakeDumper{recs: []*coffer.Record{
		{Account: &coffer.Account{ID: "a", Name: "acme", CreatedAt: at}},
		{Store: &coffer.Store{ID: "s", AccountID: "a", Name: "app", KeyID: 1, CreatedAt: at, UpdatedAt: at}},
		{Version: &coffer.Version{SecretID: "x", Number: 1, KeyID: 1, Ciphertext: []byte("ct"), CreatedAt: at}},
	}}
	m := &backup.Copy{Src: "/src (SQLite)", Dst: "/dst (SQLite)", Redact: func(err error) string { return err.Error() }}
	for _, c := range []struct {
		name  string
		alter func(*coffer.Record) *coffer.Record
		want  string
	}{
		{"OK", nil, ""},
		{"Lost", func(r *coffer.Record) *coffer.Record {
			if r.Store != nil {
				return nil
			}
			return r
		}, "MISMATCH"},
		{"ChangedByte", func(r *coffer.Record) *coffer.Record {
			if r.Version != nil {
				v := *r.Version
				v.Ciphertext = []byte("cT")
				return &coffer.Record{Version: &v}
			}
			return r
		}, "VERIFY FAILED"},
		{"ChangedNanosecond", func(r *coffer.Record) *coffer.Record {
			if r.Account != nil {
				a := *r.Account
				a.CreatedAt = a.CreatedAt.Add(1)
				return &coffer.Record{Account: &a}
			}
			return r
		}, "VERIFY FAILED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			m.Out = &out
			err := m.Run(context.Background(), src, &fakeDumper{alter: c.alter})
			if c.want == "" {
				if err != nil {
					t.Fatalf("faithful copy: %v\n%s", err, out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error()+out.String(), c.want) {
				t.Fatalf("got %v\n%s\nwant an error and %q", err, out.String(), c.want)
			}
		})
	}
}
