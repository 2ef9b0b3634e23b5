package bench_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-pkce/pkce"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	fositepkce "github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The one setup every benchmark and TestPeers use, so the tests check the
// code the benchmarks time.

// The PKCE pair of RFC 7636 Appendix B, and another valid verifier.
const (
	verifier      = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge     = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	wrongVerifier = "Xq3_mT9-kLp2.Zr8~Wv4Nb6Hc1Yd5Fg7Jh0Ks2Lm4Pn"
	clientID      = "app"
	redirectURI   = "http://127.0.0.1:9/cb"
)

var (
	codesMu    sync.Mutex
	codesCache []string
)

// codes returns n distinct authorization codes shaped like fosite's HMAC
// codes ("ory_ac_" key "." signature, base64url), so every peer is given the
// same strings and fosite's code strategy finds a signature in them. They
// are made once and shared: each benchmark run uses them with a new store.
func codes(n int) []string {
	codesMu.Lock()
	defer codesMu.Unlock()
	for i := len(codesCache); i < n; i++ {
		key := sha256.Sum256([]byte("key-" + strconv.Itoa(i)))
		sig := sha256.Sum256([]byte("sig-" + strconv.Itoa(i)))
		codesCache = append(codesCache, "ory_ac_"+base64.RawURLEncoding.EncodeToString(key[:])+"."+base64.RawURLEncoding.EncodeToString(sig[:]))
	}
	return codesCache[:n:n]
}

// statusWriter is a ResponseWriter that keeps only the status and headers.
type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header { return w.h }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *statusWriter) reset() {
	clear(w.h)
	w.code = 0
}

// --- go-pkce: HTTP in, HTTP out ---

// bareToken is the token handler of a homegrown server, the same as in the
// root module's benchmarks: it reads its parameters with r.FormValue.
var bareToken = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("grant_type") == "" || r.FormValue("code") == "" || r.FormValue("client_id") == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
})

// bareAuthorize redirects with the next of codes, round and round, as a
// server that consents at once.
func bareAuthorize(codes []string) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("response_type") != "code" || r.FormValue("client_id") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code := codes[int(n.Add(1)-1)%len(codes)]
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+url.QueryEscape(code)+"&state="+r.FormValue("state"), http.StatusFound)
	})
}

func tokenRequest(code, verifier string) *http.Request {
	body := "grant_type=authorization_code&code=" + url.QueryEscape(code) + "&redirect_uri=" + url.QueryEscape(redirectURI) + "&client_id=" + clientID + "&code_verifier=" + verifier
	r, _ := http.NewRequest(http.MethodPost, "http://as.example/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

const authorizeQuery = "response_type=code&client_id=" + clientID + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=af0ifjsldkj&code_challenge=" + challenge + "&code_challenge_method=S256"

func authorizeRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://as.example/authorize?"+authorizeQuery, nil)
	return r
}

// newMiddleware is the configuration under test: the zero Config (S256
// only, PKCE required, in-memory store).
func newMiddleware() *pkce.Middleware {
	m, err := pkce.New(pkce.Config{})
	if err != nil {
		panic(err)
	}
	return m
}

// ourChallenge is what the middleware records for an authorization request
// of authorizeQuery.
var ourChallenge = pkce.Challenge{Value: challenge, Method: pkce.S256, ClientID: clientID}

// --- fosite: handler/pkce on parsed fosite requests ---

// fositePKCE is fosite's PKCE handler wired as compose.OAuth2PKCEFactory
// wires it: fosite's HMAC code strategy (which derives the storage key of a
// code), its in-memory storage, and a Config that requires S256, which is
// what the zero pkce.Config enforces.
type fositePKCE struct {
	h      *fositepkce.Handler
	client fosite.Client
	ar     *fosite.AuthorizeRequest // the parsed authorization request
	resp   *fosite.AuthorizeResponse
	tr     *fosite.AccessRequest // the parsed token request
}

func newFositePKCE(verifier string) *fositePKCE {
	cfg := &fosite.Config{
		EnforcePKCE:  true,
		GlobalSecret: []byte("some-cool-secret-that-is-32bytes"),
	}
	f := &fositePKCE{
		h: &fositepkce.Handler{
			AuthorizeCodeStrategy: compose.NewOAuth2HMACStrategy(cfg),
			Storage:               storage.NewMemoryStore(),
			Config:                cfg,
		},
		client: &fosite.DefaultClient{
			ID: clientID, Public: true,
			RedirectURIs: []string{redirectURI}, ResponseTypes: []string{"code"}, GrantTypes: []string{"authorization_code"},
		},
		resp: fosite.NewAuthorizeResponse(),
	}

	// What fosite.NewAuthorizeRequest(ctx, r) hands the handlers for an
	// authorization request of authorizeQuery. The request ID is set as
	// fosite's authorize code handler, which runs before this one, sets it.
	f.ar = fosite.NewAuthorizeRequest()
	f.ar.ID = "9b2f4d3e-6f1a-4c1e-9a55-2a8d8e6f0c11"
	f.ar.Client = f.client
	f.ar.ResponseTypes = fosite.Arguments{"code"}
	f.ar.State = "af0ifjsldkj"
	f.ar.RedirectURI, _ = url.Parse(redirectURI)
	f.ar.Form, _ = url.ParseQuery(authorizeQuery)

	// What fosite.NewAccessRequest(ctx, r, session) hands the handlers for
	// a token request; the code is set per request.
	f.tr = fosite.NewAccessRequest(&fosite.DefaultSession{})
	f.tr.Client = f.client
	f.tr.GrantTypes = fosite.Arguments{"authorization_code"}
	f.tr.Form = url.Values{
		"grant_type":    {"authorization_code"},
		"redirect_uri":  {redirectURI},
		"client_id":     {clientID},
		"code_verifier": {verifier},
	}
	return f
}

// authorize runs the PKCE authorize handler for an authorization response
// that carries code, as fosite's authorize code handler leaves it.
func (f *fositePKCE) authorize(ctx context.Context, code string) error {
	delete(f.resp.Parameters, "code")
	f.resp.AddParameter("code", code)
	return f.h.HandleAuthorizeEndpointRequest(ctx, f.ar, f.resp)
}

// token runs the PKCE token handler for a token request of code. codeValue
// is code as a form value ([]string{code}), made once outside the timed
// loop.
func (f *fositePKCE) token(ctx context.Context, codeValue []string) error {
	f.tr.Form["code"] = codeValue
	return f.h.HandleTokenEndpointRequest(ctx, f.tr)
}

// fositeRefusal reports whether err is fosite's refusal with code errCode.
func fositeRefusal(err error, errCode string) bool {
	var re *fosite.RFC6749Error
	return errors.As(err, &re) && re.ErrorField == errCode
}

// --- zitadel/oidc: the token endpoint's check ---

// zitadelChallenge is the challenge as zitadel's op reads it from the
// application's AuthRequest (GetCodeChallenge).
var zitadelChallenge = &oidc.CodeChallenge{Challenge: challenge, Method: oidc.CodeChallengeMethodS256}

// zitadelToken is the PKCE check op.AuthorizeCodeClient runs for a token
// request once the application's Storage has returned the AuthRequest.
func zitadelToken(verifier string, c *oidc.CodeChallenge) error {
	return op.AuthorizeCodeChallenge(verifier, c)
}
