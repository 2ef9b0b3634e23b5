package interop_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-pkce/pkce"
	"golang.org/x/oauth2"
)

// newChiStack serves the homegrown server from a chi router with chi's own
// middleware stack around the PKCE middleware, compression included, in the
// order the README recommends: compression outside, so the PKCE middleware
// sees the bytes the handler wrote.
func newChiStack(t *testing.T, cfg pkce.Config) *stack {
	t.Helper()
	st, _ := newChiStackLogged(t, cfg)
	return st
}

// newChiStackLogged is newChiStack that also returns chi's request log.
func newChiStackLogged(t *testing.T, cfg pkce.Config) (*stack, *chiLog) {
	t.Helper()
	st := &stack{homegrown: newHomegrown(), m: newMiddleware(t, cfg), tap: &tap{}}
	log := &chiLog{}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.RealIP, middleware.RequestLogger(log), middleware.Recoverer, middleware.Compress(5))
	r.With(st.m.Authorize).Get("/authorize", st.serveAuthorize)
	r.With(st.m.Authorize).Post("/authorize", st.serveAuthorize)
	r.With(st.tap.wrap, st.m.Token).Post("/token", st.serveToken)
	r.Route("/.well-known", func(r chi.Router) {
		r.Use(st.m.Discovery)
		meta := serveMetadata(func() string { return st.srv.URL })
		r.Get("/oauth-authorization-server", meta)
		r.Get("/openid-configuration", meta)
	})
	// A handler that panics after it set the Location of a code.
	r.With(st.m.Authorize).Get("/authorize-panics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", redirectURI+"?code=leaked-"+r.FormValue("state"))
		panic("the consent store is down")
	})
	st.srv = httptest.NewServer(r)
	t.Cleanup(st.srv.Close)
	return st, log
}

// TestChiResponseModes runs every response mode through chi, with
// compression active (the browser accepts gzip).
func TestChiResponseModes(t *testing.T) {
	for _, mode := range responseModes {
		t.Run(mode.name, func(t *testing.T) {
			st := newChiStack(t, pkce.Config{})
			testResponseMode(t, st, mode.method, mode.opts, mode.check)
		})
	}
	t.Run("form_post page is compressed", func(t *testing.T) {
		st := newChiStack(t, pkce.Config{})
		conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
		verifier := oauth2.GenerateVerifier()
		res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("response_mode", "form_post")))
		if res.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q: chi's Compress did not compress the page, so this test shows nothing", res.header.Get("Content-Encoding"))
		}
		if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("Exchange: %v", err)
		}
	})
}

// TestChiTokenFlow: x/oauth2 in both client authentication styles through
// chi, refresh passing through byte for byte.
func TestChiTokenFlow(t *testing.T) {
	for _, tc := range authStyles {
		t.Run(tc.name, func(t *testing.T) {
			st := newChiStack(t, pkce.Config{})
			conf := oauthConfig(st, tc.client, tc.style)
			verifier := oauth2.GenerateVerifier()
			res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
			tok, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			tok.Expiry = time.Now().Add(-time.Minute)
			if _, err := conf.TokenSource(context.Background(), tok).Token(); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if seen := st.lastTokenRequest(t); seen.grant != "refresh_token" || seen.body != st.tap.last(t) {
				t.Errorf("refresh: the server saw grant %q body %q; the client sent %q", seen.grant, seen.body, st.tap.last(t))
			}
		})
	}
}

// TestChiDiscoveryCompressed: with compression outside the Discovery
// wrapper (the README's order), both well-known documents get the member,
// every other member in its place, and are still compressed.
func TestChiDiscoveryCompressed(t *testing.T) {
	st := newChiStack(t, pkce.Config{AllowPlain: true})
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		t.Run(path, func(t *testing.T) {
			resp := getGzip(t, st.url(path))
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q; want gzip: the test needs compression active", resp.Header.Get("Content-Encoding"))
			}
			got := readBody(t, resp)
			want := string(withPKCEMember(metadataDoc(st.srv.URL), `["S256","plain"]`))
			if got != want {
				t.Errorf("document\n got %s\nwant %s", got, want)
			}
			if resp.Header.Get("ETag") != "" {
				t.Errorf("ETag %q kept on a rewritten document", resp.Header.Get("ETag"))
			}
		})
	}
}

func getGzip(t *testing.T, u string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestChiCompressionInside shows what the README's ordering rule prevents:
// with compression INSIDE the PKCE middleware, the middleware sees gzip
// bytes. The discovery document passes unchanged, without
// code_challenge_methods_supported, and a form_post code is not captured, so
// its token request fails closed (the code was never bound to the
// challenge). A Location is a header, not body, and is still captured.
func TestChiCompressionInside(t *testing.T) {
	st := &stack{homegrown: newHomegrown(), m: newMiddleware(t, pkce.Config{}), tap: &tap{}}
	r := chi.NewRouter()
	r.With(st.m.Authorize, middleware.Compress(5)).Get("/authorize", st.serveAuthorize)
	r.With(st.m.Token).Post("/token", st.serveToken)
	r.With(st.m.Discovery, middleware.Compress(5)).Get("/.well-known/oauth-authorization-server",
		serveMetadata(func() string { return st.srv.URL }))
	st.srv = httptest.NewServer(r)
	t.Cleanup(st.srv.Close)

	t.Run("discovery not rewritten", func(t *testing.T) {
		resp := getGzip(t, st.url("/.well-known/oauth-authorization-server"))
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q; want gzip", resp.Header.Get("Content-Encoding"))
		}
		if got, want := readBody(t, resp), string(metadataDoc(st.srv.URL)); got != want {
			t.Errorf("document\n got %s\nwant it unchanged %s", got, want)
		}
	})
	t.Run("form_post code not captured", func(t *testing.T) {
		conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
		verifier := oauth2.GenerateVerifier()
		res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("response_mode", "form_post")))
		if res.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q; want gzip", res.header.Get("Content-Encoding"))
		}
		re := exchangeRefusal(t, conf, res.code, oauth2.VerifierOption(verifier))
		if !strings.Contains(re.ErrorDescription, "no code_challenge was recorded") {
			t.Errorf("description %q; want the uncaptured code refused", re.ErrorDescription)
		}
	})
	t.Run("query code still captured", func(t *testing.T) {
		conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
		verifier := oauth2.GenerateVerifier()
		res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("Exchange: %v", err)
		}
	})
}

// TestChiRecoverer: a handler that panics behind the middleware is answered
// by chi's Recoverer with a 500, the server goes on serving, and a code the
// handler had put in the Location before it panicked was never bound, so it
// cannot be redeemed.
func TestChiRecoverer(t *testing.T) {
	st, log := newChiStackLogged(t, pkce.Config{})
	conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
	verifier := oauth2.GenerateVerifier()
	authURL := strings.Replace(conf.AuthCodeURL("p1", oauth2.S256ChallengeOption(verifier)), "/authorize?", "/authorize-panics?", 1)
	res := doAuthorize(t, http.MethodGet, authURL)
	if res.status != http.StatusInternalServerError {
		t.Fatalf("status %d; want chi Recoverer's 500", res.status)
	}
	if statuses, panics := log.snapshot(); len(panics) != 1 || panics[0] != "the consent store is down" || statuses[len(statuses)-1] != http.StatusInternalServerError {
		t.Errorf("chi's log: statuses %v, panics %v; want the panic and a 500", statuses, panics)
	}
	st.mu.Lock()
	st.codes["leaked-p1"] = publicClient // the homegrown server would honour it
	st.mu.Unlock()
	exchangeRefusal(t, conf, "leaked-p1", oauth2.VerifierOption(verifier))

	res = mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}

// chiLog is a chi LogFormatter that records each request's status and
// the panics Recoverer reports, instead of printing them.
type chiLog struct {
	mu       sync.Mutex
	statuses []int
	panics   []any
}

func (l *chiLog) NewLogEntry(*http.Request) middleware.LogEntry { return chiLogEntry{l} }

type chiLogEntry struct{ l *chiLog }

func (e chiLogEntry) Write(status, _ int, _ http.Header, _ time.Duration, _ any) {
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	e.l.statuses = append(e.l.statuses, status)
}

func (e chiLogEntry) Panic(v any, _ []byte) {
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	e.l.panics = append(e.l.panics, v)
}

func (l *chiLog) snapshot() ([]int, []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.statuses...), append([]any(nil), l.panics...)
}
