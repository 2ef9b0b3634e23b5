package auditpanel

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/go-pkce/pkce/pkcetest"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
)

// startFosite serves github.com/ory/fosite v0.49.0 as its documentation
// wires it: the authorization code grant with refresh tokens and PKCE
// (compose's factories, HMAC tokens, the memory store), behind a small
// net/http front that publishes RFC 8414 metadata (fosite has none of its
// own; the server is OAuth-only) and consents at once for panel-user.
// enforce is fosite.Config.EnforcePKCE. It returns the issuer.
//
// The memory store hands every reader the one stored session, which
// fosite's token handler then writes to: concurrent redemptions of one
// code (token.parallel) are a data race in the store, which a database
// store, decoding a fresh copy for each reader, does not have. copyingStore
// gives each reader its own copy, as such a store does.
func startFosite(t *testing.T, enforce bool) string {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	issuer := srv.URL

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfg := &fosite.Config{
		GlobalSecret: secret,
		EnforcePKCE:  enforce,
	}
	store := copyingStore{storage.NewMemoryStore()}
	for _, id := range []string{panelClient, otherClient} {
		store.Clients[id] = &fosite.DefaultClient{
			ID:            id,
			Public:        true,
			RedirectURIs:  []string{panelRedirect},
			ResponseTypes: []string{"code"},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
		}
	}
	provider := compose.Compose(cfg, store, compose.NewOAuth2HMACStrategy(cfg),
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2PKCEFactory,
	)

	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-authorization-server", serveMetadata(metadata{
		Issuer:                            issuer,
		AuthorizationEndpoint:             issuer + "/authorize",
		TokenEndpoint:                     issuer + "/token",
		ResponseTypesSupported:            []string{"code"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		CodeChallengeMethodsSupported:     []string{"S256"}, // EnablePKCEPlainChallengeMethod is off
	}))
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAuthorizeRequest(ctx, r)
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		resp, err := provider.NewAuthorizeResponse(ctx, ar, &fosite.DefaultSession{Subject: panelUser})
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		provider.WriteAuthorizeResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAccessRequest(ctx, r, &fosite.DefaultSession{})
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		provider.WriteAccessResponse(ctx, w, ar, resp)
	})
	srv.Config.Handler = mux
	return issuer
}

// TestFosite audits fosite without and with EnforcePKCE.
func TestFosite(t *testing.T) {
	// What fosite does the same either way.
	common := verdicts{
		skips: merge(noPAR, map[string]string{
			"metadata.openid-configuration":     "an OAuth-only server: no OpenID document",
			"metadata.identical":                "an OAuth-only server: one metadata document",
			"token.basic-form-encoded":          "the audited client is public",
			"token.retry-bad-auth-then-correct": "fosite ignores a Basic secret sent for a public client, so there is no refusal to recover from",
		}),
		outcomes: map[string]pkcetest.Outcome{
			"metadata.plain-consistent":       pkcetest.Pass,
			"authorize.valid-s256":            pkcetest.Pass,
			"authorize.duplicate-method":      pkcetest.Pass,
			"authorize.unregistered-redirect": pkcetest.Pass, // fosite's loopback match: host, path and query exact
			"authorize.implicit-flow":         pkcetest.Pass,
			"token.valid":                     pkcetest.Pass,
			"token.verifier-wrong":            pkcetest.Pass,
			"token.verifier-short":            pkcetest.Pass,
			"token.retry-wrong-then-correct":  pkcetest.Pass,
			"token.replay":                    pkcetest.Pass,
			"token.downgrade":                 pkcetest.Pass,
			"token.other-client-body":         pkcetest.Pass,
			// Issue 9's deviations: each a warn, none a fail. fosite takes
			// any challenge string and compares at the token endpoint, so
			// a malformed one leaves the code unusable.
			"authorize.challenge-hex":        pkcetest.Warn,
			"authorize.challenge-padded":     pkcetest.Warn,
			"authorize.challenge-short":      pkcetest.Warn,
			"authorize.challenge-long":       pkcetest.Warn,
			"authorize.challenge-std-base64": pkcetest.Warn,
			"authorize.duplicate-query":      pkcetest.Warn,
			"authorize.duplicate-empty":      pkcetest.Warn,
			"authorize.duplicate-form":       pkcetest.Warn,
			"authorize.duplicate-query-form": pkcetest.Warn,
			"token.duplicate-verifier":       pkcetest.Warn, // the correct one of two read
			"token.basic-undecodable":        pkcetest.Warn, // ignored for a public client
			"hygiene.constant-challenge":     pkcetest.Info,
		},
		unpinned: map[string]string{
			"token.parallel": "a race: measured by TestRaceDetection, not pinned",
		},
	}
	for _, tc := range []struct {
		name    string
		enforce bool
		v       verdicts
	}{
		{"optional", false, verdicts{
			flaws: map[string]string{
				// The peer bug of SPEC.md: a failed check deletes the PKCE
				// session but leaves the code valid.
				"token.retry-wrong-then-none": "after a wrong verifier, the retry without a verifier got a token: PKCE bypassed by failing it once",
			},
			outcomes: map[string]pkcetest.Outcome{
				"authorize.no-challenge":             pkcetest.Warn,
				"authorize.method-without-challenge": pkcetest.Warn, // taken as no PKCE, as no-challenge
				"authorize.challenge-blank":          pkcetest.Warn,
			},
		}},
		{"enforced", true, verdicts{
			outcomes: map[string]pkcetest.Outcome{
				"authorize.no-challenge":             pkcetest.Pass,
				"authorize.method-without-challenge": pkcetest.Pass,
				"authorize.challenge-blank":          pkcetest.Pass,
				// fosite answers the retry invalid_request ("must include
				// a code_challenge"): a correct answer to a missing
				// parameter.
				"token.retry-wrong-then-none": pkcetest.Pass,
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin(t, audit(t, panelTarget(startFosite(t, tc.enforce))), combine(common, tc.v))
		})
	}
}

// copyingStore is fosite's memory store whose authorization code sessions
// are read as copies, as from a database.
type copyingStore struct{ *storage.MemoryStore }

func (s copyingStore) GetAuthorizeCodeSession(ctx context.Context, code string, session fosite.Session) (fosite.Requester, error) {
	r, err := s.MemoryStore.GetAuthorizeCodeSession(ctx, code, session)
	if r == nil {
		return r, err
	}
	if stored, ok := r.(storage.StoreAuthorizeCode); ok {
		r = stored.Requester
	}
	req, ok := r.(*fosite.Request)
	if !ok {
		return nil, fmt.Errorf("panel: a stored authorization code session of type %T", r)
	}
	c := *req
	c.Form = url.Values{}
	for k, v := range req.Form {
		c.Form[k] = slices.Clone(v)
	}
	c.RequestedScope = slices.Clone(req.RequestedScope)
	c.GrantedScope = slices.Clone(req.GrantedScope)
	c.RequestedAudience = slices.Clone(req.RequestedAudience)
	c.GrantedAudience = slices.Clone(req.GrantedAudience)
	if req.Session != nil {
		c.Session = req.Session.Clone()
	}
	return &c, err
}
