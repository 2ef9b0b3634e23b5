package interop_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/oauth2"
)

// Echo front end of the homegrown server: parameters through c.FormValue,
// answers through Echo's renderers.

func (s *homegrown) echoAuthorize(c echo.Context) error {
	resp, err := s.authorize(c.FormValue)
	if err != nil {
		return c.String(http.StatusBadRequest, err.Error())
	}
	if resp.location != "" {
		return c.Redirect(http.StatusFound, resp.location)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTML(http.StatusOK, resp.page)
}

func (s *homegrown) echoToken(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(body))
	status, obj := s.token(c.FormValue, c.Request(), string(body))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, obj)
}

func echoMetadata(issuer func() string) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("ETag", `"doc-v1"`)
		return c.JSONBlob(http.StatusOK, metadataDoc(issuer()))
	}
}

// newEchoStack serves the homegrown server from Echo v4, the PKCE
// middleware attached per route with echo.WrapMiddleware, Echo's Recover
// and Gzip middleware outside it.
func newEchoStack(t *testing.T, cfg pkce.Config) *stack {
	t.Helper()
	st := &stack{homegrown: newHomegrown(), m: newMiddleware(t, cfg), tap: &tap{}}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover(), middleware.RequestID(), middleware.Gzip())
	authorize := echo.WrapMiddleware(st.m.Authorize)
	e.GET("/authorize", st.echoAuthorize, authorize)
	e.POST("/authorize", st.echoAuthorize, authorize)
	e.POST("/token", st.echoToken, echo.WrapMiddleware(st.tap.wrap), echo.WrapMiddleware(st.m.Token))
	meta := echoMetadata(func() string { return st.srv.URL })
	discovery := echo.WrapMiddleware(st.m.Discovery)
	e.GET("/.well-known/oauth-authorization-server", meta, discovery)
	e.GET("/.well-known/openid-configuration", meta, discovery)
	st.srv = httptest.NewServer(e)
	t.Cleanup(st.srv.Close)
	return st
}

// TestEchoResponseModes runs every response mode through Echo, compressed.
func TestEchoResponseModes(t *testing.T) {
	for _, mode := range responseModes {
		t.Run(mode.name, func(t *testing.T) {
			st := newEchoStack(t, pkce.Config{})
			testResponseMode(t, st, mode.method, mode.opts, mode.check)
		})
	}
	t.Run("form_post page is compressed", func(t *testing.T) {
		st := newEchoStack(t, pkce.Config{})
		conf := oauthConfig(st, publicClient, oauth2.AuthStyleInParams)
		verifier := oauth2.GenerateVerifier()
		res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("response_mode", "form_post")))
		if res.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q: Echo's Gzip did not compress the page, so this test shows nothing", res.header.Get("Content-Encoding"))
		}
		if _, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("Exchange: %v", err)
		}
	})
}

// TestEchoFormValue: the Echo token handler reads c.FormValue after the
// middleware read the body, and sees exactly what the client sent, in both
// client authentication styles and for a refresh that passes through.
func TestEchoFormValue(t *testing.T) {
	for _, tc := range authStyles {
		t.Run(tc.name, func(t *testing.T) {
			st := newEchoStack(t, pkce.Config{})
			conf := oauthConfig(st, tc.client, tc.style)
			verifier := oauth2.GenerateVerifier()
			res := mustAuthorize(t, http.MethodGet, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
			tok, err := conf.Exchange(context.Background(), res.code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			checkSeenEqualsSent(t, st)
			if seen := st.lastTokenRequest(t); seen.form["code_verifier"] != verifier {
				t.Errorf("c.FormValue(code_verifier) = %q", seen.form["code_verifier"])
			}

			tok.Expiry = tok.Expiry.AddDate(0, 0, -1)
			if _, err := conf.TokenSource(context.Background(), tok).Token(); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if seen := st.lastTokenRequest(t); seen.grant != "refresh_token" {
				t.Fatalf("last grant %q; want refresh_token", seen.grant)
			}
			checkSeenEqualsSent(t, st)
		})
	}
}

// checkSeenEqualsSent compares the last token request's body and
// parameters as the handler saw them with the bytes the client sent.
func checkSeenEqualsSent(t *testing.T, st *stack) {
	t.Helper()
	seen, sent := st.lastTokenRequest(t), st.tap.last(t)
	if seen.body != sent {
		t.Errorf("the handler read body %q; the client sent %q", seen.body, sent)
	}
	want, err := url.ParseQuery(sent)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(seen.form) {
		t.Errorf("the handler saw %v; the client sent %v", seen.form, want)
	}
	for k := range want {
		if seen.form[k] != want.Get(k) {
			t.Errorf("c.FormValue(%q) = %q; the client sent %q", k, seen.form[k], want.Get(k))
		}
	}
}

// TestEchoDiscovery: the middleware's member is added to Echo's JSON, with
// Gzip outside the Discovery wrapper.
func TestEchoDiscovery(t *testing.T) {
	st := newEchoStack(t, pkce.Config{})
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp := getGzip(t, st.url(path))
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: Content-Encoding %q; want gzip", path, resp.Header.Get("Content-Encoding"))
		}
		if got, want := readBody(t, resp), string(withPKCEMember(metadataDoc(st.srv.URL), `["S256"]`)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", path, got, want)
		}
	}
}

// TestEchoHandlerErrors shows how an Echo handler's returned error meets
// the middleware. echo.WrapMiddleware returns the handler's error to Echo
// after the wrapped net/http handler has finished, and the Authorize
// wrapper, which holds the response back, has by then sent what the handler
// wrote: nothing, so a 200. Echo's error handler comes too late to set the
// status: its error body goes out under that 200. A handler behind Authorize must write its errors itself
// (c.String, c.JSON, or c.Error(err) before returning nil), as the
// homegrown server does; echoWrap below does that for any handler.
// Discovery and Token are not affected in the same way: Token never holds
// the response, and Discovery sends nothing when the handler wrote nothing.
func TestEchoHandlerErrors(t *testing.T) {
	failing := func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusBadRequest, "unknown client")
	}
	m := newMiddleware(t, pkce.Config{})
	e := echo.New()
	e.GET("/wrap-middleware", failing, echo.WrapMiddleware(m.Authorize))
	e.GET("/echo-wrap", failing, echoWrap(m.Authorize))
	e.GET("/discovery", failing, echo.WrapMiddleware(m.Discovery))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	query := "?response_type=code&client_id=x&redirect_uri=" + url.QueryEscape(redirectURI) +
		"&code_challenge=" + pkce.S256Challenge(pkce.GenerateVerifier()) + "&code_challenge_method=S256"
	for _, tc := range []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/wrap-middleware" + query, http.StatusOK, "unknown client"},
		{"/echo-wrap" + query, http.StatusBadRequest, "unknown client"},
		{"/discovery", http.StatusBadRequest, "unknown client"},
	} {
		resp, err := browser.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
			t.Errorf("%s: %d %q; want %d with %q", tc.path, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
		}
	}
}

// echoWrap is echo.WrapMiddleware for middleware that holds the response
// back: it hands the handler's error to Echo's error handler while the
// middleware can still see the response. The README shows it.
func echoWrap(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				c.SetResponse(echo.NewResponse(w, c.Echo()))
				if err := next(c); err != nil {
					c.Error(err)
				}
			})).ServeHTTP(c.Response(), c.Request())
			return nil
		}
	}
}
