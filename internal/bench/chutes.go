package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/sr25519"
)

// setupChutes creates the secret the Chutes scenarios read, registers a new
// hotkey to the admin's principal and signs enough requests for both the
// warmup and the measured run.
func (b *bench) setupChutes(ctx context.Context) error {
	c := b.coffer
	body, err := b.call(ctx, c, "POST", "/chutes/secrets/", []byte(`{"purpose":"bench","key":"READ_ME","value":"`+benchValue+`"}`), http.StatusOK)
	if err != nil {
		return err
	}
	var created struct {
		SecretID string `json:"secret_id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.SecretID == "" {
		return fmt.Errorf("setup: chutes secret reply without an id: %s", body)
	}
	b.chPath = "/chutes/secrets/" + created.SecretID
	if body, err = b.call(ctx, c, "GET", b.chPath, nil, http.StatusOK); err != nil {
		return err
	}
	if err := benchCheckChutes(body); err != nil {
		return err
	}
	b.chLen = len(body)

	var seed [sr25519.SeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	priv, err := sr25519.NewPrivateKeyFromSeed(seed)
	if err != nil {
		return err
	}
	hotkey := priv.Public().Address(42)
	if _, err := b.call(ctx, c, "POST", "/v1/hotkeys", []byte(`{"hotkey":"`+hotkey+`"}`), http.StatusCreated); err != nil {
		return err
	}
	// Enough signatures for 20,000 requests/s: more than this machine
	// serves; past them, the scenario signs as it goes.
	n := int((b.cfg.Duration+b.cfg.Warmup).Seconds()*20000) + 1000
	start := time.Now()
	b.chSigs = newBenchSigs(priv, hotkey, "secrets", n)
	fmt.Fprintf(b.log, "setup: %d signed Chutes requests in %v\n", n, time.Since(start).Round(time.Millisecond))
	// The first signed request proves the hotkey works before the run.
	req := c.request("GET", b.chPath, nil).WithContext(ctx)
	req.Header = b.chSigs.next()
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("setup: signed chutes read: status %d", resp.StatusCode)
	}
	return nil
}

// benchCheckChutes checks the Chutes face's reply to a read of the bench
// secret: its metadata, never its value.
func benchCheckChutes(body []byte) error {
	var r struct {
		SecretID string `json:"secret_id"`
		Key      string `json:"key"`
		Value    string `json:"value"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("chutes reply: %w", err)
	}
	if r.SecretID == "" || r.Key != "READ_ME" || r.Value != "" {
		return fmt.Errorf("chutes reply: got secret_id %q, key %q, a value %v; want the secret READ_ME and no value", r.SecretID, r.Key, r.Value != "")
	}
	return nil
}

// benchSigs hands out signed request headers, each once: the server
// refuses a replayed nonce and signature. The signatures are made before
// the run and kept without pointers, so that the load generator's garbage
// collector does not scan them while it measures.
type benchSigs struct {
	priv            *sr25519.PrivateKey
	hotkey, purpose string
	pool            []benchSig
	used            atomic.Int64
}

type benchSig struct {
	nonce int64
	sig   sr25519.Signature
}

// newBenchSigs signs n requests over all CPUs.
func newBenchSigs(priv *sr25519.PrivateKey, hotkey, purpose string, n int) *benchSigs {
	s := &benchSigs{priv: priv, hotkey: hotkey, purpose: purpose, pool: make([]benchSig, n)}
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				s.pool[i] = s.sign()
			}
		})
	}
	wg.Wait()
	return s
}

// next returns headers never handed out before.
func (s *benchSigs) next() http.Header {
	sg := benchSig{}
	if i := s.used.Add(1) - 1; i < int64(len(s.pool)) {
		sg = s.pool[i]
	} else {
		sg = s.sign()
	}
	return http.Header{
		"X-Chutes-Hotkey":    {s.hotkey},
		"X-Chutes-Nonce":     {strconv.FormatInt(sg.nonce, 10)},
		"X-Chutes-Signature": {hex.EncodeToString(sg.sig[:])},
	}
}

// sign signs "{hotkey}:{now}:{purpose}" as Chutes' client does.
func (s *benchSigs) sign() benchSig {
	nonce := time.Now().Unix()
	sig, err := s.priv.Sign([]byte(s.hotkey + ":" + strconv.FormatInt(nonce, 10) + ":" + s.purpose))
	if err != nil {
		panic("sr25519 sign: " + err.Error())
	}
	return benchSig{nonce, sig}
}
