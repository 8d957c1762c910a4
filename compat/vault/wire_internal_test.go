package vault

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// TestWriteRead checks that the hand-written answer of a data read is the
// bytes respond writes.
func TestWriteRead(t *testing.T) {
	for _, m := range []*versionMeta{
		{CreatedTime: "2026-01-02T03:04:05.123456789Z", Version: 3},
		{CreatedTime: unknownTime, DeletionTime: "2027-01-01T00:00:00Z", Destroyed: true, Version: 1, CustomMetadata: map[string]string{"a\"b": "<c>", "k": "v"}},
	} {
		data := json.RawMessage(`{"user":"u","pass":"p\u0000"}`)
		r := httptest.NewRequest("GET", "/vault/v1/secret/data/x", nil)
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		if err := writeRead(got, r, data, m); err != nil {
			t.Fatal(err)
		}
		if err := respond(want, r, mountType, struct {
			Data     json.RawMessage `json:"data"`
			Metadata *versionMeta    `json:"metadata"`
		}{data, m}, nil); err != nil {
			t.Fatal(err)
		}
		if got.Body.String() != want.Body.String() {
			t.Fatalf("got  %s\nwant %s", got.Body, want.Body)
		}
	}
}
