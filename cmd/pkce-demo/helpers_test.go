package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/require"
)

const testRedirectURI = "http://127.0.0.1:5555/callback"

// demoServer is the demo server running behind a real HTTP server.
type demoServer struct {
	*httptest.Server
	srv    *server
	issuer string
	client *http.Client // does not follow redirects
}

func startDemo(t *testing.T, protect bool) *demoServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	s, err := newServer(issuer)
	require.NoError(t, err)
	h, err := s.handler(protect, nil)
	require.NoError(t, err)
	ts.Config.Handler = h
	ts.Start()
	t.Cleanup(ts.Close)
	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &demoServer{Server: ts, srv: s, issuer: issuer, client: client}
}

// authorizeParams returns a demo-app authorization request with an S256
// challenge of verifier; extra pairs override or add parameters ("" value:
// removed).
func authorizeParams(verifier string, extra ...string) url.Values {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {demoApp},
		"redirect_uri":          {testRedirectURI},
		"state":                 {"xyz"},
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q
}

func (d *demoServer) get(t *testing.T, path string, q url.Values) *http.Response {
	t.Helper()
	target := d.issuer + path
	if q != nil {
		target += "?" + q.Encode()
	}
	resp, err := d.client.Get(target)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// authorize sends q to /authorize by GET and returns the redirect's
// parameters, from the query or the fragment.
func (d *demoServer) authorize(t *testing.T, q url.Values) url.Values {
	t.Helper()
	resp := d.get(t, pathAuthorize, q)
	require.Equal(t, http.StatusFound, resp.StatusCode, "authorize answered %s", readAll(t, resp))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	if loc.Fragment != "" {
		v, err := url.ParseQuery(loc.Fragment)
		require.NoError(t, err)
		return v
	}
	return loc.Query()
}

// token posts form to /token, with HTTP Basic user:pass unless user is "".
func (d *demoServer) token(t *testing.T, user, pass string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.issuer+pathToken, strings.NewReader(form.Encode()))
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
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "application/json", mt)
	return resp, body
}

// exchange redeems a demo-app code with verifier.
func (d *demoServer) exchange(t *testing.T, code, verifier string) (*http.Response, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirectURI}, "client_id": {demoApp}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return d.token(t, "", "", form)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// verifyIDToken checks the ES256 signature of token against the server's
// JWKS and returns its header and claims.
func (d *demoServer) verifyIDToken(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	header, claims, err := verifyJWS(d.jwk(t), token)
	require.NoError(t, err)
	return header, claims
}

// jwk returns the one key of the server's JWKS.
func (d *demoServer) jwk(t *testing.T) map[string]string {
	t.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	resp := d.get(t, pathJWKS, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	require.Len(t, set.Keys, 1)
	return set.Keys[0]
}

// verifyJWS verifies a compact ES256 JWS against a P-256 JWK, as a strict
// OpenID client does, independently of the server's code.
func verifyJWS(key map[string]string, token string) (header, claims map[string]any, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("a compact JWS has three parts, got %d", len(parts))
	}
	var raw [3][]byte
	for i, p := range parts {
		if raw[i], err = base64.RawURLEncoding.DecodeString(p); err != nil {
			return nil, nil, fmt.Errorf("part %d: %w", i, err)
		}
	}
	if err := json.Unmarshal(raw[0], &header); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if err := json.Unmarshal(raw[1], &claims); err != nil {
		return nil, nil, fmt.Errorf("claims: %w", err)
	}
	if header["alg"] != "ES256" || header["kid"] != key["kid"] {
		return nil, nil, fmt.Errorf("header %v does not name ES256 and key %s", header, key["kid"])
	}
	if key["kty"] != "EC" || key["crv"] != "P-256" {
		return nil, nil, fmt.Errorf("key %v is not a P-256 key", key)
	}
	x, errX := base64.RawURLEncoding.DecodeString(key["x"])
	y, errY := base64.RawURLEncoding.DecodeString(key["y"])
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, nil, fmt.Errorf("key coordinates are not 32 bytes of base64url")
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	if !pub.Curve.IsOnCurve(pub.X, pub.Y) {
		return nil, nil, fmt.Errorf("the JWK is not a P-256 point")
	}
	sig := raw[2]
	if len(sig) != 64 {
		return nil, nil, fmt.Errorf("an ES256 signature is R || S, 64 bytes (RFC 7518 §3.4), got %d", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, nil, fmt.Errorf("the signature does not verify")
	}
	return header, claims, nil
}
