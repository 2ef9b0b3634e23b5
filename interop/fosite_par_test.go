package interop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
)

// The differential of fosite_test.go for pushed authorization requests
// (RFC 9126). One plain net/http PAR client runs each flow against two
// servers over real HTTP: the homegrown server with a small PAR endpoint,
// behind m.PAR, m.Authorize and m.Token; and a fosite provider composed
// with its PAR, authorize-code and PKCE handlers (compose.Compose with
// PushedAuthorizeHandlerFactory). Unlike fosite_test.go, which calls
// handler/pkce alone, this needs fosite's core: it is fosite's authorize
// endpoint that reads a pushed request back (authorizeRequestFromPAR), and
// its handler/pkce is no PushedAuthorizeEndpointHandler, so it sees a
// pushed challenge only at authorize, once the pushed parameters are laid
// over the outer ones. The outcomes must agree except where
// parDifferences lists a deliberate difference and says why.

// parStepKind is what a step of a PAR flow sends.
type parStepKind int

const (
	stepPush      parStepKind = iota // a pushed authorization request (RFC 9126 §2.1)
	stepAuthorize                    // an authorization request with the last request_uri (RFC 9126 §4)
	stepRedeem                       // a token request for the last code issued
)

// parStep is one request of a PAR flow. A step whose request_uri or code
// does not exist (its push or authorization was refused) is not sent.
type parStep struct {
	kind parStepKind
	// client is publicClient when "". The confidential client authenticates
	// with HTTP Basic, form-encoded (RFC 6749 §2.3.1).
	client string
	// challenge and method are, for a push, the pushed ones; for an
	// authorization request, outer ones sent beside request_uri. "" sends
	// none.
	challenge, method string
	// verifier is the code_verifier of a token request; "" sends none.
	verifier string
}

// The corpus's steps, by what they send.

func pushS256(verifier string) parStep {
	return parStep{kind: stepPush, challenge: pkce.S256Challenge(verifier), method: "S256"}
}
func pushAs(client, verifier string) parStep {
	s := pushS256(verifier)
	s.client = client
	return s
}
func pushChallenge(challenge, method string) parStep {
	return parStep{kind: stepPush, challenge: challenge, method: method}
}
func pushNoChallenge() parStep             { return parStep{kind: stepPush} }
func authorizeURI() parStep                { return parStep{kind: stepAuthorize} }
func authorizeURIAs(client string) parStep { return parStep{kind: stepAuthorize, client: client} }
func authorizeURIOuter(challenge, method string) parStep {
	return parStep{kind: stepAuthorize, challenge: challenge, method: method}
}
func redeem(verifier string) parStep { return parStep{kind: stepRedeem, verifier: verifier} }
func redeemAs(client, verifier string) parStep {
	return parStep{kind: stepRedeem, client: client, verifier: verifier}
}

type parCase struct {
	name  string
	steps []parStep
}

var parCorpus = []parCase{
	// The pushed challenge is the one the token endpoint checks.
	{"pushed S256, right verifier", []parStep{pushS256(verifier43), authorizeURI(), redeem(verifier43)}},
	{"pushed S256, wrong verifier", []parStep{pushS256(verifier43), authorizeURI(), redeem(verifierB)}},
	{"pushed S256, no verifier", []parStep{pushS256(verifier43), authorizeURI(), redeem("")}},
	{"pushed S256 by a confidential client (Basic)", []parStep{pushAs(confidentialClient, verifier43), authorizeURIAs(confidentialClient), redeemAs(confidentialClient, verifier43)}},

	// Pushed requests whose challenge the policy refuses.
	{"pushed without challenge", []parStep{pushNoChallenge(), authorizeURI(), redeem("")}},
	{"pushed plain challenge", []parStep{pushChallenge(verifier43, "plain"), authorizeURI(), redeem(verifier43)}},
	{"pushed hex challenge", []parStep{pushChallenge(s256Hex(verifier43), "S256"), authorizeURI(), redeem(verifier43)}},

	// An outer challenge beside request_uri.
	{"outer challenge equal to the pushed one", []parStep{pushS256(verifier43), authorizeURIOuter(pkce.S256Challenge(verifier43), "S256"), redeem(verifier43)}},
	{"outer challenge differs, pushed verifier", []parStep{pushS256(verifier43), authorizeURIOuter(pkce.S256Challenge(verifierB), "S256"), redeem(verifier43)}},
	{"outer challenge differs, outer verifier", []parStep{pushS256(verifier43), authorizeURIOuter(pkce.S256Challenge(verifierB), "S256"), redeem(verifierB)}},
	{"outer challenge, none pushed", []parStep{pushNoChallenge(), authorizeURIOuter(pkce.S256Challenge(verifier43), "S256"), redeem(verifier43)}},

	// The request_uri and the code belong to one client, once.
	{"request_uri reused", []parStep{pushS256(verifier43), authorizeURI(), authorizeURI(), redeem(verifier43)}},
	{"request_uri used by another client, then by its own", []parStep{pushS256(verifier43), authorizeURIAs(confidentialClient), authorizeURI(), redeem(verifier43)}},
	{"code redeemed by another client", []parStep{pushS256(verifier43), authorizeURI(), redeemAs(confidentialClient, verifier43)}},
}

// parDifference is a place where the middleware deliberately decides a PAR
// flow otherwise than fosite.
type parDifference struct {
	caseName, config string
	ours, fosite     string
	// reasons are the middleware's refusal reasons in the flow, as its
	// events name them (Event.Refusal), in order.
	reasons string
	why     string
}

// parDifferences lists every difference the PAR corpus shows, with the
// reason. A difference not listed here fails the test, and so does an entry
// that no longer differs.
var parDifferences = []parDifference{
	// Checked when pushed: the same final outcome, no token either way, but
	// the client learns what is wrong at the request that is wrong, and no
	// request_uri is issued for a request that cannot succeed.
	{"pushed without challenge", "S256 required", "par refused (invalid_request)", "par ok; authorize refused (invalid_request)", "challenge_missing",
		"the middleware checks a pushed challenge at the PAR endpoint, under the policy Authorize applies (DESIGN.md, PAR and request objects); fosite's handler/pkce is no PushedAuthorizeEndpointHandler, so fosite issues a request_uri for a request it will refuse at authorize"},
	{"pushed without challenge", "plain allowed", "par refused (invalid_request)", "par ok; authorize refused (invalid_request)", "challenge_missing", "as above"},
	{"pushed plain challenge", "S256 required", "par refused (invalid_request)", "par ok; authorize refused (invalid_request)", "method_not_allowed", "as above"},
	{"pushed plain challenge", "optional", "par refused (invalid_request)", "par ok; authorize refused (invalid_request)", "method_not_allowed", "as above"},
	{"pushed hex challenge", "S256 required", "par refused (invalid_request)", "par ok; authorize ok; token refused (invalid_grant)", "challenge_malformed",
		"as the hex challenge of fosite_test.go, refused when pushed: no verifier can match it, and fosite checks a challenge's form nowhere"},
	{"pushed hex challenge", "plain allowed", "par refused (invalid_request)", "par ok; authorize ok; token refused (invalid_grant)", "challenge_malformed", "as above"},
	{"pushed hex challenge", "optional", "par refused (invalid_request)", "par ok; authorize ok; token refused (invalid_grant)", "challenge_malformed", "as above"},

	// An outer challenge that differs: fosite lays the pushed parameters
	// over the outer ones (Request.Merge), so the pushed challenge wins.
	{"outer challenge differs, pushed verifier", "S256 required", "par ok; authorize refused (invalid_request)", "par ok; authorize ok; token issued", "challenge_conflict",
		"the middleware refuses an outer code_challenge that differs from the pushed one (challenge_conflict, DESIGN.md): which of the two a server reads is the server's merge rule, which the middleware cannot see, and a server that lets the outer one win would check a challenge the middleware never bound. fosite knows its own rule (pushed wins) and goes on with the pushed challenge"},
	{"outer challenge differs, pushed verifier", "plain allowed", "par ok; authorize refused (invalid_request)", "par ok; authorize ok; token issued", "challenge_conflict", "as above"},
	{"outer challenge differs, pushed verifier", "optional", "par ok; authorize refused (invalid_request)", "par ok; authorize ok; token issued", "challenge_conflict", "as above"},
	{"outer challenge differs, outer verifier", "S256 required", "par ok; authorize refused (invalid_request)", "par ok; authorize ok; token refused (invalid_grant)", "challenge_conflict",
		"as above; both deny the outer challenge's verifier, the middleware at authorize, fosite at token"},
	{"outer challenge differs, outer verifier", "plain allowed", "par ok; authorize refused (invalid_request)", "par ok; authorize ok; token refused (invalid_grant)", "challenge_conflict", "as above"},
	{"outer challenge differs, outer verifier", "optional", "par ok; authorize refused (invalid_request)", "par ok; authorize ok; token refused (invalid_grant)", "challenge_conflict", "as above"},

	// An outer challenge when none was pushed: fosite's merge keeps the
	// outer parameters the pushed request lacks, so it binds the outer one.
	{"outer challenge, none pushed", "S256 required", "par refused (invalid_request)", "par ok; authorize ok; token issued", "challenge_missing",
		"the pushed request carries no challenge, so the middleware refuses it at the PAR endpoint under a requiring policy; fosite accepts it there and, at authorize, takes the outer code_challenge, which its merge leaves in place: the challenge a PAR client sends outside the pushed request is honoured"},
	{"outer challenge, none pushed", "plain allowed", "par refused (invalid_request)", "par ok; authorize ok; token issued", "challenge_missing", "as above"},
	{"outer challenge, none pushed", "optional", "par ok; authorize ok; token refused (invalid_grant)", "par ok; authorize ok; token issued", "downgrade",
		"nothing was recorded for the request_uri, so the middleware passes it unbound and does not bind the outer challenge: the challenge that counts is the pushed one (none), and a server may read only that (DESIGN.md: an outer challenge is not bound, the real one is elsewhere). The verifier for that code is then refused as a downgrade (docs/par.md)"},

	// The request_uri, used twice. A reuse is no difference: both refuse the
	// second use with invalid_request_uri (RFC 9126 §4: single use; RFC
	// 9101 §7) and redeem the first code.
	{"request_uri used by another client, then by its own", "S256 required", "par ok; authorize refused (invalid_request_uri); authorize ok; token issued", "par ok; authorize refused (invalid_request); authorize refused (invalid_request_uri)", "client_mismatch",
		"both refuse the other client; fosite deletes the pushed request before it compares the client (authorizeRequestFromPAR), so anyone who sees a request_uri (it travels in the front channel) can spend it and its client's login fails. The middleware looks the pushed request up without using it (DESIGN.md: used up only when a code is bound), so its own client still gets through"},
	{"request_uri used by another client, then by its own", "plain allowed", "par ok; authorize refused (invalid_request_uri); authorize ok; token issued", "par ok; authorize refused (invalid_request); authorize refused (invalid_request_uri)", "client_mismatch", "as above"},
	{"request_uri used by another client, then by its own", "optional", "par ok; authorize refused (invalid_request_uri); authorize ok; token issued", "par ok; authorize refused (invalid_request); authorize refused (invalid_request_uri)", "client_mismatch", "as above"},
}

// TestFositePARDifferential runs the PAR corpus through both and compares.
func TestFositePARDifferential(t *testing.T) {
	listed := map[[2]string]parDifference{}
	for _, d := range parDifferences {
		if _, dup := listed[[2]string{d.caseName, d.config}]; dup {
			t.Fatalf("difference %q under %q listed twice", d.caseName, d.config)
		}
		listed[[2]string{d.caseName, d.config}] = d
	}
	seen := map[[2]string]bool{}
	for _, cfg := range diffConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			st := newPARStack(t, cfg.ours)
			fositeURL := newFositePARServer(t, cfg.fosite)
			for _, tc := range parCorpus {
				t.Run(tc.name, func(t *testing.T) {
					var reasons []string
					ours := runPARFlow(t, st.srv.URL, tc, func(s parStep) {
						if r := st.nextRefusal(t, s.kind); r != "" {
							reasons = append(reasons, r)
						}
					})
					st.noMoreEvents(t)
					theirs := runPARFlow(t, fositeURL, tc, func(parStep) {})
					key := [2]string{tc.name, cfg.name}
					seen[key] = true
					d, isListed := listed[key]
					switch {
					case ours == theirs && isListed:
						t.Errorf("listed as a difference, but both now: %s", ours)
					case ours != theirs && !isListed:
						t.Errorf("unlisted difference:\n  ours:   %s (%s)\n  fosite: %s", ours, strings.Join(reasons, ", "), theirs)
					case ours != theirs && (d.ours != ours || d.fosite != theirs):
						t.Errorf("the difference changed:\n  ours:   %s (listed %s)\n  fosite: %s (listed %s)", ours, d.ours, theirs, d.fosite)
					case isListed && d.reasons != strings.Join(reasons, ", "):
						t.Errorf("the middleware's reasons are %q; listed %q", strings.Join(reasons, ", "), d.reasons)
					}
				})
			}
		})
	}
	for key := range listed {
		if !seen[key] {
			t.Errorf("difference for %q under %q names no case of the corpus", key[0], key[1])
		}
	}
}

// runPARFlow sends tc's steps to the server at base, as a PAR client
// following RFC 9126 does, calling sent after each request it sent, and
// returns the outcomes.
func runPARFlow(t *testing.T, base string, tc parCase, sent func(parStep)) string {
	t.Helper()
	const state = "state-of-the-par-flow" // fosite wants 8 characters or more
	var requestURI, code string
	var out []string
	for _, s := range tc.steps {
		client := s.client
		if client == "" {
			client = publicClient
		}
		switch s.kind {
		case stepPush:
			form := url.Values{"response_type": {"code"}, "redirect_uri": {redirectURI}, "state": {state}}
			setChallenge(form, s.challenge, s.method)
			uri, refusal := pushAuthorization(t, base+"/par", client, form)
			if refusal != "" {
				out = append(out, "par refused ("+refusal+")")
			} else {
				out = append(out, "par ok")
				requestURI = uri
			}
		case stepAuthorize:
			if requestURI == "" {
				continue
			}
			// RFC 9126 §4: client_id and request_uri, nothing else needed.
			q := url.Values{"client_id": {client}, "request_uri": {requestURI}}
			setChallenge(q, s.challenge, s.method)
			issued, refusal := authorizeOutcome(t, base+"/authorize?"+q.Encode())
			if refusal != "" {
				out = append(out, authorizeRefused+" ("+refusal+")")
			} else {
				out = append(out, "authorize ok")
				code = issued
			}
		case stepRedeem:
			if code == "" {
				continue
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
			if s.verifier != "" {
				form.Set("code_verifier", s.verifier)
			}
			resp := postForm(t, base+"/token", form, clientAuth(client, form))
			if resp.StatusCode == http.StatusOK {
				out = append(out, tokenIssued)
			} else {
				out = append(out, tokenRefused+" ("+readRefusal(t, resp).Error+")")
			}
		}
		sent(s)
	}
	return strings.Join(out, "; ")
}

func setChallenge(v url.Values, challenge, method string) {
	if challenge != "" {
		v.Set("code_challenge", challenge)
	}
	if method != "" {
		v.Set("code_challenge_method", method)
	}
}

// clientAuth authenticates client for a back-channel request: the
// confidential client with HTTP Basic, its id and secret form-encoded
// first (RFC 6749 §2.3.1); the public one with client_id in form.
func clientAuth(client string, form url.Values) http.Header {
	if client != confidentialClient {
		form.Set("client_id", client)
		return nil
	}
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(confidentialSecret))
	return req.Header
}

// pushAuthorization sends a pushed authorization request (RFC 9126 §2.1)
// and returns the request_uri of the 201 answer (§2.2), or the error code
// of a refusal (§2.3).
func pushAuthorization(t *testing.T, endpoint, client string, form url.Values) (requestURI, refusal string) {
	t.Helper()
	resp := postForm(t, endpoint, form, clientAuth(client, form))
	if resp.StatusCode != http.StatusCreated {
		return "", readRefusal(t, resp).Error
	}
	var answer struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(readBody(t, resp)), &answer); err != nil {
		t.Fatalf("PAR answer: %v", err)
	}
	if answer.RequestURI == "" || answer.ExpiresIn <= 0 {
		t.Fatalf("PAR answer %+v: want a request_uri and a positive expires_in (RFC 9126 §2.2)", answer)
	}
	return answer.RequestURI, ""
}

// authorizeOutcome sends an authorization request as a browser and returns
// the code issued, or the error code of a refusal: one redirected to the
// client (RFC 6749 §4.1.2.1) or answered as JSON.
func authorizeOutcome(t *testing.T, authURL string) (code, refusal string) {
	t.Helper()
	res := doAuthorize(t, http.MethodGet, authURL)
	if res.code != "" {
		return res.code, ""
	}
	if res.location != "" {
		u, err := url.Parse(res.location)
		if err != nil || u.Query().Get("error") == "" {
			t.Fatalf("authorize redirected to %q: neither a code nor an error", res.location)
		}
		return "", u.Query().Get("error")
	}
	var r oauthRefusal
	if err := json.Unmarshal([]byte(res.body), &r); err != nil || r.Error == "" {
		t.Fatalf("authorize answered %d %q: neither a code nor an OAuth refusal", res.status, res.body)
	}
	return "", r.Error
}

// --- ours: the homegrown server with a PAR endpoint, behind the middleware ---

// parStack is the homegrown server with a PAR endpoint, behind m.PAR,
// m.Authorize and m.Token, with the middleware's events.
type parStack struct {
	*homegrown
	srv    *httptest.Server
	events chan pkce.Event

	mu sync.Mutex
	// pushed are the pushed requests by request_uri. The server never uses
	// one up and does not compare the client that names it: as with codes
	// whose check failed, only the middleware stands in between.
	pushed map[string]url.Values
}

func newPARStack(t *testing.T, cfg pkce.Config) *parStack {
	t.Helper()
	st := &parStack{homegrown: newHomegrown(), events: make(chan pkce.Event, 64), pushed: map[string]url.Values{}}
	cfg.OnEvent = func(e pkce.Event) {
		select {
		case st.events <- e:
		default:
			t.Errorf("events overflow: %+v", e)
		}
	}
	m := newMiddleware(t, cfg)
	mux := http.NewServeMux()
	mux.Handle("/par", m.PAR(http.HandlerFunc(st.servePAR)))
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(st.serveAuthorize)))
	mux.Handle("/token", m.Token(http.HandlerFunc(st.serveToken)))
	st.srv = httptest.NewServer(mux)
	t.Cleanup(st.srv.Close)
	return st
}

// servePAR is the homegrown PAR endpoint: it authenticates the client as
// the token endpoint does, keeps the pushed parameters and answers 201
// with a request_uri (RFC 9126 §2.2). It knows nothing of PKCE.
func (st *parStack) servePAR(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	client, secret := r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		var err1, err2 error
		client, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			writeJSON(w, http.StatusUnauthorized, oauthError("invalid_client", "bad Basic credentials"))
			return
		}
	}
	switch {
	case client == confidentialClient && secret != confidentialSecret,
		client != publicClient && client != confidentialClient:
		writeJSON(w, http.StatusUnauthorized, oauthError("invalid_client", "client authentication failed"))
		return
	case r.PostFormValue("request_uri") != "":
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "request_uri in a pushed request"))
		return
	}
	pushed := url.Values{}
	for k, vs := range r.PostForm {
		pushed[k] = append([]string(nil), vs...)
	}
	pushed.Set("client_id", client)
	pushed.Del("client_secret")
	uri := "urn:ietf:params:oauth:request_uri:" + randomToken()
	st.mu.Lock()
	st.pushed[uri] = pushed
	st.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": 60})
}

// serveAuthorize is the homegrown authorization endpoint. For a
// request_uri it reads the parameters from the pushed request alone: the
// outer ones, client_id included, are not looked at.
func (st *parStack) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	get := r.FormValue
	if uri := r.FormValue("request_uri"); uri != "" {
		st.mu.Lock()
		pushed, ok := st.pushed[uri]
		st.mu.Unlock()
		if !ok {
			http.Error(w, "unknown request_uri", http.StatusBadRequest)
			return
		}
		get = pushed.Get
	}
	resp, err := st.authorize(get)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeAuthResponse(w, r, resp)
}

// nextRefusal waits for the event of the request a step just sent (every
// request of a PAR flow is PKCE's business: one event each) and returns
// its refusal reason, "" when the middleware let it through.
func (st *parStack) nextRefusal(t *testing.T, kind parStepKind) string {
	t.Helper()
	want := map[parStepKind]string{stepPush: "par", stepAuthorize: "authorize", stepRedeem: "token"}[kind]
	select {
	case e := <-st.events:
		if e.Endpoint != want {
			t.Fatalf("event from %q; want one from %q", e.Endpoint, want)
		}
		return e.Refusal
	case <-time.After(5 * time.Second):
		t.Fatalf("no event from %q", want)
	}
	return ""
}

func (st *parStack) noMoreEvents(t *testing.T) {
	t.Helper()
	select {
	case e := <-st.events:
		t.Fatalf("an event no request accounts for: %+v", e)
	default:
	}
}

// --- fosite: a provider composed with its PAR handler ---

// newFositePARServer serves a fosite provider composed with the
// authorize-code, PKCE and PAR handlers, configured as cfg, knowing the
// same two clients, and returns its URL.
func newFositePARServer(t *testing.T, cfg fosite.Config) string {
	t.Helper()
	ctx := context.Background()
	cfg.GlobalSecret = []byte("fosite-differential-hmac-secret!")
	cfg.HashCost = 4 // bcrypt's least: the secret's hash is no subject here
	store := storage.NewMemoryStore()
	secret, err := (&fosite.BCrypt{Config: &cfg}).Hash(ctx, []byte(confidentialSecret))
	if err != nil {
		t.Fatal(err)
	}
	store.Clients[publicClient] = &fosite.DefaultClient{ID: publicClient, Public: true, RedirectURIs: []string{redirectURI}}
	store.Clients[confidentialClient] = &fosite.DefaultClient{ID: confidentialClient, Secret: secret, RedirectURIs: []string{redirectURI}}
	provider := compose.Compose(&cfg, store, compose.NewOAuth2HMACStrategy(&cfg),
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory,
		compose.PushedAuthorizeHandlerFactory,
	)

	mux := http.NewServeMux()
	mux.HandleFunc("/par", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewPushedAuthorizeRequest(ctx, r)
		if err != nil {
			provider.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		resp, err := provider.NewPushedAuthorizeResponse(ctx, ar, &fosite.DefaultSession{})
		if err != nil {
			provider.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		provider.WritePushedAuthorizeResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAuthorizeRequest(ctx, r)
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		// Consent at once, as the homegrown server does.
		resp, err := provider.NewAuthorizeResponse(ctx, ar, &fosite.DefaultSession{Subject: "user"})
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		provider.WriteAuthorizeResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAccessRequest(ctx, r, &fosite.DefaultSession{})
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		provider.WriteAccessResponse(ctx, w, ar, resp)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}
