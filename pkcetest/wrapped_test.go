package pkcetest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcetest"
)

// The same careless server, wrapped by the middleware, passes the whole
// catalogue under the default policy and under an optional one, for a
// public and a confidential client; and the careless server never minted a
// code nor issued a token for a request the client saw refused.
func TestWrappedCarelessServer(t *testing.T) {
	policies := []struct {
		name   string
		config pkce.Config
		// noChallenge is the verdict on an authorization request without
		// a challenge: refused when PKCE is required, warned when optional;
		// parNoChallenge on a pushed one: refused when PKCE is required,
		// skipped when optional (a pushed request sidesteps nothing).
		noChallenge, parNoChallenge pkcetest.Outcome
	}{
		{"default", pkce.Config{}, pkcetest.Pass, pkcetest.Pass},
		{"optional", pkce.Config{Require: func(*http.Request, string) bool { return false }}, pkcetest.Warn, pkcetest.Skip},
		{"plain", pkce.Config{AllowPlain: true}, pkcetest.Pass, pkcetest.Pass},
		{"redirect-errors", pkce.Config{RedirectErrors: func(_ *http.Request, _, redirectURI string) bool {
			return redirectURI == "http://127.0.0.1:9/callback" // the one the target registers
		}}, pkcetest.Pass, pkcetest.Pass},
	}
	for _, p := range policies {
		for _, secret := range []string{"", "pkcetest-secret"} {
			name := p.name + "/public"
			if secret != "" {
				name = p.name + "/confidential"
			}
			t.Run(name, func(t *testing.T) {
				m, err := pkce.New(p.config)
				if err != nil {
					t.Fatal(err)
				}
				srv, l := startCareless(t, wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, par: m.PAR,
					server: options{redirects: "exact", offerPAR: true}})
				tg := target(srv, secret)

				pkcetest.Run(t, tg)

				byID := audit(t, tg)
				for id, r := range byID {
					if r.Outcome == pkcetest.Fail {
						t.Errorf("%s failed against the wrapped server: %s", id, r.Detail)
					}
				}
				if r := byID["authorize.no-challenge"]; r.Outcome != p.noChallenge {
					t.Errorf("authorize.no-challenge: %s (%s), want %s", r.Outcome, r.Detail, p.noChallenge)
				}
				if r := byID["par.no-challenge"]; r.Outcome != p.parNoChallenge {
					t.Errorf("par.no-challenge: %s (%s), want %s", r.Outcome, r.Detail, p.parNoChallenge)
				}
				if p.name == "plain" {
					for id, want := range map[string]pkcetest.Outcome{
						"metadata.plain-consistent": pkcetest.Pass, "metadata.plain-not-listed": pkcetest.Warn,
						"authorize.method-absent": pkcetest.Pass,
					} {
						if r := byID[id]; r.Outcome != want || !strings.Contains(r.Detail, "advertises plain") && id == "metadata.plain-consistent" {
							t.Errorf("%s: %s (%s), want %s", id, r.Outcome, r.Detail, want)
						}
					}
				}
				if p.name == "redirect-errors" {
					if r := byID["authorize.challenge-hex"]; !strings.Contains(r.Detail, "error=invalid_request sent to the redirect_uri") {
						t.Errorf("authorize.challenge-hex: %s (%s), want the error sent to the redirect_uri", r.Outcome, r.Detail)
					}
				}
				if r := byID["token.basic-form-encoded"]; secret != "" && r.Outcome != pkcetest.Pass {
					t.Errorf("token.basic-form-encoded: %s (%s), want pass", r.Outcome, r.Detail)
				}
				for _, id := range []string{"authorize.valid-s256", "token.valid", "token.parallel",
					"token.retry-wrong-then-none", "token.replay", "token.downgrade", "token.duplicate-grant-type",
					"token.rebind-echo-redirect-query", "token.rebind-echo-code-param",
					"par.valid", "par.verifier-wrong", "par.verifier-missing", "par.outer-challenge"} {
					if r := byID[id]; r.Outcome != pkcetest.Pass {
						t.Errorf("%s: %s (%s), want pass", id, r.Outcome, r.Detail)
					}
				}

				refused, reached := 0, 0
				for _, e := range l.snapshot() {
					if e.status >= 400 {
						refused++
						if e.issued {
							t.Errorf("the careless server issued a %s for a request the client saw refused with HTTP %d: %s %s",
								map[string]string{"authorize": "code", "token": "token", "par": "request_uri"}[e.endpoint], e.status, e.method, e.url)
						}
					}
					if e.issued {
						reached++
					}
				}
				if refused < 30 || reached < 30 {
					t.Errorf("the ledger saw %d refused requests and %d codes or tokens issued; the audit should produce dozens of each", refused, reached)
				}
			})
		}
	}
}

// The kit reads codes from the fragment and from form_post pages as well
// as from the query; the middleware captures them in every mode.
func TestResponseModes(t *testing.T) {
	for _, mode := range []string{"fragment", "form_post"} {
		t.Run(mode, func(t *testing.T) {
			srv, _ := startCareless(t, wrappers{mode: mode})
			byID := audit(t, target(srv, ""))
			for _, id := range []string{"authorize.valid-s256", "token.valid"} {
				if r := byID[id]; r.Outcome != pkcetest.Pass || (id == "authorize.valid-s256" && !strings.Contains(r.Detail, mode)) {
					t.Errorf("unprotected %s: %s %s, want pass via the %s", id, r.Outcome, r.Detail, mode)
				}
			}
			if r := byID["token.verifier-wrong"]; r.Outcome != pkcetest.Fail {
				t.Errorf("unprotected token.verifier-wrong: %s %s, want fail", r.Outcome, r.Detail)
			}

			m, err := pkce.New(pkce.Config{})
			if err != nil {
				t.Fatal(err)
			}
			// It authenticates its client, so that a refusal for client
			// authentication can be retried (token.retry-bad-auth-then-correct).
			srv, _ = startCareless(t, wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, par: m.PAR, mode: mode,
				clients: map[string]string{"pkcetest-client": ""}, server: options{redirects: "exact", offerPAR: true}})
			for id, r := range audit(t, target(srv, "")) {
				if r.Outcome == pkcetest.Fail || (r.Outcome == pkcetest.Skip && id != "token.basic-form-encoded") {
					t.Errorf("wrapped %s: %s %s", id, r.Outcome, r.Detail)
				}
			}
		})
	}
}

// A server with a login step in front of /authorize: without help the
// audit gets no code and says so; with Target.Authorize driving the login
// (here: a session header) or a Client carrying the session cookie, the
// wrapped server passes.
func TestLoginInBetween(t *testing.T) {
	gate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := r.Cookie("session")
			if r.Header.Get("X-Session") != "ok" && (err != nil || c.Value != "ok") {
				http.Redirect(w, r, "/login?return="+url.QueryEscape(r.URL.String()), http.StatusFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startCareless(t, wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, gate: gate,
		server: options{redirects: "exact"}})

	// Without login the first authorization lands on the login page: the
	// audit stops at once and says so, rather than skip every check.
	_, err = pkcetest.Audit(context.Background(), target(srv, ""))
	var login *pkcetest.LoginRequiredError
	if !errors.As(err, &login) || !strings.Contains(login.Got, "/login") || !strings.Contains(err.Error(), "Target.Authorize") {
		t.Errorf("without login: Audit error = %v, want a *LoginRequiredError naming /login and what to set", err)
	}

	tg := target(srv, "")
	noFollow := *srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	calls := 0
	tg.Authorize = func(ctx context.Context, authURL string) (*http.Response, error) {
		calls++
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Session", "ok")
		return noFollow.Do(req)
	}
	for id, r := range audit(t, tg) {
		if r.Outcome == pkcetest.Fail {
			t.Errorf("with Target.Authorize: %s %s", id, r.Detail)
		}
	}
	if calls < 30 {
		t.Errorf("Target.Authorize was called %d times, want one per authorization request", calls)
	}

	tg = target(srv, "")
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "ok", Path: "/"}})
	tg.Client = &http.Client{Jar: jar}
	for id, r := range audit(t, tg) {
		if r.Outcome == pkcetest.Fail {
			t.Errorf("with a session cookie: %s %s", id, r.Detail)
		}
	}
}

// A second registered client (Target.OtherClientID) holding a stolen code
// is refused by the middleware and not by the careless server.
func TestOtherRegisteredClient(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		w    wrappers
		want pkcetest.Outcome
	}{
		{"careless", wrappers{}, pkcetest.Fail},
		{"wrapped", wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, server: options{redirects: "exact"}}, pkcetest.Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := startCareless(t, tc.w)
			tg := target(srv, "")
			tg.OtherClientID, tg.OtherClientSecret = "second-client", "second-secret"
			byID := audit(t, tg)
			for _, id := range []string{"token.other-client-body", "token.other-client-basic"} {
				if r := byID[id]; r.Outcome != tc.want {
					t.Errorf("%s: %s (%s), want %s", id, r.Outcome, r.Detail, tc.want)
				}
			}
		})
	}
}

// Issue 8 items 1 and 4 through the middleware: a stolen code echoed by
// the careless server (in the redirect_uri's query; in a login redirect
// carrying the request's query) stays bound to the victim's challenge,
// and a token request the server refuses for client authentication does
// not cost the code, for a public and a confidential client. Issue 12
// item 6: the pushed flow through the same login redirect (two passes of
// one request_uri) passes the par checks, the client authenticated at the
// PAR endpoint as at the token endpoint.
func TestWrappedStolenCodeAndRetry(t *testing.T) {
	for _, mode := range []string{"", "login"} {
		for _, secret := range []string{"", "pkcetest-secret"} {
			name := "query"
			if mode != "" {
				name = mode
			}
			name += map[bool]string{true: "/public", false: "/confidential"}[secret == ""]
			t.Run(name, func(t *testing.T) {
				m, err := pkce.New(pkce.Config{})
				if err != nil {
					t.Fatal(err)
				}
				srv, _ := startCareless(t, wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, par: m.PAR,
					mode: mode, clients: map[string]string{"pkcetest-client": secret}, server: options{redirects: "exact", offerPAR: true}})
				tg := target(srv, secret)
				if mode == "login" {
					tg.Authorize = followLogin(srv)
				}
				byID := audit(t, tg)
				for _, id := range append([]string{"token.valid", "token.rebind-echo-redirect-query",
					"token.rebind-echo-code-param", "token.retry-bad-auth-then-correct"}, parIDs...) {
					if r := byID[id]; r.Outcome != pkcetest.Pass {
						t.Errorf("%s: %s (%s), want pass", id, r.Outcome, r.Detail)
					}
				}
			})
		}
	}
}
