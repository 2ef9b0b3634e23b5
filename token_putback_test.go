package pkce_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// DESIGN "Token handler refusals do not cost the code": a request that
// passed the PKCE check and that the wrapped token handler refused (a final
// status of 400 or more) puts its challenge back, before the refusal's first
// byte leaves, when the Store implements pkce.Restorer.

// newTokenStack is newStack with the homegrown token handler wrapped by
// token (inside the middleware) and the whole server by outer (outside
// it); nil leaves either as is.
func newTokenStack(t *testing.T, cfg pkce.Config, token func(s *stack, next http.Handler) http.Handler, outer func(http.Handler) http.Handler) *stack {
	t.Helper()
	m, err := pkce.New(cfg)
	require.NoError(t, err)
	s := &stack{homegrown: newHomegrown(), m: m}
	var th http.Handler = http.HandlerFunc(s.serveToken)
	if token != nil {
		th = token(s, th)
	}
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(s.serveAuthorize)))
	mux.Handle("/token", m.Token(th))
	var h http.Handler = mux
	if outer != nil {
		h = outer(h)
	}
	s.srv = httptest.NewServer(h)
	t.Cleanup(s.srv.Close)
	return s
}

// refuseBasic is a token handler in front of next that does not accept
// HTTP Basic (a server that knows the client as public, or as
// client_secret_post only): 401 invalid_client, as such servers answer.
func refuseBasic(_ *stack, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); ok {
			writeInvalidClient(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeInvalidClient(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"HTTP Basic is not accepted for this client"}`)
}

// autoDetectFirst is golang.org/x/oauth2's first attempt under its default
// AuthStyle (AuthStyleAutoDetect): the client in HTTP Basic, form-encoded,
// and not in the body.
func autoDetectFirst(code, verifier, client string) tokenReq {
	q := formReq(without(authForm(code, verifier), "client_id"))
	q.header = basicAuth(url.QueryEscape(client), "")
	return q
}

// autoDetectRetry is its second attempt: the client in the body.
func autoDetectRetry(code, verifier, client string) tokenReq {
	f := authForm(code, verifier)
	f.Set("client_id", client)
	return formReq(f)
}

// TestTokenPutBackAutoDetect: x/oauth2's default AuthStyle against a server
// that refuses HTTP Basic: the first attempt passes the PKCE check and is
// refused by the handler, the retry with the client in the body gets the
// token, as from the bare server. A store without Restorer keeps the old
// behaviour: the first attempt uses the code up.
func TestTokenPutBackAutoDetect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store pkce.Store
		retry bool // the retry gets its token
	}{
		{"MemoryStore", nil, true},
		{"external Restorer store", &restorerStore{mem: pkce.NewMemoryStore()}, true},
		{"store without Restorer", delegatingStore{pkce.NewMemoryStore()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTokenStack(t, pkce.Config{Store: tc.store}, refuseBasic, nil)
			v := pkce.GenerateVerifier()
			code := s.code(t, v)

			first := s.send(t, autoDetectFirst(code, v, "app"))
			require.Equal(t, http.StatusUnauthorized, first.Status, "%s", first.Body)
			assert.Contains(t, string(first.Body), "invalid_client", "the handler's refusal reaches the client as it wrote it")
			assert.Equal(t, `Basic realm="token"`, first.Header.Get("WWW-Authenticate"))

			retry := s.send(t, autoDetectRetry(code, v, "app"))
			if !tc.retry {
				assertRefused(t, retry, http.StatusBadRequest, "invalid_grant")
				assert.Zero(t, s.tokensIssued())
				return
			}
			assertIssued(t, retry)
			assert.Equal(t, 1, s.tokensIssued())

			// Redeemed: a replay is refused by the middleware, with or
			// without a verifier, even by a server that would take it.
			s.mu.Lock()
			s.codes[code] = "app"
			s.mu.Unlock()
			assertRefused(t, s.send(t, autoDetectRetry(code, v, "app")), http.StatusBadRequest, "invalid_grant")
			assertRefused(t, s.send(t, formReq(authForm(code, ""))), http.StatusBadRequest, "invalid_grant")
			assert.Equal(t, 1, s.tokensIssued())
			assert.Equal(t, 1, s.reached(grantCode), "a replay reached the wrapped server")
		})
	}
}

// restorerStore is a Store with Restorer that is not a *MemoryStore, so the
// middleware calls it as any external store, with restoreErr injected.
type restorerStore struct {
	mem        *pkce.MemoryStore
	restoreErr error
	restores   atomic.Int32
}

func (s *restorerStore) Save(ctx context.Context, key string, c pkce.Challenge) error {
	return s.mem.Save(ctx, key, c)
}

func (s *restorerStore) Take(ctx context.Context, key string) (pkce.Challenge, error) {
	return s.mem.Take(ctx, key)
}

func (s *restorerStore) TakeAs(ctx context.Context, key string, take uint64) (pkce.Challenge, error) {
	return s.mem.TakeAs(ctx, key, take)
}

func (s *restorerStore) Restore(ctx context.Context, key string, take uint64) error {
	s.restores.Add(1)
	if s.restoreErr != nil {
		return s.restoreErr
	}
	return s.mem.Restore(ctx, key, take)
}

// TestTokenPutBackByStatus: what the handler answers after a passed check
// decides whether the code can be redeemed again.
func TestTokenPutBackByStatus(t *testing.T) {
	issue := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	}
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		back    bool // the code can be redeemed again
	}{
		{"400 invalid_grant (a wrong redirect_uri)", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		}, true},
		{"401 invalid_client", func(w http.ResponseWriter, r *http.Request) { writeInvalidClient(w) }, true},
		{"500 from the handler", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database down", http.StatusInternalServerError)
		}, true},
		{"503 from the handler", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, true},
		{"103 Early Hints, then 401", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			writeInvalidClient(w)
		}, true},
		{"200 by Write", func(w http.ResponseWriter, r *http.Request) { issue(w) }, false},
		{"200 by WriteHeader", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }, false},
		{"nothing written: 200", func(w http.ResponseWriter, r *http.Request) {}, false},
		{"302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, false},
		{"200, then a superfluous 401", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.WriteHeader(http.StatusUnauthorized)
		}, false},
		{"body written, then 401", func(w http.ResponseWriter, r *http.Request) {
			issue(w)
			w.WriteHeader(http.StatusUnauthorized)
		}, false},
		{"Flush, then 401", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusUnauthorized)
		}, false},
		{"ResponseController Flush, then 401", func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			w.WriteHeader(http.StatusUnauthorized)
		}, false},
		{"WriteString, then 401", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"access_token":"at"}`)
			w.WriteHeader(http.StatusUnauthorized)
		}, false},
		{"ReadFrom, then 401", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader(`{"access_token":"at"}`))
			w.WriteHeader(http.StatusUnauthorized)
		}, false},
		{"401, then 200", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			w.WriteHeader(http.StatusOK)
		}, true},
		{"ResponseController deadline, then 401", func(w http.ResponseWriter, r *http.Request) {
			// Unwrap keeps the controller working behind the middleware.
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				panic(err)
			}
			writeInvalidClient(w)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			s := newTokenStack(t, pkce.Config{}, func(s *stack, next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if calls.Add(1) == 1 {
						tc.handler(w, r)
						return
					}
					next.ServeHTTP(w, r)
				})
			}, nil)
			v := pkce.GenerateVerifier()
			code := s.code(t, v)
			_ = s.send(t, formReq(authForm(code, v)))
			retry := s.send(t, formReq(authForm(code, v)))
			if tc.back {
				assertIssued(t, retry)
				assert.Equal(t, int32(2), calls.Load())
				return
			}
			assertRefused(t, retry, http.StatusBadRequest, "invalid_grant")
			assert.Equal(t, int32(1), calls.Load(), "the retry reached the handler")
		})
	}
}

// TestTokenPutBackFailedCheckBurns: a failed PKCE check uses the code up
// with a store that can put it back too; the handler never sees it.
func TestTokenPutBackFailedCheckBurns(t *testing.T) {
	s := newTokenStack(t, pkce.Config{}, refuseBasic, nil)
	for name, first := range map[string]func(code, v string) tokenReq{
		"wrong verifier":     func(code, _ string) tokenReq { return autoDetectRetry(code, pkce.GenerateVerifier(), "app") },
		"no verifier":        func(code, _ string) tokenReq { return autoDetectRetry(code, "", "app") },
		"malformed verifier": func(code, v string) tokenReq { return autoDetectRetry(code, v[:42], "app") },
		"other client":       func(code, v string) tokenReq { return autoDetectRetry(code, v, "other") },
		"wrong verifier, HTTP Basic": func(code, _ string) tokenReq {
			return autoDetectFirst(code, pkce.GenerateVerifier(), "app")
		},
	} {
		t.Run(name, func(t *testing.T) {
			v := pkce.GenerateVerifier()
			code := s.code(t, v)
			assertRefused(t, s.send(t, first(code, v)), http.StatusBadRequest, "invalid_grant")
			assertRefused(t, s.send(t, autoDetectRetry(code, v, "app")), http.StatusBadRequest, "invalid_grant")
			assert.Zero(t, s.reached(grantCode))
		})
	}
}

// TestTokenPutBackNotAfterPanic: a handler that panics keeps the code used,
// whatever a recovery handler outside the middleware answers.
func TestTokenPutBackNotAfterPanic(t *testing.T) {
	var calls atomic.Int32
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
	s := newTokenStack(t, pkce.Config{}, func(s *stack, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Content-Type", "application/json")
				panic("token store down")
			}
			next.ServeHTTP(w, r)
		})
	}, recoverer)
	v := pkce.GenerateVerifier()
	code := s.code(t, v)
	first := s.send(t, formReq(authForm(code, v)))
	require.Equal(t, http.StatusInternalServerError, first.Status)
	assertRefused(t, s.send(t, formReq(authForm(code, v))), http.StatusBadRequest, "invalid_grant")
	assert.Equal(t, int32(1), calls.Load())
}

// TestTokenPutBackNotAfterTimeout: a refusal written once the request's
// context is done (http.TimeoutHandler outside the middleware) does not put
// the code back: the handler may still be redeeming it.
func TestTokenPutBackNotAfterTimeout(t *testing.T) {
	var calls atomic.Int32
	wrote := make(chan struct{})
	s := newTokenStack(t, pkce.Config{}, func(s *stack, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				defer close(wrote)
				<-r.Context().Done()
				writeInvalidClient(w) // late: TimeoutHandler has answered 503
				return
			}
			next.ServeHTTP(w, r)
		})
	}, func(h http.Handler) http.Handler { return http.TimeoutHandler(h, 50*time.Millisecond, "timeout") })
	v := pkce.GenerateVerifier()
	code := s.code(t, v)
	first := s.send(t, formReq(authForm(code, v)))
	require.Equal(t, http.StatusServiceUnavailable, first.Status)
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("the timed-out handler did not return")
	}
	assertRefused(t, s.send(t, formReq(authForm(code, v))), http.StatusBadRequest, "invalid_grant")
	assert.Equal(t, int32(1), calls.Load())
}

// TestTokenPutBackNotAfterHijack: once the handler took the connection, any
// status it writes there is one the middleware does not see: the code stays
// used, even if the handler then calls WriteHeader with a refusal.
func TestTokenPutBackNotAfterHijack(t *testing.T) {
	var calls atomic.Int32
	var hijackErr error
	s := newTokenStack(t, pkce.Config{}, func(s *stack, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) > 1 {
				next.ServeHTTP(w, r)
				return
			}
			conn, buf, err := http.NewResponseController(w).Hijack()
			hijackErr = err
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 22\r\nConnection: close\r\n\r\n{\"access_token\":\"at\"}\n")
			_ = buf.Flush()
			_ = conn.Close()
			w.WriteHeader(http.StatusUnauthorized) // not what the client got
		})
	}, nil)
	v := pkce.GenerateVerifier()
	code := s.code(t, v)
	first := s.send(t, formReq(authForm(code, v)))
	require.NoError(t, hijackErr, "the middleware keeps Hijack working")
	assert.Equal(t, http.StatusOK, first.Status)
	assertRefused(t, s.send(t, formReq(authForm(code, v))), http.StatusBadRequest, "invalid_grant")
	assert.Equal(t, int32(1), calls.Load())
}

// TestTokenPutBackBeforeFirstByte: the put-back is done before the refusal's
// first byte leaves. The handler sends its refusal whole and then blocks
// until the client's immediate retry has its answer: the retry gets the
// token while the first request is still running.
func TestTokenPutBackBeforeFirstByte(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	s := newTokenStack(t, pkce.Config{}, func(s *stack, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) > 1 {
				next.ServeHTTP(w, r)
				return
			}
			body := `{"error":"invalid_client"}`
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, body)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		})
	}, nil)
	defer close(release)
	v := pkce.GenerateVerifier()
	code := s.code(t, v)

	first := s.send(t, autoDetectFirst(code, v, "app")) // returns with the handler still blocked
	require.Equal(t, http.StatusUnauthorized, first.Status)
	assertIssued(t, s.send(t, autoDetectRetry(code, v, "app")))
	assert.Equal(t, int32(2), calls.Load())
}

// TestTokenPutBackFailure: a put-back the store fails is logged at Error;
// the handler's refusal goes out as it was, and the code stays used (fail
// closed).
func TestTokenPutBackFailure(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	store := &restorerStore{mem: pkce.NewMemoryStore(), restoreErr: errors.New("connection reset")}
	s := newTokenStack(t, pkce.Config{
		Store:  store,
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, refuseBasic, nil)
	v := pkce.GenerateVerifier()
	code := s.code(t, v)

	first := s.send(t, autoDetectFirst(code, v, "app"))
	assert.Equal(t, http.StatusUnauthorized, first.Status)
	assert.Contains(t, string(first.Body), "invalid_client")
	assert.Equal(t, int32(1), store.restores.Load())
	assertRefused(t, s.send(t, autoDetectRetry(code, v, "app")), http.StatusBadRequest, "invalid_grant")
	assert.Zero(t, s.tokensIssued())

	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), `"level":"ERROR","msg":"pkce: store failed","endpoint":"token","op":"restore","err":"connection reset"`)
	assert.NotContains(t, logs.String(), code)
	assert.NotContains(t, logs.String(), v)
}

// TestTokenPutBackLogged: a put-back is logged at Info, without the code.
func TestTokenPutBackLogged(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	s := newTokenStack(t, pkce.Config{
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil)),
	}, refuseBasic, nil)
	v := pkce.GenerateVerifier()
	code := s.code(t, v)
	require.Equal(t, http.StatusUnauthorized, s.send(t, autoDetectFirst(code, v, "app")).Status)
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), `"level":"INFO","msg":"pkce: the token handler refused a request that passed its PKCE check; its code can be redeemed again","endpoint":"token","client_id":"app","status":401`)
	assert.NotContains(t, logs.String(), code)
}

// nonAtomic is a token handler in front of next that redeems codes the way
// a careless server does: it checks the code, waits (a database round
// trip), then marks it redeemed. Two requests in that window both redeem.
// Requests with HTTP Basic are refused, as refuseBasic does.
type nonAtomic struct {
	mu       sync.Mutex
	redeemed map[string]bool
	tokens   atomic.Int32
	entered  atomic.Int32
}

func (h *nonAtomic) handler(_ *stack, _ http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.entered.Add(1)
		if _, _, ok := r.BasicAuth(); ok {
			time.Sleep(2 * time.Millisecond)
			writeInvalidClient(w)
			return
		}
		code := r.PostFormValue("code")
		h.mu.Lock()
		used := h.redeemed[code]
		h.mu.Unlock()
		if used {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		time.Sleep(5 * time.Millisecond) // check, then set
		h.mu.Lock()
		h.redeemed[code] = true
		h.mu.Unlock()
		h.tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at-`+randomCode()+`","token_type":"Bearer"}`)
	})
}

// TestTokenPutBackConcurrent: 32 concurrent redemptions of one code against
// a handler that redeems non-atomically: exactly one token, also after a
// refused first attempt put the code back, and at most one when refused and
// correct attempts race.
func TestTokenPutBackConcurrent(t *testing.T) {
	const n = 32
	for _, tc := range []struct {
		name         string
		store        func() pkce.Store
		refusedFirst bool
		mixed        bool // half the racers send HTTP Basic and are refused
	}{
		{name: "MemoryStore", store: func() pkce.Store { return nil }},
		{name: "MemoryStore, after a refused first attempt", store: func() pkce.Store { return nil }, refusedFirst: true},
		{name: "MemoryStore, refused and correct attempts racing", store: func() pkce.Store { return nil }, mixed: true},
		{name: "external Restorer store, after a refused first attempt", store: func() pkce.Store {
			return &restorerStore{mem: pkce.NewMemoryStore()}
		}, refusedFirst: true},
		{name: "external Restorer store, refused and correct attempts racing", store: func() pkce.Store {
			return &restorerStore{mem: pkce.NewMemoryStore()}
		}, mixed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &nonAtomic{redeemed: map[string]bool{}}
			s := newTokenStack(t, pkce.Config{Store: tc.store()}, h.handler, nil)
			v := pkce.GenerateVerifier()
			code := s.code(t, v)
			if tc.refusedFirst {
				require.Equal(t, http.StatusUnauthorized, s.send(t, autoDetectFirst(code, v, "app")).Status)
			}

			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				answers = make([]answer, n)
				errs    = make([]error, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					q := autoDetectRetry(code, v, "app")
					if tc.mixed && i%2 == 0 {
						q = autoDetectFirst(code, v, "app")
					}
					<-start
					answers[i], errs[i] = sendToken(s.srv.URL, q)
				}()
			}
			close(start)
			wg.Wait()

			ok := 0
			for i, a := range answers {
				require.NoError(t, errs[i])
				switch a.Status {
				case http.StatusOK:
					ok++
				case http.StatusUnauthorized:
					assert.True(t, tc.mixed && i%2 == 0, "a correct attempt got 401")
				default:
					assertRefused(t, a, http.StatusBadRequest, "invalid_grant")
				}
			}
			if tc.mixed {
				assert.LessOrEqual(t, ok, 1, "successful redemptions")
			} else {
				assert.Equal(t, 1, ok, "successful redemptions")
			}
			assert.Equal(t, int32(ok), h.tokens.Load(), "tokens issued")
			if !tc.mixed {
				want := int32(1)
				if tc.refusedFirst {
					want = 2
				}
				assert.Equal(t, want, h.entered.Load(), "requests that reached the handler")
			}
			// Whatever happened, the code is now spent for good if a token
			// was issued.
			if ok == 1 {
				assertRefused(t, s.send(t, autoDetectRetry(code, v, "app")), http.StatusBadRequest, "invalid_grant")
			}
		})
	}
}
