package pkce_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fleetServer is a server the fleet test and the report-only comparison
// drive through real round trips: the bare homegrown server, or it wrapped.
type fleetServer interface {
	// raw sends a request and returns the answer (not following
	// redirects), closed, with its body read.
	raw(t *testing.T, method, target, contentType, body string, header http.Header) (*http.Response, string)
	baseURL() string
}

// bareServer is the homegrown server without the middleware.
type bareServer struct {
	*homegrown
	srv *httptest.Server
}

func newBareServer(t *testing.T) *bareServer {
	t.Helper()
	b := &bareServer{homegrown: newHomegrown()}
	mux := http.NewServeMux()
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	mux.HandleFunc("/authorize", b.serveAuthorize)
	mux.HandleFunc("/token", b.serveToken)
	mux.Handle("/.well-known/oauth-authorization-server", b.metadata(b.srv.URL))
	return b
}

func (b *bareServer) baseURL() string { return b.srv.URL }
func (s *stack) baseURL() string      { return s.srv.URL }

func (b *bareServer) raw(t *testing.T, method, target, contentType, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	return roundTrip(t, b.srv.URL, method, target, contentType, body, header)
}

func (s *stack) raw(t *testing.T, method, target, contentType, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	return roundTrip(t, s.srv.URL, method, target, contentType, body, header)
}

func roundTrip(t *testing.T, base, method, target, contentType, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+target, strings.NewReader(body))
	require.NoError(t, err)
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// authorizeQuery is an authorization request of client app with extra
// parameters (replacing the defaults).
func authorizeQuery(extra url.Values) url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect}, "state": {"xyz"}}
	for k, vs := range extra {
		v[k] = vs
	}
	return v
}

// randomValue matches the homegrown server's codes and tokens.
var randomValue = regexp.MustCompile(`[A-Za-z0-9_-]{32,}`)

// normalize returns an answer as text: status, headers (but Date, sorted)
// and body, with the server's address and its random values replaced.
func normalize(s fleetServer, resp *http.Response, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d content-length=%d te=%v\n", resp.StatusCode, resp.ContentLength, resp.TransferEncoding)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		if k != "Date" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %q\n", k, resp.Header[k])
	}
	b.WriteString(body)
	out := strings.ReplaceAll(b.String(), s.baseURL(), "<server>")
	return randomValue.ReplaceAllString(out, "<random>")
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// fleetClient is one client of the fleet: its flow, run against a server.
type fleetClient struct {
	id   string
	flow func(t *testing.T, c *fleetRun)
}

// fleetRun is a client's flow against one server: it keeps the answers.
type fleetRun struct {
	s        fleetServer
	client   string
	answers  []string
	verifier string
}

func (c *fleetRun) authorize(t *testing.T, extra url.Values) string {
	t.Helper()
	q := authorizeQuery(extra)
	q.Set("client_id", c.client)
	resp, body := c.s.raw(t, http.MethodGet, "/authorize?"+q.Encode(), "", "", nil)
	c.answers = append(c.answers, "authorize "+normalize(c.s, resp, body))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return ""
	}
	return loc.Query().Get("code")
}

func (c *fleetRun) redeem(t *testing.T, code, verifier string) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "client_id": {c.client}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	resp, body := c.s.raw(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", form.Encode(), nil)
	c.answers = append(c.answers, "token "+normalize(c.s, resp, body))
}

// login runs an authorization request and, when it gives a code, redeems
// it with verifier; it returns the code. A client whose authorization
// request fails stops there, as real ones do.
func (c *fleetRun) login(t *testing.T, extra url.Values, verifier string) string {
	t.Helper()
	code := c.authorize(t, extra)
	if code != "" {
		c.redeem(t, code, verifier)
	}
	return code
}

func (c *fleetRun) s256() url.Values {
	return url.Values{"code_challenge": {pkce.S256Challenge(c.verifier)}, "code_challenge_method": {"S256"}}
}

// fleet is the clients of issue 10's "Done when": each logs in twice, as
// clients do.
var fleet = []fleetClient{
	{"s256-app", func(t *testing.T, c *fleetRun) {
		for range 2 {
			c.verifier = pkce.GenerateVerifier()
			c.login(t, c.s256(), c.verifier)
		}
	}},
	{"legacy-app", func(t *testing.T, c *fleetRun) { // no PKCE at all
		for range 2 {
			c.login(t, nil, "")
		}
	}},
	{"wrong-verifier-app", func(t *testing.T, c *fleetRun) {
		for range 2 {
			c.verifier = pkce.GenerateVerifier()
			c.login(t, c.s256(), pkce.GenerateVerifier())
		}
	}},
	{"plain-app", func(t *testing.T, c *fleetRun) {
		for range 2 {
			c.verifier = pkce.GenerateVerifier()
			c.login(t, url.Values{"code_challenge": {c.verifier}, "code_challenge_method": {"plain"}}, c.verifier)
		}
	}},
	{"replaying-app", func(t *testing.T, c *fleetRun) {
		for range 2 {
			c.verifier = pkce.GenerateVerifier()
			if code := c.login(t, c.s256(), c.verifier); code != "" {
				c.redeem(t, code, c.verifier)
			}
		}
	}},
}

// refusalKey is a refusal as the fleet test compares them.
type refusalKey struct{ endpoint, client, reason string }

// TestFleet is issue 10's "Done when": a fleet of clients (S256, no PKCE,
// a wrong verifier, plain, replaying) runs through real round trips
// against the bare homegrown server, the same server wrapped in report-only
// mode and wrapped enforcing. Report-only changes no answer; every refusal
// enforcing makes is reported by report-only with the same client,
// endpoint and reason (report-only may report more, where a flow goes on
// further than enforcing lets it); the adoption report marks only the S256
// client ready.
func TestFleet(t *testing.T) {
	bare := newBareServer(t)
	var reported, enforced eventLog
	adoption := pkce.NewAdoption()
	reporting := newStack(t, pkce.Config{ReportOnly: true, OnEvent: func(e pkce.Event) {
		reported.add(e)
		adoption.Observe(e)
	}})
	enforcing := newStack(t, pkce.Config{OnEvent: enforced.add})

	for _, client := range fleet {
		t.Run(client.id, func(t *testing.T) {
			var runs [3]*fleetRun
			for i, s := range []fleetServer{bare, reporting, enforcing} {
				runs[i] = &fleetRun{s: s, client: client.id}
				client.flow(t, runs[i])
			}
			assert.Equal(t, runs[0].answers, runs[1].answers, "report-only changes no answer")
		})
	}

	refusals := func(l *eventLog, wantEnforced bool) map[refusalKey]int {
		out := map[refusalKey]int{}
		for _, e := range l.all() {
			if e.Refusal != "" {
				assert.Equal(t, wantEnforced, e.Enforced, "%+v", e)
				out[refusalKey{e.Endpoint, e.ClientID, e.Refusal}]++
			}
		}
		return out
	}
	got, want := refusals(&reported, false), refusals(&enforced, true)
	require.NotEmpty(t, want)
	for k, n := range want {
		assert.GreaterOrEqual(t, got[k], n, "an enforced refusal %+v is reported by report-only", k)
	}
	// What enforcement refuses of each client, and what report-only sees
	// of it, the flows going on further.
	assert.Equal(t, map[refusalKey]int{
		{"authorize", "legacy-app", pkce.ReasonChallengeMissing}:     2,
		{"token", "legacy-app", pkce.ReasonChallengeMissing}:         2,
		{"token", "wrong-verifier-app", pkce.ReasonVerifierMismatch}: 2,
		{"authorize", "plain-app", pkce.ReasonMethodNotAllowed}:      2,
		{"token", "plain-app", pkce.ReasonDowngrade}:                 2,
		{"token", "replaying-app", pkce.ReasonCodeReused}:            2,
	}, got)
	assert.Equal(t, map[refusalKey]int{
		{"authorize", "legacy-app", pkce.ReasonChallengeMissing}:     2,
		{"token", "wrong-verifier-app", pkce.ReasonVerifierMismatch}: 2,
		{"authorize", "plain-app", pkce.ReasonMethodNotAllowed}:      2,
		{"token", "replaying-app", pkce.ReasonCodeReused}:            2,
	}, want)

	ready := map[string]bool{}
	for _, r := range adoption.Report() {
		ready[r.ClientID] = r.Ready
	}
	assert.Equal(t, map[string]bool{"s256-app": true, "legacy-app": false, "wrong-verifier-app": false, "plain-app": false, "replaying-app": false}, ready)
}
