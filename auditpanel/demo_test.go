package auditpanel

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce/pkcetest"
)

// TestDemo audits cmd/pkce-demo, built from this tree, as a user would:
// wrapped by the middleware it gets no fail and no warn (its PAR endpoint,
// advertised, passes the par checks); unprotected it fails in the
// metadata, authorize, token and par groups.
func TestDemo(t *testing.T) {
	bin := demoBinary(t)

	t.Run("wrapped", func(t *testing.T) {
		results := audit(t, demoTarget(startDemo(t, bin)))
		if n, ids := count(results, pkcetest.Fail); n > 0 {
			t.Errorf("%d fails: %v", n, ids)
		}
		if n, ids := count(results, pkcetest.Warn); n > 0 {
			t.Errorf("%d warns: %v", n, ids)
		}
		// A reused challenge is the client's duty (RFC 7636 §7.1).
		if _, ids := count(results, pkcetest.Info); !slices.Equal(ids, []string{"hygiene.constant-challenge"}) {
			t.Errorf("infos %v, want only hygiene.constant-challenge", ids)
		}
		// The audited client is public; the OpenID and RFC 8414 documents
		// agree; the PAR endpoint is advertised, so the par checks run.
		if _, ids := count(results, pkcetest.Skip); !slices.Equal(ids, []string{"token.basic-form-encoded"}) {
			t.Errorf("skips %v, want only token.basic-form-encoded", ids)
		}
	})

	t.Run("unprotected", func(t *testing.T) {
		results := audit(t, demoTarget(startDemo(t, bin, "-unprotected")))
		pinned := []string{
			"metadata.methods-listed",     // no code_challenge_methods_supported
			"authorize.challenge-hex",     // a code for it, redeemed by any verifier
			"token.verifier-wrong",        // a token for a wrong verifier
			"token.verifier-missing",      // a token for no verifier
			"token.downgrade",             // a token for a verifier with no challenge
			"token.retry-wrong-then-none", // the first, wrong, attempt already got a token
			"token.rebind-echo-redirect-query",
			"par.verifier-wrong",   // a pushed challenge bound nowhere: any verifier redeems its code
			"par.verifier-missing", // and no verifier too
			"par.outer-challenge",  // so the outer challenge's verifier does
		}
		for _, id := range pinned {
			if r := results[id]; r.Outcome != pkcetest.Fail {
				t.Errorf("%s: %s, want fail: %s", id, r.Outcome, r.Detail)
			}
		}
		_, fails := count(results, pkcetest.Fail)
		for _, group := range []string{"metadata.", "authorize.", "token.", "par."} {
			if !slices.ContainsFunc(fails, func(id string) bool { return strings.HasPrefix(id, group) }) {
				t.Errorf("no fail in the %s group: %v", strings.TrimSuffix(group, "."), fails)
			}
		}
		// PKCE is optional on the bare demo: a push without a challenge
		// sidesteps nothing.
		if r := results["par.no-challenge"]; r.Outcome != pkcetest.Skip {
			t.Errorf("par.no-challenge: %s, want skip: %s", r.Outcome, r.Detail)
		}
		// The bare demo checks its redirect URIs itself.
		if r := results["authorize.unregistered-redirect"]; r.Outcome != pkcetest.Pass {
			t.Errorf("authorize.unregistered-redirect: %s, want pass: %s", r.Outcome, r.Detail)
		}
		t.Logf("%d fails: %v", len(fails), fails)
	})
}

// demoTarget is the audit of the demo at issuer as its public client
// demo-app, with its confidential client as the other client, as
// docs/demo.md lists them.
func demoTarget(issuer string) pkcetest.Target {
	return pkcetest.Target{
		Issuer:            issuer,
		ClientID:          "demo-app",
		OtherClientID:     "demo-service",
		OtherClientSecret: "demo-secret",
		RedirectURI:       "http://127.0.0.1:9/callback",
	}
}

var (
	demoOnce sync.Once
	demoDir  string
	demoErr  error
)

// demoBinary builds cmd/pkce-demo once per test binary (go build through
// this module's replace of the core, so from this tree) and returns its
// path.
func demoBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH to build cmd/pkce-demo")
	}
	demoOnce.Do(func() {
		demoDir, demoErr = os.MkdirTemp("", "auditpanel-demo-")
		if demoErr != nil {
			return
		}
		build := exec.Command(goTool, "build", "-o", filepath.Join(demoDir, "pkce-demo"), "github.com/go-pkce/pkce/cmd/pkce-demo")
		build.Env = append(os.Environ(), "GOWORK=off")
		if out, err := build.CombinedOutput(); err != nil {
			demoErr = &buildError{err, string(out)}
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return filepath.Join(demoDir, "pkce-demo")
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build cmd/pkce-demo: " + e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDir != "" {
		os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

// startDemo runs the demo with -serve on a free loopback port and flags,
// stops it when t ends, and returns its issuer (its first line of output).
func startDemo(t *testing.T, bin string, flags ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-serve", "-addr", "127.0.0.1:0"}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stderr = &lockedWriter{w: &logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pkce-demo's log:\n%s", cmd.Stderr.(*lockedWriter).String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() { // drain, so the demo never blocks on a full pipe
		}
	}()
	select {
	case issuer, ok := <-lines:
		if !ok || !strings.HasPrefix(issuer, "http://") {
			t.Fatalf("pkce-demo printed %q, not its issuer", issuer)
		}
		return issuer
	case <-time.After(30 * time.Second):
		t.Fatal("pkce-demo printed no issuer in 30 s")
	}
	return ""
}

// lockedWriter is a writer safe for the demo's stderr copier and a reader.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
