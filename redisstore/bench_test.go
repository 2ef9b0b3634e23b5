package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/redisstore"
	"github.com/redis/go-redis/v9"
)

// The benchmarks run against a redis-server of their own on 127.0.0.1. Each
// call has a deadline, as the middleware gives it (Config.StoreTimeout), so
// the guard goroutine the store runs for a client that ignores deadlines is
// counted. Run them with
//
//	go test -run '^$' -bench . -benchmem
//
// allocs/op counts go-redis's allocations and the store's together;
// BenchmarkClient measures go-redis alone on a comparable command.

func BenchmarkSave(b *testing.B) {
	benchClients(b, func(b *testing.B, s *redisstore.Store, _ *redis.Client) {
		ctx := benchContext(b)
		keys := benchKeys(b.N)
		c := newChallenge(time.Minute)
		b.ResetTimer()
		for i := range b.N {
			if err := s.Save(ctx, keys[i], c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTake(b *testing.B) {
	benchClients(b, func(b *testing.B, s *redisstore.Store, _ *redis.Client) {
		ctx := benchContext(b)
		keys := benchKeys(b.N)
		c := newChallenge(time.Minute)
		for _, k := range keys {
			if err := s.Save(ctx, k, c); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Take(ctx, keys[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTakeAsRestore is a take that the wrapped token handler refused:
// TakeAs, then Restore, on one key, two round trips per iteration.
func BenchmarkTakeAsRestore(b *testing.B) {
	benchClients(b, func(b *testing.B, s *redisstore.Store, _ *redis.Client) {
		ctx := benchContext(b)
		key := newKey()
		if err := s.Save(ctx, key, newChallenge(time.Hour)); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			take := uint64(i + 1)
			if _, err := s.TakeAs(ctx, key, take); err != nil {
				b.Fatal(err)
			}
			if err := s.Restore(ctx, key, take); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSaveParallel(b *testing.B) {
	benchClients(b, func(b *testing.B, s *redisstore.Store, _ *redis.Client) {
		ctx := benchContext(b)
		keys := benchKeys(b.N)
		c := newChallenge(time.Minute)
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Save(ctx, keys[next.Add(1)-1], c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkTakeParallel(b *testing.B) {
	benchClients(b, func(b *testing.B, s *redisstore.Store, _ *redis.Client) {
		ctx := benchContext(b)
		keys := benchKeys(b.N)
		c := newChallenge(time.Minute)
		for _, k := range keys {
			if err := s.Save(ctx, k, c); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Take(ctx, keys[next.Add(1)-1]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkClient is go-redis alone: a plain SET with PX of a value of the
// same size, for comparison with BenchmarkSave.
func BenchmarkClient(b *testing.B) {
	benchClients(b, func(b *testing.B, _ *redisstore.Store, client *redis.Client) {
		ctx := benchContext(b)
		keys := benchKeys(b.N)
		v := []byte(strings.Repeat("v", 60))
		b.ResetTimer()
		for i := range b.N {
			if err := client.Set(ctx, keys[i], v, time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemoryPerEntry saves 100,000 challenges, then takes them all,
// and reports Redis's used_memory growth per entry, live and used. It
// measures once, whatever b.N.
func BenchmarkMemoryPerEntry(b *testing.B) {
	srv := startRedis(b)
	client := srv.Client(func(o *redis.Options) { o.PoolSize = 32 })
	s := redisstore.New(client)
	ctx := context.Background()
	const n = 100_000
	{
		client.FlushAll(ctx)
		before := usedMemory(b, client)
		keys := benchKeys(n)
		c := pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "demo-app", ExpiresAt: time.Now().Add(10 * time.Minute)}
		inParallel(b, 32, n, func(i int) error { return s.Save(ctx, keys[i], c) })
		live := usedMemory(b, client)
		inParallel(b, 32, n, func(i int) error { _, err := s.Take(ctx, keys[i]); return err })
		used := usedMemory(b, client)
		b.ReportMetric(float64(live-before)/n, "B/live-entry")
		b.ReportMetric(float64(used-before)/n, "B/used-entry")
	}
}

func benchClients(b *testing.B, f func(*testing.B, *redisstore.Store, *redis.Client)) {
	srv := startRedis(b)
	for _, cc := range clientConfigs {
		b.Run(cc.name, func(b *testing.B) {
			client := srv.Client(cc.edit)
			b.ReportAllocs()
			f(b, redisstore.New(client), client)
		})
	}
}

func benchContext(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	return ctx
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = newKey()
	}
	return keys
}

func usedMemory(b *testing.B, client *redis.Client) int64 {
	b.Helper()
	info, err := client.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}

func inParallel(b *testing.B, workers, n int, f func(i int) error) {
	b.Helper()
	var next atomic.Int64
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					errs <- nil
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
