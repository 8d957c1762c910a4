package chutes_test

// The service's hotkey rules with Chutes' signature scheme (sr25519) and
// refusal texts: these tests were service/hotkeys_test.go before Chutes'
// words left the service (issue 18).

import (
	"context"
	"encoding/hex"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/internal/sr25519"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// The key of internal/sr25519/testdata/chutes-sr25519-vectors.json, made
// with @polkadot/util-crypto, and one of its signatures: over
// "{hotkey}:1763900000:secrets" in the <Bytes>-wrapped form.
const (
	testSeedHex      = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	testVectorNonce  = 1763900000
	testVectorSigHex = "d64154f448d5f158b08ea6c3b004e9fe5e77fc3993d50fb1c99910c19c980b41d18a1bf77e0f0f869dc81fd6f316bdd73fd2a710aea51c901f13443992b9ca84"
	// The same public key in SS58 format 0 (Polkadot).
	testHotkeyFormat0 = "12Z2dohKGejugkCsD1VFgamLQJyDoUnksenbQNp7NnjeZ8a6"
	// The key of internal/sr25519/testdata/polkadot-vectors.json.
	otherHotkey = "5HBWHtpMAiZiKPE8BJxXrFXevCXHiwQr4zQK7SUB6GZsbRDj"
)

// hotkeyEnv is a Service on a fresh database at a settable time, with the
// root admin's context, and a second Service on the same database (as a
// second server would be).
type hotkeyEnv struct {
	svc, svc2 faceService
	clock     *svctest.Clock
	ctx       context.Context // root admin of the operator account
	priv      *sr25519.PrivateKey
}

func newHotkeyEnv(tb testing.TB) *hotkeyEnv {
	tb.Helper()
	clk := svctest.NewClock(time.Unix(testVectorNonce, 0).Add(5 * time.Second))
	env := svctest.Open(tb, withChutes(service.Options{Now: clk.Now}))
	// A second service on the same database, as a second server would be.
	svc2, err := service.New(context.Background(), env.DB, env.Keyring, withChutes(service.Options{Now: clk.Now}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(svc2.Close)
	seed, _ := hex.DecodeString(testSeedHex)
	priv, err := sr25519.NewPrivateKeyFromSeed([32]byte(seed))
	if err != nil {
		tb.Fatal(err)
	}
	if got := priv.Public().Address(42); got != vectorHotkey {
		tb.Fatalf("key from the vectors' seed: got %s, want %s", got, vectorHotkey)
	}
	return &hotkeyEnv{svc: faceService{env.Svc}, svc2: faceService{svc2}, clock: clk, ctx: env.Root, priv: priv}
}

// withChutes adds to opts what the server registers for the Chutes face:
// its token format and its hotkeys' signature scheme.
func withChutes(opts service.Options) service.Options {
	opts.KeyFormats = []coffer.KeyFormat{chutes.TokenFormat{}}
	opts.Hotkeys = chutes.HotkeyScheme{}
	return opts
}

// faceService is a Service whose hotkey refusals carry, as their message,
// the text the Chutes face answers them with.
type faceService struct{ *service.Service }

func (s faceService) AuthenticateHotkey(ctx context.Context, p coffer.HotkeyProof) (*coffer.Caller, error) {
	c, err := s.Service.AuthenticateHotkey(ctx, p)
	if coffer.ErrorCode(err) == coffer.EUNAUTHORIZED {
		return c, coffer.Errorf(coffer.EUNAUTHORIZED, "%s", chutes.HotkeyDetail(err, p))
	}
	return c, err
}

var fuzzIP atomic.Uint32

func nextFuzzIP() string {
	n := fuzzIP.Add(1)
	return "10." + strconv.Itoa(int(n>>16&0xff)) + "." + strconv.Itoa(int(n>>8&0xff)) + "." + strconv.Itoa(int(n&0xff))
}

// proof signs "{hotkey}:{nonce}:{purpose}" as a Chutes client does.
func (e *hotkeyEnv) proof(tb testing.TB, nonce string, purpose string) coffer.HotkeyProof {
	tb.Helper()
	msg := vectorHotkey + ":" + nonce + ":" + purpose
	sig, err := e.priv.Sign([]byte(msg))
	if err != nil {
		tb.Fatal(err)
	}
	return coffer.HotkeyProof{Hotkey: vectorHotkey, Nonce: nonce, Signature: hex.EncodeToString(sig[:]), Message: []byte(msg), RemoteIP: "192.0.2.7"}
}

func (e *hotkeyEnv) nowNonce() string { return strconv.FormatInt(e.clock.Now().Unix(), 10) }

func wantUnauthorized(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if coffer.ErrorCode(err) != coffer.EUNAUTHORIZED || !strings.HasPrefix(coffer.ErrorMessage(err), msg) {
		t.Fatalf("%s: got %v, want unauthorized %q", what, err, msg)
	}
}

func TestAuthenticateHotkey(t *testing.T) {
	e := newHotkeyEnv(t)
	root := coffer.CallerFrom(e.ctx)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		c, err := e.svc.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets"))
		if err != nil {
			t.Fatal(err)
		}
		if c.AccountID != root.AccountID || c.PrincipalID != root.PrincipalID || !c.Admin || c.KeyID != "hotkey:"+vectorHotkey ||
			c.RemoteAddr != "192.0.2.7" || len(c.Scopes) != 0 {
			t.Fatalf("caller: got %+v, want the root principal, admin, KeyID hotkey:%s", c, vectorHotkey)
		}
	})
	t.Run("OKPolkadotWrappedSignature", func(t *testing.T) {
		p := coffer.HotkeyProof{Hotkey: vectorHotkey, Nonce: strconv.Itoa(testVectorNonce), Signature: testVectorSigHex,
			Message: []byte(vectorHotkey + ":" + strconv.Itoa(testVectorNonce) + ":secrets"), RemoteIP: "192.0.2.7"}
		if _, err := e.svc.AuthenticateHotkey(context.Background(), p); err != nil {
			t.Fatalf("polkadot.js vector: %v", err)
		}
		// Its replay, with the hex in upper case, is refused.
		p.Signature = strings.ToUpper(p.Signature)
		_, err := e.svc.AuthenticateHotkey(context.Background(), p)
		wantUnauthorized(t, "replay in upper case", err, "Replayed request")
	})
	t.Run("OKOtherSS58Format", func(t *testing.T) {
		msg := testHotkeyFormat0 + ":" + e.nowNonce() + ":api_keys"
		sig, _ := e.priv.Sign([]byte(msg))
		c, err := e.svc.AuthenticateHotkey(context.Background(), coffer.HotkeyProof{Hotkey: testHotkeyFormat0, Nonce: e.nowNonce(),
			Signature: hex.EncodeToString(sig[:]), Message: []byte(msg)})
		if err != nil || c.KeyID != "hotkey:"+vectorHotkey {
			t.Fatalf("format-0 spelling: got %+v, %v, want the same hotkey", c, err)
		}
	})
	t.Run("NonceWindow", func(t *testing.T) {
		now := e.clock.Now().Unix()
		for _, c := range []struct {
			offset int64
			ok     bool
		}{{-600, false}, {-599, true}, {0, true}, {599, true}, {600, false}, {-100000, false}, {100000, false}} {
			p := e.proof(t, strconv.FormatInt(now+c.offset, 10), "secrets")
			p.RemoteIP = "198.51.100." + strconv.Itoa(int(c.offset%100+100)) // each failure from its own address
			_, err := e.svc.AuthenticateHotkey(context.Background(), p)
			if c.ok && err != nil {
				t.Errorf("nonce now%+d: got %v, want ok", c.offset, err)
			} else if !c.ok {
				wantUnauthorized(t, "nonce now"+strconv.FormatInt(c.offset, 10), err, "Invalid nonce!")
			}
		}
		for i, bad := range []string{"", "abc", "-5", "1763900005.5", " 1763900005", "1763900005 ", "+1763900005", "１７６３９０００００", "9999999999999999999999"} {
			p := e.proof(t, bad, "secrets")
			p.RemoteIP = "203.0.113." + strconv.Itoa(i)
			_, err := e.svc.AuthenticateHotkey(context.Background(), p)
			wantUnauthorized(t, "nonce "+strconv.Quote(bad), err, "Invalid nonce!")
		}
	})
	t.Run("ErrUnknownHotkey", func(t *testing.T) {
		p := e.proof(t, e.nowNonce(), "secrets")
		p.Hotkey = otherHotkey
		_, err := e.svc.AuthenticateHotkey(context.Background(), p)
		wantUnauthorized(t, "unknown hotkey", err, "Could not find user with hotkey: "+otherHotkey)
		p.Hotkey = "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnv" // bad checksum
		_, err = e.svc.AuthenticateHotkey(context.Background(), p)
		wantUnauthorized(t, "malformed hotkey", err, "Invalid hotkey")
	})
	t.Run("ErrBadSignature", func(t *testing.T) {
		p := e.proof(t, e.nowNonce(), "secrets")
		tampered := p
		tampered.Message = []byte(vectorHotkey + ":" + p.Nonce + ":api_keys")
		_, err := e.svc.AuthenticateHotkey(context.Background(), tampered)
		wantUnauthorized(t, "tampered message", err, "Invalid request signature for hotkey "+vectorHotkey+". Message: "+string(tampered.Message))
		for name, sig := range map[string]string{
			"0x":       "0x" + p.Signature[2:],
			"short":    p.Signature[:126],
			"not hex":  p.Signature[:127] + "g",
			"zero":     strings.Repeat("0", 128),
			"flipped":  p.Signature[:10] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", p.Signature[10])+1)%16]) + p.Signature[11:],
			"empty":    "",
			"with 0x+": "0x" + p.Signature,
		} {
			bad := p
			bad.Signature = sig
			bad.RemoteIP = "198.18.0." + strconv.Itoa(len(name))
			_, err := e.svc.AuthenticateHotkey(context.Background(), bad)
			wantUnauthorized(t, "signature "+name, err, "Invalid request signature")
		}
		// The untampered proof still works: failures used no nonce.
		if _, err := e.svc.AuthenticateHotkey(context.Background(), p); err != nil {
			t.Fatalf("good proof after bad ones: %v", err)
		}
	})
	t.Run("ErrReplay", func(t *testing.T) {
		p := e.proof(t, e.nowNonce(), "registry")
		if _, err := e.svc.AuthenticateHotkey(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.AuthenticateHotkey(context.Background(), p)
		wantUnauthorized(t, "replay", err, "Replayed request")
		// On the other server of the database too.
		_, err = e.svc2.AuthenticateHotkey(context.Background(), p)
		wantUnauthorized(t, "replay on another server", err, "Replayed request")
		// A new signature of the same message is a new request.
		if _, err := e.svc.AuthenticateHotkey(context.Background(), e.proof(t, p.Nonce, "registry")); err != nil {
			t.Fatalf("fresh signature of the same message: %v", err)
		}
	})
}

// TestAuthenticateHotkeyConcurrentReplay sends one proof from many
// goroutines to two servers: exactly one is accepted.
func TestAuthenticateHotkeyConcurrentReplay(t *testing.T) {
	e := newHotkeyEnv(t)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		t.Fatal(err)
	}
	p := e.proof(t, e.nowNonce(), "secrets")
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := e.svc
			if i%2 == 1 {
				svc = e.svc2
			}
			_, errs[i] = svc.AuthenticateHotkey(context.Background(), p)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("got %v, want ok or unauthorized", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses accepted, want 1", ok, len(errs))
	}
}

func TestRemovedHotkeyRefused(t *testing.T) {
	e := newHotkeyEnv(t)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		t.Fatal(err)
	}
	// Both servers have the hotkey cached.
	for _, svc := range []faceService{e.svc, e.svc2} {
		if _, err := svc.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.RemoveHotkey(e.ctx, testHotkeyFormat0); err != nil { // any spelling
		t.Fatal(err)
	}
	_, err := e.svc.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets"))
	wantUnauthorized(t, "removed hotkey on the server that removed it", err, "Could not find user with hotkey")
	// The other server may accept it until its cache entry is a second old,
	// and no longer.
	e.clock.Add(time.Second)
	_, err = e.svc2.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets"))
	wantUnauthorized(t, "removed hotkey a second later on another server", err, "Could not find user with hotkey")
}

// TestHotkeyFailuresAudited checks that every failure is in the audit log
// with its reason, in the account of the hotkey when it is registered, and
// that no event holds the signature or the signed message.
func TestHotkeyFailuresAudited(t *testing.T) {
	e := newHotkeyEnv(t)
	root := coffer.CallerFrom(e.ctx)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		t.Fatal(err)
	}
	good := e.proof(t, e.nowNonce(), "secrets")
	if _, err := e.svc.AuthenticateHotkey(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	badSig := e.proof(t, e.nowNonce(), "secrets")
	badSig.Message = []byte(vectorHotkey + ":" + badSig.Nonce + ":api_keys")
	unknown := e.proof(t, e.nowNonce(), "secrets")
	unknown.Hotkey = otherHotkey
	oldNonce := e.proof(t, "1000", "secrets")
	reqCtx := coffer.NewContext(context.Background(), &coffer.Caller{RequestID: "req-hk", Face: "chutes"})
	var sigs []string
	for _, p := range []coffer.HotkeyProof{good, badSig, unknown, oldNonce} {
		sigs = append(sigs, p.Signature)
		if _, err := e.svc.AuthenticateHotkey(reqCtx, p); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("got %v, want unauthorized", err)
		}
	}
	page, err := e.svc.AuditEvents(e.ctx, coffer.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // reason → KeyID
		"replayed signature": "hotkey:" + vectorHotkey,
		"bad signature":      "hotkey:" + vectorHotkey,
		"unknown hotkey":     "hotkey:" + otherHotkey,
		"bad nonce":          "hotkey:" + vectorHotkey,
	}
	for _, ev := range page.Events {
		for _, f := range []string{ev.KeyID, ev.Name, ev.Reason, ev.RequestID, ev.Remote, ev.Face, ev.PrincipalID} {
			for _, s := range sigs {
				if strings.Contains(strings.ToLower(f), s[:32]) {
					t.Errorf("event %d (%s) holds a signature: %q", ev.Seq, ev.Action, f)
				}
			}
			if strings.Contains(f, ":secrets") || strings.Contains(f, ":api_keys") {
				t.Errorf("event %d (%s) holds a signed message: %q", ev.Seq, ev.Action, f)
			}
		}
		if ev.Action != "auth.fail" {
			continue
		}
		keyID, ok := want[ev.Reason]
		if !ok {
			t.Errorf("auth.fail with reason %q", ev.Reason)
			continue
		}
		delete(want, ev.Reason)
		if ev.KeyID != keyID || ev.AccountID != root.AccountID || ev.Outcome != coffer.EUNAUTHORIZED ||
			ev.Remote != "192.0.2.7" || ev.RequestID != "req-hk" || ev.Face != "chutes" {
			t.Errorf("auth.fail %q: got %+v, want key %s in account %s from 192.0.2.7", ev.Reason, ev, keyID, root.AccountID)
		}
		if ev.KeyID == "hotkey:"+vectorHotkey && ev.PrincipalID != root.PrincipalID {
			t.Errorf("auth.fail %q: got principal %q, want the hotkey's %s", ev.Reason, ev.PrincipalID, root.PrincipalID)
		}
	}
	if len(want) > 0 {
		t.Errorf("no auth.fail events for %v", want)
	}
}

func TestHotkeyFailuresRateLimited(t *testing.T) {
	e := newHotkeyEnv(t)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		bad := e.proof(t, e.nowNonce(), "secrets")
		bad.Message = []byte("other")
		if _, err := e.svc.AuthenticateHotkey(context.Background(), bad); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("got %v, want unauthorized", err)
		}
	}
	bad := e.proof(t, e.nowNonce(), "secrets")
	bad.Message = []byte("other")
	if _, err := e.svc.AuthenticateHotkey(context.Background(), bad); coffer.ErrorCode(err) != coffer.ERATELIMIT {
		t.Fatalf("bad proof from an address over its budget: got %v, want rate_limited", err)
	}
	// A valid proof still gets through from that address (miners behind
	// one registry proxy share it).
	if _, err := e.svc.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets")); err != nil {
		t.Fatalf("valid proof from an address over its budget: %v", err)
	}
	// The hotkey itself is not locked out: another address gets through.
	p := e.proof(t, e.nowNonce(), "secrets")
	p.RemoteIP = "198.51.100.1"
	if _, err := e.svc.AuthenticateHotkey(context.Background(), p); err != nil {
		t.Fatalf("valid proof from another address: %v", err)
	}
}

func TestHotkeyService(t *testing.T) {
	e := newHotkeyEnv(t)
	root := coffer.CallerFrom(e.ctx)
	ci, err := e.svc.CreatePrincipal(e.ctx, &coffer.PrincipalCreate{Name: "ci", Kind: "service"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("RegisterForAnotherPrincipal", func(t *testing.T) {
		h, err := e.svc.RegisterHotkey(e.ctx, ci.ID, testHotkeyFormat0)
		if err != nil {
			t.Fatal(err)
		}
		if h.SS58 != vectorHotkey || h.PrincipalID != ci.ID || h.AccountID != root.AccountID {
			t.Fatalf("got %+v, want %s (prefix 42) for %s", h, vectorHotkey, ci.ID)
		}
		c, err := e.svc.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets"))
		if err != nil || c.PrincipalID != ci.ID {
			t.Fatalf("AuthenticateHotkey: got %+v, %v, want principal ci", c, err)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		_, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey)
		if coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Fatalf("got %v, want conflict", err)
		}
	})
	t.Run("List", func(t *testing.T) {
		if _, err := e.svc.RegisterHotkey(e.ctx, "", otherHotkey); err != nil {
			t.Fatal(err)
		}
		hs, err := e.svc.Hotkeys(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 2 || hs[0].SS58 != vectorHotkey || hs[1].SS58 != otherHotkey || hs[1].PrincipalID != root.PrincipalID {
			t.Fatalf("got %d hotkeys, want %s (ci) and %s (root)", len(hs), vectorHotkey, otherHotkey)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []string{"", "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnv", "0x44a996beb1eef7bdcab976ab6d2ca26104834164ecf28fb375600576fcc6eb0f", "alice"} {
			if _, err := e.svc.RegisterHotkey(e.ctx, "", bad); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("RegisterHotkey(%q): got %v, want invalid", bad, err)
			}
			if err := e.svc.RemoveHotkey(e.ctx, bad); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("RemoveHotkey(%q): got %v, want invalid", bad, err)
			}
		}
	})
	t.Run("ErrNotFoundPrincipal", func(t *testing.T) {
		const third = "5CwjKU4JAkqYLRp3DdFSFGpz6hQx6dkp6Y4UAZ8hkYNPD1e6"
		if _, err := e.svc.RegisterHotkey(e.ctx, coffer.NewID(), third); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("OtherAccount", func(t *testing.T) {
		acct, err := e.svc.CreateAccount(e.ctx, &coffer.AccountCreate{Name: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Authenticate(context.Background(), coffer.Credential{Token: acct.Token, RemoteIP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		actx := coffer.NewContext(context.Background(), c)
		if _, err := e.svc.RegisterHotkey(actx, "", vectorHotkey); coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Errorf("register another account's hotkey: got %v, want conflict", err)
		}
		if _, err := e.svc.RegisterHotkey(actx, ci.ID, "5CwjKU4JAkqYLRp3DdFSFGpz6hQx6dkp6Y4UAZ8hkYNPD1e6"); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Errorf("register for another account's principal: got %v, want not_found", err)
		}
		if hs, err := e.svc.Hotkeys(actx); err != nil || len(hs) != 0 {
			t.Errorf("Hotkeys of the other account: got %d, %v, want none", len(hs), err)
		}
		if err := e.svc.RemoveHotkey(actx, vectorHotkey); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Errorf("remove another account's hotkey: got %v, want not_found", err)
		}
		if _, err := e.svc.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets")); err != nil {
			t.Errorf("hotkey after the other account's attempts: %v", err)
		}
	})
	t.Run("ErrForbiddenExpiringKey", func(t *testing.T) {
		// An admin key that expires would otherwise make a credential that
		// never does.
		exp := e.clock.Now().Add(time.Hour)
		_, tok, err := e.svc.CreateAPIKey(e.ctx, &coffer.APIKeyCreate{Name: "short", Admin: true, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Authenticate(context.Background(), coffer.Credential{Token: tok, RemoteIP: "192.0.2.77"})
		if err != nil {
			t.Fatal(err)
		}
		const addr = "5CwjKU4JAkqYLRp3DdFSFGpz6hQx6dkp6Y4UAZ8hkYNPD1e6"
		if _, err := e.svc.RegisterHotkey(coffer.NewContext(context.Background(), c), "", addr); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Errorf("RegisterHotkey with an expiring admin key: got %v, want forbidden", err)
		}
		list, err := e.svc.Hotkeys(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range list {
			if h.SS58 == addr {
				t.Errorf("the refused hotkey was registered: %+v", h)
			}
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		// A context acting with a new key of the root principal that may
		// only read.
		_, token, err := e.svc.CreateAPIKey(e.ctx, &coffer.APIKeyCreate{Name: "scoped", Scopes: []coffer.Scope{{Actions: []coffer.Action{coffer.ActionRead}}}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Authenticate(e.ctx, coffer.Credential{Token: token, RemoteIP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		c.Face = "test"
		sctx := coffer.NewContext(context.Background(), c)
		if _, err := e.svc.RegisterHotkey(sctx, "", "5CwjKU4JAkqYLRp3DdFSFGpz6hQx6dkp6Y4UAZ8hkYNPD1e6"); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Errorf("RegisterHotkey with a scoped key: got %v, want forbidden", err)
		}
		if _, err := e.svc.Hotkeys(sctx); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Errorf("Hotkeys with a scoped key: got %v, want forbidden", err)
		}
		if err := e.svc.RemoveHotkey(sctx, vectorHotkey); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Errorf("RemoveHotkey with a scoped key: got %v, want forbidden", err)
		}
		if _, err := e.svc.Hotkeys(context.Background()); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Errorf("Hotkeys without a caller: got %v, want unauthorized", err)
		}
	})
	t.Run("HotkeyCallerIsAudited", func(t *testing.T) {
		c, err := e.svc.AuthenticateHotkey(context.Background(), e.proof(t, e.nowNonce(), "secrets"))
		if err != nil {
			t.Fatal(err)
		}
		c.Face = "chutes"
		if _, err := e.svc.CreateStore(coffer.NewContext(context.Background(), c), &coffer.StoreCreate{Name: "chutes"}); err != nil {
			t.Fatal(err)
		}
		page, err := e.svc.AuditEvents(e.ctx, coffer.AuditQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		last := page.Events[len(page.Events)-1]
		if last.Action != "store.create" || last.KeyID != "hotkey:"+vectorHotkey || last.PrincipalID != ci.ID {
			t.Fatalf("event: got %s by %s/%s, want store.create by hotkey:%s of ci", last.Action, last.PrincipalID, last.KeyID, vectorHotkey)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		if err := e.svc.RemoveHotkey(e.ctx, otherHotkey); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RemoveHotkey(e.ctx, otherHotkey); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("second remove: got %v, want not_found", err)
		}
		page, err := e.svc.AuditEvents(e.ctx, coffer.AuditQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var adds, removes int
		for _, ev := range page.Events {
			switch {
			case ev.Action == "hotkey.add" && ev.Outcome == "ok":
				adds++
			case ev.Action == "hotkey.remove" && ev.Outcome == "ok" && ev.Name == otherHotkey:
				removes++
			}
		}
		if adds != 2 || removes != 1 {
			t.Fatalf("audit: got %d hotkey.add and %d hotkey.remove of %s, want 2 and 1", adds, removes, otherHotkey)
		}
	})
}

// BenchmarkAuthenticateHotkey is the cost of one signed request's
// authentication: a cached hotkey, an sr25519 verification and the nonce's
// durable record, one caller at a time.
func BenchmarkAuthenticateHotkey(b *testing.B) {
	e := newHotkeyEnv(b)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		b.Fatal(err)
	}
	proofs := make([]coffer.HotkeyProof, b.N)
	for i := range proofs {
		proofs[i] = e.proof(b, e.nowNonce(), "secrets") // randomised: each is new
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := e.svc.AuthenticateHotkey(ctx, proofs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateHotkeyParallel is the same from 64 concurrent
// callers, whose nonce records share commits.
func BenchmarkAuthenticateHotkeyParallel(b *testing.B) {
	e := newHotkeyEnv(b)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		b.Fatal(err)
	}
	proofs := make(chan coffer.HotkeyProof, b.N)
	for range b.N {
		proofs <- e.proof(b, e.nowNonce(), "secrets")
	}
	ctx := context.Background()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.AuthenticateHotkey(ctx, <-proofs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// FuzzAuthenticateHotkey sends arbitrary X-Chutes-Hotkey, -Nonce and
// -Signature values and signed messages to the hotkey authenticator, with
// one hotkey registered. A proof passes only if its signature verifies
// over the message for that hotkey with a nonce in the window (the fuzzer
// cannot forge one, so only the seeds' can); every failure is
// EUNAUTHORIZED or ERATELIMIT.
func FuzzAuthenticateHotkey(f *testing.F) {
	e := newHotkeyEnv(f)
	if _, err := e.svc.RegisterHotkey(e.ctx, "", vectorHotkey); err != nil {
		f.Fatal(err)
	}
	good := e.proof(f, e.nowNonce(), "secrets")
	f.Add(good.Hotkey, good.Nonce, good.Signature, good.Message)
	f.Add(vectorHotkey, strconv.Itoa(testVectorNonce), testVectorSigHex, []byte(vectorHotkey+":"+strconv.Itoa(testVectorNonce)+":secrets"))
	f.Add(vectorHotkey, e.nowNonce(), strings.ToUpper(good.Signature), good.Message)
	f.Add(testHotkeyFormat0, e.nowNonce(), good.Signature, good.Message)
	f.Add(otherHotkey, e.nowNonce(), good.Signature, []byte(otherHotkey+":"+e.nowNonce()+":secrets"))
	f.Add(vectorHotkey, e.nowNonce(), "0x"+good.Signature, good.Message)
	f.Add(vectorHotkey, e.nowNonce(), good.Signature[:126], good.Message)
	f.Add(vectorHotkey, "-1", good.Signature, good.Message)
	f.Add("5", "", "", []byte(nil))
	f.Add("\xff", "99999999999999999999", "zz", []byte("\xff"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, hotkey, nonce, sig string, msg []byte) {
		p := coffer.HotkeyProof{Hotkey: hotkey, Nonce: nonce, Signature: sig, Message: msg, RemoteIP: nextFuzzIP()}
		c, err := e.svc.AuthenticateHotkey(ctx, p)
		if err == nil {
			pub, _, perr := sr25519.ParseAddress(hotkey)
			s, serr := sr25519.ParseSignatureHex(sig)
			if perr != nil || serr != nil || !pub.Verify(msg, s) || c.KeyID != "hotkey:"+vectorHotkey {
				t.Fatalf("AuthenticateHotkey(%q, %q, %q, %q) = %+v without a valid signature", hotkey, nonce, sig, msg, c)
			}
			return
		}
		switch code := coffer.ErrorCode(err); code {
		case coffer.EUNAUTHORIZED, coffer.ERATELIMIT:
		default:
			t.Fatalf("AuthenticateHotkey = %v (code %s), want unauthorized", err, code)
		}
		// The refusal may name the hotkey and the signed message (as
		// Chutes' does), never the signature.
		if len(sig) >= 16 && !strings.Contains(hotkey, sig) && !strings.Contains(string(msg), sig) &&
			strings.Contains(strings.ToLower(err.Error()), strings.ToLower(sig)) {
			t.Fatalf("the error quotes the signature: %v", err)
		}
	})
}
