package pkce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Fuzz targets for request objects (RFC 9101) and pushed authorization
// requests (RFC 9126). Seeds are in testdata/fuzz.

// FuzzRequestObject: readRequestObject never panics, and what it reads is
// what encoding/json reads of the payload: a request object it accepts has
// no member a server could read otherwise.
func FuzzRequestObject(f *testing.F) {
	f.Add(jwsOf(`{"alg":"ES256"}`, `{"client_id":"app","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256"}`))
	f.Add(jwsOf(`{"alg":"ES256"}`, `{"code_challenge":"a","code_challenge":"b"}`))
	f.Add(jwsOf(`{"alg":"ES256"}`, `{"code\u005fchallenge":"a","claims":{"x":[1,"y",{"z":null}]}}`))
	f.Add(jwsOf(`{"alg":"RSA-OAEP","enc":"A256GCM"}`, `{}`))
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, jwt string) {
		ro, e := readRequestObject(jwt)
		if e != nil {
			if e.status != http.StatusBadRequest || e.desc == "" {
				t.Fatalf("refusal %+v", e)
			}
			return
		}
		parts := strings.Split(jwt, ".")
		payload, err := decodeSegment(parts[1])
		if err != nil {
			t.Fatalf("read a payload that does not decode: %v", err)
		}
		var members map[string]any
		if err := json.Unmarshal(payload, &members); err != nil {
			t.Fatalf("read a payload encoding/json refuses: %v", err)
		}
		for name, got := range map[string]string{paramClientID: ro.clientID, paramResponseType: ro.responseType,
			paramRedirectURI: ro.redirectURI, paramCodeChallenge: ro.challenge, paramCodeChallengeMethod: ro.method} {
			v, present := members[name]
			s, isString := v.(string)
			switch {
			case present && !isString:
				t.Fatalf("accepted %s of type %T", name, v)
			case s != got:
				t.Fatalf("%s: read %q, encoding/json reads %q", name, got, s)
			}
		}
	})
}

// FuzzIndirect: an authorization request with a request object, whatever
// its payload and outer parameters, reaches a server that follows RFC 9101
// (the request object's members count, the outer ones where it has none)
// and issues a code only with the challenge that server uses, and that
// code is bound to it (default policy: S256 required).
func FuzzIndirect(f *testing.F) {
	const ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	f.Add(`{"client_id":"app","response_type":"code","code_challenge":"`+ch+`","code_challenge_method":"S256"}`, "client_id=app")
	f.Add(`{"client_id":"app","response_type":"token"}`, "client_id=app&response_type=code")
	f.Add(`{"client_id":"app"}`, "response_type=code&code_challenge="+ch+"&code_challenge_method=S256")
	f.Add(`{"response_type":"code","code_challenge":"`+ch+`","code_challenge_method":"S256","redirect_uri":"http://127.0.0.1:9/cb?code=x"}`, "")
	f.Add(`{"Response_Type":"code"}`, "response_type=code")
	store := NewMemoryStore()
	m, err := New(Config{Store: store, TTL: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	var minted atomic.Int64
	f.Fuzz(func(t *testing.T, payload, outer string) {
		var issued, challenged bool
		var code string
		var c Challenge
		h := m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil {
				t.Fatalf("the handler got a form it cannot parse: %v", err)
			}
			c, challenged = FromContext(r.Context())
			// The server: RFC 9101 §6.3, parsing the payload with
			// encoding/json (a map, the last duplicate wins).
			var members map[string]any
			if json.Unmarshal([]byte(payload), &members) != nil {
				http.Error(w, "bad request object", http.StatusBadRequest)
				return
			}
			get := func(name string) string {
				if s, ok := members[name].(string); ok && s != "" {
					return s
				}
				return r.Form.Get(name)
			}
			if !hasValue(get(paramResponseType), "code") {
				http.Error(w, "not a code request", http.StatusBadRequest)
				return
			}
			challenge, method := "", ""
			if s, ok := members[paramCodeChallenge].(string); ok {
				challenge = s
			}
			if s, ok := members[paramCodeChallengeMethod].(string); ok {
				method = s
			}
			if !challenged {
				t.Fatalf("a code request passed without a challenge: %q %q", payload, outer)
			}
			if c.Value != challenge || string(c.Method) != method {
				t.Fatalf("the server uses challenge (%q, %q), the middleware validated (%q, %q)", challenge, method, c.Value, c.Method)
			}
			issued = true
			code = fmt.Sprintf("fuzz-indirect-%d", minted.Add(1))
			http.Redirect(w, r, "http://127.0.0.1:9/cb?code="+code, http.StatusFound)
		}))
		q, err := url.ParseQuery(outer)
		if err != nil {
			return
		}
		q.Del(paramRequestURI)
		q.Set(paramRequest, jwsOf(`{"alg":"ES256"}`, payload))
		req := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if issued && !strings.Contains(payload, code) {
			if rec.Code != http.StatusFound {
				t.Fatalf("an issued code was answered with %d: %s", rec.Code, rec.Body)
			}
			got, err := store.Take(context.Background(), storeKey(code))
			if err != nil || got.Value != c.Value {
				t.Fatalf("the issued code was not bound to the request object's challenge: %v", err)
			}
		}
	})
}

// FuzzPAR: whatever the pushed body, a request_uri reaches the client only
// once the challenge the server will use (the pushed body's, or its
// request object's) is recorded under it, validated, with the client that
// pushed it.
func FuzzPAR(f *testing.F) {
	const ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	f.Add("response_type=code&client_id=app&code_challenge="+ch+"&code_challenge_method=S256&redirect_uri=https://c/cb", "")
	f.Add("client_id=app&request="+jwsOf(`{"alg":"ES256"}`, `{"response_type":"code","code_challenge":"`+ch+`","code_challenge_method":"S256"}`), "")
	f.Add("code_challenge="+ch+"&code_challenge_method=S256", "app:secret")
	f.Add("client_id=app&code_challenge="+ch, "")
	f.Add("client_id=app&request_uri=urn:x", "")
	store := NewMemoryStore()
	m, err := New(Config{Store: store, TTL: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	var minted atomic.Int64
	f.Fuzz(func(t *testing.T, body, basicAuth string) {
		uri := fmt.Sprintf("urn:ietf:params:oauth:request_uri:fuzz-%d", minted.Add(1))
		reached := false
		h := m.PAR(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			if err := r.ParseForm(); err != nil {
				t.Fatalf("the handler got a form it cannot parse: %v", err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"request_uri":%q,"expires_in":5}`, uri)
		}))
		req := httptest.NewRequest(http.MethodPost, "/par", strings.NewReader(body))
		req.Header.Set("Content-Type", mediaForm)
		if user, pass, ok := strings.Cut(basicAuth, ":"); ok {
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		leaked := strings.Contains(rec.Body.String(), uri)
		if !leaked {
			if rec.Code < 400 {
				t.Fatalf("answered %d without the request_uri", rec.Code)
			}
			return
		}
		if !reached || rec.Code != http.StatusCreated {
			t.Fatalf("the request_uri left with %d (handler reached: %v)", rec.Code, reached)
		}
		got, err := store.Take(context.Background(), pushedKey(uri))
		if errors.Is(err, ErrNotFound) && !asksForCode(body) {
			// A push whose response_type asks for no code (implicit, say)
			// is not PKCE's business: its request_uri leaves unrecorded,
			// and an authorization request that names it is refused as
			// unknown under a requiring policy.
			return
		}
		if err != nil {
			t.Fatalf("the request_uri left unrecorded: %v", err)
		}
		if got.Method != S256 || validateChallenge(got.Method, got.Value) != nil || got.ClientID == "" {
			t.Fatalf("recorded %+v", got)
		}
		if len(got.RedirectURI) > MaxPushedRedirectURI {
			t.Fatalf("recorded a redirect_uri of %d bytes", len(got.RedirectURI))
		}
		form, _ := url.ParseQuery(body)
		want := form.Get(paramCodeChallenge)
		if obj := form.Get(paramRequest); obj != "" {
			ro, e := readRequestObject(obj)
			if e != nil {
				t.Fatalf("recorded a challenge from an unreadable request object")
			}
			want = ro.challenge
		}
		if got.Value != want {
			t.Fatalf("recorded challenge %q, the server uses %q", got.Value, want)
		}
	})
}

// asksForCode reports whether a pushed form body asks for a code, as
// Middleware.PAR reads it: the request object's response_type where it has
// one, else the body's; none at all counts as asking.
func asksForCode(body string) bool {
	form, _ := url.ParseQuery(body)
	rt := form.Get(paramResponseType)
	if obj := form.Get(paramRequest); obj != "" {
		if ro, e := readRequestObject(obj); e == nil && ro.responseType != "" {
			rt = ro.responseType
		}
	}
	return rt == "" || hasValue(rt, "code")
}
