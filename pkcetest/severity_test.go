package pkcetest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcetest"
)

// verdict is an expected outcome and words its detail must contain.
type verdict struct {
	outcome pkcetest.Outcome
	words   string
}

const (
	pass = pkcetest.Pass
	fail = pkcetest.Fail
	warn = pkcetest.Warn
	skip = pkcetest.Skip
	info = pkcetest.Info
)

// The severity rule of issue 9 against careless variants, one flaw or
// manner at a time: fail only where the check demonstrates harm, warn for
// a deviation it could not turn into harm, skip when a precondition is not
// met, info for a client's duty.
func TestSeverityRule(t *testing.T) {
	wrapped := func(o options) func(t *testing.T) wrappers {
		return func(t *testing.T) wrappers {
			m, err := pkce.New(pkce.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, server: o}
		}
	}
	sloppy := func(f faults, o options) func(t *testing.T) wrappers {
		return func(t *testing.T) wrappers {
			layer := &sloppyPKCE{faults: f}
			return wrappers{authorize: layer.authorize, token: layer.token, server: o}
		}
	}
	exact := options{redirects: "exact"}
	tests := []struct {
		name    string
		server  func(t *testing.T) wrappers
		clients map[string]string
		other   [2]string // OtherClientID, OtherClientSecret
		want    map[string]verdict
	}{
		{"a layer that burns codes on the first try and reads verifiers leniently", sloppy(faults{}, exact), nil, [2]string{},
			map[string]verdict{
				// Malformed verifiers accepted, but no brute force: warn.
				"token.verifier-short":     {warn, "a wrong verifier is refused and burns the code"},
				"token.verifier-malformed": {warn, "no harm shown"},
				"token.verifier-long":      {warn, "no harm shown"},
				"token.verifier-non-ascii": {warn, "no harm shown"},
				// invalid_request answers a missing verifier rightly.
				"token.verifier-missing":         {pass, "invalid_request"},
				"token.verifier-blank":           {pass, "invalid_request"},
				"token.retry-wrong-then-correct": {pass, "refused"},
				"token.retry-wrong-then-none":    {pass, "refused"},
				// A correct verifier in the wrong place: warn.
				"token.verifier-in-query": {warn, "served: a code_verifier in the query with the correct verifier got a token"},
				"token.get-method":        {warn, "served: an authorization_code request by GET with the correct verifier"},
				// 43 characters of standard base64: the code is unusable.
				"authorize.challenge-std-base64": {warn, "the code is unusable"},
				// The first of two challenges is read, and checked.
				"authorize.duplicate-query":  {warn, "redeemed another such code"},
				"authorize.duplicate-form":   {warn, "redeemed another such code"},
				"token.duplicate-verifier":   {warn, "reading the correct one"},
				"hygiene.constant-challenge": {info, "the client's duty"},
			}},
		{"a layer that keeps a code after a failed attempt but enforces verifiers", sloppy(faults{keepOnFailure: true, strictVerifiers: true}, exact), nil, [2]string{},
			map[string]verdict{
				"token.retry-wrong-then-correct": {warn, "no brute force: a 8-character verifier is refused"},
				"token.retry-wrong-then-none":    {pass, "refused"},
				"token.verifier-short":           {pass, "refused"},
			}},
		{"a layer that keeps a code after a failed attempt and takes short verifiers", sloppy(faults{keepOnFailure: true}, exact), nil, [2]string{},
			map[string]verdict{
				"token.retry-wrong-then-correct": {fail, "an attacker holding a code can try verifiers until one matches"},
				"token.verifier-short":           {fail, "an attacker holding a code can try verifiers"},
				"token.verifier-long":            {fail, "an attacker holding a code can try verifiers"},
			}},
		{"a layer that binds any challenge", sloppy(faults{anyChallenge: true}, exact), nil, [2]string{},
			map[string]verdict{
				"authorize.challenge-hex":    {warn, "the code is unusable"},
				"authorize.challenge-padded": {warn, "the code is unusable"},
				"authorize.challenge-short":  {warn, "the code is unusable"},
				"authorize.challenge-long":   {warn, "the code is unusable"},
			}},
		{"a layer that normalises the challenge", sloppy(faults{anyChallenge: true, normalise: true}, exact), nil, [2]string{},
			map[string]verdict{
				"authorize.challenge-padded":     {warn, "the server normalises the challenge and checks it"},
				"authorize.challenge-std-base64": {warn, "the server normalises the challenge and checks it"},
			}},
		{"a layer that lets a method without a challenge through", sloppy(faults{methodOnlyPasses: true}, exact), nil, [2]string{},
			map[string]verdict{
				"authorize.no-challenge":             {pass, "refused"},
				"authorize.method-without-challenge": {fail, "sidestep the requirement"},
				"authorize.challenge-blank":          {fail, "sidestep the requirement"},
			}},
		{"a server with PKCE optional", func(*testing.T) wrappers { return wrappers{server: exact} }, nil, [2]string{},
			map[string]verdict{
				"authorize.no-challenge":             {warn, "PKCE is optional"},
				"authorize.method-without-challenge": {warn, "taken as a request without PKCE"},
				"authorize.challenge-blank":          {warn, "taken as a request without PKCE"},
				"metadata.plain-consistent":          {warn, "plain accepted though not advertised"},
				"token.client-conflict":              {warn, "the code's own"},
			}},
		{"a repeated grant_type served as client_credentials, the code left alone", func(*testing.T) wrappers {
			return wrappers{server: options{redirects: "exact", credentialsWin: true}}
		}, nil, [2]string{},
			map[string]verdict{
				"token.duplicate-grant-type": {warn, "as it does for a code it never issued: a client_credentials token"},
			}},
		{"a public client's undecodable Basic header ignored", sloppy(faults{}, exact), map[string]string{"pkcetest-client": ""}, [2]string{},
			map[string]verdict{
				"token.basic-undecodable": {warn, "ignored: the undecodable Basic header of a public client"},
			}},
		{"a server that gives the token to the HTTP Basic client", func(*testing.T) wrappers { return wrappers{server: exact} },
			map[string]string{"pkcetest-client": "", "second-client": "second-secret"}, [2]string{"second-client", "second-secret"},
			map[string]verdict{
				"token.client-conflict": {fail, `for "second-client", the other client, which it authenticated by HTTP Basic`},
			}},
		{"a token endpoint that answers GET with 405", sloppy(faults{}, options{redirects: "exact", tokenPOSTOnly: true}), nil, [2]string{},
			map[string]verdict{
				"token.get-method": {pass, "HTTP 405"},
			}},
		{"an OAuth-only server", wrapped(options{redirects: "exact", oauthOnly: true}), nil, [2]string{},
			map[string]verdict{
				"metadata.openid-configuration":       {skip, "an OAuth-only server"},
				"metadata.oauth-authorization-server": {pass, "served"},
			}},
		{"redirect URIs matched by host suffix", wrapped(options{redirects: "suffix"}), nil, [2]string{},
			map[string]verdict{
				"authorize.unregistered-redirect": {fail, "a look-alike host http://evil127.0.0.1:9/callback: HTTP 302: sent the user agent to http://evil127.0.0.1:9/callback?code="},
			}},
		{"redirect URIs matched exactly", wrapped(exact), nil, [2]string{},
			map[string]verdict{
				"authorize.unregistered-redirect": {pass, "none went to an unregistered redirect_uri: another path"},
				"authorize.implicit-flow":         {pass, "refused"},
				"authorize.duplicate-form":        {pass, "refused"},
			}},
		{"the implicit flow served beside required PKCE", wrapped(options{redirects: "exact", implicit: true}), nil, [2]string{},
			map[string]verdict{
				"authorize.implicit-flow": {warn, "though the server requires PKCE"},
			}},
		{"no POST at the authorization endpoint", wrapped(options{redirects: "exact", noPOST: true}), nil, [2]string{},
			map[string]verdict{
				"authorize.duplicate-form":       {skip, "POST to the authorization endpoint is not supported"},
				"authorize.duplicate-query-form": {skip, "POST to the authorization endpoint is not supported"},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.server(t)
			w.clients = tc.clients
			srv, _ := startCareless(t, w)
			tg := target(srv, "")
			tg.OtherClientID, tg.OtherClientSecret = tc.other[0], tc.other[1]
			byID := audit(t, tg)
			for id, v := range tc.want {
				if r := byID[id]; r.Outcome != v.outcome || !strings.Contains(r.Detail, v.words) {
					t.Errorf("%s: %s (%s), want %s saying %q", id, r.Outcome, r.Detail, v.outcome, v.words)
				}
			}
		})
	}
}

// token.parallel races many codes on warmed connections: a server whose
// redemption is atomic for most codes and racy for one in five is caught,
// and every burst reaches the server on connections opened before it.
func TestParallelRacesManyCodes(t *testing.T) {
	for _, tc := range []struct {
		burn string
		want pkcetest.Outcome
		re   string
	}{
		{"racy", fail, `^[2-8] of 8 concurrent redemptions of one code got a token \(code [1-5] of those raced, on 8 connections warmed beforehand\)`},
		{"atomic", pass, `^exactly one won for each code \(30 codes raced, 8 concurrent redemptions each, on 8 connections warmed beforehand: evidence, not proof\)`},
	} {
		t.Run(tc.burn, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]bool{}   // remote addresses that made a request
			fresh := map[string]int{}   // code → its token requests on a new connection
			perCode := map[string]int{} // code → its token requests
			var order []string          // codes in the order first redeemed
			outer := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					isNew := !seen[r.RemoteAddr]
					seen[r.RemoteAddr] = true
					mu.Unlock()
					if r.URL.Path == "/token" && r.Method == http.MethodPost {
						r.ParseForm()
						code := r.PostForm.Get("code")
						mu.Lock()
						if perCode[code] == 0 {
							order = append(order, code)
						}
						perCode[code]++
						if isNew {
							fresh[code]++
						}
						mu.Unlock()
					}
					next.ServeHTTP(w, r)
				})
			}
			srv, _ := startCareless(t, wrappers{server: options{redirects: "exact", burn: tc.burn}, outer: outer})
			r := audit(t, target(srv, ""))["token.parallel"]
			if r.Outcome != tc.want || !regexp.MustCompile(tc.re).MatchString(r.Detail) {
				t.Errorf("token.parallel: %s (%s), want %s matching %s", r.Outcome, r.Detail, tc.want, tc.re)
			}
			mu.Lock()
			defer mu.Unlock()
			// The first burst comes on the connections warmed before it
			// (one may be lost to timing); later ones reuse them too.
			bursts, freshTotal := 0, 0
			for _, code := range order {
				if perCode[code] < 8 {
					continue
				}
				if bursts == 0 && fresh[code] > 1 {
					t.Errorf("%d of the %d concurrent redemptions of the first code raced came on a new connection", fresh[code], perCode[code])
				}
				bursts++
				freshTotal += fresh[code]
			}
			if bursts == 0 {
				t.Error("no code was raced")
			}
			if freshTotal > bursts {
				t.Errorf("%d redemptions of %d bursts came on new connections", freshTotal, bursts)
			}
		})
	}
}

// Destructive checks run last, so that a server revoking a replayed
// code's grant cannot turn later checks into skips.
func TestDestructiveChecksLast(t *testing.T) {
	checks := pkcetest.Checks()
	if n := len(checks); n < 2 || checks[n-2].ID != "token.replay" || checks[n-1].ID != "token.parallel" {
		t.Errorf("the catalogue ends with %v, want token.replay, token.parallel", checks[len(checks)-2:])
	}
	for _, c := range checks {
		if c.FailWhen == "" {
			t.Errorf("%s: no FailWhen", c.ID)
		}
	}
}

// An OAuth error asking for a user (login_required and its kin) at the
// first authorization stops the audit like a login page does.
func TestLoginRequiredError(t *testing.T) {
	gate := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, registeredRedirect+"?"+url.Values{"error": {"login_required"}, "state": {r.FormValue("state")}}.Encode(), http.StatusFound)
		})
	}
	srv, _ := startCareless(t, wrappers{gate: gate})
	_, err := pkcetest.Audit(context.Background(), target(srv, ""))
	var login *pkcetest.LoginRequiredError
	if !errors.As(err, &login) || !strings.Contains(login.Got, "error=login_required") {
		t.Errorf("Audit error = %v, want a *LoginRequiredError saying login_required", err)
	}
}
