package pkce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
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
	m, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	var minted atomic.Int64
	f.Fuzz(func(t *testing.T, query, body string, post bool) {
		var reached bool
		h := m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			if err := r.ParseForm(); err != nil {
				t.Fatalf("the handler got a form it cannot parse: %v", err)
			}
			c, ok := FromContext(r.Context())
			rt := r.FormValue(paramResponseType)
			if (hasValue(rt, "code") || r.FormValue(paramRequestURI) != "" || r.FormValue(paramRequest) != "") && !ok {
				t.Fatalf("a code request passed without a challenge: %q %q", query, body)
			}
			if ok {
				if c.Value != r.FormValue(paramCodeChallenge) || validateChallenge(c.Method, c.Value) != nil {
					t.Fatalf("the handler sees another challenge than the one validated")
				}
				if c.Method != S256 {
					t.Fatalf("method %q passed under S256-only", c.Method)
				}
			}
			code := fmt.Sprintf("fuzz-code-%d", minted.Add(1))
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

// FuzzLocationCodes: every code a URL parser finds in a Location is bound.
func FuzzLocationCodes(f *testing.F) {
	f.Add("https://app.example/cb?code=abc&state=x")
	f.Add("https://app.example/cb#state=x&code=abc&id_token=y")
	f.Add("https://app.example/cb?co%64e=a%2Bb#code=c")
	f.Fuzz(func(t *testing.T, loc string) {
		var saved []string
		m, err := New(Config{Store: recordingStore{&saved}})
		if err != nil {
			t.Fatal(err)
		}
		cw := &captureWriter{w: httptest.NewRecorder(), m: m, ctx: context.Background(), challenge: Challenge{Method: S256}}
		found, ok := cw.saveLocationCodes(loc)
		if !ok || found != (len(saved) > 0) {
			t.Fatalf("found %v ok %v with %d saved", found, ok, len(saved))
		}
		u, err := url.Parse(loc)
		if err != nil {
			return
		}
		var want []string
		if q, err := url.ParseQuery(u.RawQuery); err == nil {
			want = append(want, q[paramCode]...)
		}
		if fq, err := url.ParseQuery(u.EscapedFragment()); err == nil {
			want = append(want, fq[paramCode]...)
		}
		for _, code := range want {
			if code == "" {
				continue
			}
			k := storeKey(code)
			bound := false
			for _, s := range saved {
				bound = bound || s == k
			}
			if !bound {
				t.Fatalf("code %q in %q was not bound", code, loc)
			}
		}
	})
}

// FuzzFormPostCodes: the scanner never panics, and a code input appended
// after a complete page is always found.
func FuzzFormPostCodes(f *testing.F) {
	f.Add(`<html><body><form method="post"><input type="hidden" name="code" value="abc"/></form></body></html>`)
	f.Add(`<INPUT value='a&amp;b' NAME=code>`)
	f.Add(`<input name="code" value="unterminated`)
	f.Fuzz(func(t *testing.T, page string) {
		for _, c := range formPostCodes([]byte(page)) {
			if c == "" {
				t.Fatal("an empty code was returned")
			}
		}
		if strings.ContainsAny(page, `"'<>`) {
			return // an open tag or quote may swallow what follows, as in a browser
		}
		codes := formPostCodes([]byte(page + `<input name="code" value="zz9">`))
		if len(codes) == 0 || codes[len(codes)-1] != "zz9" {
			t.Fatalf("appended code not found: %q", codes)
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
