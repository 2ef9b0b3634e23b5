package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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

// TestConformanceCluster runs the suite on Redis Cluster, through a
// ClusterClient: a one-node cluster serving every slot, which refuses
// multi-key commands across slots and scripts that touch undeclared keys as
// a larger cluster does.
func TestConformanceCluster(t *testing.T) {
	srv := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := context.Background()
	node := srv.Client()
	if err := node.Do(ctx, "cluster", "addslotsrange", 0, 16383).Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	waitFor(t, 10*time.Second, "the cluster to be ok", func() error {
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("cluster_state is not ok")
		}
		return nil
	})
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) pkce.Store {
		return redisstore.New(client, redisstore.WithKeyPrefix(fmt.Sprintf("cluster:%d:", n.Add(1))))
	})
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
}

// TestKeyLayout checks the documented layout: the prefix, then the key; a
// live entry's TTL comes from ExpiresAt in milliseconds; Take leaves a
// one-byte tombstone with the same TTL. It logs the memory each takes.
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
	v, err := client.Get(ctx, rkey).Result()
	if err != nil {
		t.Fatal(err)
	}
	// 1 format + 1 method + 6 ExpiresAt + 1 length + 43 challenge + 8 client.
	if len(v) != 60 {
		t.Errorf("encoded S256 challenge of client demo-app: %d bytes, want 60", len(v))
	}
	live, _ := client.MemoryUsage(ctx, rkey).Result()
	if _, err := s.Take(ctx, key); err != nil {
		t.Fatal(err)
	}
	if v, _ := client.Get(ctx, rkey).Result(); v != "u" {
		t.Errorf("value after Take: got %q, want the tombstone %q", v, "u")
	}
	if after, _ := client.PTTL(ctx, rkey).Result(); after > pttl || after < pttl-time.Second {
		t.Errorf("PTTL after Take: got %v, want the same TTL as before (%v)", after, pttl)
	}
	used, _ := client.MemoryUsage(ctx, rkey).Result()
	t.Logf("MEMORY USAGE %s: %d bytes live (value %d bytes), %d bytes used", rkey, live, len(v), used)

	// The prefix option.
	p := redisstore.New(client, redisstore.WithKeyPrefix("tenant1:pkce:"))
	if err := p.Save(ctx, key, c); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, "tenant1:pkce:"+key).Result(); n != 1 {
		t.Errorf("WithKeyPrefix: key tenant1:pkce:%s not found", key)
	}
}

// TestMalformedEntry checks that an entry this package did not write is an
// error, not a challenge and not ErrNotFound, and that a key holding another
// Redis type is an error too.
func TestMalformedEntry(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client()
	ctx := context.Background()
	s := redisstore.New(client)
	for _, v := range []string{"", "x", "\x01", "\x01s", "\x01q\x02\x02ab", "\x01s\x80", "\x01s\x02\x7fab", "hello world"} {
		key := newKey()
		client.Set(ctx, redisstore.DefaultKeyPrefix+key, v, time.Minute)
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
	if err := s.Save(ctx, key, newChallenge(time.Minute)); err == nil {
		t.Errorf("Save over a list key: got nil, want a WRONGTYPE fault")
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
		for _, op := range []string{"Save", "Take"} {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			var err error
			if op == "Save" {
				err = s.Save(ctx, newKey(), newChallenge(time.Minute))
			} else {
				_, err = s.Take(ctx, key)
			}
			took := time.Since(start)
			cancel()
			if err == nil || errors.Is(err, pkce.ErrNotFound) || errors.Is(err, pkce.ErrUsed) {
				t.Errorf("%s #%d with Redis down: got %v, want a fault (never ErrNotFound: that would let a code pass without PKCE)", op, i, err)
			}
			if took > limit {
				t.Errorf("%s #%d with Redis down took %v, want at most %v", op, i, took, limit)
			}
			t.Logf("%s #%d with Redis down failed after %v: %v", op, i, took.Round(time.Millisecond), err)
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
	for _, op := range []string{"Save", "Take"} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		var err error
		if op == "Save" {
			err = s.Save(ctx, newKey(), newChallenge(time.Minute))
		} else {
			_, err = s.Take(ctx, key)
		}
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with Redis stalled: got %v, want an error wrapping context.DeadlineExceeded", op, err)
		}
		if took > deadline+500*time.Millisecond {
			t.Errorf("%s with Redis stalled returned after %v, want about its %v deadline", op, took, deadline)
		}
		t.Logf("%s with Redis stalled failed after %v: %v", op, took.Round(time.Millisecond), err)
	}

	srv.Resume()
	waitFor(t, 10*time.Second, "the store to work again after Redis resumed", func() error {
		return save(s, newKey(), newChallenge(time.Minute))
	})
	// The Take that timed out had been sent: Redis ran it when it resumed,
	// so the challenge is used up (fail closed), or it was not yet sent and
	// the challenge is still there. Either way it is handed out at most once.
	if got, err := take(s, key); err != nil && !errors.Is(err, pkce.ErrUsed) || err == nil && got.Value != c.Value {
		t.Errorf("Take after the stall: got (%+v, %v), want the challenge or ErrUsed", got, err)
	}
	if _, err := take(s, key); !errors.Is(err, pkce.ErrUsed) {
		t.Errorf("second Take after the stall: got %v, want ErrUsed", err)
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
