package pkcegin_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"
	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcegin"
)

// Issue 8 item 2: r.POST("/token", auditLog, pkcegin.Token(m), handler),
// where auditLog reads the body before the middleware, must not let a
// stolen code through without its verifier. Each case runs on a real
// gin.Engine over a real HTTP round trip.

// tokenRequest is what the token handlers below bind.
type tokenRequest struct {
	GrantType    string `json:"grant_type" form:"grant_type"`
	Code         string `json:"code" form:"code"`
	CodeVerifier string `json:"code_verifier" form:"code_verifier"`
	RedirectURI  string `json:"redirect_uri" form:"redirect_uri"`
	ClientID     string `json:"client_id" form:"client_id"`
}

func (q tokenRequest) form() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"grant_type": q.GrantType, "code": q.Code, "code_verifier": q.CodeVerifier,
		"redirect_uri": q.RedirectURI, "client_id": q.ClientID} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// cachedBodyToken is a token handler that binds a JSON body from Gin's
// body cache (c.ShouldBindBodyWith), the way a handler after an auditLog
// that did the same must, and a form body with c.PostForm.
func (s *homegrown) cachedBodyToken(c *gin.Context) {
	var q tokenRequest
	if strings.HasPrefix(c.ContentType(), "application/json") {
		if err := c.ShouldBindBodyWith(&q, binding.JSON); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "invalid_request"})
			return
		}
	} else {
		q = tokenRequest{GrantType: c.PostForm("grant_type"), Code: c.PostForm("code"), CodeVerifier: c.PostForm("code_verifier"),
			RedirectURI: c.PostForm("redirect_uri"), ClientID: c.PostForm("client_id")}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(s.token(q.form(), ""))
}

// auditLogs read the body before pkcegin.Token, as loggers and rate
// limiters do.
var auditLogs = map[string]gin.HandlerFunc{
	"c.PostForm": func(c *gin.Context) { _ = c.PostForm("client_id") },
	"c.ShouldBind": func(c *gin.Context) {
		var q tokenRequest
		_ = c.ShouldBindWith(&q, binding.Form)
	},
	"c.ShouldBindBodyWith JSON": func(c *gin.Context) {
		var q struct {
			ClientID string `json:"client_id"`
		}
		_ = c.ShouldBindBodyWith(&q, binding.JSON)
	},
}

// newAuditStack serves the homegrown server from a gin.Engine whose token
// route is auditLog, pkcegin.Token, then a token handler binding from
// Gin's cache.
func newAuditStack(t *testing.T, auditLog gin.HandlerFunc) *ginStack {
	t.Helper()
	st := &ginStack{homegrown: newHomegrown(), m: newMiddleware(t, pkce.Config{})}
	r := gin.New()
	r.Use(gin.Recovery(), st.recordStatus)
	r.GET("/authorize", pkcegin.Authorize(st.m), st.ginAuthorize)
	r.POST("/authorize", auditLog, pkcegin.Authorize(st.m), st.ginAuthorize)
	r.POST("/token", auditLog, pkcegin.Token(st.m), st.cachedBodyToken)
	st.srv = httptest.NewServer(r)
	t.Cleanup(st.srv.Close)
	return st
}

func tokenJSON(code, verifier string) string {
	b, _ := json.Marshal(tokenRequest{GrantType: "authorization_code", Code: code, CodeVerifier: verifier, RedirectURI: redirectURI, ClientID: clientID})
	return string(b)
}

// TestTokenAfterAuditLog: an auditLog that parsed or cached the body before
// pkcegin.Token: the stolen code without its verifier, or with a wrong one,
// is refused; the legitimate request gets its token; the handler bound
// what was checked.
func TestTokenAfterAuditLog(t *testing.T) {
	for name, auditLog := range auditLogs {
		for _, ct := range []string{"application/x-www-form-urlencoded", "application/json"} {
			t.Run(name+"/"+ct, func(t *testing.T) {
				st := newAuditStack(t, auditLog)
				body := func(code, verifier string) string {
					if ct == "application/json" {
						return tokenJSON(code, verifier)
					}
					return tokenForm(code, verifier).Encode()
				}
				for _, thief := range []string{"", pkce.GenerateVerifier()} {
					res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(pkce.GenerateVerifier(), nil))
					r := readRefusal(t, send(t, http.MethodPost, st.url("/token"), ct, body(res.code, thief), nil))
					if r.Status != http.StatusBadRequest || r.Error != "invalid_grant" {
						t.Fatalf("stolen code, verifier %v: %+v; want invalid_grant", thief != "", r)
					}
				}
				if n := st.tokenRequests(); n != 0 {
					t.Fatalf("%d stolen-code requests reached the handler", n)
				}

				verifier := pkce.GenerateVerifier()
				res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(verifier, nil))
				resp := send(t, http.MethodPost, st.url("/token"), ct, body(res.code, verifier), nil)
				// A form body cached by a JSON binding that failed is read
				// from the cache too.
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("legitimate request: status %d: %+v", resp.StatusCode, readRefusal(t, resp))
				}
				seen := st.lastSeen(t)
				if seen.form.Get("code") != res.code || seen.form.Get("code_verifier") != verifier || seen.grant != "authorization_code" {
					t.Errorf("the handler bound %v", seen.form)
				}
			})
		}
	}
}

// TestTokenAfterDrainingAuditLog: an auditLog that read the body and did
// not put it back (c.GetRawData): refused with 500 naming the misordering;
// nothing reaches the handler, whatever it reads.
func TestTokenAfterDrainingAuditLog(t *testing.T) {
	st := newAuditStack(t, func(c *gin.Context) { _, _ = c.GetRawData() })
	verifier := pkce.GenerateVerifier()
	res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(verifier, nil))
	for _, q := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", tokenForm(res.code, "").Encode()},
		{"application/x-www-form-urlencoded", tokenForm(res.code, verifier).Encode()},
		{"application/json", tokenJSON(res.code, "")},
	} {
		r := readRefusal(t, send(t, http.MethodPost, st.url("/token"), q.ct, q.body, nil))
		if r.Status != http.StatusInternalServerError || r.Error != "server_error" || !strings.Contains(r.Description, "read before the PKCE middleware") {
			t.Errorf("%s: %+v; want 500 server_error naming the misordering", q.ct, r)
		}
	}
	if n := st.tokenRequests(); n != 0 {
		t.Fatalf("%d requests reached the handler", n)
	}
}

// TestTokenShouldBindBodyWithBypass is the attack of issue 8 item 2
// exactly: the auditLog caches the JSON body, the token handler binds the
// cache, and the stolen code comes with no verifier. Before the fix the
// middleware read an empty body, took the request for another grant and
// passed it on.
func TestTokenShouldBindBodyWithBypass(t *testing.T) {
	st := newAuditStack(t, auditLogs["c.ShouldBindBodyWith JSON"])
	res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(pkce.GenerateVerifier(), nil))
	stolen := `{"grant_type":"authorization_code","code":"` + res.code + `","redirect_uri":"` + redirectURI + `","client_id":"` + clientID + `"}`
	r := readRefusal(t, send(t, http.MethodPost, st.url("/token"), "application/json", stolen, nil))
	if r.Status != http.StatusBadRequest || r.Error != "invalid_grant" {
		t.Fatalf("stolen code without a verifier: %+v; want invalid_grant", r)
	}
	if n := st.tokenRequests(); n != 0 {
		t.Fatalf("the stolen code reached the handler")
	}
	if s := st.lastStatus(t); s != http.StatusBadRequest {
		t.Errorf("c.Writer.Status() before pkcegin = %d", s)
	}
}

// TestAuthorizeAfterAuditLog: a POST authorization request whose form an
// auditLog parsed before pkcegin.Authorize: checked from the parsed form,
// the code bound; a drained body is refused with 500 and issues no code.
func TestAuthorizeAfterAuditLog(t *testing.T) {
	st := newAuditStack(t, auditLogs["c.PostForm"])
	verifier := pkce.GenerateVerifier()
	res := mustAuthorize(t, st, http.MethodPost, authorizeQuery(verifier, nil))
	if r := readRefusal(t, postToken(t, st, tokenForm(res.code, ""))); r.Error != "invalid_grant" {
		t.Fatalf("the code was not bound: %+v", r)
	}
	res = mustAuthorize(t, st, http.MethodPost, authorizeQuery(verifier, nil))
	if resp := postToken(t, st, tokenForm(res.code, verifier)); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	noChallenge := authorizeQuery("", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") })
	if res := doAuthorize(t, st, http.MethodPost, noChallenge); res.status != http.StatusBadRequest || res.code != "" {
		t.Errorf("no challenge: %d %q; want 400 and no code", res.status, res.body)
	}

	drained := newAuditStack(t, func(c *gin.Context) { _, _ = c.GetRawData() })
	res = doAuthorize(t, drained, http.MethodPost, authorizeQuery(verifier, nil))
	if res.status != http.StatusInternalServerError || res.code != "" || !strings.Contains(res.body, "read before the PKCE middleware") {
		t.Errorf("drained: %d %q; want 500 naming the misordering, no code", res.status, res.body)
	}
}

// TestTokenHandlerRefusalKeepsCode: the chain after pkcegin.Token refuses a
// request that passed the PKCE check (HTTP Basic, which this server does
// not accept for the client, as golang.org/x/oauth2 tries first): the
// code is put back, and the retry with the client in the body gets the
// token. A replay after that is refused.
func TestTokenHandlerRefusalKeepsCode(t *testing.T) {
	st := &ginStack{homegrown: newHomegrown(), m: newMiddleware(t, pkce.Config{})}
	r := gin.New()
	r.Use(gin.Recovery(), st.recordStatus)
	r.GET("/authorize", pkcegin.Authorize(st.m), st.ginAuthorize)
	r.POST("/token", pkcegin.Token(st.m), func(c *gin.Context) {
		if _, _, ok := c.Request.BasicAuth(); ok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "invalid_client"})
			return
		}
		st.ginToken(c)
	})
	st.srv = httptest.NewServer(r)
	t.Cleanup(st.srv.Close)

	verifier := pkce.GenerateVerifier()
	res := mustAuthorize(t, st, http.MethodGet, authorizeQuery(verifier, nil))
	first := tokenForm(res.code, verifier)
	first.Del("client_id")
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"))}}
	resp := send(t, http.MethodPost, st.url("/token"), "application/x-www-form-urlencoded", first.Encode(), basic)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("first attempt: status %d; want the handler's 401", resp.StatusCode)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp := postToken(t, st, tokenForm(res.code, verifier)); resp.StatusCode != http.StatusOK {
		t.Fatalf("retry: status %d %+v; want the token", resp.StatusCode, readRefusal(t, resp))
	}
	if r := readRefusal(t, postToken(t, st, tokenForm(res.code, verifier))); r.Error != "invalid_grant" {
		t.Errorf("replay: %+v; want invalid_grant", r)
	}
	if s := st.lastStatus(t); s != http.StatusBadRequest {
		t.Errorf("c.Writer.Status() before pkcegin = %d", s)
	}
}
