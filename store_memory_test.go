package pkce

import (
	"context"
	"fmt"
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
