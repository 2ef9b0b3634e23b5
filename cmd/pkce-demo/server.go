package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-pkce/pkce"
)

// The demo's clients (DESIGN.md, "Demo server"). Both accept any loopback
// redirect URI (RFC 8252 §7.3), so no redirect URI is registered.
const (
	demoApp     = "demo-app"     // public: authorization_code, refresh_token
	demoService = "demo-service" // confidential: all three grants
	demoSecret  = "demo-secret"  // demo-service's client secret
	demoSubject = "demo-user"    // the user who consents to everything
)

// Lifetimes of what the server issues. The code lifetime stays well under
// the middleware's default TTL (10 minutes), as pkce.Config.TTL requires.
const (
	codeLifetime    = 60 * time.Second
	accessLifetime  = time.Hour
	refreshLifetime = 24 * time.Hour
	idTokenLifetime = 10 * time.Minute
)

// maxGrants bounds the codes and the refresh tokens held in memory each.
const maxGrants = 1 << 16

// Paths of the endpoints, relative to the issuer.
const (
	pathAuthorize   = "/authorize"
	pathToken       = "/token"
	pathJWKS        = "/jwks.json"
	pathOpenIDConf  = "/.well-known/openid-configuration"
	pathOAuthServer = "/.well-known/oauth-authorization-server"
)

type client struct {
	id     string
	secret string // "" for a public client
	grants []string
}

var clients = map[string]client{
	demoApp:     {id: demoApp, grants: []string{"authorization_code", "refresh_token"}},
	demoService: {id: demoService, secret: demoSecret, grants: []string{"authorization_code", "refresh_token", "client_credentials"}},
}

// server is a small homegrown authorization server that knows nothing of
// PKCE: it issues codes, tokens and ID tokens the way many in-house servers
// do. It is safe for concurrent use.
type server struct {
	issuer string
	signer *signer
	now    func() time.Time

	mu      sync.Mutex
	codes   map[string]*codeGrant
	refresh map[string]grant
	inserts int // since the last sweep of expired entries
}

// grant is what a code or a refresh token stands for.
type grant struct {
	clientID string
	scope    string
	nonce    string
	authTime time.Time // when the user consented
	expires  time.Time
	family   string // the code the grant descends from, for revocation
}

type codeGrant struct {
	grant
	redirectURI string
	used        bool
}

// newHandler returns the demo authorization server for issuer (http:// and
// the bound address, no trailing slash). With protect, its authorization,
// token and discovery endpoints are wrapped by the PKCE middleware with
// default settings; logger (nil: discarded) receives its events.
func newHandler(issuer string, protect bool, logger *slog.Logger) (http.Handler, error) {
	s, err := newServer(issuer)
	if err != nil {
		return nil, err
	}
	return s.handler(protect, logger)
}

// handler routes the server's endpoints, wrapped by the PKCE middleware
// when protect is set.
func (s *server) handler(protect bool, logger *slog.Logger) (http.Handler, error) {
	authorize := http.Handler(http.HandlerFunc(s.authorize))
	token := http.Handler(http.HandlerFunc(s.token))
	discovery := http.Handler(http.HandlerFunc(s.discovery))
	openID, oauthServer := discovery, discovery
	if protect {
		m, err := pkce.New(pkce.Config{Logger: logger})
		if err != nil {
			return nil, err
		}
		authorize = m.Authorize(authorize)
		token = m.Token(token)
		openID = m.Discovery(discovery)
		oauthServer = m.Discovery(discovery)
	}
	mux := http.NewServeMux()
	mux.Handle(pathAuthorize, authorize)
	mux.Handle(pathToken, token)
	mux.Handle(pathOpenIDConf, openID)
	mux.Handle(pathOAuthServer, oauthServer)
	mux.HandleFunc(pathJWKS, s.jwks)
	mux.HandleFunc("/{$}", s.index)
	return mux, nil
}

func newServer(issuer string) (*server, error) {
	sg, err := newSigner()
	if err != nil {
		return nil, err
	}
	return &server{
		issuer:  issuer,
		signer:  sg,
		now:     time.Now,
		codes:   make(map[string]*codeGrant),
		refresh: make(map[string]grant),
	}, nil
}

// authorize consents at once, without a login page, and sends the client
// back to its redirect URI with a code (RFC 6749 §4.1.2), and an ID token
// beside it for response_type "code id_token" (OpenID Connect Core §3.3).
func (s *server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, r, http.StatusMethodNotAllowed, "invalid_request", "the authorization endpoint accepts GET and POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", "the request parameters cannot be read: "+err.Error())
		return
	}
	// RFC 6749 §4.1.2.1: with a missing or invalid client or redirect URI
	// the server informs the user and must not redirect.
	clientID := r.FormValue("client_id")
	if clientID == "" {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", "client_id is required: use demo-app or demo-service")
		return
	}
	if _, ok := clients[clientID]; !ok {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", "unknown client_id "+strconv.Quote(clientID)+": use demo-app or demo-service")
		return
	}
	redirectURI := r.FormValue("redirect_uri")
	if err := checkRedirectURI(redirectURI); err != nil {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}

	// From here on errors go back to the client (RFC 6749 §4.1.2.1).
	resp := authzResponse{redirectURI: redirectURI, state: r.FormValue("state")}
	types := strings.Fields(r.FormValue("response_type"))
	slices.Sort(types)
	hybrid := slices.Equal(types, []string{"code", "id_token"})
	mode := r.FormValue("response_mode")
	switch mode {
	case "query", "fragment", "form_post":
		resp.mode = mode
	default:
		// OAuth 2.0 Multiple Response Types §5: a response that carries
		// a token or an ID token defaults to the fragment.
		resp.mode = "query"
		if slices.Contains(types, "token") || slices.Contains(types, "id_token") {
			resp.mode = "fragment"
		}
	}
	switch {
	case mode != "" && mode != resp.mode:
		resp.fail(w, r, "invalid_request", "response_mode "+strconv.Quote(mode)+" is not supported: use query, fragment or form_post")
		return
	case len(types) == 0:
		resp.fail(w, r, "invalid_request", "response_type is required: use code, or code id_token")
		return
	case !hybrid && !slices.Equal(types, []string{"code"}):
		resp.fail(w, r, "unsupported_response_type", "response_type "+strconv.Quote(r.FormValue("response_type"))+" is not supported: use code, or code id_token")
		return
	case hybrid && resp.mode == "query":
		// OAuth 2.0 Multiple Response Types §5: the query encoding must
		// not carry an ID token, so neither does the error about it.
		resp.mode = "fragment"
		resp.fail(w, r, "invalid_request", "response_mode query cannot carry an ID token: use fragment or form_post with code id_token")
		return
	}

	code := randomToken()
	now := s.now()
	g := &codeGrant{
		grant: grant{
			clientID: clientID,
			scope:    r.FormValue("scope"),
			nonce:    r.FormValue("nonce"),
			authTime: now,
			expires:  now.Add(codeLifetime),
		},
		redirectURI: redirectURI,
	}
	if !s.saveCode(code, g, now) {
		resp.fail(w, r, "temporarily_unavailable", "the demo server holds too many unused codes; try again in a minute")
		return
	}
	params := []param{{"code", code}}
	if hybrid {
		idToken, err := s.signer.sign(s.idClaims(g.grant, now, codeHash(code)))
		if err != nil {
			resp.fail(w, r, "server_error", "the ID token could not be signed")
			return
		}
		params = append(params, param{"id_token", idToken})
	}
	resp.send(w, r, params)
}

// token serves the token endpoint (RFC 6749 §3.2): authorization_code,
// refresh_token and client_credentials. Like many servers it reads its
// parameters with r.FormValue, and the client secret from the body only.
func (s *server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the token endpoint accepts POST only (RFC 6749 §3.2)")
		return
	}
	// RFC 6749 §3.2: the parameters come form-encoded in the body.
	if ct := r.Header.Get("Content-Type"); ct != "" || r.ContentLength != 0 {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/x-www-form-urlencoded" {
			tokenError(w, http.StatusBadRequest, "invalid_request", "send the token request parameters as application/x-www-form-urlencoded (RFC 6749 §3.2)")
			return
		}
	}
	c, fail := s.authenticate(r)
	if fail != nil {
		fail.write(w)
		return
	}
	grantType := r.FormValue("grant_type")
	switch grantType {
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	case "authorization_code", "refresh_token", "client_credentials":
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+strconv.Quote(grantType)+" is not supported: use authorization_code, refresh_token or client_credentials")
		return
	}
	if !slices.Contains(c.grants, grantType) {
		tokenError(w, http.StatusBadRequest, "unauthorized_client", c.id+" may not use grant_type "+grantType)
		return
	}
	var (
		resp *tokenResponse
		err  *oauthError
	)
	switch grantType {
	case "authorization_code":
		resp, err = s.exchangeCode(r, c)
	case "refresh_token":
		resp, err = s.refreshTokens(r, c)
	default:
		resp = &tokenResponse{AccessToken: randomToken(), TokenType: "Bearer", ExpiresIn: int(accessLifetime / time.Second)}
	}
	if err != nil {
		err.write(w)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// tokenResponse is a successful token response (RFC 6749 §5.1, OpenID
// Connect Core §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

func (s *server) exchangeCode(r *http.Request, c client) (*tokenResponse, *oauthError) {
	code := r.FormValue("code")
	if code == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "code is required with grant_type authorization_code"}
	}
	refreshToken := randomToken()
	now := s.now()
	s.mu.Lock()
	g, ok := s.codes[code]
	switch {
	case !ok || !now.Before(g.expires):
		s.mu.Unlock()
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the authorization code is unknown or expired"}
	case g.used:
		// RFC 6749 §4.1.2: a code used twice revokes what it gave,
		// refresh tokens rotated since included.
		for k, rg := range s.refresh {
			if rg.family == code {
				delete(s.refresh, k)
			}
		}
		s.mu.Unlock()
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the authorization code was already used; the tokens issued for it are revoked"}
	}
	// The code is single use: any check that fails below burns it too.
	g.used = true
	switch {
	case g.clientID != c.id:
		s.mu.Unlock()
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the authorization code was issued to another client"}
	case r.FormValue("redirect_uri") != g.redirectURI:
		// RFC 6749 §4.1.3: identical to the authorization request's.
		s.mu.Unlock()
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "redirect_uri must be sent and identical to the one of the authorization request"}
	}
	rg := g.grant
	rg.expires, rg.family = now.Add(refreshLifetime), code
	ok = s.saveRefreshLocked(refreshToken, rg, now)
	s.mu.Unlock()
	if !ok {
		refreshToken = ""
	}
	return s.tokens(g.grant, refreshToken, now)
}

func (s *server) refreshTokens(r *http.Request, c client) (*tokenResponse, *oauthError) {
	old := r.FormValue("refresh_token")
	if old == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "refresh_token is required with grant_type refresh_token"}
	}
	refreshToken := randomToken()
	now := s.now()
	s.mu.Lock()
	g, ok := s.refresh[old]
	switch {
	case !ok || !now.Before(g.expires):
		s.mu.Unlock()
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, expired or already used"}
	case g.clientID != c.id:
		s.mu.Unlock()
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client"}
	}
	// RFC 9700 §4.14.2: refresh tokens of public clients rotate.
	delete(s.refresh, old)
	g.expires = now.Add(refreshLifetime)
	ok = s.saveRefreshLocked(refreshToken, g, now)
	s.mu.Unlock()
	if !ok {
		refreshToken = ""
	}
	return s.tokens(g, refreshToken, now)
}

// tokens answers a code or refresh token exchange: an access token, the
// refresh token, and an ID token when the scope asked for OpenID Connect.
func (s *server) tokens(g grant, refreshToken string, now time.Time) (*tokenResponse, *oauthError) {
	resp := &tokenResponse{
		AccessToken:  randomToken(),
		TokenType:    "Bearer",
		ExpiresIn:    int(accessLifetime / time.Second),
		RefreshToken: refreshToken,
		Scope:        g.scope,
	}
	if slices.Contains(strings.Fields(g.scope), "openid") {
		idToken, err := s.signer.sign(s.idClaims(g, now, ""))
		if err != nil {
			return nil, &oauthError{http.StatusInternalServerError, "server_error", "the ID token could not be signed"}
		}
		resp.IDToken = idToken
	}
	return resp, nil
}

func (s *server) idClaims(g grant, now time.Time, cHash string) idClaims {
	return idClaims{
		Iss:      s.issuer,
		Sub:      demoSubject,
		Aud:      g.clientID,
		Exp:      now.Add(idTokenLifetime).Unix(),
		Iat:      now.Unix(),
		AuthTime: g.authTime.Unix(),
		Nonce:    g.nonce,
		CHash:    cHash,
	}
}

// authenticate identifies the client of a token request: HTTP Basic
// (client_secret_basic) or client_id and client_secret in the body
// (client_secret_post); a public client sends client_id only.
func (s *server) authenticate(r *http.Request) (client, *oauthError) {
	basicID, basicSecret, hasBasic, err := basicAuth(r)
	if err != nil {
		return client{}, invalidClient(err.Error())
	}
	id := r.FormValue("client_id")
	secret := r.PostFormValue("client_secret")
	if hasBasic {
		if secret != "" {
			// RFC 6749 §2.3: one authentication method per request.
			return client{}, &oauthError{http.StatusBadRequest, "invalid_request", "the client authenticated both with HTTP Basic and with client_secret in the body; use one"}
		}
		if id != "" && id != basicID {
			return client{}, &oauthError{http.StatusBadRequest, "invalid_request", "client_id in the body differs from the HTTP Basic user name"}
		}
		id, secret = basicID, basicSecret
	}
	if id == "" {
		return client{}, invalidClient("the client is not identified: send client_id, or HTTP Basic credentials for a confidential client")
	}
	c, ok := clients[id]
	switch {
	case !ok:
		return client{}, invalidClient("unknown client " + strconv.Quote(id) + ": use demo-app or demo-service")
	case c.secret == "" && secret != "":
		return client{}, invalidClient(id + " is a public client and has no secret: send client_id only")
	case c.secret != "" && secret == "":
		return client{}, invalidClient(id + " is a confidential client: authenticate with HTTP Basic or client_secret in the body")
	case c.secret != "" && !equalSecret(secret, c.secret):
		return client{}, invalidClient("client authentication failed: wrong secret for " + id)
	}
	return c, nil
}

// basicAuth parses HTTP Basic credentials. RFC 6749 §2.3.1: client_id and
// secret are form-encoded before base64, so "demo%2Dservice" is
// "demo-service" and the comparison must be on decoded values.
func basicAuth(r *http.Request) (id, secret string, ok bool, err error) {
	h := r.Header.Get("Authorization")
	scheme, creds, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(creds))
	if err != nil {
		return "", "", true, fmt.Errorf("the HTTP Basic credentials are not valid base64")
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", true, fmt.Errorf("the HTTP Basic credentials have no colon between client_id and secret")
	}
	if id, err = url.QueryUnescape(user); err != nil {
		return "", "", true, fmt.Errorf("the HTTP Basic user name is not form-encoded (RFC 6749 §2.3.1)")
	}
	if secret, err = url.QueryUnescape(pass); err != nil {
		return "", "", true, fmt.Errorf("the HTTP Basic password is not form-encoded (RFC 6749 §2.3.1)")
	}
	return id, secret, true, nil
}

// equalSecret compares secrets in time independent of where they differ
// and of their lengths.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// metadata is the server's metadata document (RFC 8414 §2), also a valid
// OpenID Provider document (OpenID Connect Discovery §3). The PKCE
// middleware adds code_challenge_methods_supported to it.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func (s *server) discovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, http.StatusOK, metadata{
		Issuer:                            s.issuer,
		AuthorizationEndpoint:             s.issuer + pathAuthorize,
		TokenEndpoint:                     s.issuer + pathToken,
		JWKSURI:                           s.issuer + pathJWKS,
		ResponseTypesSupported:            []string{"code", "code id_token"},
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "client_secret_post"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"ES256"},
		ScopesSupported:                   []string{"openid"},
		ClaimsSupported:                   []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "c_hash"},
	})
}

func (s *server) jwks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.signer.jwks)))
	_, _ = w.Write(s.signer.jwks)
}

// index describes the server to a person who opens it in a browser.
func (s *server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "pkce-demo authorization server %s\n\n", s.issuer)
	writeHelp(w, s.issuer)
}

// saveCode records a new code, unless the server holds too many.
func (s *server) saveCode(code string, g *codeGrant, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if len(s.codes) >= maxGrants {
		return false
	}
	s.codes[code] = g
	return true
}

func (s *server) saveRefreshLocked(token string, g grant, now time.Time) bool {
	s.sweepLocked(now)
	if len(s.refresh) >= maxGrants {
		return false
	}
	s.refresh[token] = g
	return true
}

// sweepLocked drops expired codes and refresh tokens every so many inserts,
// so memory stays bounded without a background goroutine.
func (s *server) sweepLocked(now time.Time) {
	s.inserts++
	if s.inserts < 1024 && len(s.codes) < maxGrants && len(s.refresh) < maxGrants {
		return
	}
	s.inserts = 0
	for k, g := range s.codes {
		if !now.Before(g.expires) {
			delete(s.codes, k)
		}
	}
	for k, g := range s.refresh {
		if !now.Before(g.expires) {
			delete(s.refresh, k)
		}
	}
}

// checkRedirectURI accepts loopback redirect URIs on any port (RFC 8252
// §7.3), the only ones the demo's clients use.
func checkRedirectURI(raw string) error {
	const use = "use http://127.0.0.1:PORT/..., http://[::1]:PORT/... or http://localhost:PORT/..."
	if raw == "" {
		return fmt.Errorf("redirect_uri is required: %s", use)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("redirect_uri is not a valid URL: %s", use)
	case u.Scheme != "http" || u.Opaque != "" || u.User != nil:
		return fmt.Errorf("redirect_uri %q is not a loopback URL: %s", raw, use)
	case strings.Contains(raw, "#"):
		return fmt.Errorf("redirect_uri must not have a fragment (RFC 6749 §3.1.2)")
	}
	switch u.Hostname() {
	case "127.0.0.1", "::1", "localhost":
	default:
		return fmt.Errorf("redirect_uri %q is not a loopback URL: %s", raw, use)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("redirect_uri %q has an invalid port", raw)
		}
	}
	return nil
}

// authzResponse sends an authorization response back to the client's
// validated redirect URI.
type authzResponse struct {
	redirectURI string
	mode        string // query, fragment or form_post
	state       string
}

type param struct{ name, value string }

// fail sends an error response (RFC 6749 §4.1.2.1).
func (a authzResponse) fail(w http.ResponseWriter, r *http.Request, code, desc string) {
	a.send(w, r, []param{{"error", code}, {"error_description", desc}})
}

// send delivers params and state, when the request had one, in the
// response mode: a redirect with a query or a fragment, or an
// auto-submitting form (OAuth 2.0 Form Post Response Mode).
func (a authzResponse) send(w http.ResponseWriter, r *http.Request, params []param) {
	if a.state != "" {
		params = append(params, param{"state", a.state})
	}
	w.Header().Set("Cache-Control", "no-store")
	if a.mode == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = formPostPage.Execute(w, struct {
			Action string
			Params []param
		}{a.redirectURI, params})
		return
	}
	u, _ := url.Parse(a.redirectURI) // checked by checkRedirectURI
	q := make([]string, len(params))
	for i, p := range params {
		q[i] = url.QueryEscape(p.name) + "=" + url.QueryEscape(p.value)
	}
	encoded := strings.Join(q, "&")
	if a.mode == "fragment" {
		u.Fragment, u.RawFragment = "", ""
		w.Header().Set("Location", u.String()+"#"+encoded)
	} else {
		// RFC 6749 §3.1.2: keep the redirect URI's own query.
		if u.RawQuery != "" {
			encoded = u.RawQuery + "&" + encoded
		}
		u.RawQuery = encoded
		w.Header().Set("Location", u.String())
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		// RFC 9700 §4.11: 303 so the browser does not post the form again.
		status = http.StatusSeeOther
	}
	w.WriteHeader(status)
}

var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Signing you in</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{- range .Params}}
<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{- end}}
<noscript><p>JavaScript is off: press the button to go back to the application.</p><button type="submit">Continue</button></noscript>
</form>
</body>
</html>
`))

// Name and Value let the form template read a param.
func (p param) Name() string  { return p.name }
func (p param) Value() string { return p.value }

var errorPageHTML = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Authorization error</title></head>
<body>
<h1>{{.Error}}</h1>
<p>{{.Description}}</p>
</body>
</html>
`))

// errorPage answers an authorization request that cannot be redirected:
// an HTML page for a browser, JSON for anything else.
func errorPage(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = errorPageHTML.Execute(w, struct{ Error, Description string }{code, desc})
		return
	}
	writeJSON(w, status, errorBody{code, desc})
}

// oauthError is a token endpoint error (RFC 6749 §5.2).
type oauthError struct {
	status int
	code   string
	desc   string
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func invalidClient(desc string) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", desc}
}

func (e *oauthError) write(w http.ResponseWriter) {
	if e.status == http.StatusUnauthorized {
		// RFC 6749 §5.2: a 401 names the scheme the client may use.
		w.Header().Set("WWW-Authenticate", `Basic realm="pkce-demo"`)
	}
	tokenError(w, e.status, e.code, e.desc)
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, errorBody{code, desc})
}

// writeJSON writes v as JSON. Cache-Control: no-store keeps tokens and
// errors out of caches (RFC 6749 §5.1, §5.2).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// randomToken returns 32 random bytes, base64url: codes and tokens are
// opaque and unguessable.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}
