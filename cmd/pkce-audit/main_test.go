package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-pkce/pkce"
)

// newServer starts a homegrown-style authorization server that knows
// nothing of PKCE and never burns codes, with each endpoint passed through
// wrap, and stops it when t ends. login, when set, stands in front of
// /authorize: it redirects to /login unless the request has the cookie.
func newServer(t *testing.T, wrap func(name string, h http.Handler) http.Handler, loginCookie string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	codes := map[string]bool{}
	random := func() string {
		b := make([]byte, 24)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	var issuer string
	authorize := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The one registered redirect URI; a query the client adds is
		// kept (RFC 6749 §3.1.2).
		if u, err := url.Parse(r.FormValue("redirect_uri")); err != nil || u.Scheme+"://"+u.Host+u.Path != "http://127.0.0.1:9/cb" {
			http.Error(w, "unregistered redirect_uri", http.StatusBadRequest)
			return
		}
		code := random()
		mu.Lock()
		codes[code] = true
		mu.Unlock()
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+code+"&state="+r.FormValue("state"), http.StatusFound)
	})
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		mu.Lock()
		ok := codes[r.FormValue("code")]
		mu.Unlock()
		if r.FormValue("grant_type") != "authorization_code" || !ok {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant","error_description":"no such code"}`))
			return
		}
		w.Write([]byte(`{"access_token":"` + random() + `","token_type":"Bearer"}`))
	})
	metadata := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
		})
	})
	var authorizeH http.Handler = wrap("authorize", authorize)
	if loginCookie != "" {
		inner := authorizeH
		authorizeH = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, err := r.Cookie("session"); err != nil || c.Value != loginCookie {
				http.Redirect(w, r, "/login", http.StatusFound)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/authorize", authorizeH)
	mux.Handle("/token", wrap("token", token))
	mux.Handle("/.well-known/oauth-authorization-server", wrap("discovery", metadata))
	mux.Handle("/.well-known/openid-configuration", wrap("discovery", metadata))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer = srv.URL
	return srv
}

func unprotected(_ string, h http.Handler) http.Handler { return h }

func middleware(t *testing.T) func(string, http.Handler) http.Handler {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return func(name string, h http.Handler) http.Handler {
		switch name {
		case "authorize":
			return m.Authorize(h)
		case "token":
			return m.Token(h)
		}
		return m.Discovery(h)
	}
}

func runAudit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) checks: (\d+) fail, (\d+) warn, (\d+) pass, (\d+) skip, (\d+) info(; failing: ([a-z0-9.-]+(, )?)+)?$`)

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "missing -issuer, -client-id, -redirect-uri"},
		{"no redirect", []string{"-issuer", "http://127.0.0.1:9", "-client-id", "c"}, "missing -redirect-uri"},
		{"stray argument", []string{"-issuer", "http://127.0.0.1:9", "-client-id", "c", "-redirect-uri", "http://127.0.0.1/cb", "extra"}, `unexpected argument "extra"`},
		{"bad cookie", []string{"-cookie", "novalue"}, "want name=value"},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"relative issuer", []string{"-issuer", "/x", "-client-id", "c", "-redirect-uri", "http://127.0.0.1/cb"}, "not an absolute URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runAudit(t, tc.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", stderr, tc.want)
			}
		})
	}
	code, _, stderr := runAudit(t, "-h")
	if code != 0 || !strings.Contains(stderr, "usage: pkce-audit") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr)
	}
	// The synopsis names every flag, and the severity rule is stated.
	synopsis, _, _ := strings.Cut(stderr, "\n\n")
	for _, f := range []string{"-issuer", "-client-id", "-client-secret", "-redirect-uri", "-cookie", "-other-client-id",
		"-other-client-secret", "-scope", "-timeout", "-json", "-v", "-checks"} {
		if !strings.Contains(synopsis+" ", " ["+f+" ") && !strings.Contains(synopsis+" ", " "+f+" ") && !strings.Contains(synopsis, "["+f+"]") {
			t.Errorf("-h synopsis lacks %s:\n%s", f, synopsis)
		}
	}
	for _, w := range []string{"fail  the check demonstrated harm", "warn  a deviation", "skip  a precondition", "info  a client's duty"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("-h lacks %q", w)
		}
	}
}

func TestTableAgainstUnprotectedServer(t *testing.T) {
	srv := newServer(t, unprotected, "")
	code, stdout, stderr := runAudit(t, "-issuer", srv.URL, "-client-id", "app", "-redirect-uri", "http://127.0.0.1:9/cb")
	if code != 1 {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if !regexp.MustCompile(`^CHECK +OUTCOME +DETAIL$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	m := summaryLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("last line %q is not the summary", lines[len(lines)-1])
	}
	if m[2] == "0" || !strings.Contains(m[0], "; failing: ") || !strings.Contains(m[0], "token.verifier-wrong") {
		t.Errorf("summary %q reports no fail, or does not name the failing checks", m[0])
	}
	// Rows fit 120 columns; -v prints them in full.
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 120 && l != lines[len(lines)-1] {
			t.Errorf("a row of %d columns: %q", n, l)
		}
	}
	_, full, _ := runAudit(t, "-v", "-issuer", srv.URL, "-client-id", "app", "-redirect-uri", "http://127.0.0.1:9/cb")
	if len(full) <= len(stdout) || strings.Contains(full, "…\n") {
		t.Errorf("-v printed %d bytes, the cut table %d: want every detail in full", len(full), len(stdout))
	}
	if got := len(lines) - 2; got != len(pkceChecks(t)) {
		t.Errorf("%d result lines, want one per check (%d)", got, len(pkceChecks(t)))
	}
	row := regexp.MustCompile(`(?m)^token\.retry-wrong-then-none +fail +accepted a wrong verifier already`)
	if !row.MatchString(stdout) {
		t.Errorf("no failing row for token.retry-wrong-then-none:\n%s", stdout)
	}
}

func TestJSONAgainstUnprotectedServer(t *testing.T) {
	srv := newServer(t, unprotected, "")
	code, stdout, stderr := runAudit(t, "-json", "-issuer", srv.URL, "-client-id", "app", "-redirect-uri", "http://127.0.0.1:9/cb")
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr %s", code, stderr)
	}
	var results []map[string]string
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("stdout is not a JSON array of objects of strings: %v\n%s", err, stdout)
	}
	fails := 0
	for _, r := range results {
		switch r["outcome"] {
		case "fail":
			fails++
		case "pass", "warn", "skip", "info":
		default:
			t.Errorf("outcome %q is not one of pass, fail, warn, skip, info", r["outcome"])
		}
		if r["id"] == "" || r["title"] == "" || r["rule"] == "" || r["detail"] == "" {
			t.Errorf("incomplete result %v", r)
		}
	}
	if fails < 10 {
		t.Errorf("%d fails against the unprotected server, want at least 10", fails)
	}
	if !summaryLine.MatchString(stderr) {
		t.Errorf("stderr %q has no summary line", stderr)
	}
}

func TestWrappedServerPasses(t *testing.T) {
	srv := newServer(t, middleware(t), "")
	code, stdout, stderr := runAudit(t, "-issuer", srv.URL, "-client-id", "app", "-client-secret", "s3cret", "-redirect-uri", "http://127.0.0.1:9/cb")
	if code != 0 {
		t.Fatalf("exit status %d, want 0\n%s%s", code, stdout, stderr)
	}
	m := summaryLine.FindStringSubmatch(stdout)
	if m == nil || m[2] != "0" || m[3] != "0" || m[4] == "0" {
		t.Errorf("summary %v, want passes and no fail or warn", m)
	}
}

// A server with a login page in front of /authorize: without the session
// cookie the audit stops at once with exit status 2 and one line naming
// the login page and -cookie; with -cookie it passes.
func TestCookie(t *testing.T) {
	srv := newServer(t, middleware(t), "logged-in")
	args := []string{"-json", "-issuer", srv.URL, "-client-id", "app", "-redirect-uri", "http://127.0.0.1:9/cb"}
	code, stdout, stderr := runAudit(t, args...)
	if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "/login") || !strings.Contains(stderr, "-cookie") {
		t.Errorf("without the cookie: exit %d, stdout %q, stderr %q; want 2, nothing, and one line naming /login and -cookie", code, stdout, stderr)
	}
	code, stdout, stderr = runAudit(t, append(args, "-cookie", "session=logged-in")...)
	if code != 0 {
		t.Errorf("with -cookie: exit %d, want 0:\n%s\n%s", code, stdout, stderr)
	}
}

// -checks lists every check with the evidence that makes it fail.
func TestListChecks(t *testing.T) {
	code, stdout, _ := runAudit(t, "-checks")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, id := range []string{"token.verifier-wrong", "token.parallel", "hygiene.constant-challenge"} {
		if !strings.Contains(stdout, id+"\n") {
			t.Errorf("-checks lacks %s", id)
		}
	}
	if n, want := strings.Count(stdout, "\n    fail: "), strings.Count(stdout, "\n    rule: "); n != want || n < 60 {
		t.Errorf("%d fail lines for %d checks", n, want)
	}
}

func pkceChecks(t *testing.T) []string {
	t.Helper()
	srv := newServer(t, unprotected, "")
	_, stdout, _ := runAudit(t, "-json", "-issuer", srv.URL, "-client-id", "app", "-redirect-uri", "http://127.0.0.1:9/cb")
	var results []struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(results))
	for i, r := range results {
		ids[i] = r.ID
	}
	return ids
}

// End to end: build pkce-demo and pkce-audit, serve the demo wrapped and
// unprotected, and audit each with the built binary.
func TestAgainstDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	dir := t.TempDir()
	for _, pkg := range []string{"pkce-demo", "pkce-audit"} {
		build := exec.Command(goTool, "build", "-o", filepath.Join(dir, pkg), "../"+pkg)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	// Issue 8: the stolen-code rebind through an echo and the retry after a
	// refused client authentication, for which the demo (it keeps a
	// redirect URI's query and refuses a public client's Basic secret)
	// is a faithful target.
	const (
		redirectQuery = "token.rebind-echo-redirect-query"
		codeParam     = "token.rebind-echo-code-param"
		retryBadAuth  = "token.retry-bad-auth-then-correct"
	)
	// Issue 12 item 6: the demo advertises its PAR endpoint (/par, m.PAR
	// in front), so the par checks run, for the public client (client_id
	// in the pushed body) and the confidential one (HTTP Basic).
	parPass := map[string]string{"par.valid": "pass", "par.no-challenge": "pass", "par.verifier-wrong": "pass",
		"par.verifier-missing": "pass", "par.outer-challenge": "pass"}
	public := []string{"-client-id", "demo-app"}
	for _, tc := range []struct {
		name     string
		client   []string
		flags    []string
		wantExit int
		want     map[string]string
	}{
		{"wrapped", public, nil, 0, merge(parPass, map[string]string{redirectQuery: "pass", codeParam: "pass", retryBadAuth: "pass",
			"authorize.unregistered-redirect": "pass", "hygiene.constant-challenge": "info"})},
		{"wrapped-confidential", []string{"-client-id", "demo-service", "-client-secret", "demo-secret"}, nil, 0,
			merge(parPass, map[string]string{"token.basic-form-encoded": "pass", retryBadAuth: "pass"})},
		// The bare demo has no PKCE: a stolen code is redeemed with any
		// verifier; it burns no code on a refused client authentication.
		// Its PAR endpoint works, but nothing binds a pushed challenge, and
		// PKCE being optional, a push without one sidesteps nothing.
		{"unprotected", public, []string{"-unprotected"}, 1, map[string]string{redirectQuery: "fail", codeParam: "fail", retryBadAuth: "pass",
			"par.valid": "pass", "par.no-challenge": "skip", "par.verifier-wrong": "fail", "par.verifier-missing": "fail", "par.outer-challenge": "fail"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := startDemo(t, filepath.Join(dir, "pkce-demo"), tc.flags...)
			args := append([]string{"-json", "-issuer", issuer, "-redirect-uri", "http://127.0.0.1:9/callback"}, tc.client...)
			audit := exec.Command(filepath.Join(dir, "pkce-audit"), args...)
			var stdout, stderr bytes.Buffer
			audit.Stdout, audit.Stderr = &stdout, &stderr
			err := audit.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			var results []map[string]string
			if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
				t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
			}
			var fails []string
			for _, r := range results {
				if r["outcome"] == "fail" {
					fails = append(fails, r["id"]+": "+r["detail"])
				}
				// Issue 9: the wrapped demo gets no fail and no warn.
				if tc.wantExit == 0 && r["outcome"] == "warn" {
					t.Errorf("%s: warn against the wrapped demo: %s", r["id"], r["detail"])
				}
				if want, ok := tc.want[r["id"]]; ok && r["outcome"] != want {
					t.Errorf("%s: %s (%s), want %s", r["id"], r["outcome"], r["detail"], want)
				}
			}
			if code != tc.wantExit {
				t.Errorf("exit %d, want %d; %s; fails:\n%s", code, tc.wantExit, strings.TrimSpace(stderr.String()), strings.Join(fails, "\n"))
			}
			if tc.wantExit == 1 && len(fails) < 10 {
				t.Errorf("%d fails against the unprotected demo, want at least 10", len(fails))
			}
			t.Log(strings.TrimSpace(stderr.String()))
		})
	}
}

// merge returns the union of ms; later maps win.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// startDemo runs the demo binary with -serve on a free loopback port, stops
// it when t ends and returns its issuer URL (its first line of output).
func startDemo(t *testing.T, bin string, flags ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-serve", "-addr", "127.0.0.1:0"}, flags...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs // the demo logs every request; shown only on failure
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("the demo's log:\n%s", logs.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- strings.TrimSpace(s.Text())
		}
		close(line)
		for s.Scan() {
		}
	}()
	select {
	case l, ok := <-line:
		if !ok || !strings.HasPrefix(l, "http://127.0.0.1:") {
			t.Fatalf("the demo's first line is %q, want its issuer URL", l)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("the demo printed no issuer URL within 30s")
	}
	return ""
}
