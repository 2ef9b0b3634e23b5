package pkce_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seen is what a wrapped handler saw of a request.
type seen struct {
	Method, URL, Body string
	ContentLength     int64
	Header            http.Header
	ReadErr           string
}

// recordSeen returns a handler that records what it sees into out and
// answers 200.
func recordSeen(out *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		*out = seen{Method: r.Method, URL: r.URL.String(), Body: string(b), ContentLength: r.ContentLength, Header: r.Header.Clone()}
		if err != nil {
			out.ReadErr = err.Error()
		}
	})
}

// TestReportOnlyPassesTheRequestAsItCame: a request report-only would
// refuse reaches the wrapped handler as it reaches it without the
// middleware: same method, URL, headers and body, byte for byte, including
// the bodies the middleware could not read whole (too large, not a form,
// drained or parsed before it).
func TestReportOnlyPassesTheRequestAsItCame(t *testing.T) {
	big := "grant_type=authorization_code&code=c&pad=" + strings.Repeat("x", 200)
	wrong := pkce.GenerateVerifier()
	tests := []struct {
		name     string
		endpoint string
		outer    func(r *http.Request) // a handler in front of the middleware
		req      func() *http.Request
		reason   string
	}{
		{"token: oversized body, no Content-Length", "token", nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(big))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.ContentLength = -1
			return r
		}, pkce.ReasonBadRequest},
		{"token: oversized body, Content-Length", "token", nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(big))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, pkce.ReasonBadRequest},
		{"token: not a form", "token", nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=authorization_code&code=c"))
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, pkce.ReasonBadRequest},
		{"token: JSON labelled as a form", "token", nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(`{"grant_type":"authorization_code"}`))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, pkce.ReasonBadRequest},
		{"token: wrong verifier", "token", nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token?x=1", strings.NewReader("grant_type=authorization_code&code=c1&client_id=app&code_verifier="+wrong))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, pkce.ReasonVerifierMismatch},
		{"token: drained before the middleware", "token", func(r *http.Request) { _, _ = io.ReadAll(io.LimitReader(r.Body, 10)) }, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=authorization_code&code=c1&client_id=app"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, pkce.ReasonBodyConsumed},
		{"token: parsed, then changed before the middleware", "token", func(r *http.Request) {
			_ = r.ParseForm()
			r.PostForm.Set("code", "other")
		}, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=authorization_code&code=c1&client_id=app"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, pkce.ReasonBodyConsumed},
		{"token: body put back differing from the parsed form", "token", func(r *http.Request) {
			_ = r.ParseForm()
			r.Body = io.NopCloser(strings.NewReader("grant_type=refresh_token"))
		}, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=authorization_code&code=c1&client_id=app"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, pkce.ReasonBodyConsumed},
		{"authorize: POST with a JSON body", "authorize", nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/authorize?response_type=code&client_id=app", strings.NewReader(`{"code_challenge":"x"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, pkce.ReasonBadRequest},
		{"authorize: POST form without a challenge", "authorize", nil, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/authorize", strings.NewReader("response_type=code&client_id=app&redirect_uri=x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, pkce.ReasonChallengeMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log eventLog
			m, err := pkce.New(pkce.Config{ReportOnly: true, OnEvent: log.add, MaxBodyBytes: 128})
			require.NoError(t, err)
			recordCode(t, m, "c1")
			wrap := m.Token
			if tc.endpoint == "authorize" {
				wrap = m.Authorize
			}
			outer := func(h http.Handler) http.Handler {
				if tc.outer == nil {
					return h
				}
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.outer(r); h.ServeHTTP(w, r) })
			}
			var bare, reported seen
			outer(recordSeen(&bare)).ServeHTTP(httptest.NewRecorder(), tc.req())
			w := httptest.NewRecorder()
			outer(wrap(recordSeen(&reported))).ServeHTTP(w, tc.req())

			assert.Equal(t, bare, reported)
			assert.Equal(t, http.StatusOK, w.Code)
			evs := log.all()
			require.Len(t, evs, 1)
			assert.Equal(t, tc.reason, evs[0].Refusal)
			assert.False(t, evs[0].Enforced)
		})
	}
}

// TestReportOnlyStoreFollowsEnforcement: under ReportOnly the store's state
// is the one enforcing leaves, so later requests are judged as enforcing
// would judge them: a failed check uses the challenge up, and the retry is
// reported as a reuse; a request the handler refuses after a passed check
// keeps its code, as when enforcing.
func TestReportOnlyStoreFollowsEnforcement(t *testing.T) {
	var log eventLog
	m, err := pkce.New(pkce.Config{ReportOnly: true, OnEvent: log.add})
	require.NoError(t, err)
	calls := 0
	h := m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "invalid_client", http.StatusUnauthorized) // the server refuses Basic
			return
		}
		tokenOK(w, r)
	}))
	redeem := func(code, verifier string, basic bool) int {
		r := tokenPost("grant_type=authorization_code&client_id=app&code=" + code + "&code_verifier=" + verifier)()
		if basic {
			r.SetBasicAuth("app", "")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	reasons := func() []string {
		var out []string
		for _, e := range log.all() {
			out = append(out, e.Refusal)
		}
		log = eventLog{}
		return out
	}

	recordCode(t, m, "burned")
	assert.Equal(t, 200, redeem("burned", pkce.GenerateVerifier(), false), "a wrong verifier passes to the handler")
	assert.Equal(t, 200, redeem("burned", eventVerifier, false), "and so does the right one after it")
	assert.Equal(t, []string{pkce.ReasonVerifierMismatch, pkce.ReasonCodeReused}, reasons())

	recordCode(t, m, "kept")
	assert.Equal(t, 401, redeem("kept", eventVerifier, true), "the handler refuses the first attempt")
	assert.Equal(t, 200, redeem("kept", eventVerifier, false), "the corrected retry")
	assert.Equal(t, []string{"", ""}, reasons(), "the handler's refusal put the challenge back")
	assert.Equal(t, 200, redeem("kept", eventVerifier, false))
	assert.Equal(t, []string{pkce.ReasonCodeReused}, reasons(), "a replay of a redeemed code")
	assert.Equal(t, 5, calls, "every request reached the handler")
}

// TestReportOnlyLogsWhatEnforcingSends: the log line of a reported refusal
// is the enforcing one but for its message and enforced=false: the same
// reason, status and description.
func TestReportOnlyLogsWhatEnforcingSends(t *testing.T) {
	lines := func(reportOnly bool) map[string]any {
		var buf bytes.Buffer
		m, err := pkce.New(pkce.Config{ReportOnly: reportOnly, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
		require.NoError(t, err)
		m.Authorize(issue()).ServeHTTP(httptest.NewRecorder(), authorizeGet(eventAuthorize)())
		var line map[string]any
		require.NoError(t, jsonUnmarshal(buf.Bytes(), &line), buf.String())
		delete(line, "time")
		return line
	}
	enforced, reported := lines(false), lines(true)
	assert.Equal(t, "pkce: request refused", enforced["msg"])
	assert.Equal(t, "pkce: request would be refused (report only: passed on)", reported["msg"])
	assert.Equal(t, pkce.ReasonChallengeMissing, reported["reason"])
	assert.Equal(t, true, enforced["enforced"])
	assert.Equal(t, false, reported["enforced"])
	for _, k := range []string{"msg", "enforced"} {
		delete(enforced, k)
		delete(reported, k)
	}
	assert.Equal(t, enforced, reported)
}

// TestReportOnlyRecord: under ReportOnly Record refuses nothing (the
// server issues the code as without the middleware) and logs what it would
// have refused.
func TestReportOnlyRecord(t *testing.T) {
	var buf bytes.Buffer
	m, err := pkce.New(pkce.Config{ReportOnly: true, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	require.NoError(t, err)
	ctx := context.Background()
	good := pkce.Challenge{Value: pkce.S256Challenge(eventVerifier), Method: pkce.S256, ClientID: "app"}
	assert.NoError(t, m.Record(ctx, "c1", good))
	assert.NoError(t, m.Record(ctx, "c2", pkce.Challenge{Value: "abc", Method: pkce.S256}), "malformed")
	assert.NoError(t, m.Record(ctx, "c1", pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256}), "rebind")
	assert.Error(t, m.Record(ctx, "", good), "an empty code is a programming error")
	assert.Contains(t, buf.String(), `"reason":"challenge_malformed"`)
	assert.Contains(t, buf.String(), `"reason":"rebind"`)
	assert.NotContains(t, buf.String(), good.Value)

	fm, err := pkce.New(pkce.Config{ReportOnly: true, Store: faultStore{errors.New("boom")}})
	require.NoError(t, err)
	assert.NoError(t, fm.Record(ctx, "c1", good), "a store fault")
}

// TestOnEventPanics: a panicking OnEvent does not take the request down:
// the response, decided before OnEvent ran, reaches the client whole, and
// the panic is logged at Error with its type and stack but not its value
// (to slog.Default when no Logger is set, so it is never silent).
func TestOnEventPanics(t *testing.T) {
	const secret = "a-secret-the-callback-held"
	for _, withLogger := range []bool{true, false} {
		name := "Logger"
		if !withLogger {
			name = "no Logger: slog.Default"
		}
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			var mu sync.Mutex
			logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
			cfg := pkce.Config{OnEvent: func(pkce.Event) { panic(errors.New(secret)) }}
			if withLogger {
				cfg.Logger = logger
			} else {
				old := slog.Default()
				slog.SetDefault(logger)
				t.Cleanup(func() { slog.SetDefault(old) })
			}
			s := newStack(t, cfg)
			v := pkce.GenerateVerifier()
			code := s.code(t, v)
			got := s.exchange(t, code, v)
			require.Equal(t, http.StatusOK, got.Status)
			assert.NotEmpty(t, got.AccessToken)
			refused := s.exchange(t, code, v)
			assert.Equal(t, "invalid_grant", refused.Error, "a refusal goes out whole too")

			mu.Lock()
			logs := buf.String()
			mu.Unlock()
			assert.Equal(t, 3, strings.Count(logs, "pkce: Config.OnEvent panicked"), logs)
			assert.Contains(t, logs, `"level":"ERROR"`)
			assert.Contains(t, logs, `"panic_type":"*errors.errorString"`)
			assert.Contains(t, logs, `"stack":"goroutine`)
			assert.NotContains(t, logs, secret)
		})
	}
}

// TestEventOfPanickingHandler: a wrapped handler that panics still has its
// event, with the status written before the panic (0 if none), and its
// panic goes on untouched, even when OnEvent panics too.
func TestEventOfPanickingHandler(t *testing.T) {
	boom := errors.New("handler panic")
	tests := []struct {
		name     string
		endpoint string
		write    bool // the handler writes its status before panicking
		status   int
	}{
		{"authorize, before writing", "authorize", false, 0},
		{"authorize, after a redirect with a code", "authorize", true, http.StatusFound},
		{"token, before writing", "token", false, 0},
		{"token, after a 200", "token", true, http.StatusOK},
	}
	for _, tc := range tests {
		for _, onEventPanics := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "", true: ", OnEvent panics too"}[onEventPanics], func(t *testing.T) {
				var log eventLog
				cfg := pkce.Config{OnEvent: func(e pkce.Event) {
					log.add(e)
					if onEventPanics {
						panic("OnEvent")
					}
				}}
				m, err := pkce.New(cfg)
				require.NoError(t, err)
				recordCode(t, m, "c1")
				handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.write && tc.endpoint == "authorize" {
						http.Redirect(w, r, "http://127.0.0.1:9/cb?code=fresh", http.StatusFound)
					} else if tc.write {
						w.WriteHeader(http.StatusOK)
					}
					panic(boom)
				})
				var h http.Handler
				var r *http.Request
				if tc.endpoint == "authorize" {
					h, r = m.Authorize(handler), authorizeGet(eventAuthorize+"&code_challenge="+pkce.S256Challenge(eventVerifier)+"&code_challenge_method=S256")()
				} else {
					h, r = m.Token(handler), tokenPost("grant_type=authorization_code&code=c1&client_id=app&code_verifier="+eventVerifier)()
				}
				var recovered any
				func() {
					defer func() { recovered = recover() }()
					h.ServeHTTP(httptest.NewRecorder(), r)
				}()
				assert.Equal(t, boom, recovered, "the handler's panic goes on")
				evs := log.all()
				require.Len(t, evs, 1)
				assert.Equal(t, pkce.Event{Endpoint: tc.endpoint, ClientID: "app", PKCE: true, Method: pkce.S256, Status: tc.status}, evs[0])
			})
		}
	}
}

// TestReportOnlyAnswersAreTheBareServers: through real round trips, every
// answer of a report-only server is byte for byte the bare server's, headers
// included (Date aside), but for random values (codes, tokens) and the
// member Discovery adds; the flows go on exactly as without the
// middleware, refusals included.
func TestReportOnlyAnswersAreTheBareServers(t *testing.T) {
	bare := newBareServer(t)
	var log eventLog
	reporting := newStack(t, pkce.Config{ReportOnly: true, OnEvent: log.add, MaxBodyBytes: 1 << 10})
	var answers [2][]string
	for i, s := range []fleetServer{bare, reporting} {
		answers[i] = runScript(t, s)
	}
	require.Equal(t, len(answers[0]), len(answers[1]))
	for i := range answers[0] {
		assert.Equal(t, answers[0][i], answers[1][i], "answer %d", i)
	}
	refusals := 0
	for _, e := range log.all() {
		if e.Refusal != "" {
			refusals++
			assert.False(t, e.Enforced)
		}
	}
	assert.Greater(t, refusals, 10, "the script's refusals were reported")

	// Discovery: the same document but for the member the middleware adds.
	var docs [2]map[string]any
	for i, s := range []fleetServer{bare, reporting} {
		resp, body := s.raw(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, jsonUnmarshal([]byte(body), &docs[i]))
	}
	assert.Equal(t, []any{"S256"}, docs[1]["code_challenge_methods_supported"])
	delete(docs[1], "code_challenge_methods_supported")
	docs[0]["issuer"], docs[1]["issuer"] = nil, nil
	docs[0]["authorization_endpoint"], docs[1]["authorization_endpoint"] = nil, nil
	docs[0]["token_endpoint"], docs[1]["token_endpoint"] = nil, nil
	assert.Equal(t, docs[0], docs[1])
}

// runScript runs the same requests against s and returns its answers,
// normalized: random values and the server's own address replaced.
func runScript(t *testing.T, s fleetServer) []string {
	t.Helper()
	var out []string
	add := func(resp *http.Response, body string) {
		out = append(out, normalize(s, resp, body))
	}
	v := pkce.GenerateVerifier()
	s256 := url.Values{"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}}
	redeem := func(code, verifier string, extra ...string) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "client_id": {"app"}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		add(s.raw(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", form.Encode(), nil))
	}
	authorize := func(extra url.Values) string {
		resp, body := s.raw(t, http.MethodGet, "/authorize?"+authorizeQuery(extra).Encode(), "", "", nil)
		add(resp, body)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc == nil {
			return ""
		}
		return loc.Query().Get("code")
	}

	// S256: redeemed, then replayed.
	code := authorize(s256)
	redeem(code, v)
	redeem(code, v)
	// No PKCE at all.
	redeem(authorize(nil), "")
	// A wrong verifier, then the right one.
	code = authorize(s256)
	redeem(code, pkce.GenerateVerifier())
	redeem(code, v)
	// plain, not accepted.
	redeem(authorize(url.Values{"code_challenge": {v}, "code_challenge_method": {"plain"}}), v)
	// plain by absence, a method without challenge, duplicates, a malformed challenge.
	authorize(url.Values{"code_challenge": {v}})
	authorize(url.Values{"code_challenge_method": {"S256"}})
	authorize(url.Values{"code_challenge": {pkce.S256Challenge(v), pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}})
	authorize(url.Values{"code_challenge": {strings.Repeat("ab", 32)}, "code_challenge_method": {"S256"}})
	authorize(url.Values{"response_type": {"CODE"}})
	// form_post (without state: the homegrown page writes its inputs in
	// map order) and hybrid.
	resp, body := s.raw(t, http.MethodGet, "/authorize?"+authorizeQuery(url.Values{"response_mode": {"form_post"}, "state": {""}, "code_challenge": s256["code_challenge"], "code_challenge_method": {"S256"}}).Encode(), "", "", nil)
	add(resp, body)
	add(s.raw(t, http.MethodGet, "/authorize?"+authorizeQuery(url.Values{"response_type": {"code id_token"}}).Encode(), "", "", nil))
	// A POST authorization request.
	add(s.raw(t, http.MethodPost, "/authorize", "application/x-www-form-urlencoded", authorizeQuery(s256).Encode(), nil))
	// Token requests of every shape.
	add(s.raw(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", "code=x&client_id=app", nil))
	add(s.raw(t, http.MethodPost, "/token?grant_type=authorization_code", "application/x-www-form-urlencoded", "code=x&client_id=app", nil))
	add(s.raw(t, http.MethodPost, "/token", "text/plain", "grant_type=authorization_code&code=x", nil))
	add(s.raw(t, http.MethodPost, "/token", "application/json", `{"grant_type":"authorization_code","code":"x","client_id":"app"}`, nil))
	add(s.raw(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=x&pad="+strings.Repeat("p", 2<<10), nil))
	add(s.raw(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=r&client_id=app", nil))
	add(s.raw(t, http.MethodPost, "/token", "application/x-www-form-urlencoded", "grant_type=Authorization_Code&code=x", nil))
	add(s.raw(t, http.MethodGet, "/token?grant_type=authorization_code&code=x", "", "", nil))
	redeem(authorize(s256), v, "client_id", "other")
	return out
}
