package pkcetest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcetest"
)

// parIDs are the par checks.
var parIDs = []string{"par.valid", "par.no-challenge", "par.verifier-wrong", "par.verifier-missing", "par.outer-challenge"}

// The par checks (issue 12 item 6) against careless PAR servers, one flaw
// at a time, for a public and a confidential client: each check fails
// where its flaw demonstrates harm, warns where the flaw does none, skips
// with the reason where a precondition is missing, and passes against the
// middleware.
func TestPARChecks(t *testing.T) {
	sloppy := func(f faults) func(t *testing.T) wrappers {
		return func(t *testing.T) wrappers {
			layer := &sloppyPKCE{faults: f}
			return wrappers{authorize: layer.authorize, token: layer.token, par: layer.par,
				server: options{redirects: "exact", offerPAR: true}}
		}
	}
	middleware := func(par bool, o options) func(t *testing.T) wrappers {
		return func(t *testing.T) wrappers {
			m, err := pkce.New(pkce.Config{})
			if err != nil {
				t.Fatal(err)
			}
			w := wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, server: o}
			if par {
				w.par = m.PAR
			}
			return w
		}
	}
	allPass := map[string]verdict{
		"par.valid":            {pass, "the pushed S256 request got a request_uri, the request_uri a code, and the correct verifier a token"},
		"par.no-challenge":     {pass, "refused: HTTP 400 invalid_request"},
		"par.verifier-wrong":   {pass, "refused: HTTP 400 invalid_grant"},
		"par.verifier-missing": {pass, "refused: HTTP 400"},
		"par.outer-challenge":  {pass, "refused: HTTP 400"},
	}
	tests := []struct {
		name   string
		server func(t *testing.T) wrappers
		want   map[string]verdict
	}{
		{"a careless PAR server without PKCE", func(*testing.T) wrappers {
			return wrappers{server: options{redirects: "exact", offerPAR: true}}
		}, map[string]verdict{
			"par.valid":            {pass, "token issued"},
			"par.no-challenge":     {skip, "PKCE is optional on this server"},
			"par.verifier-wrong":   {fail, "accepted: the server issued a token (HTTP 200 with an access_token): the code of a pushed request is not bound to the pushed challenge"},
			"par.verifier-missing": {fail, "accepted: the server issued a token"},
			"par.outer-challenge":  {fail, "the outer challenge replaced the pushed one (or no verifier is checked for pushed requests: see par.verifier-wrong)"},
		}},
		{"a PAR layer that records nothing, so the code is unbound", sloppy(faults{parRecordsNothing: true, unboundPasses: true}), map[string]verdict{
			"par.valid":            {pass, "token issued"},
			"par.no-challenge":     {pass, "refused: HTTP 400 invalid_request"},
			"par.verifier-wrong":   {fail, "not bound to the pushed challenge"},
			"par.verifier-missing": {fail, "not bound to the pushed challenge"},
			"par.outer-challenge":  {fail, "outer challenge bound"},
			// Direct authorization requests are bound: only PAR is open.
			"token.verifier-wrong": {pass, "refused"},
		}},
		{"a PAR layer that lets an outer challenge replace the pushed one", sloppy(faults{outerWins: true}), map[string]verdict{
			"par.valid":            {pass, "token issued"},
			"par.no-challenge":     {pass, "refused"},
			"par.verifier-wrong":   {pass, "refused"},
			"par.verifier-missing": {pass, "refused"},
			"par.outer-challenge":  {fail, "which the verifier of the outer challenge redeemed (the server issued a token (HTTP 200 with an access_token)): the outer challenge replaced the pushed one"},
		}},
		{"a PAR layer that checks nothing, its unbound codes passed", sloppy(faults{parUnchecked: true, unboundPasses: true}), map[string]verdict{
			"par.no-challenge":    {fail, "PKCE requirement sidestepped: the pushed request without a code_challenge was accepted (HTTP 201 with a request_uri) and its request_uri got a code"},
			"par.verifier-wrong":  {pass, "refused"},
			"par.outer-challenge": {pass, "refused"},
			// The direct request without a challenge is refused.
			"authorize.no-challenge": {pass, "refused"},
		}},
		{"a PAR layer that checks nothing, its unbound codes refused", sloppy(faults{parUnchecked: true}), map[string]verdict{
			"par.no-challenge": {warn, "the code is unusable: without a verifier it was refused"},
		}},
		{"a PAR layer that checks and records", sloppy(faults{}), allPass},
		{"a PAR layer that ignores an outer challenge", sloppy(faults{outerIgnored: true}), map[string]verdict{
			"par.outer-challenge": {pass, "outer challenge ignored: the request_uri with another code_challenge beside it got a code (HTTP 302: a code sent to the redirect_uri (in the query)); the verifier of the outer challenge refused: HTTP 400 invalid_grant"},
		}},
		{"the middleware", middleware(true, options{redirects: "exact", offerPAR: true}), allPass},
		{"a PAR endpoint outside the middleware", middleware(false, options{redirects: "exact", offerPAR: true}), map[string]verdict{
			"par.valid":            {fail, "was refused at the authorization endpoint: HTTP 400"},
			"par.no-challenge":     {skip, "the valid pushed flow does not work either (see par.valid"},
			"par.verifier-wrong":   {skip, "see par.valid"},
			"par.verifier-missing": {skip, "see par.valid"},
			"par.outer-challenge":  {skip, "see par.valid"},
		}},
		{"a server without PAR", middleware(true, options{redirects: "exact"}), map[string]verdict{
			"par.valid":            {skip, "no PAR endpoint to audit (RFC 9126 §5): oauth-authorization-server has no pushed_authorization_request_endpoint"},
			"par.no-challenge":     {skip, "no PAR endpoint"},
			"par.verifier-wrong":   {skip, "no PAR endpoint"},
			"par.verifier-missing": {skip, "no PAR endpoint"},
			"par.outer-challenge":  {skip, "no PAR endpoint"},
		}},
	}
	for _, tc := range tests {
		for _, secret := range []string{"", "pkcetest-secret"} {
			name := tc.name + map[bool]string{true: "/public", false: "/confidential"}[secret == ""]
			t.Run(name, func(t *testing.T) {
				srv, _ := startCareless(t, tc.server(t))
				byID := audit(t, target(srv, secret))
				for id, v := range tc.want {
					if r := byID[id]; r.Outcome != v.outcome || !strings.Contains(r.Detail, v.words) {
						t.Errorf("%s: %s (%s), want %s saying %q", id, r.Outcome, r.Detail, v.outcome, v.words)
					}
				}
			})
		}
	}
}

// A PAR endpoint that refuses the audited client proves nothing about
// PKCE: the par checks skip and say why.
func TestPARClientNotAllowed(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startCareless(t, wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, par: m.PAR,
		server: options{redirects: "exact", offerPAR: true, parConfidentialOnly: true}})
	byID := audit(t, target(srv, ""))
	for _, id := range parIDs {
		if r := byID[id]; r.Outcome != pkcetest.Skip ||
			!strings.Contains(r.Detail, `the PAR endpoint refused a valid pushed S256 request (HTTP 401 invalid_client "only confidential clients may push"): the audited client may not be allowed to push`) {
			t.Errorf("%s: %s (%s), want skip saying the client may not push", id, r.Outcome, r.Detail)
		}
	}
	byID = audit(t, target(srv, "pkcetest-secret"))
	for _, id := range parIDs {
		if r := byID[id]; r.Outcome != pkcetest.Pass {
			t.Errorf("confidential: %s: %s (%s), want pass", id, r.Outcome, r.Detail)
		}
	}
}

// The PAR endpoint sees the client as the token endpoint does: HTTP Basic
// for a confidential client, client_id in the body for a public one; and
// the authorization request carries client_id and request_uri only.
func TestPARClientAuthentication(t *testing.T) {
	for _, secret := range []string{"", "pkcetest-secret"} {
		t.Run(map[bool]string{true: "public", false: "confidential"}[secret == ""], func(t *testing.T) {
			var pushes, authorizations atomic.Int32
			outer := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Path {
					case "/par":
						pushes.Add(1)
						user, pass, basic := r.BasicAuth()
						r.ParseForm()
						switch {
						case secret != "" && (!basic || user != "pkcetest-client" || pass != secret || r.PostForm.Has("client_id")):
							t.Errorf("a confidential client's push: Basic %v %q %q, body client_id %q", basic, user, pass, r.PostForm.Get("client_id"))
						case secret == "" && (basic || r.PostForm.Get("client_id") != "pkcetest-client"):
							t.Errorf("a public client's push: Basic %v, body client_id %q", basic, r.PostForm.Get("client_id"))
						}
					case "/authorize":
						if q := r.URL.Query(); q.Has("request_uri") {
							authorizations.Add(1)
							if q.Get("client_id") != "pkcetest-client" {
								t.Errorf("the authorization request with request_uri names client_id %q", q.Get("client_id"))
							}
						}
					}
					next.ServeHTTP(w, r)
				})
			}
			m, err := pkce.New(pkce.Config{})
			if err != nil {
				t.Fatal(err)
			}
			srv, _ := startCareless(t, wrappers{authorize: m.Authorize, token: m.Token, discovery: m.Discovery, par: m.PAR,
				clients: map[string]string{"pkcetest-client": secret}, outer: outer,
				server: options{redirects: "exact", offerPAR: true}})
			byID := audit(t, target(srv, secret))
			for _, id := range parIDs {
				if r := byID[id]; r.Outcome != pkcetest.Pass {
					t.Errorf("%s: %s (%s), want pass", id, r.Outcome, r.Detail)
				}
			}
			if pushes.Load() < 5 || authorizations.Load() < 4 {
				t.Errorf("%d pushes and %d authorization requests with a request_uri, want one or more per par check", pushes.Load(), authorizations.Load())
			}
		})
	}
}

// A PAR endpoint the metadata puts on another host is not contacted: the
// par checks skip and name Target.PAREndpoint; set, it is audited.
func TestPAREndpointElsewhere(t *testing.T) {
	var hits atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "not here", http.StatusTeapot)
	}))
	t.Cleanup(sink.Close)
	elsewhere := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/.well-known/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Errorf("metadata: %v", err)
			}
			doc["pushed_authorization_request_endpoint"] = sink.URL + "/par"
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(doc)
		})
	}
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startCareless(t, wrappers{authorize: m.Authorize, token: m.Token, par: m.PAR, outer: elsewhere,
		server: options{redirects: "exact", offerPAR: true}})
	tg := target(srv, "")
	for id, r := range audit(t, tg) {
		if strings.HasPrefix(id, "par.") && (r.Outcome != pkcetest.Skip || !strings.Contains(r.Detail, "is not on the issuer's host") ||
			!strings.Contains(r.Detail, "set Target.PAREndpoint")) {
			t.Errorf("%s: %s (%s), want skip naming Target.PAREndpoint", id, r.Outcome, r.Detail)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the PAR endpoint on another host got %d requests", n)
	}
	tg.PAREndpoint = srv.URL + "/par"
	byID := audit(t, tg)
	for _, id := range parIDs {
		if r := byID[id]; r.Outcome != pkcetest.Pass {
			t.Errorf("with Target.PAREndpoint: %s: %s (%s), want pass", id, r.Outcome, r.Detail)
		}
	}
}
