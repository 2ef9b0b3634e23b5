package pkcetest

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestParseFormPost(t *testing.T) {
	tests := []struct {
		name, page, action, code string
		ok                       bool
	}{
		{"double quotes", `<form method="post" action="https://c.example/cb"><input type="hidden" name="code" value="abc"></form>`, "https://c.example/cb", "abc", true},
		{"value first, single quotes", `<FORM action='https://c.example/cb'><INPUT value='a&amp;b' type=hidden name='code'/></FORM>`, "https://c.example/cb", "a&b", true},
		{"unquoted, entities", `<form action=https://c.example/cb?x=1&amp;y=2><input name=code value=x&#43;y></form>`, "https://c.example/cb?x=1&y=2", "x+y", true},
		{"error only", `<form action="/cb"><input name="error" value="access_denied"></form>`, "/cb", "", true},
		{"no code", `<form action="/login"><input name="user"></form>`, "/login", "", false},
		{"not html", "\x00\xff{}", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action, fields, ok := parseFormPost(tc.page)
			if action != tc.action || fields.Get("code") != tc.code || ok != tc.ok {
				t.Errorf("parseFormPost = %q, code %q, %v; want %q, %q, %v", action, fields.Get("code"), ok, tc.action, tc.code, tc.ok)
			}
		})
	}
}

// RFC 6749 §2.3.1: the user name and password are form-encoded before
// base64.
func TestBasicAuthIsFormEncoded(t *testing.T) {
	got := basicAuth("my client:1", "p@ss/word+")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(got, "Basic "))
	if err != nil {
		t.Fatal(err)
	}
	if want := "my+client%3A1:p%40ss%2Fword%2B"; string(raw) != want {
		t.Errorf("credentials %q, want %q", raw, want)
	}
}

func TestEncodeAll(t *testing.T) {
	if got := encodeAll("demo-service:é1"); got != "demo%2Dservice%3A%C3%A91" {
		t.Errorf("encodeAll = %q", got)
	}
}

func TestS256Vectors(t *testing.T) {
	if got := s256(rfc7636Verifier); got != rfc7636Challenge {
		t.Errorf("s256(RFC 7636 Appendix B) = %s, want %s", got, rfc7636Challenge)
	}
	if got := s256("3641a2d12d66101249cdf7a79c000c1f8c05d2aafcf14bf146497bed"); got != oauth21Challenge {
		t.Errorf("s256(OAuth 2.1 example) = %s, want %s", got, oauth21Challenge)
	}
	if v := newVerifier(); len(v) != 43 || v == newVerifier() {
		t.Errorf("newVerifier() = %q: want 43 fresh characters", v)
	}
}

// An issuer with a path: RFC 8414 puts the well-known segment before the
// path, OpenID Discovery after it.
func TestMetadataPathsForIssuerWithPath(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer srv.Close()
	_, err := newAuditor(context.Background(), Target{Issuer: srv.URL + "/tenant/a", ClientID: "c", RedirectURI: "http://127.0.0.1/cb"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/.well-known/oauth-authorization-server/tenant/a", "/tenant/a/.well-known/openid-configuration"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("metadata requested at %q, want %q", paths, want)
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\n\t b\x00c", 10); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine(strings.Repeat("x", 20), 5); got != "xxxxx…" {
		t.Errorf("oneLine = %q", got)
	}
}
