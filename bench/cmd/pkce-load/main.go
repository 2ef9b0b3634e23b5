// Command pkce-load measures the demo server's throughput over loopback,
// wrapped by the PKCE middleware and bare (-unprotected), under concurrent
// clients. Each client runs whole flows (an authorization request answered
// with a code, the token request that redeems it with its verifier) as fast
// as it can. Every run is bounded in time (-duration) and in flows (-flows);
// the two servers run in interleaved rounds (-rounds), the order swapped
// every round, on one machine, so both see the same background load.
//
// It builds cmd/pkce-demo from the repository (-root) and starts a new one
// for every run on 127.0.0.1 port 0 (it refuses anything but loopback). It prints each round, then the medians: requests per second,
// wrapped over bare, and p50 and p99 request latency.
//
//	cd bench && GOWORK=off go run ./cmd/pkce-load
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	root := flag.String("root", "..", "the repository's root `directory`, where cmd/pkce-demo is")
	clients := flag.Int("clients", 8, "concurrent clients")
	duration := flag.Duration("duration", 3*time.Second, "longest time of one run")
	flows := flag.Int("flows", 30000, "most flows of one run (at most 65,536: the demo's bound on refresh tokens)")
	rounds := flag.Int("rounds", 3, "interleaved rounds of wrapped and bare")
	md := flag.String("md", "", "also write the summary as Markdown table rows to `file`")
	flag.Parse()
	if err := run(*root, *clients, *duration, *flows, *rounds, *md); err != nil {
		fmt.Fprintln(os.Stderr, "pkce-load:", err)
		os.Exit(1)
	}
}

// result is one run against one server.
type result struct {
	requests int
	errors   int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func run(root string, clients int, duration time.Duration, flows, rounds int, mdFile string) error {
	dir, err := os.MkdirTemp("", "pkce-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "pkce-demo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pkce-demo")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "GOWORK=off")
	if err := build.Run(); err != nil {
		return fmt.Errorf("building pkce-demo: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fmt.Printf("pkce-load: %d clients, runs of at most %v or %d flows, %d rounds\n", clients, duration, flows, rounds)
	results := map[string][]result{}
	order := []string{"wrapped", "bare"}
	for round := 0; round < rounds; round++ {
		for _, mode := range order {
			// A new server each run: the demo holds at most 65,536 codes
			// and refresh tokens (so -flows stays below that).
			args := []string{"-serve", "-addr", "127.0.0.1:0"}
			if mode == "bare" {
				args = append(args, "-unprotected")
			}
			issuer, stop, err := start(ctx, bin, args)
			if err != nil {
				return fmt.Errorf("starting pkce-demo %s: %w", strings.Join(args, " "), err)
			}
			res, err := load(issuer, clients, duration, flows)
			stop()
			if err != nil {
				return fmt.Errorf("%s: %w", mode, err)
			}
			results[mode] = append(results[mode], res)
			fmt.Printf("round %d %-7s %8d requests in %6.2fs: %8.0f req/s, p50 %7.0f µs, p99 %7.0f µs\n",
				round+1, mode, res.requests, res.elapsed.Seconds(), res.rps(), micro(res.p50), micro(res.p99))
		}
		order[0], order[1] = order[1], order[0]
	}

	rps := func(mode string) float64 {
		return median(results[mode], func(r result) float64 { return r.rps() })
	}
	p := func(mode string, f func(result) time.Duration) float64 {
		return median(results[mode], func(r result) float64 { return micro(f(r)) })
	}
	ratio := rps("wrapped") / rps("bare")
	verdict := "met"
	if ratio < 0.95 {
		verdict = "missed"
	}
	rows := fmt.Sprintf("| bare (`-unprotected`) | %.0f | %.0f | %.0f |\n| wrapped | %.0f | %.0f | %.0f |\n",
		rps("bare"), p("bare", func(r result) time.Duration { return r.p50 }), p("bare", func(r result) time.Duration { return r.p99 }),
		rps("wrapped"), p("wrapped", func(r result) time.Duration { return r.p50 }), p("wrapped", func(r result) time.Duration { return r.p99 }))
	summary := fmt.Sprintf("wrapped/bare requests per second: %.3f (target >= 0.95: %s)\n", ratio, verdict)
	fmt.Print("medians:\n| server | requests/s | p50 µs | p99 µs |\n|---|---:|---:|---:|\n", rows, summary)
	if mdFile != "" {
		head := fmt.Sprintf("%d clients, runs of at most %v or %d flows (2 requests each), %d interleaved rounds, medians:\n\n",
			clients, duration, flows, rounds)
		out := head + "| server | requests/s | p50 µs | p99 µs |\n|---|---:|---:|---:|\n" + rows + "\n" + summary
		if err := os.WriteFile(mdFile, []byte(out), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func micro(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// start runs the demo server and returns its issuer, read from the first
// line of its output, and a function that stops it.
func start(ctx context.Context, bin string, args []string) (string, func(), error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = io.Discard // the access log: a line per request
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "http://127.0.0.1:") {
		stop()
		return "", nil, errors.New("no loopback issuer on its first line")
	}
	issuer := lines.Text()
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return issuer, stop, nil
}

// load runs clients concurrent clients against issuer until duration has
// passed or flows flows have started, and measures every request.
func load(issuer string, clients int, duration time.Duration, flows int) (result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var started, errs atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	deadline := time.Now().Add(duration)
	begin := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 2*flows/clients+2)
			for time.Now().Before(deadline) && started.Add(1) <= int64(flows) {
				if err := flow(hc, issuer, &lat); err != nil {
					errs.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if errs.Load() > 0 || len(all) == 0 {
		return result{}, fmt.Errorf("%d flows failed, the first: %w", errs.Load(), firstErr)
	}
	slices.Sort(all)
	pct := func(q float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(q*float64(len(all))))]
	}
	return result{requests: len(all), elapsed: elapsed, p50: pct(0.50), p99: pct(0.99)}, nil
}

// flow runs one authorization code flow with PKCE as the public client
// demo-app, appending each request's latency to lat.
func flow(hc *http.Client, issuer string, lat *[]time.Duration) error {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	verifier := base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(verifier))
	redirect := "http://127.0.0.1:9/callback"
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {"demo-app"},
		"redirect_uri":          {redirect},
		"state":                 {"af0ifjsldkj"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	t := time.Now()
	resp, err := hc.Get(issuer + "/authorize?" + q.Encode())
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	*lat = append(*lat, time.Since(t))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		return fmt.Errorf("authorize: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("code")
	if code == "" {
		return fmt.Errorf("authorize: no code in %q", loc)
	}
	body := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirect},
		"client_id":     {"demo-app"},
		"code_verifier": {verifier},
	}
	t = time.Now()
	resp, err = hc.Post(issuer+"/token", "application/x-www-form-urlencoded", strings.NewReader(body.Encode()))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	*lat = append(*lat, time.Since(t))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("token: status %d", resp.StatusCode)
	}
	return nil
}
