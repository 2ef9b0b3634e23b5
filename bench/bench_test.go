package bench_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
)

// Every benchmark below handles one request per operation with the same
// verifier, S256 challenge and codes, and fails at the first request that is
// not accepted, so a broken setup cannot report a fast number.
//
//	GOWORK=off go test -run '^$' -bench . -benchmem -count 5

// lap is how many operations run on one store. Before each lap, with the
// timer stopped, every peer gets a new store (holding lap challenges for the
// token benchmarks, none for the authorize ones), so each works on a store
// of the same size whatever b.N the benchmark chooses.
const lap = 1 << 16

// inLaps runs op for operations 0..b.N-1, each with its code, and calls
// fresh with the timer stopped before every lap.
func inLaps(b *testing.B, fresh func(codes []string), op func(i int, code string)) {
	b.Helper()
	c := codes(lap)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%lap == 0 {
			b.StopTimer()
			fresh(c)
			b.StartTimer()
		}
		op(i, c[i%lap])
	}
}

// BenchmarkToken is one authorization_code token request whose code was
// issued for the challenge.
//
//   - bare: the homegrown token handler alone: build the *http.Request,
//     parse the form, write a JSON answer.
//   - go-pkce: the same handler behind Middleware.Token: the same, plus
//     reading the body once (bounded), checking the parameters, taking the
//     code's challenge from the MemoryStore and checking the verifier. The
//     middleware's cost is go-pkce minus bare.
//   - fosite: handler/pkce HandleTokenEndpointRequest on an already parsed
//     fosite.AccessRequest: derive the code's signature, look the challenge
//     up in storage.MemoryStore, delete it, validate and check the verifier.
//     No HTTP, no parsing.
//   - zitadel: op.AuthorizeCodeChallenge, the verifier check alone, on the
//     challenge the application's Storage has already returned. No HTTP, no
//     parsing, no look-up.
func BenchmarkToken(b *testing.B) {
	ctx := context.Background()
	w := &statusWriter{h: http.Header{}}
	serve := func(b *testing.B, h http.Handler, i int, code string) {
		w.reset()
		h.ServeHTTP(w, tokenRequest(code, verifier))
		if w.code != http.StatusOK {
			b.Fatalf("request %d: status %d", i, w.code)
		}
	}

	b.Run("bare", func(b *testing.B) {
		inLaps(b, func([]string) {}, func(i int, code string) { serve(b, bareToken, i, code) })
	})

	b.Run("go-pkce", func(b *testing.B) {
		var h http.Handler
		inLaps(b, func(codes []string) {
			m := newMiddleware()
			for _, code := range codes {
				if err := m.Record(ctx, code, ourChallenge); err != nil {
					b.Fatal(err)
				}
			}
			h = m.Token(bareToken)
		}, func(i int, code string) { serve(b, h, i, code) })
	})

	b.Run("fosite", func(b *testing.B) {
		var f *fositePKCE
		values := make([][]string, lap)
		for i, code := range codes(lap) {
			values[i] = []string{code}
		}
		inLaps(b, func(codes []string) {
			f = newFositePKCE(verifier)
			for _, code := range codes {
				if err := f.authorize(ctx, code); err != nil {
					b.Fatal(err)
				}
			}
		}, func(i int, _ string) {
			if err := f.token(ctx, values[i%lap]); err != nil {
				b.Fatalf("request %d: %v", i, err)
			}
		})
	})

	b.Run("zitadel", func(b *testing.B) {
		inLaps(b, func([]string) {}, func(i int, _ string) {
			if err := zitadelToken(verifier, zitadelChallenge); err != nil {
				b.Fatalf("request %d: %v", i, err)
			}
		})
	})
}

// BenchmarkAuthorize is one authorization request with response_type=code
// and an S256 challenge, answered with a code.
//
//   - bare: the homegrown authorize handler alone: build the *http.Request,
//     parse the query, redirect with the next code.
//   - go-pkce: the same handler behind Middleware.Authorize: the same, plus
//     reading and checking the parameters, validating the challenge, holding
//     the response back, finding the code in its Location and saving the
//     challenge in the MemoryStore before the redirect leaves. The
//     middleware's cost is go-pkce minus bare.
//   - go-pkce-Record: Middleware.Record, the same validation and save on
//     values the caller has already parsed, for a code minted outside the
//     wrapped handler: the closest go-pkce has to fosite's row.
//   - fosite: handler/pkce HandleAuthorizeEndpointRequest on an already
//     parsed fosite.AuthorizeRequest whose response already carries the
//     code: validate the challenge and method, derive the code's signature,
//     store the sanitized request in storage.MemoryStore. No HTTP, no
//     parsing, no response.
//
// Each lap starts on an empty store and adds one challenge per operation.
func BenchmarkAuthorize(b *testing.B) {
	ctx := context.Background()
	w := &statusWriter{h: http.Header{}}
	serve := func(b *testing.B, h http.Handler, i int) {
		w.reset()
		h.ServeHTTP(w, authorizeRequest())
		if w.code != http.StatusFound || !strings.Contains(w.h.Get("Location"), "code=") {
			b.Fatalf("request %d: status %d, no code issued: %v", i, w.code, w.h)
		}
	}

	b.Run("bare", func(b *testing.B) {
		var h http.Handler
		inLaps(b, func(codes []string) { h = bareAuthorize(codes) },
			func(i int, _ string) { serve(b, h, i) })
	})

	b.Run("go-pkce", func(b *testing.B) {
		var h http.Handler
		inLaps(b, func(codes []string) { h = newMiddleware().Authorize(bareAuthorize(codes)) },
			func(i int, _ string) { serve(b, h, i) })
	})

	b.Run("go-pkce-Record", func(b *testing.B) {
		var m *pkce.Middleware
		inLaps(b, func([]string) { m = newMiddleware() }, func(i int, code string) {
			if err := m.Record(ctx, code, ourChallenge); err != nil {
				b.Fatalf("request %d: %v", i, err)
			}
		})
	})

	b.Run("fosite", func(b *testing.B) {
		var f *fositePKCE
		inLaps(b, func([]string) { f = newFositePKCE(verifier) }, func(i int, code string) {
			if err := f.authorize(ctx, code); err != nil {
				b.Fatalf("request %d: %v", i, err)
			}
		})
	})
}
