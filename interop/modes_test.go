package interop_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"golang.org/x/oauth2"
)

// responseModes are the ways the homegrown server hands out a code: the
// Location query, the Location fragment (hybrid code id_token), and a
// form_post page, for both code and hybrid response types, by GET and POST.
var responseModes = []struct {
	name   string
	method string
	opts   []oauth2.AuthCodeOption
	// check verifies what the browser got besides the code.
	check func(t *testing.T, res authResult)
}{
	{"query", http.MethodGet, nil, func(t *testing.T, res authResult) {
		if res.status != http.StatusFound || !strings.HasPrefix(res.location, redirectURI+"?") {
			t.Errorf("status %d, Location %q; want 302 to the query", res.status, res.location)
		}
	}},
	{"query/POST", http.MethodPost, nil, func(t *testing.T, res authResult) {
		if res.status != http.StatusFound || !strings.HasPrefix(res.location, redirectURI+"?") {
			t.Errorf("status %d, Location %q; want 302 to the query", res.status, res.location)
		}
	}},
	{"fragment/code id_token", http.MethodGet, []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("response_type", "code id_token"),
		oauth2.SetAuthURLParam("nonce", "n-0S6_WzA2Mj"),
	}, func(t *testing.T, res authResult) {
		if res.status != http.StatusFound || !strings.HasPrefix(res.location, redirectURI+"#") || res.idToken == "" {
			t.Errorf("status %d, Location %q; want 302 with code and id_token in the fragment", res.status, res.location)
		}
	}},
	{"form_post", http.MethodGet, []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("response_mode", "form_post"),
	}, checkFormPost},
	{"form_post/POST", http.MethodPost, []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("response_mode", "form_post"),
	}, checkFormPost},
	{"form_post/code id_token", http.MethodGet, []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("response_type", "code id_token"),
		oauth2.SetAuthURLParam("response_mode", "form_post"),
		oauth2.SetAuthURLParam("nonce", "n-0S6_WzA2Mj"),
	}, func(t *testing.T, res authResult) {
		checkFormPost(t, res)
		if res.idToken == "" {
			t.Error("no id_token in the form_post page")
		}
	}},
}

func checkFormPost(t *testing.T, res authResult) {
	t.Helper()
	if res.status != http.StatusOK || res.location != "" || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Errorf("status %d, Location %q, Content-Type %q; want a 200 HTML page", res.status, res.location, res.header.Get("Content-Type"))
	}
	if !strings.Contains(res.body, `action="`+redirectURI+`"`) {
		t.Errorf("the page does not post to the redirect URI: %q", res.body)
	}
}

// TestResponseModes runs each response mode through the real HTTP stack:
// the code is bound wherever the server puts it, redeemed with the verifier,
// and refused with a wrong one.
func TestResponseModes(t *testing.T) {
	for _, mode := range responseModes {
		t.Run(mode.name, func(t *testing.T) {
			st := newNetHTTPStack(t, pkce.Config{})
			testResponseMode(t, st, mode.method, mode.opts, mode.check)
		})
	}
}

// testResponseMode is one flow in one response mode against st, whatever
// framework st runs: two authorizations, one redeemed with its verifier,
// one refused for a wrong verifier and burned by it.
func testResponseMode(t *testing.T, st *stack, method string, opts []oauth2.AuthCodeOption, check func(*testing.T, authResult)) {
	t.Helper()
	conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	authOpts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, opts...)

	res := mustAuthorize(t, method, conf.AuthCodeURL("st&é=1", authOpts...))
	check(t, res)
	if res.state != "st&é=1" {
		t.Errorf("state %q; want it back unchanged", res.state)
	}
	if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("Exchange with the verifier: %v", err)
	}

	res = mustAuthorize(t, method, conf.AuthCodeURL("s2", authOpts...))
	exchangeRefusal(t, conf, res.code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	exchangeRefusal(t, conf, res.code, oauth2.VerifierOption(verifier))
}
