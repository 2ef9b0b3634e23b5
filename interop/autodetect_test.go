package interop_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"golang.org/x/oauth2"
)

// TestOAuth2DefaultAuthStyleBasicRefused: golang.org/x/oauth2 with its
// default AuthStyle (auto-detect) first sends the client's credentials with
// HTTP Basic and, when the server refuses, retries at once with them in the
// body. Against a server that refuses Basic, the first attempt passes the
// PKCE check and is refused by the token handler; the retry must get its
// token through the middleware, as it does from the bare server (DESIGN.md
// "Token handler refusals do not cost the code"). Each client logs in twice:
// the second login uses the style x/oauth2 remembered.
func TestOAuth2DefaultAuthStyleBasicRefused(t *testing.T) {
	clients := []struct{ name, id string }{
		{"public client", publicClient},
		{"client_secret_post client", confidentialClient},
	}
	servers := []struct {
		name    string
		wrapped bool
	}{{"bare", false}, {"wrapped", true}}
	for _, srv := range servers {
		for _, cl := range clients {
			t.Run(srv.name+"/"+cl.name, func(t *testing.T) {
				st := newBasicRefusingStack(t, srv.wrapped)
				conf := oauthConfig(st, cl.id, oauth2.AuthStyleAutoDetect)
				for login := 1; login <= 2; login++ {
					verifier := oauth2.GenerateVerifier()
					res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
					tok, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier))
					if err != nil {
						t.Fatalf("login %d: Exchange: %v", login, err)
					}
					if !strings.HasPrefix(tok.AccessToken, "at-") {
						t.Fatalf("login %d: token = %+v", login, tok)
					}
				}
				reqs := st.tokens()
				if len(reqs) != 3 {
					t.Fatalf("%d token requests reached the server; want 3 (Basic refused, body accepted, body accepted)", len(reqs))
				}
				if srv.wrapped {
					// The code stays checked: a replay is refused by the
					// middleware and never reaches the server.
					code := reqs[2].form["code"]
					_, err := conf.Exchange(context.Background(), code, oauth2.VerifierOption("replay-"+strings.Repeat("x", 43)))
					if err == nil {
						t.Fatal("a replay of a redeemed code got a token")
					}
					if n := len(st.tokens()); n != 3 {
						t.Fatalf("a replay reached the server (%d requests)", n)
					}
				}
			})
		}
	}
}

// TestRefusedThenWrongVerifier: the put-back after a token-handler refusal
// gives the code back to the PKCE check, not to anyone: a thief's attempt
// with a wrong verifier after the refusal burns it, and the owner's correct
// retry after that is refused without reaching the server.
func TestRefusedThenWrongVerifier(t *testing.T) {
	st := newBasicRefusingStack(t, true)
	conf := oauthConfig(st, publicClient, oauth2.AuthStyleInHeader)
	verifier := oauth2.GenerateVerifier()
	res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("the server accepted HTTP Basic it refuses")
	}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("a wrong verifier got a token")
	}
	if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code that failed its PKCE check was redeemed")
	}
	if n := len(st.tokens()); n != 1 {
		t.Fatalf("%d token requests reached the server; want only the first, refused one", n)
	}
}

// newBasicRefusingStack is the homegrown server refusing HTTP Basic, behind
// the middleware or bare.
func newBasicRefusingStack(t *testing.T, wrapped bool) *stack {
	t.Helper()
	st := &stack{homegrown: newHomegrown(), m: newMiddleware(t, pkce.Config{}), tap: &tap{}}
	st.refuseBasic = true
	authorize, token := http.Handler(http.HandlerFunc(st.serveAuthorize)), http.Handler(http.HandlerFunc(st.serveToken))
	if wrapped {
		authorize, token = st.m.Authorize(authorize), st.m.Token(token)
	}
	mux := http.NewServeMux()
	mux.Handle("/authorize", authorize)
	mux.Handle("/token", st.tap.wrap(token))
	st.srv = httptest.NewServer(mux)
	t.Cleanup(st.srv.Close)
	return st
}
