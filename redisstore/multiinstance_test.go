package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcetest"
	"github.com/go-pkce/pkce/redisstore"
	"github.com/redis/go-redis/v9"
)

// A fleet is a homegrown authorization server that knows nothing of PKCE,
// run as two instances (two httptest servers), or more, each wrapped by its
// own pkce.Middleware on its own Redis client. The instances share Redis
// (one server, or a cluster) and, as real ones share their database, the
// server's own code table.
type fleet struct {
	redis *redisServer // nil on a cluster
	a, b  *instance
	codes *codeTable
	// issuer is the URL the metadata names: the front's, when there is one.
	issuer atomic.Value
	// faults counts the records at Error of instances that have no Logger
	// of their own.
	faults *errorCounter
}

type instance struct {
	name   string
	srv    *httptest.Server
	client *http.Client
	// reached counts the requests that reached the wrapped handlers.
	authorizeReached, tokenReached atomic.Int64
}

const (
	fleetRedirectURI = "http://127.0.0.1:1/callback"
	fleetClientID    = "demo-app"
)

func newFleet(t *testing.T, storeTimeout time.Duration) *fleet {
	t.Helper()
	f := newEmptyFleet()
	f.redis = startRedis(t)
	newStore := func() pkce.Store {
		return redisstore.New(f.redis.Client(func(o *redis.Options) { o.ContextTimeoutEnabled = true }))
	}
	f.a = f.newInstance(t, "A", pkce.Config{Store: newStore(), StoreTimeout: storeTimeout})
	f.b = f.newInstance(t, "B", pkce.Config{Store: newStore(), StoreTimeout: storeTimeout})
	return f
}

// newEmptyFleet returns a fleet without instances.
func newEmptyFleet() *fleet {
	return &fleet{codes: &codeTable{codes: map[string]bool{}}, faults: &errorCounter{}}
}

// newInstance adds an instance wrapped by a middleware of config c. The
// first instance is the issuer until a front is set.
func (f *fleet) newInstance(t *testing.T, name string, c pkce.Config) *instance {
	t.Helper()
	if c.Logger == nil {
		c.Logger = slog.New(f.faults)
	}
	m, err := pkce.New(c)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{name: name}
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.authorizeReached.Add(1)
		f.authorize(w, r)
	})))
	mux.Handle("/token", m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.tokenReached.Add(1)
		f.token(w, r)
	})))
	mux.Handle("/.well-known/oauth-authorization-server", m.Discovery(http.HandlerFunc(f.metadata)))
	mux.Handle("/.well-known/openid-configuration", m.Discovery(http.HandlerFunc(f.metadata)))
	in.srv = httptest.NewServer(mux)
	t.Cleanup(in.srv.Close)
	f.issuer.CompareAndSwap(nil, in.srv.URL)
	in.client = &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return in
}

// authorize is the wrapped server's authorization endpoint: it consents at
// once and sends a new code back to the one registered redirect URI, by
// redirect or, on request, form_post.
func (f *fleet) authorize(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("response_type") != "code" || r.FormValue("client_id") == "" {
		http.Error(w, "unsupported or missing response_type or client_id", http.StatusBadRequest)
		return
	}
	// RFC 6749 §3.1.2.2, RFC 9700 §4.1.3: the redirect URI every client
	// registered, compared exactly; never a code elsewhere.
	redirect := r.FormValue("redirect_uri")
	if redirect != fleetRedirectURI {
		http.Error(w, "unregistered redirect_uri", http.StatusBadRequest)
		return
	}
	back := url.Values{"code": {f.codes.issue()}}
	if s := r.FormValue("state"); s != "" {
		back.Set("state", s)
	}
	if r.FormValue("response_mode") == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page := `<html><body onload="document.forms[0].submit()"><form method="post" action="` + html.EscapeString(redirect) + `">`
		for k := range back {
			page += `<input type="hidden" name="` + k + `" value="` + html.EscapeString(back.Get(k)) + `">`
		}
		io.WriteString(w, page+`</form></body></html>`)
		return
	}
	http.Redirect(w, r, redirect+"?"+back.Encode(), http.StatusFound)
}

// metadata is the wrapped server's discovery document (RFC 8414), naming
// the fleet's front as the issuer.
func (f *fleet) metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	issuer := f.issuer.Load().(string)
	json.NewEncoder(w).Encode(map[string]any{
		"issuer":                   issuer,
		"authorization_endpoint":   issuer + "/authorize",
		"token_endpoint":           issuer + "/token",
		"response_types_supported": []string{"code"},
		"grant_types_supported":    []string{"authorization_code"},
	})
}

// token is the wrapped server's token endpoint: it redeems a code once.
func (f *fleet) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.FormValue("grant_type") != "authorization_code" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"unsupported_grant_type","error_description":"only authorization_code"}`)
		return
	}
	// Client authentication comes first, as in real servers: a refusal
	// here must not cost the client its code (the middleware puts the
	// challenge back).
	if r.PostFormValue("client_secret") == "wrong" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
		return
	}
	if !f.codes.redeem(r.PostFormValue("code")) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"unknown or used code"}`)
		return
	}
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, randomString())
}

// codeTable is the wrapped server's own record of the codes it issued.
type codeTable struct {
	mu    sync.Mutex
	codes map[string]bool // code → still redeemable
	// inSlot, when not 0, is 1 + the Redis Cluster slot that the store
	// key of every code issued falls in (see issue).
	inSlot atomic.Int64
}

// issue mints a new code. With inSlot set, it draws codes until the store
// key of one (the default prefix, then the middleware's key of the code)
// falls in that slot, so that a test can aim its flows at one slot of a
// cluster: one draw in 16,384 on average, about a millisecond.
func (c *codeTable) issue() string {
	code := randomString()
	if slot := c.inSlot.Load(); slot != 0 {
		for keySlot(redisstore.DefaultKeyPrefix+pkce.S256Challenge(code)) != int(slot-1) {
			code = randomString()
		}
	}
	c.mu.Lock()
	c.codes[code] = true
	c.mu.Unlock()
	return code
}

func (c *codeTable) redeem(code string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := c.codes[code]
	c.codes[code] = false
	return ok
}

func randomString() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize runs an authorization request with a new verifier's S256
// challenge on in. It returns the response, the code if the redirect
// carried one, and the verifier.
func (in *instance) authorize(t *testing.T) (resp *http.Response, code, verifier string) {
	t.Helper()
	verifier = pkce.GenerateVerifier()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {fleetClientID},
		"redirect_uri":          {fleetRedirectURI},
		"state":                 {"st"},
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	resp, err := in.client.Get(in.srv.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatalf("authorize on %s: %v", in.name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil {
		code = loc.Query().Get("code")
	}
	if code == "" && strings.Contains(string(body), "code=") {
		t.Errorf("authorize on %s: a code-like string in a body without a redirect: %s", in.name, body)
	}
	return resp, code, verifier
}

// mustAuthorize is authorize that requires a redirect with a code.
func (in *instance) mustAuthorize(t *testing.T) (code, verifier string) {
	t.Helper()
	resp, code, verifier := in.authorize(t)
	if resp.StatusCode != http.StatusFound || code == "" {
		t.Fatalf("authorize on %s: got %d with Location %q, want a 302 with a code", in.name, resp.StatusCode, resp.Header.Get("Location"))
	}
	return code, verifier
}

type tokenAnswer struct {
	status           int
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	AccessToken      string `json:"access_token"`
}

// token redeems code with verifier on in ("" sends no verifier).
func (in *instance) token(t *testing.T, code, verifier string) tokenAnswer {
	t.Helper()
	return in.tokenWith(t, code, verifier, nil)
}

// tokenWith is token with extra form parameters.
func (in *instance) tokenWith(t *testing.T, code, verifier string, extra url.Values) tokenAnswer {
	t.Helper()
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {fleetRedirectURI},
		"client_id":    {fleetClientID},
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := in.client.PostForm(in.srv.URL+"/token", form)
	if err != nil {
		t.Errorf("token on %s: %v", in.name, err)
		return tokenAnswer{}
	}
	defer resp.Body.Close()
	a := tokenAnswer{status: resp.StatusCode}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &a); err != nil {
		t.Errorf("token on %s: %d %q is not JSON: %v", in.name, resp.StatusCode, body, err)
	}
	return a
}

func (a tokenAnswer) ok() bool { return a.status == http.StatusOK && a.AccessToken != "" }

func TestMultiInstance(t *testing.T) {
	f := newFleet(t, 0)

	t.Run("AuthorizeOnARedeemOnB", func(t *testing.T) {
		code, verifier := f.a.mustAuthorize(t)
		if a := f.b.token(t, code, verifier); !a.ok() {
			t.Fatalf("token on B for a code from A: got %+v, want a token", a)
		}
		if a := f.a.token(t, code, verifier); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Fatalf("replay on A after B redeemed: got %+v, want 400 invalid_grant", a)
		}
	})

	t.Run("ReplayOnAAfterBFails", func(t *testing.T) {
		code, verifier := f.b.mustAuthorize(t)
		before := f.b.tokenReached.Load() + f.a.tokenReached.Load()
		if a := f.b.token(t, code, pkce.GenerateVerifier()); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Fatalf("token on B with a wrong verifier: got %+v, want 400 invalid_grant", a)
		}
		// The right verifier, then none at all: the failed check burned
		// the binding on every instance.
		for _, v := range []string{verifier, ""} {
			if a := f.a.token(t, code, v); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
				t.Fatalf("replay on A (verifier %q) after B refused the code: got %+v, want 400 invalid_grant", v, a)
			}
		}
		if n := f.b.tokenReached.Load() + f.a.tokenReached.Load() - before; n != 0 {
			t.Fatalf("%d token requests for the burned code reached the wrapped server, want 0", n)
		}
	})

	t.Run("NoVerifierOnB", func(t *testing.T) {
		code, _ := f.a.mustAuthorize(t)
		if a := f.b.token(t, code, ""); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Fatalf("token on B without a verifier for a PKCE code: got %+v, want 400 invalid_grant", a)
		}
	})

	// The wrapped handler refuses a request that passed the PKCE check
	// (client authentication): the code is not used up, on any instance
	// (Redis Restore), and the corrected retry gets its token elsewhere.
	t.Run("RefusedOnARetriedOnB", func(t *testing.T) {
		code, verifier := f.a.mustAuthorize(t)
		wrong := url.Values{"client_secret": {"wrong"}}
		for range 2 {
			if a := f.a.tokenWith(t, code, verifier, wrong); a.status != http.StatusUnauthorized || a.Error != "invalid_client" {
				t.Fatalf("token on A with a wrong client secret: got %+v, want the wrapped handler's 401 invalid_client", a)
			}
		}
		if a := f.b.token(t, code, verifier); !a.ok() {
			t.Fatalf("the corrected retry on B: got %+v, want a token: a refusal by the wrapped handler must not cost the code", a)
		}
		if a := f.a.token(t, code, verifier); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Fatalf("replay on A after B redeemed: got %+v, want 400 invalid_grant", a)
		}
	})

	t.Run("WrongVerifierStillBurns", func(t *testing.T) {
		code, verifier := f.a.mustAuthorize(t)
		if a := f.a.tokenWith(t, code, pkce.GenerateVerifier(), url.Values{"client_secret": {"wrong"}}); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Fatalf("token on A with a wrong verifier: got %+v, want 400 invalid_grant before the wrapped handler", a)
		}
		if a := f.b.token(t, code, verifier); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Fatalf("the right verifier on B after a failed check: got %+v, want 400 invalid_grant", a)
		}
	})

	for _, refusedFirst := range []bool{false, true} {
		name := "ConcurrentRedemptions"
		if refusedFirst {
			name += "AfterRefusal"
		}
		t.Run(name, func(t *testing.T) { testConcurrentRedemptions(t, f, refusedFirst) })
	}
}

// testConcurrentRedemptions sends 32 concurrent redemptions of one code,
// half to each instance: exactly one gets a token. With refusals, half of
// them carry a wrong client secret, which the wrapped handler refuses after
// the PKCE check passed: they put the challenge back, so the others may all
// have found it held; then at most one got a token, and if none did, the
// code is still good for one.
func testConcurrentRedemptions(t *testing.T, f *fleet, refusals bool) {
	for round := range 3 {
		code, verifier := f.a.mustAuthorize(t)
		const n = 32
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			wins  atomic.Int64
		)
		for i := range n {
			in := f.a
			if i%2 == 1 {
				in = f.b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if refusals && i%4 < 2 {
					a := in.tokenWith(t, code, verifier, url.Values{"client_secret": {"wrong"}})
					// The PKCE check passed and the handler refused (401),
					// or another request held the code (400).
					if a.status != http.StatusUnauthorized && (a.status != http.StatusBadRequest || a.Error != "invalid_grant") {
						t.Errorf("a refused redemption on %s: got %+v, want 401 invalid_client or 400 invalid_grant", in.name, a)
					}
					return
				}
				a := in.token(t, code, verifier)
				switch {
				case a.ok():
					wins.Add(1)
				case a.status != http.StatusBadRequest || a.Error != "invalid_grant":
					t.Errorf("a losing redemption on %s: got %+v, want 400 invalid_grant", in.name, a)
				}
			}()
		}
		close(start)
		wg.Wait()
		w := wins.Load()
		if w == 0 && refusals {
			if a := f.b.token(t, code, verifier); a.ok() {
				w++
			}
		}
		if w != 1 {
			t.Fatalf("round %d: %d of %d concurrent redemptions over both instances succeeded, want exactly 1", round, w, n)
		}
		if a := f.a.token(t, code, verifier); a.ok() {
			t.Fatalf("round %d: a redemption after the round got a token: the code was redeemed twice", round)
		}
	}
}

// TestMultiInstanceRedisKilled kills Redis in the middle of flows: every
// request fails closed, and the same middleware serves again once Redis is
// back.
func TestMultiInstanceRedisKilled(t *testing.T) {
	f := newFleet(t, 2*time.Second)
	// A flow is half done when Redis dies: its code was issued on A.
	code, verifier := f.a.mustAuthorize(t)
	f.redis.Kill()

	for _, in := range []*instance{f.a, f.b} {
		reached := in.authorizeReached.Load()
		start := time.Now()
		resp, got, _ := in.authorize(t)
		if resp.StatusCode < 500 || got != "" || resp.Header.Get("Location") != "" {
			t.Errorf("authorize on %s with Redis down: got %d, Location %q, want a 5xx and no code", in.name, resp.StatusCode, resp.Header.Get("Location"))
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("authorize on %s with Redis down took %v, want within the 2s store timeout", in.name, took)
		}
		if in.authorizeReached.Load() != reached+1 {
			t.Errorf("authorize on %s: the wrapped handler ran %d times, want once (it issued the code the middleware withheld)", in.name, in.authorizeReached.Load()-reached)
		}

		reached = in.tokenReached.Load()
		start = time.Now()
		for _, v := range []string{verifier, ""} {
			a := in.token(t, code, v)
			if a.status < 500 || a.Error != "server_error" || a.AccessToken != "" {
				t.Errorf("token on %s (verifier %q) with Redis down: got %+v, want a 5xx server_error", in.name, v, a)
			}
		}
		if took := time.Since(start); took > 6*time.Second {
			t.Errorf("two token requests on %s with Redis down took %v, want each within the 2s store timeout", in.name, took)
		}
		if n := in.tokenReached.Load() - reached; n != 0 {
			t.Errorf("%d token requests on %s reached the wrapped server with Redis down, want 0", n, in.name)
		}
	}

	f.redis.Restart()
	// The code issued before the crash lost its challenge with Redis's
	// memory: it must not pass, with or without a verifier.
	waitFor(t, 10*time.Second, "authorize to work again after Redis restarted", func() error {
		if code, _ := f.b.mustAuthorizeOrErr(); code == "" {
			return errors.New("no code")
		}
		return nil
	})
	for _, v := range []string{verifier, ""} {
		if a := f.b.token(t, code, v); a.status != http.StatusBadRequest || a.Error != "invalid_grant" {
			t.Errorf("token (verifier %q) for a code whose challenge Redis lost: got %+v, want 400 invalid_grant", v, a)
		}
	}
	// New flows work on both instances, across them.
	for _, pair := range [][2]*instance{{f.a, f.b}, {f.b, f.a}} {
		code, verifier := pair[0].mustAuthorize(t)
		if a := pair[1].token(t, code, verifier); !a.ok() {
			t.Fatalf("after restart, authorize on %s and redeem on %s: got %+v, want a token", pair[0].name, pair[1].name, a)
		}
	}
}

// TestMultiInstanceRedisStalled stops Redis with SIGSTOP: requests fail
// within the store timeout instead of hanging, then work after SIGCONT.
func TestMultiInstanceRedisStalled(t *testing.T) {
	const storeTimeout = 500 * time.Millisecond
	f := newFleet(t, storeTimeout)
	code, verifier := f.a.mustAuthorize(t)
	f.redis.Pause()
	resumed := false
	defer func() {
		if !resumed {
			f.redis.Resume()
		}
	}()

	start := time.Now()
	resp, got, _ := f.b.authorize(t)
	took := time.Since(start)
	if resp.StatusCode < 500 || got != "" {
		t.Errorf("authorize with Redis stalled: got %d, code %q, want a 5xx and no code", resp.StatusCode, got)
	}
	if took > storeTimeout+time.Second {
		t.Errorf("authorize with Redis stalled took %v, want about the %v store timeout", took, storeTimeout)
	}
	t.Logf("authorize with Redis stalled: %d after %v", resp.StatusCode, took.Round(time.Millisecond))

	reached := f.b.tokenReached.Load()
	start = time.Now()
	a := f.b.token(t, code, verifier)
	took = time.Since(start)
	if a.status < 500 || a.Error != "server_error" {
		t.Errorf("token with Redis stalled: got %+v, want a 5xx server_error", a)
	}
	if took > storeTimeout+time.Second {
		t.Errorf("token with Redis stalled took %v, want about the %v store timeout", took, storeTimeout)
	}
	if f.b.tokenReached.Load() != reached {
		t.Errorf("the token request reached the wrapped server with Redis stalled")
	}
	t.Logf("token with Redis stalled: %d after %v", a.status, took.Round(time.Millisecond))

	// A request whose client gives up first ends with the client's
	// deadline, not later.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.a.srv.URL+"/authorize?"+url.Values{
		"response_type": {"code"}, "client_id": {fleetClientID}, "redirect_uri": {fleetRedirectURI},
		"code_challenge": {pkce.S256Challenge(pkce.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}.Encode(), nil)
	start = time.Now()
	_, err := f.a.client.Do(req)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("authorize with a 200ms client deadline and Redis stalled: got %v after %v", err, time.Since(start))
	}

	f.redis.Resume()
	resumed = true
	waitFor(t, 10*time.Second, "flows to work again after Redis resumed", func() error {
		code, verifier := f.b.mustAuthorizeOrErr()
		if code == "" {
			return errors.New("no code")
		}
		if a := f.a.token(t, code, verifier); !a.ok() {
			return fmt.Errorf("token: %+v", a)
		}
		return nil
	})
	// The token request that timed out was sent to Redis before the stall
	// ended, so the challenge of the first code is used up, or still there:
	// either way the code is redeemed at most once.
	wins := 0
	for _, in := range []*instance{f.a, f.b} {
		if a := in.token(t, code, verifier); a.ok() {
			wins++
		}
	}
	if wins > 1 {
		t.Errorf("the code issued before the stall was redeemed %d times", wins)
	}
}

// mustAuthorizeOrErr is authorize for polling: it reports failure by an
// empty code instead of failing the test.
func (in *instance) mustAuthorizeOrErr() (code, verifier string) {
	verifier = pkce.GenerateVerifier()
	q := url.Values{
		"response_type": {"code"}, "client_id": {fleetClientID}, "redirect_uri": {fleetRedirectURI},
		"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"},
	}
	resp, err := in.client.Get(in.srv.URL + "/authorize?" + q.Encode())
	if err != nil {
		return "", ""
	}
	resp.Body.Close()
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && resp.StatusCode == http.StatusFound {
		code = loc.Query().Get("code")
	}
	return code, verifier
}

// TestMultiInstanceAudit runs the whole pkcetest audit against a
// round-robin front that sends each request to the other instance than the
// one before: every authorization code is redeemed, retried and replayed
// across instances, through Redis.
func TestMultiInstanceAudit(t *testing.T) {
	f := newFleet(t, 0)
	auditThroughFront(t, f, f.a, f.b)
}

// auditThroughFront runs the pkcetest audit, for a public and a
// confidential client, through a round-robin front of the instances: each
// request goes to the next instance.
func auditThroughFront(t *testing.T, f *fleet, instances ...*instance) {
	t.Helper()
	backends := make([]*url.URL, len(instances))
	for i, in := range instances {
		backends[i] = mustParse(t, in.srv.URL)
	}
	var next atomic.Uint64
	perBackend := make([]atomic.Int64, len(backends))
	front := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := (next.Add(1) - 1) % uint64(len(backends))
			perBackend[i].Add(1)
			r.SetURL(backends[i])
		},
	})
	t.Cleanup(front.Close)
	f.issuer.Store(front.URL)

	for _, secret := range []string{"", "demo-secret"} {
		name := "public"
		if secret != "" {
			name = "confidential"
		}
		t.Run(name, func(t *testing.T) {
			pkcetest.Run(t, pkcetest.Target{
				Issuer:        front.URL,
				ClientID:      fleetClientID,
				ClientSecret:  secret,
				RedirectURI:   fleetRedirectURI,
				OtherClientID: "other-app",
				Client:        front.Client(),
			})
		})
	}
	lo, hi := perBackend[0].Load(), perBackend[0].Load()
	for i := range perBackend {
		n := perBackend[i].Load()
		t.Logf("the front sent %d requests to %s", n, instances[i].name)
		lo, hi = min(lo, n), max(hi, n)
	}
	if lo == 0 || hi-lo > 1 {
		t.Errorf("the front sent between %d and %d requests to each instance, want them in turn", lo, hi)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
