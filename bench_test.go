package pkce_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
)

// Benchmarks compare each wrapped endpoint with the same bare handler in one
// run: the difference is the middleware's cost. The handlers read their
// parameters as real ones do, with r.FormValue.
//
//	go test -run '^$' -bench . -benchmem

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// bareToken is the token handler as a homegrown server writes it.
var bareToken = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("grant_type") == "" || r.FormValue("code") == "" || r.FormValue("client_id") == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
})

// bareAuthorize redirects with a new code, as a server that consents at once.
func bareAuthorize() http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("response_type") != "code" || r.FormValue("client_id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code := "code-" + strconv.FormatInt(n.Add(1), 36)
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+code+"&state="+r.FormValue("state"), http.StatusFound)
	})
}

// storeBatch is the number of live entries the benchmarks keep in a store:
// a server issuing a code every few milliseconds holds that many within the
// default TTL. A store grown to millions over a long run would measure
// cache misses instead.
const storeBatch = 1 << 14

// reusable is one request sent again and again with a new body, so that the
// benchmarks measure the handlers, not the building of requests.
type reusable struct {
	r    *http.Request
	body *strings.Reader
}

func newReusable(method, target, contentType string) *reusable {
	x := &reusable{body: strings.NewReader("")}
	x.r, _ = http.NewRequest(method, target, nil)
	x.r.Body = io.NopCloser(x.body)
	if contentType != "" {
		x.r.Header.Set("Content-Type", contentType)
	}
	return x
}

// with returns the request with body and no parsed form.
func (x *reusable) with(body string) *http.Request {
	x.body.Reset(body)
	x.r.ContentLength = int64(len(body))
	x.r.Form, x.r.PostForm = nil, nil
	return x.r
}

func tokenBody(code, verifier string) string {
	return "grant_type=authorization_code&code=" + code + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&client_id=app&code_verifier=" + verifier
}

func BenchmarkToken(b *testing.B) {
	verifier := pkce.GenerateVerifier()
	challenge := pkce.Challenge{Value: pkce.S256Challenge(verifier), Method: pkce.S256, ClientID: "app"}
	w := &discardWriter{h: http.Header{}}
	req := newReusable(http.MethodPost, "http://as.example/token", "application/x-www-form-urlencoded")
	codes := make([]string, storeBatch)
	for i := range codes {
		codes[i] = "code-" + strconv.Itoa(i)
	}

	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			clear(w.h)
			bareToken.ServeHTTP(w, req.with(tokenBody(codes[i%storeBatch], verifier)))
		}
	})
	b.Run("wrapped", func(b *testing.B) {
		// Each batch of codes is recorded, timer stopped, in a new store of
		// a steady size, as a server holding a few minutes of codes.
		var h http.Handler
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if i%storeBatch == 0 {
				b.StopTimer()
				m, err := pkce.New(pkce.Config{})
				if err != nil {
					b.Fatal(err)
				}
				for j := range codes {
					if err := m.Record(context.Background(), codes[j], challenge); err != nil {
						b.Fatal(err)
					}
				}
				h = m.Token(bareToken)
				b.StartTimer()
			}
			clear(w.h)
			h.ServeHTTP(w, req.with(tokenBody(codes[i%storeBatch], verifier)))
		}
		b.StopTimer()
		if w.h.Get("Content-Type") != "application/json" {
			b.Fatalf("the last request was refused: %v", w.h)
		}
	})
	b.Run("wrapped/refresh_token", func(b *testing.B) {
		m, _ := pkce.New(pkce.Config{})
		h := m.Token(bareToken)
		body := "grant_type=refresh_token&refresh_token=rt-1234567890&client_id=app&code=x"
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			h.ServeHTTP(w, req.with(body))
		}
	})
}

func authorizeRequest(challenge string) *http.Request {
	q := "response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=af0ifjsldkj&code_challenge=" + challenge + "&code_challenge_method=S256"
	r, _ := http.NewRequest(http.MethodGet, "http://as.example/authorize?"+q, nil)
	return r
}

func BenchmarkAuthorize(b *testing.B) {
	challenge := pkce.S256Challenge(pkce.GenerateVerifier())
	w := &discardWriter{h: http.Header{}}
	r := authorizeRequest(challenge)
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			clear(w.h)
			r.Form = nil
			h.ServeHTTP(w, r)
		}
		b.StopTimer()
		if !strings.Contains(w.h.Get("Location"), "code=") {
			b.Fatalf("no code issued: %v", w.h)
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bareAuthorize()) })
	b.Run("wrapped", func(b *testing.B) {
		// A server in its steady state: challenges expire as new ones come,
		// so the store holds about TTL/op-time entries (tens of thousands
		// here) instead of growing for the whole run.
		m, err := pkce.New(pkce.Config{TTL: 100 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		run(b, m.Authorize(bareAuthorize()))
	})
}

func BenchmarkDiscovery(b *testing.B) {
	doc := []byte(`{"issuer":"https://as.example","authorization_endpoint":"https://as.example/authorize","token_endpoint":"https://as.example/token","response_types_supported":["code"],"grant_types_supported":["authorization_code","refresh_token"]}`)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	m, _ := pkce.New(pkce.Config{})
	w := &discardWriter{h: http.Header{}}
	r, _ := http.NewRequest(http.MethodGet, "http://as.example/.well-known/openid-configuration", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"wrapped", m.Discovery(bare)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				clear(w.h)
				bc.h.ServeHTTP(w, r)
			}
		})
	}
}

func BenchmarkMemoryStore(b *testing.B) {
	ctx := context.Background()
	c := pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "app"}
	keys := func(n int) []string {
		k := make([]string, n)
		for i := range k {
			k[i] = pkce.S256Challenge("code-" + strconv.Itoa(i))
		}
		return k
	}
	b.Run("SaveTake", func(b *testing.B) {
		// Steady state: entries expire 20 ms after they are saved and are
		// swept as new ones come, so the store keeps a constant size.
		s := pkce.NewMemoryStore()
		k := keys(1 << 20)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			key := k[i%len(k)]
			c.ExpiresAt = time.Now().Add(20 * time.Millisecond)
			if err := s.Save(ctx, key, c); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Take(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SaveTakeParallel", func(b *testing.B) {
		k := keys(b.N)
		s := pkce.NewMemoryStoreWithOptions(pkce.MemoryStoreOptions{MaxEntries: 1 << 30})
		c.ExpiresAt = time.Now().Add(time.Hour)
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := k[next.Add(1)-1]
				if err := s.Save(ctx, key, c); err != nil {
					b.Error(err)
					return
				}
				if _, err := s.Take(ctx, key); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkS256Challenge is what a client computes per authorization
// request.
func BenchmarkS256Challenge(b *testing.B) {
	v := pkce.GenerateVerifier()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = pkce.S256Challenge(v)
	}
}
