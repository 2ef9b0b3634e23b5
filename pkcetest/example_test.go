package pkcetest_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcetest"
)

// homegrown is a minimal authorization server that knows nothing of PKCE:
// /authorize consents at once for its registered redirect URI, /token
// redeems any code it issued.
func homegrown(wrap func(string, http.Handler) http.Handler) *httptest.Server {
	var mu sync.Mutex
	codes := map[string]bool{}
	var issuer string
	mux := http.NewServeMux()
	mux.Handle("/authorize", wrap("authorize", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The one registered redirect URI (RFC 6749 §3.1.2: a query the
		// client adds is kept).
		u, err := url.Parse(r.FormValue("redirect_uri"))
		if err != nil || u.Scheme+"://"+u.Host+u.Path != "http://127.0.0.1:8765/callback" {
			http.Error(w, "unregistered redirect_uri", http.StatusBadRequest)
			return
		}
		code := rand.Text()
		mu.Lock()
		codes[code] = true
		mu.Unlock()
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+code+"&state="+r.FormValue("state"), http.StatusFound)
	})))
	mux.Handle("/token", wrap("token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		mu.Lock()
		ok := codes[r.FormValue("code")]
		mu.Unlock()
		if !ok || r.FormValue("grant_type") != "authorization_code" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"unknown code"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer"}`, rand.Text())
	})))
	metadata := wrap("discovery", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
		})
	}))
	mux.Handle("/.well-known/oauth-authorization-server", metadata)
	mux.Handle("/.well-known/openid-configuration", metadata)
	srv := httptest.NewServer(mux)
	issuer = srv.URL
	return srv
}

// Audit a server before and after wrapping it with the PKCE middleware.
func ExampleAudit() {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		panic(err)
	}
	servers := []struct {
		name string
		wrap func(string, http.Handler) http.Handler
	}{
		{"unprotected", func(_ string, h http.Handler) http.Handler { return h }},
		{"wrapped", func(endpoint string, h http.Handler) http.Handler {
			switch endpoint {
			case "authorize":
				return m.Authorize(h)
			case "token":
				return m.Token(h)
			}
			return m.Discovery(h)
		}},
	}
	for _, s := range servers {
		srv := homegrown(s.wrap)
		results, err := pkcetest.Audit(context.Background(), pkcetest.Target{
			Issuer:      srv.URL,
			ClientID:    "my-app",
			RedirectURI: "http://127.0.0.1:8765/callback",
		})
		srv.Close()
		if err != nil {
			panic(err)
		}
		fails := 0
		for _, r := range results {
			if r.Outcome == pkcetest.Fail {
				fails++
			}
			if r.ID == "token.retry-wrong-then-none" {
				fmt.Printf("%s: %s %s\n", s.name, r.ID, r.Outcome)
			}
		}
		fmt.Printf("%s: any fail: %t\n", s.name, fails > 0)
	}
	// Output:
	// unprotected: token.retry-wrong-then-none fail
	// unprotected: any fail: true
	// wrapped: token.retry-wrong-then-none pass
	// wrapped: any fail: false
}
