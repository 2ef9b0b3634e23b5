package pkcegin_test

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
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcegin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

const (
	clientID    = "native-app"
	redirectURI = "https://client.example/cb"
)

// homegrown is an authorization server that knows nothing of PKCE: it
// consents at once, redeems a code once, and keeps a code whose PKCE check
// failed valid (only the middleware stands between it and a token). Its
// decisions are framework-neutral; a Gin and a net/http front end write
// them, so refusals can be compared between the two.
type homegrown struct {
	mu    sync.Mutex
	codes map[string]bool
	// seen are the token requests that reached the handler.
	seen []seenRequest
	// statuses are the statuses a Gin middleware placed before pkcegin saw
	// after the chain, from c.Writer.Status().
	statuses []int
	// challenges are what pkce.FromContext returned in the authorize handler.
	challenges []pkce.Challenge
}

type seenRequest struct {
	grant string
	form  url.Values // as the handler read it (c.PostForm, r.PostForm)
	body  string     // the raw body, read by the handler
}

func newHomegrown() *homegrown { return &homegrown{codes: map[string]bool{}} }

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize issues a code for a valid request: a Location (query or
// fragment) or a form_post page.
func (s *homegrown) authorize(get func(string) string) (location, page string, err error) {
	rt := get("response_type")
	if get("client_id") != clientID || get("redirect_uri") != redirectURI || (rt != "code" && rt != "code id_token") {
		return "", "", fmt.Errorf("bad authorization request")
	}
	code := randomToken()
	s.mu.Lock()
	s.codes[code] = true
	s.mu.Unlock()
	v := url.Values{"code": {code}, "state": {get("state")}}
	if rt == "code id_token" {
		v.Set("id_token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyIn0.")
	}
	switch mode := get("response_mode"); {
	case mode == "form_post":
		var b strings.Builder
		fmt.Fprintf(&b, `<html><body onload="document.forms[0].submit()"><form method="post" action="%s">`, html.EscapeString(redirectURI))
		for _, k := range []string{"state", "id_token", "code"} {
			if val := v.Get(k); val != "" {
				fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, k, html.EscapeString(val))
			}
		}
		b.WriteString(`</form></body></html>`)
		return "", b.String(), nil
	case mode == "fragment" || mode == "" && rt != "code":
		return redirectURI + "#" + v.Encode(), "", nil
	}
	return redirectURI + "?" + v.Encode(), "", nil
}

// token redeems codes once and honours refresh and client credentials
// grants.
func (s *homegrown) token(form url.Values, body string) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	grant := form.Get("grant_type")
	s.seen = append(s.seen, seenRequest{grant: grant, form: form, body: body})
	switch grant {
	case "authorization_code":
		if !s.codes[form.Get("code")] {
			return http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "unknown code"}
		}
		delete(s.codes, form.Get("code"))
	case "refresh_token", "client_credentials":
	default:
		return http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"}
	}
	return http.StatusOK, map[string]any{"access_token": "at-" + randomToken(), "token_type": "Bearer", "expires_in": 3600}
}

func (s *homegrown) lastSeen(t *testing.T) seenRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("no token request reached the handler")
	}
	return s.seen[len(s.seen)-1]
}

func (s *homegrown) tokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *homegrown) lastStatus(t *testing.T) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.statuses) == 0 {
		t.Fatal("the outer Gin middleware saw no request")
	}
	return s.statuses[len(s.statuses)-1]
}

// metadataDoc is the server's document, members in a fixed order.
func metadataDoc(issuer string) []byte {
	return []byte(fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"response_types_supported":["code","code id_token"]}`,
		issuer, issuer+"/authorize", issuer+"/token"))
}

// --- Gin front end ---

// ginParam reads a parameter of the body, else of the query, the Gin way.
func ginParam(c *gin.Context) func(string) string {
	return func(k string) string {
		if v, ok := c.GetPostForm(k); ok {
			return v
		}
		return c.Query(k)
	}
}

func (s *homegrown) ginAuthorize(c *gin.Context) {
	if ch, ok := pkce.FromContext(c.Request.Context()); ok {
		s.mu.Lock()
		s.challenges = append(s.challenges, ch)
		s.mu.Unlock()
	}
	loc, page, err := s.authorize(ginParam(c))
	switch {
	case err != nil:
		c.String(http.StatusBadRequest, err.Error())
	case loc != "":
		c.Redirect(http.StatusFound, loc)
	default:
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(page))
	}
}

func (s *homegrown) ginToken(c *gin.Context) {
	raw, err := c.GetRawData()
	if err != nil {
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	// c.PostForm reads c.Request.PostForm, which the middleware filled.
	form := url.Values{}
	for _, k := range []string{"grant_type", "code", "code_verifier", "redirect_uri", "client_id", "refresh_token", "scope"} {
		if v, ok := c.GetPostForm(k); ok {
			form.Set(k, v)
		}
	}
	if strings.HasPrefix(c.ContentType(), "application/json") {
		var obj map[string]string
		if err := c.ShouldBindJSON(&obj); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "invalid_request"})
			return
		}
		for k, v := range obj {
			form.Set(k, v)
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(s.token(form, string(raw)))
}

// recordStatus is a Gin middleware placed before pkcegin: after the chain
// it records the status Gin's writer reports, as access loggers do.
func (s *homegrown) recordStatus(c *gin.Context) {
	c.Next()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses = append(s.statuses, c.Writer.Status())
}

type ginStack struct {
	*homegrown
	m   *pkce.Middleware
	srv *httptest.Server
}

func (st *ginStack) url(path string) string { return st.srv.URL + path }

func newMiddleware(t testing.TB, cfg pkce.Config) *pkce.Middleware {
	t.Helper()
	m, err := pkce.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newGinStack serves the homegrown server from a gin.Engine with the
// pkcegin handlers, gin.Recovery and a status recorder before them.
func newGinStack(t *testing.T, cfg pkce.Config) *ginStack {
	t.Helper()
	st := &ginStack{homegrown: newHomegrown(), m: newMiddleware(t, cfg)}
	r := gin.New()
	r.Use(gin.Recovery(), st.recordStatus)
	r.GET("/authorize", pkcegin.Authorize(st.m), st.ginAuthorize)
	r.POST("/authorize", pkcegin.Authorize(st.m), st.ginAuthorize)
	r.POST("/token", pkcegin.Token(st.m), st.ginToken)
	r.GET("/token", pkcegin.Token(st.m), st.ginToken)
	meta := func(c *gin.Context) {
		c.Header("ETag", `"doc-v1"`)
		c.Data(http.StatusOK, "application/json", metadataDoc(st.srv.URL))
	}
	r.GET("/.well-known/oauth-authorization-server", pkcegin.Discovery(st.m), meta)
	r.HEAD("/.well-known/oauth-authorization-server", pkcegin.Discovery(st.m), meta)
	r.GET("/.well-known/openid-configuration", pkcegin.Discovery(st.m), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"issuer": st.srv.URL, "code_challenge_methods_supported": []string{"plain"}})
	})
	st.srv = httptest.NewServer(r)
	t.Cleanup(st.srv.Close)
	return st
}

// --- net/http front end: the reference for refusals ---

func newNetHTTPStack(t *testing.T, cfg pkce.Config) *ginStack {
	t.Helper()
	st := &ginStack{homegrown: newHomegrown(), m: newMiddleware(t, cfg)}
	mux := http.NewServeMux()
	mux.Handle("/authorize", st.m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loc, page, err := st.authorize(r.FormValue)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		case loc != "":
			http.Redirect(w, r, loc, http.StatusFound)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, page)
		}
	})))
	mux.Handle("/token", st.m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		status, obj := st.token(r.PostForm, string(raw))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(obj)
	})))
	st.srv = httptest.NewServer(mux)
	t.Cleanup(st.srv.Close)
	return st
}

// --- client side ---

var browser = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type authResult struct {
	status int
	header http.Header
	body   string
	code   string
	state  string
}

// authorizeQuery is a valid authorization request for verifier, changed by
// edit.
func authorizeQuery(verifier string, edit func(url.Values)) url.Values {
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"state":                 {"xyz"},
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	if edit != nil {
		edit(v)
	}
	return v
}

func send(t *testing.T, method, u, contentType, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// doAuthorize sends an authorization request by GET (query) or POST (form
// body) and reads the code from the Location or the form_post page.
func doAuthorize(t *testing.T, st *ginStack, method string, q url.Values) authResult {
	t.Helper()
	var resp *http.Response
	if method == http.MethodPost {
		resp = send(t, http.MethodPost, st.url("/authorize"), "application/x-www-form-urlencoded", q.Encode(), nil)
	} else {
		resp = send(t, method, st.url("/authorize?"+q.Encode()), "", "", nil)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	res := authResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
	var v url.Values
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		v = u.Query()
		if u.Fragment != "" {
			v, _ = url.ParseQuery(u.EscapedFragment())
		}
	} else {
		v = url.Values{}
		for _, name := range []string{"code", "state"} {
			marker := `name="` + name + `" value="`
			if i := strings.Index(res.body, marker); i >= 0 {
				rest := res.body[i+len(marker):]
				v.Set(name, html.UnescapeString(rest[:strings.IndexByte(rest, '"')]))
			}
		}
	}
	res.code, res.state = v.Get("code"), v.Get("state")
	return res
}

func mustAuthorize(t *testing.T, st *ginStack, method string, q url.Values) authResult {
	t.Helper()
	res := doAuthorize(t, st, method, q)
	if res.code == "" {
		t.Fatalf("no code: status %d, Location %q, body %q", res.status, res.header.Get("Location"), res.body)
	}
	return res
}

func tokenForm(code, verifier string) url.Values {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "client_id": {clientID}}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	return v
}

func postToken(t *testing.T, st *ginStack, form url.Values) *http.Response {
	t.Helper()
	return send(t, http.MethodPost, st.url("/token"), "application/x-www-form-urlencoded", form.Encode(), nil)
}

type oauthRefusal struct {
	Status       int
	ContentType  string
	CacheControl string
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func readRefusal(t *testing.T, resp *http.Response) oauthRefusal {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := oauthRefusal{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), CacheControl: resp.Header.Get("Cache-Control")}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("status %d: not an OAuth error: %q", resp.StatusCode, b)
	}
	return r
}
