package pkcetest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-pkce/pkce/pkcetest"
)

// careless is a deliberately careless homegrown authorization server, the
// kind the middleware is for: it reads r.FormValue (so query, form and
// multipart bodies all merge), knows nothing of PKCE, never burns a code
// and never checks which client redeems it.
type careless struct {
	issuer string
	mode   string // "" (query), "fragment" or "form_post": how codes go back

	mu    sync.Mutex
	codes map[string]string // code → client_id, never deleted
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
	if r.FormValue("response_type") != "code" || r.FormValue("client_id") == "" {
		http.Error(w, "unsupported or missing response_type or client_id", http.StatusBadRequest)
		return
	}
	code := randomString()
	c.mu.Lock()
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
	http.Redirect(w, r, redirect+"?"+back.Encode(), http.StatusFound)
}

func (c *careless) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fail := func(code, desc string) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.FormValue("grant_type") != "authorization_code" {
		fail("unsupported_grant_type", "only authorization_code")
		return
	}
	c.mu.Lock()
	_, ok := c.codes[r.FormValue("code")]
	c.mu.Unlock()
	if !ok {
		fail("invalid_grant", "unknown code")
		return
	}
	markIssued(r)
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": randomString(), "token_type": "Bearer", "expires_in": 3600,
	})
}

func (c *careless) metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer":                   c.issuer,
		"authorization_endpoint":   c.issuer + "/authorize",
		"token_endpoint":           c.issuer + "/token",
		"response_types_supported": []string{"code"},
		"grant_types_supported":    []string{"authorization_code"},
	})
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
	mode                        string // the careless server's response mode
	gate                        func(http.Handler) http.Handler
}

// startCareless starts the careless server on 127.0.0.1, each endpoint
// wrapped by w, and stops it when t ends.
func startCareless(t *testing.T, w wrappers) (*httptest.Server, *ledger) {
	t.Helper()
	c := &careless{codes: map[string]string{}, mode: w.mode}
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
	mux := http.NewServeMux()
	var authorize http.Handler = l.wrap("authorize", w.authorize(http.HandlerFunc(c.authorize)))
	if w.gate != nil {
		authorize = w.gate(authorize)
	}
	mux.Handle("/authorize", authorize)
	mux.Handle("/token", l.wrap("token", w.token(http.HandlerFunc(c.token))))
	mux.Handle("/.well-known/oauth-authorization-server", w.discovery(http.HandlerFunc(c.metadata)))
	mux.Handle("/.well-known/openid-configuration", w.discovery(http.HandlerFunc(c.metadata)))
	srv := httptest.NewServer(mux)
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
		RedirectURI:  "http://127.0.0.1:9/callback",
		Client:       srv.Client(),
	}
}
