package pkce_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A body read before the middleware (DESIGN Token 1, issue 8 item 2): a form
// parsed by an outer r.ParseForm is checked as it was parsed; a body drained
// without being parsed is refused with 500 server_error and an Error log
// that names the misordering; a drained body the middleware cannot tell from
// an empty one has no grant_type and is refused for that. Nothing passes
// unchecked.

// outerReader is a handler in front of the middleware that reads the body.
type outerReader struct {
	name string
	read func(r *http.Request)
}

var (
	parseForm = outerReader{"r.ParseForm", func(r *http.Request) { _ = r.ParseForm() }}
	formValue = outerReader{"r.FormValue", func(r *http.Request) { _ = r.FormValue("client_id") }}
	drain     = outerReader{"io.ReadAll, body not put back", func(r *http.Request) { _, _ = io.ReadAll(r.Body) }}
	closeBody = outerReader{"io.ReadAll and Close", func(r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}}
	putBack = outerReader{"io.ReadAll, body put back", func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
	}}
	putBackThenParse = outerReader{"body put back, then r.ParseForm", func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		_ = r.ParseForm()
	}}
	parseThenPutBack = outerReader{"r.ParseForm, then the body put back from the form", func(r *http.Request) {
		_ = r.ParseForm()
		r.Body = io.NopCloser(strings.NewReader(r.PostForm.Encode()))
	}}
)

func (o outerReader) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			o.read(r)
		}
		h.ServeHTTP(w, r)
	})
}

// newOrderStack is newStack behind outer, with debug logs.
func newOrderStack(t *testing.T, cfg pkce.Config, outer func(http.Handler) http.Handler) (*stack, func() string) {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	cfg.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newTokenStack(t, cfg, nil, outer)
	return s, func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}
}

const misorderedLog = "the request body was read before the PKCE middleware; put the middleware before anything that reads the body"

// TestTokenFormParsedBefore: an outer r.ParseForm (a logging middleware)
// keeps working: the parsed form is checked under the same rules, so a
// stolen code without its verifier gets nothing.
func TestTokenFormParsedBefore(t *testing.T) {
	for _, outer := range []outerReader{parseForm, formValue, putBack, putBackThenParse, parseThenPutBack} {
		t.Run(outer.name, func(t *testing.T) {
			s, _ := newOrderStack(t, pkce.Config{}, outer.wrap)

			v := pkce.GenerateVerifier()
			assertIssued(t, s.send(t, formReq(authForm(s.code(t, v), v))))
			form, _ := s.last()
			assert.Equal(t, "authorization_code", form.Get("grant_type"), "the handler reads the form")

			for name, req := range map[string]func(code, v string) tokenReq{
				"stolen code, no verifier":    func(code, _ string) tokenReq { return formReq(authForm(code, "")) },
				"stolen code, wrong verifier": func(code, _ string) tokenReq { return formReq(authForm(code, pkce.GenerateVerifier())) },
			} {
				code := s.code(t, pkce.GenerateVerifier())
				assertRefused(t, s.send(t, req(code, "")), http.StatusBadRequest, "invalid_grant")
				assert.True(t, s.holds(code), name)
			}
			for name, req := range map[string]func(code, v string) tokenReq{
				"duplicate code_verifier": rawForm("code_verifier=" + rfc7636Verifier),
				"duplicate grant_type":    rawForm("grant_type=authorization_code"),
				"code_verifier in query":  inQuery("code_verifier"),
				"case variant":            rawForm("Code_Verifier=" + rfc7636Verifier),
				"case variant grant_type": func(code, v string) tokenReq {
					f := authForm(code, v)
					f.Set("grant_type", "Authorization_Code")
					return formReq(f)
				},
				"no grant_type": func(code, v string) tokenReq { return formReq(without(authForm(code, v), "grant_type")) },
			} {
				v := pkce.GenerateVerifier()
				code := s.code(t, v)
				assertRefused(t, s.send(t, req(code, v)), http.StatusBadRequest, "invalid_request")
				assert.True(t, s.holds(code), name)
			}
			assert.Equal(t, 1, s.tokensIssued())
			assert.Equal(t, 1, s.reached(grantCode))

			// Other grants pass on, parsed as they were.
			assertIssued(t, s.send(t, formReq(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}})))
		})
	}
}

// TestTokenBodyDrainedBefore: a body read and not parsed before the
// middleware is refused with 500 and logged at Error, naming the
// misordering; drained without a Content-Length it cannot be told from an
// empty body and is refused for its missing grant_type.
func TestTokenBodyDrainedBefore(t *testing.T) {
	for _, tc := range []struct {
		outer        outerReader
		chunkedError string // a drained chunked body: no length to compare
	}{
		{drain, "invalid_request"},  // read to its end: taken for an empty body
		{closeBody, "server_error"}, // closed: net/http says so
	} {
		outer := tc.outer
		t.Run(outer.name, func(t *testing.T) {
			s, logs := newOrderStack(t, pkce.Config{}, outer.wrap)
			v := pkce.GenerateVerifier()
			code := s.code(t, v)
			for _, q := range []tokenReq{formReq(authForm(code, v)), formReq(authForm(code, "")),
				formReq(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}}),
				{ctype: "application/json", body: `{"grant_type":"authorization_code","code":"` + code + `"}`}} {
				got := assertRefused(t, s.send(t, q), http.StatusInternalServerError, "server_error")
				assert.Equal(t, misorderedLog, got.Description)
			}
			assert.Zero(t, s.reached(grantCode)+s.reached("refresh_token"))
			assert.Contains(t, logs(), `"level":"ERROR","msg":"pkce: request refused","endpoint":"token"`)
			assert.Contains(t, logs(), misorderedLog)

			chunked := formReq(authForm(code, ""))
			chunked.chunked = true
			if tc.chunkedError == "invalid_request" {
				got := assertRefused(t, s.send(t, chunked), http.StatusBadRequest, "invalid_request")
				assert.Contains(t, got.Description, "no grant_type")
			} else {
				got := assertRefused(t, s.send(t, chunked), http.StatusInternalServerError, "server_error")
				assert.Equal(t, misorderedLog, got.Description)
			}
			assert.Zero(t, s.reached(""))
		})
	}
}

// TestTokenParsedFormChanged: a parsed form changed before the middleware
// cannot be told from what the client sent: refused as a misordering.
func TestTokenParsedFormChanged(t *testing.T) {
	for _, outer := range []outerReader{
		{"r.Form changed after parsing", func(r *http.Request) {
			_ = r.ParseForm()
			r.Form.Set("code_verifier", rfc7636Verifier)
		}},
		{"r.PostForm changed after parsing", func(r *http.Request) {
			_ = r.ParseForm()
			r.PostForm.Del("code_verifier")
		}},
		{"another body put back after parsing", func(r *http.Request) {
			_ = r.ParseForm()
			r.Body = io.NopCloser(strings.NewReader("grant_type=authorization_code&code=x"))
		}},
	} {
		t.Run(outer.name, func(t *testing.T) {
			s, logs := newOrderStack(t, pkce.Config{}, outer.wrap)
			v := pkce.GenerateVerifier()
			code := s.code(t, v)
			got := assertRefused(t, s.send(t, formReq(authForm(code, v))), http.StatusInternalServerError, "server_error")
			assert.Contains(t, got.Description, "before the PKCE middleware")
			assert.Zero(t, s.reached(grantCode))
			assert.Contains(t, logs(), `"level":"ERROR"`)
		})
	}
}

// TestAuthorizeBodyReadBefore: the same rules at the authorization endpoint.
// A form parsed before is checked from r.PostForm (the flow works, the code
// is bound); a drained body is refused with 500: it cannot issue an
// unchecked code, but the flow breaks until the misordering is fixed.
func TestAuthorizeBodyReadBefore(t *testing.T) {
	post := func(t *testing.T, s *stack, v url.Values) (*http.Response, string) {
		t.Helper()
		resp, err := noRedirect.Post(s.srv.URL+"/authorize", "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	request := func(verifier string) url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect}, "state": {"xyz"},
			"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
	}
	for _, outer := range []outerReader{parseForm, formValue} {
		t.Run(outer.name, func(t *testing.T) {
			s, _ := newOrderStack(t, pkce.Config{}, outer.wrap)
			v := pkce.GenerateVerifier()
			resp, body := post(t, s, request(v))
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			code := loc.Query().Get("code")
			assertRefused(t, s.send(t, formReq(authForm(code, ""))), http.StatusBadRequest, "invalid_grant")

			v = pkce.GenerateVerifier()
			resp, body = post(t, s, request(v))
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			loc, err = url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assertIssued(t, s.send(t, formReq(authForm(loc.Query().Get("code"), v))))

			dup := request(v)
			dup.Add("code_challenge", pkce.S256Challenge(pkce.GenerateVerifier()))
			resp, body = post(t, s, dup)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			assert.Contains(t, body, "invalid_request")

			none := request(v)
			none.Del("code_challenge")
			none.Del("code_challenge_method")
			resp, body = post(t, s, none)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body, "PKCE required: no code without a challenge")
		})
	}
	t.Run(drain.name, func(t *testing.T) {
		s, logs := newOrderStack(t, pkce.Config{}, drain.wrap)
		resp, body := post(t, s, request(pkce.GenerateVerifier()))
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, body)
		assert.Contains(t, body, misorderedLog)
		assert.Empty(t, resp.Header.Get("Location"))
		assert.Contains(t, logs(), `"level":"ERROR","msg":"pkce: request refused","endpoint":"authorize"`)
	})
}
