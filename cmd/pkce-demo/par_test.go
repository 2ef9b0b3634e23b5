package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// push posts form to /par, with HTTP Basic user:pass unless user is "".
func (d *demoServer) push(t *testing.T, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.issuer+pathPAR, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	resp, err := d.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	return resp.StatusCode, body
}

// TestPAR: the demo's /par (DESIGN.md, Demo server additions): the same
// clients and client authentication as /token, 201 with a urn request_uri
// and expires_in 60, single use at code issuance; wrapped, a pushed
// challenge is enforced at the token endpoint.
func TestPAR(t *testing.T) {
	for _, tt := range []struct {
		name       string
		user, pass string
		client     string
		form       func(url.Values)
	}{
		{"demo-app", "", "", demoApp, func(url.Values) {}},
		{"demo-service, Basic form-encoded", "demo%2Dservice", demoSecret, demoService, func(f url.Values) { f.Del("client_id") }},
		{"demo-service, body credentials", "", "", demoService, func(f url.Values) { f.Set("client_id", demoService); f.Set("client_secret", demoSecret) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, true)
			v := pkce.GenerateVerifier()
			form := authorizeParams(v)
			tt.form(form)
			status, body := d.push(t, tt.user, tt.pass, form)
			require.Equal(t, http.StatusCreated, status, "%v", body)
			uri, _ := body["request_uri"].(string)
			assert.True(t, strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:"), uri)
			assert.Equal(t, 60.0, body["expires_in"])

			q := url.Values{"client_id": {tt.client}, "request_uri": {uri}}
			got := d.authorize(t, q)
			assert.Equal(t, "xyz", got.Get("state"))
			code := got.Get("code")
			require.NotEmpty(t, code)
			resp := d.get(t, pathAuthorize, q)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a request_uri is single use")

			redeem := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirectURI}, "code_verifier": {pkce.GenerateVerifier()}}
			if tt.client == demoApp {
				redeem.Set("client_id", demoApp)
			}
			user, pass := "", ""
			if tt.client == demoService {
				user, pass = demoService, demoSecret
			}
			resp, tok := d.token(t, user, pass, redeem)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a wrong verifier: %v", tok)

			// The right verifier, on a fresh push.
			status, body = d.push(t, tt.user, tt.pass, form)
			require.Equal(t, http.StatusCreated, status)
			code = d.authorize(t, url.Values{"client_id": {tt.client}, "request_uri": {body["request_uri"].(string)}}).Get("code")
			redeem.Set("code", code)
			redeem.Set("code_verifier", v)
			resp, tok = d.token(t, user, pass, redeem)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "%v", tok)
			assert.NotEmpty(t, tok["access_token"])
		})
	}
}

func TestPARRefusals(t *testing.T) {
	d := startDemo(t, true)
	v := pkce.GenerateVerifier()
	for _, tt := range []struct {
		name       string
		user, pass string
		form       url.Values
		status     int
		errCode    string
	}{
		{"no challenge (the middleware)", "", "", authorizeParams(v, "code_challenge", "", "code_challenge_method", ""), http.StatusBadRequest, "invalid_request"},
		{"wrong secret (the server)", demoService, "nope", authorizeParams(v, "client_id", ""), http.StatusUnauthorized, "invalid_client"},
		{"unknown client (the server)", "", "", authorizeParams(v, "client_id", "other"), http.StatusUnauthorized, "invalid_client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := d.push(t, tt.user, tt.pass, tt.form)
			assert.Equal(t, tt.status, status, "%v", body)
			assert.Equal(t, tt.errCode, body["error"])
			assert.Nil(t, body["request_uri"])
		})
	}
	t.Run("another client's request_uri", func(t *testing.T) {
		status, body := d.push(t, "", "", authorizeParams(v))
		require.Equal(t, http.StatusCreated, status)
		resp := d.get(t, pathAuthorize, url.Values{"client_id": {demoService}, "request_uri": {body["request_uri"].(string)}})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

// TestPARUnprotected: the bare server serves /par too, without PKCE.
func TestPARUnprotected(t *testing.T) {
	d := startDemo(t, false)
	status, body := d.push(t, "", "", authorizeParams("", "code_challenge", "", "code_challenge_method", ""))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	code := d.authorize(t, url.Values{"client_id": {demoApp}, "request_uri": {body["request_uri"].(string)}}).Get("code")
	resp, tok := d.exchange(t, code, "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%v", tok)
}
