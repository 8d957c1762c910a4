package service_test

import (
	"context"
	"errors"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// TestVocabularyUnregistered checks that the service knows no face's words
// unless the face registers them: without options, no Chutes token format,
// no hotkeys, and no attribute removed on a first read.
func TestVocabularyUnregistered(t *testing.T) {
	env := svctest.Open(t, service.Options{})
	t.Run("ErrInvalidKeyFormat", func(t *testing.T) {
		_, _, err := env.Svc.CreateAPIKey(env.Root, &coffer.APIKeyCreate{Name: "c", Format: chutes.KeyFormatName})
		if got, want := coffer.ErrorMessage(err), "key format must be empty (native)"; coffer.ErrorCode(err) != coffer.EINVALID || got != want {
			t.Fatalf("got %v, want invalid %q", err, want)
		}
	})
	t.Run("ErrInvalidHotkey", func(t *testing.T) {
		const addr = "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"
		if _, err := env.Svc.RegisterHotkey(env.Root, "", addr); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Fatalf("RegisterHotkey: got %v, want invalid", err)
		}
		_, err := env.Svc.AuthenticateHotkey(context.Background(), coffer.HotkeyProof{Hotkey: addr, Nonce: "1", Signature: "00"})
		var r *coffer.HotkeyRefusal
		if !errors.As(err, &r) || coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("AuthenticateHotkey: got %v, want a hotkey refusal", err)
		}
	})
	t.Run("OKAttributeKept", func(t *testing.T) {
		if _, err := env.Svc.CreateStore(env.Root, &coffer.StoreCreate{Name: "s"}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Svc.PutSecret(env.Root, "s", &coffer.SecretPut{Name: "A", Value: []byte("v"), Attributes: map[string]string{"unused": "1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Svc.Reveal(env.Root, "s", "A", 0); err != nil {
			t.Fatal(err)
		}
		sec, err := env.Svc.Secret(env.Root, "s", "A")
		if err != nil {
			t.Fatal(err)
		}
		if sec.Attributes["unused"] != "1" {
			t.Fatalf("attributes after a read: got %v, want unused kept", sec.Attributes)
		}
	})
}

// TestVocabularyRegisteredTwice checks that New refuses a token format
// registered twice or under coffer's own (empty) name.
func TestVocabularyRegisteredTwice(t *testing.T) {
	env := svctest.Open(t, service.Options{})
	for name, formats := range map[string][]coffer.KeyFormat{
		"Twice":  {chutes.TokenFormat{}, chutes.TokenFormat{}},
		"Nil":    {nil},
		"NoName": {namedFormat{chutes.TokenFormat{}, ""}},
	} {
		t.Run(name, func(t *testing.T) {
			if svc, err := service.New(context.Background(), env.DB, env.Keyring, service.Options{KeyFormats: formats}); err == nil {
				svc.Close()
				t.Fatal("New: got no error")
			}
		})
	}
}

type namedFormat struct {
	coffer.KeyFormat
	name string
}

func (f namedFormat) Name() string { return f.name }
