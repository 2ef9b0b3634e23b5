package pkcetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce/pkcetest"
)

func audit(t *testing.T, tg pkcetest.Target) map[string]pkcetest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results, err := pkcetest.Audit(ctx, tg)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if len(results) != len(pkcetest.Checks()) {
		t.Fatalf("Audit returned %d results, the catalogue has %d checks", len(results), len(pkcetest.Checks()))
	}
	byID := map[string]pkcetest.Result{}
	for _, r := range results {
		if _, dup := byID[r.ID]; dup {
			t.Errorf("check ID %s appears twice", r.ID)
		}
		if r.Detail == "" || r.Title == "" || r.Rule == "" {
			t.Errorf("%s: empty title, rule or detail: %+v", r.ID, r)
		}
		if strings.Contains(r.Detail, "internal error") {
			t.Errorf("%s: %s", r.ID, r.Detail)
		}
		byID[r.ID] = r
		t.Logf("%-40s %-4s %s", r.ID, r.Outcome, r.Detail)
	}
	return byID
}

func TestCatalogue(t *testing.T) {
	checks := pkcetest.Checks()
	if len(checks) < 30 {
		t.Errorf("the catalogue has %d checks, want at least 30", len(checks))
	}
	groups := map[string]int{}
	for _, c := range checks {
		group, _, ok := strings.Cut(c.ID, ".")
		if !ok {
			t.Errorf("ID %q has no group prefix", c.ID)
		}
		groups[group]++
	}
	for _, g := range []string{"metadata", "authorize", "token", "par", "hygiene"} {
		if groups[g] == 0 {
			t.Errorf("no check in group %s", g)
		}
	}
	if len(groups) != 5 {
		t.Errorf("groups %v, want exactly metadata, authorize, token, par, hygiene", groups)
	}
}

// The careless server issues codes and tokens for anything: the catalogue
// must catch it many times over.
func TestCarelessServerFails(t *testing.T) {
	for _, secret := range []string{"", "pkcetest-secret"} {
		name := "public"
		if secret != "" {
			name = "confidential"
		}
		t.Run(name, func(t *testing.T) {
			srv, _ := startCareless(t, wrappers{})
			byID := audit(t, target(srv, secret))
			var failed []string
			for id, r := range byID {
				if r.Outcome == pkcetest.Fail {
					failed = append(failed, id)
				}
			}
			if len(failed) < 10 {
				t.Errorf("%d checks failed against the careless server, want at least 10: %v", len(failed), failed)
			}
			mustFail := []string{
				"metadata.methods-listed",
				"authorize.method-unknown", "authorize.challenge-hex", "authorize.duplicate-query",
				"authorize.duplicate-form", "authorize.unregistered-redirect", "authorize.duplicate-empty",
				"authorize.duplicate-method", "token.basic-undecodable",
				"token.verifier-missing", "token.verifier-wrong", "token.verifier-short",
				"token.retry-wrong-then-none", "token.retry-wrong-then-correct", "token.replay",
				"token.parallel", "token.downgrade", "token.other-client-body", "token.other-client-basic",
				"token.rebind-echo-redirect-query", "token.rebind-echo-code-param",
				"token.duplicate-verifier", "token.duplicate-grant-type", "token.verifier-in-query",
				"token.content-type-multipart", "token.oversized-body", "token.get-method",
			}
			for _, id := range mustFail {
				if r := byID[id]; r.Outcome != pkcetest.Fail {
					t.Errorf("%s: %s (%s), want fail", id, r.Outcome, r.Detail)
				}
			}
			mustPass := []string{
				"metadata.oauth-authorization-server", "metadata.openid-configuration", "metadata.issuer",
				"metadata.identical", "authorize.valid-s256", "token.valid", "token.rfc7636-vector",
				"hygiene.state-echoed", "hygiene.token-no-store", "hygiene.challenge-not-exposed",
			}
			for _, id := range mustPass {
				if r := byID[id]; r.Outcome != pkcetest.Pass {
					t.Errorf("%s: %s (%s), want pass", id, r.Outcome, r.Detail)
				}
			}
			// Deviations it could not turn into harm: the server takes
			// requests without PKCE, accepts plain without advertising
			// it, and gives the token to the code's own client.
			for _, id := range []string{"authorize.no-challenge", "authorize.method-without-challenge", "authorize.challenge-blank",
				"metadata.plain-consistent", "authorize.method-absent", "token.client-conflict"} {
				if r := byID[id]; r.Outcome != pkcetest.Warn {
					t.Errorf("%s: %s (%s), want warn", id, r.Outcome, r.Detail)
				}
			}
			// It authenticates no client: the bad credentials get a token.
			if r := byID["token.retry-bad-auth-then-correct"]; r.Outcome != pkcetest.Skip {
				t.Errorf("token.retry-bad-auth-then-correct: %s (%s), want skip", r.Outcome, r.Detail)
			}
			// A client's duty, never held against the server.
			if r := byID["hygiene.constant-challenge"]; r.Outcome != pkcetest.Info {
				t.Errorf("hygiene.constant-challenge: %s (%s), want info", r.Outcome, r.Detail)
			}
			if r := byID["token.parallel"]; !strings.HasPrefix(r.Detail, "8 of 8 concurrent redemptions of one code got a token") {
				t.Errorf("token.parallel detail %q, want all 8 redemptions to win", r.Detail)
			}
		})
	}
}

// Results marshal to JSON objects whose outcome is one of five words.
func TestResultsJSON(t *testing.T) {
	srv, _ := startCareless(t, wrappers{})
	results, err := pkcetest.Audit(context.Background(), target(srv, ""))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range decoded {
		o, _ := d["outcome"].(string)
		seen[o] = true
		for _, k := range []string{"id", "title", "rule", "fail_when", "outcome", "detail"} {
			if _, ok := d[k]; !ok {
				t.Errorf("JSON result without %q: %v", k, d)
			}
		}
	}
	for _, w := range []string{"pass", "fail", "warn", "info"} {
		if !seen[w] {
			t.Errorf("no outcome %q in the JSON of the careless audit; outcomes seen: %v", w, seen)
		}
	}
	for o := range seen {
		if o != "pass" && o != "fail" && o != "warn" && o != "skip" && o != "info" {
			t.Errorf("outcome %q in JSON is not one of the five words", o)
		}
	}
}

// Run fails the test on every failing check: run it against the careless
// server in a child test process and read the verdicts.
func TestRunReportsFailures(t *testing.T) {
	if os.Getenv("PKCETEST_RUN_CARELESS") == "1" {
		srv, _ := startCareless(t, wrappers{})
		pkcetest.Run(t, target(srv, ""))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunReportsFailures$", "-test.v")
	cmd.Env = append(os.Environ(), "PKCETEST_RUN_CARELESS=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child test should fail; err = %v\n%s", err, out)
	}
	for _, want := range []string{
		"--- FAIL: TestRunReportsFailures/token.verifier-wrong",
		"--- FAIL: TestRunReportsFailures/token.retry-wrong-then-none",
		"--- PASS: TestRunReportsFailures/token.valid",
		"warn: ",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the child test output lacks %q:\n%s", want, out)
		}
	}
}

func TestAuditRejectsUnusableTarget(t *testing.T) {
	for name, tg := range map[string]pkcetest.Target{
		"no issuer":       {ClientID: "c", RedirectURI: "http://127.0.0.1/cb"},
		"relative issuer": {Issuer: "/auth", ClientID: "c", RedirectURI: "http://127.0.0.1/cb"},
		"no client":       {Issuer: "http://127.0.0.1:9", RedirectURI: "http://127.0.0.1/cb"},
		"no redirect":     {Issuer: "http://127.0.0.1:9", ClientID: "c"},
		"negative":        {Issuer: "http://127.0.0.1:9", ClientID: "c", RedirectURI: "http://127.0.0.1/cb", Timeout: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := pkcetest.Audit(context.Background(), tg); err == nil || !strings.HasPrefix(err.Error(), "pkcetest: ") {
				t.Errorf("Audit error = %v, want a pkcetest: error", err)
			}
		})
	}
}

// Hostile or broken servers: the audit ends in bounded time, passes
// nothing it could not verify and fails or skips with a detail.
func TestHostileServers(t *testing.T) {
	huge := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(`{"issuer":"x",`, 1024))
		for {
			if _, err := w.Write(chunk); err != nil || r.Context().Err() != nil {
				return
			}
		}
	}
	tests := []struct {
		name    string
		handler func(srv *string) http.Handler
		expect  string // a word the failing details must contain
	}{
		{"garbage", func(*string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("\x00\xff<<garbage>>"))
			})
		}, "not a JSON object"},
		{"hang", func(*string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			})
		}, "no answer within"},
		{"redirect loop", func(*string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.String(), http.StatusFound)
			})
		}, "HTTP 302"},
		{"huge metadata", func(*string) http.Handler { return http.HandlerFunc(huge) }, "larger than 1 MiB"},
		{"huge token answer", func(base *string) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("/.well-known/", func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{
					"issuer": *base, "authorization_endpoint": *base + "/authorize", "token_endpoint": *base + "/token",
					"code_challenge_methods_supported": []string{"S256"},
				})
			})
			mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://127.0.0.1:9/callback?code=abc&state="+r.FormValue("state"), http.StatusFound)
			})
			mux.HandleFunc("/token", huge)
			return mux
		}, "larger than 1 MiB"},
		{"redirect loop at authorize", func(base *string) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("/.well-known/", func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{
					"issuer": *base, "authorization_endpoint": *base + "/authorize", "token_endpoint": *base + "/token",
				})
			})
			mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.String(), http.StatusFound)
			})
			return mux
		}, "sent the user agent to"},
		{"foreign endpoints", func(base *string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{
					"issuer": *base, "authorization_endpoint": "https://elsewhere.invalid/authorize",
					"token_endpoint": "https://elsewhere.invalid/token",
				})
			})
		}, "not on the issuer's host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var base string
			srv := httptest.NewServer(tc.handler(&base))
			t.Cleanup(srv.Close)
			base = srv.URL
			tg := target(srv, "")
			tg.Timeout = 2 * time.Second
			if tc.name == "hang" {
				tg.Timeout = 300 * time.Millisecond
			}
			start := time.Now()
			if tc.name == "redirect loop at authorize" {
				// The first authorization request is sent elsewhere, as
				// to a login page: the audit stops at once.
				_, err := pkcetest.Audit(context.Background(), tg)
				var login *pkcetest.LoginRequiredError
				if !errors.As(err, &login) || !strings.Contains(err.Error(), tc.expect) {
					t.Errorf("Audit error = %v, want a *LoginRequiredError saying %q", err, tc.expect)
				}
				return
			}
			byID := audit(t, tg)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the audit took %v", d)
			}
			fails := 0
			found := false
			for id, r := range byID {
				if r.Outcome == pkcetest.Pass && !strings.HasPrefix(id, "metadata.") &&
					(tc.name != "huge token answer" || strings.HasPrefix(id, "token.")) {
					t.Errorf("%s passed against a broken server: %s", id, r.Detail)
				}
				if r.Outcome == pkcetest.Fail {
					fails++
				}
				if r.Outcome != pkcetest.Pass && strings.Contains(r.Detail, tc.expect) {
					found = true
				}
			}
			if fails == 0 {
				t.Error("no check failed against a broken server")
			}
			if !found {
				t.Errorf("no detail mentions %q", tc.expect)
			}
			if r := byID["authorize.valid-s256"]; r.Outcome != pkcetest.Fail && tc.name != "huge token answer" {
				t.Errorf("authorize.valid-s256: %s %s, want fail", r.Outcome, r.Detail)
			}
			if r := byID["token.valid"]; r.Outcome != pkcetest.Fail {
				t.Errorf("token.valid: %s %s, want fail", r.Outcome, r.Detail)
			}
		})
	}
}

func TestOutcomeText(t *testing.T) {
	for o, w := range map[pkcetest.Outcome]string{pkcetest.Pass: "pass", pkcetest.Fail: "fail", pkcetest.Warn: "warn", pkcetest.Skip: "skip", pkcetest.Info: "info"} {
		if o.String() != w {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), w)
		}
		b, err := json.Marshal(o)
		if err != nil || string(b) != `"`+w+`"` {
			t.Errorf("json.Marshal(%s) = %s, %v", w, b, err)
		}
		var back pkcetest.Outcome
		if err := json.Unmarshal(b, &back); err != nil || back != o {
			t.Errorf("json.Unmarshal(%s) = %v, %v", b, back, err)
		}
	}
	for _, bad := range []pkcetest.Outcome{0, 9, -1} {
		if _, err := json.Marshal(bad); err == nil {
			t.Errorf("json.Marshal(Outcome(%d)) succeeded", int(bad))
		}
	}
	if var0 := (pkcetest.Result{}).Outcome; var0 == pkcetest.Pass {
		t.Error("the zero Outcome is Pass")
	}
	var o pkcetest.Outcome
	for _, bad := range []string{`"PASS"`, `""`, `0`} {
		if err := json.Unmarshal([]byte(bad), &o); err == nil {
			t.Errorf("json.Unmarshal(%s) succeeded", bad)
		}
	}
}

// The audit sends nothing anywhere but the target: not to endpoints the
// metadata puts on another host, not to where redirects point, not to the
// redirect_uri.
func TestNoTrafficElsewhere(t *testing.T) {
	var hits atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/", http.StatusFound)
	}))
	t.Cleanup(sink.Close)
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			json.NewEncoder(w).Encode(map[string]any{"issuer": base,
				"authorization_endpoint": sink.URL + "/authorize", "token_endpoint": sink.URL + "/token"})
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{"issuer": base,
				"authorization_endpoint": base + "/authorize", "token_endpoint": sink.URL + "/token"})
		default:
			http.Redirect(w, r, sink.URL+"/login", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	base = srv.URL
	tg := target(srv, "")
	tg.RedirectURI = sink.URL + "/callback"
	_, err := pkcetest.Audit(context.Background(), tg)
	if n := hits.Load(); n != 0 {
		t.Errorf("the sink got %d requests", n)
	}
	var login *pkcetest.LoginRequiredError
	if !errors.As(err, &login) || !strings.Contains(login.Got, "/login") {
		t.Errorf("Audit error = %v, want a *LoginRequiredError naming /login", err)
	}
}
