package runenv_test

import (
	"reflect"
	"testing"

	"github.com/coffer-dev/coffer/runenv"
)

func TestDenied(t *testing.T) {
	for name, want := range map[string]bool{
		"PATH": true, "path": true, "LD_PRELOAD": true, "ld_library_path": true, "DYLD_INSERT_LIBRARIES": true,
		"BASH_ENV": true, "ENV": true, "IFS": true, "PYTHONPATH": true, "PYTHONSTARTUP": true, "NODE_OPTIONS": true,
		"PERL5OPT": true, "RUBYOPT": true, "JAVA_TOOL_OPTIONS": true, "GCONV_PATH": true, "GLIBC_TUNABLES": true,
		"MALLOC_TRACE": true, "GIT_SSH_COMMAND": true, "GIT_CONFIG_COUNT": true, "npm_config_script_shell": true,
		"HOME": true, "PROMPT_COMMAND": true,
		"DB_PASSWORD": false, "PATHS": false, "MY_PATH": false, "ENVIRONMENT": false, "LD": false, "GIT_TOKEN": false,
		"API_KEY": false, "HOMEPAGE": false,
	} {
		if got := runenv.Denied(name); got != want {
			t.Errorf("runenv.Denied(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		secret, prefix, want string
	}{
		{"DB_PASSWORD", "", "DB_PASSWORD"},
		{"db/password", "", "db_password"},
		{"app/db-password", "app/", "db_password"},
		{"app.v2/api.key", "", "app_v2_api_key"},
		{"_private", "", "_private"},
		{"a1", "", "a1"},
		{"1abc", "", ""},
		{"app/", "app/", ""},
		{"app/9lives", "app/", ""},
		{"x", "x", ""},
	}
	for _, tt := range tests {
		got, err := runenv.Name(tt.secret, tt.prefix)
		if tt.want == "" {
			if err == nil {
				t.Errorf("runenv.Name(%q, %q): got %q, want an error", tt.secret, tt.prefix, got)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("runenv.Name(%q, %q): got %q, %v, want %q", tt.secret, tt.prefix, got, err, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	got := runenv.Merge([]string{"PATH=/bin", "DB=old", "HOME=/h", "NOEQUALS"}, map[string]string{"DB": "new", "A": "1"})
	want := []string{"PATH=/bin", "HOME=/h", "NOEQUALS", "A=1", "DB=new"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
