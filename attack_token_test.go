package pkce_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// White-box attack rows for the token endpoint (issue 8, items 2, 4 and 5),
// run on attack_test.go's rig with its common checks: a thief holding each
// minted code gets no token with no verifier or a wrong one, the careless
// server issues exactly the row's legitimate tokens, every middleware
// refusal is logged, and no log carries a secret. To be merged into
// TestAttacks: attackCase then needs the two hooks below.

// tokenAttackCase is an attackCase with a token handler of its own and a
// handler in front of the whole server. Its store is a MemoryStore, which
// can put a take back (pkce.Restorer).
type tokenAttackCase struct {
	attackCase
	// token wraps the careless server's token handler, inside the
	// middleware; nil: the careless server's.
	token func(rig *attackRig, next http.Handler) http.Handler
	// outer runs in front of the whole server (a logger that reads the
	// body, a recovery handler); nil: none.
	outer func(http.Handler) http.Handler
}

func TestTokenAttacks(t *testing.T) {
	// refuseBasicOnce refuses the first request that carries HTTP Basic.
	refuseBasic := func(rig *attackRig, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, _, ok := r.BasicAuth(); ok {
				writeInvalidClient(w)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	failOnce := func(status int) func(*attackRig, http.Handler) http.Handler {
		return func(rig *attackRig, next http.Handler) http.Handler {
			var n atomic.Int32
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					http.Error(w, "try again", status)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	recoverer := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if recover() != nil {
					http.Error(w, "internal error", http.StatusInternalServerError)
				}
			}()
			h.ServeHTTP(w, r)
		})
	}
	outerRead := func(read func(r *http.Request)) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					read(r)
				}
				h.ServeHTTP(w, r)
			})
		}
	}

	cases := []tokenAttackCase{
		{
			attackCase: attackCase{
				name:   "token handler refuses HTTP Basic after a passed check: the retry in the body gets the token (x/oauth2 AuthStyle auto-detect)",
				tokens: 1,
				attack: func(t *testing.T, rig *attackRig) {
					a := rig.authorize(t, nil)
					code := rig.codeOf(t, a)
					first := rig.sendRaw(t, autoDetectFirst(code, a.verifier, "app"))
					require.Equal(t, http.StatusUnauthorized, first.Status, "%s", first.Body)
					rig.redeemOnce(t, a)
				},
			},
			token: refuseBasic,
		},
		{
			attackCase: attackCase{
				name:   "token handler refuses HTTP Basic: a thief's Basic attempt without a verifier burns the code, the victim's retry fails",
				tokens: 0,
				attack: func(t *testing.T, rig *attackRig) {
					a := rig.authorize(t, nil)
					code := rig.codeOf(t, a)
					thief := rig.sendRaw(t, autoDetectFirst(code, pkce.GenerateVerifier(), "app"))
					assertRefused(t, thief, http.StatusBadRequest, "invalid_grant")
					rig.countRefusal()
					got := rig.exchange(t, code, a.verifier)
					rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
				},
			},
			token: refuseBasic,
		},
		{
			attackCase: attackCase{
				name:   "token handler answers 500 after a passed check: the code is put back and redeems once",
				tokens: 1,
				attack: func(t *testing.T, rig *attackRig) {
					a := rig.authorize(t, nil)
					code := rig.codeOf(t, a)
					first := rig.sendRaw(t, formReq(authForm(code, a.verifier)))
					require.Equal(t, http.StatusInternalServerError, first.Status)
					rig.redeemOnce(t, a)
					got := rig.exchange(t, code, a.verifier)
					rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
				},
			},
			token: failOnce(http.StatusInternalServerError),
		},
		{
			attackCase: attackCase{
				name:   "token handler panics after a passed check: the code stays used",
				tokens: 0,
				attack: func(t *testing.T, rig *attackRig) {
					a := rig.authorize(t, nil)
					code := rig.codeOf(t, a)
					first := rig.sendRaw(t, formReq(authForm(code, a.verifier)))
					require.Equal(t, http.StatusInternalServerError, first.Status)
					got := rig.exchange(t, code, a.verifier)
					rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
				},
			},
			token: func(rig *attackRig, next http.Handler) http.Handler {
				return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("token store down") })
			},
			outer: recoverer,
		},
		{
			attackCase: attackCase{
				name:   "body parsed by r.ParseForm before the middleware: checked as parsed, the stolen code gets nothing",
				tokens: 1,
				attack: func(t *testing.T, rig *attackRig) {
					stolen := rig.codeOf(t, rig.authorize(t, nil))
					got := rig.exchange(t, stolen, "")
					rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
					rig.redeemOnce(t, rig.authorize(t, nil))
				},
			},
			outer: outerRead(func(r *http.Request) { _ = r.ParseForm() }),
		},
		{
			attackCase: attackCase{
				name:   "body drained before the middleware: 500 naming the misordering, nothing passes",
				tokens: 0,
				attack: func(t *testing.T, rig *attackRig) {
					a := rig.authorize(t, nil)
					got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
					rig.assertTokenRefused(t, got, http.StatusInternalServerError, "server_error")
					assert.Contains(t, got.Description, "read before the PKCE middleware")
					assert.Contains(t, rig.logText(), `"level":"ERROR","msg":"pkce: request refused","endpoint":"token"`)
				},
			},
			outer: outerRead(func(r *http.Request) { _, _ = io.ReadAll(r.Body) }),
		},
		{
			attackCase: attackCase{
				name:   "chunked body drained before the middleware: no grant_type, refused",
				tokens: 0,
				attack: func(t *testing.T, rig *attackRig) {
					a := rig.authorize(t, nil)
					q := formReq(authForm(rig.codeOf(t, a), ""))
					q.chunked = true
					got := rig.sendRaw(t, q)
					assertRefused(t, got, http.StatusBadRequest, "invalid_request")
					rig.countRefusal()
				},
			},
			outer: outerRead(func(r *http.Request) { _, _ = io.ReadAll(r.Body) }),
		},
		{
			attackCase: attackCase{
				name:   "no grant_type: refused, never passed on as another grant",
				tokens: 0,
				attack: func(t *testing.T, rig *attackRig) {
					a := rig.authorize(t, nil)
					got := rig.sendRaw(t, formReq(without(authForm(rig.codeOf(t, a), ""), "grant_type")))
					assertRefused(t, got, http.StatusBadRequest, "invalid_request")
					rig.countRefusal()
				},
			},
		},
		{
			attackCase: attackCase{
				name:   "a code minted where the middleware could not see it: the refusal says why, not to drop the verifier",
				tokens: 0,
				attack: func(t *testing.T, rig *attackRig) {
					code := rig.mint()
					got := rig.exchange(t, code, pkce.GenerateVerifier())
					rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
					assert.Contains(t, got.Description, "no code_challenge was recorded for this code")
					assert.Contains(t, got.Description, "Record")
					assert.NotContains(t, got.Description, "or no code_verifier")
				},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var token atomic.Pointer[http.Handler]
			ac := tc.attackCase
			ac.bare = pkce.NewMemoryStore()
			ac.wrap = func(h http.Handler) http.Handler {
				mux := h
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if th := token.Load(); th != nil && r.URL.Path == "/token" {
						(*th).ServeHTTP(w, r)
						return
					}
					mux.ServeHTTP(w, r)
				})
				if tc.outer != nil {
					h = tc.outer(h)
				}
				return h
			}
			rig := newAttackRig(t, ac)
			if tc.token != nil {
				th := rig.m.Token(tc.token(rig, http.HandlerFunc(rig.serveToken)))
				token.Store(&th)
			}
			tc.attack(t, rig)
			rig.assertNothingPassed(t, ac)
		})
	}
}

// sendRaw sends a token request that the row expects the wrapped handler, not
// the middleware, to answer, or whose middleware refusal the row counts
// itself (countRefusal); the verifier it carries is a secret the logs must
// not show.
func (rig *attackRig) sendRaw(t *testing.T, q tokenReq) answer {
	t.Helper()
	if f, err := url.ParseQuery(q.body); err == nil {
		rig.addSecrets(f.Get("code_verifier"))
	} else if strings.Contains(q.body, "code_verifier") {
		t.Fatalf("cannot read the verifier of %q", q.body)
	}
	return rig.stack.send(t, q)
}

// countRefusal counts a middleware refusal the row saw through send.
func (rig *attackRig) countRefusal() {
	rig.mu.Lock()
	rig.refusals++
	rig.mu.Unlock()
}
