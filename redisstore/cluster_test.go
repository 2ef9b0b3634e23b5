package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/redisstore"
	"github.com/go-pkce/pkce/storetest"
	"github.com/redis/go-redis/v9"
)

// The tests in this file run the store on a real Redis Cluster (see
// redisCluster): three masters with a replica each. TestCluster runs the
// conformance suite, the multi-instance audit and a slot migration on one
// cluster; TestClusterFailover kills masters, on another.

// ackTimeout is the WithReplicaAck timeout of the tests: a write that its
// replica has not acknowledged after it fails.
const ackTimeout = 500 * time.Millisecond

func TestCluster(t *testing.T) {
	t.Parallel() // with TestClusterFailover, on a cluster of its own
	c := startCluster(t)

	// The suite's keys spread over the three masters, so every operation
	// goes to the master of its key's slot: once through the cluster
	// client as it is, once with WithReplicaAck (the store's own pipeline
	// to the key's master), both at once.
	t.Run("Conformance", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			opts []redisstore.Option
		}{
			{"ClusterClient", nil},
			{"WithReplicaAck", []redisstore.Option{redisstore.WithReplicaAck(1, ackTimeout)}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				client := c.Client()
				var n atomic.Int64
				storetest.Run(t, func(t *testing.T) pkce.Store {
					prefix := fmt.Sprintf("conformance:%s:%d:", tt.name, n.Add(1))
					return redisstore.New(client, append(tt.opts[:len(tt.opts):len(tt.opts)], redisstore.WithKeyPrefix(prefix))...)
				})
			})
		}
	})
	for i := range clusterMasters {
		n, err := c.admin[i].DBSize(context.Background()).Result()
		if err != nil || n == 0 {
			t.Errorf("master %d holds %d keys (%v), want some of the suite's", i, n, err)
		}
	}

	// Three instances, one of them waiting for replicas, behind a
	// round-robin front: every code is issued on one instance and
	// redeemed, retried and replayed on the others.
	t.Run("MultiInstanceAudit", func(t *testing.T) {
		f := newEmptyFleet()
		f.a = f.newInstance(t, "A", pkce.Config{Store: redisstore.New(c.Client())})
		f.b = f.newInstance(t, "B", pkce.Config{Store: redisstore.New(c.Client(), redisstore.WithReplicaAck(1, ackTimeout))})
		third := f.newInstance(t, "C", pkce.Config{Store: redisstore.New(c.Client())})
		auditThroughFront(t, f, f.a, f.b, third)
	})

	t.Run("SlotMigration", func(t *testing.T) { testSlotMigration(t, c) })
}

// testSlotMigration moves a slot holding live entries from one master to
// another, key by key as redis-cli --cluster reshard does, while flows
// whose codes all fall in that slot run on two instances (one with
// WithReplicaAck): Redis answers ASK for the keys already moved and, once
// the slot is handed over, MOVED. The clients follow them: no request
// fails, and every entry saved before is redeemed after.
func testSlotMigration(t *testing.T, c *redisCluster) {
	const slot = 4242
	src, _ := c.shard(slot)
	dst, _ := c.shard(slot + 16384/clusterMasters)
	var asks, moves atomic.Int64
	client := func() *redis.ClusterClient {
		cc := c.Client()
		cc.OnNewNode(func(n *redis.Client) { n.AddHook(redirectCounter{&asks, &moves}) })
		return cc
	}
	f := newEmptyFleet()
	f.a = f.newInstance(t, "A", pkce.Config{Store: redisstore.New(client())})
	f.b = f.newInstance(t, "B", pkce.Config{Store: redisstore.New(client(), redisstore.WithReplicaAck(1, ackTimeout))})
	f.codes.inSlot.Store(slot + 1)

	type issued struct{ code, verifier string }
	var live []issued
	for i := range 20 {
		in := []*instance{f.a, f.b}[i%2]
		code, verifier := in.mustAuthorize(t)
		live = append(live, issued{code, verifier})
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopFlows := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopFlows()
	var flows atomic.Int64
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from, to := f.a, f.b
				if (w+i)%2 == 1 {
					from, to = f.b, f.a
				}
				if err := f.honestFlow(from, to); err != nil {
					t.Errorf("a flow during the migration: %v", err)
					return
				}
				flows.Add(1)
			}
		}()
	}

	ctx := context.Background()
	srcAdmin, dstAdmin := c.adminOf(src), c.adminOf(dst)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	mustDo(t, dstAdmin, "cluster", "setslot", slot, "importing", c.idOf(src))
	mustDo(t, srcAdmin, "cluster", "setslot", slot, "migrating", c.idOf(dst))
	moved := 0
	for {
		keys, err := srcAdmin.ClusterGetKeysInSlot(ctx, slot, 4).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", "127.0.0.1", dst.port, "", 0, 5000, "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		mustDo(t, srcAdmin, args...)
		moved += len(keys)
		time.Sleep(20 * time.Millisecond) // flows run while part of the slot has moved
	}
	// Hand the slot over: the destination first, then the source, then
	// the other masters (Redis Cluster specification, "Live resharding").
	mustDo(t, dstAdmin, "cluster", "setslot", slot, "node", c.idOf(dst))
	mustDo(t, srcAdmin, "cluster", "setslot", slot, "node", c.idOf(dst))
	for i := range c.nodes {
		if c.nodes[i] != src && c.nodes[i] != dst && isMaster(ctx, c.admin[i]) {
			mustDo(t, c.admin[i], "cluster", "setslot", slot, "node", c.idOf(dst))
		}
	}
	took := time.Since(start)
	time.Sleep(200 * time.Millisecond) // flows on clients that still send the slot to the source
	stopFlows()
	t.Logf("moved slot %d (%d keys) from %s to %s in %v; %d flows meanwhile; the clients followed %d ASK and %d MOVED redirections",
		slot, moved, src.Addr(), dst.Addr(), took.Round(time.Millisecond), flows.Load(), asks.Load(), moves.Load())
	if m, _ := c.shard(slot); m != dst {
		t.Fatalf("slot %d is served by %s after the migration, want %s", slot, m.Addr(), dst.Addr())
	}
	if asks.Load() == 0 || moves.Load() == 0 {
		t.Errorf("the flows met %d ASK and %d MOVED redirections, want some of each: the test did not exercise them", asks.Load(), moves.Load())
	}
	for i, l := range live {
		in := []*instance{f.b, f.a}[i%2]
		if a := in.token(t, l.code, l.verifier); !a.ok() {
			t.Errorf("a code issued before the migration, redeemed on %s after it: got %+v, want a token", in.name, a)
		}
		if a := in.token(t, l.code, l.verifier); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Errorf("its replay: got %+v, want 400 invalid_grant", a)
		}
	}
}

// TestClusterFailover kills the master that serves the slot of live
// entries, on one cluster, one shard after another: while flows run (they
// fail closed, then work again without a restart), and in the window where
// asynchronous replication loses a write, without and with WithReplicaAck.
// After each failover the killed master is restarted and rejoins as a
// replica, so the next subtest starts from a healthy cluster.
func TestClusterFailover(t *testing.T) {
	t.Parallel() // with TestCluster, on a cluster of its own
	c := startCluster(t)
	// A slot of each shard in turn.
	slots := []int{100, 100 + 16384/clusterMasters, 100 + 2*16384/clusterMasters, 200}
	t.Run("MasterKilledWhileFlowing", func(t *testing.T) { testKilledWhileFlowing(t, c, slots[0]) })
	t.Run("LostWritesWithoutReplicaAck", func(t *testing.T) { testLostWrites(t, c, slots[1], false) })
	t.Run("LostWritesWithReplicaAck", func(t *testing.T) { testLostWrites(t, c, slots[2], true) })
	t.Run("AckedWritesSurvive", func(t *testing.T) { testAckedWritesSurvive(t, c, slots[3]) })
}

// testKilledWhileFlowing kills the master of slot while four workers run
// flows whose codes fall in it, over two instances, some of them attacks (a token request without the
// verifier). During the failover every request fails closed: an
// authorization request gets a 5xx and no code, a token request a 500
// server_error within the store timeout, logged, and never a token without
// a check. After it, flows work again on the same instances, and the entry
// saved before the kill is redeemed once.
func testKilledWhileFlowing(t *testing.T, c *redisCluster, slot int) {
	const storeTimeout = time.Second
	config := func(opts ...redisstore.Option) pkce.Config {
		return pkce.Config{Store: redisstore.New(c.Client(), opts...), StoreTimeout: storeTimeout}
	}
	f := newEmptyFleet()
	logged := f.faults
	f.a = f.newInstance(t, "A", config())
	f.b = f.newInstance(t, "B", config())
	f.codes.inSlot.Store(int64(slot) + 1)
	master, replica := c.shardWithReplica(slot)
	code0, verifier0 := f.a.mustAuthorize(t)
	c.waitReplicated(master)

	type flow struct {
		start time.Time
		ok    bool
	}
	var (
		mu             sync.Mutex
		results        []flow
		closed, passed atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopFlows := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopFlows()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from, to := f.a, f.b
				if (w+i)%2 == 1 {
					from, to = f.b, f.a
				}
				start := time.Now()
				ok, err := f.flowFailingClosed(from, to, i%4 == 3, storeTimeout)
				if err != nil {
					t.Error(err)
				}
				if ok {
					passed.Add(1)
				} else {
					closed.Add(1)
				}
				mu.Lock()
				results = append(results, flow{start, ok})
				mu.Unlock()
				if !ok {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	before := logged.n.Load()
	c.failOver(master, replica, slot)
	defer c.rejoin(master)
	recovered := time.Now()
	time.Sleep(time.Second)
	stopFlows()

	var lastFailure time.Time
	after := 0
	for _, r := range results {
		if !r.ok && r.start.After(lastFailure) {
			lastFailure = r.start
		}
		if r.start.After(recovered) {
			after++
		}
	}
	t.Logf("%d flows ran to the end, %d failed closed (the last one started %v after the failover ended); %d store faults logged at Error",
		passed.Load(), closed.Load(), lastFailure.Sub(recovered).Round(time.Millisecond), logged.n.Load()-before)
	if closed.Load() == 0 {
		t.Error("no flow failed during the failover: the test did not exercise it")
	}
	if logged.n.Load() == before {
		t.Error("the store faults during the failover were not logged at Error")
	}
	if after == 0 || lastFailure.After(recovered.Add(500*time.Millisecond)) {
		t.Errorf("%d flows started after the failover ended; the last failure started %v after it, want flows to work within 500ms",
			after, lastFailure.Sub(recovered))
	}
	if a := f.b.token(t, code0, verifier0); !a.ok() {
		t.Errorf("the code issued before the kill, redeemed after the failover: got %+v, want a token", a)
	}
	if a := f.a.token(t, code0, verifier0); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
		t.Errorf("its replay: got %+v, want 400 invalid_grant", a)
	}
}

// testLostWrites forces the window in which Redis's asynchronous
// replication loses writes: the replica of the master of slot is cut off
// (see cutOff), a token request redeems a code (Take) and an authorization
// request issues another (Save), then the master is killed and the replica
// that never saw them is promoted. The policy is optional (Require returns
// false), as during a migration to PKCE.
//
// Without WithReplicaAck both writes were answered and both are lost: the
// used code is usable again, a second token is issued for it, and the
// other code, whose challenge is gone, passes without a verifier. This is
// the hazard the option exists for; the subtest fails if the window no
// longer loses them. With WithReplicaAck neither write is acknowledged:
// both requests fail closed (500, no token, no code), and after the
// failover the first code is redeemed once, and only once.
func testLostWrites(t *testing.T, c *redisCluster, slot int, ack bool) {
	var opts []redisstore.Option
	if ack {
		opts = append(opts, redisstore.WithReplicaAck(1, ackTimeout))
	}
	f := newEmptyFleet()
	for _, name := range []string{"A", "B"} {
		in := f.newInstance(t, name, pkce.Config{
			Store:        redisstore.New(c.Client(), opts...),
			StoreTimeout: 2 * time.Second,
			Require:      func(*http.Request, string) bool { return false },
		})
		if f.a == nil {
			f.a = in
		} else {
			f.b = in
		}
	}
	f.codes.inSlot.Store(int64(slot) + 1)
	master, replica := c.shardWithReplica(slot)
	code1, verifier1 := f.a.mustAuthorize(t)
	c.waitReplicated(master)

	// Both instances' clients have loaded the cluster's layout: a client's
	// first command asks a node for it, and one that asked the paused
	// replica would wait for its read timeout.
	f.waitForFlows(t)
	f.honestFlow(f.b, f.a)
	c.cutOff(t, master, replica)
	start := time.Now()
	first := f.b.token(t, code1, verifier1)
	tookTake := time.Since(start)
	start = time.Now()
	resp, code2, _ := f.a.authorize(t)
	tookSave := time.Since(start)
	if ack {
		if first.status != http.StatusInternalServerError || first.Error != "server_error" {
			t.Errorf("a token request whose Take the replica did not acknowledge: got %+v, want 500 server_error", first)
		}
		if resp.StatusCode != http.StatusInternalServerError || code2 != "" {
			t.Errorf("an authorization request whose Save the replica did not acknowledge: got %d, code %q, want 500 and no code", resp.StatusCode, code2)
		}
		if tookTake < ackTimeout || tookSave < ackTimeout {
			t.Errorf("the unacknowledged Take took %v and Save %v, want each to wait its %v", tookTake, tookSave, ackTimeout)
		}
	} else if !first.ok() || resp.StatusCode != http.StatusFound || code2 == "" {
		t.Fatalf("with the replica cut off, the master alone answers: got token %+v and authorize %d with code %q, want a token and a code", first, resp.StatusCode, code2)
	}
	t.Logf("with the replica cut off: token %d after %v, authorize %d after %v", first.status, tookTake.Round(time.Millisecond), resp.StatusCode, tookSave.Round(time.Millisecond))

	c.failOver(master, replica, slot)
	if ack {
		// The promoted replica has no replica of its own until the killed
		// master rejoins as one: until then its shard's writes are not
		// acknowledged and fail closed.
		c.rejoin(master)
	} else {
		defer c.rejoin(master)
	}
	f.waitForFlows(t)
	// How often code 1 passed the PKCE check: the token requests that
	// reached the wrapped handler. That server keeps its own record of the
	// codes it redeemed and refuses the second; one whose code table lost
	// the redemption too would issue a second token.
	passes := 0
	if first.ok() {
		passes++
	}
	reached := f.a.tokenReached.Load() + f.b.tokenReached.Load()
	again := f.a.token(t, code1, verifier1)
	if f.a.tokenReached.Load()+f.b.tokenReached.Load() > reached {
		passes++
	}
	t.Logf("code 1 after the failover: %+v", again)
	if ack {
		if passes != 1 || !again.ok() {
			t.Errorf("code 1 passed the PKCE check %d times (first %+v, after the failover %+v), want once, after the failover: its Take was never acknowledged, so the promoted replica still has its challenge", passes, first, again)
		}
	} else {
		if passes != 2 {
			t.Errorf("code 1 passed the PKCE check %d times (first %+v, after the failover %+v): the forced window no longer loses the Take, and no longer shows what WithReplicaAck is for", passes, first, again)
		}
		if a := f.b.token(t, code2, ""); !a.ok() {
			t.Errorf("code 2, whose Save was lost, without a verifier under an optional policy: got %+v; the forced window no longer loses the Save", a)
		}
	}
}

// testAckedWritesSurvive pauses the replica of the master of slot with
// SIGSTOP while a token request redeems a code and an authorization
// request issues another, through instances WithReplicaAck: neither
// answers before the replica resumes and has the write. The master is then
// killed: on the promoted replica the code is still used (invalid_grant)
// and the other code still has its challenge, so a token request without
// the verifier is refused.
func testAckedWritesSurvive(t *testing.T, c *redisCluster, slot int) {
	const pause = 300 * time.Millisecond
	f := newEmptyFleet()
	for _, name := range []string{"A", "B"} {
		in := f.newInstance(t, name, pkce.Config{
			Store:        redisstore.New(c.Client(), redisstore.WithReplicaAck(1, 2*time.Second)),
			StoreTimeout: 3 * time.Second,
			Require:      func(*http.Request, string) bool { return false },
		})
		if f.a == nil {
			f.a = in
		} else {
			f.b = in
		}
	}
	f.codes.inSlot.Store(int64(slot) + 1)
	master, replica := c.shardWithReplica(slot)
	code1, verifier1 := f.a.mustAuthorize(t)
	f.waitForFlows(t) // see testLostWrites
	f.honestFlow(f.b, f.a)

	replica.Pause()
	t.Cleanup(replica.resumeQuietly)
	paused := time.Now()
	var (
		first         tokenAnswer
		status        int
		code2         string
		err           error
		tookA, tookB  time.Duration
		wg            sync.WaitGroup
		tokenDone     = make(chan struct{})
		authorizeDone = make(chan struct{})
		answeredEarly []string
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(tokenDone)
		first, _ = f.b.tryToken(code1, verifier1)
		tookA = time.Since(paused)
	}()
	go func() {
		defer wg.Done()
		defer close(authorizeDone)
		status, code2, _, err = f.a.tryAuthorize()
		tookB = time.Since(paused)
	}()
	time.Sleep(pause)
	for name, done := range map[string]chan struct{}{"token": tokenDone, "authorize": authorizeDone} {
		select {
		case <-done:
			answeredEarly = append(answeredEarly, name)
		default:
		}
	}
	resumedAt := time.Now()
	replica.Resume()
	wg.Wait()
	if len(answeredEarly) > 0 {
		t.Errorf("%v answered while the replica was paused, want them to wait for its acknowledgement", answeredEarly)
	}
	if !first.ok() || err != nil || status != http.StatusFound || code2 == "" {
		t.Fatalf("once the replica resumed: token %+v, authorize %d with code %q (%v), want a token and a code", first, status, code2, err)
	}
	t.Logf("replica paused for %v: the token answered %v and the authorization %v after the pause began", resumedAt.Sub(paused).Round(time.Millisecond), tookA.Round(time.Millisecond), tookB.Round(time.Millisecond))

	c.failOver(master, replica, slot)
	c.rejoin(master) // see testLostWrites
	f.waitForFlows(t)
	if a := f.a.token(t, code1, verifier1); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
		t.Errorf("the redeemed code after the failover: got %+v, want 400 invalid_grant: its Take was acknowledged by the replica now promoted", a)
	}
	if a := f.b.token(t, code2, ""); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
		t.Errorf("the other code without a verifier after the failover: got %+v, want 400 invalid_grant: its Save was acknowledged", a)
	}
}

// honestFlow runs an authorization request on from and redeems its code
// with the verifier on to; it reports anything but a code and a token.
func (f *fleet) honestFlow(from, to *instance) error {
	status, code, verifier, err := from.tryAuthorize()
	if err != nil || status != http.StatusFound || code == "" {
		return fmt.Errorf("authorize on %s: %d with code %q (%v), want a code; last logged: %s", from.name, status, code, err, f.faults.lastError())
	}
	a, err := to.tryToken(code, verifier)
	if err != nil || !a.ok() {
		return fmt.Errorf("token on %s: %+v (%v), want a token; last logged: %s", to.name, a, err, f.faults.lastError())
	}
	return nil
}

// flowFailingClosed runs a flow from from to to, the token request with the
// verifier or, for an attack, without one. It reports whether the flow ran
// to its end (a code, then a token, or for an attack a refusal), and an
// error for any answer that does not fail closed: a code without a 302, a
// failure other than a 5xx without a code or a 500 server_error, an
// answer later than storeTimeout and two seconds (slack for a loaded
// machine running the tests with -race), or a token for an attack.
func (f *fleet) flowFailingClosed(from, to *instance, attack bool, storeTimeout time.Duration) (bool, error) {
	limit := storeTimeout + 2*time.Second
	start := time.Now()
	status, code, verifier, err := from.tryAuthorize()
	if took := time.Since(start); took > limit {
		return false, fmt.Errorf("authorize on %s took %v, want at most %v", from.name, took, limit)
	}
	switch {
	case err != nil:
		return false, fmt.Errorf("authorize on %s: %v", from.name, err)
	case status == http.StatusFound && code != "":
	case status >= 500 && code == "":
		return false, nil
	default:
		return false, fmt.Errorf("authorize on %s: %d with code %q, want a 302 with a code or a 5xx without", from.name, status, code)
	}
	if attack {
		verifier = ""
	}
	start = time.Now()
	a, err := to.tryToken(code, verifier)
	if took := time.Since(start); took > limit {
		return false, fmt.Errorf("token on %s took %v, want at most %v", to.name, took, limit)
	}
	switch {
	case err != nil:
		return false, fmt.Errorf("token on %s: %v", to.name, err)
	case attack && a.ok():
		return false, fmt.Errorf("token on %s without a verifier for a PKCE code: got a token", to.name)
	case a.status == http.StatusInternalServerError && a.Error == "server_error" && a.AccessToken == "":
		return false, nil
	case attack:
		if a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			return false, fmt.Errorf("token on %s without a verifier: %+v, want 400 invalid_grant or 500 server_error", to.name, a)
		}
		return true, nil
	case !a.ok():
		return false, fmt.Errorf("token on %s: %+v, want a token or 500 server_error", to.name, a)
	}
	return true, nil
}

// waitForFlows waits until a flow from A to B works: after a failover,
// until the instances' clients have found the new master.
func (f *fleet) waitForFlows(t *testing.T) {
	t.Helper()
	waitFor(t, 10*time.Second, "flows to work after the failover", func() error { return f.honestFlow(f.a, f.b) })
}

// tryAuthorize is authorize for goroutines: it returns an error instead of
// failing the test.
func (in *instance) tryAuthorize() (status int, code, verifier string, err error) {
	verifier = pkce.GenerateVerifier()
	q := url.Values{
		"response_type": {"code"}, "client_id": {fleetClientID}, "redirect_uri": {fleetRedirectURI},
		"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	resp, err := in.client.Get(in.srv.URL + "/authorize?" + q.Encode())
	if err != nil {
		return 0, "", "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil {
		code = loc.Query().Get("code")
	}
	return resp.StatusCode, code, verifier, nil
}

// tryToken is token for goroutines.
func (in *instance) tryToken(code, verifier string) (tokenAnswer, error) {
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {fleetRedirectURI}, "client_id": {fleetClientID},
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	resp, err := in.client.PostForm(in.srv.URL+"/token", form)
	if err != nil {
		return tokenAnswer{}, err
	}
	defer resp.Body.Close()
	a := tokenAnswer{status: resp.StatusCode}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("%d %q is not JSON: %v", resp.StatusCode, body, err)
	}
	return a, nil
}

// redirectCounter is a go-redis hook on the clients of a cluster's nodes
// that counts the ASK and MOVED answers they get.
type redirectCounter struct{ asks, moves *atomic.Int64 }

func (h redirectCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redirectCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(cmd)
		return err
	}
}

func (h redirectCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			h.count(cmd)
		}
		return err
	}
}

func (h redirectCounter) count(cmd redis.Cmder) {
	if _, ok := redis.IsAskError(cmd.Err()); ok {
		h.asks.Add(1)
	}
	if _, ok := redis.IsMovedError(cmd.Err()); ok {
		h.moves.Add(1)
	}
}

// errorCounter is a slog.Handler that counts records at Error and above,
// and keeps the last store fault.
type errorCounter struct {
	n    atomic.Int64
	last atomic.Value // string
}

func (h *errorCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *errorCounter) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *errorCounter) WithGroup(string) slog.Handler                { return h }

func (h *errorCounter) Handle(_ context.Context, r slog.Record) error {
	h.n.Add(1)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			h.last.Store(r.Message + ": " + a.Value.String())
		}
		return true
	})
	return nil
}

// lastError is the last store fault logged.
func (h *errorCounter) lastError() string {
	s, _ := h.last.Load().(string)
	return s
}

func mustDo(t *testing.T, c *redis.Client, args ...any) {
	t.Helper()
	if err := c.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

func isMaster(ctx context.Context, c *redis.Client) bool {
	role, err := c.Do(ctx, "role").Slice()
	return err == nil && len(role) > 0 && role[0] == "master"
}
