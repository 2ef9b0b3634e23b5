package pkce_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// White-box attack tests: what the black-box audit kit (pkcetest) cannot
// reach because it needs a faulty store, a tricky wrapped handler or a
// client that hangs up. Each row is one attack and its fail-closed outcome,
// through a real httptest server in front of a careless homegrown server
// (homegrown_test.go) that issues a token for any code it minted.
//
// After every row, whatever the row did:
//   - no code reached the wire before its challenge was saved (checked on
//     the real response writer, 1xx headers included), unless the row is a
//     documented limit (unbound);
//   - a thief holding each minted code, without a verifier and with a wrong
//     one, gets no token;
//   - the careless server issued exactly the row's legitimate tokens, and no
//     other authorization_code request reached it;
//   - the debug-level logs hold no verifier, challenge or code, and every
//     refusal was logged.

// attackStore is a MemoryStore with faults injected per operation. It
// records the keys it saved, so the rig can tell a bound code from an
// unbound one on the wire.
type attackStore struct {
	mem     *pkce.MemoryStore
	save    func(ctx context.Context) error // before the save; an error fails it
	take    func(ctx context.Context) error // before the take; an error fails it
	rewrite func(pkce.Challenge) pkce.Challenge
	release chan struct{} // closed when the row ends: stalled calls return

	saving chan struct{} // closed when the first Save begins
	once   sync.Once
	mu     sync.Mutex
	saved  map[string]bool
}

func (s *attackStore) Save(ctx context.Context, key string, c pkce.Challenge) error {
	s.once.Do(func() { close(s.saving) })
	if s.save != nil {
		if err := s.save(ctx); err != nil {
			return err
		}
	}
	if err := s.mem.Save(ctx, key, c); err != nil {
		return err
	}
	s.mu.Lock()
	s.saved[key] = true
	s.mu.Unlock()
	return nil
}

func (s *attackStore) Take(ctx context.Context, key string) (pkce.Challenge, error) {
	if s.take != nil {
		if err := s.take(ctx); err != nil {
			return pkce.Challenge{}, err
		}
	}
	c, err := s.mem.Take(ctx, key)
	if err == nil && s.rewrite != nil {
		c = s.rewrite(c)
	}
	return c, err
}

func (s *attackStore) bound(code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saved[pkce.S256Challenge(code)] // the key the middleware derives
}

// attackRig is one row's world: the careless server wrapped by the
// middleware, a wire spy on the authorization endpoint, debug logs.
type attackRig struct {
	*stack
	store *attackStore // nil when the row runs a bare MemoryStore
	logs  *bytes.Buffer
	logMu sync.Mutex

	mu         sync.Mutex
	minted     []string // every code the authorization side minted
	secrets    []string // verifiers and challenges the row sent
	violations []string // codes that reached the wire unbound
	statuses   []int    // every status the authorization endpoint wrote
	refusals   int      // middleware refusals the client saw
	done       chan struct{}
}

// attackCase is one row of the catalogue.
type attackCase struct {
	name    string
	cfg     pkce.Config                   // Store and Logger are the rig's
	store   func(*attackStore)            // faults; nil: none
	bare    *pkce.MemoryStore             // a real store instead of attackStore
	handler func(*attackRig) http.Handler // nil: the homegrown server's
	wrap    func(http.Handler) http.Handler
	attack  func(t *testing.T, rig *attackRig)
	tokens  int  // tokens the careless server may issue: the legitimate client's
	unbound bool // a documented limit: codes leave unbound and must fail at /token
	// neverSent: the row proves its codes never left the server, so no
	// thief can hold them (under an optional policy, a code never sent and
	// never bound would redeem without a verifier: it must never be sent).
	neverSent bool
}

// attackTimeout is a store timeout short enough that a row waits little,
// and attackBound the generous bound within which such a row must answer.
const (
	attackTimeout = 50 * time.Millisecond
	attackBound   = 3 * time.Second
)

func TestAttacks(t *testing.T) {
	boom := errors.New("connection refused")
	fail := func(err error) func(context.Context) error {
		return func(context.Context) error { return err }
	}
	page := func(before, code, after string) string {
		return `<html><body onload="document.forms[0].submit()"><form method="post" action="` + testRedirect + `">` + before +
			`<input type="hidden" name="code" value="` + code + `"><input type="hidden" name="state" value="xyz"></form>` + after + `</body></html>`
	}
	// 2,048 bytes, e.g. the hidden inputs of a large state.
	padding := strings.Repeat(`<input type="hidden" name="x" value="lorem ipsum">`, 41)

	cases := []attackCase{
		{
			name:  "store error at Save: no code reaches the client of a redirect",
			store: func(s *attackStore) { s.save = fail(boom) },
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
			},
		},
		{
			name:  "store error at Save: no code reaches the client of a form_post page",
			store: func(s *attackStore) { s.save = fail(boom) },
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"form_post"}})
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
			},
		},
		{
			name:  "store error at Take: nothing passes to the token handler",
			store: func(s *attackStore) { s.take = fail(boom) },
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				rig.assertTokenRefused(t, got, http.StatusInternalServerError, "server_error")
			},
		},
		{
			name:  "store ignoring its context, slower than StoreTimeout at Save",
			cfg:   pkce.Config{StoreTimeout: attackTimeout},
			store: stall(true, false),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Less(t, a.elapsed, attackBound, "the request fails in time")
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
			},
		},
		{
			name:  "store ignoring its context, slower than StoreTimeout at Take",
			cfg:   pkce.Config{StoreTimeout: attackTimeout},
			store: stall(false, true),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				start := time.Now()
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				assert.Less(t, time.Since(start), attackBound, "the request fails in time")
				rig.assertTokenRefused(t, got, http.StatusInternalServerError, "server_error")
			},
		},
		{
			name:  "store ignoring its context, slower than the request's own deadline",
			cfg:   pkce.Config{StoreTimeout: time.Minute}, // the deadline must be what stops it
			store: stall(true, true),
			wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ctx, cancel := context.WithTimeout(r.Context(), attackTimeout)
					defer cancel()
					h.ServeHTTP(w, r.WithContext(ctx))
				})
			},
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Less(t, a.elapsed, attackBound, "the request fails in time")
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
				// The thief's redemptions of the minted code meet the stalled
				// Take: they too must fail in time (timed by the common checks).
			},
		},
		{
			name: "client cancels the authorization request mid-save",
			cfg:  pkce.Config{StoreTimeout: time.Minute}, // the cancellation must be what stops it
			store: func(s *attackStore) {
				s.save = func(ctx context.Context) error {
					<-ctx.Done() // a store that honours its context
					return ctx.Err()
				}
			},
			attack: func(t *testing.T, rig *attackRig) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() {
					<-rig.store.saving
					cancel()
				}()
				verifier := pkce.GenerateVerifier()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, rig.authorizeURL(verifier, nil), nil)
				require.NoError(t, err)
				rig.addSecrets(verifier, pkce.S256Challenge(verifier))
				resp, err := noRedirect.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				require.ErrorIs(t, err, context.Canceled)
				select {
				case <-rig.done:
				case <-time.After(attackBound):
					t.Fatal("the authorization handler still runs after its client went away")
				}
				rig.mu.Lock()
				assert.Equal(t, []int{http.StatusInternalServerError}, rig.statuses, "the abandoned response is an error, never the redirect")
				rig.mu.Unlock()
				codes := rig.mintedCodes()
				require.Len(t, codes, 1)
				got := rig.exchange(t, codes[0], verifier)
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
		{
			name:  "ErrStoreFull at authorize: 503 and no code",
			store: func(s *attackStore) { s.save = fail(fmt.Errorf("shard 3: %w", pkce.ErrStoreFull)) },
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusServiceUnavailable, "temporarily_unavailable")
				rig.assertNoCode(t, a)
			},
		},
		{
			name:   "a real MemoryStore at its MaxEntries limit refuses the next authorization",
			bare:   pkce.NewMemoryStoreWithOptions(pkce.MemoryStoreOptions{MaxEntries: 2}),
			tokens: 2,
			attack: func(t *testing.T, rig *attackRig) {
				first, second := rig.authorize(t, nil), rig.authorize(t, nil)
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusServiceUnavailable, "temporarily_unavailable")
				rig.assertNoCode(t, a)
				// The two recorded codes still redeem: the limit refuses new
				// flows, it does not break running ones.
				for _, ok := range []authorizeResult{first, second} {
					got := rig.exchange(t, rig.codeOf(t, ok), ok.verifier)
					assert.Equal(t, http.StatusOK, got.Status, got.Description)
				}
			},
		},
		{
			name: "Location with a code set after the body started never leaves",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "<p>hello</p>")
				w.Header().Set("Location", testRedirect+"?code="+rig.mint())
			}),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Equal(t, http.StatusOK, a.resp.StatusCode)
				rig.assertNoCode(t, a)
			},
		},
		{
			name: "WriteHeader twice: the first wins and its code is bound before it leaves",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", testRedirect+"?code="+rig.mint())
				w.WriteHeader(http.StatusSeeOther)
				w.Header().Set("Location", testRedirect+"?code="+rig.mint())
				w.WriteHeader(http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Equal(t, http.StatusSeeOther, a.resp.StatusCode)
				rig.redeemOnce(t, a)
			},
		},
		{
			name: "flush before redirecting: the code is bound before the flush",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", testRedirect+"?code="+rig.mint())
				w.(http.Flusher).Flush()
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Equal(t, http.StatusOK, a.resp.StatusCode, "a flush implies 200")
				rig.redeemOnce(t, a)
			},
		},
		{
			name: "http.ResponseController flush in the middle of a form_post page",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				p := page("", rig.mint(), "")
				half := len(p) / 2
				io.WriteString(w, p[:half])
				if err := http.NewResponseController(w).Flush(); err != nil {
					panic(err)
				}
				io.WriteString(w, p[half:])
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
			},
		},
		{
			name: "103 Early Hints first: passes through, the code is bound before the final response",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Set("Location", testRedirect+"?code="+rig.mint())
				w.WriteHeader(http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				require.Len(t, a.early, 1, "the 103 reached the client")
				assert.Equal(t, "</style.css>; rel=preload", a.early[0].Get("Link"))
				assert.Equal(t, http.StatusFound, a.resp.StatusCode)
				rig.redeemOnce(t, a)
			},
		},
		// These two rows fail until Authorize stops sending the header map,
		// Location and code included, with a 1xx (net/http sends the whole
		// map): the code leaves before it is bound, and when the save then
		// fails the client has it anyway.
		{
			name: "103 Early Hints sent with the code's Location already set: the code does not leave unbound",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", testRedirect+"?code="+rig.mint())
				w.Header().Set("Link", "</style.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusFound)
			}),
			store:  func(s *attackStore) { s.save = fail(boom) },
			tokens: 0,
			attack: func(t *testing.T, rig *attackRig) {
				// The store fails: the final answer is a 500, and the code
				// must not have left in the 103 either.
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
			},
		},
		{
			name: "103 Early Hints with the code's Location set, store failing, PKCE optional: no token",
			cfg:  pkce.Config{Require: func(*http.Request, string) bool { return false }},
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", testRedirect+"?code="+rig.mint())
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusFound)
			}),
			store:     func(s *attackStore) { s.save = fail(boom) },
			neverSent: true,
			attack: func(t *testing.T, rig *attackRig) {
				// The client asked for PKCE, the store failed: the code must
				// be lost, not sent with the 103, or a thief would redeem it
				// without a verifier.
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
			},
		},
		{
			name: "Location under a non-canonical header key: bound like any Location",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header()["location"] = []string{testRedirect + "?code=" + rig.mint()} // goes out as is; clients read it
				w.WriteHeader(http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Equal(t, http.StatusFound, a.resp.StatusCode)
				rig.redeemOnce(t, a)
			},
		},
		{
			name: "form_post page larger than MaxCaptureBytes, code past the bound: not bound, its token request fails closed",
			cfg:  pkce.Config{MaxCaptureBytes: 1024},
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, page(padding, rig.mint(), ""))
			}),
			unbound: true,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Equal(t, http.StatusOK, a.resp.StatusCode)
				assert.Contains(t, rig.logText(), "longer than the capture bound", "the uncaptured code is logged")
				// Even the legitimate client's verifier is refused: under the
				// default policy an unbound code never passes.
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
		{
			name: "form_post page larger than MaxCaptureBytes, code within the bound: bound",
			cfg:  pkce.Config{MaxCaptureBytes: 1024},
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, page("", rig.mint(), padding))
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Greater(t, len(a.body), 1024)
				rig.redeemOnce(t, a)
			},
		},
		{
			name:   "code in the fragment of a code id_token response",
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_type": {"code id_token"}, "nonce": {"n"}})
				loc, err := url.Parse(a.resp.Header.Get("Location"))
				require.NoError(t, err)
				assert.Empty(t, loc.Query().Get("code"))
				require.NotEmpty(t, loc.Fragment)
				rig.redeemOnce(t, a)
			},
		},
		{
			name: "code hidden behind entity encoding in a form_post page",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				var enc strings.Builder
				for _, c := range rig.mint() {
					fmt.Fprintf(&enc, "&#x%x;", c)
				}
				// The name is encoded too; a browser decodes both and posts the code.
				io.WriteString(w, `<form method=post action=`+testRedirect+`><input value='`+enc.String()+`' name='&#99;ode' type=hidden></form>`)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.NotContains(t, a.body, rig.mintedCodes()[0], "the code is only there encoded")
				rig.redeemOnce(t, a)
			},
		},
		{
			name: "code in a JSON body, which no response mode uses: not bound, its token request fails closed",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"code":%q}`, rig.mint())
			}),
			unbound: true,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
		{
			name:  "store returns the challenge without its method: no verifier matches",
			store: func(s *attackStore) { s.rewrite = func(c pkce.Challenge) pkce.Challenge { c.Method = ""; return c } },
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				// Absent means plain at authorize (RFC 7636 §4.3), never at
				// the token endpoint: the challenge as verifier is refused.
				got := rig.exchange(t, rig.codeOf(t, a), pkce.S256Challenge(a.verifier))
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
		{
			name: "store returns the challenge as plain while plain is disabled: the public challenge is no verifier",
			store: func(s *attackStore) {
				s.rewrite = func(c pkce.Challenge) pkce.Challenge { c.Method = pkce.Plain; return c }
			},
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				got := rig.exchange(t, rig.codeOf(t, a), pkce.S256Challenge(a.verifier))
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
		{
			name: "store returns the challenge under an unknown method: no verifier matches",
			store: func(s *attackStore) {
				s.rewrite = func(c pkce.Challenge) pkce.Challenge { c.Method = "S512"; return c }
			},
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
	}
	require.GreaterOrEqual(t, len(cases), 12)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rig := newAttackRig(t, tc)
			tc.attack(t, rig)
			rig.assertNothingPassed(t, tc)
		})
	}
}

// stall returns store faults that block Save and/or Take, ignoring the
// context, until the row ends.
func stall(save, take bool) func(*attackStore) {
	return func(s *attackStore) {
		s.release = make(chan struct{})
		block := func(context.Context) error {
			<-s.release
			return errors.New("released")
		}
		if save {
			s.save = block
		}
		if take {
			s.take = block
		}
	}
}

// trick builds a wrapped authorization handler from a function that mints
// its codes with rig.mint.
func trick(f func(rig *attackRig, w http.ResponseWriter, r *http.Request)) func(*attackRig) http.Handler {
	return func(rig *attackRig) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(rig, w, r) })
	}
}

func newAttackRig(t *testing.T, tc attackCase) *attackRig {
	t.Helper()
	rig := &attackRig{logs: &bytes.Buffer{}, done: make(chan struct{}, 16)}
	cfg := tc.cfg
	cfg.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&rig.logMu, rig.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if tc.bare != nil {
		cfg.Store = tc.bare
	} else {
		rig.store = &attackStore{mem: pkce.NewMemoryStore(), saving: make(chan struct{}), saved: map[string]bool{}}
		if tc.store != nil {
			tc.store(rig.store)
		}
		if rig.store.release != nil {
			t.Cleanup(func() { close(rig.store.release) }) // after the server closed
		}
		cfg.Store = rig.store
	}
	m, err := pkce.New(cfg)
	require.NoError(t, err)
	rig.stack = &stack{homegrown: newHomegrown(), m: m}
	authorize := http.Handler(http.HandlerFunc(rig.serveAuthorize))
	if tc.handler != nil {
		authorize = tc.handler(rig)
	}
	mux := http.NewServeMux()
	mux.Handle("/authorize", rig.spy(m.Authorize(authorize)))
	mux.Handle("/token", m.Token(http.HandlerFunc(rig.serveToken)))
	var h http.Handler = mux
	if tc.wrap != nil {
		h = tc.wrap(h)
	}
	rig.srv = httptest.NewServer(h)
	t.Cleanup(rig.srv.Close)
	return rig
}

// mint issues a code the careless server will redeem for client app.
func (rig *attackRig) mint() string {
	code := randomCode()
	rig.homegrown.mu.Lock()
	rig.codes[code] = "app"
	rig.homegrown.mu.Unlock()
	rig.mu.Lock()
	rig.minted = append(rig.minted, code)
	rig.mu.Unlock()
	return code
}

// mintedCodes returns every code minted so far, by the row's handler or by
// the homegrown server.
func (rig *attackRig) mintedCodes() []string {
	rig.homegrown.mu.Lock()
	rig.mu.Lock()
	for code := range rig.codes {
		if !contains(rig.minted, code) {
			rig.minted = append(rig.minted, code)
		}
	}
	out := append([]string(nil), rig.minted...)
	rig.mu.Unlock()
	rig.homegrown.mu.Unlock()
	return out
}

func (rig *attackRig) addSecrets(s ...string) {
	rig.mu.Lock()
	rig.secrets = append(rig.secrets, s...)
	rig.mu.Unlock()
}

func (rig *attackRig) logText() string {
	rig.logMu.Lock()
	defer rig.logMu.Unlock()
	return rig.logs.String()
}

// spy wraps the middleware's output: everything that reaches the real
// writer is checked for codes whose challenge is not saved yet.
func (rig *attackRig) spy(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { rig.done <- struct{}{} }()
		ww := &wireWriter{ResponseWriter: w, rig: rig}
		h.ServeHTTP(ww, r)
		if !ww.final {
			ww.header(http.StatusOK) // net/http sends 200 and the header as it is
		}
	})
}

// onWire records a code found in what leaves for the client while its
// challenge is not saved.
func (rig *attackRig) onWire(what, text string) {
	if rig.store == nil {
		return // a bare MemoryStore: the row checks binding itself
	}
	for _, code := range rig.mintedCodes() {
		if strings.Contains(text, code) && !rig.store.bound(code) {
			rig.mu.Lock()
			rig.violations = append(rig.violations, what+" carries a code whose challenge is not saved")
			rig.mu.Unlock()
		}
	}
}

// wireWriter is the real response writer as the middleware sees it.
type wireWriter struct {
	http.ResponseWriter
	rig   *attackRig
	final bool
	body  []byte
}

func (w *wireWriter) header(code int) {
	if code >= 200 {
		w.final = true
	}
	w.rig.mu.Lock()
	w.rig.statuses = append(w.rig.statuses, code)
	w.rig.mu.Unlock()
	var b strings.Builder
	_ = w.Header().Write(&b)
	w.rig.onWire(fmt.Sprintf("the header of a %d response", code), b.String())
}

func (w *wireWriter) WriteHeader(code int) {
	if !w.final {
		w.header(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *wireWriter) Write(b []byte) (int, error) {
	if !w.final {
		w.header(http.StatusOK)
	}
	w.body = append(w.body, b...)
	w.rig.onWire("the body", string(w.body))
	return w.ResponseWriter.Write(b)
}

func (w *wireWriter) Flush() {
	if !w.final {
		w.header(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *wireWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// authorizeResult is what the client received from the authorization
// endpoint.
type authorizeResult struct {
	resp     *http.Response
	body     string
	early    []textproto.MIMEHeader // 1xx headers
	verifier string
	elapsed  time.Duration
}

func (rig *attackRig) authorizeURL(verifier string, extra url.Values) string {
	v := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect}, "state": {"xyz"},
		"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
	for k, vs := range extra {
		v[k] = vs
	}
	return rig.srv.URL + "/authorize?" + v.Encode()
}

// authorize sends an authorization request with the S256 challenge of a
// fresh verifier, as a legitimate client would.
func (rig *attackRig) authorize(t *testing.T, extra url.Values) authorizeResult {
	t.Helper()
	a := authorizeResult{verifier: pkce.GenerateVerifier()}
	rig.addSecrets(a.verifier, pkce.S256Challenge(a.verifier))
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		a.early = append(a.early, h)
		return nil
	}}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rig.authorizeURL(a.verifier, extra), nil)
	require.NoError(t, err)
	start := time.Now()
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a.elapsed, a.resp, a.body = time.Since(start), resp, string(b)
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		rig.mu.Lock()
		rig.refusals++
		rig.mu.Unlock()
	}
	return a
}

// received returns the minted codes the client can read in a: in any
// header, 1xx ones too, or in the body, raw or entity-decoded.
func (rig *attackRig) received(a authorizeResult) []string {
	var seen strings.Builder
	_ = a.resp.Header.Write(&seen)
	for _, h := range a.early {
		_ = http.Header(h).Write(&seen)
	}
	seen.WriteString(a.body)
	seen.WriteString(html.UnescapeString(a.body))
	var got []string
	for _, code := range rig.mintedCodes() {
		if strings.Contains(seen.String(), code) {
			got = append(got, code)
		}
	}
	return got
}

// codeOf returns the one code the client received.
func (rig *attackRig) codeOf(t *testing.T, a authorizeResult) string {
	t.Helper()
	got := rig.received(a)
	require.Len(t, got, 1, "the client received one code: %d %s", a.resp.StatusCode, a.body)
	return got[0]
}

func (rig *attackRig) assertNoCode(t *testing.T, a authorizeResult) {
	t.Helper()
	assert.Empty(t, rig.received(a), "no code reaches the client: not in Location, another header, a 1xx or the body")
	assert.Empty(t, a.resp.Header.Get("Location"))
	assert.Empty(t, a.resp.Header.Values("Set-Cookie"))
}

func (rig *attackRig) assertRefused(t *testing.T, a authorizeResult, status int, code string) {
	t.Helper()
	assert.Equal(t, status, a.resp.StatusCode, a.body)
	assert.Equal(t, "no-store", a.resp.Header.Get("Cache-Control"))
	assert.Contains(t, a.body, `"error":"`+code+`"`)
	assert.Contains(t, a.body, `"error_description":"`)
}

// exchange redeems code as client app, counting the middleware's refusals.
func (rig *attackRig) exchange(t *testing.T, code, verifier string) tokenResponse {
	t.Helper()
	rig.addSecrets(verifier)
	before := rig.reached()
	got := rig.stack.exchange(t, code, verifier)
	if got.Status >= 400 && rig.reached() == before {
		rig.mu.Lock()
		rig.refusals++
		rig.mu.Unlock()
	}
	return got
}

func (rig *attackRig) reached() int {
	rig.homegrown.mu.Lock()
	defer rig.homegrown.mu.Unlock()
	return rig.grants["authorization_code"]
}

func (rig *attackRig) assertTokenRefused(t *testing.T, got tokenResponse, status int, code string) {
	t.Helper()
	assert.Equal(t, status, got.Status, got.Description)
	assert.Equal(t, code, got.Error)
	assert.NotEmpty(t, got.Description)
	assert.Equal(t, "no-store", got.Header.Get("Cache-Control"))
	assert.Empty(t, got.AccessToken)
}

// redeemOnce redeems the code the client received with its verifier: the
// code was bound, so the legitimate client gets its token.
func (rig *attackRig) redeemOnce(t *testing.T, a authorizeResult) {
	t.Helper()
	got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
	assert.NotEmpty(t, got.AccessToken)
}

// assertNothingPassed runs the thief and the common checks of every row.
func (rig *attackRig) assertNothingPassed(t *testing.T, tc attackCase) {
	t.Helper()
	for _, code := range rig.mintedCodes() {
		if tc.neverSent {
			break
		}
		for _, verifier := range []string{"", pkce.GenerateVerifier()} {
			start := time.Now()
			got := rig.exchange(t, code, verifier)
			assert.GreaterOrEqual(t, got.Status, 400, "a stolen code redeemed with verifier %q", verifier != "")
			assert.Empty(t, got.AccessToken)
			assert.Less(t, time.Since(start), attackBound)
		}
	}
	assert.Equal(t, tc.tokens, rig.tokensIssued(), "tokens issued by the careless server")
	assert.Equal(t, tc.tokens, rig.reached(), "authorization_code requests that reached the careless server")
	rig.mu.Lock()
	violations, secrets, refusals := rig.violations, append(rig.secrets, rig.minted...), rig.refusals
	rig.mu.Unlock()
	if !tc.unbound {
		assert.Empty(t, violations, "a code left before its challenge was saved")
	}
	logs := rig.logText()
	logged := strings.Count(logs, `"msg":"pkce: request refused"`) + strings.Count(logs, `"msg":"pkce: store failed"`)
	assert.GreaterOrEqual(t, logged, refusals, "every refusal is logged")
	for _, s := range secrets {
		if s != "" {
			assert.NotContains(t, logs, s, "a verifier, challenge or code in the debug logs")
		}
	}
}

// ---- Capture: only a code the wrapped handler issued is bound (issue 8 items 1, 3, 5) ----

// White-box rows for issue 8 items 1, 3 and 5 (capture): a stolen,
// unredeemed code V echoed back through the attacker's own authorization
// request is never bound to the attacker's challenge; one response writes
// at most one store entry; JARM and xhtml form_post responses are read.
// They run in the rig above (real servers, wire spy, thief, log checks).

func TestCaptureAttacks(t *testing.T) {
	cases := []attackCase{
		{
			name:    "echo (a): V in the redirect URI's own query is not rebound; the server's new code is bound",
			handler: trick(issueKeepingQuery),
			tokens:  2,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, nil)
				v := rig.codeOf(t, victim)
				attacker := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?code=" + v}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				codes := responseCodes(t, attacker)
				require.Len(t, codes, 2, "the redirect keeps the redirect URI's code=V and adds the new one")
				assert.Equal(t, v, codes[0])
				rig.assertVictimKeeps(t, victim, v)
				// The attacker's own flow works: its new code is bound to its challenge.
				got := rig.exchange(t, codes[1], attacker.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "echo (a), server re-encoding and reordering the redirect URI's query: not rebound",
			handler: trick(issueReencoding),
			tokens:  2,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, nil)
				v := rig.codeOf(t, victim)
				// %-encoded in the request; url.Values writes it back plain.
				attacker := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?z=1&c%6fde=" + url.QueryEscape(v)}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.resp.Header.Get("Location"), "code="+v)
				rig.assertVictimKeeps(t, victim, v)
				var issued string
				for _, c := range responseCodes(t, attacker) {
					if c != v {
						issued = c
					}
				}
				got := rig.exchange(t, issued, attacker.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "echo (b): an extra code=V redirected to /login with the request's query is not rebound",
			handler: trick(loginFirst),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"session": {"ok"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.True(t, strings.HasPrefix(attacker.resp.Header.Get("Location"), "/login?"))
				assert.Contains(t, attacker.resp.Header.Get("Location"), "code="+v)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				assert.Contains(t, rig.logText(), "the request itself carried", "the echo is logged")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name: "echo (b) through a POST body: not rebound",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				if r.Form.Get("session") != "ok" {
					http.Redirect(w, r, "/login?"+r.Form.Encode(), http.StatusFound) // body and query
					return
				}
				issueKeepingQuery(rig, w, r)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"session": {"ok"}})
				v := rig.codeOf(t, victim)
				verifier := pkce.GenerateVerifier()
				rig.addSecrets(verifier, pkce.S256Challenge(verifier))
				target := rig.authorizeURL(verifier, nil)
				resp, err := noRedirect.PostForm(target, url.Values{"code": {v}})
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusFound, resp.StatusCode)
				assert.Contains(t, resp.Header.Get("Location"), "code="+v)
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo (b) of a code the store does not know: never bound (a request value is no issued code)",
			handler: trick(loginFirst),
			attack: func(t *testing.T, rig *attackRig) {
				unknown := randomCode()
				attacker := rig.authorize(t, url.Values{"code": {unknown}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.resp.Header.Get("Location"), "code="+unknown)
				assert.False(t, rig.store.bound(unknown))
				assert.Zero(t, rig.entries())
			},
		},
		{
			name:    "echo (c): a consent page carrying the request's parameters as hidden inputs binds nothing",
			handler: trick(consentFirst("/consent")),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"consent": {"yes"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}})
				require.Equal(t, http.StatusOK, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.body, `name="code" value="`+v+`"`)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo (c) without redirect_uri, where any POST form counts: the echoed value is still not bound",
			handler: trick(consentFirst("/consent")),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"consent": {"yes"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}, "redirect_uri": {""}}) // empty: absent
				require.Equal(t, http.StatusOK, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.body, `name="code" value="`+v+`"`)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo (c) in a form posting to the redirect_uri itself: the echoed value is not bound",
			handler: trick(consentFirst(testRedirect)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"consent": {"yes"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}})
				require.Equal(t, http.StatusOK, attacker.resp.StatusCode, attacker.body)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo of a JARM response carrying V: not read, not bound",
			handler: trick(loginFirst),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"session": {"ok"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"response": {jws(map[string]string{"code": v})}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "DoS: thousands of codes in the redirect URI's query write one store entry",
			handler: trick(issueKeepingQuery),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				var q strings.Builder
				for i := range 2000 {
					fmt.Fprintf(&q, "&code=junk%d", i)
				}
				a := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?" + q.String()[1:]}})
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				assert.Equal(t, 1, rig.entries(), "one response, one entry")
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "DoS: thousands of code parameters echoed to /login write no store entry",
			handler: trick(loginFirst),
			attack: func(t *testing.T, rig *attackRig) {
				extra := url.Values{}
				for i := range 2000 {
					extra.Add("code", fmt.Sprintf("junk%d", i))
				}
				a := rig.authorize(t, extra)
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name:    "DoS: thousands of hidden code inputs on a consent page write no store entry",
			handler: trick(consentFirst("")),
			attack: func(t *testing.T, rig *attackRig) {
				extra := url.Values{"redirect_uri": {""}}
				for i := range 2000 {
					extra.Add("code", fmt.Sprintf("junk%d", i))
				}
				a := rig.authorize(t, extra)
				require.Equal(t, http.StatusOK, a.resp.StatusCode, a.body)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name: "several distinct codes in one redirect: 500, no code leaves, no entry written",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, testRedirect+"?code="+rig.mint()+"&code="+rig.mint(), http.StatusFound)
			}),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "several codes")
				rig.assertNoCode(t, a)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name: "several distinct codes in a form_post page: 500, no code leaves",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, formPost(testRedirect, "code", rig.mint())+formPost(testRedirect, "code", rig.mint()))
			}),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name: "the same code twice in one redirect (query and fragment) is one code",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				code := rig.mint()
				http.Redirect(w, r, testRedirect+"?code="+code+"#code="+code, http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
				assert.Equal(t, 1, rig.entries())
			},
		},
		{
			name:    "rebind of a used code (a server reissuing it): 500, logged at Error, the code never leaves again",
			handler: reissue(),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "already redeemed")
				rig.assertNoCode(t, a)
				rig.assertRebindLogged(t)
			},
		},
		{
			name:    "rebind of a live code to another challenge: 500, logged at Error; the first binding stands",
			handler: reissue(),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				first := rig.authorize(t, nil)
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "already bound")
				rig.assertNoCode(t, a)
				rig.assertRebindLogged(t)
				rig.redeemOnce(t, first) // bound to the first challenge still
			},
		},
		{
			name: "Record, then the capture of the same code: bound once, redeemed",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				code := rig.mint()
				c, _ := pkce.FromContext(r.Context())
				if err := rig.m.Record(r.Context(), code, c); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				http.Redirect(w, r, testRedirect+"?code="+code, http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
			},
		},
		{
			name:    "JARM query.jwt: the signed response's code is bound",
			handler: trick(jarm("query", nil)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"query.jwt"}})
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				rig.redeemJARM(t, a)
			},
		},
		{
			name:    "JARM fragment.jwt: the signed response's code is bound",
			handler: trick(jarm("fragment", nil)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"fragment.jwt"}})
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				rig.redeemJARM(t, a)
			},
		},
		{
			name:    "JARM form_post.jwt: the signed response's code is bound",
			handler: trick(jarm("form_post", nil)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"form_post.jwt"}})
				require.Equal(t, http.StatusOK, a.resp.StatusCode, a.body)
				rig.redeemJARM(t, a)
			},
		},
		{
			name: "JARM encrypted (JWE): 500 with a description, no code leaves",
			handler: trick(jarm("query", func(string) string {
				return "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.a2V5.aXY.Y2lwaGVy.dGFn"
			})),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"jwt"}})
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "encrypted JARM response")
				assert.Empty(t, a.resp.Header.Get("Location"))
				assert.Zero(t, rig.entries())
			},
		},
		{
			name:    "JARM encrypted in a form_post.jwt page: 500",
			handler: trick(jarm("form_post", func(string) string { return "h.k.iv.ct.tag" })),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"form_post.jwt"}})
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "encrypted JARM response")
			},
		},
		{
			name: "form_post page served as application/xhtml+xml: bound",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xhtml+xml; charset=utf-8")
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body onload="document.forms[0].submit()">`+
					formPost(testRedirect, "code", rig.mint())+`</body></html>`)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
			},
		},
		{
			name: "a code minted before a consent page, in a form posting elsewhere: not bound (Record's job), its token request fails closed",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, formPost("/consent", "code", rig.mint()))
			}),
			unbound: true,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				require.Equal(t, http.StatusOK, a.resp.StatusCode)
				assert.Zero(t, rig.entries())
				assert.Contains(t, rig.logText(), "binds it with Record", "the unbound code is logged with the remedy")
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rig := newAttackRig(t, tc)
			tc.attack(t, rig)
			rig.assertNothingPassed(t, tc)
		})
	}
}

// entries returns how many store entries the row wrote.
func (rig *attackRig) entries() int {
	rig.store.mu.Lock()
	defer rig.store.mu.Unlock()
	return len(rig.store.saved)
}

// assertVictimKeeps checks that the victim's code v is still bound to the
// victim's challenge: the victim redeems it with its verifier.
func (rig *attackRig) assertVictimKeeps(t *testing.T, victim authorizeResult, v string) {
	t.Helper()
	got := rig.exchange(t, v, victim.verifier)
	assert.Equal(t, http.StatusOK, got.Status, "the victim's code was rebound: %s", got.Description)
}

// assertRebindLogged checks the Error log of a rebind.
func (rig *attackRig) assertRebindLogged(t *testing.T) {
	t.Helper()
	for _, line := range strings.Split(rig.logText(), "\n") {
		if strings.Contains(line, "possible attack") {
			assert.Contains(t, line, `"level":"ERROR"`)
			return
		}
	}
	t.Errorf("no Error log names a possible attack: %s", rig.logText())
}

// redeemJARM redeems the code of a's JARM response with a's verifier.
func (rig *attackRig) redeemJARM(t *testing.T, a authorizeResult) {
	t.Helper()
	codes := responseCodes(t, a)
	require.Len(t, codes, 1)
	got := rig.exchange(t, codes[0], a.verifier)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
	assert.NotEmpty(t, got.AccessToken)
}

// responseCodes returns the codes of a redirect or form_post response, in
// order: code parameters of the Location's query then fragment, or code
// claims of its JARM response.
func responseCodes(t *testing.T, a authorizeResult) []string {
	t.Helper()
	var params []url.Values
	if loc := a.resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		require.NoError(t, err)
		q, err := url.ParseQuery(u.RawQuery)
		require.NoError(t, err)
		f, err := url.ParseQuery(u.EscapedFragment())
		require.NoError(t, err)
		params = append(params, q, f)
	}
	if i := strings.Index(a.body, `name="response" value="`); i >= 0 {
		v := a.body[i+len(`name="response" value="`):]
		params = append(params, url.Values{"response": {html.UnescapeString(v[:strings.IndexByte(v, '"')])}})
	}
	var codes []string
	for _, p := range params {
		codes = append(codes, p["code"]...)
		for _, jwt := range p["response"] {
			parts := strings.Split(jwt, ".")
			require.Len(t, parts, 3)
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err)
			var claims struct{ Code string }
			require.NoError(t, json.Unmarshal(payload, &claims))
			codes = append(codes, claims.Code)
		}
	}
	return codes
}

// redirectWith sends params to the request's redirect_uri in its query,
// kept as the client wrote it (RFC 6749 §3.1.2), as careful servers do.
func redirectWith(w http.ResponseWriter, r *http.Request, params string) {
	redirect := r.FormValue("redirect_uri")
	if redirect == "" {
		redirect = testRedirect // the registered one
	}
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, redirect+sep+params, http.StatusFound)
}

// issueKeepingQuery issues a code to the redirect URI, its own query kept.
func issueKeepingQuery(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	redirectWith(w, r, "code="+rig.mint()+"&state="+url.QueryEscape(r.FormValue("state")))
}

// issueReencoding issues a code as servers that rebuild the redirect URI
// with url.Values do: its query decoded, sorted and encoded anew.
func issueReencoding(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	u, err := url.Parse(r.FormValue("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Add("code", rig.mint())
	q.Set("state", r.FormValue("state"))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// loginFirst sends a request without a session to the login page with the
// request's query (README integration pattern 2), and issues a code to one
// with a session.
func loginFirst(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	if r.FormValue("session") != "ok" {
		http.Redirect(w, r, "/login?"+r.URL.RawQuery, http.StatusFound)
		return
	}
	issueKeepingQuery(rig, w, r)
}

// consentFirst shows a consent page that carries the request's parameters
// as hidden inputs, posting to action, until the request says consent=yes.
func consentFirst(action string) func(*attackRig, http.ResponseWriter, *http.Request) {
	return func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("consent") == "yes" {
			issueKeepingQuery(rig, w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		fmt.Fprintf(&b, `<html><body><p>Allow app?</p><form method="post" action="%s">`, html.EscapeString(action))
		for k, vs := range r.Form {
			for _, v := range vs {
				fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
			}
		}
		b.WriteString(`<button name="consent" value="yes">Allow</button></form></body></html>`)
		io.WriteString(w, b.String())
	}
}

// reissue is a buggy server that issues the same code for every request.
func reissue() func(*attackRig) http.Handler {
	var once sync.Once
	var code string
	return trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
		once.Do(func() { code = rig.mint() })
		rig.homegrown.mu.Lock()
		rig.codes[code] = "app" // valid again for the careless server
		rig.homegrown.mu.Unlock()
		redirectWith(w, r, "code="+code)
	})
}

// jarm issues a code in a JARM response (a JWS; its signature is the
// server's business, not the middleware's) in the query, the fragment or a
// form_post page; wrap, when set, replaces the JWT (to encrypt it, say).
func jarm(mode string, wrap func(string) string) func(*attackRig, http.ResponseWriter, *http.Request) {
	return func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
		token := jws(map[string]string{"iss": "https://as.example", "aud": "app", "code": rig.mint(), "state": r.FormValue("state")})
		if wrap != nil {
			token = wrap(token)
		}
		switch mode {
		case "query":
			http.Redirect(w, r, testRedirect+"?response="+token, http.StatusFound)
		case "fragment":
			http.Redirect(w, r, testRedirect+"#response="+token, http.StatusFound)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, formPost(testRedirect, "response", token))
		}
	}
}

// jws returns a compact JWS of claims, with a signature the middleware
// does not check.
func jws(claims map[string]string) string {
	payload, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString([]byte("signature"))
}

// formPost is an auto-submitting form_post page posting name=value and a
// state to action.
func formPost(action, name, value string) string {
	return `<form method="post" action="` + html.EscapeString(action) + `"><input type="hidden" name="` + name + `" value="` +
		html.EscapeString(value) + `"><input type="hidden" name="state" value="xyz"></form>`
}

// ---- Token: grant_type required, bodies read before the middleware, refusals that keep the code (issue 8 items 2, 4, 5) ----

// White-box attack rows for the token endpoint (issue 8, items 2, 4 and 5),
// run on the rig above with its common checks: a thief holding each
// minted code gets no token with no verifier or a wrong one, the careless
// server issues exactly the row's legitimate tokens, every middleware
// refusal is logged, and no log carries a secret. Their rows need two more
// hooks than attackCase has: a token handler of their own and a handler in
// front of the whole server.

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

// ---- PAR and request objects: a pushed challenge binds the code of its request_uri, once (issue 12) ----

// White-box attack rows for pushed authorization requests (RFC 9126) and
// request objects (RFC 9101), in the rig above (real servers, wire
// spy on the authorization endpoint, thief, log checks), with a PAR
// endpoint added to the careless server: it keeps whatever was pushed under
// a request_uri forever, checks no client and no signature, and issues a
// code to whatever redirect_uri counts, keeping its query.

// Peek is the rig store's look-up without use; a take fault applies to it
// too.
func (s *attackStore) Peek(ctx context.Context, key string) (pkce.Challenge, error) {
	if s.take != nil {
		if err := s.take(ctx); err != nil {
			return pkce.Challenge{}, err
		}
	}
	return s.mem.Peek(ctx, key)
}

// rigPush is a row's careless PAR endpoint and the authorization handler
// that reads what was pushed.
type rigPush struct {
	mu      sync.Mutex
	pushed  map[string]url.Values
	n       int
	barrier *sync.WaitGroup // when set, authorization requests wait here before issuing
}

func (ps *rigPush) servePAR(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	ps.mu.Lock()
	ps.n++
	uri := "urn:ietf:params:oauth:request_uri:rig-" + randomCode()
	ps.pushed[uri] = r.PostForm
	ps.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"request_uri": uri, "expires_in": 60})
}

// authorize resolves request_uri or request (payload read, never
// verified), then issues a code to the redirect_uri that counts.
func (ps *rigPush) authorize(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	params := r.Form
	if uri := r.Form.Get("request_uri"); uri != "" {
		ps.mu.Lock()
		params = ps.pushed[uri]
		ps.mu.Unlock()
	}
	if obj := params.Get("request"); obj != "" {
		parts := strings.Split(obj, ".")
		var members map[string]any
		if len(parts) > 1 {
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(b, &members)
		}
		inner := url.Values{}
		for k, v := range members {
			if s, ok := v.(string); ok {
				inner.Set(k, s)
			}
		}
		params = inner
	}
	if ps.barrier != nil {
		ps.barrier.Done()
		ps.barrier.Wait()
	}
	redirect := params.Get("redirect_uri")
	if redirect == "" {
		redirect = testRedirect
	}
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, redirect+sep+"code="+rig.mint()+"&state=xyz", http.StatusFound)
}

// push sends a pushed request to the rig's PAR endpoint.
func (ps *rigPush) push(t *testing.T, rig *attackRig, form url.Values) pushAnswer {
	t.Helper()
	resp, err := http.PostForm(rig.srv.URL+"/par", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := pushAnswer{Status: resp.StatusCode, Body: string(b)}
	require.NoError(t, json.Unmarshal(b, &a), "answer %s", b)
	return a
}

// authorizeWith sends the authorization request q to the rig, as a client
// holding verifier.
func authorizeWith(t *testing.T, rig *attackRig, q url.Values, verifier string) authorizeResult {
	t.Helper()
	a := authorizeResult{verifier: verifier}
	resp, err := noRedirect.Get(rig.srv.URL + "/authorize?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a.resp, a.body = resp, string(b)
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		rig.countRefusal()
	}
	return a
}

// pushed is a row's pushed request by app with the challenge of a fresh
// verifier: the form, and the verifier.
func (rig *attackRig) pushedForm(extra url.Values) (url.Values, string) {
	v := pkce.GenerateVerifier()
	rig.addSecrets(v, pkce.S256Challenge(v))
	form := pushForm(v)
	for k, vs := range extra {
		form[k] = vs
	}
	return form, v
}

// unsignedObject returns a request object whose payload is as written.
func unsignedObject(payload string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "."
}

func TestPARAttacks(t *testing.T) {
	boom := errors.New("connection refused")
	type row struct {
		attackCase
		barrier int
		attack  func(t *testing.T, rig *attackRig, ps *rigPush)
	}
	rows := []row{
		{attackCase: attackCase{name: "a stolen request_uri used by another client: refused, no code; the victim's flow goes on", tokens: 1},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				require.Equal(t, http.StatusCreated, a.Status, a.Body)
				thief := authorizeWith(t, rig, url.Values{"client_id": {"evil"}, "request_uri": {a.RequestURI}}, "")
				rig.assertRefused(t, thief, http.StatusBadRequest, "invalid_request_uri")
				rig.assertNoCode(t, thief)
				victim := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}, v)
				rig.redeemOnce(t, victim)
			}},
		{attackCase: attackCase{name: "an outer challenge cannot replace the pushed one: challenge_conflict, no code", tokens: 1},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				mine := pkce.GenerateVerifier()
				rig.addSecrets(mine, pkce.S256Challenge(mine))
				for _, outer := range []url.Values{
					{"code_challenge": {pkce.S256Challenge(mine)}, "code_challenge_method": {"S256"}},
					{"code_challenge": {pkce.S256Challenge(mine)}},
					{"code_challenge_method": {"plain"}},
				} {
					q := url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}
					for k, vs := range outer {
						q[k] = vs
					}
					got := authorizeWith(t, rig, q, mine)
					rig.assertRefused(t, got, http.StatusBadRequest, "invalid_request")
					assert.Contains(t, got.body, "differs from the pushed")
					rig.assertNoCode(t, got)
				}
				rig.redeemOnce(t, authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}, v))
			}},
		{attackCase: attackCase{name: "a stolen code V in the pushed redirect_uri's query is not rebound; the server's new code is bound", tokens: 2},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				vf, vv := rig.pushedForm(nil)
				va := ps.push(t, rig, vf)
				victim := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {va.RequestURI}}, vv)
				stolen := rig.codeOf(t, victim)

				af, av := rig.pushedForm(url.Values{"redirect_uri": {testRedirect + "?code=" + stolen}})
				aa := ps.push(t, rig, af)
				require.Equal(t, http.StatusCreated, aa.Status, aa.Body)
				attacker := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {aa.RequestURI}}, av)
				codes := responseCodes(t, attacker)
				require.Len(t, codes, 2, "the server kept the pushed redirect_uri's query")
				own := codes[1]
				require.NotEqual(t, stolen, own)
				// V is still bound to the victim's challenge.
				rig.assertVictimKeeps(t, victim, stolen)
				got := rig.exchange(t, own, av)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			}},
		{attackCase: attackCase{name: "two passes race for one request_uri: one code leaves, the other fails closed", tokens: 1},
			barrier: 2,
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				q := url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}
				results := make(chan authorizeResult, 2)
				for range 2 {
					go func() { results <- authorizeWith(t, rig, q, v) }()
				}
				var sent []authorizeResult
				for range 2 {
					r := <-results
					if r.resp.StatusCode == http.StatusFound {
						sent = append(sent, r)
						continue
					}
					rig.assertRefused(t, r, http.StatusBadRequest, "invalid_request_uri")
					rig.assertNoCode(t, r)
				}
				require.Len(t, sent, 1, "one pass got a code")
				assert.Len(t, rig.mintedCodes(), 2, "the handler issued two")
				rig.redeemOnce(t, sent[0])
			}},
		{attackCase: attackCase{name: "a request_uri replayed after its code: refused before the careless server", tokens: 1},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				q := url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}
				first := authorizeWith(t, rig, q, v)
				again := authorizeWith(t, rig, q, v)
				rig.assertRefused(t, again, http.StatusBadRequest, "invalid_request_uri")
				rig.assertNoCode(t, again)
				assert.Len(t, rig.mintedCodes(), 1)
				rig.redeemOnce(t, first)
			}},
		{attackCase: attackCase{name: "store fault at the look-up: 500, no code", store: func(s *attackStore) { s.take = func(context.Context) error { return boom } }},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				require.Equal(t, http.StatusCreated, a.Status, a.Body)
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}, v)
				rig.assertRefused(t, got, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, got)
				assert.Empty(t, rig.mintedCodes())
			}},
		{attackCase: attackCase{name: "store fault at the pushed save: 500, the request_uri never leaves", store: func(s *attackStore) { s.save = func(context.Context) error { return boom } }},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, _ := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				assert.Equal(t, http.StatusInternalServerError, a.Status)
				assert.Equal(t, "server_error", a.Error)
				assert.NotContains(t, a.Body, "request_uri:rig-")
				assert.Equal(t, 1, ps.n, "the careless server pushed it")
				rig.countRefusal()
			}},
		{attackCase: attackCase{name: "a request object with the attacker's challenge before the victim's (duplicated member): refused"},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				v, mine := pkce.GenerateVerifier(), pkce.GenerateVerifier()
				rig.addSecrets(v, pkce.S256Challenge(v), mine, pkce.S256Challenge(mine))
				obj := unsignedObject(`{"client_id":"app","response_type":"code","code_challenge":"` + pkce.S256Challenge(mine) +
					`","code_challenge":"` + pkce.S256Challenge(v) + `","code_challenge_method":"S256"}`)
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request": {obj}}, mine)
				rig.assertRefused(t, got, http.StatusBadRequest, "invalid_request")
				rig.assertNoCode(t, got)
				// Pushed, the same object is refused at the PAR endpoint.
				a := ps.push(t, rig, url.Values{"client_id": {"app"}, "request": {obj}})
				assert.Equal(t, http.StatusBadRequest, a.Status)
				assert.Empty(t, a.RequestURI)
				rig.countRefusal()
			}},
		{attackCase: attackCase{name: "an encrypted request object under a requiring policy: refused, no code"},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				v := pkce.GenerateVerifier()
				rig.addSecrets(v, pkce.S256Challenge(v))
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "response_type": {"code"},
					"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"},
					"request": {"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"}}, v)
				rig.assertRefused(t, got, http.StatusBadRequest, "invalid_request_object")
				assert.Contains(t, got.body, "encrypted")
				rig.assertNoCode(t, got)
			}},
		{attackCase: attackCase{name: "a stolen code V in the request object's redirect_uri is not rebound; the new code is bound", tokens: 2},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				victim := rig.authorize(t, nil)
				stolen := rig.codeOf(t, victim)
				mine := pkce.GenerateVerifier()
				rig.addSecrets(mine, pkce.S256Challenge(mine))
				obj := unsignedObject(`{"client_id":"app","response_type":"code","redirect_uri":"` + testRedirect + `?code=` + stolen +
					`","code_challenge":"` + pkce.S256Challenge(mine) + `","code_challenge_method":"S256"}`)
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request": {obj}}, mine)
				codes := responseCodes(t, got)
				require.Len(t, codes, 2)
				// V is still bound to the victim's challenge.
				rig.assertVictimKeeps(t, victim, stolen)
				assert.Equal(t, http.StatusOK, rig.exchange(t, codes[1], mine).Status)
			}},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			ps := &rigPush{pushed: map[string]url.Values{}}
			if tc.barrier > 0 {
				ps.barrier = &sync.WaitGroup{}
				ps.barrier.Add(tc.barrier)
			}
			var par http.Handler
			tc.handler = trick(ps.authorize)
			tc.wrap = func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/par" {
						par.ServeHTTP(w, r)
						return
					}
					h.ServeHTTP(w, r)
				})
			}
			rig := newAttackRig(t, tc.attackCase)
			par = rig.m.PAR(http.HandlerFunc(ps.servePAR))
			tc.attack(t, rig, ps)
			rig.assertNothingPassed(t, tc.attackCase)
		})
	}
}
