package interop_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
)

// The clients the homegrown server knows. The confidential client's id and
// secret need form-encoding in HTTP Basic (RFC 6749 §2.3.1), which
// golang.org/x/oauth2 does and the middleware must undo.
const (
	publicClient       = "native-app"
	confidentialClient = "web app+1"
	confidentialSecret = "s3cr:t/+="
	redirectURI        = "https://client.example/cb"
)

// homegrown is an authorization server that knows nothing of PKCE, as the
// servers the middleware is put in front of: it reads parameters through
// whatever accessor its framework gives it (r.FormValue, Echo's
// c.FormValue), consents at once, redeems a code once, and keeps a code
// whose PKCE check failed valid: only the middleware stands between that
// code and a token. Its decisions are framework-neutral; the net/http, chi
// and Echo front ends only write them.
type homegrown struct {
	mu      sync.Mutex
	codes   map[string]string // code -> client_id, until redeemed
	refresh map[string]string // refresh token -> client_id
	// tokenRequests are the token requests that reached the server.
	tokenRequests []seenRequest
	// refuseBasic makes the token endpoint refuse HTTP Basic client
	// authentication (401 invalid_client), as servers that accept only
	// client_secret_post, or none for public clients, do.
	refuseBasic bool
}

// seenRequest is a token request as the wrapped handler saw it.
type seenRequest struct {
	grant string
	form  map[string]string // the parameters, read through the framework's accessor
	body  string            // the raw body, read after the middleware
}

func newHomegrown() *homegrown {
	return &homegrown{codes: map[string]string{}, refresh: map[string]string{}}
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authResponse is the server's answer to an authorization request: a
// redirect (query or fragment) or a form_post page.
type authResponse struct {
	location string
	page     string
}

// authorize decides an authorization request, reading its parameters
// through get.
func (s *homegrown) authorize(get func(string) string) (authResponse, error) {
	rt, client, redirect := get("response_type"), get("client_id"), get("redirect_uri")
	switch {
	case client != publicClient && client != confidentialClient:
		return authResponse{}, fmt.Errorf("unknown client %q", client)
	case redirect != redirectURI:
		return authResponse{}, fmt.Errorf("redirect_uri %q is not registered", redirect)
	case rt != "code" && rt != "code id_token":
		return authResponse{}, fmt.Errorf("unsupported response_type %q", rt)
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = client
	s.mu.Unlock()

	v := url.Values{"code": {code}}
	if st := get("state"); st != "" {
		v.Set("state", st)
	}
	if rt == "code id_token" {
		// Not a real ID token: the middleware does not look at it.
		v.Set("id_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyIn0.")
	}
	mode := get("response_mode")
	if mode == "" {
		mode = "query"
		if rt != "code" {
			mode = "fragment"
		}
	}
	switch mode {
	case "form_post":
		var b strings.Builder
		fmt.Fprintf(&b, `<!DOCTYPE html><html><head><title>Signing in</title></head><body onload="document.forms[0].submit()"><form method="post" action="%s">`, html.EscapeString(redirect))
		for _, k := range []string{"state", "id_token", "code"} {
			if val := v.Get(k); val != "" {
				// Attributes in the order some servers write them: value first.
				fmt.Fprintf(&b, `<input type='hidden' value='%s' name='%s'>`, html.EscapeString(val), k)
			}
		}
		b.WriteString(`<noscript><button>Continue</button></noscript></form></body></html>`)
		return authResponse{page: b.String()}, nil
	case "fragment":
		return authResponse{location: redirect + "#" + v.Encode()}, nil
	case "query":
		return authResponse{location: redirect + "?" + v.Encode()}, nil
	}
	return authResponse{}, fmt.Errorf("unsupported response_mode %q", mode)
}

// token decides a token request: the status and the JSON object to answer.
// get reads a parameter, basic is the HTTP Basic header as the framework
// parsed it; body is the raw body the handler read.
func (s *homegrown) token(get func(string) string, r *http.Request, body string) (int, map[string]any) {
	grant := get("grant_type")
	seen := seenRequest{grant: grant, body: body, form: map[string]string{}}
	for _, k := range []string{"grant_type", "code", "code_verifier", "redirect_uri", "client_id", "client_secret", "refresh_token", "scope"} {
		if v := get(k); v != "" {
			seen.form[k] = v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenRequests = append(s.tokenRequests, seen)

	client, secret := get("client_id"), get("client_secret")
	if _, _, ok := r.BasicAuth(); ok && s.refuseBasic {
		return http.StatusUnauthorized, oauthError("invalid_client", "HTTP Basic client authentication is not supported; send client_id (and client_secret) in the body")
	}
	if user, pass, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both are form-encoded before base64.
		var err1, err2 error
		client, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return http.StatusUnauthorized, oauthError("invalid_client", "bad Basic credentials")
		}
	}
	switch {
	case client == confidentialClient && secret != confidentialSecret:
		return http.StatusUnauthorized, oauthError("invalid_client", "client authentication failed")
	case client != publicClient && client != confidentialClient:
		return http.StatusUnauthorized, oauthError("invalid_client", "unknown client")
	}
	switch grant {
	case "authorization_code":
		code := get("code")
		if owner, ok := s.codes[code]; !ok || owner != client {
			return http.StatusBadRequest, oauthError("invalid_grant", "unknown or redeemed code")
		}
		if get("redirect_uri") != redirectURI {
			return http.StatusBadRequest, oauthError("invalid_grant", "redirect_uri mismatch")
		}
		delete(s.codes, code)
	case "refresh_token":
		rt := get("refresh_token")
		if owner, ok := s.refresh[rt]; !ok || owner != client {
			return http.StatusBadRequest, oauthError("invalid_grant", "unknown refresh token")
		}
		delete(s.refresh, rt)
	default:
		return http.StatusBadRequest, oauthError("unsupported_grant_type", "")
	}
	rt := randomToken()
	s.refresh[rt] = client
	return http.StatusOK, map[string]any{
		"access_token":  "at-" + randomToken(),
		"token_type":    "Bearer",
		"expires_in":    3600,
		"refresh_token": rt,
	}
}

func oauthError(code, desc string) map[string]any {
	m := map[string]any{"error": code}
	if desc != "" {
		m["error_description"] = desc
	}
	return m
}

// metadataDoc is the server's RFC 8414 document, members in a fixed order,
// without code_challenge_methods_supported: the middleware adds it.
func metadataDoc(issuer string) []byte {
	return []byte(fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"response_types_supported":["code","code id_token"],"response_modes_supported":["query","fragment","form_post"],"grant_types_supported":["authorization_code","refresh_token"]}`,
		issuer, issuer+"/authorize", issuer+"/token"))
}

// withPKCEMember is doc with the member the middleware adds, last, as
// Discovery adds it.
func withPKCEMember(doc []byte, methods string) []byte {
	return append(append(doc[:len(doc)-1:len(doc)-1], `,"code_challenge_methods_supported":`+methods...), '}')
}

func (s *homegrown) tokens() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.tokenRequests...)
}

func (s *homegrown) lastTokenRequest(t *testing.T) seenRequest {
	t.Helper()
	reqs := s.tokens()
	if len(reqs) == 0 {
		t.Fatal("no token request reached the server")
	}
	return reqs[len(reqs)-1]
}

// --- net/http front end ---

// serveAuthorize is the net/http authorization handler.
func (s *homegrown) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	resp, err := s.authorize(r.FormValue)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeAuthResponse(w, r, resp)
}

func writeAuthResponse(w http.ResponseWriter, r *http.Request, resp authResponse) {
	if resp.location != "" {
		http.Redirect(w, r, resp.location, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, resp.page)
}

// serveToken is the net/http token handler. It reads the raw body first and
// puts it back, as handlers that log or verify the body do, then reads the
// parameters with r.FormValue.
func (s *homegrown) serveToken(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	status, obj := s.token(r.FormValue, r, string(body))
	writeJSON(w, status, obj)
}

func writeJSON(w http.ResponseWriter, status int, obj any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(obj)
}

func serveMetadata(issuer func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		doc := metadataDoc(issuer())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(doc)))
		w.Header().Set("ETag", `"doc-v1"`)
		_, _ = w.Write(doc)
	}
}

// tap records the raw body of each token request as it came off the wire,
// before any middleware, and hands it on intact.
type tap struct {
	mu     sync.Mutex
	bodies []string
}

func (t *tap) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		t.mu.Lock()
		t.bodies = append(t.bodies, string(body))
		t.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (t *tap) last(tb testing.TB) string {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.bodies) == 0 {
		tb.Fatal("no request went through the tap")
	}
	return t.bodies[len(t.bodies)-1]
}

// stack is a homegrown server behind the middleware on a real HTTP server,
// whatever the framework.
type stack struct {
	*homegrown
	m   *pkce.Middleware
	srv *httptest.Server
	tap *tap
}

func (st *stack) url(path string) string { return st.srv.URL + path }

func newMiddleware(t testing.TB, cfg pkce.Config) *pkce.Middleware {
	t.Helper()
	m, err := pkce.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newNetHTTPStack is the reference: the middleware on a plain ServeMux, as
// DESIGN.md shows it.
func newNetHTTPStack(t *testing.T, cfg pkce.Config) *stack {
	t.Helper()
	st := &stack{homegrown: newHomegrown(), m: newMiddleware(t, cfg), tap: &tap{}}
	mux := http.NewServeMux()
	mux.Handle("/authorize", st.m.Authorize(http.HandlerFunc(st.serveAuthorize)))
	mux.Handle("/token", st.tap.wrap(st.m.Token(http.HandlerFunc(st.serveToken))))
	meta := st.m.Discovery(serveMetadata(func() string { return st.srv.URL }))
	mux.Handle("/.well-known/oauth-authorization-server", meta)
	mux.Handle("/.well-known/openid-configuration", meta)
	st.srv = httptest.NewServer(mux)
	t.Cleanup(st.srv.Close)
	return st
}
