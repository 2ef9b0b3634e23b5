package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/redisstore"
	"github.com/redis/go-redis/v9"
)

// BenchmarkRedisFlows measures whole flows across instances of one
// authorization server: concurrent clients each run an authorization
// request on one instance (the middleware saves the challenge) and the
// token request on the next (it takes the challenge and checks the
// verifier), over HTTP on loopback, like a user agent and a client behind
// a round-robin load balancer. An operation is one flow; every flow must
// end with a token or the benchmark fails.
//
// Rows: the in-memory store on one instance (the baseline: no Redis), then
// instances sharing one redis-server, a Redis Cluster of three masters with
// a replica each, and that cluster with redisstore.WithReplicaAck(1, 1s).
// Reported per row: flows/s (all clients together), the p50 and p99 of one
// flow's latency, and Redis round trips per flow counted on the clients'
// connections (a pipeline is one).
//
// It needs redis-server and redis-cli: scripts/redis-cluster.sh starts the
// servers (on 127.0.0.1, ports 7100-7106; PKCE_BENCH_REDIS_PORT moves
// them) once for the run and stops them at its end. Bound it by count:
//
//	GOWORK=off go test -run '^$' -bench RedisFlows -benchtime 3000x
func BenchmarkRedisFlows(b *testing.B) {
	const clients = 16
	rows := []struct {
		name      string
		instances int
		store     func(b *testing.B, rt *atomic.Int64) pkce.Store
	}{
		{"memory/instances=1", 1, func(*testing.B, *atomic.Int64) pkce.Store { return pkce.NewMemoryStore() }},
		{"redis/instances=1", 1, singleRedisStore},
		{"redis/instances=3", 3, singleRedisStore},
		{"cluster/instances=3", 3, clusterStore()},
		{"cluster-ack/instances=3", 3, clusterStore(redisstore.WithReplicaAck(1, time.Second))},
	}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			var roundTrips atomic.Int64
			var instances []*httptest.Server
			for range row.instances {
				instances = append(instances, flowInstance(b, row.store(b, &roundTrips)))
			}
			runFlows(b, instances, clients, &roundTrips)
		})
	}
}

// runFlows runs b.N flows on clients goroutines: flow i authorizes on
// instance i and redeems on instance i+1 (modulo their number).
func runFlows(b *testing.B, instances []*httptest.Server, clients int, roundTrips *atomic.Int64) {
	transport := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{
		Transport:     transport,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// One warm-up flow per instance: connections, cluster layout.
	for i := range instances {
		if err := flow(client, instances[i], instances[(i+1)%len(instances)]); err != nil {
			b.Fatal(err)
		}
	}
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	roundTrips.Store(0)
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N || failed.Load() != nil {
					return
				}
				t := time.Now()
				if err := flow(client, instances[i%len(instances)], instances[(i+1)%len(instances)]); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				latencies[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "flows/s")
	b.ReportMetric(float64(latencies[b.N/2])/1e6, "p50-ms")
	b.ReportMetric(float64(latencies[b.N*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(roundTrips.Load())/float64(b.N), "redis-rt/flow")
}

// flow runs one authorization request on from and redeems its code on to.
func flow(client *http.Client, from, to *httptest.Server) error {
	verifier := pkce.GenerateVerifier()
	resp, err := client.Get(from.URL + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "state": {"s"},
		"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"},
	}.Encode())
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		return fmt.Errorf("authorize: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.PostForm(to.URL+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {redirectURI}, "client_id": {clientID}, "code_verifier": {verifier},
	})
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("access_token")) {
		return fmt.Errorf("token: %d %s", resp.StatusCode, body)
	}
	return nil
}

// flowInstance is one instance of a homegrown server that issues a new
// random code at once and answers any token request it is passed, wrapped
// by a middleware on store.
func flowInstance(b *testing.B, store pkce.Store) *httptest.Server {
	m, err := pkce.New(pkce.Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c [24]byte
		rand.Read(c[:])
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+base64.RawURLEncoding.EncodeToString(c[:])+"&state="+url.QueryEscape(r.FormValue("state")), http.StatusFound)
	})))
	mux.Handle("/token", m.Token(bareToken))
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv
}

// singleRedisStore is a store on a client of its own of the single server.
func singleRedisStore(b *testing.B, rt *atomic.Int64) pkce.Store {
	env := redisServers(b)
	c := redis.NewClient(&redis.Options{Addr: env.single, ContextTimeoutEnabled: true})
	b.Cleanup(func() { c.Close() })
	c.AddHook(roundTripCounter{rt})
	return redisstore.New(c)
}

// clusterStore returns a maker of stores on clients of their own of the
// cluster.
func clusterStore(opts ...redisstore.Option) func(b *testing.B, rt *atomic.Int64) pkce.Store {
	return func(b *testing.B, rt *atomic.Int64) pkce.Store {
		env := redisServers(b)
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: env.cluster, ContextTimeoutEnabled: true})
		b.Cleanup(func() { c.Close() })
		c.OnNewNode(func(n *redis.Client) { n.AddHook(roundTripCounter{rt}) })
		return redisstore.New(c, opts...)
	}
}

// roundTripCounter counts the commands and pipelines a client sends, on
// the clients of each node for a cluster client.
type roundTripCounter struct{ n *atomic.Int64 }

func (h roundTripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h roundTripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

func (h roundTripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// redisEnv is what scripts/redis-cluster.sh started.
type redisEnv struct {
	dir     string
	single  string
	cluster []string
	err     error
}

var (
	redisOnce sync.Once
	redisRun  redisEnv
)

// redisServers starts the servers once for the benchmark run (TestMain
// stops them), or skips the benchmark when redis-server is missing.
func redisServers(b *testing.B) *redisEnv {
	b.Helper()
	redisOnce.Do(func() {
		if _, err := exec.LookPath("redis-server"); err != nil {
			redisRun.err = fmt.Errorf("redis-server is not installed (scripts/install-redis.sh): %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "pkce-bench-redis-")
		if err != nil {
			redisRun.err = err
			return
		}
		os.Remove(dir) // the script makes it
		redisRun.dir = dir
		port := os.Getenv("PKCE_BENCH_REDIS_PORT")
		if port == "" {
			port = "7100"
		}
		out, err := exec.Command("bash", filepath.Join("..", "scripts", "redis-cluster.sh"), "start", dir, port).Output()
		if err != nil {
			redisRun.err = fmt.Errorf("scripts/redis-cluster.sh start: %v: %s", err, errorOutput(err))
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "single="); ok {
				redisRun.single = v
			}
			if v, ok := strings.CutPrefix(sc.Text(), "cluster="); ok {
				redisRun.cluster = strings.Split(v, ",")
			}
		}
	})
	if redisRun.err != nil {
		b.Skip(redisRun.err)
	}
	return &redisRun
}

func errorOutput(err error) []byte {
	if e, ok := err.(*exec.ExitError); ok {
		return e.Stderr
	}
	return nil
}

// TestMain stops the Redis servers a benchmark started.
func TestMain(m *testing.M) {
	code := m.Run()
	if redisRun.dir != "" {
		exec.Command("bash", filepath.Join("..", "scripts", "redis-cluster.sh"), "stop", redisRun.dir).Run()
	}
	os.Exit(code)
}
