package bench_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestPeers checks that every setup the benchmarks time enforces PKCE: the
// right verifier redeems a code, a wrong one is refused. Each attempt gets
// its own code, since all three peers burn a code at its first check.
func TestPeers(t *testing.T) {
	t.Run("go-pkce", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			verifier string
			status   int
			errCode  string
		}{
			{"right verifier", verifier, http.StatusOK, ""},
			{"wrong verifier", wrongVerifier, http.StatusBadRequest, "invalid_grant"},
			{"no verifier", "", http.StatusBadRequest, "invalid_grant"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := newMiddleware()
				code := ourAuthorize(t, m.Authorize(bareAuthorize(codes(1))))
				rec := httptest.NewRecorder()
				m.Token(bareToken).ServeHTTP(rec, tokenRequest(code, tc.verifier))
				if rec.Code != tc.status {
					t.Fatalf("token: status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
				if tc.errCode != "" {
					var e struct{ Error string }
					if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error != tc.errCode {
						t.Fatalf("token: %s, want error %s", rec.Body, tc.errCode)
					}
				}
			})
		}
	})

	t.Run("go-pkce Record", func(t *testing.T) {
		m := newMiddleware()
		c := codes(2)
		for _, code := range c {
			if err := m.Record(context.Background(), code, ourChallenge); err != nil {
				t.Fatal(err)
			}
		}
		for i, v := range []struct {
			verifier string
			status   int
		}{{wrongVerifier, http.StatusBadRequest}, {verifier, http.StatusOK}} {
			rec := httptest.NewRecorder()
			m.Token(bareToken).ServeHTTP(rec, tokenRequest(c[i], v.verifier))
			if rec.Code != v.status {
				t.Fatalf("verifier %q: status %d, want %d: %s", v.verifier, rec.Code, v.status, rec.Body)
			}
		}
	})

	t.Run("go-pkce refuses at authorize", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, "http://as.example/authorize?response_type=code&client_id=app&redirect_uri=x&code_challenge="+challenge+"&code_challenge_method=plain", nil)
		rec := httptest.NewRecorder()
		newMiddleware().Authorize(bareAuthorize(codes(1))).ServeHTTP(rec, r)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("plain challenge: status %d, want 400", rec.Code)
		}
	})

	t.Run("fosite", func(t *testing.T) {
		ctx := context.Background()
		for _, tc := range []struct {
			name     string
			verifier string
			errCode  string // "" for success
		}{
			{"right verifier", verifier, ""},
			{"wrong verifier", wrongVerifier, "invalid_grant"},
			{"no verifier", "", "invalid_grant"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFositePKCE(tc.verifier)
				if tc.verifier == "" {
					delete(f.tr.Form, "code_verifier")
				}
				code := codes(1)[0]
				if err := f.authorize(ctx, code); err != nil {
					t.Fatalf("authorize: %v", err)
				}
				err := f.token(ctx, []string{code})
				switch {
				case tc.errCode == "" && err != nil:
					t.Fatalf("token: %v", err)
				case tc.errCode != "" && !fositeRefusal(err, tc.errCode):
					t.Fatalf("token: %v, want %s", err, tc.errCode)
				}
				// Redeemed or failed, the challenge is gone.
				if err := f.token(ctx, []string{code}); err == nil {
					t.Fatal("a second token request for the code passed")
				}
			})
		}
	})

	t.Run("fosite with a code of its HMAC strategy", func(t *testing.T) {
		ctx := context.Background()
		f := newFositePKCE(verifier)
		cfg := f.h.Config.(*fosite.Config)
		code, _, err := compose.NewOAuth2HMACStrategy(cfg).GenerateAuthorizeCode(ctx, f.ar)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.authorize(ctx, code); err != nil {
			t.Fatalf("authorize: %v", err)
		}
		if err := f.token(ctx, []string{code}); err != nil {
			t.Fatalf("token: %v", err)
		}
	})

	t.Run("fosite refuses at authorize", func(t *testing.T) {
		f := newFositePKCE(verifier)
		f.ar.Form.Set("code_challenge_method", "plain")
		if err := f.authorize(context.Background(), codes(1)[0]); !fositeRefusal(err, "invalid_request") {
			t.Fatalf("plain challenge: %v, want invalid_request", err)
		}
	})

	t.Run("zitadel", func(t *testing.T) {
		if err := zitadelToken(verifier, zitadelChallenge); err != nil {
			t.Fatalf("right verifier: %v", err)
		}
		for _, v := range []string{wrongVerifier, "", challenge} {
			if err := zitadelToken(v, zitadelChallenge); err == nil {
				t.Fatalf("verifier %q passed", v)
			}
		}
		if err := zitadelToken(verifier, &oidc.CodeChallenge{Challenge: challenge, Method: oidc.CodeChallengeMethodPlain}); err == nil {
			t.Fatal("the S256 verifier passed a plain challenge it is not equal to")
		}
	})
}

// ourAuthorize sends the benchmark's authorization request through h and
// returns the code of its redirect.
func ourAuthorize(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, authorizeRequest())
	if rec.Code != http.StatusFound {
		t.Fatalf("authorize: status %d: %s", rec.Code, rec.Body)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("authorize: no code in %q", loc)
	}
	return code
}
