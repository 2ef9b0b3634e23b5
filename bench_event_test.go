package pkce_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
)

// The cost of events: the wrapped endpoints of bench_test.go with an
// OnEvent that does nothing, with Adoption.Observe as OnEvent, and in
// report-only mode. Compare with BenchmarkToken/wrapped and
// BenchmarkAuthorize/wrapped (OnEvent nil).
//
//	go test -run '^$' -bench 'OnEvent' -benchmem

func BenchmarkTokenOnEvent(b *testing.B) {
	verifier := pkce.GenerateVerifier()
	challenge := pkce.Challenge{Value: pkce.S256Challenge(verifier), Method: pkce.S256, ClientID: "app"}
	w := &discardWriter{h: http.Header{}}
	req := newReusable(http.MethodPost, "http://as.example/token", "application/x-www-form-urlencoded")
	codes := make([]string, storeBatch)
	for i := range codes {
		codes[i] = "code-" + strconv.Itoa(i)
	}
	for _, bc := range []struct {
		name string
		cfg  func() pkce.Config
	}{
		{"noop", func() pkce.Config { return pkce.Config{OnEvent: func(pkce.Event) {}} }},
		{"adoption", func() pkce.Config { return pkce.Config{OnEvent: pkce.NewAdoption().Observe} }},
		{"report-only/adoption", func() pkce.Config {
			return pkce.Config{ReportOnly: true, OnEvent: pkce.NewAdoption().Observe}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h http.Handler
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if i%storeBatch == 0 {
					b.StopTimer()
					m, err := pkce.New(bc.cfg())
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
	}
	b.Run("adoption/refused", func(b *testing.B) {
		// A replayed code, refused, on every request.
		m, _ := pkce.New(pkce.Config{OnEvent: pkce.NewAdoption().Observe})
		h := m.Token(bareToken)
		body := tokenBody("replayed", verifier)
		if err := m.Record(context.Background(), "replayed", challenge); err != nil {
			b.Fatal(err)
		}
		h.ServeHTTP(w, req.with(body))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			clear(w.h)
			h.ServeHTTP(w, req.with(body))
		}
	})
}

func BenchmarkAuthorizeOnEvent(b *testing.B) {
	challenge := pkce.S256Challenge(pkce.GenerateVerifier())
	w := &discardWriter{h: http.Header{}}
	r := authorizeRequest(challenge)
	for _, bc := range []struct {
		name string
		cfg  pkce.Config
	}{
		{"noop", pkce.Config{OnEvent: func(pkce.Event) {}}},
		{"adoption", pkce.Config{OnEvent: pkce.NewAdoption().Observe}},
		{"report-only/adoption", pkce.Config{ReportOnly: true, OnEvent: pkce.NewAdoption().Observe}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.cfg.TTL = 100 * time.Millisecond // steady state, as BenchmarkAuthorize
			m, err := pkce.New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			h := m.Authorize(bareAuthorize())
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
		})
	}
}
