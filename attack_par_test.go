package pkce_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// White-box attack rows for pushed authorization requests (RFC 9126) and
// request objects (RFC 9101), in attack_test.go's rig (real servers, wire
// spy on the authorization endpoint, thief, log checks), with a PAR
// endpoint added to the careless server: it keeps whatever was pushed under
// a request_uri forever, checks no client and no signature, and issues a
// code to whatever redirect_uri counts, keeping its query.

// Peek is the rig store's look-up without use; a take fault applies to it
// too.
func (s *attackStore) Peek(ctx context.Context, key string) (pkce.Challenge, error) {
	if s.take != nil {
		if err := s.take(ctx); err != nil {
			return pkce.Challenge{}, err
		}
	}
	return s.mem.Peek(ctx, key)
}

// rigPush is a row's careless PAR endpoint and the authorization handler
// that reads what was pushed.
type rigPush struct {
	mu      sync.Mutex
	pushed  map[string]url.Values
	n       int
	barrier *sync.WaitGroup // when set, authorization requests wait here before issuing
}

func (ps *rigPush) servePAR(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	ps.mu.Lock()
	ps.n++
	uri := "urn:ietf:params:oauth:request_uri:rig-" + randomCode()
	ps.pushed[uri] = r.PostForm
	ps.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"request_uri": uri, "expires_in": 60})
}

// authorize resolves request_uri or request (payload read, never
// verified), then issues a code to the redirect_uri that counts.
func (ps *rigPush) authorize(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	params := r.Form
	if uri := r.Form.Get("request_uri"); uri != "" {
		ps.mu.Lock()
		params = ps.pushed[uri]
		ps.mu.Unlock()
	}
	if obj := params.Get("request"); obj != "" {
		parts := strings.Split(obj, ".")
		var members map[string]any
		if len(parts) > 1 {
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(b, &members)
		}
		inner := url.Values{}
		for k, v := range members {
			if s, ok := v.(string); ok {
				inner.Set(k, s)
			}
		}
		params = inner
	}
	if ps.barrier != nil {
		ps.barrier.Done()
		ps.barrier.Wait()
	}
	redirect := params.Get("redirect_uri")
	if redirect == "" {
		redirect = testRedirect
	}
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, redirect+sep+"code="+rig.mint()+"&state=xyz", http.StatusFound)
}

// push sends a pushed request to the rig's PAR endpoint.
func (ps *rigPush) push(t *testing.T, rig *attackRig, form url.Values) pushAnswer {
	t.Helper()
	resp, err := http.PostForm(rig.srv.URL+"/par", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := pushAnswer{Status: resp.StatusCode, Body: string(b)}
	require.NoError(t, json.Unmarshal(b, &a), "answer %s", b)
	return a
}

// authorizeWith sends the authorization request q to the rig, as a client
// holding verifier.
func authorizeWith(t *testing.T, rig *attackRig, q url.Values, verifier string) authorizeResult {
	t.Helper()
	a := authorizeResult{verifier: verifier}
	resp, err := noRedirect.Get(rig.srv.URL + "/authorize?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a.resp, a.body = resp, string(b)
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		rig.countRefusal()
	}
	return a
}

// pushed is a row's pushed request by app with the challenge of a fresh
// verifier: the form, and the verifier.
func (rig *attackRig) pushedForm(extra url.Values) (url.Values, string) {
	v := pkce.GenerateVerifier()
	rig.addSecrets(v, pkce.S256Challenge(v))
	form := pushForm(v)
	for k, vs := range extra {
		form[k] = vs
	}
	return form, v
}

// unsignedObject returns a request object whose payload is as written.
func unsignedObject(payload string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "."
}

func TestPARAttacks(t *testing.T) {
	boom := errors.New("connection refused")
	type row struct {
		attackCase
		barrier int
		attack  func(t *testing.T, rig *attackRig, ps *rigPush)
	}
	rows := []row{
		{attackCase: attackCase{name: "a stolen request_uri used by another client: refused, no code; the victim's flow goes on", tokens: 1},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				require.Equal(t, http.StatusCreated, a.Status, a.Body)
				thief := authorizeWith(t, rig, url.Values{"client_id": {"evil"}, "request_uri": {a.RequestURI}}, "")
				rig.assertRefused(t, thief, http.StatusBadRequest, "invalid_request")
				rig.assertNoCode(t, thief)
				victim := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}, v)
				rig.redeemOnce(t, victim)
			}},
		{attackCase: attackCase{name: "an outer challenge cannot replace the pushed one: challenge_conflict, no code", tokens: 1},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				mine := pkce.GenerateVerifier()
				rig.addSecrets(mine, pkce.S256Challenge(mine))
				for _, outer := range []url.Values{
					{"code_challenge": {pkce.S256Challenge(mine)}, "code_challenge_method": {"S256"}},
					{"code_challenge": {pkce.S256Challenge(mine)}},
					{"code_challenge_method": {"plain"}},
				} {
					q := url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}
					for k, vs := range outer {
						q[k] = vs
					}
					got := authorizeWith(t, rig, q, mine)
					rig.assertRefused(t, got, http.StatusBadRequest, "invalid_request")
					assert.Contains(t, got.body, "differs from the pushed")
					rig.assertNoCode(t, got)
				}
				rig.redeemOnce(t, authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}, v))
			}},
		{attackCase: attackCase{name: "a stolen code V in the pushed redirect_uri's query is not rebound; the server's new code is bound", tokens: 2},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				vf, vv := rig.pushedForm(nil)
				va := ps.push(t, rig, vf)
				victim := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {va.RequestURI}}, vv)
				stolen := rig.codeOf(t, victim)

				af, av := rig.pushedForm(url.Values{"redirect_uri": {testRedirect + "?code=" + stolen}})
				aa := ps.push(t, rig, af)
				require.Equal(t, http.StatusCreated, aa.Status, aa.Body)
				attacker := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {aa.RequestURI}}, av)
				codes := responseCodes(t, attacker)
				require.Len(t, codes, 2, "the server kept the pushed redirect_uri's query")
				own := codes[1]
				require.NotEqual(t, stolen, own)
				// V is still bound to the victim's challenge.
				rig.assertVictimKeeps(t, victim, stolen)
				got := rig.exchange(t, own, av)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			}},
		{attackCase: attackCase{name: "two passes race for one request_uri: one code leaves, the other fails closed", tokens: 1},
			barrier: 2,
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				q := url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}
				results := make(chan authorizeResult, 2)
				for range 2 {
					go func() { results <- authorizeWith(t, rig, q, v) }()
				}
				var sent []authorizeResult
				for range 2 {
					r := <-results
					if r.resp.StatusCode == http.StatusFound {
						sent = append(sent, r)
						continue
					}
					rig.assertRefused(t, r, http.StatusBadRequest, "invalid_request")
					rig.assertNoCode(t, r)
				}
				require.Len(t, sent, 1, "one pass got a code")
				assert.Len(t, rig.mintedCodes(), 2, "the handler issued two")
				rig.redeemOnce(t, sent[0])
			}},
		{attackCase: attackCase{name: "a request_uri replayed after its code: refused before the careless server", tokens: 1},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				q := url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}
				first := authorizeWith(t, rig, q, v)
				again := authorizeWith(t, rig, q, v)
				rig.assertRefused(t, again, http.StatusBadRequest, "invalid_request")
				rig.assertNoCode(t, again)
				assert.Len(t, rig.mintedCodes(), 1)
				rig.redeemOnce(t, first)
			}},
		{attackCase: attackCase{name: "store fault at the look-up: 500, no code", store: func(s *attackStore) { s.take = func(context.Context) error { return boom } }},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, v := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				require.Equal(t, http.StatusCreated, a.Status, a.Body)
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request_uri": {a.RequestURI}}, v)
				rig.assertRefused(t, got, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, got)
				assert.Empty(t, rig.mintedCodes())
			}},
		{attackCase: attackCase{name: "store fault at the pushed save: 500, the request_uri never leaves", store: func(s *attackStore) { s.save = func(context.Context) error { return boom } }},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				form, _ := rig.pushedForm(nil)
				a := ps.push(t, rig, form)
				assert.Equal(t, http.StatusInternalServerError, a.Status)
				assert.Equal(t, "server_error", a.Error)
				assert.NotContains(t, a.Body, "request_uri:rig-")
				assert.Equal(t, 1, ps.n, "the careless server pushed it")
				rig.countRefusal()
			}},
		{attackCase: attackCase{name: "a request object with the attacker's challenge before the victim's (duplicated member): refused"},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				v, mine := pkce.GenerateVerifier(), pkce.GenerateVerifier()
				rig.addSecrets(v, pkce.S256Challenge(v), mine, pkce.S256Challenge(mine))
				obj := unsignedObject(`{"client_id":"app","response_type":"code","code_challenge":"` + pkce.S256Challenge(mine) +
					`","code_challenge":"` + pkce.S256Challenge(v) + `","code_challenge_method":"S256"}`)
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request": {obj}}, mine)
				rig.assertRefused(t, got, http.StatusBadRequest, "invalid_request")
				rig.assertNoCode(t, got)
				// Pushed, the same object is refused at the PAR endpoint.
				a := ps.push(t, rig, url.Values{"client_id": {"app"}, "request": {obj}})
				assert.Equal(t, http.StatusBadRequest, a.Status)
				assert.Empty(t, a.RequestURI)
				rig.countRefusal()
			}},
		{attackCase: attackCase{name: "an encrypted request object under a requiring policy: refused, no code"},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				v := pkce.GenerateVerifier()
				rig.addSecrets(v, pkce.S256Challenge(v))
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "response_type": {"code"},
					"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"},
					"request": {"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"}}, v)
				rig.assertRefused(t, got, http.StatusBadRequest, "invalid_request")
				assert.Contains(t, got.body, "encrypted")
				rig.assertNoCode(t, got)
			}},
		{attackCase: attackCase{name: "a stolen code V in the request object's redirect_uri is not rebound; the new code is bound", tokens: 2},
			attack: func(t *testing.T, rig *attackRig, ps *rigPush) {
				victim := rig.authorize(t, nil)
				stolen := rig.codeOf(t, victim)
				mine := pkce.GenerateVerifier()
				rig.addSecrets(mine, pkce.S256Challenge(mine))
				obj := unsignedObject(`{"client_id":"app","response_type":"code","redirect_uri":"` + testRedirect + `?code=` + stolen +
					`","code_challenge":"` + pkce.S256Challenge(mine) + `","code_challenge_method":"S256"}`)
				got := authorizeWith(t, rig, url.Values{"client_id": {"app"}, "request": {obj}}, mine)
				codes := responseCodes(t, got)
				require.Len(t, codes, 2)
				// V is still bound to the victim's challenge.
				rig.assertVictimKeeps(t, victim, stolen)
				assert.Equal(t, http.StatusOK, rig.exchange(t, codes[1], mine).Status)
			}},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			ps := &rigPush{pushed: map[string]url.Values{}}
			if tc.barrier > 0 {
				ps.barrier = &sync.WaitGroup{}
				ps.barrier.Add(tc.barrier)
			}
			var par http.Handler
			tc.handler = trick(ps.authorize)
			tc.wrap = func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/par" {
						par.ServeHTTP(w, r)
						return
					}
					h.ServeHTTP(w, r)
				})
			}
			rig := newAttackRig(t, tc.attackCase)
			par = rig.m.PAR(http.HandlerFunc(ps.servePAR))
			tc.attack(t, rig, ps)
			rig.assertNothingPassed(t, tc.attackCase)
		})
	}
}
