package pkce_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authError decodes an RFC 6749 error body.
type authError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// assertRefused checks a 4xx/5xx JSON OAuth error answer that did not
// redirect and issued no code.
func assertAuthorizeRefused(t *testing.T, s *stack, resp *http.Response, body string, status int, code, descPart string) {
	t.Helper()
	assert.Equal(t, status, resp.StatusCode, body)
	assert.Empty(t, resp.Header.Get("Location"), "a refusal never redirects by default")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var e authError
	require.NoError(t, json.Unmarshal([]byte(body), &e), "body: %s", body)
	assert.Equal(t, code, e.Error)
	assert.Contains(t, e.Description, descPart)
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Empty(t, s.codes, "the wrapped handler issued no code")
}

func TestAuthorizeRefusals(t *testing.T) {
	challenge := pkce.S256Challenge(pkce.GenerateVerifier())
	tests := []struct {
		name     string
		cfg      pkce.Config
		raw      string // query beyond response_type=code&client_id=app&redirect_uri=…
		descPart string
	}{
		{"no challenge", pkce.Config{}, "", "code challenge required"},
		{"blank challenge", pkce.Config{}, "code_challenge=&code_challenge_method=S256", "without code_challenge"},
		{"method without challenge", pkce.Config{}, "code_challenge_method=S256", "without code_challenge"},
		{"method absent means plain", pkce.Config{}, "code_challenge=" + challenge, "means plain"},
		{"plain when disabled", pkce.Config{}, "code_challenge=" + challenge + "&code_challenge_method=plain", "plain is not accepted"},
		{"s256 lower case", pkce.Config{}, "code_challenge=" + challenge + "&code_challenge_method=s256", "case-sensitive"},
		{"unknown method", pkce.Config{}, "code_challenge=" + challenge + "&code_challenge_method=S512", "not supported"},
		{"hex challenge", pkce.Config{}, "code_challenge=" + strings.Repeat("0f", 32) + "&code_challenge_method=S256", "not hex"},
		{"padded challenge", pkce.Config{}, "code_challenge=" + challenge + "%3D&code_challenge_method=S256", "got 44"},
		{"42-character challenge", pkce.Config{}, "code_challenge=" + challenge[:42] + "&code_challenge_method=S256", "got 42"},
		{"plain too short", pkce.Config{AllowPlain: true}, "code_challenge=short&code_challenge_method=plain", "43 to 128"},
		{"request_uri without challenge", pkce.Config{}, "request_uri=urn:ietf:params:oauth:request_uri:abc", "pushed authorization request"},
		{"request object without challenge", pkce.Config{}, "request=eyJhbGciOiJub25lIn0.e30.", "request object"},
		{"request_uri with another outer response_type", pkce.Config{}, "response_type=token&request_uri=urn:ietf:params:oauth:request_uri:abc", "pushed authorization request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, tt.cfg)
			q := "client_id=app&redirect_uri=" + url.QueryEscape(testRedirect) + "&" + tt.raw
			if !strings.Contains(tt.raw, "response_type=") {
				q = "response_type=code&" + q
			}
			resp, body := s.get(t, "/authorize?"+q)
			code := "invalid_request"
			if strings.HasPrefix(tt.name, "request_uri") {
				code = "invalid_request_uri" // RFC 9101 §7: a request_uri that cannot be used
			}
			assertAuthorizeRefused(t, s, resp, body, http.StatusBadRequest, code, tt.descPart)
		})
	}
}

func TestAuthorizeDuplicates(t *testing.T) {
	challenge := pkce.S256Challenge(pkce.GenerateVerifier())
	base := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect},
		"state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for _, name := range []string{"response_type", "client_id", "redirect_uri", "state", "response_mode",
		"nonce", "code_challenge", "code_challenge_method", "request", "request_uri"} {
		for _, second := range []string{"x", ""} {
			t.Run(name+"="+second, func(t *testing.T) {
				s := newStack(t, pkce.Config{})
				q := base.Encode() + "&" + name + "=" + second
				if base.Get(name) == "" {
					q += "&" + name + "=y" // given twice in all
				}
				resp, body := s.get(t, "/authorize?"+q)
				assertAuthorizeRefused(t, s, resp, body, http.StatusBadRequest, "invalid_request", name+" is given more than once")
			})
		}
	}
	t.Run("query and form body", func(t *testing.T) {
		s := newStack(t, pkce.Config{})
		form := url.Values{"code_challenge": {challenge}}
		resp, body := s.post(t, "/authorize?"+base.Encode(), form)
		assertAuthorizeRefused(t, s, resp, body, http.StatusBadRequest, "invalid_request", "code_challenge is given more than once")
	})
	t.Run("response_type of another flow, repeated", func(t *testing.T) {
		s := newStack(t, pkce.Config{})
		resp, body := s.get(t, "/authorize?response_type=token&response_type=token&client_id=app")
		assertAuthorizeRefused(t, s, resp, body, http.StatusBadRequest, "invalid_request", "response_type is given more than once")
	})
	t.Run("resource may repeat", func(t *testing.T) {
		s := newStack(t, pkce.Config{})
		resp, _ := s.get(t, "/authorize?"+base.Encode()+"&resource=https://a.example&resource=https://b.example")
		assert.Equal(t, http.StatusFound, resp.StatusCode)
	})
}

func TestAuthorizePassThrough(t *testing.T) {
	tests := []struct {
		name, method, target string
	}{
		{"implicit flow", http.MethodGet, "/authorize?response_type=token&client_id=app&redirect_uri=x"},
		{"no response_type", http.MethodGet, "/authorize?client_id=app"},
		{"other method", http.MethodPut, "/authorize?response_type=code&client_id=app&code_challenge_method=S256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reached bool
			m, err := pkce.New(pkce.Config{})
			require.NoError(t, err)
			srv := httptest.NewServer(m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				_, ok := pkce.FromContext(r.Context())
				assert.False(t, ok)
				w.WriteHeader(http.StatusTeapot)
			})))
			defer srv.Close()
			req, err := http.NewRequest(tt.method, srv.URL+tt.target, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.True(t, reached)
			assert.Equal(t, http.StatusTeapot, resp.StatusCode)
		})
	}
}

func TestAuthorizeOptionalPolicy(t *testing.T) {
	s := newStack(t, pkce.Config{Require: func(r *http.Request, clientID string) bool { return clientID != "legacy" }})
	resp, body := s.get(t, "/authorize?response_type=code&client_id=app&redirect_uri="+url.QueryEscape(testRedirect))
	assertAuthorizeRefused(t, s, resp, body, http.StatusBadRequest, "invalid_request", "code challenge required")

	resp, _ = s.get(t, "/authorize?response_type=code&client_id=legacy&redirect_uri="+url.QueryEscape(testRedirect))
	require.Equal(t, http.StatusFound, resp.StatusCode, "an exempt client gets a code without PKCE")
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	code := loc.Query().Get("code")

	got := s.postToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"legacy"}, "code_verifier": {pkce.GenerateVerifier()}})
	assert.Equal(t, "invalid_grant", got.Error, "a verifier without a recorded challenge is a downgrade")

	resp, _ = s.get(t, "/authorize?response_type=code&client_id=legacy&redirect_uri="+url.QueryEscape(testRedirect))
	loc, _ = url.Parse(resp.Header.Get("Location"))
	got = s.postToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "client_id": {"legacy"}})
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
}

func TestAuthorizeCapturesEveryResponseMode(t *testing.T) {
	tests := []struct {
		name  string
		extra url.Values
		post  bool
		code  func(t *testing.T, resp *http.Response, body string) string
	}{
		{"query", nil, false, codeFromLocation(false)},
		{"fragment (code id_token)", url.Values{"response_type": {"code id_token"}, "nonce": {"n"}}, false, codeFromLocation(true)},
		{"form_post", url.Values{"response_mode": {"form_post"}}, false, codeFromPage},
		{"POST form body", nil, true, codeFromLocation(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{})
			verifier := pkce.GenerateVerifier()
			v := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect}, "state": {"st"},
				"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
			for k, vs := range tt.extra {
				v[k] = vs
			}
			var resp *http.Response
			var body string
			if tt.post {
				resp, body = s.post(t, "/authorize", v)
			} else {
				resp, body = s.get(t, "/authorize?"+v.Encode())
			}
			code := tt.code(t, resp, body)
			require.NotEmpty(t, code)

			got := s.exchange(t, code, pkce.GenerateVerifier())
			assert.Equal(t, "invalid_grant", got.Error, "the challenge was recorded: a wrong verifier fails")
			resp, body = s.mustAuthorize(t, v, tt.post)
			code = tt.code(t, resp, body)
			got = s.exchange(t, code, verifier)
			assert.Equal(t, http.StatusOK, got.Status, got.Description)
		})
	}
}

func (s *stack) mustAuthorize(t *testing.T, v url.Values, post bool) (*http.Response, string) {
	t.Helper()
	if post {
		return s.post(t, "/authorize", v)
	}
	return s.get(t, "/authorize?"+v.Encode())
}

func codeFromLocation(fragment bool) func(t *testing.T, resp *http.Response, body string) string {
	return func(t *testing.T, resp *http.Response, body string) string {
		t.Helper()
		require.Equal(t, http.StatusFound, resp.StatusCode, body)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		q := loc.Query()
		if fragment {
			q, err = url.ParseQuery(loc.Fragment)
			require.NoError(t, err)
		}
		assert.Equal(t, "st", q.Get("state"))
		return q.Get("code")
	}
}

func codeFromPage(t *testing.T, resp *http.Response, body string) string {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	const marker = `name="code" value="`
	i := strings.Index(body, marker)
	require.GreaterOrEqual(t, i, 0, body)
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestAuthorizePOSTBodyReachesHandler(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	verifier := pkce.GenerateVerifier()
	form := url.Values{"response_type": {"code"}, "client_id": {"app"}, "code_challenge": {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"}, "login_hint": {"alice"}}
	srv := httptest.NewServer(m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "alice", r.FormValue("login_hint"), "the form is filled")
		assert.Equal(t, "alice", r.PostFormValue("login_hint"))
		raw, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		assert.Equal(t, form.Encode(), string(raw), "the body is restored byte for byte")
		c, ok := pkce.FromContext(r.Context())
		assert.True(t, ok)
		assert.Equal(t, pkce.Challenge{Value: pkce.S256Challenge(verifier), Method: pkce.S256, ClientID: "app"}, c)
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()
	resp, err := http.PostForm(srv.URL, form)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestAuthorizePOSTBodyLimitsAndTypes(t *testing.T) {
	tests := []struct {
		name, query, contentType, body string
		refused                        string // "" for passed through untouched
	}{
		{"oversized, code request in the query", "?response_type=code&client_id=app", "application/x-www-form-urlencoded", "pad=" + strings.Repeat("x", 200), "larger than 100 bytes"},
		{"JSON, code request in the query", "?response_type=code&client_id=app", "application/json", `{"code_challenge":"x"}`, "not supported"},
		{"oversized login form, no code request in the query", "?client_id=app", "application/x-www-form-urlencoded", "pad=" + strings.Repeat("x", 200), ""},
		{"JSON, no code request in the query", "", "application/json", `{"user":"alice"}`, ""},
		{"multipart login form", "", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n--x--\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pkce.New(pkce.Config{MaxBodyBytes: 100})
			require.NoError(t, err)
			var got string
			srv := httptest.NewServer(m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = string(b)
				w.WriteHeader(http.StatusTeapot)
			})))
			defer srv.Close()
			resp, err := http.Post(srv.URL+tt.query, tt.contentType, strings.NewReader(tt.body))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.refused == "" {
				assert.Equal(t, http.StatusTeapot, resp.StatusCode, "passed through: %s", body)
				assert.Equal(t, tt.body, got, "the body reaches the handler untouched")
				return
			}
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, string(body), tt.refused)
			assert.Empty(t, got)
		})
	}
}

// The login page in between: the authorize wrapper sees a page without a
// code; the login handler mints the code and binds it with Record.
func TestAuthorizeRecordPattern(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	hg := newHomegrown()
	var pending sync.Map // login session -> challenge
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := pkce.FromContext(r.Context())
		require.True(t, ok)
		assert.True(t, c.ExpiresAt.IsZero())
		pending.Store("session-1", c)
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<form method="post" action="/login"><input name="user"></form>`)
	})))
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		v, _ := pending.LoadAndDelete("session-1")
		code := randomCode()
		hg.mu.Lock()
		hg.codes[code] = "app"
		hg.mu.Unlock()
		if err := m.Record(r.Context(), code, v.(pkce.Challenge)); err != nil {
			http.Error(w, "server_error", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, testRedirect+"?code="+code, http.StatusFound)
	})
	mux.Handle("/token", m.Token(http.HandlerFunc(hg.serveToken)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := &stack{homegrown: hg, m: m, srv: srv}

	verifier := pkce.GenerateVerifier()
	resp, body := s.get(t, "/authorize?response_type=code&client_id=app&code_challenge="+pkce.S256Challenge(verifier)+"&code_challenge_method=S256")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "<form")
	resp, _ = s.post(t, "/login", url.Values{"user": {"alice"}})
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	got := s.exchange(t, loc.Query().Get("code"), verifier)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
}

func TestRecordValidates(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	good := pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256}
	ctx := context.Background()
	assert.NoError(t, m.Record(ctx, "code-1", good))
	assert.Error(t, m.Record(ctx, "", good), "empty code")
	assert.Error(t, m.Record(ctx, "code-2", pkce.Challenge{Value: good.Value, Method: pkce.Plain}), "plain disabled")
	assert.Error(t, m.Record(ctx, "code-3", pkce.Challenge{Value: "abc", Method: pkce.S256}), "malformed challenge")
	assert.Error(t, m.Record(ctx, "code-4", pkce.Challenge{Value: good.Value, Method: "S512"}), "unknown method")
}

func TestFromContextWithoutMiddleware(t *testing.T) {
	c, ok := pkce.FromContext(context.Background())
	assert.False(t, ok)
	assert.Zero(t, c)
}

// faultStore fails every call with err.
type faultStore struct{ err error }

func (f faultStore) Save(context.Context, string, pkce.Challenge) error { return f.err }
func (f faultStore) Take(context.Context, string) (pkce.Challenge, error) {
	return pkce.Challenge{}, f.err
}

func TestAuthorizeStoreFaultsFailClosed(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		mode   string
	}{
		{"store error, query", errors.New("connection refused"), http.StatusInternalServerError, "server_error", ""},
		{"store error, form_post", errors.New("connection refused"), http.StatusInternalServerError, "server_error", "form_post"},
		{"store full", pkce.ErrStoreFull, http.StatusServiceUnavailable, "temporarily_unavailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{Store: faultStore{tt.err}})
			v := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect},
				"code_challenge": {pkce.S256Challenge(pkce.GenerateVerifier())}, "code_challenge_method": {"S256"}, "response_mode": {tt.mode}}
			resp, body := s.get(t, "/authorize?"+v.Encode())
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Empty(t, resp.Header.Values("Set-Cookie"))
			var e authError
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Equal(t, tt.code, e.Error)
			assert.NotEmpty(t, e.Description)
			s.mu.Lock()
			for code := range s.codes {
				assert.NotContains(t, body, code, "the code never reaches the client")
			}
			s.mu.Unlock()
		})
	}
}

// stallStore blocks every call until released, ignoring its context.
type stallStore struct{ release chan struct{} }

func (s stallStore) Save(context.Context, string, pkce.Challenge) error {
	<-s.release
	return nil
}

func (s stallStore) Take(context.Context, string) (pkce.Challenge, error) {
	<-s.release
	return pkce.Challenge{}, pkce.ErrNotFound
}

func TestAuthorizeStalledStoreFailsInTime(t *testing.T) {
	st := stallStore{make(chan struct{})}
	defer close(st.release)
	s := newStack(t, pkce.Config{Store: st, StoreTimeout: 50 * time.Millisecond})
	start := time.Now()
	resp, body := s.get(t, "/authorize?response_type=code&client_id=app&redirect_uri=x&code_challenge="+pkce.S256Challenge(pkce.GenerateVerifier())+"&code_challenge_method=S256")
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, body)
	assert.Empty(t, resp.Header.Get("Location"))
}

func TestAuthorizeRedirectErrors(t *testing.T) {
	vouch := func(r *http.Request, clientID, redirectURI string) bool {
		return clientID == "app" && strings.HasPrefix(redirectURI, testRedirect)
	}
	tests := []struct {
		name, query string
		check       func(t *testing.T, resp *http.Response, body string)
	}{
		{"query keeps the redirect URI's own query", "response_type=code&client_id=app&state=st&redirect_uri=" + url.QueryEscape(testRedirect+"?z=1&a=2"), func(t *testing.T, resp *http.Response, body string) {
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), testRedirect+"?z=1&a=2&"), resp.Header.Get("Location"))
		}},
		{"query", "response_type=code&client_id=app&state=st&redirect_uri=" + url.QueryEscape(testRedirect), func(t *testing.T, resp *http.Response, body string) {
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.1:9", loc.Host)
			assert.Equal(t, "invalid_request", loc.Query().Get("error"))
			assert.Equal(t, "st", loc.Query().Get("state"))
			assert.Contains(t, loc.Query().Get("error_description"), "code challenge required")
		}},
		{"fragment for code id_token", "response_type=code+id_token&client_id=app&state=st&redirect_uri=" + url.QueryEscape(testRedirect), func(t *testing.T, resp *http.Response, body string) {
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			f, err := url.ParseQuery(loc.Fragment)
			require.NoError(t, err)
			assert.Equal(t, "invalid_request", f.Get("error"))
			assert.Equal(t, "st", f.Get("state"))
			assert.Empty(t, loc.RawQuery)
		}},
		{"form_post", "response_type=code&response_mode=form_post&client_id=app&state=st&redirect_uri=" + url.QueryEscape(testRedirect), func(t *testing.T, resp *http.Response, body string) {
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, body, `action="`+testRedirect+`"`)
			assert.Contains(t, body, `name="error" value="invalid_request"`)
			assert.Contains(t, body, `name="state" value="st"`)
		}},
		{"not vouched for", "response_type=code&client_id=app&redirect_uri=" + url.QueryEscape("https://evil.example/cb"), func(t *testing.T, resp *http.Response, body string) {
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
		}},
		{"duplicated redirect_uri", "response_type=code&client_id=app&redirect_uri=" + url.QueryEscape(testRedirect) + "&redirect_uri=" + url.QueryEscape(testRedirect), func(t *testing.T, resp *http.Response, body string) {
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{RedirectErrors: vouch})
			resp, body := s.get(t, "/authorize?"+tt.query)
			tt.check(t, resp, body)
		})
	}
}

// get sends a GET without following redirects.
func (s *stack) get(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+target, nil)
	require.NoError(t, err)
	return s.do(t, req)
}

// post sends a form POST without following redirects.
func (s *stack) post(t *testing.T, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(t, req)
}

func (s *stack) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}
