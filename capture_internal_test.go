package pkce

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// pageCodes runs the page scanner of a request that carried req.
func pageCodes(req carried, page string) codeFinder {
	f := codeFinder{req: &req}
	f.page([]byte(page))
	return f
}

// locationCodes runs the Location scanner of a request that carried req.
func locationCodes(req carried, locs ...string) codeFinder {
	f := codeFinder{req: &req}
	for _, loc := range locs {
		f.location(loc)
	}
	return f
}

// outcome names what a finder decided.
func outcome(f codeFinder) string {
	switch {
	case f.encrypted:
		return "encrypted"
	case f.several:
		return "several"
	}
	return f.code
}

func TestPageCodes(t *testing.T) {
	const cb = "https://app.example/cb"
	form := func(inputs string) string {
		return `<html><body><form method="post" action="` + cb + `">` + inputs + `</form></body></html>`
	}
	tests := []struct {
		name, page string
		redirect   string // the request's redirect_uri; "" for none
		want       string // the code, "several", "encrypted" or ""
		elsewhere  bool
	}{
		{"double quotes", form(`<input type="hidden" name="code" value="abc"/>`), cb, "abc", false},
		{"value before name", form(`<input value="abc" type="hidden" name="code">`), cb, "abc", false},
		{"single quotes", `<form method='post' action='` + cb + `'><input type='hidden' name='code' value='abc'></form>`, cb, "abc", false},
		{"unquoted", `<form method=post action=` + cb + `><input type=hidden name=code value=abc></form>`, cb, "abc", false},
		{"upper case", `<FORM METHOD="POST" ACTION="` + cb + `"><INPUT TYPE="HIDDEN" NAME="code" VALUE="abc"></FORM>`, cb, "abc", false},
		{"spaces around =", `<form method = "post" action = "` + cb + `" ><input name = "code" value = "abc" ></form>`, cb, "abc", false},
		{"entities", form(`<input name="code" value="a&amp;b&#x3d;c&quot;">`), cb, `a&b=c"`, false},
		{"name by entity", form(`<input name="&#99;ode" value="abc">`), cb, "abc", false},
		{"first attribute wins", form(`<input name="code" name="state" value="abc" value="def">`), cb, "abc", false},
		{"among other inputs", form(`<input name="state" value="s"><input name="code" value="abc"><input name="iss" value="i">`), cb, "abc", false},
		{"a > inside a quoted value", form(`<input value="x>y" name="code">`), cb, "x>y", false},
		{"newlines", "<form\n method=post\n action=\"" + cb + "\"><input\n\tname=\"code\"\n\tvalue=\"abc\"\n></form>", cb, "abc", false},
		{"no end tag: the form runs to the end", `<form method="post" action="` + cb + `"><input name="code" value="abc">`, cb, "abc", false},
		{"other names", form(`<input name="code_verifier" value="abc"><input name="Code" value="def">`), cb, "", false},
		{"not an input", form(`<inputs name="code" value="abc"><textarea name="code">abc</textarea>`), cb, "", false},
		{"empty value", form(`<input name="code" value="">`), cb, "", false},
		{"cut off tag", form("")[:60] + `<input name="code" value="abc`, cb, "", false},
		{"cut off after value", `<form method="post" action="` + cb + `"><input name="code" value="abc"`, cb, "", false},
		{"cut off form tag", `<form method="post" action="` + cb, cb, "", false},
		{"no page", ``, cb, "", false},
		// The form must post to the request's redirect_uri.
		{"action encoded as entities", `<form method="post" action="https://app.example/cb?a=1&amp;b=2"><input name="code" value="abc"></form>`, cb + "?a=1&b=2", "abc", false},
		{"action re-encoded and reordered", `<form method="post" action="HTTPS://App.Example:443/cb?b=%32&amp;a=1"><input name="code" value="abc"></form>`, cb + "?a=1&b=2", "abc", false},
		{"action with surrounding spaces", `<form method="post" action=" ` + cb + ` "><input name="code" value="abc"></form>`, cb, "abc", false},
		{"action elsewhere: a consent form", `<form method="post" action="/consent"><input name="code" value="abc"></form>`, cb, "", true},
		{"action on another host", `<form method="post" action="https://evil.example/cb"><input name="code" value="abc"></form>`, cb, "", true},
		{"action with another path", `<form method="post" action="https://app.example/cb2"><input name="code" value="abc"></form>`, cb, "", true},
		{"action with another query", `<form method="post" action="https://app.example/cb?x=1"><input name="code" value="abc"></form>`, cb, "", true},
		{"no action", `<form method="post"><input name="code" value="abc"></form>`, cb, "", true},
		{"GET form to the redirect_uri", `<form action="` + cb + `"><input name="code" value="abc"></form>`, cb, "", true},
		{"input outside any form", `<input name="code" value="abc">`, cb, "", true},
		{"input after the form ended", form(``) + `<input name="code" value="abc">`, cb, "", true},
		{"consent form, then the form_post form", `<form method="post" action="/consent"><input name="code" value="old"></form>` + form(`<input name="code" value="abc">`), cb, "abc", true},
		{"a nested form tag is ignored", `<form method="post" action="/consent"><form method="post" action="` + cb + `"><input name="code" value="abc"></form>`, cb, "", true},
		{"a form in a comment is skipped", `<!-- <form method="post" action="/x"> -->` + form(`<input name="code" value="abc">`), cb, "abc", false},
		{"an input in a comment is skipped", form(`<!-- <input name="code" value="old"> --><input name="code" value="abc">`), cb, "abc", false},
		{"an empty comment", `<!-->` + form(`<input name="code" value="abc">`), cb, "abc", false},
		{"an unterminated comment hides the rest", `<!-- ` + form(`<input name="code" value="abc">`), cb, "", false},
		// No redirect_uri in the request: any POST form counts.
		{"no redirect_uri: any POST form", `<form method="post" action="https://registered.example/cb"><input name="code" value="abc"></form>`, "", "abc", false},
		{"no redirect_uri: a GET form does not", `<form action="https://registered.example/cb"><input name="code" value="abc"></form>`, "", "", true},
		// One code per response.
		{"the same code twice is one", form(`<input name="code" value="a"><input name="code" value="a">`), cb, "a", false},
		{"two codes", form(`<input name="code" value="a"><input name="code" value="b">`), cb, "several", false},
		{"two target forms, two codes", form(`<input name="code" value="a">`) + form(`<input name="code" value="b">`), cb, "several", false},
		// JARM form_post.jwt.
		{"JARM signed", form(`<input name="response" value="` + testJWS(`{"code":"abc","state":"s"}`) + `">`), cb, "abc", false},
		{"JARM encrypted", form(`<input name="response" value="eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d">`), cb, "encrypted", false},
		{"JARM and a code input that differ", form(`<input name="code" value="x"><input name="response" value="` + testJWS(`{"code":"abc"}`) + `">`), cb, "several", false},
		{"JARM in a form posting elsewhere", `<form method="post" action="/x"><input name="response" value="` + testJWS(`{"code":"abc"}`) + `"></form>`, cb, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := pageCodes(carried{redirectURI: tt.redirect}, tt.page)
			assert.Equal(t, tt.want, outcome(f))
			assert.Equal(t, tt.elsewhere, f.elsewhere, "elsewhere")
			assert.False(t, f.echoed)
		})
	}
}

// testJWS returns an unsigned-looking JWS with the payload JSON: the
// middleware reads JARM payloads without checking signatures.
func testJWS(payload string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2lnbmF0dXJl"
}

func TestPageCodesEcho(t *testing.T) {
	const cb = "https://app.example/cb"
	req := carried{values: url.Values{"code": {"stolen"}, "redirect_uri": {cb}}, redirectURI: cb}
	// A consent page that carries the request's parameters: posting
	// elsewhere it is no form_post page; posting to the redirect_uri the
	// echoed value is still not taken for a code.
	for _, page := range []string{
		`<form method="post" action="/consent"><input type="hidden" name="code" value="stolen"></form>`,
		`<form method="post" action="` + cb + `"><input type="hidden" name="code" value="stolen"></form>`,
		`<form method="post" action="` + cb + `"><input name="response" value="` + testJWS(`{"code":"stolen"}`) + `"></form>`,
	} {
		f := pageCodes(req, page)
		assert.Empty(t, outcome(f), page)
		assert.True(t, f.echoed, page)
		assert.False(t, f.elsewhere, page)
	}
	// With the echo and a code the server issued, the issued one is bound.
	f := pageCodes(req, `<form method="post" action="`+cb+`"><input name="code" value="stolen"><input name="code" value="new"></form>`)
	assert.Equal(t, "new", outcome(f))
}

func TestLocationCodes(t *testing.T) {
	const cb = "https://app/cb"
	tests := []struct {
		name     string
		redirect string
		values   url.Values // the request's parameters besides redirect_uri
		location []string
		want     string // the code, "several", "encrypted" or ""
		echoed   bool
	}{
		{"query", cb, nil, []string{cb + "?code=abc&state=s"}, "abc", false},
		{"fragment", cb, nil, []string{cb + "#state=s&code=abc&id_token=x"}, "abc", false},
		{"escaped value", cb, nil, []string{cb + "?code=a%2Bb+c"}, "a+b c", false},
		{"escaped key", cb, nil, []string{cb + "?co%64e=abc"}, "abc", false},
		{"no code", cb, nil, []string{cb + "?error=access_denied&state=s"}, "", false},
		{"code-like keys", cb, nil, []string{cb + "?codes=a&xcode=b&code_x=c"}, "", false},
		{"empty code", cb, nil, []string{cb + "?code="}, "", false},
		{"empty pairs", cb, nil, []string{cb + "?&&code=abc&&"}, "abc", false},
		{"bad escape kept raw", cb, nil, []string{cb + "?code=a%zz"}, "a%zz", false},
		{"no query", cb, nil, []string{cb}, "", false},
		{"relative Location", cb, nil, []string{"/cb?code=abc"}, "abc", false},
		{"no redirect_uri in the request", "", nil, []string{"https://registered/cb?code=abc"}, "abc", false},
		// One code per response.
		{"the same code in query and fragment is one", cb, nil, []string{cb + "?code=q#code=q"}, "q", false},
		{"two codes in query and fragment", cb, nil, []string{cb + "?code=q#code=f"}, "several", false},
		{"two codes in the query", cb, nil, []string{cb + "?code=a&code=b"}, "several", false},
		{"two Location values", cb, nil, []string{cb + "?code=a", cb + "?code=b"}, "several", false},
		// The redirect_uri's own parameters are the client's.
		{"redirect_uri's own code kept first", cb + "?code=V", nil, []string{cb + "?code=V&code=new&state=s"}, "new", false},
		{"redirect_uri's own code kept last", cb + "?code=V", nil, []string{cb + "?state=s&code=new&code=V"}, "new", false},
		{"redirect_uri's own code replaced by the server", cb + "?code=V", nil, []string{cb + "?code=new"}, "new", false},
		{"redirect_uri's own code re-encoded", cb + "?code=a%2Fb", nil, []string{cb + "?code=a/b&code=new"}, "new", false},
		{"redirect_uri's own code with its key encoded", cb + "?c%6Fde=V", nil, []string{cb + "?code=V&code=new"}, "new", false},
		{"redirect_uri's own codes, subtracted as a multiset", cb + "?code=V&code=V", nil, []string{cb + "?code=V&code=V&code=new"}, "new", false},
		{"redirect_uri's own code, echoed twice", cb + "?code=V", nil, []string{cb + "?code=V&code=V&code=new"}, "new", true},
		{"redirect_uri's own code in a fragment response", cb + "?code=V", nil, []string{cb + "?code=V#code=new&id_token=x"}, "new", false},
		{"redirect_uri's own tenant kept", cb + "?tenant=a", nil, []string{cb + "?tenant=a&code=new"}, "new", false},
		{"redirect_uri's own code only", cb + "?code=V", nil, []string{cb + "?code=V&error=access_denied"}, "", false},
		// Request values are never issued codes.
		{"a request parameter echoed by a login redirect", cb, url.Values{"code": {"V"}, "state": {"s"}}, []string{"/login?response_type=code&code=V&state=s"}, "", true},
		{"a request value under another name", cb, url.Values{"x": {"V"}}, []string{"/login?code=V"}, "", true},
		{"a value inside a request parameter", cb, url.Values{"return": {"/x?code=V"}}, []string{"/login?code=V"}, "", true},
		{"an echo beside an issued code", cb, url.Values{"code": {"V"}}, []string{cb + "?code=V&code=new"}, "new", true},
		// JARM.
		{"JARM query.jwt", cb, nil, []string{cb + "?response=" + testJWS(`{"code":"abc","state":"s"}`)}, "abc", false},
		{"JARM fragment.jwt", cb, nil, []string{cb + "#response=" + testJWS(`{"iss":"x","code":"abc"}`)}, "abc", false},
		{"JARM with padding after the signature", cb, nil, []string{cb + "?response=" + testJWS(`{"code":"abc"}`) + "%3D%3D"}, "abc", false},
		{"JARM error response", cb, nil, []string{cb + "?response=" + testJWS(`{"error":"access_denied"}`)}, "", false},
		{"JARM code not a string", cb, nil, []string{cb + "?response=" + testJWS(`{"code":12}`)}, "", false},
		{"JARM code repeated", cb, nil, []string{cb + "?response=" + testJWS(`{"code":"a","code":"b"}`)}, "several", false},
		{"JARM and a plain code, the same", cb, nil, []string{cb + "?code=abc&response=" + testJWS(`{"code":"abc"}`)}, "abc", false},
		{"JARM encrypted, five parts", cb, nil, []string{cb + "?response=eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"}, "encrypted", false},
		{"JARM with enc in a three-part header", cb, nil, []string{cb + "?response=" + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM"}`)) + ".e30.c2ln"}, "encrypted", false},
		{"JARM not a JWT", cb, nil, []string{cb + "?response=hello"}, "", false},
		{"JARM payload not JSON", cb, nil, []string{cb + "?response=" + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + ".bm90IGpzb24.c2ln"}, "", false},
		{"JARM echoed from the request", cb, url.Values{"response": {testJWS(`{"code":"V"}`)}}, []string{"/login?response=" + testJWS(`{"code":"V"}`)}, "", true},
		{"JARM encrypted echoed from the request", cb, url.Values{"response": {"a.b.c.d.e"}}, []string{"/login?response=a.b.c.d.e"}, "", true},
		{"JARM in the redirect_uri's own query", cb + "?response=a.b.c.d.e", nil, []string{cb + "?response=a.b.c.d.e&code=new"}, "new", false},
		{"JARM carrying a request value", cb, url.Values{"code": {"V"}}, []string{cb + "?response=" + testJWS(`{"code":"V"}`)}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := url.Values{}
			for k, vs := range tt.values {
				values[k] = vs
			}
			if tt.redirect != "" {
				values.Set("redirect_uri", tt.redirect)
			}
			f := locationCodes(carried{values: values, redirectURI: tt.redirect}, tt.location...)
			assert.Equal(t, tt.want, outcome(f))
			assert.Equal(t, tt.echoed, f.echoed, "echoed")
		})
	}
}

func TestCarriedHas(t *testing.T) {
	req := carried{values: url.Values{
		"state":        {"s1"},
		"redirect_uri": {"https://app/cb?code=inner&x=a%2Bb#frag=f1"},
		"bare":         {"k=v1&code=v2"},
		"resource":     {"r1", "r2"},
	}}
	for _, v := range []string{"s1", "inner", "a+b", "f1", "v1", "v2", "r1", "r2", "https://app/cb?code=inner&x=a%2Bb#frag=f1"} {
		assert.True(t, req.has(v), v)
	}
	for _, v := range []string{"", "s", "inne", "a%2Bb", "x", "new"} {
		assert.False(t, req.has(v), v)
	}
}

func TestSameURL(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"https://app.example/cb", "https://app.example/cb", true},
		{"HTTPS://APP.example/cb", "https://app.example/cb", true},
		{"https://app.example:443/cb", "https://app.example/cb", true},
		{"http://app.example:80/cb", "http://app.example/cb", true},
		{"https://app.example/c%62", "https://app.example/cb", true},
		{"https://app.example/cb?b=2&a=1", "https://app.example/cb?a=1&b=2", true},
		{"https://app.example/cb?a=%31", "https://app.example/cb?a=1", true},
		{"https://app.example/cb?a=1#f", "https://app.example/cb?a=1", true},
		{"http://[::1]:8000/cb?x=1", "http://[::1]:8000/cb?x=1", true},
		{"com.example.app:/oauth2redirect", "com.example.app:/oauth2redirect", true},
		{"https://app.example", "https://app.example/", true},
		{"https://app.example/CB", "https://app.example/cb", false},
		{"http://app.example/cb", "https://app.example/cb", false},
		{"https://app.example:8443/cb", "https://app.example/cb", false},
		{"https://evil.example/cb", "https://app.example/cb", false},
		{"https://app.example/cb?a=1", "https://app.example/cb", false},
		{"https://app.example/cb?a=1&a=1", "https://app.example/cb?a=1", false},
		{"https://app.example/cb?a=1", "https://app.example/cb?a=2", false},
		{"https://u@app.example/cb", "https://app.example/cb", false},
		{"/cb", "https://app.example/cb", false},
		{"", "https://app.example/cb", false},
		{"https://app.example/cb", "/cb", false},
		{"https://app.example/%zz", "https://app.example/cb", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.same, sameURL(tt.a, tt.b), "%q %q", tt.a, tt.b)
		assert.Equal(t, tt.same, sameURL(tt.b, tt.a), "%q %q", tt.b, tt.a)
	}
}

func TestJARMCodes(t *testing.T) {
	tests := []struct {
		name, jwt string
		codes     []string
		encrypted bool
	}{
		{"signed", testJWS(`{"iss":"https://as","aud":"app","exp":1,"code":"abc","state":"s"}`), []string{"abc"}, false},
		{"escaped member name", testJWS(`{"\u0063ode":"abc"}`), []string{"abc"}, false},
		{"nested code is not the claim", testJWS(`{"x":{"code":"abc"}}`), nil, false},
		{"alg none, empty signature", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"code":"abc"}`)) + ".", []string{"abc"}, false},
		{"JWE", "h.k.iv.ct.tag", nil, true},
		{"enc in the header", base64.RawURLEncoding.EncodeToString([]byte(`{"enc":"A128GCM"}`)) + ".e30.", nil, true},
		{"header not JSON", "aGVsbG8.e30.", nil, false},
		{"payload with trailing data", testJWS(`{"code":"abc"} x`), nil, false},
		{"two parts", "a.b", nil, false},
		{"empty", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			codes, encrypted := jarmCodes(tt.jwt)
			assert.Equal(t, tt.codes, codes)
			assert.Equal(t, tt.encrypted, encrypted)
		})
	}
}

func TestCaptureWriterInterfaces(t *testing.T) {
	var w http.ResponseWriter = &captureWriter{w: httptest.NewRecorder()}
	_, flusher := w.(http.Flusher)
	assert.True(t, flusher)
	// Hijack is refused while the response is undecided, and otherwise
	// only what the underlying writer can do: a recorder cannot.
	_, _, err := http.NewResponseController(w).Hijack()
	assert.ErrorIs(t, err, errHijackHeld)
	w.(*captureWriter).state = passing
	_, _, err = http.NewResponseController(w).Hijack()
	assert.ErrorIs(t, err, http.ErrNotSupported)

	var d http.ResponseWriter = &discoveryWriter{w: httptest.NewRecorder()}
	_, hijacker := d.(http.Hijacker)
	assert.False(t, hijacker, "reached through Unwrap, never invented")
}

// recordingStore records the keys saved.
type recordingStore struct{ keys *[]string }

func (s recordingStore) Save(_ context.Context, key string, _ Challenge) error {
	*s.keys = append(*s.keys, key)
	return nil
}

func (recordingStore) Take(context.Context, string) (Challenge, error) {
	return Challenge{}, ErrNotFound
}
