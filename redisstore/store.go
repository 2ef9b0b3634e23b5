package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the prefix of every key a [Store] writes unless
// [WithKeyPrefix] says otherwise.
const DefaultKeyPrefix = "pkce:"

// tombstone is the value of a used entry: Take replaces the encoded challenge
// with it and keeps the key's TTL, so later calls answer [pkce.ErrUsed] until
// the entry expires. An encoded challenge is never one byte long and never
// starts with it.
const tombstone = "u"

// saveScript records a challenge unless the key holds a tombstone: a Save
// over a used entry must never make it usable again, and only a script can
// check and set in one atomic round trip on Redis 6.2 (SET NX GET needs 7.0).
// KEYS[1] the entry, ARGV[1] the encoded challenge, ARGV[2] its TTL in
// milliseconds. It returns 1 when saved, 0 when the key is used.
const saveScript = `if redis.call('GET', KEYS[1]) == '` + tombstone + `' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

// Store is a [pkce.Store] kept in Redis, shared by every instance of an
// authorization server that uses the same Redis and key prefix. Save and
// Take are one round trip each and use single-key commands only, so Store
// works with a single Redis, Sentinel, Redis Cluster and Ring clients alike.
// It needs Redis 6.2 or newer.
//
// A Store is safe for concurrent use, as is the client it wraps. Create one
// with [New]; it holds no resources of its own and has nothing to Close.
type Store struct {
	client redis.UniversalClient
	prefix string
	// direct is true when the client bounds its network reads and writes by
	// the context's deadline (ContextTimeoutEnabled); otherwise each call
	// that has a deadline or can be cancelled is guarded, see Store.process.
	direct bool
}

// Option configures a [Store].
type Option func(*Store)

// WithKeyPrefix sets the prefix of the store's keys (default
// [DefaultKeyPrefix]). Instances that should share challenges must use the
// same prefix; a prefix per environment keeps them apart on one Redis. Do
// not put a Redis Cluster hash tag ("{…}") in it: that would pin every entry
// to one slot.
func WithKeyPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// New returns a Store that keeps challenges in Redis through client.
//
// Every call is bounded by its context. A client created with
// ContextTimeoutEnabled set (in [redis.Options], [redis.ClusterOptions],
// [redis.RingOptions] or [redis.UniversalOptions]) honours the deadline on
// its connection; with any other client the Store stops waiting when the
// context is done and leaves the abandoned command to finish in the
// background under the client's own ReadTimeout. Setting
// ContextTimeoutEnabled is recommended: it saves a goroutine per call and
// frees a stalled connection at once.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s := &Store{client: client, prefix: DefaultKeyPrefix, direct: honoursDeadlines(client)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// errNotFuture is returned by Save for a challenge whose ExpiresAt is not in
// the future.
var errNotFuture = errors.New("redisstore: challenge ExpiresAt is not in the future")

// Save records c under key until c.ExpiresAt, in one round trip. Saving over
// a live unused entry replaces it; saving over a used one returns
// [pkce.ErrUsed] and changes nothing. It returns an error if c.ExpiresAt is
// not in the future, if ctx is done, and for any Redis or network fault.
// The entry's TTL is c.ExpiresAt less this machine's clock, in milliseconds
// rounded up, so Redis's own clock does not need to agree. Safe for
// concurrent use.
func (s *Store) Save(ctx context.Context, key string, c pkce.Challenge) error {
	ttl := time.Until(c.ExpiresAt)
	if ttl <= 0 {
		return errNotFuture
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	cmd := redis.NewIntCmd(ctx, "eval", saveScript, 1, s.prefix+key, encode(c), ms)
	if err := s.process(ctx, cmd); err != nil {
		return fmt.Errorf("redisstore: save: %w", err)
	}
	if cmd.Val() == 0 {
		return pkce.ErrUsed
	}
	return nil
}

// Take returns the challenge saved under key and marks it used, in one
// atomic round trip (SET key tombstone XX KEEPTTL GET): of any number of
// calls for one key, from any number of instances, exactly one gets the
// challenge. The others get [pkce.ErrUsed] until the entry expires, then
// [pkce.ErrNotFound]. A done ctx, a Redis or network fault, or an entry that
// does not decode is an error and never [pkce.ErrNotFound]: when Take fails
// the challenge may or may not have been used up, and the caller must fail
// closed. Safe for concurrent use.
func (s *Store) Take(ctx context.Context, key string) (pkce.Challenge, error) {
	cmd := redis.NewStringCmd(ctx, "set", s.prefix+key, tombstone, "xx", "keepttl", "get")
	err := s.process(ctx, cmd)
	if errors.Is(err, redis.Nil) {
		return pkce.Challenge{}, pkce.ErrNotFound
	}
	if err != nil {
		return pkce.Challenge{}, fmt.Errorf("redisstore: take: %w", err)
	}
	v := cmd.Val()
	if v == tombstone {
		return pkce.Challenge{}, pkce.ErrUsed
	}
	c, ok := decode(v)
	if !ok {
		return pkce.Challenge{}, fmt.Errorf("redisstore: take: the entry under %q does not decode", s.prefix+key)
	}
	return c, nil
}

// process runs cmd, bounded by ctx. A done ctx is an error before anything
// is sent. When the client does not bound its own reads by ctx's deadline,
// the command runs in a goroutine and process returns as soon as ctx is
// done; the command then finishes, or times out, on its own.
func (s *Store) process(ctx context.Context, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	if s.direct || ctx.Done() == nil {
		err = s.client.Process(ctx, cmd)
	} else {
		done := make(chan error, 1)
		go func() { done <- s.client.Process(ctx, cmd) }()
		select {
		case err = <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		// A network timeout caused by ctx's deadline reads better, and
		// matches errors.Is, as the context's error.
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			return fmt.Errorf("%w: %w", cerr, err)
		}
	}
	return err
}

// honoursDeadlines reports whether client sets its connections' deadlines
// from the context of each call.
func honoursDeadlines(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Value encoding, format 1. Compact and binary; see the package
// documentation for the layout.
const (
	format1     = 0x01
	methodS256  = 's'
	methodPlain = 'p'
	methodOther = 'x'
)

// encode returns the stored form of c.
func encode(c pkce.Challenge) []byte {
	b := make([]byte, 0, 2+binary.MaxVarintLen64+binary.MaxVarintLen32+len(c.Value)+len(c.ClientID))
	b = append(b, format1)
	switch c.Method {
	case pkce.S256:
		b = append(b, methodS256)
	case pkce.Plain:
		b = append(b, methodPlain)
	default:
		b = append(b, methodOther)
		b = binary.AppendUvarint(b, uint64(len(c.Method)))
		b = append(b, c.Method...)
	}
	b = binary.AppendVarint(b, c.ExpiresAt.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(c.Value)))
	b = append(b, c.Value...)
	return append(b, c.ClientID...)
}

// decode parses the stored form of a challenge. The strings it returns share
// v's memory.
func decode(v string) (c pkce.Challenge, ok bool) {
	if len(v) < 2 || v[0] != format1 {
		return c, false
	}
	rest := v[2:]
	switch v[1] {
	case methodS256:
		c.Method = pkce.S256
	case methodPlain:
		c.Method = pkce.Plain
	case methodOther:
		var m string
		if m, rest, ok = cutLength(rest); !ok {
			return c, false
		}
		c.Method = pkce.Method(m)
	default:
		return c, false
	}
	ms, n := varint(rest)
	if n <= 0 {
		return c, false
	}
	c.ExpiresAt = time.UnixMilli(ms)
	if c.Value, rest, ok = cutLength(rest[n:]); !ok {
		return c, false
	}
	c.ClientID = rest
	return c, true
}

// cutLength splits a uvarint length-prefixed string off the front of s.
func cutLength(s string) (field, rest string, ok bool) {
	l, n := uvarint(s)
	if n <= 0 || l > uint64(len(s)-n) {
		return "", "", false
	}
	return s[n : n+int(l)], s[n+int(l):], true
}

// uvarint is binary.Uvarint for a string, without converting it.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// varint is binary.Varint for a string.
func varint(s string) (int64, int) {
	ux, n := uvarint(s)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, n
}
