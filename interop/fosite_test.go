package interop_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/ory/fosite"
	fositeoauth2 "github.com/ory/fosite/handler/oauth2"
	fositepkce "github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
)

// The differential check: the same PKCE inputs through the middleware
// (in front of the homegrown server, over real HTTP) and through
// github.com/ory/fosite's handler/pkce, whose outcomes must agree except
// where this file lists a deliberate difference and says why.

// attempt is one token request for the case's code. An empty verifier is
// no code_verifier (OAuth 2.1: an empty value counts as absent); an empty
// client is the client the code was issued to.
type attempt struct {
	verifier string
	client   string
}

type diffCase struct {
	name      string
	challenge string // "" sends no code_challenge
	method    string // "" sends no code_challenge_method
	attempts  []attempt
}

// Verifiers of the corpus.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	o21Verifier  = "3641a2d12d66101249cdf7a79c000c1f8c05d2aafcf14bf146497bed" // OAuth 2.1 draft
	o21Challenge = "6fdkQaPm51l13DSukcAH3Mdx7_ntecHYd1vi3n0hMZY"
	verifier43   = "Xq3_mT9-kLp2.Zr8~Wv4Nb6Hc1Yd5Fg7Jh0Ks2Lm4Pn"
	verifierB    = "B-other-verifier-of-another-authorization-0042"
)

var (
	verifier128 = strings.Repeat("a1B2-._~", 16)
	verifier42  = verifier43[:42]
	verifier129 = verifier128 + "x"
	// A verifier whose encoding is standard base64 with padding: '+', '/', '='.
	verifierStdB64 = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef!"))
	// Padded base64url of 32 bytes: 44 characters ending in '='.
	verifierPadded = base64.URLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	verifierSpace  = "with a space " + verifier43
	verifierUTF8   = "é" + verifier43
	// A valid verifier that is itself an S256 challenge (of verifier43).
	verifierIsChallenge = pkce.S256Challenge(verifier43)
)

func one(verifier string) []attempt { return []attempt{{verifier: verifier}} }

// s256Hex is the hex SHA-256 of v: a common client bug.
func s256Hex(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// impossibleLast changes the last character of an S256 challenge to one no
// SHA-256 digest encodes to (its low two bits set).
func impossibleLast(ch string) string { return ch[:42] + "B" }

var diffCorpus = []diffCase{
	// Valid.
	{"valid S256", pkce.S256Challenge(verifier43), "S256", one(verifier43)},
	{"RFC 7636 vector", rfcChallenge, "S256", one(rfcVerifier)},
	{"OAuth 2.1 vector", o21Challenge, "S256", one(o21Verifier)},
	{"128-character verifier", pkce.S256Challenge(verifier128), "S256", one(verifier128)},
	{"plain", verifier43, "plain", one(verifier43)},
	{"no method means plain", verifier43, "", one(verifier43)},
	{"S256 challenge sent as plain, verifier equals it", verifierIsChallenge, "plain", one(verifierIsChallenge)},

	// Verifiers that are not RFC 7636 §4.1 verifiers.
	{"short verifier (42)", pkce.S256Challenge(verifier42), "S256", one(verifier42)},
	{"long verifier (129)", pkce.S256Challenge(verifier129), "S256", one(verifier129)},
	{"standard base64 verifier (+ / =)", pkce.S256Challenge(verifierStdB64), "S256", one(verifierStdB64)},
	{"padded base64url verifier", pkce.S256Challenge(verifierPadded), "S256", one(verifierPadded)},
	{"verifier with a space", pkce.S256Challenge(verifierSpace), "S256", one(verifierSpace)},
	{"non-ASCII verifier", pkce.S256Challenge(verifierUTF8), "S256", one(verifierUTF8)},
	{"short plain challenge and verifier", "abc", "plain", one("abc")},
	{"plain challenge with bad characters", verifierSpace, "plain", one(verifierSpace)},

	// Challenges that are not S256 challenges.
	{"hex challenge", s256Hex(verifier43), "S256", one(verifier43)},
	{"padded challenge", pkce.S256Challenge(verifier43) + "=", "S256", one(verifier43)},
	{"challenge with an impossible last character", impossibleLast(pkce.S256Challenge(verifier43)), "S256", one(verifier43)},
	{"lower-case s256", pkce.S256Challenge(verifier43), "s256", one(verifier43)},
	{"unknown method", pkce.S256Challenge(verifier43), "S512", one(verifier43)},
	{"method without challenge", "", "S256", one("")},

	// Mismatches.
	{"verifier of another challenge", pkce.S256Challenge(verifier43), "S256", one(verifierB)},
	{"verifier equal to the S256 challenge", verifierIsChallenge, "S256", one(verifierIsChallenge)},
	{"plain verifier for an S256 challenge", pkce.S256Challenge(verifier43), "plain", one(verifier43)},
	{"challenge, no verifier", pkce.S256Challenge(verifier43), "S256", one("")},
	{"no challenge, verifier (downgrade)", "", "", one(verifier43)},
	{"no challenge, no verifier", "", "", one("")},
	{"redeemed by another client", pkce.S256Challenge(verifier43), "S256", []attempt{{verifier: verifier43, client: confidentialClient}}},

	// Retries on one code.
	{"right verifier twice (replay)", pkce.S256Challenge(verifier43), "S256", []attempt{{verifier: verifier43}, {verifier: verifier43}}},
	{"wrong verifier, then the right one", pkce.S256Challenge(verifier43), "S256", []attempt{{verifier: verifierB}, {verifier: verifier43}}},
	{"wrong verifier, then none", pkce.S256Challenge(verifier43), "S256", []attempt{{verifier: verifierB}, {}}},
	{"no verifier, then the right one", pkce.S256Challenge(verifier43), "S256", []attempt{{}, {verifier: verifier43}}},
}

// diffConfigs pair a middleware configuration with the fosite one that
// means the same.
var diffConfigs = []struct {
	name   string
	ours   pkce.Config
	fosite fosite.Config
}{
	{"S256 required", pkce.Config{}, fosite.Config{EnforcePKCE: true}},
	{"plain allowed", pkce.Config{AllowPlain: true}, fosite.Config{EnforcePKCE: true, EnablePKCEPlainChallengeMethod: true}},
	{"optional", pkce.Config{Require: func(*http.Request, string) bool { return false }}, fosite.Config{}},
}

// Outcomes, per request of a case.
const (
	authorizeRefused = "authorize refused"
	tokenIssued      = "token issued"
	tokenRefused     = "token refused"
)

// difference is a place where the middleware deliberately decides
// otherwise than fosite's handler/pkce.
type difference struct {
	caseName, config string
	ours, fosite     string
	why              string
}

// deliberateDifferences lists every difference the corpus shows, with the
// reason. A difference not listed here fails the test, and so does an entry
// that no longer differs.
var deliberateDifferences = []difference{
	// Refused earlier: the same final outcome, no token either way, but the
	// client developer learns what is wrong at the request that is wrong.
	{"hex challenge", "S256 required", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)",
		"an S256 challenge is exactly 43 base64url characters (RFC 7636 §4.2, Appendix A); fosite accepts any string and no verifier can ever match it, so the code is useless and the error comes one step late"},
	{"hex challenge", "plain allowed", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "as above"},
	{"hex challenge", "optional", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "as above"},
	{"padded challenge", "S256 required", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "a padded challenge is not an RFC 7636 Appendix A encoding (no padding); refused early, as the hex one"},
	{"padded challenge", "plain allowed", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "as above"},
	{"padded challenge", "optional", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "as above"},
	{"challenge with an impossible last character", "S256 required", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)",
		"43 base64url characters carry 258 bits; a last character with its low two bits set encodes no SHA-256 digest, so no verifier matches"},
	{"challenge with an impossible last character", "plain allowed", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "as above"},
	{"challenge with an impossible last character", "optional", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "as above"},
	{"short plain challenge and verifier", "plain allowed", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)",
		"a plain challenge is the verifier itself (RFC 7636 §4.2), so it must follow §4.1; fosite checks only the verifier, at the token endpoint"},
	{"plain challenge with bad characters", "plain allowed", "authorize refused (invalid_request)", "authorize ok; token refused (invalid_grant)", "as above"},

	// Refused where fosite lets the flow through.
	{"method without challenge", "optional", "authorize refused (invalid_request)", "authorize ok; token issued",
		"code_challenge_method without code_challenge is a malformed PKCE request (RFC 7636 §4.3); fosite drops it silently and issues a code without PKCE, so the client believes it is protected when it is not"},
	{"redeemed by another client", "S256 required", "authorize ok; token refused (invalid_grant)", "authorize ok; token issued",
		"the middleware binds the challenge to the client_id of the authorization request (DESIGN.md, Token 3); fosite checks the client in its authorize-code handler, not in handler/pkce, and a server behind the middleware may not check at all"},
	{"redeemed by another client", "plain allowed", "authorize ok; token refused (invalid_grant)", "authorize ok; token issued", "as above"},
	{"redeemed by another client", "optional", "authorize ok; token refused (invalid_grant)", "authorize ok; token issued", "as above"},
	{"wrong verifier, then none", "S256 required", "authorize ok; token refused (invalid_grant); token refused (invalid_grant)", "authorize ok; token refused (invalid_grant); token refused (invalid_request)",
		"both refuse the retry; fosite, having deleted the PKCE session, answers it as if the authorization request had carried no challenge (invalid_request, \"must include a code_challenge\"), which it did. The code is what is wrong: invalid_grant (RFC 6749 §5.2), saying it was already presented"},
	{"wrong verifier, then none", "plain allowed", "authorize ok; token refused (invalid_grant); token refused (invalid_grant)", "authorize ok; token refused (invalid_grant); token refused (invalid_request)", "as above"},
	{"wrong verifier, then none", "optional", "authorize ok; token refused (invalid_grant); token refused (invalid_grant)", "authorize ok; token refused (invalid_grant); token issued",
		"fosite deletes the PKCE session on a failed check but leaves the code valid, so a retry without a verifier finds no session and passes under an optional policy: PKCE is bypassed by failing it once. A code that failed its check is never redeemable here (ErrUsed)"},
}

// TestFositeDifferential runs the corpus through both and compares.
func TestFositeDifferential(t *testing.T) {
	listed := map[[2]string]difference{}
	for _, d := range deliberateDifferences {
		if _, dup := listed[[2]string{d.caseName, d.config}]; dup {
			t.Fatalf("difference %q under %q listed twice", d.caseName, d.config)
		}
		listed[[2]string{d.caseName, d.config}] = d
	}
	seen := map[[2]string]bool{}
	for _, cfg := range diffConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			st := newNetHTTPStack(t, cfg.ours)
			fc := cfg.fosite
			for _, tc := range diffCorpus {
				t.Run(tc.name, func(t *testing.T) {
					ours := ourOutcome(t, st, tc)
					theirs := fositeOutcome(t, &fc, tc)
					key := [2]string{tc.name, cfg.name}
					seen[key] = true
					d, isListed := listed[key]
					switch {
					case ours == theirs && isListed:
						t.Errorf("listed as a difference, but both now: %s", ours)
					case ours != theirs && !isListed:
						t.Errorf("unlisted difference:\n  ours:   %s\n  fosite: %s", ours, theirs)
					case ours != theirs && (d.ours != ours || d.fosite != theirs):
						t.Errorf("the difference changed:\n  ours:   %s (listed %s)\n  fosite: %s (listed %s)", ours, d.ours, theirs, d.fosite)
					}
				})
			}
		})
	}
	for key := range listed {
		if !seen[key] {
			t.Errorf("difference for %q under %q names no case of the corpus", key[0], key[1])
		}
	}
}

// ourOutcome runs tc through the middleware and the homegrown server.
func ourOutcome(t *testing.T, st *stack, tc diffCase) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {publicClient}, "redirect_uri": {redirectURI}, "state": {"s"}}
	if tc.challenge != "" {
		q.Set("code_challenge", tc.challenge)
	}
	if tc.method != "" {
		q.Set("code_challenge_method", tc.method)
	}
	res := doAuthorize(t, http.MethodGet, st.url("/authorize?"+q.Encode()))
	if res.code == "" {
		return authorizeRefused + " (" + refusalCode(t, res.status, res.body) + ")"
	}
	out := []string{"authorize ok"}
	for _, a := range tc.attempts {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {res.code}, "redirect_uri": {redirectURI}, "client_id": {publicClient}}
		if a.verifier != "" {
			form.Set("code_verifier", a.verifier)
		}
		if a.client == confidentialClient {
			form.Set("client_id", confidentialClient)
			form.Set("client_secret", confidentialSecret)
		}
		resp := postForm(t, st.url("/token"), form, nil)
		if resp.StatusCode == http.StatusOK {
			out = append(out, tokenIssued)
			continue
		}
		out = append(out, tokenRefused+" ("+readRefusal(t, resp).Error+")")
	}
	return strings.Join(out, "; ")
}

func refusalCode(t *testing.T, status int, body string) string {
	t.Helper()
	var r oauthRefusal
	if status != http.StatusBadRequest || !strings.HasPrefix(body, "{") {
		t.Fatalf("authorize answered %d %q: neither a code nor an OAuth refusal", status, body)
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return r.Error
}

// fositeOutcome runs tc through fosite's handler/pkce, as fosite's compose
// wires it: the authorize endpoint handler after the code is minted, the
// token endpoint handler for each attempt.
func fositeOutcome(t *testing.T, cfg *fosite.Config, tc diffCase) string {
	t.Helper()
	ctx := context.Background()
	h := &fositepkce.Handler{
		AuthorizeCodeStrategy: codeSignature{},
		Storage:               storage.NewMemoryStore(),
		Config:                cfg,
	}
	client := &fosite.DefaultClient{ID: publicClient, Public: true}

	ar := fosite.NewAuthorizeRequest()
	ar.Client = client
	ar.ResponseTypes = fosite.Arguments{"code"}
	if tc.challenge != "" {
		ar.Form.Set("code_challenge", tc.challenge)
	}
	if tc.method != "" {
		ar.Form.Set("code_challenge_method", tc.method)
	}
	code := randomToken()
	resp := fosite.NewAuthorizeResponse()
	resp.AddParameter("code", code)
	if err := h.HandleAuthorizeEndpointRequest(ctx, ar, resp); err != nil {
		return authorizeRefused + " (" + fositeErrorCode(t, err) + ")"
	}
	out := []string{"authorize ok"}
	for _, a := range tc.attempts {
		req := fosite.NewAccessRequest(&fosite.DefaultSession{})
		req.GrantTypes = fosite.Arguments{"authorization_code"}
		req.Client = client
		if a.client == confidentialClient {
			req.Client = &fosite.DefaultClient{ID: confidentialClient}
		}
		req.Form.Set("code", code)
		if a.verifier != "" {
			req.Form.Set("code_verifier", a.verifier)
		}
		if err := h.HandleTokenEndpointRequest(ctx, req); err != nil {
			out = append(out, tokenRefused+" ("+fositeErrorCode(t, err)+")")
			continue
		}
		out = append(out, tokenIssued)
	}
	return strings.Join(out, "; ")
}

func fositeErrorCode(t *testing.T, err error) string {
	t.Helper()
	var re *fosite.RFC6749Error
	if !errors.As(err, &re) {
		t.Fatalf("fosite returned %T %v, not an RFC 6749 error", err, err)
	}
	return re.ErrorField
}

// codeSignature is the AuthorizeCodeStrategy handler/pkce needs: it only
// derives the storage key of a code.
type codeSignature struct {
	fositeoauth2.AuthorizeCodeStrategy
}

func (codeSignature) AuthorizeCodeSignature(_ context.Context, code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}
