package interop_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"golang.org/x/oauth2"
)

var authStyles = []struct {
	name   string
	style  oauth2.AuthStyle
	client string
}{
	{"InParams/public", oauth2.AuthStyleInParams, publicClient},
	{"InParams/confidential", oauth2.AuthStyleInParams, confidentialClient},
	{"InHeader/public", oauth2.AuthStyleInHeader, publicClient},
	{"InHeader/confidential", oauth2.AuthStyleInHeader, confidentialClient},
	{"AutoDetect/confidential", oauth2.AuthStyleAutoDetect, confidentialClient},
}

// TestOAuth2Exchange runs the authorization code flow of x/oauth2 against
// the middleware: S256ChallengeOption at authorize, VerifierOption at the
// token endpoint, in every way x/oauth2 authenticates the client.
func TestOAuth2Exchange(t *testing.T) {
	for _, tc := range authStyles {
		t.Run(tc.name, func(t *testing.T) {
			st := newNetHTTPStack(t, pkce.Config{})
			conf := oauthConfig(st, tc.client, tc.style)
			verifier := oauth2.GenerateVerifier()
			res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
			if res.status != http.StatusFound || res.state != "st-1" {
				t.Fatalf("authorize: status %d, state %q; want 302 with state st-1", res.status, res.state)
			}
			tok, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if !strings.HasPrefix(tok.AccessToken, "at-") || tok.RefreshToken == "" {
				t.Fatalf("token = %+v", tok)
			}
			seen := st.lastTokenRequest(t)
			if seen.form["code_verifier"] != verifier || seen.form["code"] != res.code {
				t.Errorf("the server saw code %q verifier %q", seen.form["code"], seen.form["code_verifier"])
			}
			if seen.body != st.tap.last(t) {
				t.Errorf("the handler read body %q; the client sent %q", seen.body, st.tap.last(t))
			}
		})
	}
}

// TestOAuth2VerifierFromPKCE mixes the two libraries: a verifier from
// pkce.GenerateVerifier with x/oauth2's challenge, and the reverse.
func TestOAuth2VerifierFromPKCE(t *testing.T) {
	st := newNetHTTPStack(t, pkce.Config{})
	conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
	v1 := pkce.GenerateVerifier()
	res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v1)))
	if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(v1)); err != nil {
		t.Fatalf("pkce verifier, oauth2 challenge: %v", err)
	}
	v2 := oauth2.GenerateVerifier()
	res = mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s",
		oauth2.SetAuthURLParam("code_challenge", pkce.S256Challenge(v2)),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")))
	if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(v2)); err != nil {
		t.Fatalf("oauth2 verifier, pkce challenge: %v", err)
	}
}

// TestOAuth2WrongVerifier: a wrong verifier is a *oauth2.RetrieveError
// invalid_grant with a description, and burns the code: neither the right
// verifier nor no verifier redeems it afterwards, although the homegrown
// server itself still holds the code as valid.
func TestOAuth2WrongVerifier(t *testing.T) {
	for _, tc := range authStyles {
		t.Run(tc.name, func(t *testing.T) {
			st := newNetHTTPStack(t, pkce.Config{})
			conf := oauthConfig(st, tc.client, tc.style)
			verifier := oauth2.GenerateVerifier()
			res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))

			re := exchangeRefusal(t, conf, res.code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			if tc.style != oauth2.AuthStyleAutoDetect && !strings.Contains(re.ErrorDescription, "code_verifier does not match") {
				t.Errorf("description %q does not say the verifier does not match", re.ErrorDescription)
			}
			// AutoDetect retries a failed header attempt in the body: that
			// second attempt finds the code already presented.
			if tc.style == oauth2.AuthStyleAutoDetect && !strings.Contains(re.ErrorDescription, "already presented") {
				t.Errorf("AutoDetect description %q: want the retry to find the code used", re.ErrorDescription)
			}
			exchangeRefusal(t, conf, res.code, oauth2.VerifierOption(verifier))
			exchangeRefusal(t, conf, res.code)
			if n := len(st.tokens()); n != 0 {
				t.Errorf("%d token requests reached the server; want none", n)
			}
		})
	}
}

// TestOAuth2MissingVerifier: a code issued for a challenge is not redeemed
// without the verifier.
func TestOAuth2MissingVerifier(t *testing.T) {
	st := newNetHTTPStack(t, pkce.Config{})
	conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
	res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	re := exchangeRefusal(t, conf, res.code)
	if !strings.Contains(re.ErrorDescription, "code_verifier is missing") {
		t.Errorf("description %q", re.ErrorDescription)
	}
}

// TestOAuth2NoChallenge: without S256ChallengeOption the authorization
// request is refused with a 400 that says what to send (the default policy
// requires PKCE); under an optional policy the flow runs without PKCE, and a
// verifier sent for a code issued without a challenge is the downgrade
// RFC 9700 §4.8.2 refuses.
func TestOAuth2NoChallenge(t *testing.T) {
	t.Run("required", func(t *testing.T) {
		st := newNetHTTPStack(t, pkce.Config{})
		conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
		resp, err := browser.Get(conf.AuthCodeURL("s"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := readRefusal(t, resp)
		if r.Status != http.StatusBadRequest || r.Error != "invalid_request" || !strings.Contains(r.Description, "code challenge required") {
			t.Fatalf("got %+v; want 400 invalid_request, code challenge required", r)
		}
	})
	t.Run("optional", func(t *testing.T) {
		st := newNetHTTPStack(t, pkce.Config{Require: func(*http.Request, string) bool { return false }})
		conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
		res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s"))
		re := exchangeRefusal(t, conf, res.code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if !strings.Contains(re.ErrorDescription, "no code_challenge was recorded") {
			t.Errorf("downgrade description %q", re.ErrorDescription)
		}
		// The code was never bound to a challenge: the refused downgrade
		// leaves it as the server issued it, redeemable without PKCE under
		// this policy.
		if _, err := conf.Exchange(context.Background(), res.code); err != nil {
			t.Fatalf("exchange without PKCE under an optional policy: %v", err)
		}
	})
}

// TestOAuth2Refresh: a refresh through x/oauth2's TokenSource passes the
// middleware untouched: the handler reads the very bytes the client sent,
// and the parameters through r.FormValue.
func TestOAuth2Refresh(t *testing.T) {
	for _, tc := range authStyles {
		t.Run(tc.name, func(t *testing.T) {
			st := newNetHTTPStack(t, pkce.Config{})
			conf := oauthConfig(st, tc.client, tc.style)
			verifier := oauth2.GenerateVerifier()
			res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
			tok, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			expired := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			fresh, err := conf.TokenSource(context.Background(), expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh returned the old tokens")
			}
			seen := st.lastTokenRequest(t)
			if seen.grant != "refresh_token" || seen.form["refresh_token"] != tok.RefreshToken {
				t.Fatalf("the server saw %+v", seen)
			}
			sent := st.tap.last(t)
			if seen.body != sent {
				t.Errorf("the handler read body %q; the client sent %q", seen.body, sent)
			}
			want, err := url.ParseQuery(sent)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range want {
				if seen.form[k] != vs[0] {
					t.Errorf("r.FormValue(%q) = %q; the client sent %q", k, seen.form[k], vs[0])
				}
			}
		})
	}
}
