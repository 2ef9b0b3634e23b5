package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
)

// runPeeker runs the subtests of the [pkce.Peeker] semantics, or skips
// them when the store does not implement it:
//
//   - RoundTrip: Peek, and Take after it, return every field that Save
//     recorded, RedirectURI included (long, with any bytes), ExpiresAt to
//     the millisecond.
//   - DoesNotUse: any number of Peeks leave the entry unused: Take still
//     gets the challenge, and every Peek or Take after it is
//     [pkce.ErrUsed].
//   - NotFound: Peek of a key never saved, or one character away from a
//     saved one, is [pkce.ErrNotFound].
//   - Used: Peek after Take, and after TakeAs of a [pkce.Restorer] until
//     its Restore, is [pkce.ErrUsed]; after the Restore it finds the
//     challenge again.
//   - PushedKeys: a pushed request's key ("par:" and 43 base64url
//     characters) and the code key it ends with are different entries.
//   - Concurrent: of concurrent Peeks and Takes of one key, exactly one
//     Take gets the challenge; a Peek gets the challenge or
//     [pkce.ErrUsed], never anything else.
//   - DoneContext: Peek with a cancelled or expired context returns an
//     error that wraps the context's error.
//
// Expiry/PeekExpired (with the other timed subtests) checks that Peek of an
// expired entry, used or not, is [pkce.ErrNotFound].
func runPeeker(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testPeekRoundTrip(t, peeker(t, newStore(t))) })
	t.Run("DoesNotUse", func(t *testing.T) { testPeekDoesNotUse(t, peeker(t, newStore(t))) })
	t.Run("NotFound", func(t *testing.T) { testPeekNotFound(t, peeker(t, newStore(t))) })
	t.Run("Used", func(t *testing.T) { testPeekUsed(t, peeker(t, newStore(t))) })
	t.Run("PushedKeys", func(t *testing.T) { testPeekPushedKeys(t, peeker(t, newStore(t))) })
	t.Run("Concurrent", func(t *testing.T) { testPeekConcurrent(t, peeker(t, newStore(t))) })
	t.Run("DoneContext", func(t *testing.T) { testPeekDoneContext(t, peeker(t, newStore(t))) })
}

// peeker returns s as a [pkce.Peeker], or skips the test.
func peeker(t *testing.T, s pkce.Store) pkce.Peeker {
	t.Helper()
	p, ok := s.(pkce.Peeker)
	if !ok {
		t.Skip("the store does not implement pkce.Peeker")
	}
	return p
}

// storeOf returns p as the [pkce.Store] it is part of.
func storeOf(t *testing.T, p pkce.Peeker) pkce.Store {
	t.Helper()
	s, ok := p.(pkce.Store)
	if !ok {
		t.Fatalf("%T is a pkce.Peeker but no pkce.Store", p)
	}
	return s
}

// pushedKey returns a random key of the form the middleware gives pushed
// requests: "par:" and 43 base64url characters.
func pushedKey() string { return "par:" + newKey() }

// pushedChallenge returns a fresh challenge of a pushed request, with a
// redirect URI.
func pushedChallenge(ttl time.Duration) pkce.Challenge {
	c := newChallenge(ttl)
	c.RedirectURI = "https://client.example.com/cb?tenant=" + randomChars(6)
	return c
}

func peek(p pkce.Peeker, key string) (pkce.Challenge, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return p.Peek(ctx, key)
}

func mustPeek(t *testing.T, p pkce.Peeker, key string, want pkce.Challenge) {
	t.Helper()
	got, err := peek(p, key)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	checkChallenge(t, got, want)
}

func testPeekRoundTrip(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	exp := time.Now().Add(longTTL).Truncate(time.Millisecond).Add(999_999 * time.Nanosecond)
	for _, tt := range []struct {
		name        string
		redirectURI string
	}{
		{"RedirectURI", "https://client.example.com/cb"},
		{"RedirectURIWithQuery", "https://client.example.com/cb?a=1&code=x&state=%20y#frag"},
		{"RedirectURILong", "https://client.example.com/" + strings.Repeat("p", 2048-len("https://client.example.com/"))},
		{"RedirectURIAnyBytes", "app.example:/cb é/ü:{x}|%20 \"q\"\x00\xff"},
		{"NoRedirectURI", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := pushedKey()
			c := pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256,
				ClientID: "client é " + randomChars(4), ExpiresAt: exp, RedirectURI: tt.redirectURI}
			mustSave(t, s, key, c)
			mustPeek(t, p, key, c)
			mustPeek(t, p, key, c)
			got, err := take(s, key)
			if err != nil {
				t.Fatalf("Take after Peek: %v", err)
			}
			checkChallenge(t, got, c)
		})
	}
}

func testPeekDoesNotUse(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	key, c := pushedKey(), pushedChallenge(longTTL)
	mustSave(t, s, key, c)
	for range 5 {
		mustPeek(t, p, key, c)
	}
	got, err := take(s, key)
	if err != nil {
		t.Fatalf("Take after five Peeks: %v; a Peek must not use the entry up", err)
	}
	checkChallenge(t, got, c)
	if _, err := peek(p, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("Peek after Take: got %v, want ErrUsed", err)
	}
	if _, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("second Take: got %v, want ErrUsed", err)
	}
}

func testPeekNotFound(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	for _, key := range []string{pushedKey(), newKey()} {
		if got, err := peek(p, key); !errors.Is(err, pkce.ErrNotFound) {
			t.Fatalf("Peek of a key never saved: got (%+v, %v), want ErrNotFound", got, err)
		}
	}
	key := pushedKey()
	mustSave(t, s, key, pushedChallenge(longTTL))
	other := key[:len(key)-1] + flip(key[len(key)-1])
	if got, err := peek(p, other); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("Peek of a key one character away from a saved one: got (%+v, %v), want ErrNotFound", got, err)
	}
}

func testPeekUsed(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	key, c := pushedKey(), pushedChallenge(longTTL)
	mustSave(t, s, key, c)
	if _, err := take(s, key); err != nil {
		t.Fatalf("Take: %v", err)
	}
	for range 3 {
		if got, err := peek(p, key); !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("Peek after Take: got (%+v, %v), want ErrUsed", got, err)
		}
	}
	rs, ok := p.(pkce.Restorer)
	if !ok {
		return
	}
	key, c = pushedKey(), pushedChallenge(longTTL)
	mustSave(t, s, key, c)
	mustTakeAs(t, rs, key, 1, c)
	if got, err := peek(p, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("Peek after TakeAs: got (%+v, %v), want ErrUsed", got, err)
	}
	mustRestore(t, rs, key, 1)
	mustPeek(t, p, key, c)
}

func testPeekPushedKeys(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	code := newKey()
	pushed := "par:" + code
	cc, cp := newChallenge(longTTL), pushedChallenge(longTTL)
	mustSave(t, s, code, cc)
	mustSave(t, s, pushed, cp)
	mustPeek(t, p, pushed, cp)
	mustPeek(t, p, code, cc)
	got, err := take(s, pushed)
	if err != nil {
		t.Fatalf("Take of the pushed key: %v", err)
	}
	checkChallenge(t, got, cp)
	mustPeek(t, p, code, cc) // the code key is another entry, still unused
	got, err = take(s, code)
	if err != nil {
		t.Fatalf("Take of the code key after the pushed one was taken: %v", err)
	}
	checkChallenge(t, got, cc)
}

func testPeekConcurrent(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	const rounds, workers = 10, 32
	for r := range rounds {
		key, c := pushedKey(), pushedChallenge(longTTL)
		mustSave(t, s, key, c)
		var wins atomic.Int32
		errs := make([]error, workers)
		concurrently(workers, func(i int) {
			if i%2 == 0 {
				got, err := peek(p, key)
				switch {
				case err == nil && got.Value != c.Value:
					errs[i] = fmt.Errorf("a Peek got challenge %q, want %q", got.Value, c.Value)
				case err != nil && !errors.Is(err, pkce.ErrUsed):
					errs[i] = fmt.Errorf("a Peek got %v, want the challenge or ErrUsed", err)
				}
				return
			}
			_, err := take(s, key)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, pkce.ErrUsed):
				errs[i] = fmt.Errorf("a losing Take got %v, want ErrUsed", err)
			}
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("round %d: %v", r, err)
			}
		}
		if n := wins.Load(); n != 1 {
			t.Errorf("round %d: %d Takes among concurrent Peeks got the challenge, want exactly 1", r, n)
		}
		if t.Failed() {
			return
		}
	}
}

func testPeekDoneContext(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	key, c := pushedKey(), pushedChallenge(longTTL)
	mustSave(t, s, key, c)
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"Cancelled", cancelled, context.Canceled},
		{"DeadlineExceeded", expired, context.DeadlineExceeded},
	} {
		if got, err := p.Peek(tt.ctx, key); !errors.Is(err, tt.want) {
			t.Errorf("%s: Peek with a done context: got (%+v, %v), want an error wrapping %v", tt.name, got, err, tt.want)
		}
	}
	mustPeek(t, p, key, c)
}

func testPeekExpired(t *testing.T, p pkce.Peeker) {
	s := storeOf(t, p)
	unused, used := pushedKey(), pushedKey()
	cu, cd := pushedChallenge(shortTTL), pushedChallenge(shortTTL)
	took := timedSave(t, s, unused, cu)
	took += timedSave(t, s, used, cd)
	if _, err := take(s, used); err != nil && time.Now().Before(cd.ExpiresAt) {
		t.Fatalf("Take: %v", err)
	}
	sleepUntil(cd.ExpiresAt.Add(took + expiryGrace))
	for _, key := range []string{unused, used} {
		if got, err := peek(p, key); !errors.Is(err, pkce.ErrNotFound) {
			t.Fatalf("Peek %v after ExpiresAt: got (%+v, %v), want ErrNotFound", time.Since(cd.ExpiresAt).Round(time.Millisecond), got, err)
		}
	}
}
