package chutes

import "github.com/coffer-dev/coffer"

// HotkeyDetail is the face's text for a refusal of AuthenticateHotkey.
func HotkeyDetail(err error, p coffer.HotkeyProof) string { return hotkeyDetail(err, p) }
