package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// signer signs ID tokens with ES256 (RFC 7518 §3.4) and publishes its public
// key as a JWK Set (RFC 7517). The key is generated at start and lives only
// in memory: tokens of a previous run do not verify.
type signer struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks []byte // the JWK Set served at jwks_uri
}

// jwk is the public half of a P-256 key as RFC 7518 §6.2.1 encodes it.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func newSigner() (*signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the ID token key: %w", err)
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, fmt.Errorf("encode the ID token key: %w", err)
	}
	// Uncompressed point: 0x04 || X || Y, each coordinate 32 bytes.
	point := pub.Bytes()
	x := b64(point[1:33])
	y := b64(point[33:65])
	// RFC 7638: the key ID is the JWK thumbprint, the SHA-256 of the
	// required members in lexicographic order, without white space.
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	s := &signer{key: key, kid: b64(thumb[:])}
	s.jwks, err = json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{[]jwk{{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: s.kid, Alg: "ES256", Use: "sig"}}})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// idClaims are the claims of an ID token (OpenID Connect Core §2).
type idClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	// AuthTime is when the user consented: strict clients require it when
	// they sent max_age (OpenID Connect Core §2).
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
	// CHash is the code hash of an ID token issued beside a code in the
	// authorization response (OpenID Connect Core §3.3.2.11).
	CHash string `json:"c_hash,omitempty"`
}

// sign returns the compact JWS (RFC 7515 §7.1) of claims.
func (s *signer) sign(claims idClaims) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}{"ES256", "JWT", s.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign the ID token: %w", err)
	}
	// RFC 7518 §3.4: the JWS signature is R || S, each a 32-byte big-endian
	// integer, not the ASN.1 DER encoding crypto/ecdsa uses elsewhere.
	var sig [64]byte
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + b64(sig[:]), nil
}

// codeHash is the c_hash of code for ES256: the base64url encoding of the
// left half of its SHA-256 (OpenID Connect Core §3.3.2.11).
func codeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return b64(sum[:len(sum)/2])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
