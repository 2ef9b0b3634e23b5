package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/redisstore"
	"github.com/go-pkce/pkce/storetest"
	"github.com/redis/go-redis/v9"
)

// clientConfigs are the two ways a Store bounds its calls: by a guard
// goroutine when the client ignores context deadlines (go-redis's default),
// directly when the client honours them.
var clientConfigs = []struct {
	name string
	edit func(*redis.Options)
}{
	{"DefaultClient", func(*redis.Options) {}},
	{"ContextTimeoutEnabled", func(o *redis.Options) { o.ContextTimeoutEnabled = true }},
}

func TestConformance(t *testing.T) {
	srv := startRedis(t)
	for _, cc := range clientConfigs {
		t.Run(cc.name, func(t *testing.T) {
			client := srv.Client(cc.edit)
			var n atomic.Int64
			storetest.Run(t, func(t *testing.T) pkce.Store {
				// A prefix per subtest: stores that share one Redis stay apart.
				return redisstore.New(client, redisstore.WithKeyPrefix(fmt.Sprintf("conformance:%s:%d:", cc.name, n.Add(1))))
			})
		})
	}
}

// TestSharedAcrossClients checks that two stores on two clients, as two
// instances of a server have, see one set of entries.
func TestSharedAcrossClients(t *testing.T) {
	srv := startRedis(t)
	a, b := redisstore.New(srv.Client()), redisstore.New(srv.Client())
	ctx := context.Background()
	key, c := newKey(), newChallenge(time.Minute)
	if err := a.Save(ctx, key, c); err != nil {
		t.Fatal(err)
	}
	got, err := b.Take(ctx, key)
	if err != nil || got.Value != c.Value {
		t.Fatalf("Take on B of a challenge saved on A: got (%+v, %v)", got, err)
	}
	if _, err := a.Take(ctx, key); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("Take on A after B took: got %v, want ErrUsed", err)
	}
	if err := a.Save(ctx, key, c); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("Save on A over the key B used: got %v, want ErrUsed", err)
	}

	// A take on one instance, its Restore on another (a token request
	// whose wrapped handler runs elsewhere), the next take on the first.
	key, c = newKey(), newChallenge(time.Minute)
	if err := a.Save(ctx, key, c); err != nil {
		t.Fatal(err)
	}
	if got, err := a.TakeAs(ctx, key, 1); err != nil || got.Value != c.Value {
		t.Fatalf("TakeAs on A: got (%+v, %v)", got, err)
	}
	if _, err := b.TakeAs(ctx, key, 2); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("TakeAs on B while A's take holds the entry: got %v, want ErrUsed", err)
	}
	if err := b.Restore(ctx, key, 1); err != nil {
		t.Fatal(err)
	}
	if got, err := a.TakeAs(ctx, key, 3); err != nil || got.Value != c.Value {
		t.Fatalf("TakeAs on A after B restored: got (%+v, %v)", got, err)
	}
}

// TestKeyLayout checks the documented layout: the prefix, then the key; a
// live entry's TTL comes from ExpiresAt in milliseconds; a take prefixes the
// live entry with its mark (0x02 for Take, 0x03 for TakeAs, then the take
// identifier, 8 bytes big-endian) and keeps the TTL; Restore gives back the
// live entry byte for byte. It logs the memory each takes.
func TestKeyLayout(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client()
	ctx := context.Background()
	s := redisstore.New(client) // default prefix
	key := newKey()
	c := pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "demo-app", ExpiresAt: time.Now().Add(10 * time.Minute)}
	if err := s.Save(ctx, key, c); err != nil {
		t.Fatal(err)
	}
	rkey := redisstore.DefaultKeyPrefix + key
	pttl, err := client.PTTL(ctx, rkey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl := 10 * time.Minute; pttl > ttl+time.Millisecond || pttl < ttl-time.Second {
		t.Errorf("PTTL of %s: got %v, want about %v", rkey, pttl, ttl)
	}
	live, err := client.Get(ctx, rkey).Result()
	if err != nil {
		t.Fatal(err)
	}
	// 1 format + 1 method + 6 ExpiresAt + 1 length + 43 challenge + 8 client.
	if len(live) != 60 || live[0] != 0x01 || live[1] != 's' || !strings.HasSuffix(live, c.Value+c.ClientID) {
		t.Errorf("encoded S256 challenge of client demo-app: %q (%d bytes), want format 1 in 60 bytes", live, len(live))
	}
	liveMem, _ := client.MemoryUsage(ctx, rkey).Result()
	samePTTL := func(when string) {
		t.Helper()
		if after, _ := client.PTTL(ctx, rkey).Result(); after > pttl || after < pttl-time.Second {
			t.Errorf("PTTL %s: got %v, want the same TTL as before (%v)", when, after, pttl)
		}
	}

	if _, err := s.TakeAs(ctx, key, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if v, _ := client.Get(ctx, rkey).Result(); v != "\x03\x01\x02\x03\x04\x05\x06\x07\x08"+live {
		t.Errorf("value after TakeAs: got %q, want 0x03, the take, and the live entry", v)
	}
	samePTTL("after TakeAs")
	if err := s.Restore(ctx, key, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if v, _ := client.Get(ctx, rkey).Result(); v != live {
		t.Errorf("value after Restore: got %q, want the live entry as it was, %q", v, live)
	}
	samePTTL("after Restore")

	if _, err := s.Take(ctx, key); err != nil {
		t.Fatal(err)
	}
	used, _ := client.Get(ctx, rkey).Result()
	if len(used) != 9+len(live) || used[0] != 0x02 || used[9:] != live {
		t.Errorf("value after Take: got %q, want 0x02, 8 random bytes and the live entry", used)
	}
	samePTTL("after Take")
	usedMem, _ := client.MemoryUsage(ctx, rkey).Result()
	t.Logf("MEMORY USAGE %s: %d bytes live (value %d bytes), %d bytes used (value %d bytes)", rkey, liveMem, len(live), usedMem, len(used))

	// The prefix option.
	p := redisstore.New(client, redisstore.WithKeyPrefix("tenant1:pkce:"))
	if err := p.Save(ctx, key, c); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, "tenant1:pkce:"+key).Result(); n != 1 {
		t.Errorf("WithKeyPrefix: key tenant1:pkce:%s not found", key)
	}
}

// TestSaveComparesIdentity checks that the script's comparison of a Save
// with the live entry is exact on Value, Method and ClientID and ignores
// ExpiresAt, whatever the lengths of the varints around them.
func TestSaveComparesIdentity(t *testing.T) {
	srv := startRedis(t)
	s := redisstore.New(srv.Client())
	ctx := context.Background()
	soon, far := time.Now().Add(time.Minute), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) // ExpiresAt varints of 6 and 7 bytes
	long := strings.Repeat("a", 200)                                                      // a length of 2 varint bytes
	ch := func(v string, m pkce.Method, client string, at time.Time) pkce.Challenge {
		return pkce.Challenge{Value: v, Method: m, ClientID: client, ExpiresAt: at}
	}
	for _, tt := range []struct {
		name        string
		first, then pkce.Challenge
		want        error
	}{
		{"SameLaterVarintLonger", ch("abc", pkce.S256, "app", soon), ch("abc", pkce.S256, "app", far), nil},
		{"SameEarlierVarintShorter", ch("abc", pkce.S256, "app", far), ch("abc", pkce.S256, "app", soon), nil},
		{"SameOtherMethod", ch("abc", "S512", "app", soon), ch("abc", "S512", "app", far), nil},
		{"SameLongValue", ch(long, pkce.Plain, "", soon), ch(long, pkce.Plain, "", far), nil},
		{"ValueAndClientShifted", ch("ab", pkce.S256, "capp", soon), ch("abc", pkce.S256, "app", soon), pkce.ErrExists},
		{"ClientPrefix", ch("abc", pkce.S256, "app", soon), ch("abc", pkce.S256, "ap", soon), pkce.ErrExists},
		{"ClientLonger", ch("abc", pkce.S256, "app", soon), ch("abc", pkce.S256, "app2", soon), pkce.ErrExists},
		{"NoClient", ch("abc", pkce.S256, "app", soon), ch("abc", pkce.S256, "", soon), pkce.ErrExists},
		{"S256ThenPlain", ch("abc", pkce.S256, "app", soon), ch("abc", pkce.Plain, "app", soon), pkce.ErrExists},
		{"S256ThenOther", ch("abc", pkce.S256, "app", soon), ch("abc", "s", "app", soon), pkce.ErrExists},
		{"OtherNames", ch("abc", "S512", "app", soon), ch("abc", "S51", "app", soon), pkce.ErrExists},
		{"OtherNameSwallowsValue", ch("abc", "S5", "app", soon), ch("abc", "S5\x06abc", "app", soon), pkce.ErrExists},
		{"LongValueOneByteMore", ch(long, pkce.S256, "", soon), ch(long+"a", pkce.S256, "", soon), pkce.ErrExists},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey()
			if err := s.Save(ctx, key, tt.first); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, key, tt.then); !errors.Is(err, tt.want) || tt.want == nil && err != nil {
				t.Fatalf("Save of %+v over %+v: got %v, want %v", tt.then, tt.first, err, tt.want)
			}
			got, err := s.Take(ctx, key)
			if err != nil || got.Value != tt.first.Value || got.Method != tt.first.Method || got.ClientID != tt.first.ClientID || got.ExpiresAt.UnixMilli() != tt.first.ExpiresAt.UnixMilli() {
				t.Fatalf("Take: got (%+v, %v), want the first challenge unchanged, %+v", got, err, tt.first)
			}
		})
	}
}

// TestEarlierFormats checks the values that versions before used entries
// kept their challenge may have left in Redis during a rolling upgrade: a
// live entry of format 1 (the live format still) and the one-byte tombstone
// "u" of a used entry. It writes them as those versions did.
func TestEarlierFormats(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client()
	s := redisstore.New(client)
	ctx := context.Background()
	c := newChallenge(time.Minute)
	format1 := func(c pkce.Challenge) string {
		b := []byte{0x01, 's'}
		b = binary.AppendVarint(b, c.ExpiresAt.UnixMilli())
		b = binary.AppendUvarint(b, uint64(len(c.Value)))
		return string(append(append(b, c.Value...), c.ClientID...))
	}
	set := func(key, v string) {
		t.Helper()
		if err := client.Set(ctx, redisstore.DefaultKeyPrefix+key, v, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Format1", func(t *testing.T) {
		key := newKey()
		set(key, format1(c))
		if err := s.Save(ctx, key, later(c)); err != nil {
			t.Errorf("Save of the same challenge over a format 1 entry: %v", err)
		}
		other := c
		other.ClientID = "other"
		if err := s.Save(ctx, key, other); !errors.Is(err, pkce.ErrExists) {
			t.Errorf("Save of another challenge over a format 1 entry: got %v, want ErrExists", err)
		}
		got, err := s.TakeAs(ctx, key, 1)
		if err != nil || got.Value != c.Value || got.ClientID != c.ClientID || !got.ExpiresAt.Equal(c.ExpiresAt.Truncate(time.Millisecond)) {
			t.Fatalf("TakeAs of a format 1 entry: got (%+v, %v), want %+v", got, err, c)
		}
		if err := s.Restore(ctx, key, 1); err != nil {
			t.Fatal(err)
		}
		if v, _ := client.Get(ctx, redisstore.DefaultKeyPrefix+key).Result(); v != format1(c) {
			t.Errorf("after TakeAs and Restore: %q, want the format 1 entry as it was", v)
		}
		if got, err := s.Take(ctx, key); err != nil || got.Value != c.Value {
			t.Fatalf("Take of a restored format 1 entry: got (%+v, %v)", got, err)
		}
	})

	t.Run("Tombstone", func(t *testing.T) {
		key := newKey()
		set(key, "u")
		if _, err := s.Take(ctx, key); !errors.Is(err, pkce.ErrUsed) {
			t.Errorf("Take of a tombstone: got %v, want ErrUsed", err)
		}
		if _, err := s.TakeAs(ctx, key, 1); !errors.Is(err, pkce.ErrUsed) {
			t.Errorf("TakeAs of a tombstone: got %v, want ErrUsed", err)
		}
		if err := s.Save(ctx, key, c); !errors.Is(err, pkce.ErrUsed) {
			t.Errorf("Save over a tombstone: got %v, want ErrUsed", err)
		}
		if err := s.Restore(ctx, key, 1); err != nil {
			t.Errorf("Restore of a tombstone: %v", err)
		}
		if v, _ := client.Get(ctx, redisstore.DefaultKeyPrefix+key).Result(); v != "u" {
			t.Errorf("the tombstone became %q", v)
		}
	})

	// What an instance of an earlier version does with an entry this
	// version saved: its Take (SET … XX KEEPTTL GET) gets a format 1 entry it
	// decodes, as before.
	t.Run("ReadByEarlierVersion", func(t *testing.T) {
		key := newKey()
		if err := s.Save(ctx, key, c); err != nil {
			t.Fatal(err)
		}
		v, err := client.SetArgs(ctx, redisstore.DefaultKeyPrefix+key, "u", redis.SetArgs{Mode: "XX", KeepTTL: true, Get: true}).Result()
		if err != nil || v != format1(c) {
			t.Fatalf("an earlier version's Take: got (%q, %v), want the format 1 entry %q", v, err, format1(c))
		}
		if _, err := s.Take(ctx, key); !errors.Is(err, pkce.ErrUsed) {
			t.Errorf("Take after an earlier version's: got %v, want ErrUsed", err)
		}
	})
}

// TestMalformedEntry checks that an entry this package did not write is an
// error, not a challenge and not ErrNotFound; that Save never writes over
// it; and that a key holding another Redis type is an error too.
func TestMalformedEntry(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client()
	ctx := context.Background()
	s := redisstore.New(client)
	for _, v := range []string{"", "x", "\x01", "\x01s", "\x01q\x02\x02ab", "\x01s\x80", "\x01s\x02\x7fab", "hello world", "uu"} {
		key := newKey()
		rkey := redisstore.DefaultKeyPrefix + key
		client.Set(ctx, rkey, v, time.Minute)
		if err := s.Save(ctx, key, newChallenge(time.Minute)); err == nil {
			t.Errorf("Save over an entry holding %q: got nil, want an error", v)
		}
		if v2, _ := client.Get(ctx, rkey).Result(); v2 != v {
			t.Errorf("Save over an entry holding %q changed it to %q", v, v2)
		}
		if err := s.Restore(ctx, key, 1); err != nil {
			t.Errorf("Restore of an entry holding %q: %v", v, err)
		}
		c, err := s.Take(ctx, key)
		if err == nil || errors.Is(err, pkce.ErrNotFound) || errors.Is(err, pkce.ErrUsed) {
			t.Errorf("Take of an entry holding %q: got (%+v, %v), want a fault", v, c, err)
		}
	}
	key := newKey()
	client.RPush(ctx, redisstore.DefaultKeyPrefix+key, "x")
	if _, err := s.Take(ctx, key); err == nil || errors.Is(err, pkce.ErrNotFound) {
		t.Errorf("Take of a list key: got %v, want a WRONGTYPE fault", err)
	}
	if _, err := s.TakeAs(ctx, key, 1); err == nil || errors.Is(err, pkce.ErrNotFound) {
		t.Errorf("TakeAs of a list key: got %v, want a WRONGTYPE fault", err)
	}
	if err := s.Save(ctx, key, newChallenge(time.Minute)); err == nil {
		t.Errorf("Save over a list key: got nil, want a WRONGTYPE fault")
	}
	if err := s.Restore(ctx, key, 1); err == nil {
		t.Errorf("Restore of a list key: got nil, want a WRONGTYPE fault")
	}
}

// TestOtherMethodRoundTrip checks that a method other than S256 and plain
// round-trips too (the store does not judge methods; the middleware does).
func TestOtherMethodRoundTrip(t *testing.T) {
	srv := startRedis(t)
	s := redisstore.New(srv.Client())
	ctx := context.Background()
	key, c := newKey(), newChallenge(time.Minute)
	c.Method = "S512"
	if err := s.Save(ctx, key, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Take(ctx, key)
	if err != nil || got.Method != "S512" || got.Value != c.Value || got.ClientID != c.ClientID {
		t.Fatalf("got (%+v, %v), want %+v", got, err, c)
	}
}

// TestFaults checks that the store fails within its deadline and loud when
// Redis is down or stalled, never answers ErrNotFound for a fault, and
// recovers on the same client when Redis is back.
func TestFaults(t *testing.T) {
	configs := append(clientConfigs[:len(clientConfigs):len(clientConfigs)], struct {
		name string
		edit func(*redis.Options)
	}{"FailFast", failFast})
	for _, cc := range configs {
		t.Run(cc.name, func(t *testing.T) {
			t.Run("Killed", func(t *testing.T) { testKilled(t, cc.name, cc.edit) })
			t.Run("Stalled", func(t *testing.T) { testStalled(t, cc.edit) })
		})
	}
}

// storeOps are the store's operations as the fault tests make them: on a
// fresh key (Save) or on key, which holds a live entry.
var storeOps = []struct {
	name string
	do   func(ctx context.Context, s *redisstore.Store, key string) error
}{
	{"Save", func(ctx context.Context, s *redisstore.Store, _ string) error {
		return s.Save(ctx, newKey(), newChallenge(time.Minute))
	}},
	{"Take", func(ctx context.Context, s *redisstore.Store, key string) error {
		_, err := s.Take(ctx, key)
		return err
	}},
	{"TakeAs", func(ctx context.Context, s *redisstore.Store, key string) error {
		_, err := s.TakeAs(ctx, key, 1)
		return err
	}},
	{"Restore", func(ctx context.Context, s *redisstore.Store, key string) error {
		return s.Restore(ctx, key, 1)
	}},
}

// failFast is the client configuration the README recommends where a
// refused connection should fail at once: go-redis's defaults retry it for
// about 1.7 s (4 attempts of 5 dials each, 100 ms apart).
func failFast(o *redis.Options) {
	o.ContextTimeoutEnabled = true
	o.MaxRetries = 1
	o.DialerRetries = 1
}

func testKilled(t *testing.T, config string, edit func(*redis.Options)) {
	srv := startRedis(t)
	s := redisstore.New(srv.Client(edit))
	key := newKey()
	mustSave(t, s, key, newChallenge(time.Minute))

	srv.Kill()
	const deadline = 2 * time.Second
	limit := deadline + 200*time.Millisecond
	if config == "FailFast" {
		limit = 500 * time.Millisecond
	}
	for i := range 2 {
		for _, op := range storeOps {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			err := op.do(ctx, s, key)
			took := time.Since(start)
			cancel()
			if err == nil || errors.Is(err, pkce.ErrNotFound) || errors.Is(err, pkce.ErrUsed) {
				t.Errorf("%s #%d with Redis down: got %v, want a fault (never ErrNotFound: that would let a code pass without PKCE)", op.name, i, err)
			}
			if took > limit {
				t.Errorf("%s #%d with Redis down took %v, want at most %v", op.name, i, took, limit)
			}
			t.Logf("%s #%d with Redis down failed after %v: %v", op.name, i, took.Round(time.Millisecond), err)
		}
	}

	srv.Restart()
	// The same client reconnects by itself; the entries died with the old
	// process, as they do without persistence.
	waitFor(t, 10*time.Second, "the store to work again after Redis restarted", func() error {
		return save(s, newKey(), newChallenge(time.Minute))
	})
	key2, c := newKey(), newChallenge(time.Minute)
	mustSave(t, s, key2, c)
	if got, err := take(s, key2); err != nil || got.Value != c.Value {
		t.Fatalf("Take after restart: got (%+v, %v)", got, err)
	}
	if _, err := take(s, key2); !errors.Is(err, pkce.ErrUsed) {
		t.Fatalf("second Take after restart: got %v, want ErrUsed", err)
	}
}

func testStalled(t *testing.T, edit func(*redis.Options)) {
	srv := startRedis(t)
	s := redisstore.New(srv.Client(edit))
	key, c := newKey(), newChallenge(time.Minute)
	mustSave(t, s, key, c)

	srv.Pause()
	const deadline = 300 * time.Millisecond
	for _, op := range storeOps {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		err := op.do(ctx, s, key)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with Redis stalled: got %v, want an error wrapping context.DeadlineExceeded", op.name, err)
		}
		if took > deadline+500*time.Millisecond {
			t.Errorf("%s with Redis stalled returned after %v, want about its %v deadline", op.name, took, deadline)
		}
		t.Logf("%s with Redis stalled failed after %v: %v", op.name, took.Round(time.Millisecond), err)
	}

	srv.Resume()
	waitFor(t, 10*time.Second, "the store to work again after Redis resumed", func() error {
		return save(s, newKey(), newChallenge(time.Minute))
	})
	// The commands that timed out may have been sent: Redis runs them when
	// it resumes, and a client that does not bound its reads by the
	// context (DefaultClient) may still be sending or retrying them, in any
	// order, after this point. So the challenge is used up (fail closed),
	// or held by the abandoned TakeAs and then restored by the abandoned
	// Restore of that same take, or still there. Whatever the order, the
	// plain Takes here, whose marks no Restore undoes, get it at most once.
	got := 0
	for i := range 3 {
		c2, err := take(s, key)
		switch {
		case err == nil && c2.Value == c.Value:
			got++
		case err != nil && !errors.Is(err, pkce.ErrUsed):
			t.Errorf("Take %d after the stall: got %v, want the challenge or ErrUsed", i+1, err)
		}
		time.Sleep(50 * time.Millisecond) // let abandoned commands land between the Takes
	}
	if got > 1 {
		t.Errorf("after the stall, %d plain Takes got the challenge; want at most one", got)
	}
}

// TestArgumentChecks checks the argument checks made before any round
// trip: a Save whose ExpiresAt is not in the future, a TakeAs of take 0
// (an error) and a Restore of take 0 (nothing to undo).
func TestArgumentChecks(t *testing.T) {
	// No server: the checks are made before anything is sent.
	s := redisstore.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}))
	ctx := context.Background()
	if _, err := s.TakeAs(ctx, newKey(), 0); err == nil || !strings.Contains(err.Error(), "must not be 0") {
		t.Errorf("TakeAs with take 0: got %v, want an error saying take must not be 0", err)
	}
	if err := s.Restore(ctx, newKey(), 0); err != nil {
		t.Errorf("Restore with take 0: got %v, want nil", err)
	}
}

// TestSaveInThePast checks the argument check before any round trip.
func TestSaveInThePast(t *testing.T) {
	// No server: the check is made before anything is sent.
	s := redisstore.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	for _, at := range []time.Time{{}, time.Now(), time.Now().Add(-time.Second)} {
		c := newChallenge(time.Minute)
		c.ExpiresAt = at
		if err := s.Save(context.Background(), newKey(), c); err == nil || !strings.Contains(err.Error(), "not in the future") {
			t.Errorf("Save with ExpiresAt %v: got %v, want an error saying it is not in the future", at, err)
		}
	}
}

func newKey() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newChallenge(ttl time.Duration) pkce.Challenge {
	return pkce.Challenge{
		Value:     pkce.S256Challenge(pkce.GenerateVerifier()),
		Method:    pkce.S256,
		ClientID:  "demo-app",
		ExpiresAt: time.Now().Add(ttl),
	}
}

// later returns c with a later ExpiresAt: the same challenge for Save.
func later(c pkce.Challenge) pkce.Challenge {
	c.ExpiresAt = c.ExpiresAt.Add(time.Hour)
	return c
}

func save(s pkce.Store, key string, c pkce.Challenge) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.Save(ctx, key, c)
}

func take(s pkce.Store, key string) (pkce.Challenge, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.Take(ctx, key)
}

func mustSave(t *testing.T, s pkce.Store, key string, c pkce.Challenge) {
	t.Helper()
	if err := save(s, key, c); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// waitFor polls f until it returns nil, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, f func() error) {
	t.Helper()
	start := time.Now()
	for {
		err := f()
		if err == nil {
			t.Logf("waited %v for %s", time.Since(start).Round(time.Millisecond), what)
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("waited %v for %s: %v", limit, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
