package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/go-pkce/pkce"
	"golang.org/x/oauth2"
)

// startAuthServer starts the homegrown authorization server behind the
// middleware, as a real server would run it.
func startAuthServer() *httptest.Server {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		log.Fatal(err)
	}
	s := newHomegrown()
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(s.serveAuthorize)))
	mux.Handle("/token", m.Token(http.HandlerFunc(s.serveToken)))
	return httptest.NewServer(mux)
}

// An app that talks to the server with plain net/http: a fresh verifier
// per authorization, its S256 challenge in the authorization URL, the
// verifier with the code at the token endpoint.
func Example_clientNetHTTP() {
	srv := startAuthServer()
	defer srv.Close()

	// 1. Before sending the user to the server: a fresh verifier, kept in
	// the user's session, and its challenge in the authorization URL.
	verifier := pkce.GenerateVerifier()
	authURL := srv.URL + "/authorize?" + url.Values{
		"response_type":         {"code"},
		"client_id":             {"native-app"},
		"redirect_uri":          {"https://client.example/cb"},
		"state":                 {"af0ifjsldkj"},
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}.Encode()

	// 2. The browser follows authURL; the server redirects back with a code.
	// (Here a client that stops at the redirect plays the browser.)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	code := back.Query().Get("code")
	fmt.Println("authorize:", resp.Status, "state", back.Query().Get("state"))

	// 3. The callback exchanges the code, with the verifier from the session.
	exchange := func(verifier string) {
		resp, err := http.PostForm(srv.URL+"/token", url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {code},
			"redirect_uri":  {"https://client.example/cb"},
			"client_id":     {"native-app"},
			"code_verifier": {verifier},
		})
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			TokenType string `json:"token_type"`
			Error     string `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			log.Fatal(err)
		}
		fmt.Println("token:", resp.Status, body.TokenType+body.Error)
	}
	exchange(verifier)
	// A second exchange of the same code is refused, verifier or not.
	exchange(verifier)

	// Output:
	// authorize: 302 Found state af0ifjsldkj
	// token: 200 OK Bearer
	// token: 400 Bad Request invalid_grant
}

// The same app with golang.org/x/oauth2, whose PKCE helpers produce what
// the middleware checks: S256ChallengeOption at the authorization endpoint,
// VerifierOption at the token endpoint.
func Example_clientOAuth2() {
	srv := startAuthServer()
	defer srv.Close()

	conf := &oauth2.Config{
		ClientID:    "native-app",
		RedirectURL: "https://client.example/cb",
		Endpoint: oauth2.Endpoint{
			AuthURL:   srv.URL + "/authorize",
			TokenURL:  srv.URL + "/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}

	verifier := oauth2.GenerateVerifier() // or pkce.GenerateVerifier()
	authURL := conf.AuthCodeURL("af0ifjsldkj", oauth2.S256ChallengeOption(verifier))

	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	code := back.Query().Get("code")

	// A code exchanged with another verifier is refused, and burned.
	_, err = conf.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if re, ok := err.(*oauth2.RetrieveError); ok {
		fmt.Println("wrong verifier:", re.ErrorCode)
	}

	// A fresh authorization, exchanged with its own verifier.
	verifier = oauth2.GenerateVerifier()
	resp, err = browser.Get(conf.AuthCodeURL("af0ifjsldkj", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	back, _ = url.Parse(resp.Header.Get("Location"))
	tok, err := conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token:", tok.Type(), tok.Valid())

	// Output:
	// wrong verifier: invalid_grant
	// token: Bearer true
}
