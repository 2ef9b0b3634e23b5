package auditpanel

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
			// DefaultValidateURI: strings.HasSuffix(redirect.Host, base.Host).
			"authorize.unregistered-redirect": "a code sent to another path, another scheme and a look-alike host (evil + the registered host): go-oauth2 only checks that the host ends with the registered one",
		},
		skips: merge(noPAR, map[string]string{
			"metadata.openid-configuration":     "an OAuth-only server: no OpenID document",
			"metadata.identical":                "an OAuth-only server: one metadata document",
			"token.basic-form-encoded":          "the audited client is public",
			"token.retry-bad-auth-then-correct": "go-oauth2 ignores a Basic secret sent for a public client, so there is no refusal to recover from",
		}),
		outcomes: map[string]pkcetest.Outcome{
			"metadata.plain-not-listed": pkcetest.Warn, // its default config accepts plain, and says so
			"metadata.plain-consistent": pkcetest.Pass,
			"authorize.valid-s256":      pkcetest.Pass,
			"authorize.challenge-short": pkcetest.Pass, // under 43 characters: refused
			"token.valid":               pkcetest.Pass,
			"token.verifier-wrong":      pkcetest.Warn, // refused with 401, not 400
			"token.replay":              pkcetest.Warn, // refused with 401, not 400
			// Issue 9's deviations: each a warn, none a fail. go-oauth2
			// takes any challenge of 43 to 128 characters, and deletes
			// the code before it checks the verifier (the code is burnt on
			// the first try).
			"authorize.challenge-hex":        pkcetest.Warn,
			"authorize.challenge-padded":     pkcetest.Warn,
			"authorize.challenge-long":       pkcetest.Warn,
			"authorize.challenge-std-base64": pkcetest.Warn,
			"authorize.duplicate-query":      pkcetest.Warn,
			"authorize.duplicate-empty":      pkcetest.Warn,
			"authorize.duplicate-method":     pkcetest.Warn,
			"authorize.duplicate-form":       pkcetest.Warn,
			"authorize.duplicate-query-form": pkcetest.Warn,
			"token.verifier-malformed":       pkcetest.Warn,
			"token.verifier-short":           pkcetest.Warn,
			"token.verifier-long":            pkcetest.Warn,
			"token.verifier-non-ascii":       pkcetest.Warn,
			"token.verifier-in-query":        pkcetest.Warn, // a correct verifier, read from the query
			"token.duplicate-verifier":       pkcetest.Warn,
			"hygiene.constant-challenge":     pkcetest.Info,
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
				"token.basic-undecodable":      serverError + ": an undecodable Basic header",
				"token.duplicate-grant-type":   serverError + ": grant_type twice",
				"token.content-type-multipart": serverError + ": a multipart body",
				"token.oversized-body":         serverError + ": a 192 KiB body",
			},
			outcomes: map[string]pkcetest.Outcome{
				"authorize.no-challenge":             pkcetest.Warn,
				"authorize.method-without-challenge": pkcetest.Warn, // taken as no PKCE, as no-challenge
				"authorize.challenge-blank":          pkcetest.Warn,
				"authorize.implicit-flow":            pkcetest.Warn, // response_type=token is on by default
				"token.retry-wrong-then-none":        pkcetest.Warn, // refused with 401, not 400
			},
		}},
		{"ForcePKCE on", true, verdicts{
			outcomes: map[string]pkcetest.Outcome{
				"authorize.no-challenge":             pkcetest.Pass,
				"authorize.method-without-challenge": pkcetest.Pass,
				"authorize.challenge-blank":          pkcetest.Pass,
				"authorize.implicit-flow":            pkcetest.Pass, // refused: ForcePKCE wants a challenge there too
				// invalid_request from ForcePKCE's own check: a correct
				// answer to a missing parameter.
				"token.verifier-missing":       pkcetest.Pass,
				"token.retry-wrong-then-none":  pkcetest.Pass,
				"token.downgrade":              pkcetest.Pass,
				"token.basic-undecodable":      pkcetest.Warn,
				"token.content-type-multipart": pkcetest.Pass,
				"token.oversized-body":         pkcetest.Pass,
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := audit(t, panelTarget(startGoOAuth2(t, tc.force)))
			pin(t, results, combine(common, tc.v))
			// The look-alike host of issue 9 is among the places a code
			// went.
			if d := results["authorize.unregistered-redirect"].Detail; !strings.Contains(d, "http://evil127.0.0.1:9/callback?code=") {
				t.Errorf("authorize.unregistered-redirect: no code at the look-alike host evil127.0.0.1: %s", d)
			}
		})
	}
}
