package auditpanel

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
	"github.com/go-pkce/pkce/pkcetest"
)

// startGoOAuth2 serves github.com/go-oauth2/oauth2/v4 v4.5.4 as its README
// wires it: the default manager and server, the memory token and client
// stores, a user authorization handler that consents at once for
// panel-user, behind a small net/http front that publishes RFC 8414
// metadata (go-oauth2 has none of its own). The clients are registered by
// their domain, as go-oauth2 registers them (it has no redirect URI list).
// forcePKCE is server.Config.ForcePKCE. It returns the issuer.
func startGoOAuth2(t *testing.T, forcePKCE bool) string {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	issuer := srv.URL

	manager := manage.NewDefaultManager()
	manager.MustTokenStorage(store.NewMemoryTokenStore())
	clients := store.NewClientStore()
	domain := (&url.URL{Scheme: "http", Host: mustParse(t, panelRedirect).Host}).String()
	for _, id := range []string{panelClient, otherClient} {
		if err := clients.Set(id, &models.Client{ID: id, Domain: domain, Public: true}); err != nil {
			t.Fatal(err)
		}
	}
	manager.MapClientStorage(clients)

	s := server.NewDefaultServer(manager)
	s.Config.ForcePKCE = forcePKCE
	s.SetUserAuthorizationHandler(func(http.ResponseWriter, *http.Request) (string, error) {
		return panelUser, nil
	})
	// Public clients name themselves in the body; the default reads only
	// HTTP Basic.
	s.SetClientInfoHandler(func(r *http.Request) (string, string, error) {
		if id, secret, err := server.ClientBasicHandler(r); err == nil {
			return id, secret, nil
		}
		return server.ClientFormHandler(r)
	})

	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-authorization-server", serveMetadata(metadata{
		Issuer:                            issuer,
		AuthorizationEndpoint:             issuer + "/authorize",
		TokenEndpoint:                     issuer + "/token",
		ResponseTypesSupported:            []string{"code", "token"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "client_secret_post"},
		// server.NewConfig's AllowedCodeChallengeMethods: both.
		CodeChallengeMethodsSupported: []string{"S256", "plain"},
	}))
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		if err := s.HandleAuthorizeRequest(w, r); err != nil {
			// An error it could not redirect, answered as its README does.
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = s.HandleTokenRequest(w, r)
	})
	srv.Config.Handler = mux
	return issuer
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestGoOAuth2 audits go-oauth2 with ForcePKCE off and on.
func TestGoOAuth2(t *testing.T) {
	// What go-oauth2 does the same either way.
	common := verdicts{
		flaws: map[string]string{
			"authorize.unregistered-redirect": "a refusal redirected to the unregistered redirect_uri: go-oauth2 sends its errors to a redirect_uri it never validated (RFC 6749 §4.1.2.1)",
		},
		falseFails: merge(
			pendingChallenges("hex", "padded", "long", "std-base64"),
			map[string]string{
				"authorize.duplicate-query":      pendingDuplicate,
				"authorize.duplicate-empty":      pendingDuplicate,
				"authorize.duplicate-method":     pendingDuplicate,
				"authorize.duplicate-form":       pendingDuplicate,
				"authorize.duplicate-query-form": pendingDuplicate,
				"token.duplicate-verifier":       pendingDuplicate,
				"token.basic-undecodable":        pendingBasic,
				"token.verifier-malformed":       pendingVerifierShape,
				"token.verifier-short":           pendingVerifierShape,
				"token.verifier-long":            pendingVerifierShape,
				"token.verifier-non-ascii":       pendingVerifierShape,
				"token.verifier-in-query":        pendingVerifierQuery,
			}),
		skips: map[string]string{
			"metadata.identical":                "an OAuth-only server: one metadata document",
			"token.basic-form-encoded":          "the audited client is public",
			"token.retry-bad-auth-then-correct": "go-oauth2 ignores a Basic secret sent for a public client, so there is no refusal to recover from",
		},
		outcomes: map[string]pkcetest.Outcome{
			"metadata.openid-configuration": pkcetest.Warn, // issue 9: skip for an OAuth-only server
			"metadata.plain-not-listed":     pkcetest.Warn, // its default config accepts plain, and says so
			"metadata.plain-consistent":     pkcetest.Pass,
			"authorize.valid-s256":          pkcetest.Pass,
			"authorize.challenge-short":     pkcetest.Pass,
			"token.valid":                   pkcetest.Pass,
			"token.verifier-wrong":          pkcetest.Warn, // refused with 401, not 400
			"token.replay":                  pkcetest.Warn, // refused with 401, not 400
			"token.retry-wrong-then-none":   pkcetest.Warn, // refused with 401, not 400
			"hygiene.constant-challenge":    pkcetest.Warn, // issue 9: info
		},
		unpinned: map[string]string{
			"token.parallel": "go-oauth2's redemption is not atomic: measured by TestRaceDetection, not pinned",
		},
	}
	const serverError = "HTTP 500 to a client's malformed input"
	for _, tc := range []struct {
		name  string
		force bool
		v     verdicts
	}{
		{"ForcePKCE off", false, verdicts{
			flaws: map[string]string{
				// validateCodeChallenge returns ErrMissingCodeVerifier,
				// which has no OAuth error: server_error.
				"token.verifier-missing":       serverError + ": a code with a challenge redeemed without a verifier",
				"token.verifier-blank":         serverError + ": a blank code_verifier",
				"token.downgrade":              serverError + ": a verifier for a code issued without a challenge",
				"token.duplicate-grant-type":   serverError + ": grant_type twice",
				"token.content-type-multipart": serverError + ": a multipart body",
				"token.oversized-body":         serverError + ": a 192 KiB body",
			},
			falseFails: map[string]string{
				"authorize.method-without-challenge": pendingNoPKCE,
				"authorize.challenge-blank":          pendingNoPKCE,
			},
			outcomes: map[string]pkcetest.Outcome{
				"authorize.no-challenge": pkcetest.Warn,
			},
		}},
		{"ForcePKCE on", true, verdicts{
			outcomes: map[string]pkcetest.Outcome{
				"authorize.no-challenge":             pkcetest.Pass,
				"authorize.method-without-challenge": pkcetest.Pass,
				"authorize.challenge-blank":          pkcetest.Pass,
				// invalid_request, from ForcePKCE's own check; issue 9:
				// a correct answer, pass.
				"token.verifier-missing":       pkcetest.Warn,
				"token.downgrade":              pkcetest.Pass,
				"token.content-type-multipart": pkcetest.Pass,
				"token.oversized-body":         pkcetest.Pass,
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin(t, audit(t, panelTarget(startGoOAuth2(t, tc.force))), combine(common, tc.v))
		})
	}
}
