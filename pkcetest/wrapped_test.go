package pkcetest_test

import (
	"net/http"
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
		// a challenge: refused when PKCE is required, warned when optional.
		noChallenge pkcetest.Outcome
	}{
		{"default", pkce.Config{}, pkcetest.Pass},
		{"optional", pkce.Config{Require: func(*http.Request, string) bool { return false }}, pkcetest.Warn},
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
				srv, l := startCareless(t, wrappers{m.Authorize, m.Token, m.Discovery})
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
				for _, id := range []string{"authorize.valid-s256", "token.valid", "token.parallel",
					"token.retry-wrong-then-none", "token.replay", "token.downgrade", "token.duplicate-grant-type"} {
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
								map[string]string{"authorize": "code", "token": "token"}[e.endpoint], e.status, e.method, e.url)
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
