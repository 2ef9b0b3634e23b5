package pkce

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock drives a MemoryStore's time in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestMemoryStore(max int) (*MemoryStore, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewMemoryStoreWithOptions(MemoryStoreOptions{MaxEntries: max})
	s.now = clock.now
	return s, clock
}

func TestMemoryStoreSaveTake(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	c := Challenge{Value: "v", Method: S256, ClientID: "app", ExpiresAt: clock.now().Add(time.Minute)}
	require.NoError(t, s.Save(ctx, "k", c))

	got, err := s.Take(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, c, got)

	for range 3 {
		_, err = s.Take(ctx, "k")
		assert.ErrorIs(t, err, ErrUsed, "every Take after the first")
	}
	assert.ErrorIs(t, s.Save(ctx, "k", c), ErrUsed, "a Save over a used key")
	_, err = s.Take(ctx, "k")
	assert.ErrorIs(t, err, ErrUsed, "the Save over a used key changed nothing")

	_, err = s.Take(ctx, "unknown")
	assert.ErrorIs(t, err, ErrNotFound)

	clock.advance(time.Minute)
	_, err = s.Take(ctx, "k")
	assert.ErrorIs(t, err, ErrNotFound, "a used entry is forgotten at expiry")
	require.NoError(t, s.Save(ctx, "k", Challenge{Value: "w", ExpiresAt: clock.now().Add(time.Minute)}), "an expired key is free again")
	got, err = s.Take(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "w", got.Value)
}

func TestMemoryStoreSaveNeverRebinds(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	exp := clock.now().Add(time.Minute)
	first := Challenge{Value: "a", Method: S256, ClientID: "app", ExpiresAt: exp}
	require.NoError(t, s.Save(ctx, "k", first))
	for _, other := range []Challenge{
		{Value: "b", Method: S256, ClientID: "app", ExpiresAt: exp},
		{Value: "a", Method: Plain, ClientID: "app", ExpiresAt: exp},
		{Value: "a", Method: S256, ClientID: "thief", ExpiresAt: exp},
	} {
		assert.ErrorIs(t, s.Save(ctx, "k", other), ErrExists, "%+v", other)
	}
	again := first
	again.ExpiresAt = exp.Add(time.Hour)
	require.NoError(t, s.Save(ctx, "k", again), "the same challenge again is a harmless retry")
	assert.Equal(t, 1, s.Len())
	got, err := s.Take(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, first, got, "nothing of the entry changed, its expiry included")

	assert.ErrorIs(t, s.Save(ctx, "k", first), ErrUsed, "a used key is never saved over, even with its own challenge")
	clock.advance(2 * time.Minute)
	assert.NoError(t, s.Save(ctx, "k", Challenge{Value: "b", ExpiresAt: clock.now().Add(time.Minute)}), "an expired key is free again")
}

func TestMemoryStoreSaveOverExpiredKeepsNewEntry(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	require.NoError(t, s.Save(ctx, "k", Challenge{Value: "a", ExpiresAt: clock.now().Add(time.Minute)}))
	clock.advance(time.Minute) // expired, not yet swept
	require.NoError(t, s.Save(ctx, "k", Challenge{Value: "b", ExpiresAt: clock.now().Add(time.Minute)}))
	assert.Equal(t, 1, s.Len())
	clock.advance(30 * time.Second)
	got, err := s.Take(ctx, "k")
	require.NoError(t, err, "the old entry's expiry record must not remove the new entry")
	assert.Equal(t, "b", got.Value)
}

func TestMemoryStoreRestore(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	c := Challenge{Value: "a", Method: S256, ExpiresAt: clock.now().Add(time.Minute)}
	require.NoError(t, s.Save(ctx, "k", c))

	_, err := s.TakeAs(ctx, "k", 0)
	assert.Error(t, err, "take 0 is not an identifier")
	got, err := s.TakeAs(ctx, "k", 7)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	got, err = s.TakeAs(ctx, "k", 7)
	require.NoError(t, err, "a repeat of the same take gets the challenge again")
	assert.Equal(t, c, got)
	_, err = s.TakeAs(ctx, "k", 8)
	assert.ErrorIs(t, err, ErrUsed)
	_, err = s.Take(ctx, "k")
	assert.ErrorIs(t, err, ErrUsed)

	require.NoError(t, s.Restore(ctx, "k", 8), "another take's restore changes nothing")
	_, err = s.Take(ctx, "k")
	assert.ErrorIs(t, err, ErrUsed)

	require.NoError(t, s.Restore(ctx, "k", 7))
	assert.ErrorIs(t, s.Save(ctx, "k", Challenge{Value: "b", ExpiresAt: c.ExpiresAt}), ErrExists, "restored is unused, still never rebound")
	got, err = s.TakeAs(ctx, "k", 9)
	require.NoError(t, err, "restored: the next take gets it")
	assert.Equal(t, c, got)
	require.NoError(t, s.Restore(ctx, "k", 7), "a second restore of take 7 after take 9")
	_, err = s.Take(ctx, "k")
	assert.ErrorIs(t, err, ErrUsed, "take 9 still holds the entry")

	require.NoError(t, s.Restore(ctx, "k", 9))
	_, err = s.Take(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, s.Restore(ctx, "k", plainTake), "a plain Take cannot be restored")
	_, err = s.Take(ctx, "k")
	assert.ErrorIs(t, err, ErrUsed)

	require.NoError(t, s.Restore(ctx, "missing", 1))
	clock.advance(2 * time.Minute)
	require.NoError(t, s.Restore(ctx, "k", 9))
	_, err = s.Take(ctx, "k")
	assert.ErrorIs(t, err, ErrNotFound, "restore does not revive an expired entry")
}

func TestMemoryStoreSaveRefusesPastExpiry(t *testing.T) {
	s, clock := newTestMemoryStore(0)
	for _, exp := range []time.Time{{}, clock.now(), clock.now().Add(-time.Second)} {
		assert.Error(t, s.Save(context.Background(), "k", Challenge{ExpiresAt: exp}))
	}
	assert.Zero(t, s.Len())
}

func TestMemoryStoreHonoursContext(t *testing.T) {
	s, clock := newTestMemoryStore(0)
	require.NoError(t, s.Save(context.Background(), "k", Challenge{ExpiresAt: clock.now().Add(time.Minute)}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.Save(ctx, "j", Challenge{ExpiresAt: clock.now().Add(time.Minute)}), context.Canceled)
	_, err := s.Take(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.Take(context.Background(), "k")
	assert.NoError(t, err, "a cancelled Take did not use the entry")
}

func TestMemoryStoreSweepsExpiredEntries(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	for i := range 1000 {
		require.NoError(t, s.Save(ctx, fmt.Sprint("old", i), Challenge{ExpiresAt: clock.now().Add(time.Minute)}))
	}
	clock.advance(2 * time.Minute)
	// Normal operations sweep a little each: enough of them empty the store.
	for i := range 2000 {
		require.NoError(t, s.Save(ctx, fmt.Sprint("new", i), Challenge{ExpiresAt: clock.now().Add(time.Hour)}))
		_, _ = s.Take(ctx, fmt.Sprint("new", i))
	}
	assert.Equal(t, 2000, s.Len(), "every expired entry was swept")
}

func TestMemoryStoreMaxEntries(t *testing.T) {
	ctx := context.Background()
	const max = 100
	s, clock := newTestMemoryStore(max)
	exp := clock.now().Add(time.Minute)
	for i := range max {
		require.NoError(t, s.Save(ctx, fmt.Sprint(i), Challenge{ExpiresAt: exp}), "save %d of %d", i+1, max)
	}
	assert.ErrorIs(t, s.Save(ctx, "one more", Challenge{ExpiresAt: exp}), ErrStoreFull)

	// Used entries are live too.
	_, err := s.Take(ctx, "0")
	require.NoError(t, err)
	assert.ErrorIs(t, s.Save(ctx, "one more", Challenge{ExpiresAt: exp}), ErrStoreFull)
	// Saving a live unused entry's challenge again does not need room.
	assert.NoError(t, s.Save(ctx, "1", Challenge{ExpiresAt: exp}))

	// At the limit, Save drops the expired entries before it refuses: a
	// whole new set of max entries fits.
	clock.advance(time.Minute)
	exp = clock.now().Add(time.Minute)
	for i := range max {
		require.NoError(t, s.Save(ctx, fmt.Sprint("after expiry ", i), Challenge{ExpiresAt: exp}), "save %d of %d", i+1, max)
	}
	assert.Equal(t, max, s.Len())
	assert.ErrorIs(t, s.Save(ctx, "one more", Challenge{ExpiresAt: exp}), ErrStoreFull)
}

func TestMemoryStoreDefaultMax(t *testing.T) {
	assert.Equal(t, int64(DefaultMaxEntries), NewMemoryStore().max)
	assert.Equal(t, int64(DefaultMaxEntries), NewMemoryStoreWithOptions(MemoryStoreOptions{MaxEntries: -1}).max)
}

func TestMemoryStoreMaxEntriesConcurrent(t *testing.T) {
	ctx := context.Background()
	const max, tries = 500, 2000
	s, clock := newTestMemoryStore(max)
	exp := clock.now().Add(time.Minute)
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tries / 8 {
				switch err := s.Save(ctx, fmt.Sprint(g, "-", i), Challenge{ExpiresAt: exp}); err {
				case nil:
					ok.Add(1)
				case ErrStoreFull:
					full.Add(1)
				default:
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(max), ok.Load())
	assert.Equal(t, int64(tries-max), full.Load())
	assert.Equal(t, max, s.Len())
}

func TestMemoryStoreTakeExactlyOnce(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	const keys, takers = 50, 16
	for k := range keys {
		require.NoError(t, s.Save(ctx, fmt.Sprint(k), Challenge{Value: "v", ExpiresAt: time.Now().Add(time.Minute)}))
	}
	var wins [keys]atomic.Int32
	var wg sync.WaitGroup
	for range takers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				_, err := s.Take(ctx, fmt.Sprint(k))
				switch err {
				case nil:
					wins[k].Add(1)
				case ErrUsed:
				default:
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for k := range keys {
		assert.Equal(t, int32(1), wins[k].Load(), "key %d", k)
	}
}

func TestExpiryHeapOrder(t *testing.T) {
	var h expiryHeap
	for _, at := range []int64{5, 3, 9, 1, 7, 3, 8, 2} {
		h.push(expiryRecord{at: at})
	}
	var got []int64
	for len(h) > 0 {
		got = append(got, h.pop().at)
	}
	assert.Equal(t, []int64{1, 2, 3, 3, 5, 7, 8, 9}, got)
}

// Entries expiring out of save order (Record with its own ExpiresAt) are
// swept in expiry order too.
func TestMemoryStoreSweepsOutOfOrderExpiry(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(3)
	base := clock.now()
	require.NoError(t, s.Save(ctx, "late", Challenge{ExpiresAt: base.Add(2 * time.Minute)}))
	require.NoError(t, s.Save(ctx, "early", Challenge{ExpiresAt: base.Add(time.Minute)}))
	require.NoError(t, s.Save(ctx, "later", Challenge{ExpiresAt: base.Add(3 * time.Minute)}))
	clock.advance(90 * time.Second)
	// At the limit: the save drops the expired "early" to make room.
	require.NoError(t, s.Save(ctx, "new", Challenge{ExpiresAt: clock.now().Add(time.Minute)}))
	_, err := s.Take(ctx, "early")
	assert.ErrorIs(t, err, ErrNotFound)
	for _, k := range []string{"late", "later", "new"} {
		_, err := s.Take(ctx, k)
		assert.NoError(t, err, k)
	}
	assert.Equal(t, 3, s.Len())
}

func TestExpiryQueueOrder(t *testing.T) {
	var q expiryQueue
	next := int64(0)
	for round := range 50 {
		for range round % 7 {
			q.push(expiryRecord{at: next})
			next++
		}
		for range round % 5 {
			if q.front() != nil {
				q.pop()
			}
		}
	}
	prev := int64(-1)
	for q.front() != nil {
		r := q.pop()
		require.Greater(t, r.at, prev)
		prev = r.at
	}
	assert.Equal(t, next-1, prev, "nothing lost")
}

// An ExpiresAt past the year 2262 (where UnixNano overflows) is kept, not
// swept at once.
func TestMemoryStoreFarFutureExpiry(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestMemoryStore(0)
	require.NoError(t, s.Save(ctx, "k", Challenge{Value: "v", ExpiresAt: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}))
	for i := range 10 {
		require.NoError(t, s.Save(ctx, fmt.Sprint(i), Challenge{ExpiresAt: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}))
	}
	got, err := s.Take(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", got.Value)
}

// A code key and a challenge of 43 base64url characters are kept compact;
// any other entry as saved. Every field comes back as saved either way,
// and an entry moves between the two when its key is saved again after it
// expired.
func TestMemoryStoreCompactAndOtherEntries(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	key := storeKey("code")
	s256 := S256Challenge(GenerateVerifier())
	plain43 := GenerateVerifier()
	tests := []struct {
		name    string
		key     string
		c       Challenge
		compact bool
	}{
		{"S256", key, Challenge{Value: s256, Method: S256, ClientID: "app"}, true},
		{"Plain43", key, Challenge{Value: plain43, Method: Plain, ClientID: "app"}, true},
		{"NoClient", key, Challenge{Value: s256, Method: S256}, true},
		{"Plain128", key, Challenge{Value: strings.Repeat("aZ0-._~", 19)[:128], Method: Plain, ClientID: "app"}, false},
		{"NoMethod", key, Challenge{Value: s256, ClientID: "app"}, false},
		{"EmptyValue", key, Challenge{Method: S256}, false},
		{"RedirectURI", key, Challenge{Value: s256, Method: S256, RedirectURI: "https://app.example/cb"}, false},
		{"PushedKey", "par:" + key, Challenge{Value: s256, Method: S256, ClientID: "app", RedirectURI: "https://app.example/cb"}, false},
		{"NonCanonicalKey", key[:42] + "B", Challenge{Value: s256, Method: S256}, false}, // "B" leaves a 1 in the unused bits
		{"NonCanonicalValue", key, Challenge{Value: s256[:42] + "B", Method: S256}, false},
		{"LineBreakInKey", key[:41] + "\n" + key[42:], Challenge{Value: s256, Method: S256}, false},
		{"FixedZone", key, Challenge{Value: s256, Method: S256, ExpiresAt: time.Unix(0, 0).In(time.FixedZone("UTC+5", 5*3600))}, false},
		{"Local", key, Challenge{Value: s256, Method: S256, ExpiresAt: time.Unix(0, 0).In(time.Local)}, true},
		{"FarFuture", key, Challenge{Value: s256, Method: S256, ExpiresAt: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			switch {
			case c.ExpiresAt.IsZero():
				c.ExpiresAt = clock.now().Add(time.Minute)
			case c.ExpiresAt.Unix() == 0: // a time zone to keep
				c.ExpiresAt = clock.now().Add(time.Minute).In(c.ExpiresAt.Location())
			}
			require.NoError(t, s.Save(ctx, tt.key, c))
			k := s.locate(tt.key)
			k.shard.mu.Lock()
			ref, ok := k.shard.find(&k)
			k.shard.mu.Unlock()
			require.True(t, ok)
			assert.Equal(t, !tt.compact, ref.other, "kept compact")

			got, err := s.Peek(ctx, tt.key)
			require.NoError(t, err)
			assert.Equal(t, c, got)
			assert.True(t, got.ExpiresAt.Equal(c.ExpiresAt))
			assert.NoError(t, s.Save(ctx, tt.key, c), "the same challenge again")
			other := c
			other.ClientID += "-other"
			assert.ErrorIs(t, s.Save(ctx, tt.key, other), ErrExists)
			got, err = s.Take(ctx, tt.key)
			require.NoError(t, err)
			assert.Equal(t, c, got)
			assert.ErrorIs(t, s.Save(ctx, tt.key, c), ErrUsed)

			// Expired, not swept: the next test saves over it.
			clock.advance(time.Minute)
			if tt.name == "FarFuture" {
				s.shards = [memoryShards]memoryShard{}
				s.count.Store(0)
			}
		})
	}
	clock.advance(time.Hour)
	s.sweepAll(clock.now().UnixNano())
	assert.Zero(t, s.Len())
}

// Keys that differ are told apart, however alike their bytes: a canonical
// code key and the non-canonical text of the same bytes are two keys.
func TestMemoryStoreNonCanonicalKeyIsAnotherKey(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	key := storeKey("code") // its last character carries 4 unused bits, all 0
	alike := key[:42] + string(key[42]+1)
	exp := clock.now().Add(time.Minute)
	require.NoError(t, s.Save(ctx, key, Challenge{Value: S256Challenge("a"), Method: S256, ExpiresAt: exp}))
	require.NoError(t, s.Save(ctx, alike, Challenge{Value: S256Challenge("b"), Method: S256, ExpiresAt: exp}))
	got, err := s.Take(ctx, alike)
	require.NoError(t, err)
	assert.Equal(t, S256Challenge("b"), got.Value)
	got, err = s.Take(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, S256Challenge("a"), got.Value)
}

// Clients are numbered per shard while they have entries, and forgotten
// with their last one.
func TestMemoryStoreClientTable(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	for i := range 3000 {
		c := Challenge{Value: S256Challenge(fmt.Sprint(i)), Method: S256, ClientID: fmt.Sprint("client-", i%7), ExpiresAt: clock.now().Add(time.Duration(1+i%3) * time.Minute)}
		require.NoError(t, s.Save(ctx, storeKey(fmt.Sprint(i)), c))
	}
	for i := range 3000 {
		got, err := s.Peek(ctx, storeKey(fmt.Sprint(i)))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint("client-", i%7), got.ClientID)
	}
	for i := range s.shards {
		assert.LessOrEqual(t, len(s.shards[i].clients.names), 7)
	}
	clock.advance(2 * time.Minute)
	s.sweepAll(clock.now().UnixNano())
	for i := range 3000 {
		got, err := s.Take(ctx, storeKey(fmt.Sprint(i)))
		if i%3 < 2 {
			assert.ErrorIs(t, err, ErrNotFound)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint("client-", i%7), got.ClientID)
	}
	clock.advance(time.Minute)
	s.sweepAll(clock.now().UnixNano())
	for i := range s.shards {
		sh := &s.shards[i]
		assert.Nil(t, sh.clients.ids, "shard %d", i)
		assert.Nil(t, sh.clients.names, "shard %d", i)
	}
}

// A burst that expires gives its memory back: the shards are rebuilt
// smaller, and what is left still works.
func TestMemoryStoreShrinksAfterBurst(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(0)
	const burst, kept = 64 * 1024, 1000
	for i := range burst {
		ttl := time.Minute
		if i%(burst/kept) == 0 {
			ttl = time.Hour
		}
		c := Challenge{Value: S256Challenge(fmt.Sprint(i)), Method: S256, ClientID: "app", ExpiresAt: clock.now().Add(ttl)}
		if i%2 == 0 {
			c.RedirectURI = "https://app.example/cb" // kept as saved
		}
		require.NoError(t, s.Save(ctx, storeKey(fmt.Sprint(i)), c))
	}
	_, err := s.TakeAs(ctx, storeKey("0"), 5)
	require.NoError(t, err)
	clock.advance(2 * time.Minute)
	s.sweepAll(clock.now().UnixNano())
	require.Equal(t, burst/(burst/kept)+1, s.Len())
	slots := 0
	for i := range s.shards {
		sh := &s.shards[i]
		slots += cap(sh.compact) + cap(sh.others) + cap(sh.queue.recs) + len(sh.index.elems)
	}
	assert.Less(t, slots, 16*kept, "the shards gave the burst's memory back")

	require.NoError(t, s.Restore(ctx, storeKey("0"), 5), "the take survives the rebuild")
	for i := 0; i < burst; i += burst / kept {
		got, err := s.Take(ctx, storeKey(fmt.Sprint(i)))
		require.NoError(t, err, i)
		assert.Equal(t, S256Challenge(fmt.Sprint(i)), got.Value)
	}
	clock.advance(time.Hour)
	s.sweepAll(clock.now().UnixNano())
	assert.Zero(t, s.Len())
}

// The store against a plain map of the same rules, under random saves,
// takes, peeks and restores of keys of every form, expiring in and out of
// order, with a burst that makes the shards grow and shrink.
func TestMemoryStoreAgainstModel(t *testing.T) {
	ctx := context.Background()
	s, clock := newTestMemoryStore(1 << 30)
	type modelEntry struct {
		c     Challenge
		taker uint64
	}
	model := map[string]modelEntry{}
	rnd := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 5000)
	for i := range keys {
		switch i % 5 {
		case 0:
			keys[i] = "par:" + storeKey(fmt.Sprint(i))
		case 1:
			keys[i] = fmt.Sprint("k", i)
		default:
			keys[i] = storeKey(fmt.Sprint(i))
		}
	}
	challenge := func() Challenge {
		c := Challenge{Value: S256Challenge(fmt.Sprint(rnd.IntN(3))), Method: S256, ClientID: fmt.Sprint("c", rnd.IntN(4))}
		switch rnd.IntN(8) {
		case 0:
			c.Method = Plain
		case 1:
			c.Value = "short"
		case 2:
			c.RedirectURI = "https://app.example/cb"
		case 3:
			c.ClientID = ""
		}
		c.ExpiresAt = clock.now().Add(time.Duration(1+rnd.IntN(120)) * time.Second)
		if rnd.IntN(4) == 0 {
			c.ExpiresAt = c.ExpiresAt.UTC()
		}
		return c
	}
	live := func(k string) (modelEntry, bool) {
		e, ok := model[k]
		if ok && !e.c.ExpiresAt.After(clock.now()) {
			delete(model, k)
			return e, false
		}
		return e, ok
	}
	check := func(step int, what string, got Challenge, err error, want Challenge, wantErr error) {
		t.Helper()
		if !assert.ErrorIs(t, err, wantErr, "step %d: %s", step, what) || wantErr != nil {
			return
		}
		assert.True(t, got.ExpiresAt.Equal(want.ExpiresAt), "step %d: %s: ExpiresAt", step, what)
		got.ExpiresAt, want.ExpiresAt = time.Time{}, time.Time{}
		assert.Equal(t, want, got, "step %d: %s", step, what)
	}
	for step := range 200_000 {
		if step == 100_000 {
			// A burst, gone a minute later.
			for i := range 30_000 {
				c := challenge()
				c.ExpiresAt = clock.now().Add(time.Minute)
				k := storeKey(fmt.Sprint("burst", i))
				require.NoError(t, s.Save(ctx, k, c))
				model[k] = modelEntry{c: c}
			}
		}
		k := keys[rnd.IntN(len(keys))]
		switch op := rnd.IntN(10); {
		case op < 4:
			c := challenge()
			var want error
			if e, ok := live(k); ok {
				switch {
				case e.taker != 0:
					want = ErrUsed
				case !sameChallenge(e.c, c):
					want = ErrExists
				}
			} else {
				model[k] = modelEntry{c: c}
			}
			assert.ErrorIs(t, s.Save(ctx, k, c), want, "step %d: Save", step)
		case op < 7:
			take := uint64(plainTake)
			if op == 6 {
				take = uint64(1 + rnd.IntN(3))
			}
			got, err := s.take(ctx, k, take)
			e, ok := live(k)
			switch {
			case !ok:
				check(step, "Take", got, err, Challenge{}, ErrNotFound)
			case e.taker == 0, e.taker == take && take != plainTake:
				e.taker = take
				model[k] = e
				check(step, "Take", got, err, e.c, nil)
			default:
				check(step, "Take", got, err, Challenge{}, ErrUsed)
			}
		case op < 8:
			got, err := s.Peek(ctx, k)
			e, ok := live(k)
			switch {
			case !ok:
				check(step, "Peek", got, err, Challenge{}, ErrNotFound)
			case e.taker != 0:
				check(step, "Peek", got, err, Challenge{}, ErrUsed)
			default:
				check(step, "Peek", got, err, e.c, nil)
			}
		case op < 9:
			take := uint64(1 + rnd.IntN(3))
			require.NoError(t, s.Restore(ctx, k, take))
			if e, ok := live(k); ok && e.taker == take {
				e.taker = 0
				model[k] = e
			}
		default:
			clock.advance(time.Duration(rnd.IntN(500)) * time.Millisecond)
		}
		if step%10_000 == 0 || step == 100_001 {
			s.sweepAll(clock.now().UnixNano())
			for k := range model {
				live(k)
			}
			require.Equal(t, len(model), s.Len(), "step %d: entries after a full sweep", step)
		}
	}
}

// decode32 accepts what the strict base64url decoder turns into 32 bytes,
// and nothing else.
func TestDecode32(t *testing.T) {
	strict := base64.RawURLEncoding.Strict()
	check := func(s string) {
		t.Helper()
		var got [32]byte
		ok := decode32(&got, s)
		want, err := strict.DecodeString(s)
		wantOK := err == nil && len(want) == 32 && !strings.ContainsAny(s, "\r\n")
		require.Equal(t, wantOK, ok, "%q", s)
		if ok {
			require.Equal(t, want, got[:], "%q", s)
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		var b [32]byte
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		s := base64.RawURLEncoding.EncodeToString(b[:])
		check(s)
		for _, c := range []byte("AB_-+/=.~\n\x00\xff") {
			i := rnd.IntN(len(s))
			check(s[:i] + string(c) + s[i+1:])
		}
		check(s[:42] + string("ABCDEFGHIJKLMNOP"[rnd.IntN(16)])) // unused bits
		check(s[:42])
		check(s + "A")
	}
}
