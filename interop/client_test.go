package interop_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// browser follows no redirect: it hands the authorization response back as
// the user agent would see it. It asks for gzip itself and does not
// decompress transparently, so tests see what the server really sent.
var browser = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableCompression: true},
}

// oauthConfig is the x/oauth2 configuration of client against st.
func oauthConfig(st *stack, client string, style oauth2.AuthStyle) *oauth2.Config {
	c := &oauth2.Config{
		ClientID:    client,
		RedirectURL: redirectURI,
		Scopes:      []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   st.url("/authorize"),
			TokenURL:  st.url("/token"),
			AuthStyle: style,
		},
	}
	if client == confidentialClient {
		c.ClientSecret = confidentialSecret
	}
	return c
}

// authResult is what the client got back from the authorization endpoint.
type authResult struct {
	status   int
	header   http.Header
	body     string // decompressed
	code     string
	state    string
	idToken  string
	location string
}

// doAuthorize sends an authorization request (GET, or POST with a form
// body) as a browser would, with Accept-Encoding: gzip, and reads the code
// from the Location query or fragment or from a form_post page.
func doAuthorize(t *testing.T, method, authURL string) authResult {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodPost {
		base, query, _ := strings.Cut(authURL, "?")
		req, err = http.NewRequest(http.MethodPost, base, strings.NewReader(query))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(method, authURL, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	res := authResult{status: resp.StatusCode, header: resp.Header, body: readBody(t, resp)}
	if loc := resp.Header.Get("Location"); loc != "" {
		res.location = loc
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("Location %q: %v", loc, err)
		}
		v := u.Query()
		if u.Fragment != "" {
			if v, err = url.ParseQuery(u.EscapedFragment()); err != nil {
				t.Fatalf("fragment of %q: %v", loc, err)
			}
		}
		res.code, res.state, res.idToken = v.Get("code"), v.Get("state"), v.Get("id_token")
		return res
	}
	inputs := formInputs(res.body)
	res.code, res.state, res.idToken = inputs["code"], inputs["state"], inputs["id_token"]
	return res
}

// mustAuthorize is doAuthorize that requires a code.
func mustAuthorize(t *testing.T, method, authURL string) authResult {
	t.Helper()
	res := doAuthorize(t, method, authURL)
	if res.code == "" {
		t.Fatalf("no code in the authorization response: status %d, Location %q, body %q", res.status, res.location, res.body)
	}
	return res
}

var (
	inputTag  = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	inputAttr = regexp.MustCompile(`(?s)([a-zA-Z-]+)\s*=\s*(?:'([^']*)'|"([^"]*)")`)
)

// formInputs returns the named inputs of a form_post page.
func formInputs(page string) map[string]string {
	out := map[string]string{}
	for _, tag := range inputTag.FindAllString(page, -1) {
		attrs := map[string]string{}
		for _, a := range inputAttr.FindAllStringSubmatch(tag, -1) {
			attrs[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3])
		}
		if name := attrs["name"]; name != "" {
			out[name] = attrs["value"]
		}
	}
	return out
}

// readBody reads a response body, gunzipping it when the server compressed it.
func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// oauthRefusal is an OAuth error response as the client sees it.
type oauthRefusal struct {
	Status       int
	ContentType  string
	CacheControl string
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func readRefusal(t testing.TB, resp *http.Response) oauthRefusal {
	t.Helper()
	body := readBody(t, resp)
	r := oauthRefusal{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), CacheControl: resp.Header.Get("Cache-Control")}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("status %d: body is not an OAuth error: %q", resp.StatusCode, body)
	}
	return r
}

// postForm sends a token request with a form body.
func postForm(t testing.TB, endpoint string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// exchangeRefusal exchanges code with x/oauth2 and requires an
// invalid_grant refusal, returned as the *oauth2.RetrieveError.
func exchangeRefusal(t *testing.T, conf *oauth2.Config, code string, opts ...oauth2.AuthCodeOption) *oauth2.RetrieveError {
	t.Helper()
	tok, err := conf.Exchange(context.Background(), code, opts...)
	if err == nil {
		t.Fatalf("the exchange got a token (%q); want invalid_grant", tok.AccessToken)
	}
	re, ok := err.(*oauth2.RetrieveError)
	if !ok {
		t.Fatalf("err = %T %v; want *oauth2.RetrieveError", err, err)
	}
	if re.ErrorCode != "invalid_grant" || re.ErrorDescription == "" || re.Response.StatusCode != http.StatusBadRequest {
		t.Fatalf("RetrieveError: status %d, code %q, description %q; want 400 invalid_grant with a description",
			re.Response.StatusCode, re.ErrorCode, re.ErrorDescription)
	}
	return re
}
