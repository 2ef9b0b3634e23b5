package storetest_test

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/storetest"
)

// The suite is only as good as the flaws it catches. TestSuiteCatchesFlaws
// runs it, in a child process, against a small store with one flaw at a
// time, and checks that the subtest meant for that flaw fails, and that the
// store without a flaw passes.

// flawEnv names the flaw of the store the child process tests.
const flawEnv = "STORETEST_FLAW"

func TestSuiteCatchesFlaws(t *testing.T) {
	if os.Getenv(flawEnv) != "" {
		t.Skip("in the child process")
	}
	for _, tt := range []struct {
		flaw     string
		failing  string // a subtest that must fail; "" when the suite must pass
		describe string
	}{
		{"none", "", "a correct store passes"},
		{"rebind", "NeverRebinds/OtherValue", "Save replaces a live unused entry"},
		{"rebindClient", "NeverRebinds/OtherClientID", "Save compares Value and Method only"},
		{"resaveRefused", "NeverRebinds/SameChallenge", "a Save of the same challenge is refused"},
		{"resaveExtends", "NeverRebinds/SameChallenge", "a Save of the same challenge moves the expiry"},
		{"saveOverUsed", "SaveOverUsed", "Save over a used entry with its own challenge succeeds"},
		{"takeAsOnce", "Restorer/TakeAs", "a repeat of TakeAs by the take that holds the entry is ErrUsed"},
		{"restoreAny", "Restorer/RestoreOfAnotherTake", "Restore ignores which take holds the entry"},
		{"restorePlain", "Restorer/PlainTakeIsFinal", "Restore undoes a plain Take"},
		{"restoreRevives", "Expiry/RestoreAfterExpiry", "Restore revives an expired entry"},
		{"restoreUnlocked", "Restorer/OneHolderAtATime", "TakeAs checks and marks in two steps"},
		{"peekUses", "Peeker/DoesNotUse", "Peek marks the entry used"},
		{"peekSeesUsed", "Peeker/Used", "Peek returns a used entry's challenge"},
		{"dropsRedirectURI", "Peeker/RoundTrip", "Save drops RedirectURI"},
		{"peekSeesExpired", "Expiry/PeekExpired", "Peek returns an expired entry's challenge"},
	} {
		t.Run(tt.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedStore$", "-test.v", "-test.short", "-test.count=1")
			cmd.Env = append(os.Environ(), flawEnv+"="+tt.flaw)
			out, err := cmd.CombinedOutput()
			if tt.failing == "" {
				if err != nil {
					t.Fatalf("%s: the suite failed (%v):\n%s", tt.describe, err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s: the suite passed, want %s to fail:\n%s", tt.describe, tt.failing, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestFlawedStore/"+tt.failing+" ") {
				t.Fatalf("%s: want subtest %s to fail:\n%s", tt.describe, tt.failing, out)
			}
		})
	}
}

// TestFlawedStore runs the suite against the flawed store of the child
// process.
func TestFlawedStore(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	if flaw == "" {
		t.Skip("run by TestSuiteCatchesFlaws")
	}
	storetest.Run(t, func(t *testing.T) pkce.Store {
		return &flawedStore{flaw: flaw, m: map[string]*flawedEntry{}}
	})
}

// flawedStore is a plain map behind a mutex, correct unless flaw says
// otherwise.
type flawedStore struct {
	flaw string
	mu   sync.Mutex
	m    map[string]*flawedEntry
}

type flawedEntry struct {
	c     pkce.Challenge
	taker uint64 // 0 unused, plainTake for Take
}

const plainTake = math.MaxUint64

func (s *flawedStore) Save(ctx context.Context, key string, c pkce.Challenge) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.ExpiresAt.After(time.Now()) {
		return errors.New("not in the future")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.live(key); e != nil {
		same := e.c.Value == c.Value && e.c.Method == c.Method && (e.c.ClientID == c.ClientID || s.flaw == "rebindClient")
		switch {
		case e.taker != 0 && !(s.flaw == "saveOverUsed" && same):
			return pkce.ErrUsed
		case e.taker != 0:
			return nil
		case s.flaw == "rebind":
		case same && s.flaw == "resaveRefused":
			return pkce.ErrExists
		case same && s.flaw == "resaveExtends":
			e.c.ExpiresAt = c.ExpiresAt
			return nil
		case same:
			return nil
		default:
			return pkce.ErrExists
		}
	}
	if s.flaw == "dropsRedirectURI" {
		c.RedirectURI = ""
	}
	s.m[key] = &flawedEntry{c: c}
	return nil
}

func (s *flawedStore) Peek(ctx context.Context, key string) (pkce.Challenge, error) {
	if err := ctx.Err(); err != nil {
		return pkce.Challenge{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key)
	if s.flaw == "peekSeesExpired" {
		e = s.m[key]
	}
	switch {
	case e == nil:
		return pkce.Challenge{}, pkce.ErrNotFound
	case e.taker != 0 && s.flaw != "peekSeesUsed":
		return pkce.Challenge{}, pkce.ErrUsed
	case s.flaw == "peekUses":
		e.taker = plainTake
	}
	return e.c, nil
}

func (s *flawedStore) Take(ctx context.Context, key string) (pkce.Challenge, error) {
	return s.take(ctx, key, plainTake)
}

func (s *flawedStore) TakeAs(ctx context.Context, key string, take uint64) (pkce.Challenge, error) {
	if take == 0 || take == plainTake {
		return pkce.Challenge{}, errors.New("bad take")
	}
	return s.take(ctx, key, take)
}

func (s *flawedStore) take(ctx context.Context, key string, take uint64) (pkce.Challenge, error) {
	if err := ctx.Err(); err != nil {
		return pkce.Challenge{}, err
	}
	s.mu.Lock()
	e := s.live(key)
	switch {
	case e == nil:
		s.mu.Unlock()
		return pkce.Challenge{}, pkce.ErrNotFound
	case e.taker == take && take != plainTake && s.flaw != "takeAsOnce":
		s.mu.Unlock()
		return e.c, nil
	case e.taker != 0:
		s.mu.Unlock()
		return pkce.Challenge{}, pkce.ErrUsed
	}
	if s.flaw == "restoreUnlocked" {
		// Check, then mark in another critical section: two takes can
		// both see the entry unused.
		s.mu.Unlock()
		time.Sleep(time.Microsecond)
		s.mu.Lock()
	}
	e.taker = take
	c := e.c
	s.mu.Unlock()
	return c, nil
}

func (s *flawedStore) Restore(ctx context.Context, key string, take uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		return nil
	}
	if !e.c.ExpiresAt.After(time.Now()) {
		if s.flaw == "restoreRevives" {
			e.c.ExpiresAt = time.Now().Add(time.Minute)
			e.taker = 0
		}
		return nil
	}
	switch {
	case e.taker == take && take != plainTake,
		s.flaw == "restoreAny" && e.taker != 0 && e.taker != plainTake,
		s.flaw == "restorePlain" && e.taker == plainTake:
		e.taker = 0
	}
	return nil
}

// live returns the entry under key if it has not expired.
func (s *flawedStore) live(key string) *flawedEntry {
	e := s.m[key]
	if e == nil || !e.c.ExpiresAt.After(time.Now()) {
		return nil
	}
	return e
}
