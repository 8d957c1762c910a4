package dotenv_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/coffer-dev/coffer/dotenv"
)

// TestParse_CheckKey checks that keys are checked only by the caller's
// function: nil accepts any key, and a refusal names the line and the key
// before the caller's reason.
func TestParse_CheckKey(t *testing.T) {
	for _, parse := range []struct {
		name string
		fn   func([]byte, func(string) error) ([]dotenv.Entry, error)
		in   string
	}{
		{"Dotenv", dotenv.Parse, "A=1\n../x=2\n"},
		{"JSON", dotenv.ParseJSON, "{\"A\": \"1\",\n\"../x\": \"2\"}"},
	} {
		t.Run(parse.name+"/OK", func(t *testing.T) {
			got, err := parse.fn([]byte(parse.in), nil)
			want := []dotenv.Entry{{"A", "1", 1}, {"../x", "2", 2}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, %v, want %#v", got, err, want)
			}
		})
		t.Run(parse.name+"/ErrRefused", func(t *testing.T) {
			refuse := func(key string) error {
				if key == "../x" {
					return errors.New("no dots")
				}
				return nil
			}
			_, err := parse.fn([]byte(parse.in), refuse)
			if got, want := errorString(err), `line 2: key "../x": no dots`; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func errorString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
