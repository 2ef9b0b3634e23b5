package main

import (
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-pkce/pkce"
)

// The demo's clients (DESIGN.md, "Demo server"). Both accept the redirect
// URI http://LOOPBACK:PORT/callback on any port (RFC 8252 §7.3), which
// checkRedirectURI matches, so no redirect URI is registered per client.
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
	pathDebugPKCE   = "/debug/pkce" // the adoption report (pkce.Adoption)
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

	pushed pushedRequests // RFC 9126 (par.go)
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

// mode is how the demo server uses the PKCE middleware.
type mode int

const (
	modeProtected   mode = iota // wrapped, S256 required (the default)
	modeReportOnly              // wrapped in report-only mode: nothing refused
	modeUnprotected             // not wrapped
)

// newHandler returns the demo authorization server for issuer (http:// and
// the bound address, no trailing slash), its endpoints wrapped by the PKCE
// middleware with default settings as md says; logger (nil: discarded)
// receives the middleware's log.
func newHandler(issuer string, md mode, logger *slog.Logger) (http.Handler, error) {
	s, err := newServer(issuer)
	if err != nil {
		return nil, err
	}
	return s.handlerMode(md, logger)
}

// handler routes the server's endpoints, wrapped by the PKCE middleware
// when protect is set.
func (s *server) handler(protect bool, logger *slog.Logger) (http.Handler, error) {
	if protect {
		return s.handlerMode(modeProtected, logger)
	}
	return s.handlerMode(modeUnprotected, logger)
}

// handlerMode routes the server's endpoints, wrapped by the PKCE middleware
// as md says, and serves the middleware's adoption report at /debug/pkce
// (pkce.Adoption; an empty one when the middleware is not there).
func (s *server) handlerMode(md mode, logger *slog.Logger) (http.Handler, error) {
	authorize := http.Handler(http.HandlerFunc(s.authorize))
	token := http.Handler(http.HandlerFunc(s.token))
	par := http.Handler(http.HandlerFunc(s.par))
	discovery := http.Handler(http.HandlerFunc(s.discovery))
	openID, oauthServer := discovery, discovery
	adoption := pkce.NewAdoption()
	if md != modeUnprotected {
		m, err := pkce.New(pkce.Config{
			Logger:     logger,
			ReportOnly: md == modeReportOnly,
			OnEvent:    adoption.Observe,
		})
		if err != nil {
			return nil, err
		}
		authorize = m.Authorize(authorize)
		token = m.Token(token)
		par = m.PAR(par)
		openID = m.Discovery(discovery)
		oauthServer = m.Discovery(discovery)
	}
	mux := http.NewServeMux()
	mux.Handle(pathAuthorize, authorize)
	mux.Handle(pathToken, token)
	mux.Handle(pathPAR, par)
	mux.Handle(pathOpenIDConf, openID)
	mux.Handle(pathOAuthServer, oauthServer)
	mux.HandleFunc(pathJWKS, s.jwks)
	// The demo listens on loopback only; a real server serves the report
	// to its operators only: it names clients.
	mux.Handle("GET "+pathDebugPKCE, adoption)
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

// randomToken returns 32 random bytes, base64url: codes and tokens are
// opaque and unguessable.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}

// errorBody is an OAuth error response (RFC 6749 §4.1.2.1, §5.2).
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
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

// quoteParam quotes a request value for an error_description, whose
// characters RFC 6749 §5.2 limits to printable ASCII without '"' and '\\':
// others become '?', and a long value is cut.
func quoteParam(v string) string {
	const maxLen = 60
	b := make([]byte, 0, len(v)+2)
	b = append(b, '\'')
	for i, r := range v {
		if i >= maxLen {
			b = append(b, "..."...)
			break
		}
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(append(b, '\''))
}
