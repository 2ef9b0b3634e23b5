package pkcetest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce/pkcetest"
)

// careless is a deliberately careless homegrown authorization server, the
// kind the middleware is for: it reads r.FormValue (so query, form and
// multipart bodies all merge), knows nothing of PKCE, never burns a code
// and never checks which client redeems it.
type careless struct {
	issuer string
	// mode is how codes go back: "" (query), "fragment" or "form_post";
	// "login" sends a request without a session cookie to
	// /login?<its query> first (README integration pattern 2), whose
	// answer sets the cookie and sends it back to /authorize.
	mode string
	// clients, when set, are the registered clients (client_id → secret,
	// "" for a public client) and the token endpoint authenticates them:
	// HTTP Basic (form-decoded) or the body, 401 invalid_client when the
	// client is unknown or its secret wrong, a public client's included.
	// nil: any client, unauthenticated.
	clients map[string]string
	options

	mu     sync.Mutex
	codes  map[string]string // code → client_id, never deleted
	seq    map[string]int    // code → how many codes were minted before it
	used   map[string]bool
	pushed map[string]url.Values // request_uri → the pushed parameters, never used up
}

// options are the careless server's switchable flaws and manners; the
// zero value is the careless server of the catalogue.
type options struct {
	// redirects is how redirect_uri is matched against the registered
	// registeredRedirect: "" any URI at all; "exact" the same scheme, host
	// and path (a query the client adds is kept, RFC 6749 §3.1.2);
	// "suffix" a host that ends with the registered one, any scheme and
	// path (the go-oauth2 flaw).
	redirects string
	// implicit serves response_type=token too, an access token in the
	// fragment (RFC 6749 §4.2).
	implicit bool
	// noPOST refuses POST authorization requests with 405.
	noPOST bool
	// tokenPOSTOnly answers a token request by any other method with a
	// 405 text page.
	tokenPOSTOnly bool
	// oauthOnly serves RFC 8414 metadata only: no OpenID document.
	oauthOnly bool
	// burn is what a redemption does to its code: "" nothing (a code
	// redeems any number of times); "atomic" uses it up under one lock;
	// "racy" checks and uses it up in two steps, with a 50 ms window
	// between them for every fifth code minted.
	burn string
	// credentialsWin serves a request whose grant_type is repeated, one of
	// them client_credentials, as client_credentials: a token that redeems
	// no code.
	credentialsWin bool
	// offerPAR serves a pushed authorization request endpoint at /par (RFC
	// 9126) and advertises it: it keeps whatever is pushed (the client
	// authenticated as at the token endpoint) under a fresh request_uri,
	// which /authorize resolves to the pushed parameters for the client
	// that pushed them, any number of times.
	offerPAR bool
	// parConfidentialOnly refuses a public client's pushed request with
	// 401 invalid_client, as servers that let only confidential clients
	// push do.
	parConfidentialOnly bool
}

// registeredRedirect is the redirect URI the careless server registers
// for its clients when it matches them, and the target's.
const registeredRedirect = "http://127.0.0.1:9/callback"

// redirectProblem says why the careless server refuses redirect, "" if
// it does not.
func (c *careless) redirectProblem(redirect string) string {
	if c.redirects == "" {
		return ""
	}
	u, err := url.Parse(redirect)
	reg, _ := url.Parse(registeredRedirect)
	switch {
	case err != nil:
		return "redirect_uri is not a URL"
	case c.redirects == "suffix" && strings.HasSuffix(u.Host, reg.Host):
		return ""
	case c.redirects == "exact" && u.Scheme == reg.Scheme && u.Host == reg.Host && u.Path == reg.Path && u.Fragment == "":
		return ""
	}
	return "redirect_uri is not registered"
}

// issuedKey is the context key under which the ledger hands the careless
// server a flag to raise when it mints a code or issues a token.
type issuedKey struct{}

func markIssued(r *http.Request) {
	if f, ok := r.Context().Value(issuedKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *careless) authorize(w http.ResponseWriter, r *http.Request) {
	if c.noPOST && r.Method == http.MethodPost {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	if uri := r.FormValue("request_uri"); c.offerPAR && uri != "" {
		// RFC 9126 §4: the pushed parameters are the ones that count.
		c.mu.Lock()
		pushed, ok := c.pushed[uri]
		c.mu.Unlock()
		if !ok || pushed.Get("client_id") != r.FormValue("client_id") {
			http.Error(w, "invalid_request: unknown request_uri, or another client's", http.StatusBadRequest)
			return
		}
		r = r.Clone(r.Context())
		r.Form, r.PostForm = cloneValues(pushed), url.Values{}
	}
	if why := c.redirectProblem(r.FormValue("redirect_uri")); why != "" {
		http.Error(w, "invalid_request: "+why, http.StatusBadRequest)
		return
	}
	if c.implicit && r.FormValue("response_type") == "token" {
		back := url.Values{"access_token": {randomString()}, "token_type": {"Bearer"}, "state": {r.FormValue("state")}}
		http.Redirect(w, r, r.FormValue("redirect_uri")+"#"+back.Encode(), http.StatusFound)
		return
	}
	if r.FormValue("response_type") != "code" || r.FormValue("client_id") == "" {
		http.Error(w, "unsupported or missing response_type or client_id", http.StatusBadRequest)
		return
	}
	if c.mode == "login" {
		if k, err := r.Cookie("session"); err != nil || k.Value != "ok" {
			http.Redirect(w, r, "/login?"+r.URL.RawQuery, http.StatusFound)
			return
		}
	}
	code := randomString()
	c.mu.Lock()
	c.seq[code] = len(c.codes)
	c.codes[code] = r.FormValue("client_id")
	c.mu.Unlock()
	markIssued(r)
	back := url.Values{"code": {code}}
	if s := r.FormValue("state"); s != "" {
		back.Set("state", s)
	}
	redirect := r.FormValue("redirect_uri")
	if c.mode == "fragment" {
		http.Redirect(w, r, redirect+"#"+back.Encode(), http.StatusFound)
		return
	}
	if c.mode == "form_post" || r.FormValue("response_mode") == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page := `<html><body onload="document.forms[0].submit()"><form method="post" action="` + html.EscapeString(redirect) + `">`
		for k := range back {
			page += `<input type="hidden" name="` + k + `" value="` + html.EscapeString(back.Get(k)) + `">`
		}
		w.Write([]byte(page + `</form></body></html>`))
		return
	}
	// RFC 6749 §3.1.2: a redirect URI's own query is kept.
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, redirect+sep+back.Encode(), http.StatusFound)
}

// par serves pushed authorization requests (RFC 9126 §2): the client is
// authenticated as at the token endpoint and named by HTTP Basic or
// client_id; nothing else of the pushed request is checked.
func (c *careless) par(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	answer := func(status int, v any) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if r.Method != http.MethodPost {
		answer(http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request", "error_description": "POST only"})
		return
	}
	if c.clients != nil {
		if why := c.authenticate(r); why != "" {
			answer(http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": why})
			return
		}
	}
	r.ParseForm()
	id := r.PostForm.Get("client_id")
	user, _, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(user)
	}
	if c.parConfidentialOnly && !basic {
		answer(http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "only confidential clients may push"})
		return
	}
	if id == "" {
		answer(http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "no client"})
		return
	}
	pushed := cloneValues(r.PostForm)
	pushed.Del("client_secret")
	pushed.Set("client_id", id)
	uri := "urn:ietf:params:oauth:request_uri:" + randomString()
	c.mu.Lock()
	c.pushed[uri] = pushed
	c.mu.Unlock()
	markIssued(r)
	answer(http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": 60})
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// login logs the user agent in at once and sends it back to /authorize
// with the query it came with.
func (c *careless) login(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: "session", Value: "ok", Path: "/"})
	http.Redirect(w, r, "/authorize?"+r.URL.RawQuery, http.StatusFound)
}

// authenticate returns why the token request's client is refused, "" if
// it is not.
func (c *careless) authenticate(r *http.Request) string {
	id, secret := r.FormValue("client_id"), r.PostFormValue("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: form-encoded before base64.
		id, _ = url.QueryUnescape(user)
		secret, _ = url.QueryUnescape(pass)
	}
	want, ok := c.clients[id]
	switch {
	case !ok:
		return "unknown client"
	case want == "" && secret != "":
		return id + " is a public client and has no secret"
	case secret != want:
		return "wrong client secret"
	}
	return ""
}

// grantTypes returns every grant_type of a token request, as a server that
// reads the whole form sees them.
func grantTypes(r *http.Request) []string {
	_ = r.ParseMultipartForm(1 << 20)
	return r.Form["grant_type"]
}

func (c *careless) token(w http.ResponseWriter, r *http.Request) {
	if c.tokenPOSTOnly && r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fail := func(code, desc string) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if c.clients != nil {
		if why := c.authenticate(r); why != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="careless"`)
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": why})
			return
		}
	}
	if c.credentialsWin && len(grantTypes(r)) > 1 && slices.Contains(grantTypes(r), "client_credentials") {
		json.NewEncoder(w).Encode(map[string]any{"access_token": "cc-" + randomString(), "token_type": "Bearer"})
		return
	}
	if r.FormValue("grant_type") != "authorization_code" {
		fail("unsupported_grant_type", "only authorization_code")
		return
	}
	code := r.FormValue("code")
	c.mu.Lock()
	_, ok := c.codes[code]
	used, seq := c.used[code], c.seq[code]
	if ok && !used && c.burn == "atomic" {
		c.used[code] = true
	}
	c.mu.Unlock()
	switch {
	case !ok:
		fail("invalid_grant", "unknown code")
		return
	case used:
		fail("invalid_grant", "code used")
		return
	case c.burn == "racy":
		if seq%5 == 4 {
			time.Sleep(50 * time.Millisecond)
		}
		c.mu.Lock()
		c.used[code] = true
		c.mu.Unlock()
	}
	markIssued(r)
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": randomString(), "token_type": "Bearer", "expires_in": 3600,
	})
}

func (c *careless) metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	doc := map[string]any{
		"issuer":                   c.issuer,
		"authorization_endpoint":   c.issuer + "/authorize",
		"token_endpoint":           c.issuer + "/token",
		"response_types_supported": []string{"code"},
		"grant_types_supported":    []string{"authorization_code"},
	}
	if c.offerPAR {
		doc["pushed_authorization_request_endpoint"] = c.issuer + "/par"
	}
	json.NewEncoder(w).Encode(doc)
}

// ledger records, for every request the outermost handler saw, its final
// status and whether the careless server minted a code or issued a token
// while serving it.
type ledger struct {
	mu      sync.Mutex
	entries []ledgerEntry
}

type ledgerEntry struct {
	endpoint string
	method   string
	url      string
	status   int
	issued   bool
}

func (l *ledger) wrap(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		issued := new(atomic.Bool)
		rec := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), issuedKey{}, issued)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		l.mu.Lock()
		l.entries = append(l.entries, ledgerEntry{endpoint, r.Method, r.URL.String(), rec.status, issued.Load()})
		l.mu.Unlock()
	})
}

func (l *ledger) snapshot() []ledgerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ledgerEntry(nil), l.entries...)
}

// statusWriter notes the first final status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// wrappers are what stands between the ledger and the careless server's
// handlers; nil fields mean no wrapper.
type wrappers struct {
	authorize, token, discovery func(http.Handler) http.Handler
	par                         func(http.Handler) http.Handler // the PAR endpoint's, when server.offerPAR
	mode                        string                          // the careless server's response mode
	clients                     map[string]string               // the careless server's clients
	gate                        func(http.Handler) http.Handler
	server                      options                         // the careless server's options
	outer                       func(http.Handler) http.Handler // around the whole server
}

// startCareless starts the careless server on 127.0.0.1, each endpoint
// wrapped by w, and stops it when t ends.
func startCareless(t *testing.T, w wrappers) (*httptest.Server, *ledger) {
	t.Helper()
	c := &careless{codes: map[string]string{}, seq: map[string]int{}, used: map[string]bool{},
		pushed: map[string]url.Values{}, mode: w.mode, clients: w.clients, options: w.server}
	l := &ledger{}
	id := func(h http.Handler) http.Handler { return h }
	if w.authorize == nil {
		w.authorize = id
	}
	if w.token == nil {
		w.token = id
	}
	if w.discovery == nil {
		w.discovery = id
	}
	if w.par == nil {
		w.par = id
	}
	mux := http.NewServeMux()
	var authorize http.Handler = l.wrap("authorize", w.authorize(http.HandlerFunc(c.authorize)))
	if w.gate != nil {
		authorize = w.gate(authorize)
	}
	mux.Handle("/authorize", authorize)
	mux.Handle("/token", l.wrap("token", w.token(http.HandlerFunc(c.token))))
	mux.HandleFunc("/login", c.login)
	if c.offerPAR {
		mux.Handle("/par", l.wrap("par", w.par(http.HandlerFunc(c.par))))
	}
	mux.Handle("/.well-known/oauth-authorization-server", w.discovery(http.HandlerFunc(c.metadata)))
	if !c.oauthOnly {
		mux.Handle("/.well-known/openid-configuration", w.discovery(http.HandlerFunc(c.metadata)))
	}
	var h http.Handler = mux
	if w.outer != nil {
		h = w.outer(mux)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c.issuer = srv.URL
	return srv, l
}

// target is the audit target for a server started by startCareless.
func target(srv *httptest.Server, secret string) pkcetest.Target {
	return pkcetest.Target{
		Issuer:       srv.URL,
		ClientID:     "pkcetest-client",
		ClientSecret: secret,
		RedirectURI:  registeredRedirect,
		Client:       srv.Client(),
	}
}

// followLogin is a Target.Authorize for the careless server's login mode:
// a fresh user agent (a cookie jar of its own, so every authorization
// request goes through /login) that follows redirects on the server's
// host and returns the first answer that leaves it.
func followLogin(srv *httptest.Server) func(ctx context.Context, authURL string) (*http.Response, error) {
	return func(ctx context.Context, authURL string) (*http.Response, error) {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, err
		}
		c := *srv.Client()
		c.Jar = jar
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		next := authURL
		for range 5 {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
			if err != nil {
				return nil, err
			}
			resp, err := c.Do(req)
			if err != nil {
				return nil, err
			}
			loc, err := resp.Location()
			if resp.StatusCode/100 != 3 || err != nil || loc.Host != req.URL.Host {
				return resp, nil
			}
			resp.Body.Close()
			next = loc.String()
		}
		return nil, errors.New("more than 5 redirects on the server's host")
	}
}

// sloppyPKCE is a PKCE front layer written the quick way, requiring S256
// of every client, with the faults of issue 8 switchable one by one: each
// audit check is shown to catch its fault, and to pass without it.
type sloppyPKCE struct {
	faults
	mu     sync.Mutex
	bound  map[string]*binding // code → its challenge
	pushed map[string]string   // request_uri → its pushed challenge
}

// faults are the faults of a sloppyPKCE; the zero value has none.
type faults struct {
	// bindEchoes binds every code in an authorization response's Location
	// (query and fragment, a login redirect's too), the values the
	// request itself carried included, rather than only the codes the
	// server issued (issue 8 item 1).
	bindEchoes bool
	// onBound is what binding a code that is bound already does:
	// "rebind" replaces its challenge, as a Store whose Save overwrites
	// (issue 8 item 1); "burn" uses it up; "" changes nothing and fails
	// the authorization response closed with a 500.
	onBound string
	// burnRefused: a passed check whose request the token handler then
	// refuses still uses the code up (issue 8 item 4). false: the refusal
	// puts the challenge back before it leaves.
	burnRefused bool
	// keepOnFailure: a failed verifier check does not use the code up.
	keepOnFailure bool
	// anyChallenge binds any challenge, whatever its length; normalise
	// first strips its padding and maps standard base64 to base64url.
	anyChallenge, normalise bool
	// strictVerifiers refuses a verifier that breaks RFC 7636 §4.1.
	strictVerifiers bool
	// methodOnlyPasses lets a request with code_challenge_method but no
	// challenge through unbound, and the token layer passes a code without
	// a challenge on unchecked.
	methodOnlyPasses bool
	// parRecordsNothing: the PAR layer checks the pushed challenge but
	// records nothing, and the authorization layer lets a request_uri it
	// has no challenge for through unbound, trusting the PAR endpoint's
	// check (issue 12 item 6).
	parRecordsNothing bool
	// parUnchecked: the PAR layer checks nothing; it records a pushed
	// challenge as it is and lets a push without one through, and the
	// authorization layer lets a request_uri it has no challenge for
	// through unbound.
	parUnchecked bool
	// outerWins: a code_challenge beside request_uri is bound instead of
	// the pushed one. outerIgnored: it is ignored, the pushed one bound
	// (RFC 9101 §6.3). Neither: one that differs is refused.
	outerWins, outerIgnored bool
	// unboundPasses: the token layer passes a code it has no challenge for
	// on unchecked, as one issued without PKCE.
	unboundPasses bool
}

type binding struct {
	challenge string
	used      bool
}

func (p *sloppyPKCE) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenge, method := r.FormValue("code_challenge"), r.FormValue("code_challenge_method")
		if uri := r.FormValue("request_uri"); uri != "" {
			p.mu.Lock()
			pushed, ok := p.pushed[uri]
			p.mu.Unlock()
			switch {
			case !ok && (p.parRecordsNothing || p.parUnchecked):
				next.ServeHTTP(w, r) // the PAR endpoint checked it, surely
				return
			case !ok:
				http.Error(w, "invalid_request: unknown request_uri", http.StatusBadRequest)
				return
			case challenge != "" && challenge != pushed && !p.outerWins && !p.outerIgnored:
				http.Error(w, "invalid_request: code_challenge differs from the pushed one", http.StatusBadRequest)
				return
			case challenge == "" || !p.outerWins:
				challenge = pushed
			}
			method = "S256"
		}
		if p.normalise {
			challenge = strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(challenge, "="))
		}
		if p.methodOnlyPasses && challenge == "" && method != "" {
			next.ServeHTTP(w, r)
			return
		}
		if (len(challenge) != 43 && !p.anyChallenge) || challenge == "" || method != "S256" {
			http.Error(w, "invalid_request: an S256 code_challenge is required", http.StatusBadRequest)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		p.mu.Lock()
		if p.bound == nil {
			p.bound = map[string]*binding{}
		}
		failed := false
		for _, code := range p.codesIn(rec.Header().Get("Location"), r) {
			switch b := p.bound[code]; {
			case b == nil || p.onBound == "rebind":
				p.bound[code] = &binding{challenge: challenge}
			case p.onBound == "burn":
				b.used = true
			default:
				failed = true
			}
		}
		p.mu.Unlock()
		if failed {
			http.Error(w, "server_error: a code in the response is bound already", http.StatusInternalServerError)
			return
		}
		relay(w, rec)
	})
}

// par is the layer's PAR endpoint: it requires an S256 challenge of the
// pushed request (unless parUnchecked) and records it under the
// request_uri of the server's 201 answer (unless parRecordsNothing).
func (p *sloppyPKCE) par(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenge, method := r.FormValue("code_challenge"), r.FormValue("code_challenge_method")
		if !p.parUnchecked && (len(challenge) != 43 || method != "S256") {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "an S256 code_challenge is required"})
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var answer struct {
			RequestURI string `json:"request_uri"`
		}
		if rec.Code == http.StatusCreated && challenge != "" && !p.parRecordsNothing &&
			json.Unmarshal(rec.Body.Bytes(), &answer) == nil && answer.RequestURI != "" {
			p.mu.Lock()
			if p.pushed == nil {
				p.pushed = map[string]string{}
			}
			p.pushed[answer.RequestURI] = challenge
			p.mu.Unlock()
		}
		relay(w, rec)
	})
}

// codesIn returns the codes of an authorization response's Location,
// less those the request carried unless p.bindEchoes.
func (p *sloppyPKCE) codesIn(location string, r *http.Request) []string {
	u, err := url.Parse(location)
	if err != nil {
		return nil
	}
	codes := u.Query()["code"]
	if f, err := url.ParseQuery(u.Fragment); err == nil {
		codes = append(codes, f["code"]...)
	}
	if p.bindEchoes {
		return codes
	}
	carried := map[string]bool{}
	for _, vs := range r.Form {
		for _, v := range vs {
			carried[v] = true
		}
	}
	if ru, err := url.Parse(r.FormValue("redirect_uri")); err == nil {
		for _, vs := range ru.Query() {
			for _, v := range vs {
				carried[v] = true
			}
		}
	}
	var issued []string
	for _, c := range codes {
		if !carried[c] {
			issued = append(issued, c)
		}
	}
	return issued
}

func (p *sloppyPKCE) token(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errCode := "invalid_grant"
		refuse := func(desc string) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": errCode, "error_description": desc})
		}
		if r.FormValue("grant_type") != "authorization_code" {
			next.ServeHTTP(w, r)
			return
		}
		verifier := r.FormValue("code_verifier")
		if p.strictVerifiers && (len(verifier) < 43 || len(verifier) > 128 ||
			strings.Trim(verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "") {
			refuse("code_verifier breaks RFC 7636 section 4.1")
			return
		}
		sum := sha256.Sum256([]byte(verifier))
		p.mu.Lock()
		b := p.bound[r.FormValue("code")]
		switch {
		case b == nil && (p.methodOnlyPasses || p.unboundPasses):
			p.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		case b == nil:
			p.mu.Unlock()
			refuse("the code has no challenge")
			return
		case b.used:
			p.mu.Unlock()
			refuse("the code was presented already")
			return
		}
		b.used = true
		p.mu.Unlock()
		if base64.RawURLEncoding.EncodeToString(sum[:]) != b.challenge {
			if p.keepOnFailure {
				p.mu.Lock()
				b.used = false
				p.mu.Unlock()
			}
			if verifier == "" {
				errCode = "invalid_request" // RFC 6749 §5.2: a missing parameter
				refuse("code_verifier is missing")
				return
			}
			refuse("code_verifier does not match the code_challenge")
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code >= 400 && !p.burnRefused {
			p.mu.Lock()
			b.used = false
			p.mu.Unlock()
		}
		relay(w, rec)
	})
}

// relay sends what rec recorded to w.
func relay(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}
