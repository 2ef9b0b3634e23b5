package pkce_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
)

// The targets of issue 11, each measured as wrapped over bare in one run:
// each bare handler runs alone and behind the middleware, driven with
// httptest.NewRequest and httptest.NewRecorder, Config.OnEvent unset (its
// cost is BenchmarkAuthorizeOnEvent's and BenchmarkTokenOnEvent's).
// Handlers come in the two shapes real ones have:
//
//   - authorize: "query" reads r.URL.Query(), "formvalue" reads
//     r.FormValue; both build a code and answer
//     http.Redirect(w, r, redirect_uri+"?code="+code+"&state="+state, 302).
//   - token: "postform" calls r.ParseForm and reads r.PostForm,
//     "formvalue" reads r.FormValue; both write a small JSON answer.
//
// A handler that reads r.URL.Query() parses the query itself whatever the
// middleware did, so there the middleware's own parse is pure cost; one
// that reads r.FormValue gets the form the middleware filled.
//
//	go test -run '^$' -bench 'Shape|Flow' -benchmem
//
// bench/perf.sh runs them in interleaved rounds and writes the figures of
// docs/performance.md.

const shapeRedirectURI = "http%3A%2F%2F127.0.0.1%3A9%2Fcb"

// authorizeShapes are the bare authorization handlers by shape.
var authorizeShapes = []struct {
	name string
	new  func() http.Handler
}{
	{"query", bareAuthorizeQuery},
	{"formvalue", bareAuthorize},
}

// tokenShapes are the bare token handlers by shape.
var tokenShapes = []struct {
	name string
	h    http.Handler
}{
	{"postform", bareTokenPostForm},
	{"formvalue", bareToken},
}

// bareAuthorizeQuery is bareAuthorize reading r.URL.Query().
func bareAuthorizeQuery() http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code := "code-" + strconv.FormatInt(n.Add(1), 36)
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+q.Get("state"), http.StatusFound)
	})
}

// bareTokenPostForm is bareToken calling r.ParseForm and reading
// r.PostForm.
var bareTokenPostForm = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f := r.PostForm
	if f.Get("grant_type") == "" || f.Get("code") == "" || f.Get("client_id") == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
})

func shapeAuthorizeTarget(challenge string) string {
	return "/authorize?response_type=code&client_id=app&redirect_uri=" + shapeRedirectURI +
		"&state=af0ifjsldkj&code_challenge=" + challenge + "&code_challenge_method=S256"
}

func newTokenRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// steadyMiddleware is a middleware whose store keeps a steady size: the
// challenges expire as new ones come (tens of thousands live here), as in
// a server that has been up for a while.
func steadyMiddleware(b *testing.B) *pkce.Middleware {
	m, err := pkce.New(pkce.Config{TTL: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkAuthorizeShape(b *testing.B) {
	target := shapeAuthorizeTarget(pkce.S256Challenge(pkce.GenerateVerifier()))
	run := func(b *testing.B, h http.Handler) {
		var w *httptest.ResponseRecorder
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			w = httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		}
		b.StopTimer()
		if w.Code != http.StatusFound || !strings.Contains(w.Header().Get("Location"), "code=") {
			b.Fatalf("no code issued: %d %v", w.Code, w.Header())
		}
	}
	for _, s := range authorizeShapes {
		b.Run(s.name+"/bare", func(b *testing.B) { run(b, s.new()) })
		b.Run(s.name+"/wrapped", func(b *testing.B) { run(b, steadyMiddleware(b).Authorize(s.new())) })
	}
}

func BenchmarkTokenShape(b *testing.B) {
	verifier := pkce.GenerateVerifier()
	challenge := pkce.Challenge{Value: pkce.S256Challenge(verifier), Method: pkce.S256, ClientID: "app"}
	bodies := make([]string, storeBatch)
	codes := make([]string, storeBatch)
	for i := range codes {
		codes[i] = "code-" + strconv.Itoa(i)
		bodies[i] = tokenBody(codes[i], verifier)
	}
	run := func(b *testing.B, h http.Handler, m *pkce.Middleware) {
		var w *httptest.ResponseRecorder
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if m != nil && i%storeBatch == 0 {
				// Each batch of codes is recorded, timer stopped, in a new
				// store of a steady size.
				b.StopTimer()
				*m = *steadyTokenMiddleware(b)
				for _, code := range codes {
					if err := m.Record(context.Background(), code, challenge); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			w = httptest.NewRecorder()
			h.ServeHTTP(w, newTokenRequest(bodies[i%storeBatch]))
		}
		b.StopTimer()
		if w.Code != http.StatusOK {
			b.Fatalf("the last request was refused: %d %s", w.Code, w.Body)
		}
	}
	for _, s := range tokenShapes {
		b.Run(s.name+"/bare", func(b *testing.B) { run(b, s.h, nil) })
		b.Run(s.name+"/wrapped", func(b *testing.B) {
			// The handler is built once over a Middleware value that each
			// lap replaces in place with a fresh one.
			m := steadyTokenMiddleware(b)
			run(b, m.Token(s.h), m)
		})
	}
}

// steadyTokenMiddleware is the zero Config: the token benchmarks refill a
// new store every lap, so nothing needs to expire.
func steadyTokenMiddleware(b *testing.B) *pkce.Middleware {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkFlow is a whole flow, the authorization request and the token
// request that redeems its code, against the same homegrown server bare and
// wrapped. Wrapped minus bare is the PKCE cost per flow, which
// bench/BenchmarkFlow compares with fosite's own.
func BenchmarkFlow(b *testing.B) {
	verifier := pkce.GenerateVerifier()
	target := shapeAuthorizeTarget(pkce.S256Challenge(verifier))
	flows := []struct {
		name      string
		authorize func() http.Handler
		token     http.Handler
	}{
		{"query", bareAuthorizeQuery, bareTokenPostForm},
		{"formvalue", bareAuthorize, bareToken},
	}
	run := func(b *testing.B, authorize, token http.Handler) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			w := httptest.NewRecorder()
			authorize.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
			code := codeOf(w.Header().Get("Location"))
			w = httptest.NewRecorder()
			token.ServeHTTP(w, newTokenRequest(tokenBody(code, verifier)))
			if w.Code != http.StatusOK {
				b.Fatalf("flow %d: token status %d: %s", i, w.Code, w.Body)
			}
		}
	}
	for _, f := range flows {
		b.Run(f.name+"/bare", func(b *testing.B) { run(b, f.authorize(), f.token) })
		b.Run(f.name+"/wrapped", func(b *testing.B) {
			// A TTL long enough for a token request delayed by a loaded
			// machine; the store holds the used marks of that long.
			m, err := pkce.New(pkce.Config{TTL: 2 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			run(b, m.Authorize(f.authorize()), m.Token(f.token))
		})
	}
}

// codeOf returns the code parameter of a Location the bare handlers wrote.
func codeOf(loc string) string {
	_, code, _ := strings.Cut(loc, "?code=")
	code, _, _ = strings.Cut(code, "&")
	return code
}
