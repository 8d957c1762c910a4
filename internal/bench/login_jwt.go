package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// setupJWT makes the trust configuration bench-jwt (an Ed25519 key given
// as a JWKS) and its role bench-login, signs one token valid for an hour,
// keeps the login's body, and checks that a login's token reads read-me.
// Every login verifies the signature and the claims afresh.
func (b *bench) setupJWT(ctx context.Context) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	enc := base64.RawURLEncoding
	const iss = "https://bench.coffer.invalid"
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "OKP", "crv": "Ed25519", "kid": "bench", "x": enc.EncodeToString(pub)}}})
	cfg, _ := json.Marshal(map[string]any{"name": "bench-jwt", "issuer": iss, "keys": string(jwks)})
	c := b.coffer
	if _, err := b.call(ctx, c, "POST", "/v1/jwt/configs", cfg, http.StatusCreated); err != nil {
		return err
	}
	role := []byte(`{"name":"bench-login","bound_subject":"bench","scopes":` + benchLoginScopes + `,"token_ttl":300}`)
	if _, err := b.call(ctx, c, "POST", "/v1/jwt/configs/bench-jwt/roles", role, http.StatusCreated); err != nil {
		return err
	}
	now := time.Now().Unix()
	h, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "JWT", "kid": "bench"})
	cl, _ := json.Marshal(map[string]any{"iss": iss, "sub": "bench", "iat": now, "exp": now + 3600})
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(cl)
	token := signed + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(signed)))
	b.jwtBody, _ = json.Marshal(map[string]string{"config": "bench-jwt", "role": "bench-login", "jwt": token})
	if err := b.checkLogin(ctx, b.jwtLogin()); err != nil {
		return fmt.Errorf("setup: jwt login: %w", err)
	}
	return nil
}

// jwtLogin is one JWT login request, without a key.
func (b *bench) jwtLogin() *http.Request {
	req := b.coffer.request("POST", "/v1/jwt/login", b.jwtBody)
	req.Header = http.Header{"Content-Type": {"application/json"}}
	return req
}
