package pkce_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests of the middleware around a homegrown server
// (homegrown_test.go), through real HTTP round trips: the three integration
// patterns of doc.go, each with the honest flow and the attack it must stop.

// TestMiddlewarePlainWrap is pattern 1: the handler consents at once and
// redirects with the code. The right verifier redeems it once; a replay,
// a wrong verifier and no verifier get nothing.
func TestMiddlewarePlainWrap(t *testing.T) {
	s := newStack(t, pkce.Config{})
	v := pkce.GenerateVerifier()
	code := s.code(t, v)
	got := s.exchange(t, code, v)
	require.Equal(t, http.StatusOK, got.Status, got.Description)
	assert.NotEmpty(t, got.AccessToken)
	again := s.exchange(t, code, v)
	assert.Equal(t, "invalid_grant", again.Error, "a replay")

	stolen := s.code(t, v)
	assert.Equal(t, "invalid_grant", s.exchange(t, stolen, pkce.GenerateVerifier()).Error, "a wrong verifier")
	assert.Equal(t, "invalid_grant", s.exchange(t, stolen, "").Error, "no verifier after a failed check")
	assert.Equal(t, "invalid_grant", s.exchange(t, stolen, v).Error, "the right verifier after a failed check")
	assert.Equal(t, 1, s.tokensIssued())
}

// loginServer is pattern 2: without a session the authorization handler
// redirects to /login carrying the request's raw query (README pattern 2,
// the shape that echoes whatever the client sent); /login sets the session
// and redirects back to /authorize with the same query; the second pass
// issues the code.
type loginServer struct {
	*homegrown
	m   *pkce.Middleware
	srv *httptest.Server
}

func newLoginServer(t *testing.T) *loginServer {
	t.Helper()
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	ls := &loginServer{homegrown: newHomegrown(), m: m}
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("session"); err != nil {
			http.Redirect(w, r, "/login?"+r.URL.RawQuery, http.StatusFound)
			return
		}
		ls.serveAuthorize(w, r)
	})))
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "user-1", Path: "/"})
		http.Redirect(w, r, "/authorize?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.Handle("/token", m.Token(http.HandlerFunc(ls.serveToken)))
	ls.srv = httptest.NewServer(mux)
	t.Cleanup(ls.srv.Close)
	return ls
}

// browse follows the server's own redirects with a fresh cookie jar and
// returns the redirect to the client's redirect URI.
func (ls *loginServer) browse(t *testing.T, q url.Values) *http.Response {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), ls.srv.URL) {
			return http.ErrUseLastResponse // the client's redirect URI: stop
		}
		return nil
	}}
	resp, err := client.Get(ls.srv.URL + "/authorize?" + q.Encode())
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (ls *loginServer) exchange(t *testing.T, code, verifier string) tokenResponse {
	t.Helper()
	s := &stack{homegrown: ls.homegrown, m: ls.m, srv: ls.srv}
	return s.exchange(t, code, verifier)
}

func patternQuery(verifier string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect},
		"state": {"xyz"}, "code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
}

func redirectedCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), testRedirect), "redirected to %s", loc)
	codes := loc.Query()["code"]
	require.Len(t, codes, 1, "Location %s", loc)
	return codes[0]
}

// TestMiddlewareLoginRedirectPattern: the honest flow through a login page
// binds the code issued on the second pass, and the login redirect that
// echoes the raw query cannot rebind a stolen code: the attacker's request
// carries code=V, the login redirect carries it back, and V stays bound to
// the victim's challenge (issue 8 item 1).
func TestMiddlewareLoginRedirectPattern(t *testing.T) {
	ls := newLoginServer(t)

	victim := pkce.GenerateVerifier()
	stolen := redirectedCode(t, ls.browse(t, patternQuery(victim)))

	attacker := pkce.GenerateVerifier()
	q := patternQuery(attacker)
	q.Set("code", stolen)
	own := redirectedCode(t, ls.browse(t, q))
	assert.NotEqual(t, stolen, own)

	got := ls.exchange(t, stolen, attacker)
	assert.Equal(t, "invalid_grant", got.Error, "the stolen code was rebound to the attacker's challenge")
	got = ls.exchange(t, own, attacker)
	assert.Equal(t, http.StatusOK, got.Status, "the attacker's own code: %s", got.Description)
	assert.Equal(t, 1, ls.tokensIssued())
}

// TestMiddlewareRecordPattern is pattern 3: the authorization handler shows
// a consent page; the consent POST mints the code and binds it with Record
// before redirecting. A failed Record never sends the code.
func TestMiddlewareRecordPattern(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	hg := newHomegrown()
	var mu sync.Mutex
	pending := map[string]pkce.Challenge{} // the server's session store
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := pkce.FromContext(r.Context())
		if !ok {
			http.Error(w, "no challenge in the context", http.StatusInternalServerError)
			return
		}
		id := randomCode()
		mu.Lock()
		pending[id] = c
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<form method="post" action="/consent"><input type="hidden" name="pending" value="`+html.EscapeString(id)+`"><button>Allow</button></form>`)
	})))
	mux.HandleFunc("/consent", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		c, ok := pending[r.FormValue("pending")]
		delete(pending, r.FormValue("pending"))
		mu.Unlock()
		if !ok {
			http.Error(w, "no pending authorization", http.StatusBadRequest)
			return
		}
		code := randomCode()
		if err := m.Record(r.Context(), code, c); err != nil {
			http.Error(w, "server_error", http.StatusInternalServerError) // never send the code
			return
		}
		hg.mu.Lock()
		hg.codes[code] = c.ClientID
		hg.mu.Unlock()
		http.Redirect(w, r, testRedirect+"?code="+url.QueryEscape(code), http.StatusFound)
	})
	mux.Handle("/token", m.Token(http.HandlerFunc(hg.serveToken)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &stack{homegrown: hg, m: m, srv: srv}

	v := pkce.GenerateVerifier()
	resp, err := noRedirect.Get(srv.URL + "/authorize?" + patternQuery(v).Encode())
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the consent page is not a form_post page: it passes")
	id := html.UnescapeString(strings.SplitN(strings.SplitN(string(page), `name="pending" value="`, 2)[1], `"`, 2)[0])

	resp, err = noRedirect.PostForm(srv.URL+"/consent", url.Values{"pending": {id}})
	require.NoError(t, err)
	resp.Body.Close()
	code := redirectedCode(t, resp)

	assert.Equal(t, "invalid_grant", s.exchange(t, code, "").Error, "the recorded code needs its verifier")
	// The server still holds the code valid: only the middleware stops it.
	assert.Equal(t, "invalid_grant", s.exchange(t, code, v).Error, "a code that failed its check is never redeemed")

	// A second consent with its own code, redeemed honestly.
	resp, err = noRedirect.Get(srv.URL + "/authorize?" + patternQuery(v).Encode())
	require.NoError(t, err)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	id = html.UnescapeString(strings.SplitN(strings.SplitN(string(page), `name="pending" value="`, 2)[1], `"`, 2)[0])
	resp, err = noRedirect.PostForm(srv.URL+"/consent", url.Values{"pending": {id}})
	require.NoError(t, err)
	resp.Body.Close()
	got := s.exchange(t, redirectedCode(t, resp), v)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
	assert.Equal(t, 1, hg.tokensIssued())
}
