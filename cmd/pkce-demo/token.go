package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// token serves the token endpoint (RFC 6749 §3.2): authorization_code,
// refresh_token and client_credentials. Like many servers it reads its
// parameters with r.FormValue, and the client secret from the body only.
func (s *server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the token endpoint accepts POST only (RFC 6749 section 3.2)")
		return
	}
	// RFC 6749 §3.2: the parameters come form-encoded in the body.
	if ct := r.Header.Get("Content-Type"); ct != "" || r.ContentLength != 0 {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/x-www-form-urlencoded" {
			tokenError(w, http.StatusBadRequest, "invalid_request", "send the token request parameters as application/x-www-form-urlencoded (RFC 6749 section 3.2)")
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
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+quoteParam(grantType)+" is not supported: use authorization_code, refresh_token or client_credentials")
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
		return client{}, invalidClient("unknown client " + quoteParam(id) + ": use demo-app or demo-service")
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
		return "", "", true, fmt.Errorf("the HTTP Basic user name is not form-encoded (RFC 6749 section 2.3.1)")
	}
	if secret, err = url.QueryUnescape(pass); err != nil {
		return "", "", true, fmt.Errorf("the HTTP Basic password is not form-encoded (RFC 6749 section 2.3.1)")
	}
	return id, secret, true, nil
}

// equalSecret compares secrets in time independent of where they differ
// and of their lengths.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// oauthError is a token endpoint error (RFC 6749 §5.2).
type oauthError struct {
	status int
	code   string
	desc   string
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
