package pkce_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every refusal and store fault is logged, and no log line carries a
// verifier, a challenge or a code, even at debug level.
func TestLogsCarryNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newStack(t, pkce.Config{Logger: logger})

	verifier := pkce.GenerateVerifier()
	challenge := pkce.S256Challenge(verifier)
	var secrets []string
	refusals := 0
	refuseAuthorize := func(raw string) {
		t.Helper()
		resp, _ := s.get(t, "/authorize?response_type=code&client_id=app&redirect_uri=x&"+raw)
		require.GreaterOrEqual(t, resp.StatusCode, 400, raw)
		refusals++
	}
	refuseAuthorize("")                                                                           // no challenge
	refuseAuthorize("code_challenge=" + challenge)                                                // plain by absence
	refuseAuthorize("code_challenge=" + challenge + "&code_challenge_method=s256")                // case
	refuseAuthorize("code_challenge=" + challenge + "&code_challenge=" + challenge)               // duplicate
	refuseAuthorize("code_challenge=" + strings.Repeat("ab", 32) + "&code_challenge_method=S256") // hex
	secrets = append(secrets, challenge, strings.Repeat("ab", 32))

	refuseToken := func(form url.Values) {
		t.Helper()
		got := s.postToken(t, form)
		require.GreaterOrEqual(t, got.Status, 400, form.Encode())
		refusals++
	}
	for i := range 6 {
		v := pkce.GenerateVerifier()
		code := s.code(t, v)
		wrong := pkce.GenerateVerifier()
		secrets = append(secrets, v, pkce.S256Challenge(v), code, wrong)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"app"}}
		switch i {
		case 0:
			form.Set("code_verifier", wrong) // mismatch
		case 1:
			// missing verifier
		case 2:
			form.Set("code_verifier", v[:42]) // malformed
		case 3:
			form.Set("code_verifier", v)
			form.Set("client_id", "other") // other client
		case 4:
			form.Set("code_verifier", v)
			form["code_verifier"] = append(form["code_verifier"], v) // duplicate
		case 5:
			form.Set("code_verifier", wrong)
			refuseToken(form)
			form.Set("code_verifier", v) // used up
		}
		refuseToken(form)
	}
	// Downgrade: a verifier for a code never bound.
	downgrade := pkce.GenerateVerifier()
	secrets = append(secrets, downgrade, "never-issued-code")
	refuseToken(url.Values{"grant_type": {"authorization_code"}, "code": {"never-issued-code"}, "code_verifier": {downgrade}})

	// A store fault at both endpoints.
	fs := newStack(t, pkce.Config{Logger: logger, Store: faultStore{errors.New("boom")}})
	resp, _ := fs.get(t, "/authorize?response_type=code&client_id=app&redirect_uri=x&code_challenge="+challenge+"&code_challenge_method=S256")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	got := fs.exchange(t, "some-code", verifier)
	require.Equal(t, http.StatusInternalServerError, got.Status)
	secrets = append(secrets, "some-code")
	fs.mu.Lock()
	for code := range fs.codes {
		secrets = append(secrets, code)
	}
	fs.mu.Unlock()

	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	assert.GreaterOrEqual(t, strings.Count(logs, `"msg":"pkce: request refused"`), refusals, "every refusal is logged")
	assert.GreaterOrEqual(t, strings.Count(logs, `"msg":"pkce: store failed"`), 2, "store faults are logged")
	for _, secret := range secrets {
		assert.NotContains(t, logs, secret)
	}
}
