package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A redisCluster is a Redis Cluster of a test's own: three masters with a
// replica each, redis-server processes (see redisServer) on 127.0.0.1,
// stopped when the test ends. It is made as redis-cli --cluster create
// makes one, with CLUSTER ADDSLOTS, MEET and REPLICATE, so that the
// test knows which replica serves which master and needs nothing but
// redis-server.
type redisCluster struct {
	t     *testing.T
	nodes []*redisServer // masters first, then their replicas in the same order
	admin []*redis.Client
	ids   []string
}

// clusterNodeTimeout is the cluster-node-timeout of the test clusters: a
// master that does not answer for this long is failed over. Small, so a
// failover takes about two seconds; large enough that a loaded machine
// does not fail over a master that is merely slow.
const clusterNodeTimeout = time.Second

// clusterMasters is the number of masters (and of replicas) of a test
// cluster.
const clusterMasters = 3

// startCluster starts a cluster and waits until it is healthy: every slot
// served, every node in agreement, every replica in sync.
func startCluster(t *testing.T) *redisCluster {
	t.Helper()
	start := time.Now()
	args := []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout / time.Millisecond)),
		// A replica that was paused or cut off still stands for election.
		"--cluster-replica-validity-factor", "0",
		// Replicas sync at once, from memory, and masters ping them every
		// second: a replica whose offset has not moved since its sync is
		// left out of CLUSTER SLOTS.
		"--repl-diskless-sync", "yes",
		"--repl-diskless-sync-delay", "0",
		"--repl-ping-replica-period", "1",
	}
	c := &redisCluster{t: t}
	for i := range 2 * clusterMasters {
		n := startRedisOn(t, clusterPort, args...)
		c.nodes = append(c.nodes, n)
		c.admin = append(c.admin, n.Client(func(o *redis.Options) {
			o.MaxRetries = -1
			o.DialTimeout = 200 * time.Millisecond
			o.ReadTimeout = time.Second
		}))
		id, err := c.admin[i].Do(context.Background(), "cluster", "myid").Text()
		if err != nil {
			t.Fatalf("CLUSTER MYID: %v", err)
		}
		c.ids = append(c.ids, id)
	}
	ctx := context.Background()
	for i := range clusterMasters {
		from, to := i*16384/clusterMasters, (i+1)*16384/clusterMasters-1
		if err := c.admin[i].ClusterAddSlotsRange(ctx, from, to).Err(); err != nil { // CLUSTER ADDSLOTS from…to
			t.Fatalf("CLUSTER ADDSLOTS %d…%d: %v", from, to, err)
		}
	}
	for i := 1; i < len(c.nodes); i++ {
		if err := c.admin[i].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(c.nodes[0].port)).Err(); err != nil {
			t.Fatalf("CLUSTER MEET: %v", err)
		}
	}
	waitFor(t, 10*time.Second, "the cluster nodes to meet", func() error {
		for i := range c.nodes {
			nodes, err := c.admin[i].ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			if n := strings.Count(nodes, "\n"); n != len(c.nodes) || strings.Contains(nodes, "handshake") || strings.Contains(nodes, "noaddr") {
				return fmt.Errorf("node %d knows %d nodes:\n%s", i, n, nodes)
			}
		}
		return nil
	})
	for i := clusterMasters; i < len(c.nodes); i++ {
		if err := c.admin[i].Do(ctx, "cluster", "replicate", c.ids[i-clusterMasters]).Err(); err != nil {
			t.Fatalf("CLUSTER REPLICATE: %v", err)
		}
	}
	c.waitHealthy()
	t.Logf("cluster of %d masters with a replica each started in %v", clusterMasters, time.Since(start).Round(time.Millisecond))
	return c
}

// clusterPort picks a free port whose cluster bus port (port + 10000) is
// free too.
func clusterPort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		p := freePort(tb)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	tb.Fatal("no free port with a free cluster bus port")
	return 0
}

// Client returns a new cluster client, closed at the end of the test, with
// ContextTimeoutEnabled and a short DialTimeout; edit changes the options.
func (c *redisCluster) Client(edit ...func(*redis.ClusterOptions)) *redis.ClusterClient {
	o := &redis.ClusterOptions{ContextTimeoutEnabled: true, DialTimeout: 250 * time.Millisecond}
	for _, n := range c.nodes {
		o.Addrs = append(o.Addrs, n.Addr())
	}
	for _, e := range edit {
		e(o)
	}
	cc := redis.NewClusterClient(o)
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// waitHealthy waits until every node is up and says the cluster is ok,
// all agree on who serves each slot, every master has a replica and every
// replica has all its master's writes.
func (c *redisCluster) waitHealthy() {
	c.t.Helper()
	ctx := context.Background()
	waitFor(c.t, 20*time.Second, "the cluster to be healthy", func() error {
		var layout string
		for i := range c.nodes {
			info, err := c.admin[i].ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("node %d: cluster_state is not ok", i)
			}
			slots, err := c.admin[i].ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			for _, s := range slots {
				if len(s.Nodes) != 2 {
					return fmt.Errorf("node %d: slots %d-%d are served by %v, want a master and its replica", i, s.Start, s.End, s.Nodes)
				}
			}
			l := describeSlots(slots)
			if i > 0 && l != layout {
				return fmt.Errorf("nodes disagree on the slots: %s and %s", layout, l)
			}
			layout = l
			repl, err := c.admin[i].Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				return fmt.Errorf("node %d: its link to its master is down", i)
			}
			if strings.Contains(repl, "role:master") {
				if !strings.Contains(repl, "connected_slaves:1") || !strings.Contains(repl, "state=online") {
					return fmt.Errorf("node %d: a master without an online replica:\n%s", i, repl)
				}
			}
		}
		if strings.Count(layout, "[") != clusterMasters {
			return fmt.Errorf("slots: %s, want %d masters", layout, clusterMasters)
		}
		return nil
	})
}

// describeSlots renders CLUSTER SLOTS as "from-to:[master replica…]", in order.
func describeSlots(slots []redis.ClusterSlot) string {
	var b strings.Builder
	for _, s := range slots {
		fmt.Fprintf(&b, "%d-%d:[", s.Start, s.End)
		for i, n := range s.Nodes {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(n.Addr)
		}
		b.WriteString("] ")
	}
	return b.String()
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}

// shard returns the master that serves slot, and its replica (nil if it
// has none), as a live node sees them.
func (c *redisCluster) shard(slot int) (master, replica *redisServer) {
	c.t.Helper()
	for i := range c.nodes {
		slots, err := c.admin[i].ClusterSlots(context.Background()).Result()
		if err != nil {
			continue // a node that is down
		}
		for _, s := range slots {
			if slot < s.Start || slot > s.End {
				continue
			}
			if len(s.Nodes) > 1 {
				replica = c.node(s.Nodes[1].Addr)
			}
			return c.node(s.Nodes[0].Addr), replica
		}
	}
	c.t.Fatalf("no live node says who serves slot %d", slot)
	return nil, nil
}

// shardWithReplica is shard for a slot whose master must have a replica.
func (c *redisCluster) shardWithReplica(slot int) (master, replica *redisServer) {
	c.t.Helper()
	master, replica = c.shard(slot)
	if replica == nil {
		c.t.Fatalf("slot %d is served by %s without a replica", slot, master.Addr())
	}
	return master, replica
}

// node returns the node at addr.
func (c *redisCluster) node(addr string) *redisServer {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	c.t.Fatalf("no node at %s", addr)
	return nil
}

// adminOf returns the admin client of n.
func (c *redisCluster) adminOf(n *redisServer) *redis.Client {
	for i := range c.nodes {
		if c.nodes[i] == n {
			return c.admin[i]
		}
	}
	c.t.Fatalf("no node %s", n.Addr())
	return nil
}

// idOf returns the cluster node ID of n.
func (c *redisCluster) idOf(n *redisServer) string {
	for i := range c.nodes {
		if c.nodes[i] == n {
			return c.ids[i]
		}
	}
	c.t.Fatalf("no node %s", n.Addr())
	return ""
}

// ackedOffset finds the offset a replica acknowledged in INFO replication.
var ackedOffset = regexp.MustCompile(`slave0:.*state=online,offset=(\d+),`)

// waitReplicated waits until the replica of master has acknowledged every
// write master has made so far.
func (c *redisCluster) waitReplicated(master *redisServer) {
	c.t.Helper()
	admin := c.adminOf(master)
	repl, err := admin.Info(context.Background(), "replication").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	want, _ := strconv.ParseInt(infoField(repl, "master_repl_offset"), 10, 64)
	waitFor(c.t, 10*time.Second, "the replica to catch up", func() error {
		repl, err := admin.Info(context.Background(), "replication").Result()
		if err != nil {
			return err
		}
		m := ackedOffset.FindStringSubmatch(repl)
		if m == nil {
			return errors.New("no online replica")
		}
		if got, _ := strconv.ParseInt(m[1], 10, 64); got < want {
			return fmt.Errorf("the replica acknowledged offset %d, want %d", got, want)
		}
		return nil
	})
}

// cutOff opens the window in which a master's writes are lost: the replica
// is paused with SIGSTOP, then the master drops its replication link
// (CLIENT KILL TYPE replica), as after a partition. Pausing alone would not
// do: the master's stream would wait in the paused replica's socket buffer
// and be read on SIGCONT.
//
// The replica is resumed when t ends, if nothing did before.
func (c *redisCluster) cutOff(t *testing.T, master, replica *redisServer) {
	t.Helper()
	replica.Pause()
	t.Cleanup(replica.resumeQuietly)
	if err := c.adminOf(master).Do(context.Background(), "client", "kill", "type", "replica").Err(); err != nil {
		t.Fatalf("CLIENT KILL TYPE replica: %v", err)
	}
}

// failOver kills master with SIGKILL, resumes its replica if it is paused,
// and waits until the replica serves slot in its place and the cluster is
// ok again on every live node. It returns how long that took.
func (c *redisCluster) failOver(master, replica *redisServer, slot int) time.Duration {
	c.t.Helper()
	start := time.Now()
	master.Kill()
	replica.Resume()
	ctx := context.Background()
	admin := c.adminOf(replica)
	waitFor(c.t, 20*time.Second, "the replica to take over", func() error {
		role, err := admin.Do(ctx, "role").Slice()
		if err != nil {
			return err
		}
		if role[0] != "master" {
			return errors.New("the replica is not a master yet")
		}
		for i, n := range c.nodes {
			if n == master {
				continue
			}
			info, err := c.admin[i].ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("node %d: cluster_state is not ok", i)
			}
		}
		return nil
	})
	if m, _ := c.shard(slot); m != replica {
		c.t.Fatalf("after the failover slot %d is served by %s, want the promoted replica %s", slot, m.Addr(), replica.Addr())
	}
	took := time.Since(start)
	c.t.Logf("failover of slot %d from %s to %s took %v", slot, master.Addr(), replica.Addr(), took.Round(time.Millisecond))
	return took
}

// rejoin restarts a killed node on its port with its cluster configuration:
// it comes back as a replica of the master that replaced it. It waits
// until the cluster is healthy again.
func (c *redisCluster) rejoin(n *redisServer) {
	c.t.Helper()
	if !n.exitedNow() {
		return // rejoined already
	}
	n.Restart()
	admin := c.adminOf(n)
	waitFor(c.t, 20*time.Second, "the restarted node to rejoin as a replica", func() error {
		repl, err := admin.Info(context.Background(), "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(repl, "role:slave") || !strings.Contains(repl, "master_link_status:up") {
			return errors.New("not a replica in sync yet")
		}
		return nil
	})
	c.waitHealthy()
}

// keySlot is the Redis Cluster slot of key: CRC16 (XMODEM) of the key, or
// of its hash tag, modulo 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}
