package pkcegin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcegin"
)

// TestResponseModes: through Gin, a code is bound wherever the handler puts
// it (Location query, Location fragment for code id_token, form_post page),
// by GET and POST; it is redeemed with its verifier, and a wrong verifier
// is refused and burns it.
func TestResponseModes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		edit   func(url.Values)
		check  func(t *testing.T, res authResult)
	}{
		{"query", http.MethodGet, nil, wantRedirect("?")},
		{"query/POST", http.MethodPost, nil, wantRedirect("?")},
		{"fragment/code id_token", http.MethodGet, func(v url.Values) {
			v.Set("response_type", "code id_token")
			v.Set("nonce", "n-0S6_WzA2Mj")
		}, wantRedirect("#")},
		{"form_post", http.MethodGet, func(v url.Values) { v.Set("response_mode", "form_post") }, wantPage},
		{"form_post/POST", http.MethodPost, func(v url.Values) { v.Set("response_mode", "form_post") }, wantPage},
		{"form_post/code id_token", http.MethodGet, func(v url.Values) {
			v.Set("response_type", "code id_token")
			v.Set("response_mode", "form_post")
		}, wantPage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newGinStack(t, pkce.Config{})
			verifier := pkce.GenerateVerifier()
			res := mustAuthorize(t, st, tc.method, authorizeQuery(verifier, tc.edit))
			tc.check(t, res)
			if res.state != "xyz" {
				t.Errorf("state %q", res.state)
			}
			if got := st.lastStatus(t); got != res.status {
				t.Errorf("c.Writer.Status() before pkcegin = %d; the client got %d", got, res.status)
			}
			if resp := postToken(t, st, tokenForm(res.code, verifier)); resp.StatusCode != http.StatusOK {
				t.Fatalf("exchange with the verifier: %d %+v", resp.StatusCode, readRefusal(t, resp))
			}

			res = mustAuthorize(t, st, tc.method, authorizeQuery(verifier, tc.edit))
			for _, v := range []string{pkce.GenerateVerifier(), verifier, ""} {
				r := readRefusal(t, postToken(t, st, tokenForm(res.code, v)))
				if r.Status != http.StatusBadRequest || r.Error != "invalid_grant" {
					t.Fatalf("verifier %q after a failed check: %+v; want invalid_grant", v, r)
				}
			}
			if st.tokenRequests() != 1 {
				t.Errorf("%d token requests reached the handler; want 1", st.tokenRequests())
			}
		})
	}
}

func wantRedirect(sep string) func(*testing.T, authResult) {
	return func(t *testing.T, res authResult) {
		t.Helper()
		if loc := res.header.Get("Location"); res.status != http.StatusFound || !strings.HasPrefix(loc, redirectURI+sep) {
			t.Errorf("status %d Location %q; want 302 to %s%s", res.status, loc, redirectURI, sep)
		}
	}
}

func wantPage(t *testing.T, res authResult) {
	t.Helper()
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") ||
		res.header.Get("Content-Length") != strconv.Itoa(len(res.body)) {
		t.Errorf("status %d, Content-Type %q, Content-Length %q for %d bytes; want the 200 HTML page",
			res.status, res.header.Get("Content-Type"), res.header.Get("Content-Length"), len(res.body))
	}
}

// TestGinSemantics: handlers written the Gin way still have their codes
// bound: a status set before the Location header (Gin sends the header
// only at the first write), a page flushed halfway, a response left to Gin
// to finish; and pkce.FromContext works on c.Request.
// mintedCode is the code the handler at c's path issues. It comes from the
// server, not from the request: a value the request carried is never taken
// for an issued code (pkce DESIGN, Authorize 7).
func mintedCode(c *gin.Context) string { return "code-" + strings.Trim(c.FullPath(), "/") }

func TestGinSemantics(t *testing.T) {
	wantStatus := map[string]int{"/status-then-header": http.StatusFound, "/flushed-page": http.StatusOK, "/from-context": http.StatusSeeOther}
	handlers := map[string]gin.HandlerFunc{
		"/status-then-header": func(c *gin.Context) {
			c.Status(http.StatusFound)
			c.Header("Location", redirectURI+"?code="+mintedCode(c))
		},
		"/flushed-page": func(c *gin.Context) {
			c.Header("Content-Type", "text/html")
			_, _ = c.Writer.WriteString(`<html><body><form method="post" action="` + redirectURI + `">`)
			c.Writer.Flush()
			_, _ = c.Writer.WriteString(`<input type="hidden" name="code" value="` + mintedCode(c) + `"></form></body></html>`)
		},
		"/from-context": func(c *gin.Context) {
			ch, ok := pkce.FromContext(c.Request.Context())
			if !ok || ch.Method != pkce.S256 || ch.ClientID != clientID {
				c.String(http.StatusInternalServerError, "FromContext: %v %+v", ok, ch)
				return
			}
			c.Redirect(http.StatusSeeOther, redirectURI+"?code="+mintedCode(c))
		},
	}
	for path, h := range handlers {
		t.Run(path, func(t *testing.T) {
			st := &ginStack{homegrown: newHomegrown(), m: newMiddleware(t, pkce.Config{})}
			r := gin.New()
			r.GET(path, pkcegin.Authorize(st.m), h)
			r.POST("/token", pkcegin.Token(st.m), st.ginToken)
			st.srv = httptest.NewServer(r)
			t.Cleanup(st.srv.Close)

			verifier := pkce.GenerateVerifier()
			code := "code-" + strings.Trim(path, "/")
			st.codes[code] = true
			resp := send(t, http.MethodGet, st.url(path+"?"+authorizeQuery(verifier, nil).Encode()), "", "", nil)
			if resp.StatusCode != wantStatus[path] {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("authorize: %d %s; want %d", resp.StatusCode, b, wantStatus[path])
			}
			// The code was bound: a wrong verifier is refused, and then
			// the right one too, since the failed check burned it.
			if r := readRefusal(t, postToken(t, st, tokenForm(code, pkce.GenerateVerifier()))); r.Error != "invalid_grant" || !strings.Contains(r.Description, "does not match") {
				t.Fatalf("wrong verifier: %+v; want the code bound to the challenge", r)
			}
		})
	}
}

// TestRefusals: every refusal is the OAuth error net/http gives, the rest
// of the chain does not run, and a Gin middleware before pkcegin sees the
// refusal's status.
func TestRefusals(t *testing.T) {
	basic := func(user string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user)+":secret"))}}
	}
	for _, tc := range []struct {
		name      string
		wantError string
		send      func(t *testing.T, st *ginStack) *http.Response
	}{
		{"authorize/no challenge", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			return send(t, http.MethodGet, st.url("/authorize?"+authorizeQuery("", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }).Encode()), "", "", nil)
		}},
		{"authorize/plain", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			v := pkce.GenerateVerifier()
			return send(t, http.MethodGet, st.url("/authorize?"+authorizeQuery("", func(q url.Values) { q.Set("code_challenge", v); q.Set("code_challenge_method", "plain") }).Encode()), "", "", nil)
		}},
		{"authorize/hex challenge", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			return send(t, http.MethodGet, st.url("/authorize?"+authorizeQuery("", func(q url.Values) { q.Set("code_challenge", strings.Repeat("ab", 32)) }).Encode()), "", "", nil)
		}},
		{"authorize/duplicate state", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			return send(t, http.MethodGet, st.url("/authorize?"+authorizeQuery(pkce.GenerateVerifier(), func(q url.Values) { q.Add("state", "") }).Encode()), "", "", nil)
		}},
		{"authorize/POST JSON", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			// A code request by its query whose body cannot be read.
			return send(t, http.MethodPost, st.url("/authorize?response_type=code"), "application/json", `{"client_id":"app"}`, nil)
		}},
		{"token/wrong verifier", "invalid_grant", func(t *testing.T, st *ginStack) *http.Response {
			res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(pkce.GenerateVerifier(), nil))
			return postToken(t, st, tokenForm(res.code, pkce.GenerateVerifier()))
		}},
		{"token/no verifier", "invalid_grant", func(t *testing.T, st *ginStack) *http.Response {
			res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(pkce.GenerateVerifier(), nil))
			return postToken(t, st, tokenForm(res.code, ""))
		}},
		{"token/bad verifier characters", "invalid_grant", func(t *testing.T, st *ginStack) *http.Response {
			res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(pkce.GenerateVerifier(), nil))
			return postToken(t, st, tokenForm(res.code, strings.Repeat("+/", 22)))
		}},
		{"token/downgrade", "invalid_grant", func(t *testing.T, st *ginStack) *http.Response {
			return postToken(t, st, tokenForm("never-issued", pkce.GenerateVerifier()))
		}},
		{"token/verifier in query", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(pkce.GenerateVerifier(), nil))
			return send(t, http.MethodPost, st.url("/token?code_verifier="+pkce.GenerateVerifier()), "application/x-www-form-urlencoded", tokenForm(res.code, "").Encode(), nil)
		}},
		{"token/GET", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			return send(t, http.MethodGet, st.url("/token?"+tokenForm("c", pkce.GenerateVerifier()).Encode()), "", "", nil)
		}},
		{"token/multipart", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			return send(t, http.MethodPost, st.url("/token"), "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nauthorization_code\r\n--x--\r\n", nil)
		}},
		{"token/Basic differs from client_id", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			return send(t, http.MethodPost, st.url("/token"), "application/x-www-form-urlencoded", tokenForm("c", pkce.GenerateVerifier()).Encode(), basic("other-app"))
		}},
		{"token/body too large", "invalid_request", func(t *testing.T, st *ginStack) *http.Response {
			return send(t, http.MethodPost, st.url("/token"), "application/x-www-form-urlencoded", "grant_type=refresh_token&pad="+strings.Repeat("a", 70<<10), nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := newNetHTTPStack(t, pkce.Config{})
			want := readRefusal(t, tc.send(t, ref))
			if want.Status != http.StatusBadRequest || want.Error != tc.wantError || want.Description == "" {
				t.Fatalf("net/http: %+v; want 400 %s with a description", want, tc.wantError)
			}
			st := newGinStack(t, pkce.Config{})
			got := readRefusal(t, tc.send(t, st))
			if got != want {
				t.Errorf("gin:      %+v\nnet/http: %+v", got, want)
			}
			if n := st.tokenRequests(); n != 0 {
				t.Errorf("the chain ran on a refusal: %d token requests reached the handler", n)
			}
			if s := st.lastStatus(t); s != got.Status {
				t.Errorf("c.Writer.Status() before pkcegin = %d; the client got %d", s, got.Status)
			}
		})
	}
}

// TestStoreFailure: when the challenge cannot be recorded the client gets
// the middleware's 500 and never the code, and Gin's writer says 500.
func TestStoreFailure(t *testing.T) {
	st := newGinStack(t, pkce.Config{Store: failingStore{}})
	res := doAuthorize(t, st, http.MethodGet, authorizeQuery(pkce.GenerateVerifier(), nil))
	if res.status != http.StatusInternalServerError || res.header.Get("Location") != "" || strings.Contains(res.body, "code=") {
		t.Fatalf("status %d, Location %q, body %q; want a 500 without the code", res.status, res.header.Get("Location"), res.body)
	}
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(res.body), &e); err != nil || e.Error != "server_error" {
		t.Fatalf("body %q; want server_error", res.body)
	}
	if s := st.lastStatus(t); s != http.StatusInternalServerError {
		t.Errorf("c.Writer.Status() before pkcegin = %d; want 500", s)
	}
}

type failingStore struct{}

func (failingStore) Save(context.Context, string, pkce.Challenge) error {
	return errors.New("connection refused")
}

func (failingStore) Take(context.Context, string) (pkce.Challenge, error) {
	return pkce.Challenge{}, errors.New("connection refused")
}

// TestPassThrough: other grants reach the Gin handler untouched: the raw
// body byte for byte (c.GetRawData), c.PostForm and JSON binding.
func TestPassThrough(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		want                    url.Values
	}{
		{"refresh_token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=rt-1&scope=openid+profile",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-1"}, "scope": {"openid profile"}}},
		{"client_credentials", "application/x-www-form-urlencoded; charset=utf-8", "scope=api&grant_type=client_credentials&client_id=svc",
			url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}, "client_id": {"svc"}}},
		{"refresh_token/JSON", "application/json", `{"grant_type":"refresh_token","refresh_token":"rt-2"}`,
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newGinStack(t, pkce.Config{})
			resp := send(t, http.MethodPost, st.url("/token"), tc.contentType, tc.body, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d %+v", resp.StatusCode, readRefusal(t, resp))
			}
			seen := st.lastSeen(t)
			if seen.body != tc.body {
				t.Errorf("c.GetRawData() = %q; sent %q", seen.body, tc.body)
			}
			if seen.form.Encode() != tc.want.Encode() {
				t.Errorf("the handler read %v; want %v", seen.form, tc.want)
			}
		})
	}
}

// TestCodeExchangeForm: the Gin token handler reads the authorization_code
// request through c.PostForm as the client sent it.
func TestCodeExchangeForm(t *testing.T) {
	st := newGinStack(t, pkce.Config{})
	verifier := pkce.GenerateVerifier()
	res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(verifier, nil))
	form := tokenForm(res.code, verifier)
	if resp := postToken(t, st, form); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	seen := st.lastSeen(t)
	if seen.form.Encode() != form.Encode() || seen.body != form.Encode() {
		t.Errorf("the handler read %v, body %q; sent %q", seen.form, seen.body, form.Encode())
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.challenges) != 1 || st.challenges[0].Value != pkce.S256Challenge(verifier) {
		t.Errorf("pkce.FromContext in the Gin handler: %+v", st.challenges)
	}
}

// TestDiscovery: Gin's JSON gets code_challenge_methods_supported, every
// other member in its place, Content-Length right, ETag dropped; an existing
// wrong value is replaced; HEAD is not rewritten but loses Content-Length.
func TestDiscovery(t *testing.T) {
	st := newGinStack(t, pkce.Config{AllowPlain: true})

	resp := send(t, http.MethodGet, st.url("/.well-known/oauth-authorization-server"), "", "", nil)
	b, _ := io.ReadAll(resp.Body)
	doc := metadataDoc(st.srv.URL)
	want := string(doc[:len(doc)-1]) + `,"code_challenge_methods_supported":["S256","plain"]}`
	if string(b) != want {
		t.Errorf("document\n got %s\nwant %s", b, want)
	}
	if resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) || resp.Header.Get("ETag") != "" {
		t.Errorf("Content-Length %q (want %d), ETag %q (want none)", resp.Header.Get("Content-Length"), len(want), resp.Header.Get("ETag"))
	}

	resp = send(t, http.MethodGet, st.url("/.well-known/openid-configuration"), "", "", nil)
	var meta struct {
		Issuer  string   `json:"issuer"`
		Methods []string `json:"code_challenge_methods_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.Issuer != st.srv.URL || strings.Join(meta.Methods, ",") != "S256,plain" {
		t.Errorf("c.JSON document: %+v; want the methods replaced by S256,plain", meta)
	}

	resp = send(t, http.MethodHead, st.url("/.well-known/oauth-authorization-server"), "", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != "" {
		t.Errorf("HEAD: status %d, Content-Length %q; want 200 without Content-Length", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
}

// TestRecovery: a handler that panics behind pkcegin is answered by
// gin.Recovery with a 500, and the engine goes on serving.
func TestRecovery(t *testing.T) {
	m := newMiddleware(t, pkce.Config{})
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	r.GET("/authorize", pkcegin.Authorize(m), func(c *gin.Context) {
		c.Header("Location", redirectURI+"?code=leaked")
		panic("consent store down")
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for range 2 {
		resp := send(t, http.MethodGet, srv.URL+"/authorize?"+authorizeQuery(pkce.GenerateVerifier(), nil).Encode(), "", "", nil)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d; want gin.Recovery's 500", resp.StatusCode)
		}
	}
}

// TestHijack: the connection cannot be taken from under the middleware.
func TestHijack(t *testing.T) {
	m := newMiddleware(t, pkce.Config{})
	var err error
	r := gin.New()
	r.GET("/authorize", pkcegin.Authorize(m), func(c *gin.Context) {
		_, _, err = c.Writer.Hijack()
		c.String(http.StatusOK, "ok")
	})
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/authorize?"+authorizeQuery(pkce.GenerateVerifier(), nil).Encode(), nil)
	r.ServeHTTP(w, req)
	if err == nil || w.Code != http.StatusOK {
		t.Fatalf("Hijack error %v, status %d; want an error and the handler's 200", err, w.Code)
	}
}
