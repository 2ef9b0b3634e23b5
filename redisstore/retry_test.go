package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/redisstore"
	"github.com/redis/go-redis/v9"
)

// go-redis re-sends a command whose answer it did not get (EOF, a read
// timeout) up to MaxRetries times (3 by default). Redis may well have run
// the command: only the answer was lost. These tests put a proxy between
// go-redis and a real redis-server that lets Redis run one chosen command,
// then loses its answer, so go-redis re-sends it, and check that every
// operation of the store acts as if it had been sent once.

// lossModes are the two ways an answer is lost: the connection drops (the
// client reads EOF) or the answer comes too late (the client's read times
// out).
var lossModes = []struct {
	name  string
	stall bool
}{
	{"Dropped", false},
	{"TimedOut", true},
}

// retryReadTimeout is the client's ReadTimeout in the TimedOut mode; the
// proxy holds the lost answer back for longer.
const retryReadTimeout = 300 * time.Millisecond

// retryClient returns a client of srv through a new lossy proxy, with
// retries on: the default go-redis client, or one with
// ContextTimeoutEnabled.
func retryClient(t *testing.T, srv *redisServer, contextTimeout bool) (*redis.Client, *lossyProxy) {
	t.Helper()
	p := newLossyProxy(t, srv.Addr())
	c := redis.NewClient(&redis.Options{
		Addr:                  p.Addr(),
		MaxRetries:            2,
		ReadTimeout:           retryReadTimeout,
		ContextTimeoutEnabled: contextTimeout,
	})
	t.Cleanup(func() { c.Close() })
	return c, p
}

// TestRetryHazard shows that the proxy reproduces the hazard: the re-sent
// SET … GET that Take used to be (before it became a script) answers the
// tombstone it wrote itself, turning a legitimate redemption into "already
// used".
func TestRetryHazard(t *testing.T) {
	srv := startRedis(t)
	for _, mode := range lossModes {
		t.Run(mode.name, func(t *testing.T) {
			client, p := retryClient(t, srv, false)
			ctx := context.Background()
			key := "hazard:" + newKey()
			if err := client.Set(ctx, key, "challenge", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			p.loseAnswer(t, key, mode.stall, nil)
			got, err := client.Do(ctx, "set", key, "u", "xx", "keepttl", "get").Text()
			p.checkResent(t)
			if err != nil || got != "u" {
				t.Fatalf("re-sent SET … GET: got (%q, %v), want the tombstone %q it wrote itself", got, err, "u")
			}
		})
	}
}

// TestRetriedOperationsActOnce loses the answer to each operation once and
// checks that go-redis's re-sent command acts as if it had been sent once,
// also when another instance acts on the key in between (after Redis ran
// the first attempt, before the retry).
func TestRetriedOperationsActOnce(t *testing.T) {
	srv := startRedis(t)
	direct := redisstore.New(srv.Client()) // another instance, not through the proxy
	for _, mode := range lossModes {
		for _, cc := range []struct {
			name           string
			contextTimeout bool
		}{{"DefaultClient", false}, {"ContextTimeoutEnabled", true}} {
			t.Run(mode.name+"/"+cc.name, func(t *testing.T) {
				client, p := retryClient(t, srv, cc.contextTimeout)
				s := redisstore.New(client)
				ctx := context.Background()

				t.Run("Take", func(t *testing.T) {
					key, c := newKey(), newChallenge(time.Minute)
					mustSave(t, s, key, c)
					p.loseAnswer(t, key, mode.stall, nil)
					got, err := s.Take(ctx, key)
					p.checkResent(t)
					if err != nil || got.Value != c.Value {
						t.Fatalf("Take whose answer was lost: got (%+v, %v), want the challenge: a re-sent Take must not turn one redemption into ErrUsed", got, err)
					}
					if _, err := direct.Take(ctx, key); !errors.Is(err, pkce.ErrUsed) {
						t.Fatalf("Take after it: got %v, want ErrUsed", err)
					}
				})

				t.Run("TakeRacedInBetween", func(t *testing.T) {
					key, c := newKey(), newChallenge(time.Minute)
					mustSave(t, s, key, c)
					var other error
					p.loseAnswer(t, key, mode.stall, func() { _, other = direct.Take(ctx, key) })
					got, err := s.Take(ctx, key)
					p.checkResent(t)
					if !errors.Is(other, pkce.ErrUsed) {
						t.Errorf("Take by another instance between the first attempt and the retry: got %v, want ErrUsed", other)
					}
					if err != nil || got.Value != c.Value {
						t.Fatalf("Take whose answer was lost: got (%+v, %v), want the challenge: exactly one of the two takes gets it", got, err)
					}
				})

				t.Run("TakeAs", func(t *testing.T) {
					key, c := newKey(), newChallenge(time.Minute)
					mustSave(t, s, key, c)
					var other error
					p.loseAnswer(t, key, mode.stall, func() { _, other = direct.TakeAs(ctx, key, 2) })
					got, err := s.TakeAs(ctx, key, 1)
					p.checkResent(t)
					if !errors.Is(other, pkce.ErrUsed) {
						t.Errorf("TakeAs(2) by another instance in between: got %v, want ErrUsed", other)
					}
					if err != nil || got.Value != c.Value {
						t.Fatalf("TakeAs whose answer was lost: got (%+v, %v), want the challenge", got, err)
					}
					// Take 1 holds the entry: its Restore puts it back.
					if err := direct.Restore(ctx, key, 1); err != nil {
						t.Fatal(err)
					}
					if got, err := direct.Take(ctx, key); err != nil || got.Value != c.Value {
						t.Fatalf("Take after Restore(1): got (%+v, %v), want the challenge", got, err)
					}
				})

				t.Run("SaveFresh", func(t *testing.T) {
					key, c := newKey(), newChallenge(time.Minute)
					var other error
					p.loseAnswer(t, key, mode.stall, func() { other = direct.Save(ctx, key, newChallenge(time.Minute)) })
					err := s.Save(ctx, key, c)
					p.checkResent(t)
					if !errors.Is(other, pkce.ErrExists) {
						t.Errorf("Save of another challenge in between: got %v, want ErrExists", other)
					}
					if err != nil {
						t.Fatalf("Save whose answer was lost: %v; a re-sent Save of a fresh key must succeed", err)
					}
					if got, err := direct.Take(ctx, key); err != nil || got.Value != c.Value {
						t.Fatalf("Take after the Save: got (%+v, %v), want the challenge saved", got, err)
					}
				})

				t.Run("Restore", func(t *testing.T) {
					key, c := newKey(), newChallenge(time.Minute)
					mustSave(t, s, key, c)
					if _, err := s.TakeAs(ctx, key, 1); err != nil {
						t.Fatal(err)
					}
					p.loseAnswer(t, key, mode.stall, nil)
					err := s.Restore(ctx, key, 1)
					p.checkResent(t)
					if err != nil {
						t.Fatalf("Restore whose answer was lost: %v", err)
					}
					if got, err := direct.Take(ctx, key); err != nil || got.Value != c.Value {
						t.Fatalf("Take after the Restore: got (%+v, %v), want the challenge", got, err)
					}
					if _, err := direct.Take(ctx, key); !errors.Is(err, pkce.ErrUsed) {
						t.Fatalf("second Take after the Restore: got %v, want ErrUsed: restored once", err)
					}
				})

				t.Run("RestoreThenTakenInBetween", func(t *testing.T) {
					key, c := newKey(), newChallenge(time.Minute)
					mustSave(t, s, key, c)
					if _, err := s.TakeAs(ctx, key, 1); err != nil {
						t.Fatal(err)
					}
					var (
						other    pkce.Challenge
						otherErr error
					)
					// The first attempt restored; another request takes
					// the code before go-redis re-sends the Restore.
					p.loseAnswer(t, key, mode.stall, func() { other, otherErr = direct.TakeAs(ctx, key, 2) })
					err := s.Restore(ctx, key, 1)
					p.checkResent(t)
					if err != nil {
						t.Fatalf("Restore whose answer was lost: %v", err)
					}
					if otherErr != nil || other.Value != c.Value {
						t.Fatalf("TakeAs(2) after the first attempt restored: got (%+v, %v), want the challenge", other, otherErr)
					}
					if got, err := direct.Take(ctx, key); !errors.Is(err, pkce.ErrUsed) {
						t.Fatalf("Take after the re-sent Restore: got (%+v, %v), want ErrUsed: the re-sent Restore of take 1 must not undo take 2", got, err)
					}
					if got, err := direct.TakeAs(ctx, key, 2); err != nil || got.Value != c.Value {
						t.Fatalf("TakeAs(2) again: got (%+v, %v), want the challenge: take 2 still holds the entry", got, err)
					}
				})
			})
		}
	}
}

// lossyProxy is a TCP proxy on 127.0.0.1 in front of a Redis server. It
// passes everything through, except the answer to the next command that
// carries the bytes given to loseAnswer: Redis gets and runs that command,
// and the proxy then drops the client's connection without passing the
// answer on, or holds the answer back until the client's read has timed out
// and then drops it.
type lossyProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	arm   *lossArm
	conns map[net.Conn]struct{}
}

type lossArm struct {
	trigger []byte
	stall   bool
	between func()
	// seen counts the commands that carried trigger, lost the answers lost.
	seen, lost int
}

func newLossyProxy(t *testing.T, target string) *lossyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *lossyProxy) Addr() string { return p.ln.Addr().String() }

// loseAnswer arms the proxy: the answer to the next command that carries
// trigger is lost, after between (if not nil) has run; between runs once
// Redis has answered, before the client learns anything.
func (p *lossyProxy) loseAnswer(t *testing.T, trigger string, stall bool, between func()) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.arm = &lossArm{trigger: []byte(trigger), stall: stall, between: between}
}

// checkResent checks, and disarms, that exactly one answer was lost and
// that the command was sent twice: the test exercised a retry.
func (p *lossyProxy) checkResent(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.arm
	p.arm = nil
	if a == nil {
		t.Fatal("the proxy was not armed")
	}
	if a.lost != 1 || a.seen != 2 {
		t.Fatalf("the proxy lost %d answers and saw the command %d times, want 1 and 2: go-redis did not re-send the command (MaxRetries?)", a.lost, a.seen)
	}
}

func (p *lossyProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

// serve proxies one client connection. go-redis sends one command and reads
// its answer before it sends the next on a connection, so the first bytes
// from Redis after a command are its answer.
func (p *lossyProxy) serve(client net.Conn) {
	p.track(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.track(server)
	closeBoth := func() { client.Close(); server.Close() }
	var (
		mu   sync.Mutex
		lose *lossArm // set when the command just sent is the one whose answer to lose
	)
	go func() { // client to server
		defer closeBoth()
		buf := make([]byte, 64<<10)
		var tail []byte // the end of the previous read, for a trigger split across reads
		for {
			n, err := client.Read(buf)
			if n > 0 {
				p.mu.Lock()
				if a := p.arm; a != nil {
					window := append(tail, buf[:n]...)
					if bytes.Contains(window, a.trigger) {
						a.seen++
						if a.lost == 0 {
							mu.Lock()
							lose = a
							mu.Unlock()
						}
					}
					if k := len(a.trigger) - 1; len(window) > k {
						tail = append(tail[:0], window[len(window)-k:]...)
					} else {
						tail = window
					}
				}
				p.mu.Unlock()
				if _, err := server.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	// server to client
	defer closeBoth()
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			mu.Lock()
			a := lose
			lose = nil
			mu.Unlock()
			if a != nil {
				if a.between != nil {
					a.between()
				}
				// Counted after between, under the lock checkResent takes:
				// what between did happens before the test reads it.
				p.mu.Lock()
				a.lost++
				p.mu.Unlock()
				if a.stall {
					time.Sleep(2 * retryReadTimeout)
				}
				return // the answer is lost with the connection
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
