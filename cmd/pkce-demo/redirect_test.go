package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedirectURIAccepted: the clients' redirect URIs are http on a
// loopback host, any port, the path /callback (RFC 8252 §7.3), with any
// query the client adds, which the response keeps (RFC 6749 §3.1.2); the
// code is redeemed with the same redirect_uri.
func TestRedirectURIAccepted(t *testing.T) {
	for _, raw := range []string{
		"http://127.0.0.1:5555/callback",
		"http://127.0.0.1:1/callback",
		"http://127.0.0.1:65535/callback",
		"http://127.0.0.1/callback",
		"http://[::1]:8000/callback",
		"http://localhost:1234/callback",
		"http://localhost:1234/callback?app=one&x=%2F",
	} {
		t.Run(raw, func(t *testing.T) {
			require.NoError(t, checkRedirectURI(raw))
			for _, protect := range []bool{false, true} {
				d := startDemo(t, protect)
				v := pkce.GenerateVerifier()
				resp := d.get(t, pathAuthorize, authorizeParams(v, "redirect_uri", raw))
				require.Equal(t, http.StatusFound, resp.StatusCode, "protect=%v", protect)
				loc, err := url.Parse(resp.Header.Get("Location"))
				require.NoError(t, err)
				want, err := url.Parse(raw)
				require.NoError(t, err)
				assert.Equal(t, want.Scheme+"://"+want.Host+want.Path, loc.Scheme+"://"+loc.Host+loc.Path)
				for name, values := range want.Query() {
					assert.Equal(t, values, loc.Query()[name], "the client's query parameter %s", name)
				}
				code := loc.Query().Get("code")
				require.NotEmpty(t, code)
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {raw},
					"client_id": {demoApp}, "code_verifier": {v}}
				tokResp, body := d.token(t, "", "", form)
				assert.Equal(t, http.StatusOK, tokResp.StatusCode, "protect=%v: %v", protect, body)
			}
		})
	}
}

// TestRedirectURIRefused: host and path are compared exactly; only the
// port may vary. Another path, scheme or host (look-alikes included) is
// not registered, and the server refuses without redirecting
// (TestAuthorizeNoRedirect shows the 400 page).
func TestRedirectURIRefused(t *testing.T) {
	for _, raw := range []string{
		"",
		"/callback",
		"http://127.0.0.1:5555/",
		"http://127.0.0.1:5555",
		"http://127.0.0.1:5555/cb",
		"http://127.0.0.1:5555/callback/",
		"http://127.0.0.1:5555/callback/evil",
		"http://127.0.0.1:5555/callbackx",
		"http://127.0.0.1:5555/evil/callback",
		"http://127.0.0.1:5555/CALLBACK",
		"http://127.0.0.1:5555/%63allback",
		"http://127.0.0.1:5555/callback%2F..%2Fevil",
		"http://127.0.0.1:5555/callback#frag",
		"https://127.0.0.1:5555/callback",
		"ftp://127.0.0.1:5555/callback",
		"http://evil127.0.0.1:5555/callback",
		"http://evil.127.0.0.1:5555/callback",
		"http://127.0.0.1.evil.example:5555/callback",
		"http://evillocalhost:5555/callback",
		"http://localhost.evil.example/callback",
		"http://[::2]:5555/callback",
		"http://127.0.0.2:5555/callback",
		"http://127.0.0.1:5555@evil.example/callback",
		"http://127.0.0.1:0/callback",
		"http://127.0.0.1:99999/callback",
		"http://127.0.0.1:x/callback",
		"http:/callback",
		"http:127.0.0.1/callback",
	} {
		t.Run(raw, func(t *testing.T) {
			err := checkRedirectURI(raw)
			require.Error(t, err)
			assertDescription(t, err.Error())
		})
	}
}
