package pkce_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/go-pkce/pkce"
)

// A homegrown authorization server that knows nothing of PKCE, wrapped by
// the middleware with its defaults.
func Example() {
	m, err := pkce.New(pkce.Config{}) // S256 required, in-memory store
	if err != nil {
		log.Fatal(err)
	}
	codes := map[string]bool{}
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := "code-" + fmt.Sprint(len(codes)+1)
		codes[code] = true
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+code+"&state="+r.FormValue("state"), http.StatusFound)
	})))
	mux.Handle("/token", m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !codes[r.FormValue("code")] {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		delete(codes, r.FormValue("code"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The client: a fresh verifier per authorization request.
	verifier := pkce.GenerateVerifier()
	code := authorizeCode(srv.URL, url.Values{
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	})
	fmt.Println("wrong verifier:", redeem(srv.URL, code, pkce.GenerateVerifier()))
	fmt.Println("then the right one:", redeem(srv.URL, code, verifier))

	code = authorizeCode(srv.URL, url.Values{
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	})
	fmt.Println("right verifier:", redeem(srv.URL, code, verifier))
	fmt.Println("replay:", redeem(srv.URL, code, verifier))
	// Output:
	// wrong verifier: 400 invalid_grant
	// then the right one: 400 invalid_grant
	// right verifier: 200 Bearer
	// replay: 400 invalid_grant
}

// authorizeCode runs an authorization request and returns the code.
func authorizeCode(server string, extra url.Values) string {
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"s"}}
	for k, v := range extra {
		q[k] = v
	}
	resp, err := noRedirect.Get(server + "/authorize?" + q.Encode())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query().Get("code")
}

// redeem exchanges code and returns the status and the error or token type.
func redeem(server, code, verifier string) string {
	resp, err := http.PostForm(server+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"app"},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error     string `json:"error"`
		TokenType string `json:"token_type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if out.Error != "" {
		return fmt.Sprint(resp.StatusCode, " ", out.Error)
	}
	return fmt.Sprint(resp.StatusCode, " ", out.TokenType)
}

// A server whose authorization handler shows a login page and mints the code
// in another handler carries the challenge itself: FromContext while
// authorizing, Record when the code is minted.
func ExampleMiddleware_Record() {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		log.Fatal(err)
	}
	var pending pkce.Challenge // the server's session store, in a real server

	authorize := m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := pkce.FromContext(r.Context())
		fmt.Println("challenge for", c.ClientID, "with", c.Method, ok)
		pending = c
		io.WriteString(w, `<form method="post" action="/login">…</form>`)
	}))
	login := func(w http.ResponseWriter, r *http.Request) {
		code := "minted-after-login"
		if err := m.Record(r.Context(), code, pending); err != nil {
			http.Error(w, "server_error", http.StatusInternalServerError) // never send the code
			return
		}
		http.Redirect(w, r, "http://127.0.0.1:9/cb?code="+code, http.StatusFound)
	}
	token := m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	}))

	verifier := pkce.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {"app"},
		"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
	authorize.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	rec := httptest.NewRecorder()
	login(rec, httptest.NewRequest(http.MethodPost, "/login", nil))
	fmt.Println("login redirects to", rec.Header().Get("Location"))

	for _, v := range []string{verifier, verifier} {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(url.Values{
			"grant_type": {"authorization_code"}, "code": {"minted-after-login"}, "code_verifier": {v}, "client_id": {"app"},
		}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		token.ServeHTTP(rec, req)
		fmt.Println("token:", rec.Code)
	}
	// Output:
	// challenge for app with S256 true
	// login redirects to http://127.0.0.1:9/cb?code=minted-after-login
	// token: 200
	// token: 400
}

// The client side: a fresh verifier for each authorization request, its S256
// challenge in the authorization URL, the verifier in the token request.
func ExampleS256Challenge() {
	verifier := pkce.GenerateVerifier() // keep it in the client's session
	authURL := "https://as.example/authorize?" + url.Values{
		"response_type":         {"code"},
		"client_id":             {"my-app"},
		"redirect_uri":          {"http://127.0.0.1:8000/cb"},
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}.Encode()
	fmt.Println(strings.Contains(authURL, "code_challenge_method=S256"), len(verifier), pkce.ValidateVerifier(verifier))

	// The RFC 7636 Appendix B example.
	fmt.Println(pkce.S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	// Output:
	// true 43 <nil>
	// E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
}

// A metadata handler wrapped by Discovery gets code_challenge_methods_supported.
func ExampleMiddleware_Discovery() {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		log.Fatal(err)
	}
	metadata := m.Discovery(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"issuer":"https://as.example","response_types_supported":["code"]}`)
	}))
	rec := httptest.NewRecorder()
	metadata.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	fmt.Println(rec.Body.String())
	// Output:
	// {"issuer":"https://as.example","response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}
}

func ExampleMiddleware_RewriteMetadata() {
	m, err := pkce.New(pkce.Config{AllowPlain: true})
	if err != nil {
		log.Fatal(err)
	}
	doc, err := m.RewriteMetadata([]byte(`{"issuer":"https://as.example","code_challenge_methods_supported":["plain"],"scopes_supported":["openid"]}`))
	fmt.Println(string(doc), err)
	// Output:
	// {"issuer":"https://as.example","code_challenge_methods_supported":["S256","plain"],"scopes_supported":["openid"]} <nil>
}
