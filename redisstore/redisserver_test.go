package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server process of a test's own, on a free
// 127.0.0.1 port, without persistence, in a temporary directory. It is
// stopped when the test that started it ends.
type redisServer struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string // extra arguments of redis-server

	mu     sync.Mutex
	cmd    *exec.Cmd
	output *bytes.Buffer
	exited chan struct{}
}

// startRedis starts a redis-server for tb. When redis-server is not
// installed the test is skipped with a message naming what to install,
// except under CI=true, where that is a failure.
func startRedis(tb testing.TB, args ...string) *redisServer {
	tb.Helper()
	return startRedisOn(tb, freePort, args...)
}

// startRedisOn is startRedis on a port that pick chooses.
func startRedisOn(tb testing.TB, pick func(testing.TB) int, args ...string) *redisServer {
	tb.Helper()
	bin := findRedisServer(tb)
	s := &redisServer{tb: tb, bin: bin, dir: tb.TempDir(), args: args}
	tb.Cleanup(s.stop)
	var err error
	for range 5 { // another process may grab the free port first
		s.port = pick(tb)
		if err = s.start(); err == nil {
			return s
		}
	}
	tb.Fatalf("starting redis-server: %v", err)
	return nil
}

var redisVersion = regexp.MustCompile(`v=(\d+)\.(\d+)`)

func findRedisServer(tb testing.TB) string {
	tb.Helper()
	const install = "install Redis 6.2 or newer so that redis-server is on PATH " +
		"(Debian/Ubuntu: apt-get install redis-server, or run scripts/install-redis.sh as root; macOS: brew install redis)"
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s; under CI=true the Redis tests must run: %s", why, install)
		}
		tb.Skipf("%s; skipping the Redis tests: %s", why, install)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing("redis-server is not installed")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		missing(fmt.Sprintf("%s --version: %v", bin, err))
	}
	m := redisVersion.FindSubmatch(out)
	if m == nil {
		missing(fmt.Sprintf("cannot read the version of %s from %q", bin, out))
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if major < 6 || major == 6 && minor < 2 {
		missing(fmt.Sprintf("%s is Redis %d.%d", bin, major, minor))
	}
	return bin
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr is the server's host:port.
func (s *redisServer) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Client returns a new client of the server, closed at the end of the test.
// Its options are the defaults unless edit changes them.
func (s *redisServer) Client(edit ...func(*redis.Options)) *redis.Client {
	o := &redis.Options{Addr: s.Addr()}
	for _, e := range edit {
		e(o)
	}
	c := redis.NewClient(o)
	s.tb.Cleanup(func() { c.Close() })
	return c
}

func (s *redisServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.output, s.exited = cmd, out, exited
	// Ready when it answers PING.
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited at start: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING within 10s: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the server with SIGKILL and waits until it is gone: every
// entry is lost, as in a crash without persistence.
func (s *redisServer) Kill() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once resumed
	s.cmd.Process.Kill()
	<-s.exited
}

// resumeQuietly sends SIGCONT to the server if it is running, as a
// cleanup does whatever state the test left it in.
func (s *redisServer) resumeQuietly() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// exitedNow reports whether the server's process has ended.
func (s *redisServer) exitedNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// Restart starts a new, empty server on the same port after Kill.
func (s *redisServer) Restart() {
	s.tb.Helper()
	var err error
	for range 50 { // the port may take a moment to be free again
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("restarting redis-server on port %d: %v", s.port, err)
}

// Pause stops the server with SIGSTOP: connections stay open and nothing
// answers, as with a Redis stalled by a long command, swapping or a network
// partition.
func (s *redisServer) Pause() {
	s.tb.Helper()
	s.signal(syscall.SIGSTOP)
}

// Resume continues a paused server with SIGCONT.
func (s *redisServer) Resume() {
	s.tb.Helper()
	s.signal(syscall.SIGCONT)
}

func (s *redisServer) signal(sig syscall.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("sending %v to redis-server: %v", sig, err)
	}
}

// stop ends the server, if it is running, at the end of the test.
func (s *redisServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	if s.tb.Failed() && s.output.Len() > 0 {
		s.tb.Logf("redis-server output:\n%s", s.output)
	}
}
