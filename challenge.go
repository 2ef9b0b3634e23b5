package pkce

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
)

// Method is a PKCE code challenge method (RFC 7636 §4.2), the value of the
// code_challenge_method parameter. Methods are case-sensitive: "s256" is not
// [S256].
type Method string

const (
	// S256 is the challenge method BASE64URL-NOPAD(SHA256(ASCII(verifier))).
	// It is the only method that does not expose the verifier (RFC 9700 §2.1.1).
	S256 Method = "S256"
	// Plain is the challenge method where the challenge is the verifier
	// itself. RFC 7636 §7.2: it exists only for clients that cannot compute
	// SHA-256, and a server accepts it only with [Config.AllowPlain].
	Plain Method = "plain"
)

// RFC 7636 §4.1: a verifier is 43 to 128 characters of [A-Za-z0-9-._~].
const (
	verifierMinLen = 43
	verifierMaxLen = 128
	// RFC 7636 §4.2 and Appendix A: an S256 challenge is the unpadded
	// base64url encoding of 32 bytes, always 43 characters.
	s256ChallengeLen = 43
)

// GenerateVerifier returns a new code_verifier: the base64url encoding, without
// padding, of 32 bytes from crypto/rand (43 characters, RFC 7636 §4.1 and
// §7.1). It is what a client sends at the token endpoint; the client sends
// [S256Challenge] of it at the authorization endpoint. Safe for concurrent
// use.
func GenerateVerifier() string {
	var b [32]byte
	// crypto/rand.Read never returns an error since Go 1.24: it crashes the
	// program irrecoverably rather than return fewer random bytes.
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// S256Challenge returns the S256 code_challenge of verifier:
// BASE64URL-NOPAD(SHA256(ASCII(verifier))) (RFC 7636 §4.2). Safe for
// concurrent use.
func S256Challenge(verifier string) string {
	var enc [s256ChallengeLen]byte
	s256Encode(&enc, verifier)
	return string(enc[:])
}

// ValidateVerifier reports whether verifier is a well-formed code_verifier
// (RFC 7636 §4.1): 43 to 128 characters, each one of A-Z a-z 0-9 - . _ ~.
// The error says what is wrong in words a client developer can act on.
// Safe for concurrent use.
func ValidateVerifier(verifier string) error {
	if n := len(verifier); n < verifierMinLen || n > verifierMaxLen {
		return fmt.Errorf("pkce: code_verifier must be 43 to 128 characters long, got %d", n)
	}
	if i := firstNotUnreserved(verifier); i >= 0 {
		return fmt.Errorf("pkce: code_verifier may contain only the characters A-Z a-z 0-9 - . _ ~; position %d is not one of them", i+1)
	}
	return nil
}

// validateChallenge checks a code_challenge for method as the authorization
// endpoint receives it. The method must already be known to be S256 or Plain.
func validateChallenge(method Method, challenge string) error {
	if method == Plain {
		// RFC 7636 §4.2: plain challenge = verifier, so it obeys §4.1.
		if n := len(challenge); n < verifierMinLen || n > verifierMaxLen {
			return fmt.Errorf("pkce: a plain code_challenge is the code_verifier itself and must be 43 to 128 characters long, got %d", n)
		}
		if i := firstNotUnreserved(challenge); i >= 0 {
			return fmt.Errorf("pkce: a plain code_challenge may contain only the characters A-Z a-z 0-9 - . _ ~; position %d is not one of them", i+1)
		}
		return nil
	}
	// RFC 7636 §4.2, Appendix A: 43 base64url characters, no padding. A hex
	// digest (64 characters) or a padded one (44, ending in '=') is a common
	// client bug that would otherwise fail only at the token endpoint.
	if n := len(challenge); n != s256ChallengeLen {
		return fmt.Errorf("pkce: an S256 code_challenge must be exactly 43 characters (base64url of the SHA-256 digest, no padding, not hex), got %d", n)
	}
	for i := 0; i < len(challenge); i++ {
		if base64URLValue[challenge[i]] < 0 {
			return fmt.Errorf("pkce: an S256 code_challenge may contain only the base64url characters A-Z a-z 0-9 - _; position %d is not one of them", i+1)
		}
	}
	// 43 characters carry 258 bits for a 256-bit digest: the last character
	// must leave its low two bits zero, or no SHA-256 digest encodes to it.
	if base64URLValue[challenge[s256ChallengeLen-1]]&3 != 0 {
		return fmt.Errorf("pkce: the S256 code_challenge is not the base64url encoding of a SHA-256 digest (its last character is impossible)")
	}
	return nil
}

// verify reports whether verifier matches challenge under method, in
// constant time for equal-length inputs (RFC 7636 §4.6). It does not
// allocate. The verifier must already have passed [ValidateVerifier].
func verify(method Method, challenge, verifier string) bool {
	switch method {
	case S256:
		if len(challenge) != s256ChallengeLen {
			return false
		}
		var got, want [s256ChallengeLen]byte
		s256Encode(&got, verifier)
		copy(want[:], challenge)
		return subtle.ConstantTimeCompare(got[:], want[:]) == 1
	case Plain:
		if len(challenge) != len(verifier) || len(verifier) > verifierMaxLen {
			return false
		}
		var got, want [verifierMaxLen]byte
		copy(got[:], verifier)
		copy(want[:], challenge)
		return subtle.ConstantTimeCompare(got[:len(verifier)], want[:len(challenge)]) == 1
	}
	return false
}

// s256Encode writes BASE64URL-NOPAD(SHA256(verifier)) into dst without
// allocating for any verifier of valid length.
func s256Encode(dst *[s256ChallengeLen]byte, verifier string) {
	var sum [sha256.Size]byte
	if len(verifier) <= verifierMaxLen {
		var buf [verifierMaxLen]byte
		n := copy(buf[:], verifier)
		sum = sha256.Sum256(buf[:n])
	} else {
		sum = sha256.Sum256([]byte(verifier))
	}
	base64.RawURLEncoding.Encode(dst[:], sum[:])
}

// firstNotUnreserved returns the index of the first byte of s that is not an
// RFC 3986 unreserved character (A-Z a-z 0-9 - . _ ~), or -1.
func firstNotUnreserved(s string) int {
	for i := 0; i < len(s); i++ {
		if !unreserved[s[i]] {
			return i
		}
	}
	return -1
}

var (
	// unreserved marks the bytes RFC 7636 §4.1 allows in a verifier.
	unreserved [256]bool
	// base64URLValue maps a byte to its base64url value, or -1.
	base64URLValue [256]int8
)

func init() {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range base64URLValue {
		base64URLValue[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		base64URLValue[alphabet[i]] = int8(i)
		unreserved[alphabet[i]] = true
	}
	unreserved['.'] = true
	unreserved['~'] = true
}
