package pkce

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SPEC.md test vectors.
var vectors = []struct{ name, verifier, challenge string }{
	{"RFC 7636 Appendix B", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
	{"OAuth 2.1 draft", "3641a2d12d66101249cdf7a79c000c1f8c05d2aafcf14bf146497bed", "6fdkQaPm51l13DSukcAH3Mdx7_ntecHYd1vi3n0hMZY"},
}

func TestS256ChallengeVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			assert.Equal(t, v.challenge, S256Challenge(v.verifier))
			assert.True(t, verify(S256, v.challenge, v.verifier))
			require.NoError(t, validateChallenge(S256, v.challenge))
		})
	}
}

func TestGenerateVerifier(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		v := GenerateVerifier()
		require.Len(t, v, 43)
		require.NoError(t, ValidateVerifier(v))
		require.False(t, seen[v], "verifier repeated")
		seen[v] = true
		require.NoError(t, validateChallenge(S256, S256Challenge(v)))
	}
}

func TestValidateVerifier(t *testing.T) {
	tests := []struct {
		name, verifier, wantErr string
	}{
		{"43 characters", strings.Repeat("a", 43), ""},
		{"128 characters", strings.Repeat("Z", 128), ""},
		{"every allowed character", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", ""},
		{"empty", "", "43 to 128 characters long, got 0"},
		{"42 characters", strings.Repeat("a", 42), "got 42"},
		{"129 characters", strings.Repeat("a", 129), "got 129"},
		{"plus sign", strings.Repeat("a", 42) + "+", "position 43"},
		{"slash", "/" + strings.Repeat("a", 42), "position 1"},
		{"padding", strings.Repeat("a", 42) + "=", "position 43"},
		{"space", strings.Repeat("a", 20) + " " + strings.Repeat("a", 22), "position 21"},
		{"non-ASCII", strings.Repeat("a", 41) + "é", "position 42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateVerifier(tt.verifier)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "pkce: "))
		})
	}
}

func TestValidateChallenge(t *testing.T) {
	good := S256Challenge(GenerateVerifier())
	tests := []struct {
		name      string
		method    Method
		challenge string
		wantErr   string
	}{
		{"S256", S256, good, ""},
		{"S256 hex digest", S256, strings.Repeat("ab", 32), "exactly 43 characters"},
		{"S256 padded", S256, good + "=", "got 44"},
		{"S256 42 characters", S256, good[:42], "got 42"},
		{"S256 standard base64", S256, "+" + good[1:], "base64url"},
		{"S256 impossible last character", S256, good[:42] + "B", "impossible"},
		{"plain 43", Plain, strings.Repeat("x", 43), ""},
		{"plain too short", Plain, "abc", "43 to 128"},
		{"plain bad character", Plain, strings.Repeat("x", 42) + "!", "position 43"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateChallenge(tt.method, tt.challenge)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestVerify(t *testing.T) {
	v := vectors[0]
	tests := []struct {
		name              string
		method            Method
		challenge, verify string
		want              bool
	}{
		{"S256 match", S256, v.challenge, v.verifier, true},
		{"S256 other verifier", S256, v.challenge, vectors[1].verifier, false},
		{"S256 verifier equal to challenge", S256, v.challenge, v.challenge, false},
		{"S256 short challenge", S256, v.challenge[:42], v.verifier, false},
		{"plain match", Plain, v.verifier, v.verifier, true},
		{"plain mismatch", Plain, v.verifier, vectors[1].verifier, false},
		{"plain prefix", Plain, v.verifier, v.verifier[:43], true},
		{"plain length differs", Plain, v.verifier + "a", v.verifier, false},
		{"unknown method", Method("S512"), v.challenge, v.verifier, false},
		{"case differs", Method("s256"), v.challenge, v.verifier, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, verify(tt.method, tt.challenge, tt.verify))
		})
	}
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	v := vectors[0]
	allocs := testing.AllocsPerRun(100, func() {
		if !verify(S256, v.challenge, v.verifier) || !verify(Plain, v.verifier, v.verifier) {
			t.Fatal("no match")
		}
	})
	assert.Zero(t, allocs)
}

func TestStoreKeyHidesCode(t *testing.T) {
	code := "SplxlOBeZQQYbYS6WxSbIA"
	key := storeKey(code)
	assert.Len(t, key, 43)
	assert.NotContains(t, key, code)
	assert.Equal(t, key, storeKey(code), "derivation is deterministic")
	assert.NotEqual(t, key, storeKey(code+"x"))
}

func BenchmarkVerify(b *testing.B) {
	v := vectors[0]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !verify(S256, v.challenge, v.verifier) {
			b.Fatal("no match")
		}
	}
}
