package pkce

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of the MemoryStore (docs/performance.md, "MemoryStore").
//
//	go test -run '^$' -bench 'MemoryStore(Bytes|SaveTake)' -benchmem -cpu 1,2 .

// benchClientIDs are the clients of the benchmarks: a server has a handful.
var benchClientIDs = []string{"demo-app", "mobile-ios", "mobile-android", "spa-web", "partner-7f3a", "cli"}

// freshRequestValues returns the key, challenge and client of the i-th
// authorization request as a request creates them: each a new string,
// shared with nothing else (the key is SHA-256 of a new code, the challenge
// SHA-256 of a new verifier, the client_id parsed from the request).
func freshRequestValues(i int) (key, challenge, clientID string) {
	key = storeKey("code-" + strconv.Itoa(i) + "-" + GenerateVerifier())
	challenge = S256Challenge(GenerateVerifier())
	clientID = string([]byte(benchClientIDs[i%len(benchClientIDs)]))
	return key, challenge, clientID
}

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryStoreBytesPerEntry fills a store with n live challenges,
// keys and values created fresh per request, and reports the heap the
// store holds per entry ("B/entry"). It then lets every entry expire, sweeps
// them the way Save does at the limit, and reports what the store still
// holds ("B-after-sweep"; the empty store itself included).
func BenchmarkMemoryStoreBytesPerEntry(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				before := heapInUse()
				s, clock := newTestMemoryStore(n)
				for i := range n {
					key, v, client := freshRequestValues(i)
					c := Challenge{Value: v, Method: S256, ClientID: client, ExpiresAt: clock.now().Add(10 * time.Minute)}
					if err := s.Save(ctx, key, c); err != nil {
						b.Fatal(err)
					}
					clock.advance(time.Microsecond) // one second for the million
				}
				full := heapInUse()
				b.ReportMetric(float64(full-before)/float64(n), "B/entry")

				// Every entry expires and is swept, as Save sweeps at the limit.
				clock.advance(time.Hour)
				s.sweepAll(clock.now().UnixNano())
				if s.Len() != 0 {
					b.Fatalf("after the last sweep: %d entries, want 0", s.Len())
				}
				after := heapInUse()
				b.ReportMetric(float64(int64(after)-int64(before)), "B-after-sweep")
				runtime.KeepAlive(s)
			}
		})
	}
}

// BenchmarkMemoryStoreSaveTake saves a challenge and takes it, as one
// authorization code's life does, on the wall clock: entries expire 20 ms
// after they are saved and are swept as new ones come, so the store keeps a
// steady size (tens of thousands of entries). Run with -cpu 1,2: the
// parallel variant's ns/op is wall time per operation across all
// goroutines, so its ratio between -cpu 1 and -cpu 2 is the scaling.
func BenchmarkMemoryStoreSaveTake(b *testing.B) {
	ctx := context.Background()
	const poolSize = 1 << 20 // a key comes round again long after it expired
	keys := make([]string, poolSize)
	for i := range keys {
		keys[i] = storeKey("code-" + strconv.Itoa(i))
	}
	c := Challenge{Value: S256Challenge(GenerateVerifier()), Method: S256, ClientID: "demo-app"}
	const ttl = 20 * time.Millisecond

	b.Run("Serial", func(b *testing.B) {
		s := NewMemoryStore()
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		for i := range b.N {
			key := keys[i%poolSize]
			c := c
			c.ExpiresAt = time.Now().Add(ttl)
			if err := s.Save(ctx, key, c); err != nil && !stalled(err, c.ExpiresAt) {
				b.Fatal(err)
			}
			if _, err := s.Take(ctx, key); err != nil && !stalled(err, c.ExpiresAt) {
				b.Fatal(err)
			}
		}
	})
	b.Run("Yardstick", func(b *testing.B) {
		// What the machine's cores give work that shares nothing (SHA-256
		// of a goroutine's own buffer, about as long as a Save and a Take):
		// the ceiling of Parallel's scaling on this machine.
		defer reportCPU(b, processCPU())
		b.RunParallel(func(pb *testing.PB) {
			var sum [32]byte
			for pb.Next() {
				for range 12 {
					sum = sha256.Sum256(sum[:])
				}
			}
		})
	})
	b.Run("Parallel", func(b *testing.B) {
		s := NewMemoryStore()
		var goroutines atomic.Int64
		b.ReportAllocs()
		defer reportCPU(b, processCPU())
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine walks its own stretch of the pool: no shared
			// counter in the loop.
			i := int(goroutines.Add(1)-1) * (poolSize / runtime.GOMAXPROCS(0))
			for pb.Next() {
				key := keys[i%poolSize]
				i++
				c := c
				c.ExpiresAt = time.Now().Add(ttl)
				if err := s.Save(ctx, key, c); err != nil && !stalled(err, c.ExpiresAt) {
					b.Error(err)
					return
				}
				if _, err := s.Take(ctx, key); err != nil && !stalled(err, c.ExpiresAt) {
					b.Error(err)
					return
				}
			}
		})
	})
}

// stalled reports whether err is what a Save or Take answers when the
// benchmark was descheduled for longer than the TTL (the machine is shared):
// the challenge expired before it was saved, or before it was taken.
func stalled(err error, expiresAt time.Time) bool {
	// On the wall clock, as the store reads it: this machine's wall clock
	// is slewed, and may move apart from the monotonic one by milliseconds.
	return (err == errSaveExpired || err == ErrNotFound) && !time.Now().Round(0).Before(expiresAt)
}

// processCPU returns the CPU time the process has used, in nanoseconds, or
// -1 where /proc/self/stat does not say (anything but Linux).
func processCPU() int64 {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	// utime and stime are the 12th and 13th fields after the command
	// name, which is in parentheses, in clock ticks (USER_HZ, 100 on Linux).
	fields := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
	if len(fields) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (utime + stime) * int64(time.Second/100)
}

// reportCPU reports the process's CPU time per operation since start.
func reportCPU(b *testing.B, start int64) {
	if end := processCPU(); start >= 0 && end >= 0 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
