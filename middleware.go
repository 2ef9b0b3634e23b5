package pkce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults of the zero [Config].
const (
	DefaultTTL             = 10 * time.Minute
	DefaultStoreTimeout    = 2 * time.Second
	DefaultMaxBodyBytes    = 64 << 10
	DefaultMaxCaptureBytes = 64 << 10
)

// Config configures a [Middleware]. Every zero value is a safe default.
type Config struct {
	// Store records each code's challenge between the authorization and the
	// token request. nil: a new [MemoryStore], which serves one process; run
	// a shared store when the server runs more than one instance.
	Store Store
	// AllowPlain accepts code_challenge_method=plain too. Default: S256
	// only (RFC 9700 §2.1.1, RFC 7636 §7.2). Discovery advertises exactly
	// the accepted methods.
	AllowPlain bool
	// Require reports whether PKCE is mandatory for this authorization or
	// token request; clientID is the request's client (at the token endpoint:
	// the HTTP Basic user name, else the body's client_id). nil: always
	// (OAuth 2.1). Return false to make it optional for some or all clients,
	// e.g. while their apps are updated. A verifier without a recorded
	// challenge is refused whatever Require says (RFC 9700 §4.8.2).
	Require func(r *http.Request, clientID string) bool
	// TTL is how long a recorded challenge, and the mark that it was used,
	// live. Zero: 10 minutes. It must be at least the wrapped server's
	// authorization code lifetime, or a burned code could outlive its mark.
	TTL time.Duration
	// RedirectErrors, when set and it returns true, sends authorize refusals
	// back to redirectURI the OAuth way (RFC 6749 §4.1.2.1) instead of as a
	// 400 page. Return true only for a redirect URI registered for clientID:
	// the middleware does not know the registrations. nil: never redirect.
	RedirectErrors func(r *http.Request, clientID, redirectURI string) bool
	// Logger receives the middleware's events: refusals at Info, store faults
	// and uncaptured codes at Error and Warn. Verifiers, challenges and codes
	// are never logged. nil: discarded.
	Logger *slog.Logger
	// StoreTimeout bounds every Store call, within the request's own
	// deadline, so a stalled store fails the request in time (HTTP 500)
	// instead of hanging it. Zero: 2 seconds. The [MemoryStore] never blocks
	// and is called without a timer. A call abandoned at the deadline still
	// counts until it returns; past 10,000 such calls a request fails at once
	// rather than add a goroutine for a store that stopped answering.
	StoreTimeout time.Duration
	// MaxBodyBytes bounds the token request body and a POST authorization
	// request body the middleware reads. A larger body is refused with
	// invalid_request. Zero: 64 KiB.
	MaxBodyBytes int64
	// ReportOnly runs every check and records every challenge, exactly as
	// when enforcing, but never refuses: a request the middleware would
	// refuse goes to the wrapped handler unchanged (its body as the client
	// sent it), and the refusal is reported through OnEvent and Logger with
	// the reason ID enforcing would send. Store faults are reported and
	// the request goes on; at the authorization endpoint a response whose
	// code cannot be bound (a store fault, several codes, a code already
	// bound, an encrypted JARM response) goes out as the handler wrote it,
	// its code unbound. The store follows enforcement, so a later request
	// is judged as enforcing would judge it: a failed check still uses the
	// code's challenge up, and a retry is reported as code_reused. Record
	// logs what it would refuse and returns nil. It protects nothing (it is
	// the bare server plus observation): apart from the
	// code_challenge_methods_supported member Discovery still adds, so
	// that clients start sending PKCE, every answer is the bare server's.
	// Default: false, enforce.
	ReportOnly bool
	// OnEvent, when set, is called once per request that is PKCE's
	// business, and once per refusal of any other request, once its
	// response is decided (see [Event]). It runs inline on the request's
	// goroutine, after the wrapped handler returned and before the
	// request ends: it must be fast and must not block. Events never carry
	// a code, a verifier or a challenge. A panic in OnEvent does not reach
	// the request, whose response is already decided: it is recovered and
	// logged at Error (to Logger, or to [slog.Default] when Logger is nil)
	// with the panic value's type and the stack, never the value; that
	// event is lost. nil: no events, at no cost.
	OnEvent func(Event)
	// MaxCaptureBytes bounds how much of a 2xx HTML (or untyped) authorize
	// response is held back to look for a form_post code. A code past it is
	// not captured and is logged; under a policy that requires PKCE its token
	// request then fails closed. Zero: 64 KiB.
	MaxCaptureBytes int
}

// Middleware adds PKCE to the authorization, token and discovery handlers of
// an authorization server. Create it with [New]; it is safe for concurrent
// use by any number of requests.
type Middleware struct {
	store           Store
	storeIsMemory   bool
	restorer        Restorer // the store, when it can put a take back
	allowPlain      bool
	require         func(*http.Request, string) bool
	ttl             time.Duration
	redirectErrors  func(*http.Request, string, string) bool
	log             *slog.Logger
	userLog         *slog.Logger // Config.Logger as given, nil when none
	reportOnly      bool
	onEvent         func(Event)
	storeTimeout    time.Duration
	storeCalls      atomic.Int64 // Store calls running, abandoned ones included
	maxStoreCalls   int64
	maxBodyBytes    int64
	maxCaptureBytes int
	methodsJSON     []byte // code_challenge_methods_supported, S256 first
	now             func() time.Time
}

// New returns a Middleware configured by c, or an error for a configuration
// that cannot work (a negative duration or limit).
func New(c Config) (*Middleware, error) {
	switch {
	case c.TTL < 0:
		return nil, fmt.Errorf("pkce: Config.TTL is negative (%v)", c.TTL)
	case c.StoreTimeout < 0:
		return nil, fmt.Errorf("pkce: Config.StoreTimeout is negative (%v)", c.StoreTimeout)
	case c.MaxBodyBytes < 0:
		return nil, fmt.Errorf("pkce: Config.MaxBodyBytes is negative (%d)", c.MaxBodyBytes)
	case c.MaxCaptureBytes < 0:
		return nil, fmt.Errorf("pkce: Config.MaxCaptureBytes is negative (%d)", c.MaxCaptureBytes)
	}
	m := &Middleware{
		store:           c.Store,
		allowPlain:      c.AllowPlain,
		require:         c.Require,
		ttl:             orDefault(c.TTL, DefaultTTL),
		redirectErrors:  c.RedirectErrors,
		log:             c.Logger,
		userLog:         c.Logger,
		reportOnly:      c.ReportOnly,
		onEvent:         c.OnEvent,
		storeTimeout:    orDefault(c.StoreTimeout, DefaultStoreTimeout),
		maxBodyBytes:    orDefault(c.MaxBodyBytes, DefaultMaxBodyBytes),
		maxCaptureBytes: orDefault(c.MaxCaptureBytes, DefaultMaxCaptureBytes),
		now:             time.Now,
		maxStoreCalls:   maxStoreCalls,
	}
	if m.store == nil {
		m.store = NewMemoryStore()
	}
	_, m.storeIsMemory = m.store.(*MemoryStore)
	m.restorer, _ = m.store.(Restorer)
	if m.require == nil {
		m.require = func(*http.Request, string) bool { return true }
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.methodsJSON = []byte(`["S256"]`)
	if m.allowPlain {
		m.methodsJSON = []byte(`["S256","plain"]`)
	}
	return m, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Record binds challenge c to an authorization code minted outside the
// wrapped authorization handler, e.g. by a login or consent handler that
// received c from [FromContext] earlier. c is validated as the authorization
// endpoint validates it; a zero c.ExpiresAt becomes now plus [Config.TTL].
// The error wraps [ErrUsed] if the code's challenge was already used and
// [ErrStoreFull] if the store is full; the code must then not be issued.
//
// Under [Config.ReportOnly] Record never refuses: a challenge it would
// refuse, or a store failure, is logged (Error for a store failure or a
// code already bound, Info otherwise, with its reason ID) and Record
// returns nil, so the server issues the code as it would without the
// middleware. It makes no [Event]: the authorization request that carried
// the challenge had its own. An empty code is an error in both modes.
// Safe for concurrent use.
func (m *Middleware) Record(ctx context.Context, code string, c Challenge) error {
	if code == "" {
		return errors.New("pkce: Record needs a non-empty authorization code")
	}
	reason, err := m.record(ctx, code, c)
	if err != nil && m.reportOnly {
		level := slog.LevelInfo
		if reason == ReasonStoreError || reason == ReasonStoreFull || reason == ReasonRebind {
			level = slog.LevelError
		}
		m.log.LogAttrs(ctx, level, "pkce: Record would have failed; under ReportOnly the code is issued unbound",
			slog.String("client_id", c.ClientID),
			slog.String("reason", reason),
			slog.String("err", err.Error()))
		return nil
	}
	return err
}

// record is Record's work: the error, and the reason ID it would have
// at the authorization endpoint.
func (m *Middleware) record(ctx context.Context, code string, c Challenge) (reason string, err error) {
	if err := m.checkMethod(c.Method); err != nil {
		return ReasonMethodNotAllowed, err
	}
	if err := validateChallenge(c.Method, c.Value); err != nil {
		return ReasonChallengeMalformed, err
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = m.now().Add(m.ttl)
	}
	if err := m.save(ctx, storeKey(code), c); err != nil {
		switch {
		case errors.Is(err, ErrUsed), errors.Is(err, ErrExists):
			reason = ReasonRebind
		case errors.Is(err, ErrStoreFull):
			reason = ReasonStoreFull
		default:
			reason = ReasonStoreError
		}
		return reason, fmt.Errorf("pkce: recording the challenge failed: %w", err)
	}
	return "", nil
}

// checkMethod reports whether method is enabled. RFC 7636 §4.4.1:
// "transform algorithm not supported".
func (m *Middleware) checkMethod(method Method) error {
	switch {
	case method == S256, method == Plain && m.allowPlain:
		return nil
	case method == Plain:
		return errors.New("pkce: code_challenge_method plain is not accepted by this server; use S256")
	case Method(asciiUpper(string(method))) == S256:
		return fmt.Errorf("pkce: code_challenge_method %s is not supported; methods are case-sensitive, use S256", quoteParam(string(method)))
	}
	return fmt.Errorf("pkce: code_challenge_method %s is not supported (transform algorithm not supported); use %s", quoteParam(string(method)), m.methodList())
}

func (m *Middleware) methodList() string {
	if m.allowPlain {
		return "S256 (or plain)"
	}
	return "S256"
}

type challengeKey struct{}

// FromContext returns the validated challenge of the authorization request
// whose context ctx is (inside a handler wrapped by [Middleware.Authorize]),
// with ClientID set and ExpiresAt zero. ok is false when the request carried
// no challenge or the middleware is absent. Safe for concurrent use.
func FromContext(ctx context.Context) (c Challenge, ok bool) {
	if s, _ := ctx.Value(challengeKey{}).(*captureWriter); s != nil {
		return s.challenge, true
	}
	return Challenge{}, false
}

// save calls Store.Save bounded by the store timeout.
func (m *Middleware) save(ctx context.Context, key string, c Challenge) error {
	if m.storeIsMemory {
		return m.store.Save(ctx, key, c)
	}
	_, err := m.bounded(ctx, func(ctx context.Context) (Challenge, error) {
		return Challenge{}, m.store.Save(ctx, key, c)
	})
	return err
}

// take calls Store.Take bounded by the store timeout.
func (m *Middleware) take(ctx context.Context, key string) (Challenge, error) {
	if m.storeIsMemory {
		return m.store.Take(ctx, key)
	}
	return m.bounded(ctx, func(ctx context.Context) (Challenge, error) {
		return m.store.Take(ctx, key)
	})
}

// takeAs calls Restorer.TakeAs bounded by the store timeout.
func (m *Middleware) takeAs(ctx context.Context, rs Restorer, key string, take uint64) (Challenge, error) {
	if m.storeIsMemory {
		return rs.TakeAs(ctx, key, take)
	}
	return m.bounded(ctx, func(ctx context.Context) (Challenge, error) {
		return rs.TakeAs(ctx, key, take)
	})
}

// restore calls Restorer.Restore bounded by the store timeout.
func (m *Middleware) restore(ctx context.Context, rs Restorer, key string, take uint64) error {
	if m.storeIsMemory {
		return rs.Restore(ctx, key, take)
	}
	_, err := m.bounded(ctx, func(ctx context.Context) (Challenge, error) {
		return Challenge{}, rs.Restore(ctx, key, take)
	})
	return err
}

// maxStoreCalls bounds the Store calls of one Middleware running at once.
const maxStoreCalls = 10_000

var errStoreBusy = errors.New("pkce: too many store calls are still running; the store has stopped answering")

type storeResult struct {
	c   Challenge
	err error
}

// bounded runs a Store call under ctx and the store timeout. A store that
// ignores its context still cannot hold the request past the deadline: the
// call runs on its own goroutine and is abandoned at the deadline. Whatever
// the abandoned call does later can only burn a code, never pass one.
//
// Calls still running, answered or abandoned, are bounded too: past
// maxStoreCalls a request fails at once instead of adding a goroutine to a
// store that has stopped answering.
func (m *Middleware) bounded(ctx context.Context, call func(context.Context) (Challenge, error)) (Challenge, error) {
	if m.storeCalls.Add(1) > m.maxStoreCalls {
		m.storeCalls.Add(-1)
		return Challenge{}, errStoreBusy
	}
	ctx, cancel := context.WithTimeout(ctx, m.storeTimeout)
	defer cancel()
	done := make(chan storeResult, 1)
	go func() {
		defer m.storeCalls.Add(-1)
		c, err := call(ctx)
		done <- storeResult{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-ctx.Done():
		return Challenge{}, fmt.Errorf("pkce: store did not answer in time: %w", ctx.Err())
	}
}
