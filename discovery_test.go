package pkce_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// discoveryServer serves h wrapped by the Discovery of a middleware
// configured by cfg, on a real server.
func discoveryServer(t *testing.T, cfg pkce.Config, h http.Handler) *httptest.Server {
	t.Helper()
	m, err := pkce.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(m.Discovery(h))
	t.Cleanup(srv.Close)
	return srv
}

// fetched is a response, its body read as sent (no transparent
// decompression).
type fetched struct {
	Status        int
	Header        http.Header
	ContentLength int64
	Body          []byte
}

// rawClient neither decompresses nor follows redirects.
var rawClient = &http.Client{
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func fetch(t *testing.T, method, url string) fetched {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := rawClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "reading the body: a wrong Content-Length cuts it short")
	return fetched{Status: resp.StatusCode, Header: resp.Header, ContentLength: resp.ContentLength, Body: b}
}

// member is one member of a JSON object as encoded.
type member struct {
	Key string
	Raw string
}

// members returns the members of a JSON object in document order, each
// value as its raw bytes.
func members(t *testing.T, doc []byte) []member {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	tok, err := dec.Token()
	require.NoError(t, err, "%s", doc)
	require.Equal(t, json.Delim('{'), tok, "%s", doc)
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err, "%s", doc)
		var raw json.RawMessage
		require.NoError(t, dec.Decode(&raw), "%s", doc)
		out = append(out, member{Key: tok.(string), Raw: string(raw)})
	}
	_, err = dec.Token()
	require.NoError(t, err, "%s", doc)
	_, err = dec.Token()
	require.ErrorIs(t, err, io.EOF, "data after the object: %s", doc)
	return out
}

// wantRewritten returns the members doc must have once rewritten: every
// member as it was, in its place, the methods member replaced where it is,
// or added last.
func wantRewritten(t *testing.T, doc []byte, methods string) []member {
	t.Helper()
	var out []member
	found := false
	for _, mb := range members(t, doc) {
		if mb.Key == pkce.MetadataMember {
			mb.Raw = methods
			found = true
		}
		out = append(out, mb)
	}
	if !found {
		out = append(out, member{pkce.MetadataMember, methods})
	}
	return out
}

// compactMembers re-encodes raw values compactly, so that values compare
// by content, not by spacing.
func compactMembers(t *testing.T, ms []member) []member {
	t.Helper()
	out := make([]member, len(ms))
	for i, mb := range ms {
		var b bytes.Buffer
		require.NoError(t, json.Compact(&b, []byte(mb.Raw)))
		out[i] = member{mb.Key, b.String()}
	}
	return out
}

// metadataHandler answers body with the given status and Content-Type (none
// if ""), an ETag and the Content-Length of body, in one Write.
func metadataHandler(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

const sampleMetadata = `{"issuer":"https://as.example","authorization_endpoint":"https://as.example/authorize",` +
	`"token_endpoint":"https://as.example/token","response_types_supported":["code"],` +
	`"nested":{"code_challenge_methods_supported":["plain"],"n":1.50e3},"s":"caf\u00e9 \"q\""}`

// assertRewritten checks a rewritten metadata response: original members in
// order, the methods member where the contract puts it, a right
// Content-Length and no ETag.
func assertRewritten(t *testing.T, got fetched, original, methods string) {
	t.Helper()
	assert.Empty(t, cmp.Diff(compactMembers(t, wantRewritten(t, []byte(original), methods)), compactMembers(t, members(t, got.Body))), "members, in order")
	assert.Equal(t, strconv.Itoa(len(got.Body)), got.Header.Get("Content-Length"), "Content-Length")
	assert.Empty(t, got.Header.Values("ETag"), "ETag of a rewritten body")
}

func TestDiscoveryRewrites(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
	}{
		{"member added last", 200, "application/json", sampleMetadata},
		{"existing value replaced in place", 200, "application/json",
			`{"issuer":"https://as.example","code_challenge_methods_supported":["plain"],"token_endpoint":"https://as.example/token"}`},
		{"existing value of another type replaced", 200, "application/json",
			`{"code_challenge_methods_supported":"plain","issuer":"x"}`},
		{"existing null replaced", 200, "application/json", `{"issuer":"x","code_challenge_methods_supported":null}`},
		{"escaped member name replaced", 200, "application/json",
			`{"issuer":"x","code_challenge_methods\u005fsupported":["plain"],"z":true}`},
		{"empty object", 200, "application/json", `{}`},
		{"pretty-printed", 200, "application/json", "{\n  \"issuer\": \"x\",\n  \"scopes_supported\": [\n    \"openid\"\n  ]\n}\n"},
		{"pretty-printed with the member", 200, "application/json", "{\n  \"code_challenge_methods_supported\" : [ \"plain\" ] ,\n  \"issuer\": \"x\"\n}\n"},
		{"charset parameter", 200, "application/json; charset=utf-8", sampleMetadata},
		{"content type in upper case", 200, "Application/JSON", sampleMetadata},
		{"+json type", 200, "application/problem+json", sampleMetadata},
		{"vendor +json type", 200, "application/vnd.example.metadata+json; charset=utf-8", sampleMetadata},
		{"no Content-Type, body starts with {", 200, "", sampleMetadata},
		{"201", 201, "application/json", sampleMetadata},
		{"203", 203, "application/json", sampleMetadata},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := discoveryServer(t, pkce.Config{}, metadataHandler(tc.status, tc.contentType, tc.body))
			got := fetch(t, http.MethodGet, srv.URL)
			assert.Equal(t, tc.status, got.Status)
			assertRewritten(t, got, tc.body, `["S256"]`)
			if tc.contentType != "" {
				assert.Equal(t, tc.contentType, got.Header.Get("Content-Type"))
			}
		})
	}
}

// TestDiscoveryMethods: the member lists exactly the enabled methods, S256
// first.
func TestDiscoveryMethods(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  pkce.Config
		want []string
	}{
		{"default", pkce.Config{}, []string{"S256"}},
		{"AllowPlain", pkce.Config{AllowPlain: true}, []string{"S256", "plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, body := range []string{`{"issuer":"x"}`, `{"code_challenge_methods_supported":["plain","S256","S384"],"issuer":"x"}`} {
				srv := discoveryServer(t, tc.cfg, metadataHandler(200, "application/json", body))
				got := fetch(t, http.MethodGet, srv.URL)
				var doc map[string]any
				require.NoError(t, json.Unmarshal(got.Body, &doc), "%s", got.Body)
				var methods []string
				raw, _ := json.Marshal(doc[pkce.MetadataMember])
				require.NoError(t, json.Unmarshal(raw, &methods), "%s", got.Body)
				assert.Empty(t, cmp.Diff(tc.want, methods), "code_challenge_methods_supported of %s", got.Body)
			}

			m, err := pkce.New(tc.cfg)
			require.NoError(t, err)
			var want []pkce.Method
			for _, s := range tc.want {
				want = append(want, pkce.Method(s))
			}
			assert.Empty(t, cmp.Diff(want, m.Methods()), "Methods")
		})
	}
}

// TestDiscoveryAdvertisesWhatIsAccepted: SPEC.md, peers advertised plain
// they refused or accepted plain they never advertised.
func TestDiscoveryAdvertisesWhatIsAccepted(t *testing.T) {
	for _, allowPlain := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowPlain=%v", allowPlain), func(t *testing.T) {
			s := newStack(t, pkce.Config{AllowPlain: allowPlain})
			got := fetch(t, http.MethodGet, s.srv.URL+"/.well-known/oauth-authorization-server")
			var doc struct {
				Methods []string `json:"code_challenge_methods_supported"`
			}
			require.NoError(t, json.Unmarshal(got.Body, &doc), "%s", got.Body)
			v := pkce.GenerateVerifier()
			resp, body := s.authorize(t, map[string][]string{"code_challenge": {v}, "code_challenge_method": {"plain"}})
			plainAccepted := resp.StatusCode == http.StatusFound
			assert.Equal(t, allowPlain, plainAccepted, "plain accepted: %s", body)
			assert.Equal(t, plainAccepted, contains(doc.Methods, "plain"), "plain advertised %v", doc.Methods)
			assert.True(t, contains(doc.Methods, "S256"))
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestDiscoveryWriteStyles: however the handler writes its document, the
// client gets it rewritten with a right Content-Length.
func TestDiscoveryWriteStyles(t *testing.T) {
	body := sampleMetadata
	half := len(body) / 2
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"one Write without Content-Length", func(w http.ResponseWriter) { _, _ = w.Write([]byte(body)) }},
		{"one Write with the original Content-Length", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write([]byte(body))
		}},
		{"explicit WriteHeader", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(body))
		}},
		{"WriteHeader twice", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(body))
		}},
		{"several chunks", func(w http.ResponseWriter) {
			for i := 0; i < len(body); i += 7 {
				_, _ = w.Write([]byte(body[i:min(i+7, len(body))]))
			}
		}},
		{"byte by byte", func(w http.ResponseWriter) {
			for i := 0; i < len(body); i++ {
				_, _ = w.Write([]byte{body[i]})
			}
		}},
		{"WriteString", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, body[:half])
			_, _ = io.WriteString(w, body[half:])
		}},
		{"io.Copy", func(w http.ResponseWriter) { _, _ = io.Copy(w, strings.NewReader(body)) }},
		{"fmt.Fprintf", func(w http.ResponseWriter) { _, _ = fmt.Fprintf(w, "%s", body) }},
		{"Flush midway", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(body[:half]))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(body[half:]))
		}},
		{"Flush before writing", func(w http.ResponseWriter) {
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(body))
		}},
		{"ResponseController Flush midway", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(body[:half]))
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
			_, _ = w.Write([]byte(body[half:]))
		}},
		{"header set after WriteHeader", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			w.Header().Set("ETag", `"late"`)
			_, _ = w.Write([]byte(body))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := discoveryServer(t, pkce.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("ETag", `"v1"`)
				tc.write(w)
			}))
			got := fetch(t, http.MethodGet, srv.URL)
			assert.Equal(t, http.StatusOK, got.Status)
			assertRewritten(t, got, body, `["S256"]`)
			assert.Equal(t, int64(len(got.Body)), got.ContentLength)
		})
	}
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.String()
}

// TestDiscoveryUnchanged: what is not a successful JSON object response
// passes unchanged, headers included.
func TestDiscoveryUnchanged(t *testing.T) {
	gz := gzipped(t, sampleMetadata)
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
	}{
		{"HTML", 200, "text/html; charset=utf-8", `{"issuer":"x"}`},
		{"plain text", 200, "text/plain", `{"issuer":"x"}`},
		{"JavaScript", 200, "application/javascript", `{"issuer":"x"}`},
		{"no Content-Type, not an object", 200, "", `issuer=x`},
		{"no Content-Type, an array", 200, "", `[{"issuer":"x"}]`},
		{"404", 404, "application/json", `{"error":"not_found"}`},
		{"500", 500, "application/json", `{"error":"server_error"}`},
		{"400", 400, "application/json", `{"error":"invalid_request"}`},
		{"301", 301, "application/json", `{"moved":"elsewhere"}`},
		{"gzip", 200, "application/json", gz},
		{"gzip, no Content-Type", 200, "", gz},
		{"br", 200, "application/json", "\x8b\x05\x80{}\x03"},
		{"invalid JSON", 200, "application/json", `{"issuer":"x",`},
		{"invalid JSON member", 200, "application/json", `{"issuer":x}`},
		{"top-level array", 200, "application/json", `[{"issuer":"x"}]`},
		{"top-level string", 200, "application/json", `"issuer"`},
		{"null", 200, "application/json", `null`},
		{"two objects", 200, "application/json", `{"issuer":"x"}{"issuer":"y"}`},
		{"object then garbage", 200, "application/json", `{"issuer":"x"}x`},
		{"empty body", 200, "application/json", ``},
		{"204", 204, "application/json", ``},
	} {
		encoding := ""
		switch {
		case strings.HasPrefix(tc.name, "gzip"):
			encoding = "gzip"
		case tc.name == "br":
			encoding = "br"
		}
		t.Run(tc.name, func(t *testing.T) {
			srv := discoveryServer(t, pkce.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				if tc.contentType != "" {
					h.Set("Content-Type", tc.contentType)
				}
				if encoding != "" {
					h.Set("Content-Encoding", encoding)
				}
				h.Set("ETag", `"v1"`)
				if tc.status != http.StatusNoContent {
					h.Set("Content-Length", strconv.Itoa(len(tc.body)))
				}
				if tc.status == http.StatusMovedPermanently {
					h.Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			got := fetch(t, http.MethodGet, srv.URL)
			assert.Equal(t, tc.status, got.Status)
			assert.Equal(t, tc.body, string(got.Body), "body")
			assert.Equal(t, `"v1"`, got.Header.Get("ETag"))
			if tc.status != http.StatusNoContent {
				assert.Equal(t, strconv.Itoa(len(tc.body)), got.Header.Get("Content-Length"))
			}
			if tc.contentType != "" {
				assert.Equal(t, tc.contentType, got.Header.Get("Content-Type"))
			}
			assert.Equal(t, encoding, got.Header.Get("Content-Encoding"))
		})
	}
}

// TestDiscoveryHead: a HEAD response is not rewritten and loses its
// Content-Length, which would not match the rewritten GET body.
func TestDiscoveryHead(t *testing.T) {
	body := sampleMetadata
	for _, tc := range []struct {
		name string
		// handler answers HEAD as a real handler does.
		handler http.HandlerFunc
	}{
		{"handler sets Content-Length and writes the body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = io.WriteString(w, body)
		}},
		{"handler sets Content-Length and writes no body for HEAD", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				_, _ = io.WriteString(w, body)
			}
		}},
		{"handler writes the body without Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, body)
		}},
		{"http.ServeContent", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := discoveryServer(t, pkce.Config{}, tc.handler)
			// GET of the same handler is rewritten.
			getBody := fetch(t, http.MethodGet, srv.URL)
			assertRewritten(t, getBody, body, `["S256"]`)

			got := fetch(t, http.MethodHead, srv.URL)
			assert.Equal(t, http.StatusOK, got.Status)
			assert.Empty(t, got.Body)
			assert.Empty(t, got.Header.Values("Content-Length"), "HEAD Content-Length, while GET sends %d bytes", len(getBody.Body))
			assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
		})
	}
	t.Run("HEAD of a response that is not rewritten keeps its Content-Length", func(t *testing.T) {
		srv := discoveryServer(t, pkce.Config{}, metadataHandler(200, "text/html", "<html></html>"))
		got := fetch(t, http.MethodHead, srv.URL)
		assert.Equal(t, "13", got.Header.Get("Content-Length"))
		assert.Equal(t, `"v1"`, got.Header.Get("ETag"))
	})
}

// TestDiscoveryBothWellKnownPaths: RFC 8414 and OpenID clients read
// different paths; both are wrapped as README and doc.go show.
func TestDiscoveryBothWellKnownPaths(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	hg := newHomegrown()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.Handle("/.well-known/openid-configuration", m.Discovery(hg.metadata(srv.URL)))
	mux.Handle("/.well-known/oauth-authorization-server", m.Discovery(hg.metadata(srv.URL)))

	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			got := fetch(t, http.MethodGet, srv.URL+path)
			require.Equal(t, http.StatusOK, got.Status)
			var doc map[string]any
			require.NoError(t, json.Unmarshal(got.Body, &doc), "%s", got.Body)
			want := map[string]any{
				"issuer":                           srv.URL,
				"authorization_endpoint":           srv.URL + "/authorize",
				"token_endpoint":                   srv.URL + "/token",
				"response_types_supported":         []any{"code"},
				"code_challenge_methods_supported": []any{"S256"},
			}
			assert.Empty(t, cmp.Diff(want, doc))
			assert.Empty(t, got.Header.Values("ETag"))
			assert.Equal(t, strconv.Itoa(len(got.Body)), got.Header.Get("Content-Length"))
		})
	}
}

// TestDiscoveryOtherMethods: a POST to the metadata endpoint reaches the
// handler.
func TestDiscoveryOtherMethods(t *testing.T) {
	srv := discoveryServer(t, pkce.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	got := fetch(t, http.MethodPost, srv.URL)
	assert.Equal(t, http.StatusMethodNotAllowed, got.Status)
	assert.Equal(t, "GET, HEAD", got.Header.Get("Allow"))
}

func TestSetMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  pkce.Config
		doc  map[string]any
		want []string
	}{
		{"added", pkce.Config{}, map[string]any{"issuer": "x"}, []string{"S256"}},
		{"replaced", pkce.Config{}, map[string]any{"issuer": "x", pkce.MetadataMember: []string{"plain"}}, []string{"S256"}},
		{"AllowPlain", pkce.Config{AllowPlain: true}, map[string]any{"issuer": "x"}, []string{"S256", "plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := pkce.New(tc.cfg)
			require.NoError(t, err)
			m.SetMetadata(tc.doc)
			b, err := json.Marshal(tc.doc)
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got))
			want := map[string]any{"issuer": "x", "code_challenge_methods_supported": toAny(tc.want)}
			assert.Empty(t, cmp.Diff(want, got))
		})
	}
	assert.Equal(t, "code_challenge_methods_supported", pkce.MetadataMember)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestRewriteMetadata(t *testing.T) {
	for _, tc := range []struct {
		name       string
		allowPlain bool
		doc        string
	}{
		{"added last", false, sampleMetadata},
		{"AllowPlain", true, sampleMetadata},
		{"replaced in place", false, `{"a":1,"code_challenge_methods_supported":["plain","S256"],"b":[1,{"c":null}]}`},
		{"first member replaced", true, `{"code_challenge_methods_supported":[],"a":1}`},
		{"every top-level occurrence replaced", false, `{"code_challenge_methods_supported":["plain"],"a":1,"code_challenge_methods_supported":"x"}`},
		{"nested member untouched", false, `{"x":{"code_challenge_methods_supported":["plain"]}}`},
		{"empty object", false, `{}`},
		{"empty object with spaces", false, "{ \n }"},
		{"spacing kept", false, "  {\n\t\"a\" : 1 ,\n\t\"b\" : \"\\u00e9\"\n}\n  "},
		{"numbers and escapes keep their bytes", false, `{"n":1.50e3,"s":"\u00e9\/\"","t":true,"u":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := pkce.New(pkce.Config{AllowPlain: tc.allowPlain})
			require.NoError(t, err)
			got, err := m.RewriteMetadata([]byte(tc.doc))
			require.NoError(t, err)
			methods := `["S256"]`
			if tc.allowPlain {
				methods = `["S256","plain"]`
			}
			want := wantRewritten(t, []byte(tc.doc), methods)
			gotMembers := members(t, got)
			// Other members keep their bytes; the methods value compares by
			// content.
			assert.Empty(t, cmp.Diff(compactMembers(t, want), compactMembers(t, gotMembers)), "members, in order")
			for i := range want {
				if i < len(gotMembers) && want[i].Key != pkce.MetadataMember {
					assert.Equal(t, want[i].Raw, gotMembers[i].Raw, "bytes of %s", want[i].Key)
				}
			}
		})
	}
	for _, doc := range []string{``, ` `, `[]`, `[{"a":1}]`, `"x"`, `null`, `1`, `{`, `{"a":}`, `{"a":1,}`, `{"a":1}x`, `{"a":1}{}`, `{"a" 1}`} {
		t.Run(fmt.Sprintf("not an object %q", doc), func(t *testing.T) {
			m, err := pkce.New(pkce.Config{})
			require.NoError(t, err)
			_, err = m.RewriteMetadata([]byte(doc))
			assert.Error(t, err)
		})
	}
}
