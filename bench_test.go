package pkce_test

import (
	"context"
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

func tokenRequest(code, verifier string) *http.Request {
	body := "grant_type=authorization_code&code=" + code + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&client_id=app&code_verifier=" + verifier
	r, _ := http.NewRequest(http.MethodPost, "http://as.example/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func BenchmarkToken(b *testing.B) {
	verifier := pkce.GenerateVerifier()
	challenge := pkce.Challenge{Value: pkce.S256Challenge(verifier), Method: pkce.S256, ClientID: "app"}
	w := &discardWriter{h: http.Header{}}

	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			clear(w.h)
			bareToken.ServeHTTP(w, tokenRequest("code-"+strconv.Itoa(i), verifier))
		}
	})
	b.Run("wrapped", func(b *testing.B) {
		m, err := pkce.New(pkce.Config{})
		if err != nil {
			b.Fatal(err)
		}
		codes := make([]string, b.N)
		for i := range codes {
			codes[i] = "code-" + strconv.Itoa(i)
			if err := m.Record(context.Background(), codes[i], challenge); err != nil {
				b.Fatal(err)
			}
		}
		h := m.Token(bareToken)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			clear(w.h)
			h.ServeHTTP(w, tokenRequest(codes[i], verifier))
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
			r, _ := http.NewRequest(http.MethodPost, "http://as.example/token", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			h.ServeHTTP(w, r)
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
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			clear(w.h)
			h.ServeHTTP(w, authorizeRequest(challenge))
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
		s := pkce.NewMemoryStoreWithOptions(pkce.MemoryStoreOptions{MaxEntries: 1 << 30})
		k := keys(b.N)
		c.ExpiresAt = time.Now().Add(time.Hour)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.Save(ctx, k[i], c); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Take(ctx, k[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SaveTakeParallel", func(b *testing.B) {
		s := pkce.NewMemoryStoreWithOptions(pkce.MemoryStoreOptions{MaxEntries: 1 << 30})
		k := keys(b.N)
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
