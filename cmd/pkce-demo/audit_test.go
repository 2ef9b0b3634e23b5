package main

import (
	"context"
	"testing"

	"github.com/go-pkce/pkce/pkcetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAudit runs the PKCE audit kit against the demo as a user would with
// cmd/pkce-audit: wrapped, no check fails for either client.
func TestAudit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target pkcetest.Target
	}{
		{"demo-app", pkcetest.Target{ClientID: demoApp, RedirectURI: testRedirectURI}},
		{"demo-service", pkcetest.Target{ClientID: demoService, ClientSecret: demoSecret, RedirectURI: "http://[::1]:5555/callback", Scope: "openid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDemo(t, true)
			tc.target.Issuer = d.issuer
			pkcetest.Run(t, tc.target)
		})
	}
}

// TestAuditUnprotected: without the middleware the audit finds the
// bypasses the middleware closes.
func TestAuditUnprotected(t *testing.T) {
	d := startDemo(t, false)
	results, err := pkcetest.Audit(context.Background(), pkcetest.Target{Issuer: d.issuer, ClientID: demoApp, RedirectURI: testRedirectURI})
	require.NoError(t, err)
	outcome := map[string]pkcetest.Outcome{}
	for _, r := range results {
		outcome[r.ID] = r.Outcome
	}
	for _, id := range []string{
		"metadata.methods-listed",
		"authorize.challenge-hex",
		"token.verifier-missing",
		"token.verifier-wrong",
		"token.downgrade",
		"token.retry-wrong-then-none",
	} {
		assert.Equal(t, pkcetest.Fail, outcome[id], id)
	}
}
