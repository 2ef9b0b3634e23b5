package pkce

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxEntries is the number of live challenges a [MemoryStore] holds
// at most unless [MemoryStoreOptions.MaxEntries] says otherwise.
const DefaultMaxEntries = 1_000_000

const (
	memoryShards = 64 // a power of two
	// sweepPerOp is how many expired entries each Save or Take removes from
	// its shard as it goes: more than one, so sweeping outpaces saving.
	sweepPerOp = 2
)

// MemoryStoreOptions configures a [MemoryStore]. The zero value is the
// default.
type MemoryStoreOptions struct {
	// MaxEntries bounds the live entries (saved and not expired, used or
	// not) in the whole store. Past it Save returns [ErrStoreFull] and the
	// authorization request fails closed. Zero: [DefaultMaxEntries].
	MaxEntries int
}

// MemoryStore is the embedded [Store]: a sharded in-memory map for a single
// process. Entries live until their ExpiresAt, used ones too, which is what
// lets Take answer [ErrUsed]. Expired entries are swept a little at a time by
// Save and Take, one shard at a time; there is no goroutine and nothing to
// Close. Servers that run more than one instance need a shared store instead.
//
// A MemoryStore is safe for concurrent use. Its zero value is not usable:
// create one with [NewMemoryStore] or [NewMemoryStoreWithOptions].
type MemoryStore struct {
	seed   maphash.Seed
	max    int64
	count  atomic.Int64 // entries in the maps, expired or not
	now    func() time.Time
	shards [memoryShards]memoryShard
}

type memoryShard struct {
	mu      sync.Mutex
	entries map[string]memoryEntry
	// Expiry records. Entries saved with one TTL expire in the order they
	// were saved: those go to a FIFO queue, O(1) each way. A record that
	// would expire before the queue's last one (a Record with its own
	// ExpiresAt, a TTL changed) goes to a heap.
	queue expiryQueue
	heap  expiryHeap
}

type memoryEntry struct {
	c Challenge
	// taker is 0 while the entry is unused, and then the take that used it
	// ([MemoryStore.TakeAs]; plainTake for Take).
	taker uint64
}

// plainTake marks an entry used by Take, which no Restore can undo.
const plainTake = math.MaxUint64

// NewMemoryStore returns an empty MemoryStore holding at most
// [DefaultMaxEntries] live challenges.
func NewMemoryStore() *MemoryStore {
	return NewMemoryStoreWithOptions(MemoryStoreOptions{})
}

// NewMemoryStoreWithOptions returns an empty MemoryStore configured by o.
// A negative MaxEntries is treated as zero (the default).
func NewMemoryStoreWithOptions(o MemoryStoreOptions) *MemoryStore {
	s := &MemoryStore{seed: maphash.MakeSeed(), max: int64(o.MaxEntries), now: time.Now}
	if s.max <= 0 {
		s.max = DefaultMaxEntries
	}
	for i := range s.shards {
		s.shards[i].entries = make(map[string]memoryEntry)
	}
	return s
}

// errSaveExpired is returned by MemoryStore.Save for a challenge whose
// ExpiresAt is not in the future.
var errSaveExpired = errors.New("pkce: challenge ExpiresAt is not in the future")

// Save records c under key until c.ExpiresAt. A key is never rebound: it
// returns [ErrUsed], changing nothing, if key holds a used entry that has
// not expired, and [ErrExists], changing nothing, if it holds a live unused
// entry with another challenge (Value, Method or ClientID); a Save of the
// same challenge again succeeds and keeps the entry as it is. It returns
// [ErrStoreFull] if the store holds its maximum of live entries even after
// dropping the expired ones, and an error if c.ExpiresAt is not in the
// future. Safe for concurrent use.
func (s *MemoryStore) Save(ctx context.Context, key string, c Challenge) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now().Round(0) // the wall clock, as the sweep and the wrapped server
	if !c.ExpiresAt.After(now) {
		return errSaveExpired
	}
	err := s.trySave(key, c, now)
	if err == ErrStoreFull {
		// At the limit: drop every expired entry, one shard at a time and
		// with no other lock held, then try once more.
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			s.sweepLocked(sh, now, -1)
			sh.mu.Unlock()
		}
		err = s.trySave(key, c, now)
	}
	return err
}

func (s *MemoryStore) trySave(key string, c Challenge, now time.Time) error {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.sweepLocked(sh, now, sweepPerOp)
	if e, ok := sh.entries[key]; ok {
		if e.c.ExpiresAt.After(now) {
			switch {
			case e.taker != 0:
				return ErrUsed
			case !sameChallenge(e.c, c):
				return ErrExists
			}
			return nil // a retry: the entry stays as it is
		}
		// Expired and not yet swept: the key is free again, and the entry
		// already counts.
		sh.put(key, memoryEntry{c: c})
		return nil
	}
	if s.count.Add(1) > s.max {
		s.count.Add(-1)
		return ErrStoreFull
	}
	sh.put(key, memoryEntry{c: c})
	return nil
}

// Take returns the challenge saved under key and marks it used. Exactly one
// of any number of calls for a key gets the challenge; the others get
// [ErrUsed] until the entry expires, then [ErrNotFound]. Safe for concurrent
// use.
func (s *MemoryStore) Take(ctx context.Context, key string) (Challenge, error) {
	return s.take(ctx, key, plainTake)
}

// TakeAs is Take marking the entry as taken by take, for [Restorer]: the
// entry stays used until it expires or Restore is called with the same
// take. A repeat with the take that holds the entry returns the challenge
// again. take must not be 0. Safe for concurrent use.
func (s *MemoryStore) TakeAs(ctx context.Context, key string, take uint64) (Challenge, error) {
	if take == 0 || take == plainTake {
		return Challenge{}, errBadTake
	}
	return s.take(ctx, key, take)
}

var errBadTake = errors.New("pkce: a take identifier must not be 0")

func (s *MemoryStore) take(ctx context.Context, key string, take uint64) (Challenge, error) {
	if err := ctx.Err(); err != nil {
		return Challenge{}, err
	}
	now := s.now().Round(0)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.sweepLocked(sh, now, sweepPerOp)
	e, ok := sh.entries[key]
	if !ok || !e.c.ExpiresAt.After(now) {
		return Challenge{}, ErrNotFound
	}
	switch e.taker {
	case 0:
	case take:
		if take != plainTake {
			return e.c, nil // the same take again
		}
		return Challenge{}, ErrUsed
	default:
		return Challenge{}, ErrUsed
	}
	e.taker = take
	sh.entries[key] = e
	return e.c, nil
}

// Restore makes the entry under key usable again if it is live and still
// taken by take ([Restorer]); otherwise it changes nothing. It returns an
// error only when ctx is done. Safe for concurrent use.
func (s *MemoryStore) Restore(ctx context.Context, key string, take uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if take == 0 || take == plainTake {
		return nil
	}
	now := s.now().Round(0)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.entries[key]; ok && e.taker == take && e.c.ExpiresAt.After(now) {
		e.taker = 0
		sh.entries[key] = e
	}
	return nil
}

// Peek returns the challenge saved under key without using it up
// ([Peeker]): [ErrUsed] once it was taken, [ErrNotFound] when it was never
// saved or has expired. Safe for concurrent use.
func (s *MemoryStore) Peek(ctx context.Context, key string) (Challenge, error) {
	if err := ctx.Err(); err != nil {
		return Challenge{}, err
	}
	now := s.now().Round(0)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.entries[key]
	switch {
	case !ok || !e.c.ExpiresAt.After(now):
		return Challenge{}, ErrNotFound
	case e.taker != 0:
		return Challenge{}, ErrUsed
	}
	return e.c, nil
}

// sameChallenge reports whether a and b are the same binding: a Save of b
// over a is a harmless retry, not a rebinding.
func sameChallenge(a, b Challenge) bool {
	return a.Value == b.Value && a.Method == b.Method && a.ClientID == b.ClientID
}

// Len returns the number of entries the store holds, including used entries
// and expired ones not yet swept. Safe for concurrent use.
func (s *MemoryStore) Len() int {
	return int(s.count.Load())
}

func (s *MemoryStore) shard(key string) *memoryShard {
	return &s.shards[maphash.String(s.seed, key)&(memoryShards-1)]
}

// sweepLocked removes up to limit expired entries of sh (all of them if
// limit < 0). sh.mu must be held.
func (s *MemoryStore) sweepLocked(sh *memoryShard, now time.Time, limit int) {
	t := now.UnixNano()
	for n := 0; limit < 0 || n < limit; n++ {
		var rec expiryRecord
		q, h := sh.queue.front(), len(sh.heap) > 0
		switch {
		case q != nil && q.at <= t && (!h || q.at <= sh.heap[0].at):
			rec = sh.queue.pop()
		case h && sh.heap[0].at <= t:
			rec = sh.heap.pop()
		default:
			return
		}
		// The key may have been saved again since this record was pushed:
		// remove it only if the entry is still the one that expired.
		if e, ok := sh.entries[rec.key]; ok && expiryNanos(e.c.ExpiresAt) == rec.at {
			delete(sh.entries, rec.key)
			s.count.Add(-1)
		}
	}
}

// put stores e under key and schedules its expiry. sh.mu must be held.
func (sh *memoryShard) put(key string, e memoryEntry) {
	sh.entries[key] = e
	rec := expiryRecord{key: key, at: expiryNanos(e.c.ExpiresAt)}
	if last := sh.queue.back(); last == nil || rec.at >= last.at {
		sh.queue.push(rec)
	} else {
		sh.heap.push(rec)
	}
}

// expiryNanos is t in Unix nanoseconds, the latest such time for t past
// the year 2262, where UnixNano would overflow.
func expiryNanos(t time.Time) int64 {
	if t.After(maxNanoTime) {
		return math.MaxInt64
	}
	return t.UnixNano()
}

var maxNanoTime = time.Unix(0, math.MaxInt64)

// expiryRecord says when the entry under key expires.
type expiryRecord struct {
	key string
	at  int64 // Unix nanoseconds
}

// expiryQueue is a FIFO queue of expiry records in nondecreasing order.
type expiryQueue struct {
	recs []expiryRecord
	head int // recs[:head] were popped
}

func (q *expiryQueue) push(r expiryRecord) {
	if q.head > 0 && q.head >= len(q.recs)/2 {
		// Reuse the popped half instead of growing.
		n := copy(q.recs, q.recs[q.head:])
		clear(q.recs[n:])
		q.recs, q.head = q.recs[:n], 0
	}
	q.recs = append(q.recs, r)
}

func (q *expiryQueue) pop() expiryRecord {
	r := q.recs[q.head]
	q.recs[q.head] = expiryRecord{} // let the key be collected
	q.head++
	if q.head == len(q.recs) {
		q.recs, q.head = q.recs[:0], 0
	}
	return r
}

// front returns the earliest record, nil if the queue is empty.
func (q *expiryQueue) front() *expiryRecord {
	if q.head == len(q.recs) {
		return nil
	}
	return &q.recs[q.head]
}

// back returns the latest record, nil if the queue is empty.
func (q *expiryQueue) back() *expiryRecord {
	if q.head == len(q.recs) {
		return nil
	}
	return &q.recs[len(q.recs)-1]
}

// expiryHeap is a binary min-heap of expiry records ordered by at. It is
// written out rather than built on container/heap, whose interface boxes
// every pushed record in an allocation.
type expiryHeap []expiryRecord

func (h *expiryHeap) push(r expiryRecord) {
	*h = append(*h, r)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if a[parent].at <= a[i].at {
			break
		}
		a[parent], a[i] = a[i], a[parent]
		i = parent
	}
}

func (h *expiryHeap) pop() expiryRecord {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = expiryRecord{} // let the key be collected
	a = a[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(a) && a[l].at < a[least].at {
			least = l
		}
		if r < len(a) && a[r].at < a[least].at {
			least = r
		}
		if least == i {
			break
		}
		a[i], a[least] = a[least], a[i]
		i = least
	}
	if cap(a) > 1024 && len(a) < cap(a)/4 {
		a = append(expiryHeap(nil), a...) // give memory back after a burst
	}
	*h = a
	return top
}

var (
	_ Restorer = (*MemoryStore)(nil)
	_ Peeker   = (*MemoryStore)(nil)
)
