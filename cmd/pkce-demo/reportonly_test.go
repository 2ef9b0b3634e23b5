package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startDemoMode is startDemo with the middleware in mode md.
func startDemoMode(t *testing.T, md mode) *demoServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	s, err := newServer(issuer)
	require.NoError(t, err)
	h, err := s.handlerMode(md, nil)
	require.NoError(t, err)
	ts.Config.Handler = h
	ts.Start()
	t.Cleanup(ts.Close)
	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &demoServer{Server: ts, srv: s, issuer: issuer, client: client}
}

// adoptionReport reads /debug/pkce.
type adoptionReport struct {
	Clients []pkce.ClientReport `json:"clients"`
	Dropped int64               `json:"dropped"`
}

func (d *demoServer) report(t *testing.T) (adoptionReport, string) {
	t.Helper()
	resp := d.get(t, pathDebugPKCE, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body := readAll(t, resp)
	var r adoptionReport
	require.NoError(t, json.Unmarshal([]byte(body), &r), body)
	return r, body
}

func (r adoptionReport) row(id string) (pkce.ClientReport, bool) {
	for _, c := range r.Clients {
		if c.ClientID == id {
			return c, true
		}
	}
	return pkce.ClientReport{}, false
}

// legacyFlow is demo-service without PKCE: an authorization request without
// a challenge, then the code redeemed without a verifier. It returns the
// two statuses.
func legacyFlow(t *testing.T, d *demoServer) (authorize, token int) {
	t.Helper()
	q := authorizeParams(pkce.GenerateVerifier(), "client_id", demoService, "code_challenge", "", "code_challenge_method", "")
	resp := d.get(t, pathAuthorize, q)
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, 0
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, _ := d.token(t, demoService, demoSecret, url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {testRedirectURI},
	})
	return resp.StatusCode, tok.StatusCode
}

// s256Flow is demo-app with S256; it returns the token request's status.
func s256Flow(t *testing.T, d *demoServer) int {
	t.Helper()
	verifier := pkce.GenerateVerifier()
	code := d.authorize(t, authorizeParams(verifier)).Get("code")
	resp, _ := d.exchange(t, code, verifier)
	return resp.StatusCode
}

// TestDebugPKCE: /debug/pkce serves the adoption report in every mode: an
// empty one without the middleware; under report-only, the legacy client
// passes and the report names it as not ready.
func TestDebugPKCE(t *testing.T) {
	t.Run("unprotected", func(t *testing.T) {
		d := startDemoMode(t, modeUnprotected)
		a, t2 := legacyFlow(t, d)
		assert.Equal(t, []int{302, 200}, []int{a, t2})
		_, body := d.report(t)
		assert.Equal(t, `{"clients":[],"dropped":0}`, strings.TrimSpace(body))
	})
	t.Run("report-only", func(t *testing.T) {
		d := startDemoMode(t, modeReportOnly)
		assert.Equal(t, http.StatusOK, s256Flow(t, d))
		a, t2 := legacyFlow(t, d)
		assert.Equal(t, []int{302, 200}, []int{a, t2}, "report-only refused the legacy client")
		r, body := d.report(t)
		app, ok := r.row(demoApp)
		require.True(t, ok, body)
		assert.EqualValues(t, 1, app.WithPKCE)
		assert.True(t, app.Ready, body)
		service, ok := r.row(demoService)
		require.True(t, ok, body)
		assert.EqualValues(t, 1, service.WithoutPKCE)
		assert.False(t, service.Ready)
		assert.EqualValues(t, 1, service.Refusals[pkce.ReasonChallengeMissing], body)
		assert.EqualValues(t, 2, r.Dropped, "the authorization requests before each client's first redemption")
	})
	t.Run("protected", func(t *testing.T) {
		d := startDemoMode(t, modeProtected)
		assert.Equal(t, http.StatusOK, s256Flow(t, d))
		a, _ := legacyFlow(t, d)
		assert.Equal(t, http.StatusBadRequest, a)
		r, body := d.report(t)
		app, ok := r.row(demoApp)
		require.True(t, ok, body)
		assert.True(t, app.Ready)
		_, ok = r.row(demoService)
		assert.False(t, ok, "a client never recognised has no row: %s", body)
		assert.EqualValues(t, 2, r.Dropped)
	})
	t.Run("GET only", func(t *testing.T) {
		d := startDemoMode(t, modeProtected)
		resp, err := d.client.Post(d.issuer+pathDebugPKCE, "text/plain", nil)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
}

// TestServeDebugPKCE runs each -serve mode in-process: the banner says the
// mode, /debug/pkce answers, and report-only lets a request without PKCE
// through.
func TestServeDebugPKCE(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		banner     string
		legacyCode int // the authorization request without PKCE
	}{
		{"protected", nil, "serving with the PKCE middleware (S256 required)", http.StatusBadRequest},
		{"report-only", []string{"-report-only"}, "REPORT-ONLY mode", http.StatusFound},
		{"unprotected", []string{"-unprotected"}, "WITHOUT the PKCE middleware", http.StatusFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			var stderr bytes.Buffer
			done := make(chan int, 1)
			go func() {
				code := run(ctx, append([]string{"-serve", "-addr", "127.0.0.1:0"}, tc.args...), pw, &stderr)
				pw.Close()
				done <- code
			}()
			rd := bufio.NewReader(pr)
			first, err := rd.ReadString('\n')
			require.NoError(t, err)
			issuer := strings.TrimSuffix(first, "\n")
			require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, issuer)
			rest := make(chan string, 1)
			go func() { b, _ := io.ReadAll(rd); rest <- string(b) }()

			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			q := authorizeParams(pkce.GenerateVerifier(), "code_challenge", "", "code_challenge_method", "")
			resp, err := client.Get(issuer + pathAuthorize + "?" + q.Encode())
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.legacyCode, resp.StatusCode)

			resp, err = http.Get(issuer + pathDebugPKCE)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			var r adoptionReport
			require.NoError(t, json.Unmarshal(body, &r), string(body))
			if tc.name == "unprotected" {
				assert.Equal(t, `{"clients":[],"dropped":0}`, strings.TrimSpace(string(body)))
			} else {
				assert.EqualValues(t, 1, r.Dropped, "the authorization request of a client not recognised yet")
			}

			cancel()
			select {
			case code := <-done:
				assert.Equal(t, 0, code, stderr.String())
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not stop")
			}
			out := <-rest
			assert.Contains(t, out, tc.banner)
			assert.Contains(t, out, issuer+"/debug/pkce")
		})
	}
}

// TestWalkthroughReportOnlySteps: the walk-through's last steps fail when
// the "report-only" server refuses (here: an enforcing one), so the
// walk-through exits non-zero.
func TestWalkthroughReportOnlySteps(t *testing.T) {
	d := startDemo(t, true)
	enforcing := startDemo(t, true)
	var out bytes.Buffer
	wt := &walkthrough{issuer: d.issuer, out: &out, protected: true, reportOnlyIssuer: enforcing.issuer}
	assert.Equal(t, 2, wt.run(context.Background()), out.String())
	assert.Equal(t, []int{12, 13}, wt.failed)
	assert.Contains(t, out.String(), "step 12: report-only server: legacy demo-service without PKCE still gets its tokens (reported, not refused) ... FAILED: ")
}
