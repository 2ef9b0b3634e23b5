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
	// minShrink is the capacity, in entries, below which a shard keeps its
	// memory when it empties out.
	minShrink = 256
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
// An entry under a code key (43 base64url characters, SHA-256 of the code)
// whose challenge is 43 base64url characters too (every S256 challenge)
// is kept compact: the 32 bytes of each instead of their text, the
// client_id as a number in a per-shard table of the clients that have live
// entries, 88 bytes with no pointer in them, plus 16 for its expiry record
// and its share of an index (about 130 bytes in all at a million entries).
// Take and Peek rebuild the challenge's text. Any other entry (a pushed
// request's, say) is kept as saved.
//
// A MemoryStore is safe for concurrent use. Its zero value is not usable:
// create one with [NewMemoryStore] or [NewMemoryStoreWithOptions].
type MemoryStore struct {
	seed   maphash.Seed
	max    int64
	now    func() time.Time
	count  paddedCount // entries in the shards, expired or not
	shards [memoryShards]memoryShard
}

// paddedCount keeps the count, which every new entry and every sweep
// writes, off the cache lines that every operation reads.
type paddedCount struct {
	_ [64]byte
	atomic.Int64
	_ [56]byte
}

// memoryShard holds the entries whose key hashes to it. Entries are kept in
// two slabs, compact and others, found through an index each. Their slots
// are reused; a slab that is mostly free is rebuilt smaller.
type memoryShard struct {
	mu sync.Mutex

	compact     []compactEntry // no pointers: the garbage collector skips it
	compactFree []uint32       // free slots of compact
	index       compactIndex   // the key's 32 bytes to its slot in compact
	clients     clientTable

	others      []otherEntry
	othersFree  []uint32
	othersIndex map[string]uint32

	// Expiry records, one per entry. Entries saved with one TTL expire in
	// the order they were saved: those go to a FIFO queue, O(1) each way. A
	// record that would expire before the queue's last one (a Record with
	// its own ExpiresAt, a TTL changed, concurrent saves) goes to a heap.
	queue expiryQueue
	heap  expiryHeap

	_ [64]byte // keeps the next shard's lock off this shard's cache lines
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
	k := s.locate(key)
	err := s.trySave(&k, c, now.UnixNano())
	if err == ErrStoreFull {
		// At the limit: drop every expired entry, then try once more.
		s.sweepAll(now.UnixNano())
		err = s.trySave(&k, c, now.UnixNano())
	}
	return err
}

func (s *MemoryStore) trySave(k *memoryKey, c Challenge, now int64) error {
	sh := k.shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.sweepLocked(sh, now, sweepPerOp)
	if ref, ok := sh.find(k); ok {
		if sh.expires(ref) > now {
			switch {
			case *sh.taker(ref) != 0:
				return ErrUsed
			case !sh.same(ref, c):
				return ErrExists
			}
			return nil // a retry: the entry stays as it is
		}
		// Expired and not yet swept: the key is free again, and the entry
		// already counts.
		sh.remove(s.seed, ref)
	} else if s.count.Add(1) > s.max {
		s.count.Add(-1)
		return ErrStoreFull
	}
	sh.insert(k, c)
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
	now := s.now().UnixNano()
	k := s.locate(key)
	sh := k.shard
	sh.mu.Lock()
	s.sweepLocked(sh, now, sweepPerOp)
	ref, ok := sh.find(&k)
	if !ok || sh.expires(ref) <= now {
		sh.mu.Unlock()
		return Challenge{}, ErrNotFound
	}
	switch t := sh.taker(ref); *t {
	case 0:
		*t = take
	case take:
		if take == plainTake {
			sh.mu.Unlock()
			return Challenge{}, ErrUsed
		}
		// The same take again.
	default:
		sh.mu.Unlock()
		return Challenge{}, ErrUsed
	}
	v := sh.view(ref)
	sh.mu.Unlock()
	return v.challenge(), nil
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
	now := s.now().UnixNano()
	k := s.locate(key)
	sh := k.shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ref, ok := sh.find(&k); ok && sh.expires(ref) > now {
		if t := sh.taker(ref); *t == take {
			*t = 0
		}
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
	now := s.now().UnixNano()
	k := s.locate(key)
	sh := k.shard
	sh.mu.Lock()
	ref, ok := sh.find(&k)
	switch {
	case !ok || sh.expires(ref) <= now:
		sh.mu.Unlock()
		return Challenge{}, ErrNotFound
	case *sh.taker(ref) != 0:
		sh.mu.Unlock()
		return Challenge{}, ErrUsed
	}
	v := sh.view(ref)
	sh.mu.Unlock()
	return v.challenge(), nil
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

// sweepAll removes every expired entry, one shard at a time and with no
// other lock held.
func (s *MemoryStore) sweepAll(now int64) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.sweepLocked(sh, now, -1)
		sh.mu.Unlock()
	}
}

// sweepLocked removes up to limit expired entries of sh (all of them if
// limit < 0), and rebuilds the shard smaller if it is mostly free. sh.mu
// must be held.
func (s *MemoryStore) sweepLocked(sh *memoryShard, now int64, limit int) {
	removed := 0
sweep:
	for n := 0; limit < 0 || n < limit; n++ {
		var rec expiryRecord
		q, h := sh.queue.front(), len(sh.heap) > 0
		switch {
		case q != nil && q.at <= now && (!h || q.at <= sh.heap[0].at):
			rec = sh.queue.pop()
		case h && sh.heap[0].at <= now:
			rec = sh.heap.pop()
		default:
			break sweep // nothing more has expired
		}
		if sh.current(rec) {
			sh.remove(s.seed, entryRef{slot: rec.slot, other: rec.other})
			removed++
		}
	}
	if removed == 0 {
		return
	}
	s.count.Add(int64(-removed))
	if sparse(len(sh.compact), len(sh.compactFree)) || sparse(len(sh.others), len(sh.othersFree)) {
		sh.rebuild(s.seed)
	}
}

// sparse reports whether a slab of n slots, free of them unused, holds so
// few entries that it should be rebuilt smaller.
func sparse(n, free int) bool {
	return n > minShrink && n-free < n/4
}

// rebuild moves the shard's entries to new slabs, index and expiry
// records of their size, giving the memory of a past burst back. Client
// numbers stay. sh.mu must be held.
func (sh *memoryShard) rebuild(seed maphash.Seed) {
	var live []expiryRecord
	for _, rec := range sh.queue.recs[sh.queue.head:] {
		if sh.current(rec) {
			live = append(live, rec)
		}
	}
	for _, rec := range sh.heap {
		if sh.current(rec) {
			live = append(live, rec)
		}
	}
	compact, others := sh.compact, sh.others
	// Room for twice the entries left, so that the next ones do not grow
	// the shard again at once.
	sh.compact, sh.compactFree, sh.index = make([]compactEntry, 0, 2*len(live)), nil, compactIndex{}
	sh.others, sh.othersFree, sh.othersIndex = nil, nil, nil
	sh.queue, sh.heap = expiryQueue{recs: make([]expiryRecord, 0, 2*len(live))}, nil
	for _, rec := range live {
		if rec.other {
			rec.slot = sh.putOther(others[rec.slot])
		} else {
			e := &compact[rec.slot]
			rec.slot = sh.putCompact(e)
			sh.index.insert(maphash.Bytes(seed, e.key[:])/memoryShards, rec.slot)
		}
		sh.schedule(rec)
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

// expiryRecord says when the entry in a slot expires.
type expiryRecord struct {
	at    int64 // Unix nanoseconds
	slot  uint32
	other bool // a slot of others, not of compact
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
