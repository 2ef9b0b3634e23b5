package interop_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
)

// frameworks are the stacks a refusal must look the same through.
var frameworks = []struct {
	name string
	new  func(*testing.T, pkce.Config) *stack
}{
	{"net/http", newNetHTTPStack},
	{"chi", newChiStack},
	{"echo", newEchoStack},
}

// authorizeQuery is a valid authorization request for the public client,
// changed by edit.
func authorizeQuery(verifier string, edit func(url.Values)) url.Values {
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {publicClient},
		"redirect_uri":          {redirectURI},
		"state":                 {"s"},
		"code_challenge":        {pkce.S256Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	if edit != nil {
		edit(v)
	}
	return v
}

// codeFor obtains a code bound to the challenge of verifier.
func codeFor(t *testing.T, st *stack, verifier string) string {
	t.Helper()
	return mustAuthorize(t, http.MethodGet, st.url("/authorize?"+authorizeQuery(verifier, nil).Encode())).code
}

// tokenForm is a valid authorization_code token request of the public
// client, changed by edit.
func tokenForm(code, verifier string, edit func(url.Values)) url.Values {
	v := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"code_verifier": {verifier},
		"redirect_uri":  {redirectURI},
		"client_id":     {publicClient},
	}
	if edit != nil {
		edit(v)
	}
	return v
}

func sendRaw(t *testing.T, method, u, contentType, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func getAuthorize(t *testing.T, st *stack, v url.Values) *http.Response {
	t.Helper()
	return sendRaw(t, http.MethodGet, st.url("/authorize?"+v.Encode()), "", "", nil)
}

func hexChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return hex.EncodeToString(sum[:])
}

// refusalCases are bad requests, each with the refusal it gets; each case
// returns the response to its last, refused, request and how many token
// requests should have reached the wrapped server before it.
var refusalCases = []struct {
	name      string
	wantError string
	wantDesc  string // a part of error_description
	send      func(t *testing.T, st *stack) (resp *http.Response, reached int)
}{
	{"authorize/no challenge", "invalid_request", "code challenge required", func(t *testing.T, st *stack) (*http.Response, int) {
		return getAuthorize(t, st, authorizeQuery("", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") })), 0
	}},
	{"authorize/plain disabled", "invalid_request", "plain", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		return getAuthorize(t, st, authorizeQuery("", func(v url.Values) { v.Set("code_challenge", ver); v.Set("code_challenge_method", "plain") })), 0
	}},
	{"authorize/method missing", "invalid_request", "code_challenge_method is missing", func(t *testing.T, st *stack) (*http.Response, int) {
		return getAuthorize(t, st, authorizeQuery(pkce.GenerateVerifier(), func(v url.Values) { v.Del("code_challenge_method") })), 0
	}},
	{"authorize/hex challenge", "invalid_request", "exactly 43 characters", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		return getAuthorize(t, st, authorizeQuery("", func(v url.Values) { v.Set("code_challenge", hexChallenge(ver)) })), 0
	}},
	{"authorize/padded challenge", "invalid_request", "exactly 43 characters", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		return getAuthorize(t, st, authorizeQuery("", func(v url.Values) { v.Set("code_challenge", pkce.S256Challenge(ver)+"=") })), 0
	}},
	{"authorize/s256 lower case", "invalid_request", "case-sensitive", func(t *testing.T, st *stack) (*http.Response, int) {
		return getAuthorize(t, st, authorizeQuery(pkce.GenerateVerifier(), func(v url.Values) { v.Set("code_challenge_method", "s256") })), 0
	}},
	{"authorize/challenge twice", "invalid_request", "more than once", func(t *testing.T, st *stack) (*http.Response, int) {
		return getAuthorize(t, st, authorizeQuery(pkce.GenerateVerifier(), func(v url.Values) {
			v.Add("code_challenge", pkce.S256Challenge(pkce.GenerateVerifier()))
		})), 0
	}},
	{"authorize/POST JSON", "invalid_request", "not supported", func(t *testing.T, st *stack) (*http.Response, int) {
		// A code request by its query whose body the middleware cannot read.
		// (Without response_type=code in the query it is not PKCE's
		// business and passes through.)
		return sendRaw(t, http.MethodPost, st.url("/authorize?response_type=code"), "application/json", `{"client_id":"app"}`, nil), 0
	}},
	{"token/wrong verifier", "invalid_grant", "does not match", func(t *testing.T, st *stack) (*http.Response, int) {
		code := codeFor(t, st, pkce.GenerateVerifier())
		return postForm(t, st.url("/token"), tokenForm(code, pkce.GenerateVerifier(), nil), nil), 0
	}},
	{"token/no verifier", "invalid_grant", "code_verifier is missing", func(t *testing.T, st *stack) (*http.Response, int) {
		code := codeFor(t, st, pkce.GenerateVerifier())
		return postForm(t, st.url("/token"), tokenForm(code, "", func(v url.Values) { v.Del("code_verifier") }), nil), 0
	}},
	{"token/short verifier", "invalid_grant", "43 to 128", func(t *testing.T, st *stack) (*http.Response, int) {
		code := codeFor(t, st, pkce.GenerateVerifier())
		return postForm(t, st.url("/token"), tokenForm(code, "too-short", nil), nil), 0
	}},
	{"token/retry without verifier after a failed check", "invalid_grant", "already presented", func(t *testing.T, st *stack) (*http.Response, int) {
		code := codeFor(t, st, pkce.GenerateVerifier())
		postForm(t, st.url("/token"), tokenForm(code, pkce.GenerateVerifier(), nil), nil)
		return postForm(t, st.url("/token"), tokenForm(code, "", func(v url.Values) { v.Del("code_verifier") }), nil), 0
	}},
	{"token/replay", "invalid_grant", "already presented", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		code := codeFor(t, st, ver)
		if resp := postForm(t, st.url("/token"), tokenForm(code, ver, nil), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("first redemption: %d", resp.StatusCode)
		}
		return postForm(t, st.url("/token"), tokenForm(code, ver, nil), nil), 1
	}},
	{"token/verifier without challenge", "invalid_grant", "no code_challenge was recorded", func(t *testing.T, st *stack) (*http.Response, int) {
		return postForm(t, st.url("/token"), tokenForm("never-issued", pkce.GenerateVerifier(), nil), nil), 0
	}},
	{"token/verifier in query", "invalid_request", "not in the URL query", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		code := codeFor(t, st, ver)
		form := tokenForm(code, "", func(v url.Values) { v.Del("code_verifier") })
		return sendRaw(t, http.MethodPost, st.url("/token?code_verifier="+ver), "application/x-www-form-urlencoded", form.Encode(), nil), 0
	}},
	{"token/verifier twice", "invalid_request", "more than once", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		code := codeFor(t, st, ver)
		return postForm(t, st.url("/token"), tokenForm(code, ver, func(v url.Values) { v.Add("code_verifier", ver) }), nil), 0
	}},
	{"token/text body", "invalid_request", "not supported", func(t *testing.T, st *stack) (*http.Response, int) {
		return sendRaw(t, http.MethodPost, st.url("/token"), "text/plain", "grant_type=refresh_token&refresh_token=x", nil), 0
	}},
	{"token/code without grant_type", "invalid_request", "no grant_type", func(t *testing.T, st *stack) (*http.Response, int) {
		return postForm(t, st.url("/token"), url.Values{"code": {"c"}, "code_verifier": {pkce.GenerateVerifier()}}, nil), 0
	}},
	{"token/Basic and body client differ", "invalid_request", "differs", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		code := codeFor(t, st, ver)
		basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(confidentialClient)+":"+url.QueryEscape(confidentialSecret)))}}
		return postForm(t, st.url("/token"), tokenForm(code, ver, nil), basic), 0
	}},
	{"token/other client", "invalid_grant", "another client", func(t *testing.T, st *stack) (*http.Response, int) {
		ver := pkce.GenerateVerifier()
		code := codeFor(t, st, ver)
		return postForm(t, st.url("/token"), tokenForm(code, ver, func(v url.Values) {
			v.Set("client_id", confidentialClient)
			v.Set("client_secret", confidentialSecret)
		}), nil), 0
	}},
}

// TestSameRefusalsEverywhere: a bad request gets the same OAuth error
// (status, error, description, headers) through chi and Echo as through
// plain net/http, and never reaches the wrapped handler.
func TestSameRefusalsEverywhere(t *testing.T) {
	for _, tc := range refusalCases {
		t.Run(tc.name, func(t *testing.T) {
			var ref oauthRefusal
			for i, fw := range frameworks {
				st := fw.new(t, pkce.Config{})
				resp, reached := tc.send(t, st)
				got := readRefusal(t, resp)
				if n := len(st.tokens()); n != reached {
					t.Errorf("%s: %d token requests reached the server; want %d", fw.name, n, reached)
				}
				if i == 0 {
					ref = got
					if got.Status != http.StatusBadRequest || got.Error != tc.wantError || !strings.Contains(got.Description, tc.wantDesc) ||
						got.CacheControl != "no-store" || !strings.HasPrefix(got.ContentType, "application/json") {
						t.Fatalf("net/http: %+v; want 400 %s mentioning %q, JSON, no-store", got, tc.wantError, tc.wantDesc)
					}
					continue
				}
				if got != ref {
					t.Errorf("%s: %+v\nnet/http: %+v", fw.name, got, ref)
				}
			}
		})
	}
}
