package pkce_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/go-pkce/pkce"
)

// ExampleMiddleware_PAR wraps a pushed authorization request endpoint (RFC
// 9126). The pushed challenge is recorded before the request_uri leaves,
// and the code the authorization endpoint issues for that request_uri is
// bound to it. Put a rate limiter in front of the PAR endpoint: each
// accepted push writes a store entry with no user in the loop.
func ExampleMiddleware_PAR() {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		panic(err)
	}
	pushed := map[string]url.Values{} // the server's own pushed requests
	mux := http.NewServeMux()
	mux.Handle("/par", m.PAR(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm() // client authentication is the server's, as always
		uri := "urn:ietf:params:oauth:request_uri:abc123"
		pushed[uri] = r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"request_uri":%q,"expires_in":60}`, uri)
	})))
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pushed[r.FormValue("request_uri")]
		http.Redirect(w, r, p.Get("redirect_uri")+"?code=SplxlOBeZQQYbYS6WxSbIA&state="+p.Get("state"), http.StatusFound)
	})))

	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	form := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"https://app.example/cb"},
		"state": {"xyz"}, "code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
	req := httptest.NewRequest(http.MethodPost, "/par", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, string(body))

	for range 2 {
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize?client_id=app&request_uri=urn:ietf:params:oauth:request_uri:abc123", nil))
		fmt.Println(rec.Code, rec.Header().Get("Location"))
	}
	// Output:
	// 201 {"request_uri":"urn:ietf:params:oauth:request_uri:abc123","expires_in":60}
	// 302 https://app.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz
	// 400
}
