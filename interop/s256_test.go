package interop_test

import (
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/go-pkce/pkce"
	"golang.org/x/oauth2"
)

// TestS256MatchesOAuth2: pkce.S256Challenge computes what x/oauth2 sends
// as code_challenge, for the RFC vectors, for both libraries' generated
// verifiers, and for thousands of random verifiers of every valid length.
func TestS256MatchesOAuth2(t *testing.T) {
	check := func(v string) {
		t.Helper()
		if got, want := pkce.S256Challenge(v), oauth2.S256ChallengeFromVerifier(v); got != want {
			t.Fatalf("S256Challenge(%q) = %q; x/oauth2 computes %q", v, got, want)
		}
	}
	check(rfcVerifier)
	check(o21Verifier)
	if got := pkce.S256Challenge(rfcVerifier); got != rfcChallenge {
		t.Fatalf("RFC 7636 Appendix B: got %q", got)
	}
	for range 1000 {
		check(pkce.GenerateVerifier())
		check(oauth2.GenerateVerifier())
	}
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	for n := range 5000 {
		length := 43 + n%86 // every length from 43 to 128
		b := make([]byte, length)
		for i := range b {
			k, err := rand.Int(rand.Reader, big.NewInt(int64(len(unreserved))))
			if err != nil {
				t.Fatal(err)
			}
			b[i] = unreserved[k.Int64()]
		}
		v := string(b)
		if err := pkce.ValidateVerifier(v); err != nil {
			t.Fatalf("ValidateVerifier(%q): %v", v, err)
		}
		check(v)
	}
	// S256Challenge also hashes what is not a valid verifier, as x/oauth2 does.
	for n := range 500 {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		check(string(b))
	}
}
