package pkce_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventLog collects the events of a Config.OnEvent.
type eventLog struct {
	mu  sync.Mutex
	evs []pkce.Event
}

func (l *eventLog) add(e pkce.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

func (l *eventLog) all() []pkce.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]pkce.Event(nil), l.evs...)
}

// eventVerifier is the verifier of the challenge eventCase setups record.
var eventVerifier = pkce.GenerateVerifier()

// recordCode binds code to eventVerifier's S256 challenge for client app.
func recordCode(t *testing.T, m *pkce.Middleware, code string) {
	t.Helper()
	require.NoError(t, m.Record(context.Background(), code, pkce.Challenge{Value: pkce.S256Challenge(eventVerifier), Method: pkce.S256, ClientID: "app"}))
}

func authorizeGet(query string) func() *http.Request {
	return func() *http.Request {
		return httptest.NewRequest(http.MethodGet, "/authorize?"+query, nil)
	}
}

func tokenPost(form string, header ...string) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r
	}
}

const eventAuthorize = "response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s"

// issue is an authorization handler that redirects with a fresh code.
func issue(codes ...string) http.Handler {
	var mu sync.Mutex
	n := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		code := "issued-" + strings.Repeat("x", n)
		mu.Unlock()
		q := url.Values{"state": {r.FormValue("state")}}
		if len(codes) == 0 {
			q.Set("code", code)
		}
		loc := "http://127.0.0.1:9/cb?" + q.Encode()
		for _, c := range codes {
			loc += "&" + c
		}
		http.Redirect(w, r, loc, http.StatusFound)
	})
}

// tokenOK is a token handler that issues a token for anything.
var tokenOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
})

// eventCase is one request and the event it makes. want.Status and
// want.Enforced are those of the enforcing middleware; under ReportOnly
// the event is the same but for Enforced (false when there is a refusal)
// and Status (bareStatus, the wrapped handler's).
type eventCase struct {
	name       string
	endpoint   string // "authorize" or "token"
	cfg        pkce.Config
	setup      func(t *testing.T, m *pkce.Middleware)
	handler    http.Handler // nil: issue() at authorize, tokenOK at token
	req        func() *http.Request
	want       *pkce.Event // nil: no event
	bareStatus int         // 0: 302 at authorize, 200 at token
}

func eventCases() []eventCase {
	s256 := "code_challenge=" + pkce.S256Challenge(eventVerifier) + "&code_challenge_method=S256"
	optional := pkce.Config{Require: func(*http.Request, string) bool { return false }}
	refused := func(endpoint, client string, pkceSent bool, method pkce.Method, reason string, status int) *pkce.Event {
		return &pkce.Event{Endpoint: endpoint, ClientID: client, PKCE: pkceSent, Method: method, Refusal: reason, Enforced: true, Status: status}
	}
	redeem := func(extra string) string {
		return "grant_type=authorization_code&code=c1&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&client_id=app" + extra
	}
	bound := func(t *testing.T, m *pkce.Middleware) { recordCode(t, m, "c1") }
	return []eventCase{
		// Authorize.
		{name: "S256", endpoint: "authorize", req: authorizeGet(eventAuthorize + "&" + s256),
			want: &pkce.Event{Endpoint: "authorize", ClientID: "app", PKCE: true, Method: pkce.S256, Status: http.StatusFound}},
		{name: "no challenge, optional", endpoint: "authorize", cfg: optional, req: authorizeGet(eventAuthorize),
			want: &pkce.Event{Endpoint: "authorize", ClientID: "app", Status: http.StatusFound}},
		{name: "implicit: no event", endpoint: "authorize", req: authorizeGet("response_type=token&client_id=app&redirect_uri=x"), want: nil},
		{name: "no challenge, required", endpoint: "authorize", req: authorizeGet(eventAuthorize),
			want: refused("authorize", "app", false, "", pkce.ReasonChallengeMissing, 400)},
		{name: "method without challenge", endpoint: "authorize", req: authorizeGet(eventAuthorize + "&code_challenge_method=S256"),
			want: refused("authorize", "app", false, "", pkce.ReasonChallengeMissing, 400)},
		{name: "plain by absence", endpoint: "authorize", req: authorizeGet(eventAuthorize + "&code_challenge=" + eventVerifier),
			want: refused("authorize", "app", true, pkce.Plain, pkce.ReasonMethodNotAllowed, 400)},
		{name: "method in another case", endpoint: "authorize", req: authorizeGet(eventAuthorize + "&code_challenge=" + pkce.S256Challenge(eventVerifier) + "&code_challenge_method=s256"),
			want: refused("authorize", "app", true, "", pkce.ReasonMethodNotAllowed, 400)},
		{name: "hex challenge", endpoint: "authorize", req: authorizeGet(eventAuthorize + "&code_challenge=" + strings.Repeat("ab", 32) + "&code_challenge_method=S256"),
			want: refused("authorize", "app", true, pkce.S256, pkce.ReasonChallengeMalformed, 400)},
		{name: "duplicate challenge", endpoint: "authorize", req: authorizeGet(eventAuthorize + "&" + s256 + "&code_challenge=x"),
			want: refused("authorize", "app", true, pkce.S256, pkce.ReasonDuplicateParameter, 400)},
		{name: "parameter name case", endpoint: "authorize", req: authorizeGet(eventAuthorize + "&Code_Challenge=x"),
			want: refused("authorize", "app", false, "", pkce.ReasonParameterCase, 400)},
		{name: "response_type value case: not PKCE's business, refused", endpoint: "authorize", req: authorizeGet("response_type=CODE&client_id=app&redirect_uri=x"),
			want: refused("authorize", "app", false, "", pkce.ReasonParameterCase, 400)},
		{name: "unknown request_uri", endpoint: "authorize", req: authorizeGet("client_id=app&request_uri=urn%3Aexample%3A1"),
			want: refused("authorize", "app", false, "", pkce.ReasonRequestURIUnknown, 400)},
		{name: "request object", endpoint: "authorize", req: authorizeGet("client_id=app&response_type=code&request=a.b.c"),
			want: refused("authorize", "app", false, "", pkce.ReasonRequestUnreadable, 400)},
		{name: "unreadable POST body", endpoint: "authorize", req: func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/authorize?response_type=code&client_id=app", strings.NewReader(`{"a":1}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, want: refused("authorize", "app", false, "", pkce.ReasonBadRequest, 400)},
		{name: "several codes", endpoint: "authorize", handler: issue("code=a", "code=b"), req: authorizeGet(eventAuthorize + "&" + s256),
			want: refused("authorize", "app", true, pkce.S256, pkce.ReasonMultipleCodes, 500)},
		{name: "rebind", endpoint: "authorize", handler: issue("code=c1"), setup: func(t *testing.T, m *pkce.Middleware) {
			require.NoError(t, m.Record(context.Background(), "c1", pkce.Challenge{Value: pkce.S256Challenge(pkce.GenerateVerifier()), Method: pkce.S256, ClientID: "app"}))
		}, req: authorizeGet(eventAuthorize + "&" + s256),
			want: refused("authorize", "app", true, pkce.S256, pkce.ReasonRebind, 500)},
		{name: "encrypted JARM", endpoint: "authorize", handler: issue("response=a.b.c.d.e"), req: authorizeGet(eventAuthorize + "&" + s256),
			want: refused("authorize", "app", true, pkce.S256, pkce.ReasonResponseUnreadable, 500)},
		{name: "store error at capture", endpoint: "authorize", cfg: pkce.Config{Store: faultStore{errors.New("boom")}}, req: authorizeGet(eventAuthorize + "&" + s256),
			want: refused("authorize", "app", true, pkce.S256, pkce.ReasonStoreError, 500)},
		{name: "store full at capture", endpoint: "authorize", cfg: pkce.Config{Store: faultStore{pkce.ErrStoreFull}}, req: authorizeGet(eventAuthorize + "&" + s256),
			want: refused("authorize", "app", true, pkce.S256, pkce.ReasonStoreFull, 503)},

		// Token.
		{name: "redeemed with PKCE", endpoint: "token", setup: bound, req: tokenPost(redeem("&code_verifier=" + eventVerifier)),
			want: &pkce.Event{Endpoint: "token", ClientID: "app", PKCE: true, Method: pkce.S256, Status: 200}},
		{name: "redeemed without PKCE, optional", endpoint: "token", cfg: optional, req: tokenPost(redeem("")),
			want: &pkce.Event{Endpoint: "token", ClientID: "app", Status: 200}},
		{name: "passed, then the handler refuses", endpoint: "token", setup: bound, handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		}), req: tokenPost(redeem("&code_verifier=" + eventVerifier)),
			want: &pkce.Event{Endpoint: "token", ClientID: "app", PKCE: true, Method: pkce.S256, Status: 401}, bareStatus: 401},
		{name: "other grant: no event", endpoint: "token", req: tokenPost("grant_type=refresh_token&refresh_token=r&client_id=app"), want: nil},
		{name: "wrong verifier", endpoint: "token", setup: bound, req: tokenPost(redeem("&code_verifier=" + pkce.GenerateVerifier())),
			want: refused("token", "app", true, pkce.S256, pkce.ReasonVerifierMismatch, 400)},
		{name: "no verifier", endpoint: "token", setup: bound, req: tokenPost(redeem("")),
			want: refused("token", "app", true, pkce.S256, pkce.ReasonVerifierMissing, 400)},
		{name: "malformed verifier", endpoint: "token", setup: bound, req: tokenPost(redeem("&code_verifier=short")),
			want: refused("token", "app", true, pkce.S256, pkce.ReasonVerifierMalformed, 400)},
		{name: "another client's code", endpoint: "token", setup: bound, req: tokenPost(strings.Replace(redeem("&code_verifier="+eventVerifier), "client_id=app", "client_id=other", 1)),
			want: refused("token", "other", true, pkce.S256, pkce.ReasonClientMismatch, 400)},
		{name: "body client differs from Basic", endpoint: "token", setup: bound, req: tokenPost(redeem("&code_verifier="+eventVerifier), "Authorization", "Basic b3RoZXI6cw=="),
			want: refused("token", "other", false, "", pkce.ReasonClientMismatch, 400)},
		{name: "replay", endpoint: "token", setup: func(t *testing.T, m *pkce.Middleware) {
			bound(t, m)
			w := httptest.NewRecorder()
			m.Token(tokenOK).ServeHTTP(w, tokenPost(redeem("&code_verifier="+eventVerifier))())
			require.Equal(t, 200, w.Code)
		}, req: tokenPost(redeem("&code_verifier=" + eventVerifier)),
			want: refused("token", "app", true, "", pkce.ReasonCodeReused, 400)},
		{name: "downgrade", endpoint: "token", req: tokenPost(redeem("&code_verifier=" + eventVerifier)),
			want: refused("token", "app", false, "", pkce.ReasonDowngrade, 400)},
		{name: "no challenge, no verifier, required", endpoint: "token", req: tokenPost(redeem("")),
			want: refused("token", "app", false, "", pkce.ReasonChallengeMissing, 400)},
		{name: "no grant_type", endpoint: "token", req: tokenPost("code=c1&client_id=app"),
			want: refused("token", "app", false, "", pkce.ReasonBadRequest, 400)},
		{name: "grant_type twice", endpoint: "token", req: tokenPost("grant_type=refresh_token&grant_type=authorization_code&client_id=app"),
			want: refused("token", "app", false, "", pkce.ReasonDuplicateParameter, 400)},
		{name: "grant_type in another case", endpoint: "token", req: tokenPost("grant_type=Authorization_Code&code=c1&client_id=app"),
			want: refused("token", "app", false, "", pkce.ReasonParameterCase, 400)},
		{name: "parameter twice", endpoint: "token", setup: bound, req: tokenPost(redeem("&code_verifier=" + eventVerifier + "&code_verifier=" + eventVerifier)),
			want: refused("token", "app", false, "", pkce.ReasonDuplicateParameter, 400)},
		{name: "parameters in the query", endpoint: "token", req: func() *http.Request {
			r := tokenPost(redeem(""))()
			r.URL.RawQuery = "code_verifier=" + eventVerifier
			return r
		}, want: refused("token", "app", false, "", pkce.ReasonBadRequest, 400)},
		{name: "unsupported content type", endpoint: "token", req: tokenPost("grant_type=authorization_code", "Content-Type", "text/plain"),
			want: refused("token", "", false, "", pkce.ReasonBadRequest, 400)},
		{name: "oversized body", endpoint: "token", cfg: pkce.Config{MaxBodyBytes: 64}, req: func() *http.Request {
			r := tokenPost(redeem(strings.Repeat("&x=y", 40)))()
			r.ContentLength = -1 // read until the limit
			return r
		}, want: refused("token", "", false, "", pkce.ReasonBadRequest, 400)},
		{name: "body drained before the middleware", endpoint: "token", req: func() *http.Request {
			r := tokenPost(redeem(""))()
			_, _ = io.ReadAll(r.Body)
			return r
		}, want: refused("token", "", false, "", pkce.ReasonBodyConsumed, 500), bareStatus: 200},
		{name: "store error", endpoint: "token", cfg: pkce.Config{Store: faultStore{errors.New("boom")}}, req: tokenPost(redeem("&code_verifier=" + eventVerifier)),
			want: refused("token", "app", false, "", pkce.ReasonStoreError, 500)},
	}
}

// TestEvents: each request makes the one event it should, with its
// reason ID, enforcing and reporting: the same event but for Enforced and
// Status, which under ReportOnly is the wrapped handler's.
func TestEvents(t *testing.T) {
	for _, tc := range eventCases() {
		for _, reportOnly := range []bool{false, true} {
			name := tc.name + "/enforcing"
			if reportOnly {
				name = tc.name + "/report-only"
			}
			t.Run(name, func(t *testing.T) {
				var log eventLog
				cfg := tc.cfg
				cfg.ReportOnly, cfg.OnEvent = reportOnly, log.add
				m, err := pkce.New(cfg)
				require.NoError(t, err)
				if tc.setup != nil {
					tc.setup(t, m)
					log = eventLog{} // the setup's events are not this request's
				}
				var h http.Handler
				switch {
				case tc.endpoint == "authorize" && tc.handler == nil:
					h = m.Authorize(issue())
				case tc.endpoint == "authorize":
					h = m.Authorize(tc.handler)
				case tc.handler == nil:
					h = m.Token(tokenOK)
				default:
					h = m.Token(tc.handler)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, tc.req())

				got := log.all()
				if tc.want == nil {
					assert.Empty(t, got)
					return
				}
				want := *tc.want
				if reportOnly {
					want.Enforced = false
					want.Status = tc.bareStatus
					if want.Status == 0 {
						want.Status = http.StatusFound
						if tc.endpoint == "token" {
							want.Status = http.StatusOK
						}
					}
				}
				require.Len(t, got, 1)
				assert.Equal(t, want, got[0])
				assert.Equal(t, want.Status, w.Code, "the event's status is the one sent")
			})
		}
	}
}
