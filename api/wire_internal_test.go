package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func TestSecretAppendJSON(t *testing.T) {
	del := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	exp := time.Date(2027, 6, 7, 8, 9, 10, 140000000, time.UTC)
	for _, s := range []*coffer.Secret{
		{ID: "a", Name: "plain", Status: coffer.StatusActive, Origin: "native", Version: 3, CreatedAt: time.Unix(1, 0).UTC(), UpdatedAt: time.Unix(2, 5).UTC()},
		{ID: "b", Name: "db/pw", Status: coffer.StatusDeleted, Comment: "quote \" <tag> & ü \u2028 \x01", Labels: map[string]string{"z": "1", "a": "<2>"},
			Scopes: []string{"workers", "ai gateway"}, Attributes: map[string]string{"purpose": "p"}, DeletedAt: &del, ExpiresAt: &exp, CreatedBy: "p1"},
		{ID: "c", Name: "expiring", Status: coffer.StatusActive, ExpiresAt: &exp},
		{Comment: "bad utf-8 \xff"},
	} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSecret(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendSecret:\n got %s\nwant %s", got, want)
		}
	}
	page := &coffer.SecretPage{Secrets: []*coffer.Secret{{ID: "x", Name: "n"}}, NextCursor: "c"}
	want, _ := json.Marshal(page)
	if got := secretPageJSON(page); !bytes.Equal(bytes.TrimSpace(got), want) {
		t.Errorf("secretPageJSON:\n got %s\nwant %s", got, want)
	}
	if got := secretPageJSON(&coffer.SecretPage{Secrets: []*coffer.Secret{}}); string(got) != "{\"secrets\":[]}\n" {
		t.Errorf("empty page: got %s", got)
	}
}

func TestSecretPageJSONMemo(t *testing.T) {
	page := &coffer.SecretPage{Secrets: []*coffer.Secret{{ID: "x", Name: "n"}}}
	first := secretPageJSON(page)
	page.Secrets[0].Name = "changed" // pages never change; the encoding is kept
	if got := secretPageJSON(page); &got[0] != &first[0] {
		t.Errorf("second encoding of a page was made anew: got %s, want the kept %s", got, first)
	}
}

func TestValueAppendJSON(t *testing.T) {
	for _, v := range []*coffer.Value{
		{Name: "a", Version: 1, Data: []byte("plain")},
		{Name: "b<&>", Version: 2, Data: []byte("line\nsep\u2028para\u2029\x00\"\\")},
		{Name: "bin", Version: 3, Data: []byte{0xff, 0x00, 0x80}},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendValue(nil, v); !bytes.Equal(got, append(want, '\n')) {
			t.Errorf("appendValue:\n got %s\nwant %s", got, want)
		}
	}
}
