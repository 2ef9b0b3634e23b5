package pkce_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Token requests shaped so that a lenient handler (one that decodes JSON
// whatever the method or Content-Type, matches names without case, or
// decompresses bodies) would read an authorization_code request the
// middleware did not check. Each must be refused before the handler runs.
func TestTokenLenientHandlerBypasses(t *testing.T) {
	verifier := pkce.GenerateVerifier()
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, s)
		zw.Close()
		return b.String()
	}
	tests := []struct {
		name, method, contentType, encoding, body string
	}{
		{"JSON names in another case", http.MethodPost, "application/json", "", `{"Grant_Type":"authorization_code","Code":"stolen"}`},
		{"JSON decoy with a case-variant code", http.MethodPost, "application/json", "", `{"grant_type":"authorization_code","code":"mine","code_verifier":"` + verifier + `","CODE":"stolen"}`},
		{"JSON name with a long s", http.MethodPost, "application/json", "", `{"grant_type":"authorization_code","code":"mine","code_verifier":"` + verifier + `","client_ſecret":"x"}`},
		{"form names in another case", http.MethodPost, "application/x-www-form-urlencoded", "", "Grant_Type=authorization_code&Code=stolen"},
		{"grant_type value in another case", http.MethodPost, "application/x-www-form-urlencoded", "", "grant_type=Authorization_Code&code=stolen"},
		{"grant_type value with a space", http.MethodPost, "application/x-www-form-urlencoded", "", "grant_type=authorization_code+&code=stolen"},
		{"JSON body on GET", http.MethodGet, "application/json", "", `{"grant_type":"authorization_code","code":"stolen"}`},
		{"JSON body on DELETE", http.MethodDelete, "application/json", "", `{"grant_type":"authorization_code","code":"stolen"}`},
		{"JSON labelled as a form", http.MethodPost, "application/x-www-form-urlencoded", "", `{"grant_type":"authorization_code","code":"stolen"}`},
		{"gzip form body", http.MethodPost, "application/x-www-form-urlencoded", "gzip", gz("grant_type=authorization_code&code=stolen")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pkce.New(pkce.Config{Require: func(*http.Request, string) bool { return false }})
			require.NoError(t, err)
			for _, code := range []string{"stolen", "mine"} {
				require.NoError(t, m.Record(context.Background(), code, pkce.Challenge{Value: pkce.S256Challenge(verifier), Method: pkce.S256, ClientID: "app"}))
			}
			reached := false
			srv := httptest.NewServer(m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
			})))
			defer srv.Close()
			req, err := http.NewRequest(tt.method, srv.URL, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", tt.contentType)
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var e authError
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "invalid_request", e.Error, e.Description)
			assert.False(t, reached, "the handler ran")
		})
	}
}

func TestAuthorizeCaseVariants(t *testing.T) {
	challenge := pkce.S256Challenge(pkce.GenerateVerifier())
	for _, q := range []string{
		"Response_Type=code&client_id=app&Code_Challenge=" + challenge,
		"response_type=CODE&client_id=app",
		"response_type=code&client_id=app&code_challenge=" + challenge + "&Code_Challenge_Method=plain",
	} {
		t.Run(q, func(t *testing.T) {
			s := newStack(t, pkce.Config{Require: func(*http.Request, string) bool { return false }})
			resp, body := s.get(t, "/authorize?"+q)
			assertAuthorizeRefused(t, s, resp, body, http.StatusBadRequest, "invalid_request", "case-sensitive")
		})
	}
}

// A handler that kept the header map from before WriteHeader and sets a
// Location with a code while its page is held: net/http would ignore the
// change, and so must the middleware, or the code leaves unbound.
func TestCaptureIgnoresLateHeaderChanges(t *testing.T) {
	rig := newCaptureRig(t, pkce.Config{}, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html")
		h.Set("Trailer", "X-Checksum")
		w.WriteHeader(http.StatusOK)
		h.Set("Location", withCode)
		io.WriteString(w, "<html>ok</html>")
		w.Header().Set("X-Checksum", "abc")
	})
	resp, body := rig.do(t, http.MethodGet)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Location"))
	assert.Equal(t, "<html>ok</html>", body)
	assert.Equal(t, "abc", resp.Trailer.Get("X-Checksum"), "trailers still go out")
	assert.NotContains(t, rig.ev.list(), "save")
}

// Hijacking the connection before the response is decided would let raw
// bytes carry an unbound code.
func TestCaptureRefusesHijackWhileHeld(t *testing.T) {
	var hijackErr error
	rig := newCaptureRig(t, pkce.Config{}, func(w http.ResponseWriter, r *http.Request) {
		_, _, hijackErr = http.NewResponseController(w).Hijack()
		http.Redirect(w, r, withCode, http.StatusFound)
	})
	resp, _ := rig.do(t, http.MethodGet)
	assert.Error(t, hijackErr)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, []string{"save", "header Found", "write", "handler returned"}, rig.ev.list())
}

func TestDiscoveryHeadDropsETag(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(m.Discovery(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, `{"issuer":"x"}`)
	})))
	defer srv.Close()
	resp, err := http.Head(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, resp.Header.Get("ETag"))
	assert.Empty(t, resp.Header.Get("Content-Length"))
}
