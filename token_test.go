package pkce_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test vectors of SPEC.md: verifier → S256 challenge.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	oauth21Verifier  = "3641a2d12d66101249cdf7a79c000c1f8c05d2aafcf14bf146497bed" // OAuth 2.1 draft
	oauth21Challenge = "6fdkQaPm51l13DSukcAH3Mdx7_ntecHYd1vi3n0hMZY"
)

const grantCode = "authorization_code"

// tokenReq is a token request as sent on the wire.
type tokenReq struct {
	method  string // "" means POST
	query   string // raw URL query
	ctype   string // Content-Type; "" sends none
	body    string
	header  http.Header
	chunked bool // hide the length: the body goes chunked
}

// answer is a token endpoint response, its body read.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// formReq is a POST with a form body.
func formReq(v url.Values) tokenReq {
	return tokenReq{ctype: "application/x-www-form-urlencoded", body: v.Encode()}
}

// authForm is the form body of an authorization_code request of client app;
// an empty verifier is left out.
func authForm(code, verifier string) url.Values {
	v := url.Values{"grant_type": {grantCode}, "code": {code}, "redirect_uri": {testRedirect}, "client_id": {"app"}}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	return v
}

// without returns a copy of v without the named parameters.
func without(v url.Values, names ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for _, n := range names {
		out.Del(n)
	}
	return out
}

// basicAuth is an Authorization header with user and password put in as
// given: the caller form-encodes them or not.
func basicAuth(user, pass string) http.Header {
	return basicRaw(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
}

func basicRaw(credentials string) http.Header {
	return http.Header{"Authorization": {"Basic " + credentials}}
}

// sendToken sends q to the /token endpoint of the server at base. It does not
// touch t, so goroutines may call it.
func sendToken(base string, q tokenReq) (answer, error) {
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader = strings.NewReader(q.body)
	if q.chunked {
		body = io.MultiReader(body) // unknown length
	}
	u := base + "/token"
	if q.query != "" {
		u += "?" + q.query
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return answer{}, err
	}
	if q.ctype != "" {
		req.Header.Set("Content-Type", q.ctype)
	}
	for k, vs := range q.header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

func (s *stack) send(t *testing.T, q tokenReq) answer {
	t.Helper()
	a, err := sendToken(s.srv.URL, q)
	require.NoError(t, err)
	return a
}

// codeWith runs an authorization request with extra parameters (a challenge
// among them) and returns the issued code.
func (s *stack) codeWith(t *testing.T, extra url.Values) string {
	t.Helper()
	resp, body := s.authorize(t, extra)
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)
	return code
}

// mint issues a code for client the way a server does outside the wrapped
// authorization handler (a login page) without recording a challenge.
func (s *stack) mint(client string) string {
	code := randomCode()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = client
	return code
}

// holds reports whether the homegrown server still takes code as valid.
func (s *stack) holds(code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.codes[code]
	return ok
}

// reached counts the token requests of grant that reached the wrapped
// server.
func (s *stack) reached(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants[grant]
}

// last returns the form and body of the last token request the wrapped
// server saw.
func (s *stack) last() (url.Values, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastForm, s.lastBody
}

// oauthError is an RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// assertRefused checks an RFC 6749 §5.2 error response: status, error code,
// a usable error_description, Cache-Control: no-store, a JSON content type.
func assertRefused(t *testing.T, a answer, status int, code string) oauthError {
	t.Helper()
	var members map[string]any
	require.NoError(t, json.Unmarshal(a.Body, &members), "error body is not a JSON object: %s", a.Body)
	var got oauthError
	require.NoError(t, json.Unmarshal(a.Body, &got), "error body: %s", a.Body)
	assert.Equal(t, status, a.Status, "status of %s", a.Body)
	assert.Equal(t, code, got.Error, "error of %s", a.Body)
	assert.NotEmpty(t, strings.TrimSpace(got.Description), "error_description of %s", a.Body)
	assertDescriptionChars(t, got.Description)
	assert.Empty(t, cmp.Diff([]string{"error", "error_description"}, sortedKeys(members)), "members of %s", a.Body)
	assert.Equal(t, "no-store", a.Header.Get("Cache-Control"))
	mt, _, err := mime.ParseMediaType(a.Header.Get("Content-Type"))
	assert.NoError(t, err, "Content-Type %q", a.Header.Get("Content-Type"))
	assert.Equal(t, "application/json", mt)
	return got
}

// assertDescriptionChars checks RFC 6749 §5.2: error_description uses only
// %x20-21 / %x23-5B / %x5D-7E.
func assertDescriptionChars(t *testing.T, desc string) {
	t.Helper()
	for i := 0; i < len(desc); i++ {
		c := desc[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("error_description %q has byte %#x at %d, outside RFC 6749 section 5.2", desc, c, i)
			return
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// assertIssued checks a successful token response.
func assertIssued(t *testing.T, a answer) {
	t.Helper()
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(a.Body, &tok), "%s", a.Body)
	assert.NotEmpty(t, tok.AccessToken)
}

func TestTokenVectors(t *testing.T) {
	for _, tc := range []struct{ name, verifier, challenge string }{
		{"RFC 7636 Appendix B", rfc7636Verifier, rfc7636Challenge},
		{"OAuth 2.1 draft", oauth21Verifier, oauth21Challenge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.challenge, pkce.S256Challenge(tc.verifier))
			s := newStack(t, pkce.Config{})
			// The challenge is sent as the vector gives it, not recomputed.
			code := s.codeWith(t, url.Values{"code_challenge": {tc.challenge}, "code_challenge_method": {"S256"}})

			assertIssued(t, s.send(t, formReq(authForm(code, tc.verifier))))
			assert.Equal(t, 1, s.reached(grantCode))
			assert.False(t, s.holds(code), "the wrapped server redeemed the code")
		})
	}
}

// TestTokenAccepted: requests the contract lets through reach the wrapped
// server and get a token.
func TestTokenAccepted(t *testing.T) {
	long := strings.Repeat("aZ09-._~", 16) // 128 characters, every kind
	require.Len(t, long, 128)
	for _, tc := range []struct {
		name     string
		cfg      pkce.Config
		client   string // client_id of the authorization request
		verifier string
		method   string // code_challenge_method; "" S256
		req      func(code, v string) tokenReq
		check    func(t *testing.T, s *stack)
	}{
		{name: "form body", req: func(code, v string) tokenReq { return formReq(authForm(code, v)) }},
		{name: "verifier of 128 characters", verifier: long,
			req: func(code, v string) tokenReq { return formReq(authForm(code, v)) }},
		{name: "form content type with charset",
			req: func(code, v string) tokenReq {
				q := formReq(authForm(code, v))
				q.ctype = "application/x-www-form-urlencoded; charset=ISO-8859-1"
				return q
			}},
		{name: "form content type in upper case",
			req: func(code, v string) tokenReq {
				q := formReq(authForm(code, v))
				q.ctype = "Application/X-WWW-Form-Urlencoded"
				return q
			}},
		{name: "chunked form body",
			req: func(code, v string) tokenReq {
				q := formReq(authForm(code, v))
				q.chunked = true
				return q
			}},
		{name: "JSON body",
			req: func(code, v string) tokenReq {
				b, _ := json.Marshal(map[string]string{"grant_type": grantCode, "code": code, "code_verifier": v, "client_id": "app", "redirect_uri": testRedirect})
				return tokenReq{ctype: "application/json", body: string(b)}
			}},
		{name: "JSON body with charset",
			req: func(code, v string) tokenReq {
				b, _ := json.Marshal(map[string]string{"grant_type": grantCode, "code": code, "code_verifier": v})
				return tokenReq{ctype: "application/json; charset=utf-8", body: string(b)}
			}},
		{name: "no client_id anywhere",
			req: func(code, v string) tokenReq { return formReq(without(authForm(code, v), "client_id")) }},
		{name: "HTTP Basic client", client: "app-1",
			req: func(code, v string) tokenReq {
				q := formReq(without(authForm(code, v), "client_id"))
				q.header = basicAuth("app-1", "secret")
				return q
			}},
		{name: "HTTP Basic client form-encoded", client: "app-1",
			req: func(code, v string) tokenReq {
				q := formReq(without(authForm(code, v), "client_id"))
				q.header = basicAuth("app%2D1", "secret")
				return q
			}},
		{name: "HTTP Basic client form-encoded with a plus", client: "my app",
			req: func(code, v string) tokenReq {
				q := formReq(without(authForm(code, v), "client_id"))
				q.header = basicAuth("my+app", "s%3Acret")
				return q
			}},
		{name: "HTTP Basic client form-encoded and the same client_id in the body", client: "app-1",
			req: func(code, v string) tokenReq {
				f := authForm(code, v)
				f.Set("client_id", "app-1")
				q := formReq(f)
				q.header = basicAuth("app%2D1", "secret")
				return q
			}},
		{name: "resource repeated (RFC 8707)",
			req: func(code, v string) tokenReq {
				f := authForm(code, v)
				f["resource"] = []string{"https://a.example/", "https://b.example/"}
				return formReq(f)
			},
			check: func(t *testing.T, s *stack) {
				form, _ := s.last()
				assert.Equal(t, []string{"https://a.example/", "https://b.example/"}, form["resource"])
			}},
		{name: "unknown extra parameters",
			req: func(code, v string) tokenReq {
				f := authForm(code, v)
				f.Set("scope", "openid")
				f.Set("x-custom", "1")
				return formReq(f)
			}},
		{name: "plain method when allowed", cfg: pkce.Config{AllowPlain: true}, method: "plain",
			req: func(code, v string) tokenReq { return formReq(authForm(code, v)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, tc.cfg)
			v := tc.verifier
			if v == "" {
				v = pkce.GenerateVerifier()
			}
			extra := url.Values{"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}}
			if tc.method == "plain" {
				extra = url.Values{"code_challenge": {v}, "code_challenge_method": {"plain"}}
			}
			if tc.client != "" {
				extra.Set("client_id", tc.client)
			}
			code := s.codeWith(t, extra)

			assertIssued(t, s.send(t, tc.req(code, v)))
			assert.Equal(t, 1, s.reached(grantCode))
			assert.False(t, s.holds(code))
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

// refusalCase is a token request the middleware must refuse, built for a
// fresh code of client app issued for verifier v.
type refusalCase struct {
	name   string
	cfg    pkce.Config
	method string // code_challenge_method of the authorization; "" S256
	req    func(code, v string) tokenReq
	status int
	error  string
	// burns: the challenge was taken, so the code can never be redeemed.
	// Otherwise the request was refused before, and the correct request
	// afterwards succeeds (DESIGN Token 2).
	burns bool
}

func invalidGrant(name string, req func(code, v string) tokenReq) refusalCase {
	return refusalCase{name: name, req: req, status: http.StatusBadRequest, error: "invalid_grant", burns: true}
}

func invalidRequest(name string, req func(code, v string) tokenReq) refusalCase {
	return refusalCase{name: name, req: req, status: http.StatusBadRequest, error: "invalid_request"}
}

// withVerifier is a form request whose code_verifier is replaced.
func withVerifier(verifier func(v string) string) func(code, v string) tokenReq {
	return func(code, v string) tokenReq {
		f := authForm(code, "")
		f.Set("code_verifier", verifier(v))
		return formReq(f)
	}
}

// rawForm is a form request whose body is authForm followed by extra raw
// pairs (a repeated parameter).
func rawForm(extra string) func(code, v string) tokenReq {
	return func(code, v string) tokenReq {
		return tokenReq{ctype: "application/x-www-form-urlencoded", body: authForm(code, v).Encode() + "&" + extra}
	}
}

// inQuery moves the named parameters of the request from the body to the
// URL query.
func inQuery(names ...string) func(code, v string) tokenReq {
	return func(code, v string) tokenReq {
		f := authForm(code, v)
		f.Set("client_secret", "secret")
		q := url.Values{}
		for _, n := range names {
			q[n] = f[n]
		}
		r := formReq(without(f, names...))
		r.query = q.Encode()
		return r
	}
}

func jsonReq(body string) tokenReq { return tokenReq{ctype: "application/json", body: body} }

func refusalCases() []refusalCase {
	cases := []refusalCase{
		// DESIGN Token 3, found: a verifier is required, valid per RFC 7636
		// §4.1, matching; the client must be the recorded one.
		invalidGrant("no code_verifier", func(code, _ string) tokenReq { return formReq(authForm(code, "")) }),
		invalidGrant("blank code_verifier", withVerifier(func(string) string { return "" })),
		invalidGrant("wrong code_verifier", withVerifier(func(string) string { return pkce.GenerateVerifier() })),
		invalidGrant("code_verifier of 42 characters", withVerifier(func(v string) string { return v[:42] })),
		invalidGrant("code_verifier of 129 characters", withVerifier(func(string) string { return strings.Repeat("a", 129) })),
		invalidGrant("code_verifier with a padding character", withVerifier(func(v string) string { return v[:42] + "=" })),
		invalidGrant("code_verifier with a slash", withVerifier(func(v string) string { return "/" + v[1:] })),
		invalidGrant("code_verifier with a space", withVerifier(func(v string) string { return v[:20] + " " + v[21:] })),
		invalidGrant("non-ASCII code_verifier", withVerifier(func(v string) string { return "é" + v[2:] })),
		invalidGrant("code_verifier equal to the challenge", withVerifier(pkce.S256Challenge)),
		invalidGrant("code_verifier in upper case", withVerifier(strings.ToUpper)),
		invalidGrant("other client_id in the body", func(code, v string) tokenReq {
			f := authForm(code, v)
			f.Set("client_id", "other")
			return formReq(f)
		}),
		invalidGrant("other client by HTTP Basic", func(code, v string) tokenReq {
			q := formReq(without(authForm(code, v), "client_id"))
			q.header = basicAuth("other", "secret")
			return q
		}),
		invalidGrant("other client by HTTP Basic, form-encoded", func(code, v string) tokenReq {
			q := formReq(without(authForm(code, v), "client_id"))
			q.header = basicAuth("%61pp2", "secret") // app2
			return q
		}),
		invalidGrant("raw Basic user name that decodes to another client", func(code, v string) tokenReq {
			q := formReq(without(authForm(code, v), "client_id"))
			q.header = basicAuth("ap%70+", "secret") // "app "
			return q
		}),
		invalidGrant("JSON body with a wrong code_verifier", func(code, _ string) tokenReq {
			b, _ := json.Marshal(map[string]string{"grant_type": grantCode, "code": code, "code_verifier": pkce.GenerateVerifier()})
			return jsonReq(string(b))
		}),
		{name: "plain verifier that does not match", cfg: pkce.Config{AllowPlain: true}, method: "plain",
			req: withVerifier(func(string) string { return pkce.GenerateVerifier() }), status: http.StatusBadRequest, error: "invalid_grant", burns: true},

		// DESIGN Token 2: the client of the request.
		invalidRequest("undecodable HTTP Basic", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.header = basicRaw("%%%not-base64")
			return q
		}),
		invalidRequest("HTTP Basic without a colon", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.header = basicRaw(base64.StdEncoding.EncodeToString([]byte("app")))
			return q
		}),
		invalidRequest("HTTP Basic user name that does not form-decode", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.header = basicAuth("app%ZZ", "secret")
			return q
		}),
		invalidRequest("client_id in the body differs from HTTP Basic", func(code, v string) tokenReq {
			f := authForm(code, v)
			f.Set("client_id", "other")
			q := formReq(f)
			q.header = basicAuth("app", "secret")
			return q
		}),

		// DESIGN Token 2: a parameter given twice anywhere.
		invalidRequest("code_verifier twice", rawForm("code_verifier="+rfc7636Verifier)),
		invalidRequest("code_verifier twice, once blank", rawForm("code_verifier=")),
		invalidRequest("code twice", rawForm("code=other")),
		invalidRequest("grant_type twice", rawForm("grant_type=authorization_code")),
		invalidRequest("grant_type twice, once refresh_token", func(code, v string) tokenReq {
			return tokenReq{ctype: "application/x-www-form-urlencoded", body: "grant_type=refresh_token&" + authForm(code, v).Encode()}
		}),
		invalidRequest("client_id twice", rawForm("client_id=app")),
		invalidRequest("redirect_uri twice", rawForm("redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fother")),
		invalidRequest("scope twice", rawForm("scope=a&scope=b")),
		invalidRequest("scope in query and body", func(code, v string) tokenReq {
			f := authForm(code, v)
			f.Set("scope", "a")
			q := formReq(f)
			q.query = "scope=b"
			return q
		}),
		invalidRequest("code_verifier in query and body", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.query = "code_verifier=" + v
			return q
		}),
		invalidRequest("code in query and body", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.query = "code=" + code
			return q
		}),
		invalidRequest("grant_type in query and body", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.query = "grant_type=authorization_code"
			return q
		}),
		invalidRequest("client_id in query and body", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.query = "client_id=app"
			return q
		}),
		invalidRequest("JSON body with a duplicate key", func(code, v string) tokenReq {
			return jsonReq(`{"grant_type":"authorization_code","code":"` + code + `","code_verifier":"` + v + `","code_verifier":"` + v + `"}`)
		}),

		// DESIGN Token 1: method and grant_type.
		invalidRequest("GET authorization_code", func(code, v string) tokenReq {
			return tokenReq{method: http.MethodGet, query: authForm(code, v).Encode()}
		}),
		invalidRequest("PUT authorization_code", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.method = http.MethodPut
			return q
		}),
		invalidRequest("code without grant_type", func(code, v string) tokenReq {
			return formReq(without(authForm(code, v), "grant_type"))
		}),
		invalidRequest("code with a blank grant_type", func(code, v string) tokenReq {
			f := authForm(code, v)
			f.Set("grant_type", "")
			return formReq(f)
		}),
		// RFC 6749 §4.1.3: grant_type is REQUIRED. A request without one is
		// never passed on as "another grant": its body may have been read
		// before the middleware by something that hands it on.
		invalidRequest("no grant_type and no code", func(_, v string) tokenReq {
			return formReq(url.Values{"code_verifier": {v}, "client_id": {"app"}})
		}),
		invalidRequest("empty form body", func(string, string) tokenReq {
			return tokenReq{ctype: "application/x-www-form-urlencoded"}
		}),
		invalidRequest("no body, no query", func(string, string) tokenReq { return tokenReq{} }),
		invalidRequest("JSON body without grant_type", func(code, v string) tokenReq {
			return jsonReq(`{"code":"` + code + `","code_verifier":"` + v + `"}`)
		}),
		invalidRequest("GET without grant_type", func(code, _ string) tokenReq {
			return tokenReq{method: http.MethodGet, query: "code=" + code}
		}),

		// DESIGN Token 2: what cannot be read.
		invalidRequest("unsupported content type", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.ctype = "text/plain"
			return q
		}),
		invalidRequest("multipart body", func(code, v string) tokenReq {
			body := "--XX\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nauthorization_code\r\n" +
				"--XX\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n" + code + "\r\n" +
				"--XX\r\nContent-Disposition: form-data; name=\"code_verifier\"\r\n\r\n" + v + "\r\n--XX--\r\n"
			return tokenReq{ctype: "multipart/form-data; boundary=XX", body: body}
		}),
		invalidRequest("non-empty body without Content-Type", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.ctype = ""
			return q
		}),
		invalidRequest("body over the default limit", func(code, v string) tokenReq {
			f := authForm(code, v)
			f.Set("pad", strings.Repeat("x", 64<<10))
			return formReq(f)
		}),
		invalidRequest("chunked body over the default limit", func(code, v string) tokenReq {
			f := authForm(code, v)
			f.Set("pad", strings.Repeat("x", 64<<10))
			q := formReq(f)
			q.chunked = true
			return q
		}),
		invalidRequest("malformed form body", func(code, v string) tokenReq {
			return tokenReq{ctype: "application/x-www-form-urlencoded", body: authForm(code, v).Encode() + "&pad=%zz"}
		}),
		invalidRequest("malformed URL query", func(code, v string) tokenReq {
			q := formReq(authForm(code, v))
			q.query = "x=%zz"
			return q
		}),
		invalidRequest("JSON body that is not an object", func(code, v string) tokenReq {
			return jsonReq(`["grant_type","authorization_code"]`)
		}),
		invalidRequest("JSON body that is cut short", func(code, v string) tokenReq {
			return jsonReq(`{"grant_type":"authorization_code","code":"` + code + `"`)
		}),
		invalidRequest("JSON body with data after the object", func(code, v string) tokenReq {
			b, _ := json.Marshal(map[string]string{"grant_type": grantCode, "code": code, "code_verifier": v})
			return jsonReq(string(b) + `{}`)
		}),
		invalidRequest("JSON code_verifier that is not a string", func(code, v string) tokenReq {
			return jsonReq(`{"grant_type":"authorization_code","code":"` + code + `","code_verifier":{"v":"` + v + `"}}`)
		}),
	}
	// DESIGN Token 2: OAuth parameters in the query of an
	// authorization_code request.
	for _, name := range []string{"grant_type", "code", "code_verifier", "redirect_uri", "client_id", "client_secret"} {
		cases = append(cases, invalidRequest(name+" in the query", inQuery(name)))
	}
	return cases
}

// TestTokenRefusals: every refusal path, its answer, and what it does to the
// code: refused before the challenge is taken leaves the code usable;
// refused after burns it for good, while the wrapped server, which never saw
// the request, still holds it as valid.
func TestTokenRefusals(t *testing.T) {
	for _, tc := range refusalCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, tc.cfg)
			v := pkce.GenerateVerifier()
			extra := url.Values{"code_challenge": {pkce.S256Challenge(v)}, "code_challenge_method": {"S256"}}
			if tc.method == "plain" {
				extra = url.Values{"code_challenge": {v}, "code_challenge_method": {"plain"}}
			}
			code := s.codeWith(t, extra)

			assertRefused(t, s.send(t, tc.req(code, v)), tc.status, tc.error)
			assert.Zero(t, s.reached(grantCode), "the refused request reached the wrapped server")
			assert.Zero(t, s.tokensIssued())
			require.True(t, s.holds(code))

			after := s.send(t, formReq(authForm(code, v)))
			if tc.burns {
				assertRefused(t, after, http.StatusBadRequest, "invalid_grant")
				assert.Zero(t, s.reached(grantCode), "a burned code reached the wrapped server")
				assert.True(t, s.holds(code), "the wrapped server still takes the code as valid: only the middleware stops it")
				return
			}
			assertIssued(t, after)
			assert.Equal(t, 1, s.reached(grantCode))
		})
	}
}

func TestTokenMaxBodyBytes(t *testing.T) {
	// sized returns a token request whose body is exactly n bytes.
	sized := func(t *testing.T, code, v string, n int) tokenReq {
		t.Helper()
		f := authForm(code, v)
		base := len(f.Encode()) + len("&pad=")
		require.Less(t, base, n)
		f.Set("pad", strings.Repeat("x", n-base))
		q := formReq(f)
		require.Len(t, q.body, n)
		return q
	}
	for _, tc := range []struct {
		name    string
		max     int64 // Config.MaxBodyBytes
		limit   int   // the effective limit
		chunked bool
	}{
		{"default", 0, 64 << 10, false},
		{"default, chunked", 0, 64 << 10, true},
		{"configured", 1000, 1000, false},
		{"configured, chunked", 1000, 1000, true},
		{"configured above the default", 100 << 10, 100 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{MaxBodyBytes: tc.max})
			v := pkce.GenerateVerifier()
			code := s.code(t, v)

			over := sized(t, code, v, tc.limit+1)
			over.chunked = tc.chunked
			assertRefused(t, s.send(t, over), http.StatusBadRequest, "invalid_request")
			assert.Zero(t, s.reached(grantCode))

			at := sized(t, code, v, tc.limit)
			at.chunked = tc.chunked
			assertIssued(t, s.send(t, at))
			_, body := s.last()
			assert.Equal(t, at.body, body, "the body reached the wrapped server intact")
		})
	}
}

// TestTokenEmptyValueIsAbsent: OAuth 2.1, a parameter without a value is
// treated as omitted.
func TestTokenEmptyValueIsAbsent(t *testing.T) {
	t.Run("blank code_verifier is refused as a missing one", func(t *testing.T) {
		s := newStack(t, pkce.Config{})
		v := pkce.GenerateVerifier()
		missing := assertRefused(t, s.send(t, formReq(authForm(s.code(t, v), ""))), http.StatusBadRequest, "invalid_grant")
		f := authForm(s.code(t, v), "")
		f.Set("code_verifier", "")
		blank := assertRefused(t, s.send(t, formReq(f)), http.StatusBadRequest, "invalid_grant")
		assert.Equal(t, missing, blank)
	})
	t.Run("blank code_verifier on a code issued without PKCE is no downgrade", func(t *testing.T) {
		s := newStack(t, pkce.Config{Require: func(*http.Request, string) bool { return false }})
		f := authForm(s.mint("app"), "")
		f.Set("code_verifier", "")
		assertIssued(t, s.send(t, formReq(f)))
	})
	t.Run("blank client_id shows no client", func(t *testing.T) {
		s := newStack(t, pkce.Config{})
		v := pkce.GenerateVerifier()
		f := authForm(s.code(t, v), v)
		f.Set("client_id", "")
		assertIssued(t, s.send(t, formReq(f)))
	})
	t.Run("blank code is a missing code", func(t *testing.T) {
		s := newStack(t, pkce.Config{})
		f := authForm("", pkce.GenerateVerifier())
		f.Set("code", "")
		assertRefused(t, s.send(t, formReq(f)), http.StatusBadRequest, "invalid_request")
		assert.Zero(t, s.reached(grantCode))
	})
}

// TestTokenBurnedCode: a code that failed its PKCE check can never be
// redeemed, whatever the retry carries and whatever the policy (the bug
// peers shipped: a retry without a verifier got a token).
func TestTokenBurnedCode(t *testing.T) {
	optional := func(*http.Request, string) bool { return false }
	first := map[string]func(code, v string) url.Values{
		"wrong verifier": func(code, _ string) url.Values { return authForm(code, pkce.GenerateVerifier()) },
		"malformed verifier": func(code, v string) url.Values {
			return authForm(code, v[:42])
		},
		"no verifier": func(code, _ string) url.Values { return authForm(code, "") },
		"other client": func(code, v string) url.Values {
			f := authForm(code, v)
			f.Set("client_id", "other")
			return f
		},
	}
	for _, policy := range []struct {
		name    string
		require func(*http.Request, string) bool
	}{{"default policy", nil}, {"optional policy", optional}} {
		for name, firstForm := range first {
			t.Run(policy.name+"/"+name, func(t *testing.T) {
				s := newStack(t, pkce.Config{Require: policy.require})
				v := pkce.GenerateVerifier()
				code := s.code(t, v)

				assertRefused(t, s.send(t, formReq(firstForm(code, v))), http.StatusBadRequest, "invalid_grant")
				for _, retry := range []struct{ name, verifier string }{
					{"without a verifier", ""},
					{"with the correct verifier", v},
					{"with the correct verifier again", v},
				} {
					assertRefused(t, s.send(t, formReq(authForm(code, retry.verifier))), http.StatusBadRequest, "invalid_grant")
				}
				assert.Zero(t, s.reached(grantCode), "a retry reached the wrapped server")
				assert.Zero(t, s.tokensIssued())
				assert.True(t, s.holds(code), "the wrapped server would still redeem this code")
			})
		}
	}
}

// TestTokenReplay: a code that was redeemed is checked once; a replay never
// reaches the wrapped server.
func TestTokenReplay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		require func(*http.Request, string) bool
	}{{"default policy", nil}, {"optional policy", func(*http.Request, string) bool { return false }}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{Require: tc.require})
			v := pkce.GenerateVerifier()
			code := s.code(t, v)
			assertIssued(t, s.send(t, formReq(authForm(code, v))))
			// Put the code back in the wrapped server, as a server whose
			// code redemption is not atomic may: only the middleware stands.
			s.mu.Lock()
			s.codes[code] = "app"
			s.mu.Unlock()

			assertRefused(t, s.send(t, formReq(authForm(code, v))), http.StatusBadRequest, "invalid_grant")
			assertRefused(t, s.send(t, formReq(authForm(code, ""))), http.StatusBadRequest, "invalid_grant")
			assert.Equal(t, 1, s.reached(grantCode), "a replay reached the wrapped server")
			assert.Equal(t, 1, s.tokensIssued())
		})
	}
}

// delegatingStore is a Store that is not a *MemoryStore, so the middleware
// calls it as it calls any external store.
type delegatingStore struct{ pkce.Store }

// TestTokenConcurrentRedemption: of 32 concurrent redemptions of one code,
// exactly one passes, on a real server.
func TestTokenConcurrentRedemption(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store pkce.Store
	}{{"MemoryStore", nil}, {"external store", delegatingStore{pkce.NewMemoryStore()}}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{Store: tc.store})
			// The wrapped server would refuse a second redemption itself, so
			// what counts is how many reach it.
			v := pkce.GenerateVerifier()
			code := s.code(t, v)

			const n = 32
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				answers = make([]answer, n)
				errs    = make([]error, n)
			)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					answers[i], errs[i] = sendToken(s.srv.URL, formReq(authForm(code, v)))
				}()
			}
			close(start)
			wg.Wait()

			ok := 0
			for i, a := range answers {
				require.NoError(t, errs[i])
				if a.Status == http.StatusOK {
					ok++
					continue
				}
				assertRefused(t, a, http.StatusBadRequest, "invalid_grant")
			}
			assert.Equal(t, 1, ok, "successful redemptions")
			assert.Equal(t, 1, s.reached(grantCode))
		})
	}
}

// TestTokenDowngrade: RFC 9700 §4.8.2. A code issued without a challenge
// takes no verifier; without one it passes only when the policy allows.
func TestTokenDowngrade(t *testing.T) {
	optional := func(*http.Request, string) bool { return false }
	for _, tc := range []struct {
		name     string
		require  func(*http.Request, string) bool
		verifier bool
		pass     bool
	}{
		{"default policy, verifier", nil, true, false},
		{"default policy, no verifier", nil, false, false},
		{"optional policy, verifier", optional, true, false},
		{"optional policy, no verifier", optional, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{Require: tc.require})
			codes := map[string]string{"minted outside the authorization endpoint": s.mint("app")}
			if tc.require != nil {
				// Through the middleware, the authorization request without
				// a challenge is let through under the optional policy.
				codes["authorization request without a challenge"] = s.codeWith(t, url.Values{})
			}
			for how, code := range codes {
				t.Run(how, func(t *testing.T) {
					before := s.reached(grantCode)
					v := ""
					if tc.verifier {
						v = pkce.GenerateVerifier()
					}
					a := s.send(t, formReq(authForm(code, v)))
					if tc.pass {
						assertIssued(t, a)
						assert.Equal(t, before+1, s.reached(grantCode))
						return
					}
					assertRefused(t, a, http.StatusBadRequest, "invalid_grant")
					assert.Equal(t, before, s.reached(grantCode))
					assert.True(t, s.holds(code))
				})
			}
		})
	}
}

// TestTokenNoChallengeDescription: a code without a recorded challenge is
// refused with a description that says why plainly, and never suggests
// sending no verifier (issue 8, item 5). The downgrade rule stands: a
// verifier without a challenge is invalid_grant whatever the policy.
func TestTokenNoChallengeDescription(t *testing.T) {
	optional := func(*http.Request, string) bool { return false }
	for _, tc := range []struct {
		name     string
		require  func(*http.Request, string) bool
		verifier bool
	}{
		{"verifier, default policy", nil, true},
		{"verifier, optional policy", optional, true},
		{"no verifier, default policy", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, pkce.Config{Require: tc.require})
			v := ""
			if tc.verifier {
				v = pkce.GenerateVerifier()
			}
			got := assertRefused(t, s.send(t, formReq(authForm(s.mint("app"), v))), http.StatusBadRequest, "invalid_grant")
			for _, want := range []string{
				"no code_challenge was recorded for this code",
				"the authorization request carried none",
				"the code expired",
				"must call Record",
				"start a new authorization request with code_challenge",
			} {
				assert.Contains(t, got.Description, want)
			}
			assert.NotContains(t, got.Description, "or no code_verifier")
			assert.NotContains(t, got.Description, "send no")
			assert.Zero(t, s.reached(grantCode))
		})
	}
}

// TestTokenRequireClient: the policy sees the HTTP Basic user name,
// form-decoded, else the body's client_id, and decides per client.
func TestTokenRequireClient(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	s := newStack(t, pkce.Config{Require: func(r *http.Request, client string) bool {
		if r.URL.Path != "/token" {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, client)
		return client != "legacy-app"
	}})
	for _, tc := range []struct {
		name   string
		body   string // client_id in the body
		basic  string // raw Basic user name, "" for none
		client string // what Require must see
		pass   bool
	}{
		{"body client_id, optional", "legacy-app", "", "legacy-app", true},
		{"body client_id, required", "app", "", "app", false},
		{"HTTP Basic, optional", "", "legacy-app", "legacy-app", true},
		{"HTTP Basic form-encoded, optional", "", "legacy%2Dapp", "legacy-app", true},
		{"HTTP Basic form-encoded and body, optional", "legacy-app", "legacy%2Dapp", "legacy-app", true},
		{"HTTP Basic, required", "", "app", "app", false},
		{"no client", "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			f := authForm(s.mint(tc.client), "")
			f.Del("client_id")
			if tc.body != "" {
				f.Set("client_id", tc.body)
			}
			q := formReq(f)
			if tc.basic != "" {
				q.header = basicAuth(tc.basic, "secret")
			}
			a := s.send(t, q)
			if tc.pass {
				assertIssued(t, a)
			} else {
				assertRefused(t, a, http.StatusBadRequest, "invalid_grant")
			}
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen, "Require was not asked")
			for _, c := range seen {
				assert.Equal(t, tc.client, c)
			}
		})
	}
}

// recordingHandler records what a wrapped token handler sees.
type recordingHandler struct {
	mu       sync.Mutex
	calls    int
	formSet  bool // r.Form was filled before the handler parsed anything
	form     url.Values
	postForm url.Values
	body     string
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	h.formSet = r.Form != nil
	h.form, h.postForm = r.Form, r.PostForm
	b, _ := io.ReadAll(r.Body)
	h.body = string(b)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
}

func (h *recordingHandler) get() recordingHandler {
	h.mu.Lock()
	defer h.mu.Unlock()
	return recordingHandler{calls: h.calls, formSet: h.formSet, form: h.form, postForm: h.postForm, body: h.body}
}

// TestTokenPassThrough: every grant other than authorization_code reaches
// the wrapped handler unchecked, its body byte for byte, r.Form filled.
func TestTokenPassThrough(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name     string
		req      tokenReq
		grant    string
		wantForm url.Values // members of r.Form checked; nil: the body's form
		postForm bool       // r.PostForm holds the body's form
	}{
		{name: "refresh_token form", grant: "refresh_token", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=refresh_token&refresh_token=rt-1&client_id=app&scope=a+b"}},
		{name: "client_credentials form with HTTP Basic", grant: "client_credentials", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=client_credentials&scope=api", header: basicAuth("svc", "secret")}},
		{name: "client_credentials with client_secret_post", grant: "client_credentials", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=client_credentials&client_id=svc&client_secret=s%26cret"}},
		{name: "refresh_token JSON", grant: "refresh_token",
			req: tokenReq{ctype: "application/json", body: `{"grant_type":"refresh_token", "refresh_token":"rt-1","n":5,"scopes":["a","b"],"o":{"x":1}}`},
			// As ParseForm gives it: JSON members are not form values.
			wantForm: url.Values{"grant_type": nil, "refresh_token": nil}},
		{name: "client_credentials JSON", grant: "client_credentials",
			req:      tokenReq{ctype: "application/json; charset=utf-8", body: "{\n  \"grant_type\": \"client_credentials\",\n  \"client_id\": \"svc\"\n}\n"},
			wantForm: url.Values{"grant_type": nil, "client_id": nil}},
		{name: "device_code", grant: "urn:ietf:params:oauth:grant-type:device_code", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc&client_id=tv"}},
		{name: "token exchange", grant: "urn:ietf:params:oauth:grant-type:token-exchange", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=st&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&resource=a&resource=b"}},
		{name: "refresh_token with PKCE parameters", grant: "refresh_token", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=refresh_token&refresh_token=rt&code=c&code_verifier=short"}},
		{name: "refresh_token with a repeated parameter", grant: "refresh_token", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=refresh_token&refresh_token=rt&scope=a&scope=b&client_id=x&client_id=y"}},
		{name: "refresh_token with parameters in the query", grant: "refresh_token",
			req:      tokenReq{ctype: form, body: "grant_type=refresh_token&refresh_token=rt", query: "client_id=app&client_secret=s"},
			wantForm: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}, "client_id": {"app"}, "client_secret": {"s"}}},
		{name: "refresh_token in the query, empty body without Content-Type", grant: "refresh_token",
			req:      tokenReq{query: "grant_type=refresh_token&refresh_token=rt"},
			wantForm: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}}},
		{name: "refresh_token with an undecodable HTTP Basic", grant: "refresh_token", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=refresh_token&refresh_token=rt", header: basicRaw("%%%")}},
		{name: "refresh_token chunked", grant: "refresh_token", postForm: true,
			req: tokenReq{ctype: form, body: "grant_type=refresh_token&refresh_token=rt&pad=" + strings.Repeat("p", 10000), chunked: true}},
		{name: "refresh_token GET", grant: "refresh_token",
			req:      tokenReq{method: http.MethodGet, query: "grant_type=refresh_token&refresh_token=rt"},
			wantForm: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Through the homegrown server: the body arrives intact.
			s := newStack(t, pkce.Config{})
			a := s.send(t, tc.req)
			require.Equal(t, 1, s.reached(tc.grant), "the request did not reach the wrapped server: %s", a.Body)
			gotForm, gotBody := s.last()
			assert.Equal(t, tc.req.body, gotBody, "body byte for byte")
			assert.Equal(t, tc.grant, gotForm.Get("grant_type"))

			// Through a recording handler: r.Form is filled on arrival.
			rec := &recordingHandler{}
			m, err := pkce.New(pkce.Config{})
			require.NoError(t, err)
			srv := httptest.NewServer(m.Token(rec))
			t.Cleanup(srv.Close)
			a, err = sendToken(srv.URL, tc.req)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
			got := rec.get()
			require.Equal(t, 1, got.calls)
			assert.Equal(t, tc.req.body, got.body, "body byte for byte")
			assert.True(t, got.formSet, "r.Form arrives filled")
			want := tc.wantForm
			if want == nil {
				var err error
				want, err = url.ParseQuery(tc.req.body)
				require.NoError(t, err)
			}
			for k, vs := range want {
				assert.Equal(t, vs, got.form[k], "r.Form[%q]", k)
			}
			if tc.postForm {
				want, err := url.ParseQuery(tc.req.body)
				require.NoError(t, err)
				assert.Empty(t, cmp.Diff(want, got.postForm), "r.PostForm")
			}
		})
	}
}

// TestTokenHandsOnRequest: a checked authorization_code request reaches the
// wrapped handler with its body intact and r.Form, r.PostForm filled from
// the same read.
func TestTokenHandsOnRequest(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	rec := &recordingHandler{}
	hg := newHomegrown()
	mux := http.NewServeMux()
	mux.Handle("/token", m.Token(rec))
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(hg.serveAuthorize)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &stack{homegrown: hg, m: m, srv: srv}

	v := pkce.GenerateVerifier()
	f := authForm(s.code(t, v), v)
	f["resource"] = []string{"r1", "r2"}
	q := formReq(f)
	q.query = "extra=1"
	assertIssued(t, s.send(t, q))

	got := rec.get()
	require.Equal(t, 1, got.calls)
	assert.Equal(t, q.body, got.body)
	assert.True(t, got.formSet)
	assert.Empty(t, cmp.Diff(f, got.postForm), "r.PostForm")
	wantForm := without(f)
	wantForm.Set("extra", "1")
	assert.Empty(t, cmp.Diff(wantForm, got.form), "r.Form")
}

// faultyStore records challenges in a MemoryStore and fails or stalls Take.
type faultyStore struct {
	pkce.Store
	takeErr error
	stall   <-chan struct{} // Take waits for it, ignoring its context
	takes   atomic.Int32
}

func (f *faultyStore) Take(ctx context.Context, key string) (pkce.Challenge, error) {
	f.takes.Add(1)
	if f.stall != nil {
		select {
		case <-f.stall:
		case <-time.After(5 * time.Second):
		}
		return f.Store.Take(ctx, key)
	}
	return pkce.Challenge{}, f.takeErr
}

// TestTokenStoreFailure: a store error fails closed, with a description; a
// stalled store fails in time.
func TestTokenStoreFailure(t *testing.T) {
	optional := func(*http.Request, string) bool { return false }
	for _, tc := range []struct {
		name     string
		require  func(*http.Request, string) bool
		pkce     bool // the code was issued with a challenge
		verifier bool
		stall    bool
		err      error
	}{
		{name: "error, verifier", pkce: true, verifier: true, err: errors.New("connection refused")},
		{name: "error, no verifier, optional policy", require: optional, pkce: true, err: errors.New("connection refused")},
		{name: "error, code without PKCE, optional policy", require: optional, err: errors.New("connection refused")},
		{name: "context error", pkce: true, verifier: true, err: context.DeadlineExceeded},
		{name: "stalled past StoreTimeout", pkce: true, verifier: true, stall: true},
		{name: "stalled, code without PKCE, optional policy", require: optional, stall: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &faultyStore{Store: pkce.NewMemoryStore(), takeErr: tc.err}
			if tc.stall {
				release := make(chan struct{})
				store.stall = release
				t.Cleanup(func() { close(release) })
			}
			s := newStack(t, pkce.Config{Store: store, Require: tc.require, StoreTimeout: 50 * time.Millisecond})
			v := pkce.GenerateVerifier()
			code := s.mint("app")
			if tc.pkce {
				code = s.code(t, v)
			}
			if !tc.verifier {
				v = ""
			}

			start := time.Now()
			a := s.send(t, formReq(authForm(code, v)))
			assert.Less(t, time.Since(start), 2*time.Second, "the request did not fail in time")
			assertRefused(t, a, http.StatusInternalServerError, "server_error")
			assert.Equal(t, int32(1), store.takes.Load())
			assert.Zero(t, s.reached(grantCode), "nothing passes on a store fault")
			assert.Zero(t, s.tokensIssued())
		})
	}
}

// TestTokenErrorDescriptionCharacters: client input echoed in a description
// never takes it outside RFC 6749 §5.2.
func TestTokenErrorDescriptionCharacters(t *testing.T) {
	hostile := "é\"\\\x01\x7f☃"
	s := newStack(t, pkce.Config{})
	for _, tc := range []struct {
		name string
		req  tokenReq
	}{
		{"repeated parameter with a hostile name", tokenReq{ctype: "application/x-www-form-urlencoded",
			body: "grant_type=authorization_code&code=c&" + url.QueryEscape(hostile) + "=1&" + url.QueryEscape(hostile) + "=2"}},
		{"hostile content type", tokenReq{ctype: "text/\"é\\\"", body: "grant_type=authorization_code"}},
		{"hostile JSON member", tokenReq{ctype: "application/json", body: `{"grant_type":"authorization_code","code":"c","code_verifier":["` + hostile + `",1]}`}},
		{"hostile JSON duplicate", tokenReq{ctype: "application/json", body: `{"grant_type":"authorization_code","\u00e9\"\\":"1","\u00e9\"\\":"2"}`}},
		{"hostile verifier", formReq(authForm(s.code(t, pkce.GenerateVerifier()), strings.Repeat(hostile, 8)))},
		{"hostile Basic", tokenReq{ctype: "application/x-www-form-urlencoded", body: "grant_type=authorization_code&code=c", header: basicRaw("é\"\\☃")}},
		{"hostile malformed form", tokenReq{ctype: "application/x-www-form-urlencoded", body: "grant_type=authorization_code&" + hostile + "=%"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.send(t, tc.req)
			require.GreaterOrEqual(t, a.Status, 400, "%s", a.Body)
			var got oauthError
			require.NoError(t, json.Unmarshal(a.Body, &got), "%s", a.Body)
			require.NotEmpty(t, got.Description)
			assertDescriptionChars(t, got.Description)
		})
	}
}
