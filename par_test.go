package pkce_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests of pushed authorization requests (RFC 9126) and request
// objects (RFC 9101) through real HTTP round trips: a homegrown server that
// supports both and knows nothing of PKCE, wrapped by the middleware.

// pushServer is the homegrown server with a PAR endpoint and request
// objects: clients app (public) and svc (confidential, secret s3cret by HTTP
// Basic, form-decoded, or in the body); request objects are ES256 JWS it
// verifies with the client's key. It is careless about single use: a
// request_uri serves any number of authorization requests, so only the
// middleware makes it single use.
type pushServer struct {
	*homegrown
	m    *pkce.Middleware
	srv  *httptest.Server
	key  *ecdsa.PrivateKey // the clients' request object key
	logs *bytes.Buffer

	mu        sync.Mutex
	pushed    map[string]url.Values // request_uri -> the parameters that count
	expiresIn string                // the expires_in member of the PAR answer; "" to leave it out
}

func newPushServer(t *testing.T, cfg pkce.Config) *pushServer {
	t.Helper()
	ps := &pushServer{homegrown: newHomegrown(), pushed: map[string]url.Values{}, expiresIn: "60", logs: &bytes.Buffer{}}
	var err error
	ps.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(ps.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ps.m, err = pkce.New(cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/par", ps.m.PAR(http.HandlerFunc(ps.servePAR)))
	mux.Handle("/authorize", ps.m.Authorize(http.HandlerFunc(ps.serveAuthorizeIndirect)))
	mux.Handle("/token", ps.m.Token(http.HandlerFunc(ps.serveToken)))
	ps.srv = httptest.NewServer(mux)
	t.Cleanup(ps.srv.Close)
	return ps
}

// authenticate returns the client of a PAR request, or "" when its
// credentials are wrong.
func (ps *pushServer) authenticate(r *http.Request) string {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		var err1, err2 error
		id, err1 = url.QueryUnescape(u)
		secret, err2 = url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			return ""
		}
	}
	switch {
	case id == "app" && secret == "":
		return id
	case id == "svc" && secret == "s3cret":
		return id
	}
	return ""
}

func (ps *pushServer) servePAR(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	client := ps.authenticate(r)
	if client == "" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	params := r.PostForm
	if obj := params.Get("request"); obj != "" {
		claims, ok := ps.verify(obj)
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_request_object"}`)
			return
		}
		params = claims
	}
	params.Set("client_id", client)
	uri := "urn:ietf:params:oauth:request_uri:" + randomCode()
	ps.mu.Lock()
	ps.pushed[uri] = params
	expiresIn := ps.expiresIn
	ps.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	if expiresIn == "" {
		fmt.Fprintf(w, `{"request_uri":%q}`, uri)
		return
	}
	fmt.Fprintf(w, `{"request_uri":%q,"expires_in":%s}`, uri, expiresIn)
}

// serveAuthorizeIndirect resolves request_uri and request, then issues a
// code as the homegrown server does.
func (ps *pushServer) serveAuthorizeIndirect(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	params := r.Form
	switch {
	case r.Form.Get("request_uri") != "":
		ps.mu.Lock()
		pushed, ok := ps.pushed[r.Form.Get("request_uri")]
		ps.mu.Unlock()
		if !ok || pushed.Get("client_id") != r.Form.Get("client_id") {
			http.Error(w, "unknown request_uri", http.StatusBadRequest)
			return
		}
		params = pushed
	case r.Form.Get("request") != "":
		claims, ok := ps.verify(r.Form.Get("request"))
		if !ok {
			http.Error(w, "bad request object", http.StatusBadRequest)
			return
		}
		if claims.Get("client_id") == "" {
			claims.Set("client_id", r.Form.Get("client_id"))
		}
		params = claims
	}
	r2 := r.Clone(r.Context())
	r2.Form = params
	ps.serveAuthorize(w, r2)
}

// verify checks an ES256 request object and returns its string claims.
func (ps *pushServer) verify(jws string) (url.Values, bool) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&ps.key.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	v := url.Values{}
	for k, c := range claims {
		if s, ok := c.(string); ok {
			v.Set(k, s)
		}
	}
	return v, true
}

// sign returns an ES256 request object (JWS compact) whose payload is the
// JSON text payload, as written (duplicates included).
func (ps *pushServer) sign(t *testing.T, payload string) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"oauth-authz-req+jwt"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(payload))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, ps.key, digest[:])
	require.NoError(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// claims returns a request object payload for client app with the S256
// challenge of verifier, and extra members (raw JSON, after a comma).
func claims(verifier, extra string) string {
	p := `{"iss":"app","aud":"https://as.example","client_id":"app","response_type":"code","redirect_uri":"` + testRedirect +
		`","state":"xyz","code_challenge":"` + pkce.S256Challenge(verifier) + `","code_challenge_method":"S256"`
	if extra != "" {
		p += "," + extra
	}
	return p + "}"
}

// pushAnswer is the PAR endpoint's answer.
type pushAnswer struct {
	Status      int
	Body        string
	RequestURI  string  `json:"request_uri"`
	ExpiresIn   float64 `json:"expires_in"`
	Error       string  `json:"error"`
	Description string  `json:"error_description"`
}

// push sends a pushed authorization request with form and the header.
func (ps *pushServer) push(t *testing.T, form url.Values, header http.Header) pushAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ps.srv.URL+"/par", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := pushAnswer{Status: resp.StatusCode, Body: string(b)}
	require.Equal(t, "application/json", mediaTypeOf(resp.Header.Get("Content-Type")), "answer %d %s", resp.StatusCode, b)
	require.NoError(t, json.Unmarshal(b, &a), "answer %s", b)
	if resp.StatusCode >= 400 {
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	}
	return a
}

func mediaTypeOf(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(mt)
}

// pushForm is the form of a pushed request by client app with the S256
// challenge of verifier.
func pushForm(verifier string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect}, "state": {"xyz"},
		"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
}

// authorizeURI sends the authorization request that names requestURI and
// returns the answer.
func (ps *pushServer) authorizeURI(t *testing.T, client, requestURI string, extra url.Values) (*http.Response, string) {
	t.Helper()
	q := url.Values{"client_id": {client}, "request_uri": {requestURI}}
	for k, vs := range extra {
		q[k] = vs
	}
	s := &stack{homegrown: ps.homegrown, m: ps.m, srv: ps.srv}
	return s.get(t, "/authorize?"+q.Encode())
}

// redeem redeems code as client with verifier and returns the answer.
func (ps *pushServer) redeem(t *testing.T, client, code, verifier string) tokenResponse {
	t.Helper()
	s := &stack{homegrown: ps.homegrown, m: ps.m, srv: ps.srv}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "client_id": {client}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return s.postToken(t, form)
}

func basic(id, secret string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
}

// TestPARFlow: a client that follows RFC 9126 (public, confidential with
// Basic or body credentials, a request object in the pushed body) gets its
// token with the pushed verifier; a wrong verifier, none, and a replay get
// nothing.
func TestPARFlow(t *testing.T) {
	tests := []struct {
		name   string
		client string
		form   func(ps *pushServer, v string) url.Values
		header http.Header
	}{
		{"public client", "app", func(_ *pushServer, v string) url.Values { return pushForm(v) }, nil},
		{"confidential, Basic form-encoded", "svc", func(_ *pushServer, v string) url.Values {
			f := pushForm(v)
			f.Del("client_id")
			return f
		}, basic("svc", "s3cret")},
		{"confidential, body credentials", "svc", func(_ *pushServer, v string) url.Values {
			f := pushForm(v)
			f.Set("client_id", "svc")
			f.Set("client_secret", "s3cret")
			return f
		}, nil},
		{"request object in the pushed body (FAPI 2.0)", "app", func(ps *pushServer, v string) url.Values {
			return url.Values{"client_id": {"app"}, "request": {ps.sign(t, claims(v, ""))}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newPushServer(t, pkce.Config{})
			v := pkce.GenerateVerifier()
			a := ps.push(t, tt.form(ps, v), tt.header)
			require.Equal(t, http.StatusCreated, a.Status, a.Body)
			assert.True(t, strings.HasPrefix(a.RequestURI, "urn:ietf:params:oauth:request_uri:"))
			assert.Equal(t, 60.0, a.ExpiresIn)

			resp, body := ps.authorizeURI(t, tt.client, a.RequestURI, nil)
			code := redirectedCode(t, resp)
			_ = body
			for _, wrong := range []string{pkce.GenerateVerifier(), ""} {
				stolen := ps.authorizeAgain(t, tt.client, tt.form(ps, v), tt.header)
				got := ps.redeem(t, tt.client, stolen, wrong)
				assert.Equal(t, "invalid_grant", got.Error, "verifier %q", wrong != "")
			}
			got := ps.redeem(t, tt.client, code, v)
			require.Equal(t, http.StatusOK, got.Status, got.Description)
			assert.NotEmpty(t, got.AccessToken)
			assert.Equal(t, "invalid_grant", ps.redeem(t, tt.client, code, v).Error, "a replay")
			assert.Equal(t, 1, ps.tokensIssued())
		})
	}
}

// authorizeAgain pushes form and returns the code of the authorization
// request that names its request_uri.
func (ps *pushServer) authorizeAgain(t *testing.T, client string, form url.Values, header http.Header) string {
	t.Helper()
	a := ps.push(t, form, header)
	require.Equal(t, http.StatusCreated, a.Status, a.Body)
	resp, _ := ps.authorizeURI(t, client, a.RequestURI, nil)
	return redirectedCode(t, resp)
}

// TestPARRefusals: a pushed request the middleware refuses gets RFC 9126
// §2.3 JSON, reaches no handler and records nothing.
func TestPARRefusals(t *testing.T) {
	v := pkce.GenerateVerifier()
	with := func(f func(url.Values)) url.Values {
		form := pushForm(v)
		f(form)
		return form
	}
	tests := []struct {
		name     string
		cfg      pkce.Config
		form     url.Values
		header   http.Header
		status   int
		reason   string
		descPart string
	}{
		{"no challenge", pkce.Config{}, with(func(f url.Values) { f.Del("code_challenge"); f.Del("code_challenge_method") }), nil, 400, pkce.ReasonChallengeMissing, "code challenge required"},
		{"method without challenge", pkce.Config{}, with(func(f url.Values) { f.Del("code_challenge") }), nil, 400, pkce.ReasonChallengeMissing, "without code_challenge"},
		{"malformed challenge", pkce.Config{}, with(func(f url.Values) { f.Set("code_challenge", strings.Repeat("0f", 32)) }), nil, 400, pkce.ReasonChallengeMalformed, "hex"},
		{"unknown method", pkce.Config{}, with(func(f url.Values) { f.Set("code_challenge_method", "S512") }), nil, 400, pkce.ReasonMethodNotAllowed, "not supported"},
		{"plain when disabled", pkce.Config{}, with(func(f url.Values) { f.Set("code_challenge_method", "plain") }), nil, 400, pkce.ReasonMethodNotAllowed, "plain"},
		{"duplicated challenge", pkce.Config{}, with(func(f url.Values) { f.Add("code_challenge", pkce.S256Challenge(v)) }), nil, 400, pkce.ReasonDuplicateParameter, "more than once"},
		{"duplicated client_id", pkce.Config{}, with(func(f url.Values) { f.Add("client_id", "app") }), nil, 400, pkce.ReasonDuplicateParameter, "more than once"},
		{"names no client", pkce.Config{}, with(func(f url.Values) { f.Del("client_id") }), nil, 400, pkce.ReasonBadRequest, "names no client"},
		{"Basic and body client differ", pkce.Config{}, with(func(f url.Values) {}), basic("svc", "s3cret"), 400, pkce.ReasonClientMismatch, "differs"},
		{"redirect_uri over 2 KiB", pkce.Config{}, with(func(f url.Values) { f.Set("redirect_uri", testRedirect+"?"+strings.Repeat("a", 2048)) }), nil, 400, pkce.ReasonBadRequest, "longer than 2048"},
		{"request_uri in the pushed body", pkce.Config{}, with(func(f url.Values) { f.Set("request_uri", "urn:x") }), nil, 400, pkce.ReasonBadRequest, "must not carry request_uri"},
		{"parameter name in another case", pkce.Config{}, with(func(f url.Values) { f.Set("Code_Challenge", pkce.S256Challenge(v)) }), nil, 400, pkce.ReasonParameterCase, "case-sensitive"},
		{"request object not a JWS", pkce.Config{}, with(func(f url.Values) { f.Set("request", "not-a-jwt") }), nil, 400, pkce.ReasonRequestUnreadable, "not a JWT"},
		{"encrypted request object", pkce.Config{}, with(func(f url.Values) { f.Set("request", "a.b.c.d.e") }), nil, 400, pkce.ReasonRequestUnreadable, "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []pkce.Event
			tt.cfg.OnEvent = func(e pkce.Event) { events = append(events, e) }
			store := pkce.NewMemoryStore()
			tt.cfg.Store = store
			ps := newPushServer(t, tt.cfg)
			a := ps.push(t, tt.form, tt.header)
			assert.Equal(t, tt.status, a.Status, a.Body)
			want := "invalid_request"
			if tt.reason == pkce.ReasonRequestUnreadable {
				want = "invalid_request_object" // RFC 9101 §7
			}
			assert.Equal(t, want, a.Error)
			assert.Contains(t, a.Description, tt.descPart)
			assert.Empty(t, a.RequestURI)
			assert.Empty(t, ps.pushed, "the wrapped PAR handler was not reached")
			assert.Zero(t, store.Len(), "nothing recorded")
			require.Len(t, events, 1)
			assert.Equal(t, "par", events[0].Endpoint)
			assert.Equal(t, tt.reason, events[0].Refusal)
			assert.True(t, events[0].Enforced)
			assert.Equal(t, tt.status, events[0].Status)
		})
	}
	t.Run("GET", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{})
		resp, err := http.Get(ps.srv.URL + "/par?" + pushForm(v).Encode())
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		assert.Empty(t, ps.pushed)
	})
}

// TestPAROptionalPolicy: under a policy that does not require PKCE, a
// pushed request without a challenge passes and records nothing; its
// request_uri passes unbound at authorize.
func TestPAROptionalPolicy(t *testing.T) {
	store := pkce.NewMemoryStore()
	ps := newPushServer(t, pkce.Config{Store: store, Require: func(*http.Request, string) bool { return false }})
	form := pushForm("")
	form.Del("code_challenge")
	form.Del("code_challenge_method")
	a := ps.push(t, form, nil)
	require.Equal(t, http.StatusCreated, a.Status, a.Body)
	assert.Zero(t, store.Len())
	resp, _ := ps.authorizeURI(t, "app", a.RequestURI, nil)
	code := redirectedCode(t, resp)
	got := ps.redeem(t, "app", code, "")
	assert.Equal(t, http.StatusOK, got.Status, got.Description)

	// An outer challenge with an unknown request_uri is not bound: the
	// real one is elsewhere. A verifier for it is a downgrade.
	v := pkce.GenerateVerifier()
	resp, _ = ps.authorizeURI(t, "app", a.RequestURI, url.Values{"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}})
	code = redirectedCode(t, resp)
	assert.Equal(t, "invalid_grant", ps.redeem(t, "app", code, v).Error)
}

// TestPARExpiresIn: the pushed entry lives for the answer's expires_in,
// 60 seconds when absent; an answer the middleware cannot read never
// leaves.
func TestPARExpiresIn(t *testing.T) {
	tests := []struct {
		expiresIn string
		want      time.Duration // 0: refused
	}{
		{"", 60 * time.Second},
		{"90", 90 * time.Second},
		{"1.5", 2 * time.Second},
		{"0", 0},
		{"-5", 0},
		{`"60"`, 0},
		{"1e300", 0},
	}
	for _, tt := range tests {
		t.Run("expires_in "+tt.expiresIn, func(t *testing.T) {
			store := &expiryStore{MemoryStore: pkce.NewMemoryStore()}
			ps := newPushServer(t, pkce.Config{Store: store})
			ps.expiresIn = tt.expiresIn
			start := time.Now()
			a := ps.push(t, pushForm(pkce.GenerateVerifier()), nil)
			if tt.want == 0 {
				assert.Equal(t, http.StatusInternalServerError, a.Status)
				assert.Equal(t, "server_error", a.Error)
				assert.Empty(t, a.RequestURI)
				assert.NotContains(t, a.Body, "urn:ietf")
				assert.Contains(t, ps.logs.String(), "cannot be read")
				return
			}
			require.Equal(t, http.StatusCreated, a.Status, a.Body)
			require.Len(t, store.saved, 1)
			assert.WithinDuration(t, start.Add(tt.want), store.saved[0].ExpiresAt, 2*time.Second)
			assert.Equal(t, testRedirect, store.saved[0].RedirectURI)
			assert.Equal(t, "app", store.saved[0].ClientID)
		})
	}
}

// expiryStore is a MemoryStore that notes the challenges saved.
type expiryStore struct {
	*pkce.MemoryStore
	mu    sync.Mutex
	saved []pkce.Challenge
	fail  error // every Save of a pushed request fails with it
}

func (s *expiryStore) Save(ctx context.Context, key string, c pkce.Challenge) error {
	if strings.HasPrefix(key, "par:") {
		if s.fail != nil {
			return s.fail
		}
		s.mu.Lock()
		s.saved = append(s.saved, c)
		s.mu.Unlock()
	}
	return s.MemoryStore.Save(ctx, key, c)
}

// TestPARStoreFailure: the client never sees the request_uri of a pushed
// request the middleware could not record.
func TestPARStoreFailure(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		code   string
	}{
		{errors.New("connection refused"), http.StatusInternalServerError, "server_error"},
		{pkce.ErrStoreFull, http.StatusServiceUnavailable, "temporarily_unavailable"},
	} {
		t.Run(tt.code, func(t *testing.T) {
			store := &expiryStore{MemoryStore: pkce.NewMemoryStore(), fail: tt.err}
			ps := newPushServer(t, pkce.Config{Store: store})
			a := ps.push(t, pushForm(pkce.GenerateVerifier()), nil)
			assert.Equal(t, tt.status, a.Status)
			assert.Equal(t, tt.code, a.Error)
			assert.NotContains(t, a.Body, "request_uri:")
			require.Len(t, ps.pushed, 1, "the wrapped handler pushed it")
		})
	}
}

// noPeekStore is a Store without the look-up ability.
type noPeekStore struct{ pkce.Store }

// TestPARWithoutPeeker: with a store that cannot look a pushed request up,
// every pushed request is refused with a 500 and an Error log saying why;
// Authorize and Token work as before.
func TestPARWithoutPeeker(t *testing.T) {
	ps := newPushServer(t, pkce.Config{Store: noPeekStore{pkce.NewMemoryStore()}})
	a := ps.push(t, pushForm(pkce.GenerateVerifier()), nil)
	assert.Equal(t, http.StatusInternalServerError, a.Status)
	assert.Equal(t, "server_error", a.Error)
	assert.Contains(t, a.Description, "cannot look them up")
	assert.Empty(t, ps.pushed)
	logs := ps.logs.String()
	assert.Contains(t, logs, `"level":"ERROR"`)
	assert.Contains(t, logs, "does not implement pkce.Peeker")

	s := &stack{homegrown: ps.homegrown, m: ps.m, srv: ps.srv}
	v := pkce.GenerateVerifier()
	got := s.exchange(t, s.code(t, v), v)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
}

// TestAuthorizeRequestURI: what the authorization request that names a
// request_uri gets.
func TestAuthorizeRequestURI(t *testing.T) {
	v := pkce.GenerateVerifier()
	t.Run("unknown under a requiring policy", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{})
		resp, body := ps.authorizeURI(t, "app", "urn:ietf:params:oauth:request_uri:nope", url.Values{"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "unknown or expired")
		assert.Empty(t, ps.codes)
	})
	t.Run("another client", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{})
		a := ps.push(t, pushForm(v), nil)
		resp, body := ps.authorizeURI(t, "svc", a.RequestURI, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "another client")
		resp, body = ps.authorizeURI(t, "", a.RequestURI, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "client_id is missing")
		assert.Empty(t, ps.codes)
	})
	t.Run("outer challenge differs", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{})
		a := ps.push(t, pushForm(v), nil)
		for _, outer := range []url.Values{
			{"code_challenge": {pkce.S256Challenge(pkce.GenerateVerifier())}, "code_challenge_method": {"S256"}},
			{"code_challenge_method": {"plain"}},
		} {
			resp, body := ps.authorizeURI(t, "app", a.RequestURI, outer)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, body, "differs from the pushed")
		}
		assert.Empty(t, ps.codes)
	})
	t.Run("outer challenge equal", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{})
		a := ps.push(t, pushForm(v), nil)
		resp, _ := ps.authorizeURI(t, "app", a.RequestURI, url.Values{"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}})
		code := redirectedCode(t, resp)
		assert.Equal(t, http.StatusOK, ps.redeem(t, "app", code, v).Status)
	})
	t.Run("single use", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{})
		a := ps.push(t, pushForm(v), nil)
		resp, _ := ps.authorizeURI(t, "app", a.RequestURI, nil)
		code := redirectedCode(t, resp)
		resp, body := ps.authorizeURI(t, "app", a.RequestURI, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "already used")
		assert.Len(t, ps.codes, 1, "the careless server was not reached again")
		assert.Equal(t, http.StatusOK, ps.redeem(t, "app", code, v).Status)
	})
	t.Run("FromContext carries the pushed redirect_uri", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{})
		var got pkce.Challenge
		h := ps.m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = pkce.FromContext(r.Context())
		}))
		a := ps.push(t, pushForm(v), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/authorize?client_id=app&request_uri="+url.QueryEscape(a.RequestURI), nil))
		assert.Equal(t, pkce.Challenge{Value: pkce.S256Challenge(v), Method: pkce.S256, ClientID: "app", RedirectURI: testRedirect}, got)
	})
}

// TestPARLoginInBetween: a login page between two passes of the
// authorization request: the first pass looks the pushed request up
// without using it, the second binds the code.
func TestPARLoginInBetween(t *testing.T) {
	ps := newPushServer(t, pkce.Config{})
	mux := http.NewServeMux()
	mux.Handle("/par", ps.m.PAR(http.HandlerFunc(ps.servePAR)))
	mux.Handle("/authorize", ps.m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("session"); err != nil {
			http.Redirect(w, r, "/login?"+r.URL.RawQuery, http.StatusFound)
			return
		}
		ps.serveAuthorizeIndirect(w, r)
	})))
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "user-1", Path: "/"})
		http.Redirect(w, r, "/authorize?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.Handle("/token", ps.m.Token(http.HandlerFunc(ps.serveToken)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ps.srv = srv
	ls := &loginServer{homegrown: ps.homegrown, m: ps.m, srv: srv}

	v := pkce.GenerateVerifier()
	a := ps.push(t, pushForm(v), nil)
	require.Equal(t, http.StatusCreated, a.Status, a.Body)
	code := redirectedCode(t, ls.browse(t, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}))
	assert.Equal(t, "invalid_grant", ps.redeem(t, "app", code, pkce.GenerateVerifier()).Error)

	a = ps.push(t, pushForm(v), nil)
	code = redirectedCode(t, ls.browse(t, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}))
	got := ps.redeem(t, "app", code, v)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
}

// TestAuthorizeRequestObject: a request object signed ES256, which the
// server verifies, carries the challenge that is bound.
func TestAuthorizeRequestObject(t *testing.T) {
	ps := newPushServer(t, pkce.Config{})
	get := func(q url.Values) (*http.Response, string) {
		s := &stack{homegrown: ps.homegrown, m: ps.m, srv: ps.srv}
		return s.get(t, "/authorize?"+q.Encode())
	}
	v := pkce.GenerateVerifier()
	t.Run("honest", func(t *testing.T) {
		resp, _ := get(url.Values{"client_id": {"app"}, "response_type": {"code"}, "request": {ps.sign(t, claims(v, ""))}})
		code := redirectedCode(t, resp)
		assert.Equal(t, "invalid_grant", ps.redeem(t, "app", code, pkce.GenerateVerifier()).Error)
		resp, _ = get(url.Values{"client_id": {"app"}, "request": {ps.sign(t, claims(v, ""))}})
		code = redirectedCode(t, resp)
		got := ps.redeem(t, "app", code, v)
		assert.Equal(t, http.StatusOK, got.Status, got.Description)
	})
	for _, tt := range []struct {
		name     string
		q        url.Values
		descPart string
	}{
		{"outer challenge differs", url.Values{"client_id": {"app"}, "request": {ps.sign(t, claims(v, ""))}, "code_challenge": {pkce.S256Challenge(pkce.GenerateVerifier())}, "code_challenge_method": {"S256"}}, "differs from the request object's"},
		{"outer client differs", url.Values{"client_id": {"svc"}, "request": {ps.sign(t, claims(v, ""))}}, "client_id differs"},
		{"duplicated member", url.Values{"client_id": {"app"}, "request": {ps.sign(t, claims(v, `"code_challenge":"`+pkce.S256Challenge(pkce.GenerateVerifier())+`"`))}}, "more than once"},
		{"member in another case", url.Values{"client_id": {"app"}, "request": {ps.sign(t, claims(v, `"Code_Challenge":"x"`))}}, "case-sensitive"},
		{"challenge not a string", url.Values{"client_id": {"app"}, "request": {ps.sign(t, `{"client_id":"app","response_type":"code","code_challenge":["`+pkce.S256Challenge(v)+`"],"code_challenge_method":"S256"}`)}}, "not a JSON string"},
		{"no challenge inside", url.Values{"client_id": {"app"}, "code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}, "request": {ps.sign(t, `{"client_id":"app","response_type":"code","redirect_uri":"`+testRedirect+`"}`)}}, "differs from the request object's"},
		{"encrypted", url.Values{"client_id": {"app"}, "request": {"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"}}, "encrypted"},
		{"request and request_uri", url.Values{"client_id": {"app"}, "request": {ps.sign(t, claims(v, ""))}, "request_uri": {"urn:x"}}, "both given"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps.homegrown.mu.Lock()
			before := len(ps.codes)
			ps.homegrown.mu.Unlock()
			resp, body := get(tt.q)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			assert.Contains(t, body, tt.descPart)
			assert.Len(t, ps.codes, before, "no code was issued")
		})
	}
	t.Run("encrypted under an optional policy passes unbound", func(t *testing.T) {
		ps := newPushServer(t, pkce.Config{Require: func(*http.Request, string) bool { return false }})
		s := &stack{homegrown: ps.homegrown, m: ps.m, srv: ps.srv}
		resp, _ := s.get(t, "/authorize?"+url.Values{"client_id": {"app"}, "response_type": {"code"}, "redirect_uri": {testRedirect},
			"request": {"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"}}.Encode())
		// The careless test server cannot verify it and refuses: the
		// middleware let it through.
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.NotContains(t, ps.logs.String(), "request refused")
	})
}

// TestPARRaceOfTwoPasses: two authorization requests that name one
// request_uri both find it, and the handler issues a code to each: only
// one code leaves, the other pass fails closed (a request_uri is single
// use, RFC 9126 §4).
func TestPARRaceOfTwoPasses(t *testing.T) {
	ps := newPushServer(t, pkce.Config{})
	var arrived sync.WaitGroup
	arrived.Add(2)
	mux := http.NewServeMux()
	mux.Handle("/par", ps.m.PAR(http.HandlerFunc(ps.servePAR)))
	mux.Handle("/authorize", ps.m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait() // both passes looked the pushed request up
		ps.serveAuthorizeIndirect(w, r)
	})))
	mux.Handle("/token", ps.m.Token(http.HandlerFunc(ps.serveToken)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ps.srv = srv

	v := pkce.GenerateVerifier()
	a := ps.push(t, pushForm(v), nil)
	require.Equal(t, http.StatusCreated, a.Status, a.Body)
	type result struct {
		status int
		loc    string
		body   string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			resp, err := noRedirect.Get(srv.URL + "/authorize?" + url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}.Encode())
			if err != nil {
				results <- result{body: err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("Location"), string(b)}
		}()
	}
	var codes []string
	refused := 0
	for range 2 {
		r := <-results
		switch r.status {
		case http.StatusFound:
			u, err := url.Parse(r.loc)
			require.NoError(t, err)
			codes = append(codes, u.Query().Get("code"))
		case http.StatusBadRequest:
			assert.Contains(t, r.body, "single use")
			refused++
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.body)
		}
	}
	require.Len(t, codes, 1, "exactly one pass gets a code")
	assert.Equal(t, 1, refused)
	assert.Len(t, ps.codes, 2, "the handler issued two codes")
	got := ps.redeem(t, "app", codes[0], v)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
}

// TestPAREvents: every pushed request is an event with endpoint par; under
// ReportOnly a refusal is reported and the request reaches the handler.
func TestPAREvents(t *testing.T) {
	var events []pkce.Event
	ps := newPushServer(t, pkce.Config{OnEvent: func(e pkce.Event) { events = append(events, e) }})
	v := pkce.GenerateVerifier()
	a := ps.push(t, pushForm(v), nil)
	require.Equal(t, http.StatusCreated, a.Status)
	resp, _ := ps.authorizeURI(t, "app", a.RequestURI, nil)
	redirectedCode(t, resp)
	require.Len(t, events, 2)
	assert.Equal(t, pkce.Event{Endpoint: "par", ClientID: "app", PKCE: true, Method: pkce.S256, Status: http.StatusCreated}, events[0])
	assert.Equal(t, pkce.Event{Endpoint: "authorize", ClientID: "app", PKCE: true, Method: pkce.S256, Status: http.StatusFound}, events[1])

	events = nil
	ps = newPushServer(t, pkce.Config{ReportOnly: true, OnEvent: func(e pkce.Event) { events = append(events, e) }})
	form := pushForm(v)
	form.Del("code_challenge")
	form.Del("code_challenge_method")
	a = ps.push(t, form, nil)
	assert.Equal(t, http.StatusCreated, a.Status, "report only: the bare server's answer")
	require.Len(t, events, 1)
	assert.Equal(t, pkce.Event{Endpoint: "par", ClientID: "app", Refusal: pkce.ReasonChallengeMissing, Status: http.StatusCreated}, events[0])
}
