package dotenv_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/dotenv"
)

// secretKey checks keys as 'coffer import' does: each must be a secret name.
func secretKey(key string) error {
	if err := coffer.ValidateName("secret", key); err != nil {
		return errors.New(coffer.ErrorMessage(err))
	}
	return nil
}

func TestParseDotenv(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []dotenv.Entry // Key, Value, Line
	}{
		{"Empty", "", nil},
		{"CommentsAndBlanks", "# c\n\n   \n\t# indented\n", nil},
		{"Plain", "A=1\nB=two words\n", []dotenv.Entry{{"A", "1", 1}, {"B", "two words", 2}}},
		{"NoFinalNewline", "A=1", []dotenv.Entry{{"A", "1", 1}}},
		{"CRLF", "A=1\r\nB='x'\r\n", []dotenv.Entry{{"A", "1", 1}, {"B", "x", 2}}},
		{"BOM", "\ufeffA=1\n", []dotenv.Entry{{"A", "1", 1}}},
		{"Export", "export A=1\nexport\tB=2\n", []dotenv.Entry{{"A", "1", 1}, {"B", "2", 2}}},
		{"KeyNamedExport", "export=1\n", []dotenv.Entry{{"export", "1", 1}}},
		{"Spaces", "  A  =  padded value  \n", []dotenv.Entry{{"A", "padded value", 1}}},
		{"EmptyValue", "A=\nB=''\nC=\"\"\n", []dotenv.Entry{{"A", "", 1}, {"B", "", 2}, {"C", "", 3}}},
		{"InlineComment", "A=1 # one\nB=x#y\nC=#z\nD= # nothing\n", []dotenv.Entry{{"A", "1", 1}, {"B", "x#y", 2}, {"C", "#z", 3}, {"D", "", 4}}},
		{"EqualsInValue", "URL=postgres://u:p@h/db?sslmode=require&a=b\n", []dotenv.Entry{{"URL", "postgres://u:p@h/db?sslmode=require&a=b", 1}}},
		{"SingleQuotedLiteral", `B='$HOME \n "x" # not a comment'` + "\n", []dotenv.Entry{{"B", `$HOME \n "x" # not a comment`, 1}}},
		{"DoubleQuotedEscapes", `A="l1\nl2\ttab\r \"q\" \\ \x $X"` + "\n", []dotenv.Entry{{"A", "l1\nl2\ttab\r \"q\" \\ \\x $X", 1}}},
		{"QuotedThenComment", `A="v" # c` + "\nB='w'   \n", []dotenv.Entry{{"A", "v", 1}, {"B", "w", 2}}},
		{"MultilineDouble", "K=\"-----BEGIN-----\nabc\n-----END-----\"\nN=1\n", []dotenv.Entry{{"K", "-----BEGIN-----\nabc\n-----END-----", 1}, {"N", "1", 4}}},
		{"MultilineSingle", "K='a\n\nb'\nN=1\n", []dotenv.Entry{{"K", "a\n\nb", 1}, {"N", "1", 4}}},
		{"SecretNames", "db/password=x\napp.key=y\nmy-token=z\n", []dotenv.Entry{{"db/password", "x", 1}, {"app.key", "y", 2}, {"my-token", "z", 3}}},
		{"UTF8", "A=grüße ☃\n", []dotenv.Entry{{"A", "grüße ☃", 1}}},
		{"ShellQuoteEscape", `A='it'\''s'` + "\n" + `B=''\'''` + "\n" + `C='a'\'\'` + "\n" + `D='x'\''` + "\ny' # c\n",
			[]dotenv.Entry{{"A", "it's", 1}, {"B", "'", 2}, {"C", "a''", 3}, {"D", "x'\ny", 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dotenv.Parse([]byte(tt.in), secretKey)
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseDotenv_Errors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"NoEquals", "A=1\nJUSTAKEY\n", "line 2: want KEY=value"},
		{"EmptyKey", "# c\n=value\n", `line 2: key "": secret name is required`},
		{"BadKey", "A=1\n\nMY KEY=1\n", `line 3: key "MY KEY": secret name may contain only`},
		{"DotDotKey", "../x=1\n", `line 1: key "../x": secret name has an empty`},
		{"UnterminatedDouble", "A=1\nB=\"abc\nC=2\n", "line 2: the double-quoted value has no closing quote"},
		{"UnterminatedSingle", "A='abc", "line 1: the single-quoted value has no closing quote"},
		{"TextAfterQuote", "A=1\nB='it''s'\n", "line 2: unexpected text after the closing quote"},
		{"TextAfterMultiline", "B=\"a\nb\" c\n", "line 2: unexpected text after the closing quote"},
		{"Duplicate", "A=1\nexport A=2\n", "line 2: A is already set on line 1"},
		{"ExportOnly", "export A\n", "line 1: want KEY=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dotenv.Parse([]byte(tt.in), secretKey)
			if err == nil {
				t.Fatalf("got %#v, want error %q", got, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestParseJSONEnv(t *testing.T) {
	got, err := dotenv.ParseJSON([]byte("{\n  \"B\": \"2\",\n  \"db/password\": \"s3cret\\n\",\n  \"A\": \"\"\n}\n"), secretKey)
	if err != nil {
		t.Fatal(err)
	}
	want := []dotenv.Entry{{"B", "2", 2}, {"db/password", "s3cret\n", 3}, {"A", "", 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	if got, err := dotenv.ParseJSON([]byte(" {} "), secretKey); err != nil || len(got) != 0 {
		t.Errorf("empty object: got %#v, %v", got, err)
	}
}

func TestParseJSONEnv_Errors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"Array", `["a"]`, "line 1: want a JSON object"},
		{"Number", "{\n\"A\": \"1\",\n\"B\": 2\n}", "line 3: B: the value must be a string"},
		{"Nested", "{\"A\": {\"x\": \"y\"}}", "line 1: A: nested objects and arrays are not allowed"},
		{"Null", `{"A": null}`, "line 1: A: the value must be a string"},
		{"BadKey", "{\n\"a b\": \"1\"}", `line 2: key "a b": secret name may contain only`},
		{"Duplicate", "{\"A\": \"1\",\n\"A\": \"2\"}", "line 2: A is already set on line 1"},
		{"Syntax", "{\n\"A\": \"1\",,\n}", "line 2: "},
		{"Truncated", "{\n\"A\": \"1\"", "line 2: unexpected end"},
		{"Trailing", "{\"A\": \"1\"}\n{}", "line 2: unexpected data after the JSON object"},
		{"NotUTF8", "{\n\"A\": \"\xff\"}", "line 2: the file is not valid UTF-8"},
		{"Empty", "", "line 1: unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dotenv.ParseJSON([]byte(tt.in), secretKey)
			if err == nil {
				t.Fatalf("got %#v, want error %q", got, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got error %q, want %q", err, tt.want)
			}
		})
	}
}

// dotenvRoundTripValues are values export must write so that import reads
// them back exactly.
var dotenvRoundTripValues = []string{
	"", "plain", "two words", " leading", "trailing ", "#hash", "a #b", "it's", `say "hi"`,
	"line1\nline2", "it's\nmultiline", "back\\slash", `mixed '"\` + "\n", "\r\n", "\ttab", "$HOME ${X} `cmd`",
	"=", "a=b", "grüße ☃", "\x00\x01", "\xff\xfe binary", "'", `"`, "\\n literal", "ends with backslash\\",
}

func TestDotenvRoundTrip(t *testing.T) {
	var entries []dotenv.Entry
	for i, v := range dotenvRoundTripValues {
		entries = append(entries, dotenv.Entry{Key: "K" + string(rune('A'+i)), Value: v})
	}
	var b bytes.Buffer
	if err := dotenv.Write(&b, entries); err != nil {
		t.Fatal(err)
	}
	got, err := dotenv.Parse(b.Bytes(), secretKey)
	if err != nil {
		t.Fatalf("parse %q: %v", b.String(), err)
	}
	if len(got) != len(entries) {
		t.Fatalf("got %d entries, want %d:\n%s", len(got), len(entries), b.String())
	}
	for i := range got {
		if got[i].Key != entries[i].Key || got[i].Value != entries[i].Value {
			t.Errorf("got %q=%q, want %q=%q", got[i].Key, got[i].Value, entries[i].Key, entries[i].Value)
		}
	}
}

func TestJSONEnvRoundTrip(t *testing.T) {
	var entries []dotenv.Entry
	for i, v := range dotenvRoundTripValues {
		if !strings.Contains(v, "\xff") {
			entries = append(entries, dotenv.Entry{Key: "db/k" + string(rune('a'+i)), Value: v})
		}
	}
	var b bytes.Buffer
	if err := dotenv.WriteJSON(&b, entries); err != nil {
		t.Fatal(err)
	}
	got, err := dotenv.ParseJSON(b.Bytes(), secretKey)
	if err != nil {
		t.Fatalf("parse %q: %v", b.String(), err)
	}
	for i := range got {
		got[i].Line = 0
	}
	if !reflect.DeepEqual(got, entries) {
		t.Errorf("got %#v, want %#v", got, entries)
	}
	if err := dotenv.WriteJSON(&b, []dotenv.Entry{{Key: "bin", Value: "\xff"}}); err == nil || !strings.Contains(err.Error(), "bin holds binary data") {
		t.Errorf("binary value: got %v, want an error", err)
	}
	b.Reset()
	dotenv.WriteJSON(&b, nil)
	if got, want := b.String(), "{}\n"; got != want {
		t.Errorf("empty: got %q, want %q", got, want)
	}
}

// FuzzDotenv checks that the parser never panics and that whatever it
// accepts, writeDotenv writes back in a form that parses to the same.
func FuzzDotenv(f *testing.F) {
	for _, s := range []string{"A=1\n", "export A='x'\n#c\nB=\"y\\n\"", "K=\"a\nb\"", "A= #c", "\ufeffA=\r\n"} {
		f.Add([]byte(s))
	}
	for _, v := range dotenvRoundTripValues {
		f.Add([]byte("A=" + v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := dotenv.Parse(data, secretKey)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := dotenv.Write(&b, entries); err != nil {
			t.Fatal(err)
		}
		again, err := dotenv.Parse(b.Bytes(), secretKey)
		if err != nil {
			t.Fatalf("reparse of %q: %v", b.String(), err)
		}
		if len(again) != len(entries) {
			t.Fatalf("got %d entries, want %d", len(again), len(entries))
		}
		for i := range again {
			if again[i].Key != entries[i].Key || again[i].Value != entries[i].Value {
				t.Fatalf("got %q=%q, want %q=%q", again[i].Key, again[i].Value, entries[i].Key, entries[i].Value)
			}
		}
	})
}
