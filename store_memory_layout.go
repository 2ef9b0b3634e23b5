package pkce

// The MemoryStore's layout: a code key and a 43-character challenge kept
// as the 32 bytes they encode, in a slab found through an open-addressing
// index; any other entry kept as it was saved; the client_ids numbered per
// shard.

import (
	"encoding/base64"
	"hash/maphash"
	"math"
	"strings"
	"time"
)

// compactEntry is an entry whose key and challenge are 43 base64url
// characters each, kept as the 32 bytes they encode.
type compactEntry struct {
	key       [32]byte
	challenge [32]byte
	expires   int64 // Unix nanoseconds; freeSlot while the slot is unused
	// taker is 0 while the entry is unused, and then the take that used it
	// ([MemoryStore.TakeAs]; plainTake for Take).
	taker  uint64
	client uint32 // the ClientID in the shard's clientTable
	flags  uint32
}

const (
	flagPlain uint32 = 1 << iota // Method is Plain; S256 otherwise
	flagUTC                      // ExpiresAt is in UTC; Local otherwise
)

// freeSlot marks an unused compact slot: no entry expires then.
const freeSlot = math.MinInt64

// otherEntry is an entry as it was saved.
type otherEntry struct {
	key   string
	c     Challenge
	taker uint64 // as compactEntry.taker
}

// memoryKey is a key as the store finds it: its shard, its hash, and for a
// code key the 32 bytes its 43 characters encode.
type memoryKey struct {
	s       string
	shard   *memoryShard
	hash    uint64 // the bits above the shard's
	b       [32]byte
	compact bool // s is the canonical base64url text of b
}

func (s *MemoryStore) locate(key string) memoryKey {
	k := memoryKey{s: key}
	var h uint64
	if k.compact = decode32(&k.b, key); k.compact {
		h = maphash.Bytes(s.seed, k.b[:])
	} else {
		h = maphash.String(s.seed, key)
	}
	k.shard = &s.shards[h&(memoryShards-1)]
	k.hash = h / memoryShards
	return k
}

// decode32 decodes s into b if s is the base64url text of 32 bytes:
// exactly 43 characters of the alphabet, the unused low 2 bits of the last
// one zero, so that each 32 bytes have one text (what
// base64.RawURLEncoding.Strict accepts, without its allocation or its
// skipping of line breaks).
func decode32(b *[32]byte, s string) bool {
	if len(s) != 43 {
		return false
	}
	// A byte outside the alphabet has the value 0xff: its high bit, set in
	// bad, refuses s.
	value := func(c byte) byte { return byte(base64URLValue[c]) }
	var bad byte
	for i, j := 0, 0; i < 40; i, j = i+4, j+3 {
		c0, c1, c2, c3 := value(s[i]), value(s[i+1]), value(s[i+2]), value(s[i+3])
		bad |= c0 | c1 | c2 | c3
		b[j], b[j+1], b[j+2] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	}
	c0, c1, c2 := value(s[40]), value(s[41]), value(s[42])
	bad |= c0 | c1 | c2
	b[30], b[31] = c0<<2|c1>>4, c1<<4|c2>>2
	return bad&0x80 == 0 && c2&3 == 0
}

// entryRef is an entry's slot: in others if other, in compact if not.
type entryRef struct {
	slot  uint32
	other bool
}

// find returns the entry under k. sh.mu must be held.
func (sh *memoryShard) find(k *memoryKey) (entryRef, bool) {
	if k.compact {
		if i, ok := sh.index.find(sh.compact, &k.b, k.hash); ok {
			return entryRef{slot: sh.index.slot(i)}, true
		}
	}
	// A code key is kept among the others when its challenge is not
	// compact; most shards have none.
	if len(sh.othersIndex) == 0 {
		return entryRef{}, false
	}
	slot, ok := sh.othersIndex[k.s]
	return entryRef{slot: slot, other: true}, ok
}

// expires returns the Unix nanoseconds at which the entry expires, the
// latest such time for one past the year 2262.
func (sh *memoryShard) expires(r entryRef) int64 {
	if r.other {
		return expiryNanos(sh.others[r.slot].c.ExpiresAt)
	}
	return sh.compact[r.slot].expires
}

func (sh *memoryShard) taker(r entryRef) *uint64 {
	if r.other {
		return &sh.others[r.slot].taker
	}
	return &sh.compact[r.slot].taker
}

// same reports whether the entry holds the binding c: Value, Method and
// ClientID.
func (sh *memoryShard) same(r entryRef, c Challenge) bool {
	if r.other {
		return sameChallenge(sh.others[r.slot].c, c)
	}
	e := &sh.compact[r.slot]
	var v [32]byte
	method := S256
	if e.flags&flagPlain != 0 {
		method = Plain
	}
	return decode32(&v, c.Value) && v == e.challenge && c.Method == method && c.ClientID == sh.clients.name(e.client)
}

// entryView is an entry copied out under the lock, for Take and Peek to
// return after it.
type entryView struct {
	c       Challenge // the whole challenge of another entry; a compact one's ClientID
	e       compactEntry
	compact bool
}

func (sh *memoryShard) view(r entryRef) entryView {
	if r.other {
		return entryView{c: sh.others[r.slot].c}
	}
	e := &sh.compact[r.slot]
	return entryView{c: Challenge{ClientID: sh.clients.name(e.client)}, e: *e, compact: true}
}

// challenge returns the saved challenge, rebuilding a compact one's text.
func (v *entryView) challenge() Challenge {
	if !v.compact {
		return v.c
	}
	c := v.c
	var text [43]byte
	base64.RawURLEncoding.Encode(text[:], v.e.challenge[:])
	c.Value = string(text[:])
	c.Method = S256
	if v.e.flags&flagPlain != 0 {
		c.Method = Plain
	}
	c.ExpiresAt = time.Unix(0, v.e.expires)
	if v.e.flags&flagUTC != 0 {
		c.ExpiresAt = c.ExpiresAt.UTC()
	}
	return c
}

// insert stores c under k, which holds no entry, and schedules its expiry.
// sh.mu must be held.
func (sh *memoryShard) insert(k *memoryKey, c Challenge) {
	var e compactEntry
	if k.compact && len(sh.compact) < math.MaxInt32 && compactChallenge(&e, c) {
		e.key = k.b
		e.client = sh.clients.acquire(c.ClientID)
		slot := sh.putCompact(&e)
		sh.index.insert(k.hash, slot)
		sh.schedule(expiryRecord{at: e.expires, slot: slot})
		return
	}
	slot := sh.putOther(otherEntry{key: k.s, c: c})
	sh.schedule(expiryRecord{at: expiryNanos(c.ExpiresAt), slot: slot, other: true})
}

// compactChallenge fills e from c if c can be kept compact: a challenge of
// 43 base64url characters, method S256 or Plain, no RedirectURI, and an
// ExpiresAt in UTC or Local before the year 2262.
func compactChallenge(e *compactEntry, c Challenge) bool {
	switch c.Method {
	case S256:
	case Plain:
		e.flags |= flagPlain
	default:
		return false
	}
	switch c.ExpiresAt.Location() {
	case time.Local:
	case time.UTC:
		e.flags |= flagUTC
	default:
		return false
	}
	if c.RedirectURI != "" || c.ExpiresAt.After(maxNanoTime) || !decode32(&e.challenge, c.Value) {
		return false
	}
	e.expires = c.ExpiresAt.UnixNano()
	return true
}

// putCompact puts e in a free slot of compact and returns the slot.
func (sh *memoryShard) putCompact(e *compactEntry) uint32 {
	if n := len(sh.compactFree); n > 0 {
		slot := sh.compactFree[n-1]
		sh.compactFree = sh.compactFree[:n-1]
		sh.compact[slot] = *e
		return slot
	}
	sh.compact = append(sh.compact, *e)
	return uint32(len(sh.compact) - 1)
}

// putOther puts o in a free slot of others, indexes it, and returns the
// slot.
func (sh *memoryShard) putOther(o otherEntry) uint32 {
	if sh.othersIndex == nil {
		sh.othersIndex = make(map[string]uint32)
	}
	var slot uint32
	if n := len(sh.othersFree); n > 0 {
		slot, sh.othersFree = sh.othersFree[n-1], sh.othersFree[:n-1]
		sh.others[slot] = o
	} else {
		slot = uint32(len(sh.others))
		sh.others = append(sh.others, o)
	}
	sh.othersIndex[o.key] = slot
	return slot
}

// remove deletes the entry r and frees its slot; its expiry record stays
// behind, stale. sh.mu must be held.
func (sh *memoryShard) remove(seed maphash.Seed, r entryRef) {
	if r.other {
		delete(sh.othersIndex, sh.others[r.slot].key)
		sh.others[r.slot] = otherEntry{}
		sh.othersFree = append(sh.othersFree, r.slot)
		return
	}
	e := &sh.compact[r.slot]
	sh.index.remove(maphash.Bytes(seed, e.key[:])/memoryShards, r.slot)
	sh.clients.release(e.client)
	*e = compactEntry{expires: freeSlot}
	sh.compactFree = append(sh.compactFree, r.slot)
}

// current reports whether rec is the expiry record of the entry in its
// slot: not a record left behind by an entry removed before it expired
// (saved over once expired), whose slot may hold another entry since.
func (sh *memoryShard) current(rec expiryRecord) bool {
	if rec.other {
		o := &sh.others[rec.slot]
		slot, ok := sh.othersIndex[o.key]
		return ok && slot == rec.slot && expiryNanos(o.c.ExpiresAt) == rec.at
	}
	// A later entry in the slot expires later: it was saved after this
	// record's time had passed.
	return sh.compact[rec.slot].expires == rec.at
}

func (sh *memoryShard) schedule(rec expiryRecord) {
	if last := sh.queue.back(); last == nil || rec.at >= last.at {
		sh.queue.push(rec)
	} else {
		sh.heap.push(rec)
	}
}

// clientTable numbers the client_ids of a shard's compact entries, 0 for
// "", and forgets a client when its last entry goes.
type clientTable struct {
	ids   map[string]uint32
	names []clientName // names[id-1]
	free  []uint32
}

type clientName struct {
	name string
	refs int
}

// acquire returns the number of name, counting one more entry for it.
func (t *clientTable) acquire(name string) uint32 {
	if name == "" {
		return 0
	}
	if id, ok := t.ids[name]; ok {
		t.names[id-1].refs++
		return id
	}
	if t.ids == nil {
		t.ids = make(map[string]uint32)
	}
	// A copy: the caller's string may be a piece of a whole request.
	cn := clientName{name: strings.Clone(name), refs: 1}
	var id uint32
	if n := len(t.free); n > 0 {
		id, t.free = t.free[n-1], t.free[:n-1]
		t.names[id-1] = cn
	} else {
		t.names = append(t.names, cn)
		id = uint32(len(t.names))
	}
	t.ids[cn.name] = id
	return id
}

// release counts one entry fewer for id.
func (t *clientTable) release(id uint32) {
	if id == 0 {
		return
	}
	cn := &t.names[id-1]
	if cn.refs--; cn.refs > 0 {
		return
	}
	delete(t.ids, cn.name)
	if len(t.ids) == 0 {
		*t = clientTable{} // give the table's memory back
		return
	}
	*cn = clientName{}
	t.free = append(t.free, id)
}

func (t *clientTable) name(id uint32) string {
	if id == 0 {
		return ""
	}
	return t.names[id-1].name
}

// compactIndex finds a compact entry's slot from its key. It is an open
// addressing hash table with linear probing: each element is the low 32
// bits of the key's hash (which also say where its probe starts) and the
// slot plus one; 0 is empty. It is never more than three quarters full.
type compactIndex struct {
	elems []uint64 // a power of two long, or empty
	n     int
}

func (ix *compactIndex) slot(i int) uint32 {
	return uint32(ix.elems[i]) - 1
}

// find returns the position in elems of the element for key, whose hash
// is h.
func (ix *compactIndex) find(slab []compactEntry, key *[32]byte, h uint64) (int, bool) {
	if len(ix.elems) == 0 {
		return 0, false
	}
	mask := uint64(len(ix.elems) - 1)
	tag := h & math.MaxUint32
	for i := tag & mask; ; i = (i + 1) & mask {
		el := ix.elems[i]
		switch {
		case el == 0:
			return 0, false
		case el>>32 == tag && slab[uint32(el)-1].key == *key:
			return int(i), true
		}
	}
}

// insert adds slot for a key whose hash is h and which the index lacks.
func (ix *compactIndex) insert(h uint64, slot uint32) {
	if (ix.n+1)*4 > len(ix.elems)*3 {
		ix.resize(max(2*len(ix.elems), 8))
	}
	ix.put((h&math.MaxUint32)<<32 | (uint64(slot) + 1))
	ix.n++
}

func (ix *compactIndex) put(el uint64) {
	mask := uint64(len(ix.elems) - 1)
	i := (el >> 32) & mask
	for ix.elems[i] != 0 {
		i = (i + 1) & mask
	}
	ix.elems[i] = el
}

// resize moves the elements to a table of size elements.
func (ix *compactIndex) resize(size int) {
	old := ix.elems
	ix.elems = make([]uint64, size)
	for _, el := range old {
		if el != 0 {
			ix.put(el)
		}
	}
}

// remove deletes slot, whose key's hash is h, shifting back the elements
// after it that would no longer be found.
func (ix *compactIndex) remove(h uint64, slot uint32) {
	mask := uint64(len(ix.elems) - 1)
	want := (h&math.MaxUint32)<<32 | (uint64(slot) + 1)
	i := (want >> 32) & mask
	for n := 0; ix.elems[i] != want; n++ {
		if n == len(ix.elems) {
			return // not there; the callers never ask for that
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		el := ix.elems[j]
		if el == 0 {
			break
		}
		// el stays unless its probe starts at or before the hole, cyclically:
		// outside (i, j].
		if home := (el >> 32) & mask; (j-home)&mask >= (j-i)&mask {
			ix.elems[i] = el
			i = j
		}
	}
	ix.elems[i] = 0
	ix.n--
}
