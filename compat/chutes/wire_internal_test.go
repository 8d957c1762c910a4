package chutes

import (
	"strings"
	"testing"
	"time"
)

// The expected values were made with Python 3: uuid.uuid5, datetime's
// isoformat and re.match with Chutes' key-name pattern.

func TestUUID5(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"0123456789abcdef0123456789abcdef:my-chute:HF_TOKEN", "5b4c1816-f466-5337-ab3a-64a151572069"},
		{"01a2090f-57c3-84a2-152b-9bd36f0a2208:deepseek-ai/DeepSeek-R1:HF_TOKEN", "081e54bb-41bb-5aa9-88fb-74e39fce5c9f"},
		{"", "0a68eb57-c88a-5f34-9e9d-27f85e68af4f"},
	} {
		if got := dashed(uuid5(tt.name)); got != tt.want {
			t.Errorf("uuid5(%q): got %s, want %s", tt.name, got, tt.want)
		}
	}
	if got, want := dashed(secretID("01a2090f57c384a2152b9bd36f0a2208", "deepseek-ai/DeepSeek-R1", "HF_TOKEN")), "081e54bb-41bb-5aa9-88fb-74e39fce5c9f"; got != want {
		t.Errorf("secretID: got %s, want %s", got, want)
	}
}

func TestParseID(t *testing.T) {
	const id = "5b4c1816f4665337ab3a64a151572069"
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"5b4c1816-f466-5337-ab3a-64a151572069", true},
		{"5B4C1816-F466-5337-AB3A-64A151572069", true},
		{id, true},
		{"5b4c1816-f466-5337-ab3a-64a15157206", false},
		{"5b4c1816f466-5337-ab3a-64a1515720699", false},
		{"5b4c1816-f466-5337-ab3a-64a15157206g", false},
		{"", false},
	} {
		got, ok := parseID(tt.in)
		if ok != tt.ok || ok && got != id {
			t.Errorf("parseID(%q): got %q %v, want ok=%v", tt.in, got, ok, tt.ok)
		}
	}
}

func TestTimestamp(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 10, 4, 12, 9, 44, 123456789, time.UTC), "2025-10-04T12:09:44.123456"},
		{time.Date(2025, 10, 4, 12, 9, 44, 0, time.UTC), "2025-10-04T12:09:44"},
		{time.Date(2025, 10, 4, 12, 9, 44, 1000000, time.UTC), "2025-10-04T12:09:44.001000"},
		{time.Date(2025, 10, 4, 14, 9, 44, 999, time.FixedZone("CEST", 2*3600)), "2025-10-04T12:09:44"},
	} {
		if got := timestamp(tt.in); got != tt.want {
			t.Errorf("timestamp(%v): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestValidKeyName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"ci", true}, {strings.Repeat("a", 24), true}, {strings.Repeat("a", 25), false}, {"", false},
		{"my key", true}, {"$x.y-z", true}, {"naïve", true}, {"-x", true}, {"a/b", false}, {"😀", false},
		{"𝐀", true}, {"a:b", false}, {strings.Repeat("é", 24), true},
	} {
		if got := validKeyName(tt.name); got != tt.ok {
			t.Errorf("validKeyName(%q): got %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestBanned(t *testing.T) {
	for _, tt := range []struct {
		key    string
		banned bool
	}{
		{"HF_TOKEN", false}, {"PYTHONPATH", true}, {"my_python_thing", true}, {"SGLANG_X", true}, {"sgl_a", true},
		{"SGL_A", true}, {"xsgl_a", false}, {"LD_PRELOAD", true}, {"OLD_X", false}, {"http_proxy", true},
		{"HTTPS_PROXY", true}, {"HF_HUB_DISABLE_SSL_VERIFY", true}, {"NO_PROXY", false},
		{"PYTHONUNBUFFERED", false}, {"pythonunbuffered", false}, {"UV_SYSTEM_PYTHON", false}, {"PYTHONIOENCODING", false},
		{"PYTHONWARNINGS", false}, {"PYTHONWARNINGS2", true},
	} {
		if got := banned(tt.key); got != tt.banned {
			t.Errorf("banned(%q): got %v, want %v", tt.key, got, tt.banned)
		}
	}
}

func TestValidPurposeAndKey(t *testing.T) {
	for _, tt := range []struct {
		purpose string
		ok      bool
	}{
		{"my-chute", true}, {"deepseek-ai/DeepSeek-R1", true}, {"5b4c1816-f466-5337-ab3a-64a151572069", true},
		{"a.b", true}, {"..", false}, {".", false}, {"a/../b", false}, {"a/./b", false}, {"a//b", false},
		{"/a", false}, {"a/", false}, {"a b", false}, {"a%", false}, {"..a", true},
	} {
		if got := validPurpose(tt.purpose); got != tt.ok {
			t.Errorf("validPurpose(%q): got %v, want %v", tt.purpose, got, tt.ok)
		}
	}
	for _, tt := range []struct {
		key string
		ok  bool
	}{
		{"HF_TOKEN", true}, {"a.b-c", true}, {"a/b", false}, {"..", false}, {"", false}, {"A B", false},
	} {
		if got := validKey(tt.key); got != tt.ok {
			t.Errorf("validKey(%q): got %v, want %v", tt.key, got, tt.ok)
		}
	}
}
