package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the prefix of every key a [Store] writes unless
// [WithKeyPrefix] says otherwise.
const DefaultKeyPrefix = "pkce:"

// The first byte of a value says what it is (see the package
// documentation for the layout):
//
//   - format1: a live entry, an encoded challenge nobody has taken.
//   - markTake, markTakeAs: a used entry, the 8-byte identifier of the take
//     that used it, then the live entry as it was. markTake is a plain Take,
//     which nothing undoes; markTakeAs a [Store.TakeAs], which its own
//     [Store.Restore] undoes.
//   - tombstone: a used entry written by versions before used entries kept
//     their challenge. It is read, never written.
const (
	markTake   = 0x02
	markTakeAs = 0x03
	markLen    = 9 // the mark byte and the take identifier
	tombstone  = "u"
)

// saveScript records a challenge unless the key holds a live entry, in one
// atomic round trip: a key is never rebound. KEYS[1] the entry, ARGV[1] the
// encoded challenge, ARGV[2] its TTL in milliseconds, ARGV[3] the length of
// its format byte and method, after which comes the varint of ExpiresAt,
// ARGV[4] "1" when the write is to be acknowledged by replicas (see
// rewrite). It returns 1 when saved, or when the key holds the same
// challenge (Value, Method and ClientID: the live entry less its ExpiresAt
// varint), which it leaves as it is; 0 when the key holds a used entry; 2
// when it holds another challenge; 3 when it holds a value this package did
// not write.
//
// rewrite: when a write is to be acknowledged (WithReplicaAck), a script
// that finds the entry already as this call would leave it (a re-sent Save
// or take whose first attempt ran) writes it again, unchanged, TTL kept. The
// WAIT after it then covers the entry on a connection that may have written
// nothing else; without the write it would answer at once, whatever the
// replicas hold.
const saveScript = `local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
local b = string.byte(v)
if b == 2 or b == 3 or v == 'u' then return 0 end
if b ~= 1 then return 3 end
local p = tonumber(ARGV[3])
local function identity(x)
  local i = p + 1
  while true do
    local c = string.byte(x, i)
    if not c then return nil end
    if c < 128 then break end
    i = i + 1
  end
  return string.sub(x, 1, p) .. string.sub(x, i + 1)
end
local id = identity(v)
if id and id == identity(ARGV[1]) then
  if ARGV[4] == '1' then redis.call('SET', KEYS[1], v, 'KEEPTTL') end
  return 1
end
return 2`

// takeScript marks a live entry used by a take and returns the challenge,
// in one atomic round trip. KEYS[1] the entry, ARGV[1] the take's mark
// (markLen bytes), ARGV[2] "1" to rewrite (see saveScript). It returns nil when there is no entry; the live entry
// when it was live (now used by this take), or when this same take already
// holds it (a command re-sent after a lost answer); the tombstone when
// another take used it; and a value this package did not write as it is.
const takeScript = `local v = redis.call('GET', KEYS[1])
if not v then return false end
local b = string.byte(v)
if b == 1 then
  redis.call('SET', KEYS[1], ARGV[1] .. v, 'KEEPTTL')
  return v
end
if b == 2 or b == 3 or v == 'u' then
  if string.sub(v, 1, 9) == ARGV[1] then
    if ARGV[2] == '1' then redis.call('SET', KEYS[1], v, 'KEEPTTL') end
    return string.sub(v, 10)
  end
  return 'u'
end
return v`

// restoreScript makes an entry used by a TakeAs live again, if that take
// still holds it, keeping its TTL. KEYS[1] the entry, ARGV[1] the take's
// mark. It returns 1 when restored, 0 when nothing changed.
const restoreScript = `local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 9) == ARGV[1] then
  redis.call('SET', KEYS[1], string.sub(v, 10), 'KEEPTTL')
  return 1
end
return 0`

// Store is a [pkce.Store] kept in Redis, shared by every instance of an
// authorization server that uses the same Redis and key prefix. It
// implements [pkce.Restorer] too, so a token request the wrapped handler
// refuses does not cost the client its code, and [pkce.Peeker], so it
// serves pushed authorization requests ([pkce.Middleware.PAR]). Every operation is one round
// trip, a Lua script on one key, so Store works with a single Redis,
// Sentinel, Redis Cluster and Ring clients alike, and each is atomic: no
// other command on the key runs in between. Each operation is also safe to
// repeat: go-redis re-sends a command whose answer was lost (EOF, a read
// timeout) when MaxRetries allows, and a re-sent Save, Take, TakeAs or
// Restore acts as if it had been sent once. It needs Redis 6.2 or newer.
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
	// ack is what WithReplicaAck asks for; ack.replicas 0: nothing.
	ack replicaAck
}

// replicaAck is the acknowledgement by replicas each write waits for.
type replicaAck struct {
	replicas int
	timeout  time.Duration
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

// DefaultReplicaAckTimeout is how long a write waits for its replicas under
// [WithReplicaAck] when the timeout given is zero or less.
const DefaultReplicaAckTimeout = 500 * time.Millisecond

// WithReplicaAck makes every write of the store (Save, Take, TakeAs and
// Restore) wait until at least replicas replicas of the key's master have
// acknowledged it, for at most timeout, before it answers: Redis's WAIT,
// sent in the same round trip and on the same connection as the write, to
// the master that holds the key. A write that fewer replicas acknowledge in
// time is an error wrapping [ErrReplicaAck], so the middleware fails closed
// (HTTP 500): the write did happen on the master, and is kept there, but
// nobody is told it succeeded.
//
// Redis replicates asynchronously: without this option a master that dies
// right after a write can take the write with it, and the replica promoted
// in its place (Redis Cluster, Sentinel) never saw it. A lost Take makes a
// used code pass its PKCE check a second time; a lost Save leaves a code
// without its challenge, which an optional policy (Config.Require returning
// false) lets through without a verifier. With the option, every write that
// was answered is on replicas replicas too: when the master dies, a replica
// that has it is promoted, and a code passes its check at most once across
// the failover. With one replica per master, as in the tests, that is
// exact. With more, WAIT does not choose which replica is promoted: Redis
// Cluster and Sentinel both prefer the one with the most of the master's
// writes, which is one that acknowledged, unless it is down too; set
// replicas to the number each master has for the strictest guarantee.
//
// The cost: each write waits for its slowest needed replica (one round trip
// more on the master's side; on loopback well under a millisecond), and
// fails closed while fewer than replicas replicas of its master are
// connected, for instance after a failover until a replica is back (the
// killed master, restarted, rejoins as one). Give every master one replica
// more than replicas to keep serving through the loss of one. Keep timeout
// well below Config.StoreTimeout (default 2 s) and the client's ReadTimeout
// (default 3 s); zero or less means [DefaultReplicaAckTimeout]. replicas of
// zero or less turns the option off.
//
// It works with a [*redis.Client] (one server, or the master a Sentinel
// [redis.NewFailoverClient] follows), a [*redis.ClusterClient], where the
// store follows MOVED and ASK redirections itself, and a [*redis.Ring];
// with any other client every write fails.
func WithReplicaAck(replicas int, timeout time.Duration) Option {
	return func(s *Store) {
		if replicas <= 0 {
			s.ack = replicaAck{}
			return
		}
		if timeout <= 0 {
			timeout = DefaultReplicaAckTimeout
		}
		s.ack = replicaAck{replicas: replicas, timeout: timeout}
	}
}

// ErrReplicaAck is wrapped by the error of a write that fewer replicas
// acknowledged in time than [WithReplicaAck] asks for.
var ErrReplicaAck = errors.New("redisstore: the write was not acknowledged by enough replicas in time")

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

var (
	// errNotFuture is returned by Save for a challenge whose ExpiresAt is
	// not in the future.
	errNotFuture = errors.New("redisstore: challenge ExpiresAt is not in the future")
	// errZeroTake is returned by TakeAs for take 0.
	errZeroTake = errors.New("redisstore: a take identifier must not be 0")
)

// Save records c under key until c.ExpiresAt, in one atomic round trip. A
// key is never rebound: if it holds a live entry, Save changes nothing and
// returns [pkce.ErrUsed] when the entry is used, [pkce.ErrExists] when it is
// unused and holds another challenge (Value, Method or ClientID differ),
// and nil when it holds the same challenge, whatever c.ExpiresAt says (a
// retry; the entry keeps its own expiry). Once the entry has expired the key
// is free again. So a Save that go-redis re-sends after its first attempt
// saved succeeds and changes nothing.
//
// Save returns an error if c.ExpiresAt is not in the future, if ctx is
// done, for a key holding a value this package did not write, and for any
// Redis or network fault. The entry's TTL is c.ExpiresAt less this
// machine's clock, in milliseconds rounded up, so Redis's own clock does not
// need to agree. Safe for concurrent use.
func (s *Store) Save(ctx context.Context, key string, c pkce.Challenge) error {
	ttl := time.Until(c.ExpiresAt)
	if ttl <= 0 {
		return errNotFuture
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	v, p := encode(c)
	rkey := s.prefix + key
	cmd := redis.NewIntCmd(ctx, "eval", saveScript, 1, rkey, v, ms, p, s.rewrite())
	if err := s.write(ctx, rkey, cmd, func() bool { return cmd.Val() == 1 }); err != nil {
		return fmt.Errorf("redisstore: save: %w", err)
	}
	switch cmd.Val() {
	case 1:
		return nil
	case 0:
		return pkce.ErrUsed
	case 2:
		return pkce.ErrExists
	}
	return fmt.Errorf("redisstore: save: the entry under %q was not written by this package", s.prefix+key)
}

// Take returns the challenge saved under key and marks it used, in one
// atomic round trip: of any number of calls for one key, from any number of
// instances, exactly one gets the challenge. The others get [pkce.ErrUsed]
// until the entry expires, then [pkce.ErrNotFound]. No [Store.Restore]
// undoes a Take. Each call marks the entry with an identifier of its own,
// drawn at random, so when go-redis re-sends the command after its answer
// was lost the call still gets the challenge, and only this call does.
//
// A done ctx, a Redis or network fault, or an entry that does not decode is
// an error and never [pkce.ErrNotFound]: when Take fails the challenge may
// or may not have been used up, and the caller must fail closed. Safe for
// concurrent use.
func (s *Store) Take(ctx context.Context, key string) (pkce.Challenge, error) {
	var m [markLen]byte
	m[0] = markTake
	rand.Read(m[1:]) // never fails (crypto/rand)
	return s.take(ctx, key, m[:], "take")
}

// TakeAs is [Store.Take] that marks the entry as used by take, which must
// not be 0, for [pkce.Restorer]: the entry stays used until it expires or
// [Store.Restore] is called with the same take. A repeat of TakeAs with the
// take that holds the entry returns the challenge again, so a command that
// go-redis re-sends gets it too. Its errors are Take's. Safe for concurrent
// use.
func (s *Store) TakeAs(ctx context.Context, key string, take uint64) (pkce.Challenge, error) {
	if take == 0 {
		return pkce.Challenge{}, errZeroTake
	}
	return s.take(ctx, key, takeAsMark(take), "take as")
}

// Restore makes the entry under key usable again if, and only if, it is
// live and still marked as used by [Store.TakeAs] with take, in one atomic
// round trip that keeps the entry's TTL. Otherwise (another take since, a
// second Restore, a plain Take, an unused, expired or unknown entry) it
// changes nothing and returns nil, so a Restore that go-redis re-sends acts
// once. It returns an error only when ctx is done or for a Redis or network
// fault; a Restore that failed may still have taken effect, or take effect
// when Redis runs a command it was sent, but never undoes another take.
// Safe for concurrent use.
func (s *Store) Restore(ctx context.Context, key string, take uint64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: restore: %w", err)
	}
	if take == 0 {
		return nil // no TakeAs marks an entry with 0
	}
	rkey := s.prefix + key
	cmd := redis.NewIntCmd(ctx, "eval", restoreScript, 1, rkey, takeAsMark(take))
	if err := s.write(ctx, rkey, cmd, func() bool { return cmd.Val() == 1 }); err != nil {
		return fmt.Errorf("redisstore: restore: %w", err)
	}
	return nil
}

// Peek returns the challenge saved under key without using it up
// ([pkce.Peeker]), in one round trip (a GET, which changes nothing):
// [pkce.ErrUsed] once it was taken (until a [Store.Restore]),
// [pkce.ErrNotFound] when it was never saved or has expired. A done ctx, a
// Redis or network fault, or an entry that does not decode is an error.
// The middleware peeks at pushed authorization requests (RFC 9126), under
// keys of their own ("par:" and 43 base64url characters). Safe for
// concurrent use.
func (s *Store) Peek(ctx context.Context, key string) (pkce.Challenge, error) {
	rkey := s.prefix + key
	var v string
	err := s.bounded(ctx, func() error {
		var err error
		v, err = s.client.Get(ctx, rkey).Result()
		return err
	})
	switch {
	case errors.Is(err, redis.Nil):
		return pkce.Challenge{}, pkce.ErrNotFound
	case err != nil:
		return pkce.Challenge{}, fmt.Errorf("redisstore: peek: %w", err)
	case v == tombstone || len(v) > 0 && (v[0] == markTake || v[0] == markTakeAs):
		return pkce.Challenge{}, pkce.ErrUsed
	}
	c, ok := decode(v)
	if !ok {
		return pkce.Challenge{}, fmt.Errorf("redisstore: peek: the entry under %q does not decode", rkey)
	}
	return c, nil
}

var (
	_ pkce.Store    = (*Store)(nil)
	_ pkce.Restorer = (*Store)(nil)
	_ pkce.Peeker   = (*Store)(nil)
)

// take runs takeScript with the mark m of the take.
func (s *Store) take(ctx context.Context, key string, m []byte, op string) (pkce.Challenge, error) {
	rkey := s.prefix + key
	cmd := redis.NewStringCmd(ctx, "eval", takeScript, 1, rkey, m, s.rewrite())
	err := s.write(ctx, rkey, cmd, func() bool { return cmd.Val() != tombstone })
	if errors.Is(err, redis.Nil) {
		return pkce.Challenge{}, pkce.ErrNotFound
	}
	if err != nil {
		return pkce.Challenge{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	v := cmd.Val()
	if v == tombstone {
		return pkce.Challenge{}, pkce.ErrUsed
	}
	c, ok := decode(v)
	if !ok {
		return pkce.Challenge{}, fmt.Errorf("redisstore: %s: the entry under %q does not decode", op, s.prefix+key)
	}
	return c, nil
}

// takeAsMark returns the mark of a TakeAs with take.
func takeAsMark(take uint64) []byte {
	m := make([]byte, markLen)
	m[0] = markTakeAs
	binary.BigEndian.PutUint64(m[1:], take)
	return m
}

// write runs cmd, a script that may write rkey, bounded by ctx: through the
// client, or under [WithReplicaAck] on the key's master followed by WAIT,
// whose answer counts when wrote, called on cmd's answer, says the script
// wrote (an answer that changed nothing, such as ErrUsed, needs no
// acknowledgement).
//
// After a fault on a cluster it asks the client to reload the cluster's
// layout. go-redis does so itself on MOVED, but not when a master stops
// answering: a ClusterClient would send the slots of a master that died to
// its address, failing, until its ClusterStateReloadInterval (60 s by
// default) had passed, long after a replica took over.
func (s *Store) write(ctx context.Context, rkey string, cmd redis.Cmder, wrote func() bool) error {
	var err error
	if s.ack.replicas == 0 {
		err = s.bounded(ctx, func() error { return s.client.Process(ctx, cmd) })
	} else {
		err = s.bounded(ctx, func() error { return s.acked(ctx, rkey, cmd, wrote) })
	}
	if err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, ErrReplicaAck) {
		if cluster, ok := s.client.(*redis.ClusterClient); ok {
			cluster.ReloadState(ctx) // at most one reload at a time, 200 ms apart
		}
	}
	return err
}

// rewrite is the scripts' argument that asks them to write again an entry
// they find as they would leave it (see saveScript).
func (s *Store) rewrite() string {
	if s.ack.replicas == 0 {
		return "0"
	}
	return "1"
}

// maxAckRedirects bounds the MOVED and ASK redirections acked follows for
// one write, as ClusterOptions.MaxRedirects does for the client's own.
const maxAckRedirects = 5

// acked runs cmd on the master that holds rkey, then WAIT, in one pipeline:
// one round trip on one connection, so WAIT counts the replicas that have
// this write. On a cluster it follows MOVED and ASK redirections (a slot
// being resharded) as the cluster client does.
func (s *Store) acked(ctx context.Context, rkey string, cmd redis.Cmder, wrote func() bool) error {
	cluster, _ := s.client.(*redis.ClusterClient)
	node, err := s.master(ctx, rkey)
	if err != nil {
		return err
	}
	wait := redis.NewIntCmd(ctx, "wait", s.ack.replicas, s.ack.timeout.Milliseconds())
	asking := false
	for redirects := 0; ; redirects++ {
		// Each reply read sets its command's error, so cmd and wait can
		// be sent again after a redirection.
		_, err = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			if asking {
				p.Do(ctx, "asking") // Redis Cluster specification, "ASK redirection"
			}
			p.Process(ctx, cmd)
			p.Process(ctx, wait)
			return nil
		})
		if err = cmd.Err(); err == nil || errors.Is(err, redis.Nil) {
			break
		}
		if cluster == nil || redirects == maxAckRedirects {
			return err
		}
		moved, isMoved := redis.IsMovedError(err)
		ask, isAsk := redis.IsAskError(err)
		if !isMoved && !isAsk {
			return err // write reloads the layout
		}
		addr := moved
		if isAsk {
			addr = ask
		}
		if node, err = masterAt(ctx, cluster, addr); err != nil {
			return err
		}
		asking = isAsk
	}
	if err != nil || !wrote() {
		return err // redis.Nil: nothing written
	}
	if werr := wait.Err(); werr != nil {
		return fmt.Errorf("wait: %w", werr)
	}
	if n := wait.Val(); n < int64(s.ack.replicas) {
		return fmt.Errorf("%w: %d of %d replicas within %v", ErrReplicaAck, n, s.ack.replicas, s.ack.timeout)
	}
	return nil
}

// master returns the client of the master that holds rkey.
func (s *Store) master(ctx context.Context, rkey string) (*redis.Client, error) {
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, rkey)
	case *redis.Ring:
		return c.GetShardClientForKey(rkey)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("redisstore: WithReplicaAck needs a *redis.Client, *redis.ClusterClient or *redis.Ring, not a %T", s.client)
}

// masterAt returns the client of the cluster's master at addr, the target
// of a MOVED or ASK redirection, after reloading the cluster's layout.
func masterAt(ctx context.Context, cluster *redis.ClusterClient, addr string) (*redis.Client, error) {
	var (
		mu    sync.Mutex
		found *redis.Client
	)
	err := cluster.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		if c.Options().Addr == addr {
			mu.Lock()
			found = c
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("redisstore: redirected to %s, which is no master of the cluster", addr)
	}
	return found, nil
}

// bounded runs do, bounded by ctx. A done ctx is an error before anything
// is sent. When the client does not bound its own reads by ctx's deadline,
// do runs in a goroutine and bounded returns as soon as ctx is done; the
// command then finishes, or times out, on its own.
func (s *Store) bounded(ctx context.Context, do func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	if s.direct || ctx.Done() == nil {
		err = do()
	} else {
		done := make(chan error, 1)
		go func() { done <- do() }()
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

// Encoding of a live entry, format 1. Compact and binary; see the package
// documentation for the layout.
const (
	format1     = 0x01
	methodS256  = 's'
	methodPlain = 'p'
	methodOther = 'x'
	// A pushed request's entry has a redirect URI: its method byte is the
	// upper-case one, and a length-prefixed redirect URI follows the
	// method (so it is part of what Save compares).
	withRedirect = 'a' - 'A'
)

// encode returns the stored form of c, a live entry, and the length of its
// format byte and method: the varint of ExpiresAt follows. The entry less
// that varint identifies the challenge (Value, Method, ClientID).
func encode(c pkce.Challenge) (v []byte, methodEnd int) {
	b := make([]byte, 0, 2+binary.MaxVarintLen64+2*binary.MaxVarintLen32+len(c.Value)+len(c.ClientID)+len(c.RedirectURI))
	b = append(b, format1)
	var upper byte
	if c.RedirectURI != "" {
		upper = withRedirect
	}
	switch c.Method {
	case pkce.S256:
		b = append(b, methodS256-upper)
	case pkce.Plain:
		b = append(b, methodPlain-upper)
	default:
		b = append(b, methodOther-upper)
		b = binary.AppendUvarint(b, uint64(len(c.Method)))
		b = append(b, c.Method...)
	}
	if c.RedirectURI != "" {
		b = binary.AppendUvarint(b, uint64(len(c.RedirectURI)))
		b = append(b, c.RedirectURI...)
	}
	methodEnd = len(b)
	b = binary.AppendVarint(b, c.ExpiresAt.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(c.Value)))
	b = append(b, c.Value...)
	return append(b, c.ClientID...), methodEnd
}

// decode parses the stored form of a challenge. The strings it returns share
// v's memory.
func decode(v string) (c pkce.Challenge, ok bool) {
	if len(v) < 2 || v[0] != format1 {
		return c, false
	}
	rest := v[2:]
	method, redirect := v[1], false
	if method == methodS256-withRedirect || method == methodPlain-withRedirect || method == methodOther-withRedirect {
		method, redirect = method+withRedirect, true
	}
	switch method {
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
	if redirect {
		if c.RedirectURI, rest, ok = cutLength(rest); !ok || c.RedirectURI == "" {
			return c, false
		}
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
