package storetest

// The subtests of the [pkce.Restorer] semantics, run by [Run] when the
// store implements the interface.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
)

// runRestorer runs the subtests of the [pkce.Restorer] semantics, or skips
// them when the store does not implement it:
//
//   - TakeAs: TakeAs returns the challenge and marks it used (Take and
//     TakeAs of another take get [pkce.ErrUsed]); a repeat of TakeAs with
//     the take that holds the entry returns the challenge again; TakeAs of a
//     key never saved is [pkce.ErrNotFound]; take 0 is an error that uses
//     nothing up.
//   - Restore: Restore of the take that holds the entry makes it usable
//     again, as it was (ExpiresAt included), for Take and TakeAs alike.
//   - RestoreOfAnotherTake, RestoreTwice: Restore of a take that does not
//     hold the entry (another take, or a take already restored and taken
//     since) changes nothing.
//   - PlainTakeIsFinal: an entry used by Take is never restored.
//   - RestoreNothing: Restore of a key never saved, or of an unused entry,
//     returns nil, creates nothing and changes nothing.
//   - SaveOverTaken, SaveOverRestored: a Save over an entry held by a take
//     is [pkce.ErrUsed]; once restored, a Save of another challenge is
//     still [pkce.ErrExists] and a Save of the same one succeeds.
//   - ConcurrentTakeAs: of many concurrent TakeAs of one key with distinct
//     takes (and Takes among them), exactly one gets the challenge.
//   - OneHolderAtATime: goroutines that TakeAs and Restore one key over and
//     over are never two to hold it at once, and each gets it.
func runRestorer(t *testing.T, newStore func(t *testing.T) pkce.Store) {
	if _, ok := newStore(t).(pkce.Restorer); !ok {
		t.Skip("the store does not implement pkce.Restorer")
	}
	for _, st := range []struct {
		name string
		f    func(*testing.T, pkce.Restorer)
	}{
		{"TakeAs", testTakeAs},
		{"Restore", testRestore},
		{"RestoreOfAnotherTake", testRestoreOfAnotherTake},
		{"RestoreTwice", testRestoreTwice},
		{"PlainTakeIsFinal", testPlainTakeIsFinal},
		{"RestoreNothing", testRestoreNothing},
		{"SaveOverTaken", testSaveOverTaken},
		{"SaveOverRestored", testSaveOverRestored},
		{"ConcurrentTakeAs", testConcurrentTakeAs},
		{"OneHolderAtATime", testOneHolderAtATime},
	} {
		t.Run(st.name, func(t *testing.T) { st.f(t, restorer(t, newStore(t))) })
	}
}

// restorer returns s as a [pkce.Restorer], or skips the test.
func restorer(t *testing.T, s pkce.Store) pkce.Restorer {
	t.Helper()
	rs, ok := s.(pkce.Restorer)
	if !ok {
		t.Skip("the store does not implement pkce.Restorer")
	}
	return rs
}

// store returns rs as the [pkce.Store] it is part of.
func store(t *testing.T, rs pkce.Restorer) pkce.Store {
	t.Helper()
	s, ok := rs.(pkce.Store)
	if !ok {
		t.Fatalf("%T is a pkce.Restorer but no pkce.Store", rs)
	}
	return s
}

func testTakeAs(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	if got, err := takeAs(rs, key, 0); err == nil || errors.Is(err, pkce.ErrNotFound) || errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("TakeAs with take 0: got (%+v, %v), want an error (0 is no take)", got, err)
	}
	mustTakeAs(t, rs, key, 7, c)
	for i := range 3 {
		got, err := takeAs(rs, key, 7)
		if err != nil {
			t.Fatalf("repeat #%d of TakeAs with the take that holds the entry: %v; a re-sent take must get the challenge again", i+1, err)
		}
		checkChallenge(t, got, c)
	}
	if got, err := takeAs(rs, key, 8); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("TakeAs of another take: got (%+v, %v), want ErrUsed", got, err)
	}
	if got, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("Take after TakeAs: got (%+v, %v), want ErrUsed", got, err)
	}
	if got, err := takeAs(rs, newKey(), 7); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("TakeAs of a key never saved: got (%+v, %v), want ErrNotFound", got, err)
	}
}

func testRestore(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	mustTakeAs(t, rs, key, 1, c)
	mustRestore(t, rs, key, 1)
	mustTakeAs(t, rs, key, 2, c) // restored: another take gets it
	mustRestore(t, rs, key, 2)
	got, err := take(s, key) // and so does a plain Take
	if err != nil {
		t.Fatalf("Take after Restore: %v", err)
	}
	checkChallenge(t, got, c)
	if _, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("second Take after Restore: got %v, want ErrUsed", err)
	}
}

func testRestoreOfAnotherTake(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	mustTakeAs(t, rs, key, 1, c)
	for _, other := range []uint64{2, 1 << 40, ^uint64(0) >> 1} {
		mustRestore(t, rs, key, other)
		if got, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("Take after Restore of take %d, while take 1 holds the entry: got (%+v, %v), want ErrUsed", other, got, err)
		}
	}
	mustTakeAs(t, rs, key, 1, c) // take 1 still holds it
}

func testRestoreTwice(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	mustTakeAs(t, rs, key, 1, c)
	mustRestore(t, rs, key, 1)
	mustTakeAs(t, rs, key, 2, c)
	mustRestore(t, rs, key, 1) // late, or a second time: take 2 holds the entry now
	if got, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("Take after a second Restore of take 1, while take 2 holds the entry: got (%+v, %v), want ErrUsed", got, err)
	}
	mustTakeAs(t, rs, key, 2, c)
	// Twice in a row, with nothing in between: the second changes nothing.
	mustRestore(t, rs, key, 2)
	mustRestore(t, rs, key, 2)
	mustTakeAs(t, rs, key, 3, c)
	if got, err := takeAs(rs, key, 2); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("TakeAs of take 2 after it was restored and take 3 took: got (%+v, %v), want ErrUsed", got, err)
	}
}

func testPlainTakeIsFinal(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	if _, err := take(s, key); err != nil {
		t.Fatalf("Take: %v", err)
	}
	for _, tk := range []uint64{1, 2, 1 << 63} {
		mustRestore(t, rs, key, tk)
		if got, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("Take after Restore(%d) of an entry used by a plain Take: got (%+v, %v), want ErrUsed: a plain Take is final", tk, got, err)
		}
	}
}

func testRestoreNothing(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key := newKey()
	mustRestore(t, rs, key, 1)
	if got, err := take(s, key); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("Take after Restore of a key never saved: got (%+v, %v), want ErrNotFound", got, err)
	}
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	mustRestore(t, rs, key, 1) // unused: nothing to undo
	mustTakeAs(t, rs, key, 2, c)
	mustRestore(t, rs, key, 1)
	if got, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("Take after a Restore of take 1 that came before take 2: got (%+v, %v), want ErrUsed", got, err)
	}
}

func testSaveOverTaken(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	mustTakeAs(t, rs, key, 1, c)
	for _, o := range []pkce.Challenge{c, later(c), newChallenge(longTTL)} {
		if err := save(s, key, o); !errors.Is(err, pkce.ErrUsed) {
			t.Fatalf("Save over an entry held by a take: got %v, want ErrUsed", err)
		}
	}
	mustTakeAs(t, rs, key, 1, c) // the entry is unchanged
}

func testSaveOverRestored(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	mustTakeAs(t, rs, key, 1, c)
	mustRestore(t, rs, key, 1)
	for _, o := range []pkce.Challenge{newChallenge(longTTL), func() pkce.Challenge { o := c; o.ClientID += "-thief"; return o }()} {
		if err := save(s, key, o); !errors.Is(err, pkce.ErrExists) {
			t.Fatalf("Save of another challenge over a restored entry: got %v, want ErrExists: a restored key is never rebound", err)
		}
	}
	if err := save(s, key, later(c)); err != nil {
		t.Fatalf("Save of the same challenge over a restored entry: %v", err)
	}
	got, err := take(s, key)
	if err != nil {
		t.Fatalf("Take of the restored entry: %v", err)
	}
	checkChallenge(t, got, c)
}

func testConcurrentTakeAs(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	const rounds, takers = 20, 32
	for r := range rounds {
		key, c := newKey(), newChallenge(longTTL)
		mustSave(t, s, key, c)
		got := make([]pkce.Challenge, takers)
		errs := make([]error, takers)
		concurrently(takers, func(i int) {
			if i%8 == 7 { // a few plain Takes among them
				got[i], errs[i] = take(s, key)
				return
			}
			got[i], errs[i] = takeAs(rs, key, uint64(r)<<32|uint64(i+1))
		})
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
				if got[i].Value != c.Value {
					t.Errorf("round %d: the winner got challenge %q, want %q", r, got[i].Value, c.Value)
				}
			case !errors.Is(err, pkce.ErrUsed):
				t.Errorf("round %d: a loser got %v, want ErrUsed", r, err)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d of %d concurrent takes got the challenge, want exactly 1", r, wins, takers)
		}
		if t.Failed() {
			return
		}
	}
}

func testOneHolderAtATime(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	const workers = 32
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	key, c := newKey(), newChallenge(longTTL)
	mustSave(t, s, key, c)
	var (
		holders atomic.Int32
		overlap atomic.Int32
		wins    atomic.Int64
		mu      sync.Mutex
		errs    []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	concurrently(workers, func(w int) {
		// Each worker tries until it has held the entry rounds times, so
		// that every worker gets it and no worker can starve the others by
		// luck.
		for held, n := 0, 0; held < rounds; n++ {
			tk := uint64(w+1)<<32 | uint64(n+1)
			got, err := takeAs(rs, key, tk)
			if errors.Is(err, pkce.ErrUsed) {
				runtime.Gosched()
				continue
			}
			if err != nil {
				fail(fmt.Errorf("worker %d: TakeAs: %w", w, err))
				return
			}
			if holders.Add(1) != 1 {
				overlap.Add(1)
			}
			if got.Value != c.Value {
				fail(fmt.Errorf("worker %d: TakeAs got challenge %q, want %q", w, got.Value, c.Value))
			}
			runtime.Gosched()
			holders.Add(-1)
			if err := restore(rs, key, tk); err != nil {
				fail(fmt.Errorf("worker %d: Restore: %w", w, err))
				return
			}
			held++
			wins.Add(1)
		}
	})
	for i, err := range errs {
		if i == 5 {
			t.Errorf("… and %d more errors", len(errs)-5)
			break
		}
		t.Error(err)
	}
	if n := overlap.Load(); n > 0 {
		t.Errorf("%d times a take got the challenge while another take held it; at most one take may hold it at a time", n)
	}
	if want := int64(workers * rounds); wins.Load() != want {
		t.Errorf("%d takes held the entry, want %d", wins.Load(), want)
	}
	got, err := take(s, key)
	if err != nil {
		t.Fatalf("Take after every take was restored: %v", err)
	}
	checkChallenge(t, got, c)
}

func testRestoreKeepsExpiry(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(4*shortTTL)
	took := timedSave(t, s, key, c)
	got, err := takeAs(rs, key, 1)
	if err == nil {
		err = restore(rs, key, 1)
	}
	if err == nil {
		got, err = takeAs(rs, key, 2)
	}
	if err != nil {
		if time.Now().Before(c.ExpiresAt) {
			t.Fatalf("TakeAs, Restore, TakeAs: %v", err)
		}
		t.Skipf("the machine is too slow for this subtest: the calls came after ExpiresAt (%v)", err)
	}
	checkChallenge(t, got, c) // ExpiresAt unchanged by the Restore
	if err := restore(rs, key, 2); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	sleepUntil(c.ExpiresAt.Add(took + expiryGrace))
	if got, err := take(s, key); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("Take %v after ExpiresAt of a restored entry: got (%+v, %v), want ErrNotFound: Restore keeps the expiry", time.Since(c.ExpiresAt).Round(time.Millisecond), got, err)
	}
}

func testRestoreAfterExpiry(t *testing.T, rs pkce.Restorer) {
	s := store(t, rs)
	key, c := newKey(), newChallenge(shortTTL)
	took := timedSave(t, s, key, c)
	if _, err := takeAs(rs, key, 1); err != nil && time.Now().Before(c.ExpiresAt) {
		t.Fatalf("TakeAs: %v", err)
	}
	sleepUntil(c.ExpiresAt.Add(took + expiryGrace))
	mustRestore(t, rs, key, 1)
	if got, err := take(s, key); !errors.Is(err, pkce.ErrNotFound) {
		t.Fatalf("Take after a Restore that came after ExpiresAt: got (%+v, %v), want ErrNotFound: Restore never revives an expired entry", got, err)
	}
	c2 := newChallenge(longTTL)
	if err := save(s, key, c2); err != nil {
		t.Fatalf("Save over the expired entry: %v; an expired key is free again", err)
	}
	mustTakeAs(t, rs, key, 1, c2)
}

func takeAs(rs pkce.Restorer, key string, tk uint64) (pkce.Challenge, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return rs.TakeAs(ctx, key, tk)
}

func restore(rs pkce.Restorer, key string, tk uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return rs.Restore(ctx, key, tk)
}

// mustTakeAs takes key as tk and checks that it gets want.
func mustTakeAs(t *testing.T, rs pkce.Restorer, key string, tk uint64, want pkce.Challenge) {
	t.Helper()
	got, err := takeAs(rs, key, tk)
	if err != nil {
		t.Fatalf("TakeAs(take %d): %v", tk, err)
	}
	checkChallenge(t, got, want)
}

func mustRestore(t *testing.T, rs pkce.Restorer, key string, tk uint64) {
	t.Helper()
	if err := restore(rs, key, tk); err != nil {
		t.Fatalf("Restore(take %d): %v", tk, err)
	}
}
