package pkcetest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-pkce/pkce/pkcetest"
)

// The rebind checks against the careless server behind PKCE layers with
// and without the faults of issue 8 item 1, answering codes in the query
// (where only the redirect_uri's own query can carry an echo) or sending
// each request to /login?<its query> first (where an extra code parameter
// is echoed too).
func TestRebindEcho(t *testing.T) {
	const (
		redirectQuery = "token.rebind-echo-redirect-query"
		codeParam     = "token.rebind-echo-code-param"
	)
	type want struct{ redirectQuery, codeParam pkcetest.Outcome }
	const pass, fail, warn = pkcetest.Pass, pkcetest.Fail, pkcetest.Warn
	tests := []struct {
		name   string
		faults *faults // nil: the careless server alone
		query  want    // mode "": codes in the query
		login  want    // mode "login"
		words  string  // in the detail of every verdict but pass
	}{
		{"unprotected", nil, want{fail, fail}, want{fail, fail}, "rebound to the attacker's challenge"},
		{"binds echoes, rebinds", &faults{bindEchoes: true, onBound: "rebind"},
			want{fail, pass}, want{fail, fail}, "rebound to the attacker's challenge"},
		{"binds echoes, burns them", &faults{bindEchoes: true, onBound: "burn"},
			want{warn, pass}, want{warn, warn}, "the victim's own verifier no longer redeemed it"},
		{"binds echoes, fails closed", &faults{bindEchoes: true}, want{pass, pass}, want{pass, pass}, ""},
		{"binds issued codes only, rebinds", &faults{onBound: "rebind"}, want{pass, pass}, want{pass, pass}, ""},
	}
	for _, tc := range tests {
		for _, mode := range []string{"", "login"} {
			name := tc.name + "/query"
			expect := tc.query
			if mode == "login" {
				name, expect = tc.name+"/login", tc.login
			}
			t.Run(name, func(t *testing.T) {
				w := wrappers{mode: mode}
				if tc.faults != nil {
					layer := &sloppyPKCE{faults: *tc.faults}
					w.authorize, w.token = layer.authorize, layer.token
				}
				srv, _ := startCareless(t, w)
				tg := target(srv, "")
				if mode == "login" {
					tg.Authorize = followLogin(srv)
				}
				byID := audit(t, tg)
				for id, o := range map[string]pkcetest.Outcome{redirectQuery: expect.redirectQuery, codeParam: expect.codeParam} {
					r := byID[id]
					if r.Outcome != o {
						t.Errorf("%s: %s (%s), want %s", id, r.Outcome, r.Detail, o)
					}
					if o != pass && !strings.Contains(r.Detail, tc.words) {
						t.Errorf("%s: detail %q lacks %q", id, r.Detail, tc.words)
					}
				}
				if tc.faults != nil {
					// The layer checks verifiers: what fails is the rebind.
					for _, id := range []string{"token.valid", "token.verifier-wrong", "token.retry-wrong-then-correct"} {
						if r := byID[id]; r.Outcome != pass {
							t.Errorf("%s: %s (%s), want pass", id, r.Outcome, r.Detail)
						}
					}
				}
			})
		}
	}
}

// A server that matches redirect URIs exactly refuses the attacker's
// redirect_uri with a query of its own: the echo cannot be produced, so
// even a rebinding layer behind it passes, and the detail says why.
func TestRebindEchoExactRedirect(t *testing.T) {
	exact := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.FormValue("redirect_uri") != "http://127.0.0.1:9/callback" {
				http.Error(w, "invalid_request: redirect_uri is not registered", http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	layer := &sloppyPKCE{faults: faults{bindEchoes: true, onBound: "rebind"}}
	srv, _ := startCareless(t, wrappers{authorize: layer.authorize, token: layer.token, gate: exact})
	r := audit(t, target(srv, ""))["token.rebind-echo-redirect-query"]
	if r.Outcome != pkcetest.Pass || !strings.Contains(r.Detail, "was refused (HTTP 400") {
		t.Errorf("%s (%s), want pass saying the attacker's request was refused", r.Outcome, r.Detail)
	}
}

// token.retry-bad-auth-then-correct, for a public and a confidential
// client: skipped when the server does not refuse the bad credentials,
// passed when the refusal does not cost the code, warned (never failed)
// when it does.
func TestRetryBadAuth(t *testing.T) {
	const id = "token.retry-bad-auth-then-correct"
	tests := []struct {
		name         string
		authenticate bool    // the careless server authenticates clients
		faults       *faults // nil: no PKCE layer
		want         pkcetest.Outcome
		words        string
	}{
		{"no client authentication", false, nil, pkcetest.Skip, "so there is no refusal to recover from"},
		{"unprotected", true, nil, pkcetest.Pass, "then got a token"},
		{"refusal burns the code", true, &faults{burnRefused: true}, pkcetest.Warn, "the refusal cost the code"},
		{"refusal puts the challenge back", true, &faults{}, pkcetest.Pass, "then got a token"},
	}
	for _, tc := range tests {
		for _, secret := range []string{"", "pkcetest-secret"} {
			name := tc.name + "/public"
			if secret != "" {
				name = tc.name + "/confidential"
			}
			t.Run(name, func(t *testing.T) {
				w := wrappers{}
				if tc.authenticate {
					w.clients = map[string]string{"pkcetest-client": secret}
				}
				if tc.faults != nil {
					layer := &sloppyPKCE{faults: *tc.faults}
					w.authorize, w.token = layer.authorize, layer.token
				}
				srv, l := startCareless(t, w)
				r := audit(t, target(srv, secret))[id]
				if r.Outcome != tc.want || !strings.Contains(r.Detail, tc.words) {
					t.Errorf("%s (%s), want %s saying %q", r.Outcome, r.Detail, tc.want, tc.words)
				}
				if tc.authenticate {
					// The bad credentials reached the server's client
					// authentication, which refused them.
					found := false
					for _, e := range l.snapshot() {
						found = found || e.endpoint == "token" && e.status == http.StatusUnauthorized
					}
					if !found {
						t.Error("no token request was refused with 401")
					}
				}
			})
		}
	}
}
