package envelope

import (
	"bytes"
	"testing"
)

func TestNewMACMatchesKeyring(t *testing.T) {
	master := GenerateKey()
	k, err := NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a backup's bytes")
	m := NewMAC(master, "backup/v2")
	m.Write(msg[:5])
	m.Write(msg[5:])
	if got, want := m.Sum(nil), k.MAC("backup/v2", msg); !bytes.Equal(got, want) {
		t.Errorf("NewMAC %x, Keyring.MAC %x", got, want)
	}
	if other := NewMAC(master, "audit-head"); bytes.Equal(other.Sum(nil), NewMAC(master, "backup/v2").Sum(nil)) {
		t.Error("two purposes share a key")
	}
	if bytes.Equal(NewMAC(GenerateKey(), "backup/v2").Sum(msg), NewMAC(master, "backup/v2").Sum(msg)) {
		t.Error("two master keys give one MAC")
	}
}
