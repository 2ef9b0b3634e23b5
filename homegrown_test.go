package pkce_test

import (
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
	"github.com/stretchr/testify/require"
)

// homegrown is a small authorization server that knows nothing of PKCE, as
// the servers this middleware is put in front of: it reads parameters with
// r.FormValue (query and body merged), consents at once, and redeems a code
// once, on success only. A code whose PKCE check failed is still valid for
// it: only the middleware stands between that code and a token.
type homegrown struct {
	mu     sync.Mutex
	codes  map[string]string // code -> client_id; deleted when redeemed
	issued int               // tokens issued
	// grants counts token requests that reached the server, by grant type.
	grants map[string]int
	// lastForm is the token request form the server last saw.
	lastForm url.Values
	lastBody string
}

func newHomegrown() *homegrown {
	return &homegrown{codes: map[string]string{}, grants: map[string]int{}}
}

func randomCode() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize issues a code to redirect_uri: in the query, in the fragment for
// hybrid response types, or as a form_post page.
func (s *homegrown) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	rt := r.FormValue("response_type")
	redirect := r.FormValue("redirect_uri")
	if redirect == "" || !strings.Contains(rt, "code") {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	code := randomCode()
	s.mu.Lock()
	s.codes[code] = r.FormValue("client_id")
	s.mu.Unlock()
	v := url.Values{"code": {code}}
	if st := r.FormValue("state"); st != "" {
		v.Set("state", st)
	}
	switch {
	case r.FormValue("response_mode") == "form_post":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><body onload="document.forms[0].submit()"><form method="post" action="%s">`, html.EscapeString(redirect))
		for k := range v {
			fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s"/>`, k, html.EscapeString(v.Get(k)))
		}
		fmt.Fprint(w, `</form></body></html>`)
	case rt != "code":
		v.Set("id_token", "header.payload.signature")
		http.Redirect(w, r, redirect+"#"+v.Encode(), http.StatusFound)
	default:
		http.Redirect(w, r, redirect+"?"+v.Encode(), http.StatusFound)
	}
}

// serveToken redeems codes once and passes every other grant. It reads form
// bodies with r.FormValue and, as servers that accept them do, JSON bodies
// raw.
func (s *homegrown) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	b, _ := io.ReadAll(r.Body)
	form := r.Form
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var members map[string]any
		_ = json.Unmarshal(b, &members)
		form = url.Values{}
		for k, v := range members {
			if str, ok := v.(string); ok {
				form.Set(k, str)
			}
		}
	}
	grant := form.Get("grant_type")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[grant]++
	s.lastForm = form
	s.lastBody = string(b)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	switch grant {
	case "authorization_code":
		code := form.Get("code")
		if _, ok := s.codes[code]; !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"unknown code"}`)
			return
		}
		delete(s.codes, code)
	case "refresh_token", "client_credentials":
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	s.issued++
	fmt.Fprint(w, `{"access_token":"at-`+randomCode()+`","token_type":"Bearer","expires_in":3600}`)
}

func (s *homegrown) metadata(issuer string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"response_types_supported":["code"]}`,
			issuer, issuer+"/authorize", issuer+"/token")
	}
}

func (s *homegrown) tokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// stack is a homegrown server wrapped by a middleware behind a real
// httptest server.
type stack struct {
	*homegrown
	m   *pkce.Middleware
	srv *httptest.Server
}

// newStack starts the homegrown server wrapped by pkce.New(cfg).
func newStack(t *testing.T, cfg pkce.Config) *stack {
	t.Helper()
	m, err := pkce.New(cfg)
	require.NoError(t, err)
	s := &stack{homegrown: newHomegrown(), m: m}
	mux := http.NewServeMux()
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(s.serveAuthorize)))
	mux.Handle("/token", m.Token(http.HandlerFunc(s.serveToken)))
	mux.Handle("/.well-known/oauth-authorization-server", m.Discovery(s.metadata(s.srv.URL)))
	return s
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

const testRedirect = "http://127.0.0.1:9/cb"

// authorize runs an authorization request with extra parameters and
// returns the response, closed, with its body read.
func (s *stack) authorize(t *testing.T, extra url.Values) (*http.Response, string) {
	t.Helper()
	v := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect}, "state": {"xyz"}}
	for k, vs := range extra {
		v[k] = vs
	}
	resp, err := noRedirect.Get(s.srv.URL + "/authorize?" + v.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// code runs an authorization request with an S256 challenge of verifier and
// returns the issued code.
func (s *stack) code(t *testing.T, verifier string) string {
	t.Helper()
	extra := url.Values{}
	if verifier != "" {
		extra.Set("code_challenge", pkce.S256Challenge(verifier))
		extra.Set("code_challenge_method", "S256")
	}
	resp, _ := s.authorize(t, extra)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)
	return code
}

// tokenResponse is a token endpoint answer.
type tokenResponse struct {
	Status       int
	Header       http.Header
	Error        string `json:"error"`
	Description  string `json:"error_description"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// postToken sends a form token request and decodes the answer.
func (s *stack) postToken(t *testing.T, form url.Values) tokenResponse {
	t.Helper()
	return s.doToken(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", form.Encode(), nil)
}

// doToken sends any token request and decodes the answer.
func (s *stack) doToken(t *testing.T, method, path, contentType, body string, header http.Header) tokenResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := tokenResponse{Status: resp.StatusCode, Header: resp.Header}
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out), "token answer is not JSON: %s", b)
	return out
}

// exchange redeems code with verifier ("" for none) for client app.
func (s *stack) exchange(t *testing.T, code, verifier string) tokenResponse {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "client_id": {"app"}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return s.postToken(t, form)
}
