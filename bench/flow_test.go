package bench_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
)

// BenchmarkFlow is PKCE's cost per whole flow (an authorization request
// answered with a code, and the token request that redeems it), each
// implementation against itself in one run:
//
//   - go-pkce: a homegrown server whose authorize handler reads
//     r.URL.Query() and answers http.Redirect, and whose token handler
//     calls r.ParseForm and reads r.PostForm (the shapes of the root
//     module's BenchmarkFlow/query), bare and behind the middleware.
//     go-pkce's cost per flow is wrapped minus bare.
//   - fosite: a fosite.OAuth2Provider from compose.Compose with the
//     authorization code grant (HMAC strategy, in-memory storage, one public
//     client), with and without compose.OAuth2PKCEFactory (EnforcePKCE on),
//     driven through its HTTP API (NewAuthorizeRequest,
//     NewAuthorizeResponse, WriteAuthorizeResponse; NewAccessRequest,
//     NewAccessResponse, WriteAccessResponse). fosite's cost per flow is
//     with-pkce minus without.
//
// Every flow sends the same requests, challenge and verifier included, in
// all four rows: without PKCE they are ignored. Each row fails at the first
// flow that does not get a token. Each gets a new store every lap (65,536
// flows), made with the timer stopped.
func BenchmarkFlow(b *testing.B) {
	ctx := context.Background()
	b.Run("go-pkce/bare", func(b *testing.B) {
		var s *ourServer
		inLaps(b, func(codes []string) { s = newOurServer(codes, false) }, func(i int, _ string) {
			if err := s.flow(); err != nil {
				b.Fatalf("flow %d: %v", i, err)
			}
		})
	})
	b.Run("go-pkce/wrapped", func(b *testing.B) {
		var s *ourServer
		inLaps(b, func(codes []string) { s = newOurServer(codes, true) }, func(i int, _ string) {
			if err := s.flow(); err != nil {
				b.Fatalf("flow %d: %v", i, err)
			}
		})
	})
	b.Run("fosite/without-pkce", func(b *testing.B) {
		var f *fositeFlow
		inLaps(b, func([]string) { f = newFositeFlow(false) }, func(i int, _ string) {
			if err := f.flow(ctx, verifier); err != nil {
				b.Fatalf("flow %d: %v", i, err)
			}
		})
	})
	b.Run("fosite/with-pkce", func(b *testing.B) {
		var f *fositeFlow
		inLaps(b, func([]string) { f = newFositeFlow(true) }, func(i int, _ string) {
			if err := f.flow(ctx, verifier); err != nil {
				b.Fatalf("flow %d: %v", i, err)
			}
		})
	})
}

// errFlow is a flow that did not end with a token.
type errFlow string

func (e errFlow) Error() string { return string(e) }

// --- go-pkce: the homegrown server ---

type ourServer struct {
	authorize, token http.Handler
}

func newOurServer(codes []string, wrapped bool) *ourServer {
	s := &ourServer{authorize: bareAuthorizeQuery(codes), token: bareTokenPostForm}
	if wrapped {
		m := newMiddleware()
		s.authorize, s.token = m.Authorize(s.authorize), m.Token(s.token)
	}
	return s
}

// bareAuthorizeQuery is bareAuthorize reading r.URL.Query().
func bareAuthorizeQuery(codes []string) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code := codes[int(n.Add(1)-1)%len(codes)]
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+url.QueryEscape(code)+"&state="+q.Get("state"), http.StatusFound)
	})
}

// bareTokenPostForm is bareToken calling r.ParseForm and reading
// r.PostForm.
var bareTokenPostForm = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f := r.PostForm
	if f.Get("grant_type") == "" || f.Get("code") == "" || f.Get("client_id") == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
})

func (s *ourServer) flow() error {
	w := httptest.NewRecorder()
	s.authorize.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/authorize?"+authorizeQuery, nil))
	code, err := codeFromLocation(w)
	if err != nil {
		return err
	}
	w = httptest.NewRecorder()
	s.token.ServeHTTP(w, flowTokenRequest(code))
	if w.Code != http.StatusOK {
		return errFlow("token: status " + http.StatusText(w.Code) + ": " + w.Body.String())
	}
	return nil
}

// codeFromLocation returns the code of an authorization response.
func codeFromLocation(w *httptest.ResponseRecorder) (string, error) {
	if w.Code != http.StatusFound && w.Code != http.StatusSeeOther {
		return "", errFlow("authorize: status " + http.StatusText(w.Code) + ": " + w.Body.String())
	}
	loc := w.Header().Get("Location")
	_, q, _ := strings.Cut(loc, "?")
	v, err := url.ParseQuery(q)
	if err != nil || v.Get("code") == "" {
		return "", errFlow("authorize: no code in " + loc)
	}
	return v.Get("code"), nil
}

// flowTokenRequest is the token request of a flow: the same for every row.
func flowTokenRequest(code string) *http.Request {
	body := "grant_type=authorization_code&code=" + url.QueryEscape(code) + "&redirect_uri=" + url.QueryEscape(redirectURI) + "&client_id=" + clientID + "&code_verifier=" + verifier
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// --- fosite: the composed provider ---

type fositeFlow struct {
	p fosite.OAuth2Provider
}

// newFositeFlow composes fosite with the authorization code grant, and its
// PKCE handler when withPKCE (S256 required, as the zero pkce.Config).
func newFositeFlow(withPKCE bool) *fositeFlow {
	cfg := &fosite.Config{
		GlobalSecret:          []byte("some-cool-secret-that-is-32bytes"),
		AuthorizeCodeLifespan: 10 * time.Minute,
		EnforcePKCE:           withPKCE,
	}
	store := storage.NewMemoryStore()
	store.Clients[clientID] = &fosite.DefaultClient{
		ID: clientID, Public: true,
		RedirectURIs: []string{redirectURI}, ResponseTypes: []string{"code"}, GrantTypes: []string{"authorization_code"},
	}
	strategy := compose.CommonStrategy{CoreStrategy: compose.NewOAuth2HMACStrategy(cfg)}
	factories := []compose.Factory{compose.OAuth2AuthorizeExplicitFactory}
	if withPKCE {
		factories = append(factories, compose.OAuth2PKCEFactory)
	}
	return &fositeFlow{p: compose.Compose(cfg, store, strategy, factories...)}
}

// flow runs one authorization and token request through fosite's HTTP API.
func (f *fositeFlow) flow(ctx context.Context, verifier string) error {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/authorize?"+authorizeQuery, nil)
	ar, err := f.p.NewAuthorizeRequest(ctx, r)
	if err != nil {
		return err
	}
	resp, err := f.p.NewAuthorizeResponse(ctx, ar, new(fosite.DefaultSession))
	if err != nil {
		return err
	}
	f.p.WriteAuthorizeResponse(ctx, w, ar, resp)
	code, err := codeFromLocation(w)
	if err != nil {
		return err
	}
	w = httptest.NewRecorder()
	r = flowTokenRequestWith(code, verifier)
	tr, err := f.p.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
	if err != nil {
		return err
	}
	tresp, err := f.p.NewAccessResponse(ctx, tr)
	if err != nil {
		return err
	}
	f.p.WriteAccessResponse(ctx, w, tr, tresp)
	if w.Code != http.StatusOK {
		return errFlow("token: status " + http.StatusText(w.Code) + ": " + w.Body.String())
	}
	return nil
}

func flowTokenRequestWith(code, v string) *http.Request {
	body := "grant_type=authorization_code&code=" + url.QueryEscape(code) + "&redirect_uri=" + url.QueryEscape(redirectURI) + "&client_id=" + clientID + "&code_verifier=" + v
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// TestFlow checks the four setups BenchmarkFlow times: every one gets a
// token with the right verifier; with PKCE, a wrong verifier gets none.
func TestFlow(t *testing.T) {
	ctx := context.Background()
	for _, withPKCE := range []bool{false, true} {
		if err := newFositeFlow(withPKCE).flow(ctx, verifier); err != nil {
			t.Errorf("fosite (PKCE %v): %v", withPKCE, err)
		}
	}
	if err := newFositeFlow(true).flow(ctx, wrongVerifier); err == nil || !fositeRefusal(err, "invalid_grant") {
		t.Errorf("fosite with PKCE, wrong verifier: %v, want invalid_grant", err)
	}
	for _, wrapped := range []bool{false, true} {
		if err := newOurServer(codes(4), wrapped).flow(); err != nil {
			t.Errorf("go-pkce (wrapped %v): %v", wrapped, err)
		}
	}
	s := newOurServer(codes(4), true)
	w := httptest.NewRecorder()
	s.authorize.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/authorize?"+authorizeQuery, nil))
	code, err := codeFromLocation(w)
	if err != nil {
		t.Fatal(err)
	}
	w = httptest.NewRecorder()
	s.token.ServeHTTP(w, flowTokenRequestWith(code, wrongVerifier))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_grant") {
		t.Errorf("go-pkce wrapped, wrong verifier: %d %s, want invalid_grant", w.Code, w.Body)
	}
}
