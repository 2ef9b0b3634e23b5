package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetadata(t *testing.T) {
	for _, tc := range []struct {
		name    string
		protect bool
	}{
		{"protected", true},
		{"unprotected", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDemo(t, tc.protect)
			want := map[string]any{
				"issuer":                                d.issuer,
				"authorization_endpoint":                d.issuer + "/authorize",
				"token_endpoint":                        d.issuer + "/token",
				"pushed_authorization_request_endpoint": d.issuer + "/par",
				"require_pushed_authorization_requests": false,
				"jwks_uri":                              d.issuer + "/jwks.json",
				"response_types_supported":              []any{"code", "code id_token"},
				"response_modes_supported":              []any{"query", "fragment", "form_post"},
				"grant_types_supported":                 []any{"authorization_code", "refresh_token", "client_credentials"},
				"token_endpoint_auth_methods_supported": []any{"none", "client_secret_basic", "client_secret_post"},
				"subject_types_supported":               []any{"public"},
				"id_token_signing_alg_values_supported": []any{"ES256"},
				"scopes_supported":                      []any{"openid"},
				"claims_supported":                      []any{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "c_hash"},
			}
			if tc.protect {
				// Added by the middleware's Discovery wrapper, not by
				// the homegrown handler.
				want["code_challenge_methods_supported"] = []any{"S256"}
			}
			for _, path := range []string{pathOpenIDConf, pathOAuthServer} {
				resp := d.get(t, path, nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, path)
				require.Equal(t, "application/json", resp.Header.Get("Content-Type"), path)
				var got map[string]any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&got), path)
				assert.Equal(t, want, got, path)
				assert.False(t, strings.HasSuffix(got["issuer"].(string), "/"), "issuer has a trailing slash")
			}
		})
	}
}

func TestIDTokenFromTokenEndpoint(t *testing.T) {
	d := startDemo(t, true)
	verifier := pkce.GenerateVerifier()
	got := d.authorize(t, authorizeParams(verifier, "scope", "openid", "nonce", "n-0S6_WzA2Mj"))
	before := time.Now().Unix()
	resp, body := d.exchange(t, got.Get("code"), verifier)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "openid", body["scope"])
	idToken, ok := body["id_token"].(string)
	require.True(t, ok, "no id_token for scope openid: %v", body)

	header, claims := d.verifyIDToken(t, idToken)
	assert.Equal(t, "JWT", header["typ"])
	assert.Equal(t, d.issuer, claims["iss"])
	assert.Equal(t, demoSubject, claims["sub"])
	assert.Equal(t, demoApp, claims["aud"])
	assert.Equal(t, "n-0S6_WzA2Mj", claims["nonce"])
	assert.NotContains(t, claims, "c_hash", "c_hash belongs to ID tokens issued beside a code")
	iat, exp := int64(claims["iat"].(float64)), int64(claims["exp"].(float64))
	assert.InDelta(t, before, iat, 5)
	assert.Greater(t, exp, iat)
	assert.InDelta(t, before, claims["auth_time"], 5)

	// A tampered token must not verify: the check above can fail.
	parts := strings.Split(idToken, ".")
	forged, _ := json.Marshal(map[string]any{"iss": d.issuer, "sub": "admin", "aud": demoApp})
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	_, _, err := verifyJWS(d.jwk(t), tampered)
	assert.Error(t, err, "a tampered ID token verified")
	other := startDemo(t, true)
	_, _, err = verifyJWS(other.jwk(t), idToken)
	assert.Error(t, err, "an ID token verified against another server's key")
}

func TestNoIDTokenWithoutOpenIDScope(t *testing.T) {
	d := startDemo(t, true)
	verifier := pkce.GenerateVerifier()
	got := d.authorize(t, authorizeParams(verifier))
	resp, body := d.exchange(t, got.Get("code"), verifier)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.NotContains(t, body, "id_token")
	assert.NotContains(t, body, "scope")
	assert.Equal(t, "Bearer", body["token_type"])
	assert.Equal(t, float64(3600), body["expires_in"])
	assert.NotEmpty(t, body["refresh_token"])
}

func TestHybridFragment(t *testing.T) {
	d := startDemo(t, true)
	verifier := pkce.GenerateVerifier()
	q := authorizeParams(verifier, "response_type", "code id_token", "scope", "openid", "nonce", "abc")
	resp := d.get(t, pathAuthorize, q)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Empty(t, loc.RawQuery, "the code id_token response belongs in the fragment")
	got, err := url.ParseQuery(loc.Fragment)
	require.NoError(t, err)
	assert.Equal(t, "xyz", got.Get("state"))
	code := got.Get("code")
	require.NotEmpty(t, code)

	_, claims := d.verifyIDToken(t, got.Get("id_token"))
	sum := sha256.Sum256([]byte(code))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:16]), claims["c_hash"])
	assert.Equal(t, "abc", claims["nonce"])
	assert.Equal(t, demoApp, claims["aud"])

	// The middleware found the code in the fragment: a wrong verifier is
	// refused, and the code is then spent.
	tokResp, body := d.exchange(t, code, pkce.GenerateVerifier())
	assert.Equal(t, http.StatusBadRequest, tokResp.StatusCode)
	assert.Equal(t, "invalid_grant", body["error"])

	// A second hybrid code redeems with its verifier.
	got = d.authorize(t, q)
	tokResp, body = d.exchange(t, got.Get("code"), verifier)
	assert.Equal(t, http.StatusOK, tokResp.StatusCode, body)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

func TestFormPost(t *testing.T) {
	for _, tc := range []struct {
		name         string
		responseType string
		wantNames    []string
	}{
		{"code", "code", []string{"code", "state"}},
		{"code id_token", "code id_token", []string{"code", "id_token", "state"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDemo(t, true)
			verifier := pkce.GenerateVerifier()
			const state = `a"b<c>&d'e`
			q := authorizeParams(verifier, "response_type", tc.responseType, "response_mode", "form_post",
				"state", state, "scope", "openid", "redirect_uri", "http://[::1]:8000/callback?x=1")
			resp := d.get(t, pathAuthorize, q)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.Empty(t, resp.Header.Get("Location"))
			page := readAll(t, resp)
			assert.Contains(t, page, `<form method="post" action="http://[::1]:8000/callback?x=1">`)
			assert.Contains(t, page, `onload="document.forms[0].submit()"`)

			fields := map[string]string{}
			var names []string
			for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
				names = append(names, m[1])
				fields[m[1]] = html.UnescapeString(m[2])
			}
			assert.Equal(t, tc.wantNames, names)
			assert.Equal(t, state, fields["state"], "state must come back exactly")
			if tc.responseType == "code id_token" {
				_, claims := d.verifyIDToken(t, fields["id_token"])
				sum := sha256.Sum256([]byte(fields["code"]))
				assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:16]), claims["c_hash"])
			}

			// The middleware captured the code from the page.
			form := url.Values{"grant_type": {"authorization_code"}, "code": {fields["code"]},
				"redirect_uri": {"http://[::1]:8000/callback?x=1"}, "client_id": {demoApp}}
			tokResp, body := d.token(t, "", "", form)
			assert.Equal(t, http.StatusBadRequest, tokResp.StatusCode, "a form_post code redeemed without a verifier")
			assert.Equal(t, "invalid_grant", body["error"])
		})
	}
}

func TestAuthorizeState(t *testing.T) {
	d := startDemo(t, true)
	v := pkce.GenerateVerifier()
	got := d.authorize(t, authorizeParams(v, "state", ""))
	assert.NotEmpty(t, got.Get("code"))
	assert.NotContains(t, got, "state", "state without a state in the request")

	got = d.authorize(t, authorizeParams(v, "state", "a b+c/é"))
	assert.Equal(t, "a b+c/é", got.Get("state"))
}

func TestAuthorizeRedirectKeepsQuery(t *testing.T) {
	d := startDemo(t, false)
	resp := d.get(t, pathAuthorize, authorizeParams(pkce.GenerateVerifier(), "redirect_uri", "http://localhost:1234/callback?app=one"))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "localhost:1234", loc.Host)
	assert.Equal(t, "/callback", loc.Path)
	assert.Equal(t, "one", loc.Query().Get("app"))
	assert.NotEmpty(t, loc.Query().Get("code"))
}

func TestAuthorizePost(t *testing.T) {
	d := startDemo(t, true)
	verifier := pkce.GenerateVerifier()
	resp, err := d.client.PostForm(d.issuer+pathAuthorize, authorizeParams(verifier))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a POST authorization request is answered with 303 (RFC 9700 §4.11)")
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tokResp, body := d.exchange(t, loc.Query().Get("code"), verifier)
	assert.Equal(t, http.StatusOK, tokResp.StatusCode, body)
}

// TestAuthorizeNoRedirect: a request whose client or redirect URI is not
// valid gets a 400 page, never a redirect (RFC 6749 §4.1.2.1).
func TestAuthorizeNoRedirect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"no client_id", []string{"client_id", ""}},
		{"unknown client", []string{"client_id", "evil-app"}},
		{"unknown client, odd characters", []string{"client_id", "é\"\\\n" + strings.Repeat("x", 100)}},
		{"no redirect_uri", []string{"redirect_uri", ""}},
		{"https", []string{"redirect_uri", "https://127.0.0.1:5555/callback"}},
		{"not loopback", []string{"redirect_uri", "http://attacker.example/callback"}},
		{"loopback look-alike", []string{"redirect_uri", "http://127.0.0.1.attacker.example/callback"}},
		{"loopback look-alike prefix", []string{"redirect_uri", "http://evil127.0.0.1/callback"}},
		{"userinfo", []string{"redirect_uri", "http://127.0.0.1:80@attacker.example/callback"}},
		{"fragment", []string{"redirect_uri", "http://127.0.0.1:5555/callback#x"}},
		{"bad port", []string{"redirect_uri", "http://127.0.0.1:99999/callback"}},
		{"relative", []string{"redirect_uri", "/callback"}},
		{"other path", []string{"redirect_uri", "http://127.0.0.1:5555/cb"}},
		{"path below", []string{"redirect_uri", "http://127.0.0.1:5555/callback/evil"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, protect := range []bool{false, true} {
				d := startDemo(t, protect)
				resp := d.get(t, pathAuthorize, authorizeParams(pkce.GenerateVerifier(), tc.extra...))
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "protect=%v", protect)
				assert.Empty(t, resp.Header.Get("Location"), "protect=%v", protect)
				var body map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				assert.Equal(t, "invalid_request", body["error"])
				assertDescription(t, body["error_description"])
			}
		})
	}

	t.Run("html for a browser", func(t *testing.T) {
		d := startDemo(t, true)
		req, err := http.NewRequest(http.MethodGet, d.issuer+pathAuthorize+"?"+authorizeParams(pkce.GenerateVerifier(), "client_id", "<b>x").Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		resp, err := d.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		page := readAll(t, resp)
		assert.Contains(t, page, "unknown client_id")
		assert.NotContains(t, page, "<b>x", "the page must escape what the request sent")
	})
}

// TestAuthorizeRedirectErrors: with a valid client and redirect URI,
// errors go back to the client with state.
func TestAuthorizeRedirectErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		extra    []string
		wantErr  string
		fragment bool
	}{
		{"unsupported response_type", []string{"response_type", "token"}, "unsupported_response_type", true},
		{"unsupported code token", []string{"response_type", "code token"}, "unsupported_response_type", true},
		{"unknown response_type", []string{"response_type", "device"}, "unsupported_response_type", false},
		{"no response_type", []string{"response_type", ""}, "invalid_request", false},
		{"unknown response_mode", []string{"response_mode", "query.jwt"}, "invalid_request", false},
		{"odd response_mode", []string{"response_mode", "\"§\\"}, "invalid_request", false},
		{"hybrid in the query", []string{"response_type", "code id_token", "response_mode", "query"}, "invalid_request", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDemo(t, true)
			resp := d.get(t, pathAuthorize, authorizeParams(pkce.GenerateVerifier(), tc.extra...))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			params := loc.Query()
			if tc.fragment {
				params, err = url.ParseQuery(loc.Fragment)
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantErr, params.Get("error"))
			assertDescription(t, params.Get("error_description"))
			assert.Equal(t, "xyz", params.Get("state"))
			assert.Empty(t, params.Get("code"))
		})
	}
}

func TestCodeRules(t *testing.T) {
	t.Run("single use", func(t *testing.T) {
		for _, protect := range []bool{false, true} {
			d := startDemo(t, protect)
			v := pkce.GenerateVerifier()
			code := d.authorize(t, authorizeParams(v)).Get("code")
			resp, body := d.exchange(t, code, v)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			resp, body = d.exchange(t, code, v)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "invalid_grant", body["error"])
		}
	})
	t.Run("replay revokes the refresh tokens", func(t *testing.T) {
		d := startDemo(t, false) // the middleware would stop the replay first
		v := pkce.GenerateVerifier()
		code := d.authorize(t, authorizeParams(v)).Get("code")
		_, body := d.exchange(t, code, v)
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {demoApp}}
		resp, body := d.token(t, "", "", refresh)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		rotated := body["refresh_token"].(string)
		_, body = d.exchange(t, code, v)
		require.Equal(t, "invalid_grant", body["error"])
		refresh.Set("refresh_token", rotated)
		resp, body = d.token(t, "", "", refresh)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "invalid_grant", body["error"])
	})
	t.Run("bound to the client", func(t *testing.T) {
		d := startDemo(t, true)
		v := pkce.GenerateVerifier()
		code := d.authorize(t, authorizeParams(v)).Get("code")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirectURI}, "code_verifier": {v}}
		resp, body := d.token(t, demoService, demoSecret, form)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "invalid_grant", body["error"])
	})
	t.Run("bound to the redirect URI", func(t *testing.T) {
		for _, redirect := range []string{"", "http://127.0.0.1:5556/callback"} {
			d := startDemo(t, true)
			v := pkce.GenerateVerifier()
			code := d.authorize(t, authorizeParams(v)).Get("code")
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {demoApp}, "code_verifier": {v}}
			if redirect != "" {
				form.Set("redirect_uri", redirect)
			}
			resp, body := d.token(t, "", "", form)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "redirect_uri %q", redirect)
			assert.Equal(t, "invalid_grant", body["error"])
		}
	})
	t.Run("expires", func(t *testing.T) {
		d := startDemo(t, true)
		v := pkce.GenerateVerifier()
		code := d.authorize(t, authorizeParams(v)).Get("code")
		d.srv.mu.Lock()
		g := d.srv.codes[code]
		require.NotNil(t, g)
		assert.WithinDuration(t, time.Now().Add(codeLifetime), g.expires, 5*time.Second)
		g.expires = time.Now() // the code's lifetime has passed
		d.srv.mu.Unlock()
		resp, body := d.exchange(t, code, v)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "invalid_grant", body["error"])
		assert.Contains(t, body["error_description"], "expired")
	})
	t.Run("lifetime within the middleware TTL", func(t *testing.T) {
		assert.LessOrEqual(t, codeLifetime, pkce.DefaultTTL)
	})
}

func TestTokenClientAuthentication(t *testing.T) {
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}, "resource": {"https://api.example"}}
	with := func(extra ...string) url.Values {
		v := url.Values{}
		for k, vs := range cc {
			v[k] = vs
		}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name       string
		user, pass string
		form       url.Values
		wantStatus int
		wantErr    string
	}{
		{"basic form-encoded", "demo%2Dservice", "demo%2Dsecret", cc, 200, ""},
		{"basic plain", demoService, demoSecret, cc, 200, ""},
		{"client_secret_post", "", "", with("client_id", demoService, "client_secret", demoSecret), 200, ""},
		{"basic and matching body client_id", demoService, demoSecret, with("client_id", demoService), 200, ""},
		{"wrong secret", "demo%2Dservice", "nope", cc, 401, "invalid_client"},
		{"wrong secret in the body", "", "", with("client_id", demoService, "client_secret", "nope"), 401, "invalid_client"},
		{"no secret", "", "", with("client_id", demoService), 401, "invalid_client"},
		{"no client", "", "", cc, 401, "invalid_client"},
		{"unknown client", "stranger", "x", cc, 401, "invalid_client"},
		{"unknown client, odd characters", "%22%C2%A7%5C", "x", cc, 401, "invalid_client"},
		{"two methods", demoService, demoSecret, with("client_secret", demoSecret), 400, "invalid_request"},
		{"body client_id differs", demoService, demoSecret, with("client_id", demoApp), 400, "invalid_request"},
		{"public client", "", "", with("client_id", demoApp), 400, "unauthorized_client"},
		{"public client with a secret", demoApp, "x", cc, 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDemo(t, true)
			resp, body := d.token(t, tc.user, tc.pass, tc.form)
			require.Equal(t, tc.wantStatus, resp.StatusCode, body)
			if tc.wantErr == "" {
				assert.NotEmpty(t, body["access_token"])
				assert.Equal(t, "Bearer", body["token_type"])
				assert.Equal(t, float64(3600), body["expires_in"])
				assert.NotContains(t, body, "refresh_token", "client_credentials issues no refresh token (RFC 6749 §4.4.3)")
				return
			}
			assert.Equal(t, tc.wantErr, body["error"])
			assertDescription(t, body["error_description"])
			if resp.StatusCode == http.StatusUnauthorized {
				assert.Equal(t, `Basic realm="pkce-demo"`, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("authorization_code with basic demo%2Dservice", func(t *testing.T) {
		d := startDemo(t, true)
		v := pkce.GenerateVerifier()
		code := d.authorize(t, authorizeParams(v, "client_id", demoService)).Get("code")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirectURI}, "code_verifier": {v}}
		resp, body := d.token(t, "demo%2Dservice", "demo-secret", form)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.NotEmpty(t, body["refresh_token"])

		// demo-service authenticates for the refresh grant too.
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {demoService}}
		resp, body = d.token(t, "", "", refresh)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, "invalid_client", body["error"])
		resp, body = d.token(t, "demo%2Dservice", "demo-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": refresh["refresh_token"]})
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	})
}

func TestTokenGrants(t *testing.T) {
	d := startDemo(t, true)
	for _, tc := range []struct {
		name    string
		form    url.Values
		wantErr string
	}{
		{"no grant_type", url.Values{"client_id": {demoApp}}, "invalid_request"},
		{"unknown grant_type", url.Values{"client_id": {demoApp}, "grant_type": {"password"}}, "unsupported_grant_type"},
		{"unknown refresh token", url.Values{"client_id": {demoApp}, "grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "invalid_grant"},
		{"no refresh token", url.Values{"client_id": {demoApp}, "grant_type": {"refresh_token"}}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := d.token(t, "", "", tc.form)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, tc.wantErr, body["error"])
			assertDescription(t, body["error_description"])
		})
	}

	t.Run("refresh rotates and ignores extra parameters", func(t *testing.T) {
		v := pkce.GenerateVerifier()
		code := d.authorize(t, authorizeParams(v, "scope", "openid", "nonce", "n1")).Get("code")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirectURI},
			"client_id": {demoApp}, "code_verifier": {v}, "resource": {"https://a.example", "https://b.example"}, "nonce": {"x"}, "audience": {"y"}}
		resp, body := d.token(t, "", "", form)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		old := body["refresh_token"].(string)
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {demoApp}, "scope": {"openid"}}
		resp, body = d.token(t, "", "", refresh)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.NotEqual(t, old, body["refresh_token"])
		_, claims := d.verifyIDToken(t, body["id_token"].(string))
		assert.Equal(t, "n1", claims["nonce"])
		resp, body = d.token(t, "", "", refresh)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a rotated refresh token was accepted again")
		assert.Equal(t, "invalid_grant", body["error"])
	})

	t.Run("GET", func(t *testing.T) {
		for _, protect := range []bool{false, true} {
			d := startDemo(t, protect)
			q := url.Values{"grant_type": {"client_credentials"}, "client_id": {demoService}, "client_secret": {demoSecret}}
			resp := d.get(t, pathToken, q)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, "invalid_request", body["error"])
		}
	})

	t.Run("content types", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "application/json", "multipart/form-data; boundary=x", ""} {
			for _, protect := range []bool{false, true} {
				d := startDemo(t, protect)
				body := "grant_type=client_credentials&client_id=demo-service&client_secret=demo-secret"
				req, err := http.NewRequest(http.MethodPost, d.issuer+pathToken, strings.NewReader(body))
				require.NoError(t, err)
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				resp, err := d.client.Do(req)
				require.NoError(t, err)
				var got map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
				resp.Body.Close()
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%q protect=%v", ct, protect)
				assert.Equal(t, "invalid_request", got["error"], "%q protect=%v", ct, protect)
			}
		}
	})
}

func TestJWKS(t *testing.T) {
	d := startDemo(t, true)
	resp := d.get(t, pathJWKS, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	require.Len(t, set.Keys, 1)
	k := set.Keys[0]
	assert.Equal(t, "EC", k["kty"])
	assert.Equal(t, "P-256", k["crv"])
	assert.Equal(t, "ES256", k["alg"])
	assert.Equal(t, "sig", k["use"])
	// RFC 7638 thumbprint.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + k["x"] + `","y":"` + k["y"] + `"}`))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), k["kid"])
	assert.NotContains(t, k, "d", "the JWKS must not publish the private key")
}

// descriptionChars are the characters RFC 6749 §4.1.2.1 and §5.2 allow in
// error_description.
var descriptionChars = regexp.MustCompile(`^[\x20\x21\x23-\x5b\x5d-\x7e]+$`)

func assertDescription(t *testing.T, desc any) {
	t.Helper()
	s, _ := desc.(string)
	assert.Regexp(t, descriptionChars, s, "error_description")
}
