package runenv_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/runenv"
)

func TestVars(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		got, err := runenv.Vars([]*coffer.Value{
			{Name: "app/db-password", Data: []byte("s3cret")},
			{Name: "app/token", Data: []byte("t0k")},
		}, "app/")
		want := map[string]string{"db_password": "s3cret", "token": "t0k"}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, %v, want %q", got, err, want)
		}
	})
	t.Run("ErrSameVariable", func(t *testing.T) {
		_, err := runenv.Vars([]*coffer.Value{
			{Name: "db/url", Data: []byte("v1")},
			{Name: "db.url", Data: []byte("v2")},
		}, "")
		if err == nil || err.Error() != `secrets "db/url" and "db.url" both map to the variable db_url` {
			t.Errorf("got %v, want both secrets named", err)
		}
	})
}

// TestFilter checks that refused names and values with a NUL byte are left
// out and named on warn, in name order and without their values, unless
// the allow list names them (ignoring case).
func TestFilter(t *testing.T) {
	vars := map[string]string{
		"PATH": "/planted", "LD_PRELOAD": "/planted.so", "node_options": "--require x",
		"BIN": "a\x00b", "DB_PASSWORD": "s3cret",
	}
	var allow runenv.AllowList
	if err := allow.Set("NODE_OPTIONS"); err != nil {
		t.Fatal(err)
	}
	if err := allow.Set(""); err == nil {
		t.Errorf("Set(\"\"): got nil, want an error")
	}
	var warn strings.Builder
	runenv.Filter(vars, allow, &warn)
	want := map[string]string{"node_options": "--require x", "DB_PASSWORD": "s3cret"}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("got %q, want %q", vars, want)
	}
	wantWarn := "coffer run: not setting BIN: its value holds a NUL byte, which an environment variable cannot carry\n" +
		"coffer run: not setting LD_PRELOAD: it changes what a process runs (--allow LD_PRELOAD sets it)\n" +
		"coffer run: not setting PATH: it changes what a process runs (--allow PATH sets it)\n"
	if got := warn.String(); got != wantWarn {
		t.Errorf("warnings:\ngot  %q\nwant %q", got, wantWarn)
	}
}
