package pkcegin_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcegin"
)

// A Gin authorization server with PKCE: the three pkcegin handlers go in
// front of the server's own, which are unchanged.
func Example() {
	gin.SetMode(gin.ReleaseMode)
	m, err := pkce.New(pkce.Config{}) // S256 required, in-memory store
	if err != nil {
		log.Fatal(err)
	}
	issued := map[string]bool{}

	r := gin.New()
	r.GET("/authorize", pkcegin.Authorize(m), func(c *gin.Context) {
		// The server's own handler: it knows nothing of PKCE.
		code := fmt.Sprintf("code-%d", len(issued)+1)
		issued[code] = true
		c.Redirect(http.StatusFound, c.Query("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(c.Query("state")))
	})
	r.POST("/token", pkcegin.Token(m), func(c *gin.Context) {
		if !issued[c.PostForm("code")] {
			c.JSON(http.StatusBadRequest, gin.H{"error": "invalid_grant"})
			return
		}
		delete(issued, c.PostForm("code"))
		c.JSON(http.StatusOK, gin.H{"access_token": "at-1", "token_type": "Bearer"})
	})
	r.GET("/.well-known/oauth-authorization-server", pkcegin.Discovery(m), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"issuer": "https://as.example"})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	// The metadata now advertises PKCE.
	resp, err := http.Get(srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		log.Fatal(err)
	}
	var meta map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	fmt.Println("metadata:", meta["code_challenge_methods_supported"])

	// An authorization request without a challenge is refused.
	resp, err = http.Get(srv.URL + "/authorize?response_type=code&client_id=app&redirect_uri=https://app.example/cb")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("no challenge:", resp.Status)

	// With one, the code is issued and bound to it.
	verifier := pkce.GenerateVerifier()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = browser.Get(srv.URL + "/authorize?" + url.Values{
		"response_type":         {"code"},
		"client_id":             {"app"},
		"redirect_uri":          {"https://app.example/cb"},
		"state":                 {"xyz"},
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}.Encode())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	code := back.Query().Get("code")
	fmt.Println("authorize:", resp.Status)

	exchange := func(verifier string) {
		resp, err := http.Post(srv.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {code},
			"client_id":     {"app"},
			"redirect_uri":  {"https://app.example/cb"},
			"code_verifier": {verifier},
		}.Encode()))
		if err != nil {
			log.Fatal(err)
		}
		var body struct {
			TokenType string `json:"token_type"`
			Error     string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		fmt.Println("token:", resp.Status, body.TokenType+body.Error)
	}
	exchange(verifier) // the verifier the challenge was computed from
	exchange(verifier) // a code is redeemed once

	// Output:
	// metadata: [S256]
	// no challenge: 400 Bad Request
	// authorize: 302 Found
	// token: 200 OK Bearer
	// token: 400 Bad Request invalid_grant
}
