package service

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
)

// vocab is what the faces registered through Options: the words of their
// providers that the rules need without knowing them (STYLE.md habit 16).
type vocab struct {
	formats   []coffer.KeyFormat     // token formats beside coffer's own, in the order given
	scheme    coffer.SignatureScheme // hotkeys' keys and signatures; nil: none
	firstRead []string               // attributes the first value read removes
}

func newVocab(opts Options) (vocab, error) {
	v := vocab{scheme: opts.Hotkeys, firstRead: opts.FirstReadClears}
	for _, f := range opts.KeyFormats {
		switch {
		case f == nil:
			return vocab{}, fmt.Errorf("key format: nil")
		case f.Name() == coffer.FormatNative:
			return vocab{}, fmt.Errorf("key format: empty name, which is coffer's own format")
		case v.format(f.Name()) != nil:
			return vocab{}, fmt.Errorf("key format %q: registered twice", f.Name())
		}
		v.formats = append(v.formats, f)
	}
	return v, nil
}

// format returns the registered format named name, or nil.
func (v *vocab) format(name string) coffer.KeyFormat {
	for _, f := range v.formats {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// formatNames lists the registered formats' names for an error message:
// ` or "a"`, ` or "a" or "b"`, or "" when there is none.
func (v *vocab) formatNames() string {
	var b strings.Builder
	for _, f := range v.formats {
		b.WriteString(" or ")
		b.WriteString(strconv.Quote(f.Name()))
	}
	return b.String()
}

// firstReadAttr reports whether attrs hold an attribute that the first
// read of the secret's value removes.
func (v *vocab) firstReadAttr(attrs map[string]string) bool {
	for _, a := range v.firstRead {
		if _, ok := attrs[a]; ok {
			return true
		}
	}
	return false
}

// afterFirstRead returns attrs without the attributes that the first read
// of the secret's value removes.
func (v *vocab) afterFirstRead(attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, val := range attrs {
		out[k] = val
	}
	for _, a := range v.firstRead {
		delete(out, a)
	}
	return out
}
