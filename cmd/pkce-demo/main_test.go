package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWalkthroughProtected(t *testing.T) {
	d := startDemo(t, true)
	ro := startDemoMode(t, modeReportOnly)
	var out bytes.Buffer
	wt := &walkthrough{issuer: d.issuer, out: &out, protected: true, reportOnlyIssuer: ro.issuer}
	failed := wt.run(context.Background())
	require.Zero(t, failed, out.String())
	text := out.String()
	for n := 1; n <= 14; n++ {
		assert.Regexp(t, regexp.MustCompile(`(?m)^step `+strconv.Itoa(n)+`: .* \.\.\. ok$`), text)
	}
	assert.Contains(t, text, "PASS: all 14 steps behaved.")
	assert.NotContains(t, text, "FAILED")
	// Each exchange is shown: method, URL, status and OAuth error.
	assert.Contains(t, text, "  > GET "+d.issuer+"/.well-known/openid-configuration")
	assert.Contains(t, text, "  > POST "+d.issuer+"/token")
	assert.Contains(t, text, "  < 400 Bad Request\n    error invalid_grant: ")
	assert.Contains(t, text, "  < 400 Bad Request\n    error invalid_request: ")
	assert.Contains(t, text, "  < 302 Found\n    Location: http://127.0.0.1:9/callback?code=")
	// The report-only steps: the legacy client passes, the report names it.
	assert.Contains(t, text, "  > GET "+ro.issuer+"/authorize?client_id=demo-service&")
	assert.Contains(t, text, "  > GET "+ro.issuer+"/debug/pkce")
	assert.Regexp(t, `"client_id":"demo-service","with_pkce":0,"without_pkce":1,"refusals":\{"challenge_missing":1\},"last_seen":"[^"]+","ready":false`, text)
	assert.Regexp(t, `"client_id":"demo-app","with_pkce":1,"without_pkce":0,"refusals":\{\},"last_seen":"[^"]+","ready":true`, text)
}

func TestWalkthroughUnprotected(t *testing.T) {
	d := startDemo(t, false)
	var out bytes.Buffer
	wt := &walkthrough{issuer: d.issuer, out: &out}
	failed := wt.run(context.Background())
	text := out.String()
	// Without the middleware: no metadata member, a wrong verifier gets
	// tokens, and a request without PKCE gets a code.
	assert.Equal(t, []int{1, 2, 7, 9, 11}, wt.failed, text)
	assert.Equal(t, 5, failed)
	assert.Contains(t, text, "step 7: get a new code, then send a wrong verifier ... FAILED: want 400 invalid_grant, got 200 with tokens")
	assert.Contains(t, text, "FAIL: 5 of 11 steps did not behave (steps 1, 2, 7, 9, 11).")
}

func TestWalkthroughServerDown(t *testing.T) {
	d := startDemo(t, true)
	d.Close()
	var out bytes.Buffer
	wt := &walkthrough{issuer: d.issuer, out: &out, protected: true}
	assert.Equal(t, 11, wt.run(context.Background()), out.String())
}

func TestRunWalkthrough(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantLast string
	}{
		{"protected", nil, 0, "PASS: all 14 steps behaved."},
		{"unprotected", []string{"-unprotected"}, 1, "FAIL: 5 of 11 steps did not behave (steps 1, 2, 7, 9, 11)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			assert.Equal(t, tc.wantLast, lines[len(lines)-1])
			assert.Regexp(t, `^pkce-demo: a homegrown authorization server at http://127\.0\.0\.1:\d+,`, lines[0])
		})
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"argument", []string{"extra"}, "unexpected argument"},
		{"all interfaces", []string{"-serve", "-addr", ":0"}, "loopback address only"},
		{"public address", []string{"-serve", "-addr", "0.0.0.0:0"}, "loopback address only"},
		{"no port", []string{"-serve", "-addr", "127.0.0.1"}, "missing port"},
		{"report-only without -serve", []string{"-report-only"}, "-report-only needs -serve"},
		{"report-only and unprotected", []string{"-serve", "-report-only", "-unprotected"}, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr.String(), tc.want)
			assert.Empty(t, stdout.String())
		})
	}
}

// TestServe runs -serve in-process with a port-0 address: the first line is
// the issuer with the real port, and the server stops when asked to.
func TestServe(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		wantMethods bool
	}{
		{"protected", nil, true},
		{"unprotected", []string{"-unprotected"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			var stderr bytes.Buffer
			done := make(chan int, 1)
			go func() {
				code := run(ctx, append([]string{"-serve", "-addr", "127.0.0.1:0"}, tc.args...), pw, &stderr)
				pw.Close()
				done <- code
			}()
			rd := bufio.NewReader(pr)
			first, err := rd.ReadString('\n')
			require.NoError(t, err)
			issuer := strings.TrimSuffix(first, "\n")
			require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, issuer)
			require.NotEqual(t, "http://127.0.0.1:0", issuer)
			rest := make(chan string, 1)
			go func() { b, _ := io.ReadAll(rd); rest <- string(b) }()

			resp, err := http.Get(issuer + pathOpenIDConf)
			require.NoError(t, err)
			var doc map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
			resp.Body.Close()
			assert.Equal(t, issuer, doc["issuer"])
			_, has := doc["code_challenge_methods_supported"]
			assert.Equal(t, tc.wantMethods, has)

			cancel()
			select {
			case code := <-done:
				assert.Equal(t, 0, code, stderr.String())
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not stop")
			}
			help := <-rest
			assert.Contains(t, help, "demo-service  confidential, secret demo-secret")
			assert.Contains(t, help, issuer+"/token")
			assert.Contains(t, stderr.String(), "GET /.well-known/openid-configuration -> 200")
			_, err = http.Get(issuer + pathOpenIDConf)
			assert.Error(t, err, "the server still answers after it was stopped")
		})
	}
}

// TestServeBinary builds the command and runs it as scripts do: the issuer
// is the first line of stdout, and SIGTERM stops it with exit code 0.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "pkce-demo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cmd := exec.Command(bin, "-serve", "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	rd := bufio.NewReader(stdout)
	first, err := rd.ReadString('\n')
	require.NoError(t, err)
	issuer := strings.TrimSuffix(first, "\n")
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, issuer)
	go func() { _, _ = io.Copy(io.Discard, rd) }()

	resp, err := http.Get(issuer + pathOAuthServer)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		assert.NoError(t, err, "exit after SIGTERM")
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the server")
	}
}
