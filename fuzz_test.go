package pkce

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Fuzz targets for every parser of untrusted input. Seeds are in
// testdata/fuzz; `make fuzz` runs each target for a short time.

// FuzzAuthorize: whatever the query and body, a request for a code never
// reaches the wrapped handler without a validated challenge (default policy),
// and a refused request never reaches it at all.
func FuzzAuthorize(f *testing.F) {
	f.Add("response_type=code&client_id=app&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", "", false)
	f.Add("response_type=code", "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", true)
	f.Add("response_type=code+id_token&request_uri=urn:x", "", false)
	f.Add("response_type=token", "response_type=code", true)
	f.Add("code_challenge=a&code_challenge=a", "", false)
	f.Add("response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri=http://127.0.0.1:9/cb?code=fuzz-code-1", "code=fuzz-code-2", true)
	store := NewMemoryStore()
	// A short TTL keeps the store small however long the fuzzer runs.
	m, err := New(Config{Store: store, TTL: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	var minted atomic.Int64
	f.Fuzz(func(t *testing.T, query, body string, post bool) {
		var reached, challenged, echoed bool
		var code string
		h := m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			if err := r.ParseForm(); err != nil {
				t.Fatalf("the handler got a form it cannot parse: %v", err)
			}
			c, ok := FromContext(r.Context())
			challenged = ok
			rt := r.FormValue(paramResponseType)
			// A request object's or a pushed request's parameters count
			// (FuzzIndirect): the outer ones say nothing of the challenge.
			indirect := r.FormValue(paramRequestURI) != "" || r.FormValue(paramRequest) != ""
			if hasValue(rt, "code") && !ok {
				t.Fatalf("a code request passed without a challenge: %q %q", query, body)
			}
			if ok && !indirect {
				if c.Value != r.FormValue(paramCodeChallenge) || validateChallenge(c.Method, c.Value) != nil {
					t.Fatalf("the handler sees another challenge than the one validated")
				}
				if c.Method != S256 {
					t.Fatalf("method %q passed under S256-only", c.Method)
				}
			}
			code = fmt.Sprintf("fuzz-code-%d", minted.Add(1))
			echoed = (&carried{values: r.Form}).has(code)
			http.Redirect(w, r, "http://127.0.0.1:9/cb?code="+code, http.StatusFound)
		}))
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, "/authorize", strings.NewReader(body))
		req.URL.RawQuery = query
		if post {
			req.Header.Set("Content-Type", mediaForm)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 400 && reached {
			t.Fatalf("refused with %d after the handler ran", rec.Code)
		}
		if !reached && rec.Code != http.StatusBadRequest {
			t.Fatalf("not passed on, yet answered %d", rec.Code)
		}
		// The code the handler issued is bound, unless the request carried
		// its value (then it is never taken for an issued one).
		if reached && challenged && !echoed {
			if rec.Code != http.StatusFound {
				t.Fatalf("an issued code was answered with %d: %s", rec.Code, rec.Body)
			}
			if _, err := store.Take(context.Background(), storeKey(code)); err != nil {
				t.Fatalf("the issued code %q was not bound: %v", code, err)
			}
		}
	})
}

// FuzzToken: whatever the body, query, content type and Authorization
// header, an authorization_code request reaches the wrapped handler only with
// the recorded code and its right verifier, as the handler reads them, and
// with the body byte for byte.
func FuzzToken(f *testing.F) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	f.Add("grant_type=authorization_code&code=c1&code_verifier="+verifier+"&client_id=app", "", mediaForm, "")
	f.Add(`{"grant_type":"authorization_code","code":"c1","code_verifier":"`+verifier+`"}`, "", mediaJSON, "")
	f.Add("grant_type=authorization_code&code=c1", "code_verifier="+verifier, mediaForm, "Basic YXBwOnNlY3JldA==")
	f.Add("grant_type=refresh_token&refresh_token=x", "", "application/x-www-form-urlencoded; charset=utf-8", "")
	f.Add("code=c1&code_verifier="+verifier, "grant_type=authorization_code", "", "Basic %%%")
	f.Fuzz(func(t *testing.T, body, query, contentType, authorization string) {
		m, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		c := Challenge{Value: S256Challenge(verifier), Method: S256, ClientID: "app"}
		if err := m.Record(context.Background(), "c1", c); err != nil {
			t.Fatal(err)
		}
		var reached bool
		h := m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			got, err := io.ReadAll(r.Body)
			if err != nil || string(got) != body {
				t.Fatalf("the body changed: %q -> %q (%v)", body, got, err)
			}
			if r.FormValue(paramGrantType) != grantAuthorizationCode {
				return
			}
			if r.FormValue(paramCode) != "c1" || r.FormValue(paramCodeVerifier) != verifier {
				t.Fatalf("an unchecked authorization_code request passed: code %q verifier %q", r.FormValue(paramCode), r.FormValue(paramCodeVerifier))
			}
		}))
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		req.URL.RawQuery = query
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !reached {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("refused with %d", rec.Code)
			}
			var e struct{ Error, ErrorDescription string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("refusal is not an OAuth error: %q", rec.Body.String())
			}
		}
	})
}

// FuzzLocationCodes: whatever the Location and the request's redirect_uri,
// the code found is never a value the request carried and is one of the
// Location's code parameters; a code the server adds to the redirect_uri,
// as it is or re-encoded and reordered by url.Values, is found alone: the
// redirect_uri's own parameters, codes included, are subtracted.
func FuzzLocationCodes(f *testing.F) {
	f.Add("http://127.0.0.1:9/cb?state=s&code=abc#code=def", "http://127.0.0.1:9/cb")
	f.Add("https://app.example/cb?code=a%zz&code=", "")
	f.Add("http://127.0.0.1:9/x?code=V&code=new", "http://127.0.0.1:9/x?code=V")
	f.Add("/login?response_type=code&code=V&redirect_uri=x", "http://127.0.0.1:9/cb?tenant=a")
	f.Add("https://app.example/cb?response=eyJhbGciOiJub25lIn0.eyJjb2RlIjoiYWJjIn0.", "https://app.example/cb?c%6fde=%56+1")
	const added = "zz9new"
	f.Fuzz(func(t *testing.T, loc, redirect string) {
		req := carried{values: url.Values{paramRedirectURI: {redirect}, paramState: {"s"}}, redirectURI: redirect}
		if redirect == "" {
			req = carried{values: url.Values{paramState: {"s"}}}
		}
		fd := codeFinder{req: &req}
		fd.location(loc)
		if fd.code != "" && req.has(fd.code) {
			t.Fatalf("a value the request carried was taken for a code: %q", fd.code)
		}
		if fd.code != "" && !strings.Contains(loc, "response=") {
			query, fragment := splitURL(loc)
			if !strings.Contains(query+"&"+fragment, "=") {
				t.Fatalf("code %q found in %q, which has no parameter", fd.code, loc)
			}
		}
		if strings.Contains(redirect, "#") || strings.Contains(redirect, added) || redirect == "" {
			return
		}
		sep := "?"
		if strings.Contains(redirect, "?") {
			sep = "&"
		}
		// A server that appends its parameters to the redirect URI as it is.
		fd = codeFinder{req: &req}
		fd.location(redirect + sep + "code=" + added + "&state=s")
		if fd.code != added || fd.several || fd.encrypted {
			t.Fatalf("appended to %q: code %q several %v encrypted %v", redirect, fd.code, fd.several, fd.encrypted)
		}
		// A server that re-encodes: url.Values sorts and escapes anew.
		u, err := url.Parse(redirect)
		if err != nil {
			return
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return
		}
		q.Add(paramCode, added)
		u.RawQuery = q.Encode()
		fd = codeFinder{req: &req}
		fd.location(u.String())
		if fd.code != added || fd.several || fd.encrypted {
			t.Fatalf("re-encoded from %q as %q: code %q several %v encrypted %v", redirect, u.String(), fd.code, fd.several, fd.encrypted)
		}
	})
}

// FuzzPageCodes: the page scanner never panics nor returns a value the
// request carried; a form_post form appended to a page without markup, and
// a form posting to the entity-encoded redirect_uri whatever it is, are
// found.
func FuzzPageCodes(f *testing.F) {
	f.Add(`<html><body><form method="post" action="https://app.example/cb"><input type="hidden" name="code" value="abc"/></form></body></html>`, "https://app.example/cb")
	f.Add(`<FORM METHOD=POST><INPUT value='a&amp;b' NAME=code></FORM>`, "")
	f.Add(`<form method=post action="/consent"><input name="code" value="unterminated`, "https://app.example/cb")
	f.Add(`<!--><form method="post" action="https://app.example/cb?b=2&amp;a=1"><form><input name=response value=a.b.c.d.e>`, "https://app.example/cb?a=1&b=2")
	const added = "zz9new"
	f.Fuzz(func(t *testing.T, page, redirect string) {
		req := carried{values: url.Values{paramCode: {"stolen"}}, redirectURI: redirect}
		fd := codeFinder{req: &req}
		fd.page([]byte(page))
		if fd.code != "" && req.has(fd.code) {
			t.Fatalf("a value the request carried was taken for a code: %q", fd.code)
		}
		if strings.Contains(redirect, added) {
			return
		}
		form := `<form method="post" action="` + html.EscapeString(redirect) + `"><input type="hidden" name="code" value="` + added + `"></form>`
		fd = codeFinder{req: &req}
		fd.page([]byte(form))
		if fd.code != added || fd.several {
			t.Fatalf("form posting to %q: code %q several %v", redirect, fd.code, fd.several)
		}
		if strings.ContainsAny(page, `"'<>`) || strings.Contains(page, added) {
			return // an open tag or quote may swallow what follows, as in a browser
		}
		fd = codeFinder{req: &req}
		fd.page([]byte(page + form))
		if fd.code != added || fd.several {
			t.Fatalf("appended form: code %q several %v", fd.code, fd.several)
		}
	})
}

// FuzzJARM: a JARM response is never a panic; five parts are always
// encrypted; a signed one's code claim is found as encoding/json reads it.
func FuzzJARM(f *testing.F) {
	f.Add(`{"alg":"ES256"}`, `{"iss":"https://as","code":"abc","state":"s"}`)
	f.Add(`{"alg":"dir","enc":"A256GCM"}`, `{}`)
	f.Add(`{"alg":"none"}`, `{"code":"a","code":"b"}`)
	f.Add(`{"alg":"HS256"}`, `{"code":12,"x":{"code":"y"}}`)
	f.Fuzz(func(t *testing.T, header, payload string) {
		jwt := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
		codes, encrypted := jarmCodes(jwt)
		if _, enc := jarmCodes(jwt + ".x.y"); !enc {
			t.Fatal("five parts not taken for a JWE")
		}
		var h map[string]any
		if json.Unmarshal([]byte(header), &h) != nil {
			if len(codes) > 0 || encrypted {
				t.Fatalf("a header that is not JSON gave %q %v", codes, encrypted)
			}
			return
		}
		if _, enc := h["enc"]; enc != encrypted {
			t.Fatalf("header %q: encrypted %v", header, encrypted)
		}
		var p map[string]any
		if encrypted || json.Unmarshal([]byte(payload), &p) != nil {
			return
		}
		// Every string code claim counts (a repeated member is several
		// codes, which fails closed), so the one encoding/json keeps is
		// among them.
		if want, _ := p[paramCode].(string); want != "" && !slices.Contains(codes, want) {
			t.Fatalf("payload %q: codes %q, encoding/json reads %q", payload, codes, want)
		}
	})
}

// FuzzRewriteMetadata: a JSON object comes back valid, with every original
// member in order and the methods member set; anything else is refused.
func FuzzRewriteMetadata(f *testing.F) {
	f.Add(`{"issuer":"https://as.example","response_types_supported":["code"]}`)
	f.Add(`{"code_challenge_methods_supported":["plain"],"a":1}`)
	f.Add(` { } `)
	f.Add(`[1,2]`)
	f.Fuzz(func(t *testing.T, doc string) {
		out, err := rewriteMetadata([]byte(doc), []byte(`["S256"]`))
		var in map[string]json.RawMessage
		isObject := json.Unmarshal([]byte(doc), &in) == nil && bytes.HasPrefix(bytes.TrimLeft([]byte(doc), " \t\r\n"), []byte("{"))
		if err != nil {
			if isObject {
				t.Fatalf("a JSON object was refused: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %q", out)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if string(got[MetadataMember]) != `["S256"]` {
			t.Fatalf("member is %s", got[MetadataMember])
		}
		wantKeys := topLevelKeys(t, []byte(doc))
		gotKeys := topLevelKeys(t, out)
		if !hasMember(wantKeys) {
			wantKeys = append(wantKeys, MetadataMember)
		}
		if strings.Join(wantKeys, "\x00") != strings.Join(gotKeys, "\x00") {
			t.Fatalf("members changed: %q -> %q", wantKeys, gotKeys)
		}
	})
}

func hasMember(keys []string) bool {
	for _, k := range keys {
		if k == MetadataMember {
			return true
		}
	}
	return false
}

// topLevelKeys returns the member names of a JSON object in order.
func topLevelKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// FuzzBasicClientID: the Basic parser agrees with net/http's, form-decoded.
func FuzzBasicClientID(f *testing.F) {
	f.Add("Basic ZGVtbyUyRGFwcDpzZWNyZXQ=")
	f.Add("Basic")
	f.Add("basic YTpi")
	f.Add("Bearer abc")
	f.Fuzz(func(t *testing.T, header string) {
		h := http.Header{"Authorization": {header}}
		id, ok, err := basicClientID(h)
		r := &http.Request{Header: h}
		user, _, stdOK := r.BasicAuth()
		if stdOK && ok && err == nil {
			if want, uerr := url.QueryUnescape(user); uerr == nil && want != id {
				t.Fatalf("client %q, net/http says %q", id, want)
			}
		}
		if stdOK && !ok {
			t.Fatalf("net/http reads Basic credentials we ignore: %q", header)
		}
		if ok && err == nil && id == "" {
			t.Fatal("empty client accepted")
		}
	})
}
