// Package storetest is the conformance suite for implementations of
// [pkce.Store]. A store passes when it keeps every promise of the interface
// that the middleware's security rests on: each challenge is handed out at
// most once, a used one stays used until it expires, and no fault or
// cancelled context is mistaken for "not found".
//
// Run it from the store's own tests, with a constructor that returns a
// ready, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) pkce.Store {
//			return mystore.New(...)
//		})
//	}
//
// The suite uses real time: its expiry checks save challenges that live a
// few hundred milliseconds, and take about two seconds in all. It needs
// nothing beyond the standard library.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
)

// Run runs the conformance suite against the stores that newStore returns,
// one subtest per property, calling newStore once per subtest. newStore may
// return the same store every time, or stores that share a backend: the
// suite uses fresh random keys in each subtest. Stores that need cleaning up
// register it with t.Cleanup of the *testing.T they are given.
//
// What the suite checks, by subtest:
//
//   - RoundTrip: Take returns every field that Save recorded: Value,
//     Method, ClientID, and ExpiresAt to the millisecond.
//   - NotFound: Take of a key never saved is [pkce.ErrNotFound].
//   - KeysAreCaseSensitive: keys are base64url, so keys that differ only in
//     letter case are different entries (a case-insensitive SQL collation
//     fails this).
//   - UsedAfterTake: every Take after the first is [pkce.ErrUsed].
//   - SaveOverUsed: a Save over a used key returns [pkce.ErrUsed], with
//     another challenge or its own, and never makes the key usable again.
//   - NeverRebinds: a Save over a live unused entry whose challenge differs
//     in Value, Method or ClientID returns [pkce.ErrExists] and changes
//     nothing; a Save of the same challenge (whatever its ExpiresAt)
//     succeeds and changes nothing either, its expiry included.
//   - ConcurrentSaves: of many concurrent Saves of distinct challenges to
//     one fresh key, exactly one succeeds, the others get [pkce.ErrExists];
//     concurrent Saves of one challenge all succeed.
//   - ConcurrentTakes: of many concurrent Takes of one key, exactly one
//     gets the challenge, the others [pkce.ErrUsed].
//   - DoneContext: with a cancelled or expired context Save and Take (and
//     TakeAs and Restore of a [pkce.Restorer]) return an error that wraps
//     the context's error, and change nothing: such a Take does not use the
//     challenge up, such a Restore does not put it back.
//   - ManyKeys: thousands of entries saved and taken concurrently keep
//     apart (fewer with -short).
//   - Restorer, when the store implements [pkce.Restorer] (skipped
//     otherwise): see [pkce.Restorer] for the semantics; the subtests are
//     listed at runRestorer.
//   - Peeker, when the store implements [pkce.Peeker] (skipped
//     otherwise): see [pkce.Peeker] for the semantics; the subtests are
//     listed at runPeeker. They check that pushed entries round-trip every
//     field of [pkce.Challenge], RedirectURI included.
//   - Expiry (in parallel, with real time): an entry expires at its
//     ExpiresAt (then [pkce.ErrNotFound]); a used entry answers
//     [pkce.ErrUsed] until then; a key is usable again by a Save after its
//     entry expired, used or not; a Save whose ExpiresAt is not in the
//     future is an error or saves nothing usable. For a [pkce.Restorer]:
//     Restore keeps the entry's expiry, and never revives an expired entry.
//     For a [pkce.Peeker]: Peek of an expired entry is [pkce.ErrNotFound].
//
// Run returns when every subtest has finished, so a caller may release the
// store's backend after it returns.
func Run(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("KeysAreCaseSensitive", func(t *testing.T) { testCaseSensitive(t, newStore(t)) })
	t.Run("UsedAfterTake", func(t *testing.T) { testUsedAfterTake(t, newStore(t)) })
	t.Run("SaveOverUsed", func(t *testing.T) { testSaveOverUsed(t, newStore(t)) })
	t.Run("NeverRebinds", func(t *testing.T) { testNeverRebinds(t, newStore(t)) })
	t.Run("ConcurrentSaves", func(t *testing.T) { testConcurrentSaves(t, newStore(t)) })
	t.Run("ConcurrentTakes", func(t *testing.T) { testConcurrentTakes(t, newStore(t)) })
	t.Run("DoneContext", func(t *testing.T) { testDoneContext(t, newStore(t)) })
	t.Run("ManyKeys", func(t *testing.T) { testManyKeys(t, newStore(t)) })
	t.Run("Restorer", func(t *testing.T) { runRestorer(t, newStore) })
	t.Run("Peeker", func(t *testing.T) { runPeeker(t, newStore) })
	// The timed subtests sleep; they run in parallel with one another, and
	// this t.Run returns only when all of them are done.
	t.Run("Expiry", func(t *testing.T) {
		t.Run("ExpiredIsNotFound", func(t *testing.T) {
			t.Parallel()
			testExpiredIsNotFound(t, newStore(t))
		})
		t.Run("UsedUntilExpiry", func(t *testing.T) {
			t.Parallel()
			testUsedUntilExpiry(t, newStore(t))
		})
		t.Run("SaveAfterExpiry", func(t *testing.T) {
			t.Parallel()
			testSaveAfterExpiry(t, newStore(t))
		})
		t.Run("SaveInThePast", func(t *testing.T) {
			t.Parallel()
			testSaveInThePast(t, newStore(t))
		})
		t.Run("RestoreKeepsExpiry", func(t *testing.T) {
			t.Parallel()
			testRestoreKeepsExpiry(t, restorer(t, newStore(t)))
		})
		t.Run("RestoreAfterExpiry", func(t *testing.T) {
			t.Parallel()
			testRestoreAfterExpiry(t, restorer(t, newStore(t)))
		})
		t.Run("PeekExpired", func(t *testing.T) {
			t.Parallel()
			testPeekExpired(t, peeker(t, newStore(t)))
		})
	})
}

// Timing of the expiry subtests. The TTLs are short so the suite is quick;
// the margins are generous so a busy machine does not make it flaky: an
// assertion that depends on the clock is made only when the call that it
// checks finished clearly on the right side of ExpiresAt.
const (
	shortTTL = 250 * time.Millisecond
	// expiryGrace is how long after ExpiresAt (plus the time the Save took)
	// a store may still hold an entry.
	expiryGrace = 250 * time.Millisecond
	// longTTL is for entries that must not expire during a subtest.
	longTTL = 10 * time.Minute
	// callTimeout bounds each call the suite makes with a live context.
	callTimeout = 10 * time.Second
)

func testRoundTrip(t *testing.T, s pkce.Store) {
	// A deadline with sub-millisecond digits: the store must keep at least
	// the milliseconds.
	exp := time.Now().Add(longTTL).Truncate(time.Millisecond).Add(999_999 * time.Nanosecond)
	tests := []struct {
		name string
		c    pkce.Challenge
	}{
		{"S256", pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "demo-app", ExpiresAt: exp}},
		{"Plain128", pkce.Challenge{Value: strings.Repeat("aZ0-._~", 19)[:128], Method: pkce.Plain, ClientID: "c", ExpiresAt: exp}},
		{"NoClientID", pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ExpiresAt: exp}},
		{"ClientIDAnyBytes", pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "client é/ü:{x}|%20 \"q\"\x00\xff", ExpiresAt: exp}},
		{"LongClientID", pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "https://client.example.com/" + strings.Repeat("metadata/", 100), ExpiresAt: exp}},
		{"ExpiresAtLocal", pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "x", ExpiresAt: exp.In(time.FixedZone("UTC+5", 5*3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey()
			mustSave(t, s, key, tt.c)
			got, err := take(s, key)
			if err != nil {
				t.Fatalf("Take after Save: %v", err)
			}
			checkChallenge(t, got, tt.c)
		})
	}
}

func testNotFound(t *testing.T, s pkce.Store) {
	for range 3 {
		if _, err := take(s, newKey()); !errors.Is(err, pkce.ErrNotFound) {
			t.Fatalf("Take of a key never saved: got %v, want ErrNotFound", err)
		}
	}
	// A key that was saved does not make its neighbours found.
	key := newKey()
	mustSave(t, s, key, newChallenge(longTTL))
	other := key[:len(key)-1] + flip(key[len(key)-1])
	if _, err := take(s, other); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("Take of a key one character away from a saved one: got %v, want ErrNotFound", err)
	}
}

func testCaseSensitive(t *testing.T, s pkce.Store) {
	key := newKey()
	lower, upper := strings.ToLower(key), strings.ToUpper(key)
	if lower == upper {
		t.Skip("the random key has no letters")
	}
	cl, cu := newChallenge(longTTL), newChallenge(longTTL)
	mustSave(t, s, lower, cl)
	mustSave(t, s, upper, cu)
	got, err := take(s, upper)
	if err != nil {
		t.Fatalf("Take(%q): %v", upper, err)
	}
	checkChallenge(t, got, cu)
	got, err = take(s, lower)
	if err != nil {
		t.Fatalf("Take(%q) after Take(%q): %v; keys that differ in case must be different entries", lower, upper, err)
	}
	checkChallenge(t, got, cl)
}

func testUsedAfterTake(t *testing.T, s pkce.Store) {
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	got, err := take(s, key)
	if err != nil {
		t.Fatalf("first Take: %v", err)
	}
	checkChallenge(t, got, c)
	for i := 2; i <= 5; i++ {
		got, err := take(s, key)
		if !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("Take #%d: got (%+v, %v), want ErrUsed", i, got, err)
		}
	}
}

func testSaveOverUsed(t *testing.T, s pkce.Store) {
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	if _, err := take(s, key); err != nil {
		t.Fatalf("first Take: %v", err)
	}
	for _, tt := range []struct {
		name string
		c    pkce.Challenge
	}{
		{"Another", newChallenge(longTTL)},
		{"Own", c},
		{"OwnLater", later(c)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := save(s, key, tt.c); !errors.Is(err, pkce.ErrUsed) {
				t.Fatalf("Save of %s challenge over a used key: got %v, want ErrUsed", strings.ToLower(tt.name), err)
			}
			if got, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
				t.Fatalf("Take after a Save over a used key: got (%+v, %v), want ErrUsed: a used key must never become usable again", got, err)
			}
		})
	}
}

func testNeverRebinds(t *testing.T, s pkce.Store) {
	for _, tt := range []struct {
		name  string
		other func(pkce.Challenge) pkce.Challenge
	}{
		{"OtherValue", func(c pkce.Challenge) pkce.Challenge { c.Value = pkce.S256Challenge(pkce.GenerateVerifier()); return c }},
		{"OtherMethod", func(c pkce.Challenge) pkce.Challenge { c.Method = pkce.Plain; return c }},
		{"OtherClientID", func(c pkce.Challenge) pkce.Challenge { c.ClientID += "-thief"; return c }},
		{"NoClientID", func(c pkce.Challenge) pkce.Challenge { c.ClientID = ""; return c }},
		{"AllOther", func(pkce.Challenge) pkce.Challenge { return newChallenge(longTTL) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, c := newKey(), newChallenge(longTTL)
			mustSave(t, s, key, c)
			for _, o := range []pkce.Challenge{tt.other(c), later(tt.other(c))} {
				if err := save(s, key, o); !errors.Is(err, pkce.ErrExists) {
					t.Fatalf("Save of another challenge (%+v) over the live unused %+v: got %v, want ErrExists: a key is never rebound", o, c, err)
				}
			}
			got, err := take(s, key)
			if err != nil {
				t.Fatalf("Take after the refused Saves: %v", err)
			}
			checkChallenge(t, got, c)
		})
	}
	t.Run("SameChallenge", func(t *testing.T) {
		key, c := newKey(), newChallenge(longTTL)
		mustSave(t, s, key, c)
		for _, again := range []pkce.Challenge{c, later(c), earlier(c)} {
			if err := save(s, key, again); err != nil {
				t.Fatalf("Save of the same challenge again (ExpiresAt %v, first %v): %v; a retry must succeed", again.ExpiresAt, c.ExpiresAt, err)
			}
		}
		got, err := take(s, key)
		if err != nil {
			t.Fatalf("Take after Saves of the same challenge: %v", err)
		}
		checkChallenge(t, got, c) // the entry is unchanged, its ExpiresAt too
		if _, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("second Take: got %v, want ErrUsed", err)
		}
	})
}

func testConcurrentSaves(t *testing.T, s pkce.Store) {
	const savers = 32
	t.Run("Distinct", func(t *testing.T) {
		key := newKey()
		cs := make([]pkce.Challenge, savers)
		for i := range cs {
			cs[i] = newChallenge(longTTL)
		}
		errs := make([]error, savers)
		concurrently(savers, func(i int) { errs[i] = save(s, key, cs[i]) })
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("Saves %d and %d of distinct challenges to one key both succeeded, want exactly one", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, pkce.ErrExists):
				t.Errorf("Save %d: got %v, want nil or ErrExists", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("none of %d concurrent Saves to a fresh key succeeded", savers)
		}
		got, err := take(s, key)
		if err != nil {
			t.Fatalf("Take after the concurrent Saves: %v", err)
		}
		checkChallenge(t, got, cs[winner])
	})
	t.Run("Same", func(t *testing.T) {
		key, c := newKey(), newChallenge(longTTL)
		errs := make([]error, savers)
		concurrently(savers, func(i int) { errs[i] = save(s, key, c) })
		for i, err := range errs {
			if err != nil {
				t.Errorf("Save %d of one challenge, concurrently: %v; want every one to succeed", i, err)
			}
		}
		got, err := take(s, key)
		if err != nil {
			t.Fatalf("Take after the concurrent Saves: %v", err)
		}
		checkChallenge(t, got, c)
	})
}

func testConcurrentTakes(t *testing.T, s pkce.Store) {
	const rounds, takers = 20, 32
	for r := range rounds {
		key, c := newKey(), newChallenge(longTTL)
		mustSave(t, s, key, c)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			mu    sync.Mutex
			wins  int
			errs  []error
		)
		for range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := take(s, key)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
					if got.Value != c.Value {
						errs = append(errs, fmt.Errorf("the winner got challenge %q, want %q", got.Value, c.Value))
					}
				case !errors.Is(err, pkce.ErrUsed):
					errs = append(errs, fmt.Errorf("a loser got %v, want ErrUsed", err))
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Errorf("round %d: %d of %d concurrent Takes got the challenge, want exactly 1", r, wins, takers)
		}
		for _, err := range errs {
			t.Errorf("round %d: %v", r, err)
		}
		if t.Failed() {
			return
		}
	}
}

func testDoneContext(t *testing.T, s pkce.Store) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	rs, isRestorer := s.(pkce.Restorer)
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"Cancelled", cancelled, context.Canceled},
		{"DeadlineExceeded", expired, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Save(tt.ctx, newKey(), newChallenge(longTTL)); !errors.Is(err, tt.want) {
				t.Errorf("Save with a done context: got %v, want an error wrapping %v", err, tt.want)
			}
			key, c := newKey(), newChallenge(longTTL)
			mustSave(t, s, key, c)
			if got, err := s.Take(tt.ctx, key); !errors.Is(err, tt.want) {
				t.Fatalf("Take with a done context: got (%+v, %v), want an error wrapping %v", got, err, tt.want)
			}
			if isRestorer {
				if got, err := rs.TakeAs(tt.ctx, key, 1); !errors.Is(err, tt.want) {
					t.Fatalf("TakeAs with a done context: got (%+v, %v), want an error wrapping %v", got, err, tt.want)
				}
			}
			got, err := take(s, key)
			if err != nil {
				t.Fatalf("Take with a live context after one with a done context: %v; a Take that fails must not use the challenge up", err)
			}
			checkChallenge(t, got, c)
			if !isRestorer {
				return
			}
			key, c = newKey(), newChallenge(longTTL)
			mustSave(t, s, key, c)
			mustTakeAs(t, rs, key, 1, c)
			if err := rs.Restore(tt.ctx, key, 1); !errors.Is(err, tt.want) {
				t.Fatalf("Restore with a done context: got %v, want an error wrapping %v", err, tt.want)
			}
			if got, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
				t.Fatalf("Take after a Restore with a done context: got (%+v, %v), want ErrUsed: a Restore that fails must not put the challenge back", got, err)
			}
		})
	}
}

func testManyKeys(t *testing.T, s pkce.Store) {
	n, workers := 10_000, 8
	if testing.Short() {
		n = 1_000
	}
	keys := make([]string, n)
	cs := make([]pkce.Challenge, n)
	for i := range keys {
		keys[i] = newKey()
		cs[i] = newChallenge(longTTL)
		cs[i].ClientID = fmt.Sprintf("client-%d", i)
	}
	parallel(t, n, workers, func(i int) error {
		if err := save(s, keys[i], cs[i]); err != nil {
			return fmt.Errorf("Save of key %d of %d: %w", i, n, err)
		}
		return nil
	})
	if t.Failed() {
		return
	}
	// Take them in another order than they were saved.
	parallel(t, n, workers, func(j int) error {
		i := n - 1 - j
		got, err := take(s, keys[i])
		if err != nil {
			return fmt.Errorf("Take of key %d of %d: %w", i, n, err)
		}
		if got.Value != cs[i].Value || got.ClientID != cs[i].ClientID {
			return fmt.Errorf("Take of key %d: got (%q, %q), want (%q, %q)", i, got.Value, got.ClientID, cs[i].Value, cs[i].ClientID)
		}
		return nil
	})
	for i := 0; i < n; i += n / 50 {
		if _, err := take(s, keys[i]); !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("second Take of key %d: got %v, want ErrUsed", i, err)
		}
	}
}

func testExpiredIsNotFound(t *testing.T, s pkce.Store) {
	key, c := newKey(), newChallenge(shortTTL)
	took := timedSave(t, s, key, c)
	sleepUntil(c.ExpiresAt.Add(took + expiryGrace))
	if got, err := take(s, key); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("Take %v after ExpiresAt of an entry never taken: got (%+v, %v), want ErrNotFound", time.Since(c.ExpiresAt).Round(time.Millisecond), got, err)
	}
}

func testUsedUntilExpiry(t *testing.T, s pkce.Store) {
	key, c := newKey(), newChallenge(4*shortTTL)
	took := timedSave(t, s, key, c)
	got, err := take(s, key)
	if err != nil {
		if time.Now().Before(c.ExpiresAt) {
			t.Fatalf("first Take: %v", err)
		}
		t.Skipf("the machine is too slow for this subtest: the first Take came after ExpiresAt (%v)", err)
	}
	checkChallenge(t, got, c)
	// Until ExpiresAt every Take is ErrUsed; a Take that finishes after it
	// may be ErrNotFound too.
	for time.Now().Before(c.ExpiresAt) {
		_, err := take(s, key)
		done := time.Now()
		if errors.Is(err, pkce.ErrUsed) || errors.Is(err, pkce.ErrNotFound) && !done.Before(c.ExpiresAt) {
			time.Sleep(shortTTL / 5)
			continue
		}
		t.Fatalf("Take %v before ExpiresAt of a used entry: got %v, want ErrUsed", c.ExpiresAt.Sub(done).Round(time.Millisecond), err)
	}
	sleepUntil(c.ExpiresAt.Add(took + expiryGrace))
	if _, err := take(s, key); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("Take %v after ExpiresAt of a used entry: got %v, want ErrNotFound", time.Since(c.ExpiresAt).Round(time.Millisecond), err)
	}
}

func testSaveAfterExpiry(t *testing.T, s pkce.Store) {
	used, unused := newKey(), newKey()
	c1, c2 := newChallenge(shortTTL), newChallenge(shortTTL)
	took := timedSave(t, s, used, c1)
	took += timedSave(t, s, unused, c2)
	if _, err := take(s, used); err != nil && time.Now().Before(c1.ExpiresAt) {
		t.Fatalf("first Take: %v", err)
	}
	sleepUntil(c2.ExpiresAt.Add(took + expiryGrace))
	for _, key := range []string{used, unused} {
		name := map[string]string{used: "used", unused: "unused"}[key]
		c := newChallenge(longTTL)
		if err := save(s, key, c); err != nil {
			t.Fatalf("Save over the expired %s entry: %v; an expired key is free again", name, err)
		}
		got, err := take(s, key)
		if err != nil {
			t.Fatalf("Take after a Save over the expired %s entry: %v", name, err)
		}
		checkChallenge(t, got, c)
		if _, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("second Take after a Save over the expired %s entry: got %v, want ErrUsed", name, err)
		}
	}
}

func testSaveInThePast(t *testing.T, s pkce.Store) {
	for _, tt := range []struct {
		name string
		at   time.Time
	}{
		{"Past", time.Now().Add(-time.Minute)},
		{"Zero", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, c := newKey(), newChallenge(longTTL)
			c.ExpiresAt = tt.at
			if err := save(s, key, c); err == nil {
				// Tolerated only if nothing usable was saved.
				if got, err := take(s, key); !errors.Is(err, pkce.ErrNotFound) {
					t.Fatalf("Save with ExpiresAt %v succeeded and Take then got (%+v, %v), want ErrNotFound (or an error from Save)", tt.at, got, err)
				}
			}
		})
	}
}

// newKey returns a random key of the form the middleware uses: the
// base64url encoding, without padding, of 32 random bytes (43 characters).
func newKey() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand.Read does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newChallenge returns a fresh S256 challenge of a made-up client that
// expires ttl from now.
func newChallenge(ttl time.Duration) pkce.Challenge {
	return pkce.Challenge{
		Value:     pkce.S256Challenge(pkce.GenerateVerifier()),
		Method:    pkce.S256,
		ClientID:  "client-" + randomChars(8),
		ExpiresAt: time.Now().Add(ttl),
	}
}

// later and earlier return c with another ExpiresAt, still in the future:
// the same challenge for a Save, which compares Value, Method and ClientID.
func later(c pkce.Challenge) pkce.Challenge {
	c.ExpiresAt = c.ExpiresAt.Add(time.Hour)
	return c
}

func earlier(c pkce.Challenge) pkce.Challenge {
	c.ExpiresAt = c.ExpiresAt.Add(-time.Minute)
	return c
}

func randomChars(n int) string {
	return newKey()[:n]
}

// flip returns a base64url character other than ch.
func flip(ch byte) string {
	if ch == 'A' {
		return "B"
	}
	return "A"
}

func save(s pkce.Store, key string, c pkce.Challenge) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return s.Save(ctx, key, c)
}

func take(s pkce.Store, key string) (pkce.Challenge, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return s.Take(ctx, key)
}

func mustSave(t *testing.T, s pkce.Store, key string, c pkce.Challenge) {
	t.Helper()
	if err := save(s, key, c); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// timedSave saves c under key and returns how long the call took: an entry
// may outlive its ExpiresAt by that much in stores that turn ExpiresAt into
// a TTL.
func timedSave(t *testing.T, s pkce.Store, key string, c pkce.Challenge) time.Duration {
	t.Helper()
	start := time.Now()
	mustSave(t, s, key, c)
	return time.Since(start)
}

func sleepUntil(at time.Time) {
	time.Sleep(time.Until(at))
}

// checkChallenge compares every field of got with want, ExpiresAt to the
// millisecond. Only the Peeker subtests save a RedirectURI: a store that
// serves no pushed requests may drop it.
func checkChallenge(t *testing.T, got, want pkce.Challenge) {
	t.Helper()
	if got.Value != want.Value {
		t.Errorf("Value: got %q, want %q", got.Value, want.Value)
	}
	if got.Method != want.Method {
		t.Errorf("Method: got %q, want %q", got.Method, want.Method)
	}
	if got.ClientID != want.ClientID {
		t.Errorf("ClientID: got %q, want %q", got.ClientID, want.ClientID)
	}
	if got.RedirectURI != want.RedirectURI {
		t.Errorf("RedirectURI: got %q, want %q", got.RedirectURI, want.RedirectURI)
	}
	if d := got.ExpiresAt.Sub(want.ExpiresAt); d <= -time.Millisecond || d >= time.Millisecond {
		t.Errorf("ExpiresAt: got %v, want %v (to the millisecond)", got.ExpiresAt, want.ExpiresAt)
	}
}

// concurrently calls f(0) … f(n-1), each in its own goroutine, all
// released at once, and returns when every call has returned.
func concurrently(n int, f func(i int)) {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// parallel calls f(0) … f(n-1) from workers goroutines and reports the
// first few errors.
func parallel(t *testing.T, n, workers int, f func(i int) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if i == 5 {
			t.Errorf("… and %d more errors", len(errs)-5)
			break
		}
		t.Error(err)
	}
}
