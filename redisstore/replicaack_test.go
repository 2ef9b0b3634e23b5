package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/redisstore"
	"github.com/redis/go-redis/v9"
)

// TestReplicaAck checks WithReplicaAck on one master with one replica
// (what a Sentinel deployment's FailoverClient talks to): writes the
// replica acknowledges succeed; while the replica is paused every write
// fails within the timeout with ErrReplicaAck, and so does a repeated
// write that finds its entry already as it would leave it (a retry: it
// writes the entry again so that WAIT covers it); a master without
// replicas fails every write; replicas 0 waits for nothing.
func TestReplicaAck(t *testing.T) {
	master := startRedis(t, "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
	replica := startRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	ctx := context.Background()
	waitFor(t, 10*time.Second, "the replica to sync", func() error {
		info, err := replica.Client().Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("link down")
		}
		// The master must count it online too, or a WAIT finds no replica.
		if info, err = master.Client().Info(ctx, "replication").Result(); err != nil {
			return err
		}
		if !strings.Contains(info, "state=online") {
			return errors.New("the master does not count the replica online yet")
		}
		return nil
	})
	client := master.Client(func(o *redis.Options) { o.ContextTimeoutEnabled = true })
	const timeout = 200 * time.Millisecond
	s := redisstore.New(client, redisstore.WithReplicaAck(1, timeout))
	// The writes the replica acknowledges get a generous timeout: on a busy
	// machine a healthy replica may take longer than 200 ms to answer WAIT.
	patient := redisstore.New(client, redisstore.WithReplicaAck(1, 5*time.Second))

	key, c := newKey(), newChallenge(time.Minute)
	mustSave(t, patient, key, c)
	if got, err := patient.TakeAs(ctx, key, 7); err != nil || got.Value != c.Value {
		t.Fatalf("TakeAs acknowledged by the replica: got (%+v, %v)", got, err)
	}
	if err := patient.Restore(ctx, key, 7); err != nil {
		t.Fatal(err)
	}
	if got, err := patient.TakeAs(ctx, key, 8); err != nil || got.Value != c.Value {
		t.Fatalf("TakeAs after Restore: got (%+v, %v)", got, err)
	}
	if v, err := replica.Client().Get(ctx, redisstore.DefaultKeyPrefix+key).Result(); err != nil || v[0] != 0x03 {
		t.Fatalf("the replica holds %q (%v), want the entry used by the last TakeAs", v, err)
	}
	key2, c2 := newKey(), newChallenge(time.Minute)
	mustSave(t, patient, key2, c2)

	fresh := func() *redisstore.Store {
		return redisstore.New(master.Client(), redisstore.WithReplicaAck(1, timeout))
	}
	replica.Pause()
	defer replica.resumeQuietly()
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"Save", func() error { return s.Save(ctx, newKey(), newChallenge(time.Minute)) }},
		// A retry on a connection that wrote nothing yet, whose WAIT would
		// answer at once if the script did not write the entry again.
		{"Save of the same challenge again", func() error { return fresh().Save(ctx, key2, later(c2)) }},
		{"TakeAs again by the take that holds the entry", func() error { _, err := fresh().TakeAs(ctx, key, 8); return err }},
		{"Take", func() error { _, err := s.Take(ctx, key2); return err }},
	} {
		start := time.Now()
		err := op.do()
		took := time.Since(start)
		if !errors.Is(err, redisstore.ErrReplicaAck) {
			t.Errorf("%s with the replica paused: got %v, want ErrReplicaAck", op.name, err)
		}
		if took < timeout || took > timeout+time.Second {
			t.Errorf("%s with the replica paused failed after %v, want after its %v timeout", op.name, took, timeout)
		}
		t.Logf("%s with the replica paused: %v after %v", op.name, err, took.Round(time.Millisecond))
	}
	// Answers that write nothing need no acknowledgement (they still wait
	// out WAIT on a connection whose earlier writes are unacknowledged).
	if _, err := s.Take(ctx, newKey()); !errors.Is(err, pkce.ErrNotFound) {
		t.Errorf("Take of an unknown key with the replica paused: got %v, want ErrNotFound", err)
	}
	if _, err := s.TakeAs(ctx, key, 9); !errors.Is(err, pkce.ErrUsed) {
		t.Errorf("TakeAs of an entry another take holds, with the replica paused: got %v, want ErrUsed", err)
	}
	replica.Resume()
	waitFor(t, 10*time.Second, "writes to be acknowledged again", func() error {
		return save(s, newKey(), newChallenge(time.Minute))
	})

	t.Run("NoReplica", func(t *testing.T) {
		alone := startRedis(t)
		s := redisstore.New(alone.Client(), redisstore.WithReplicaAck(1, 50*time.Millisecond))
		if err := save(s, newKey(), newChallenge(time.Minute)); !errors.Is(err, redisstore.ErrReplicaAck) {
			t.Errorf("Save on a master without replicas: got %v, want ErrReplicaAck", err)
		}
		s = redisstore.New(alone.Client(), redisstore.WithReplicaAck(0, time.Second))
		if err := save(s, newKey(), newChallenge(time.Minute)); err != nil {
			t.Errorf("Save with WithReplicaAck(0, …): got %v, want nil: the option is off", err)
		}
	})

	t.Run("OtherClient", func(t *testing.T) {
		type wrapped struct{ redis.UniversalClient }
		s := redisstore.New(wrapped{client}, redisstore.WithReplicaAck(1, timeout))
		if err := save(s, newKey(), newChallenge(time.Minute)); err == nil || !strings.Contains(err.Error(), "WithReplicaAck needs") {
			t.Errorf("Save through a client WithReplicaAck cannot route: got %v, want an error saying which clients it needs", err)
		}
	})
}
