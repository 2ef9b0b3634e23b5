package pkce

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// MetadataMember is the authorization server metadata member that lists the
// accepted PKCE methods (RFC 8414 §2, OpenID Connect Discovery).
const MetadataMember = "code_challenge_methods_supported"

// maxMetadataBytes bounds a metadata document the Discovery wrapper holds to
// rewrite; a longer one passes unchanged (and is logged).
const maxMetadataBytes = 1 << 20

// Discovery wraps a metadata handler (/.well-known/oauth-authorization-server
// or /.well-known/openid-configuration) and adds code_challenge_methods_supported,
// the methods the middleware accepts (S256 first), to a successful JSON object
// response, replacing a value already there and keeping every other member
// and its order. RFC 9700 §2.1.1: servers must publish their PKCE support, and
// some clients refuse to go on without it.
//
// Non-JSON, non-2xx and content-encoded responses pass unchanged, so put
// compression outside this wrapper. A rewritten response gets a correct
// Content-Length and loses its ETag; a HEAD response is not rewritten but
// loses its Content-Length and ETag, which would not match the rewritten
// GET body.
// JSON means a Content-Type of application/json or …+json, or none with a
// body that starts with '{'. The returned handler is safe for concurrent use.
func (m *Middleware) Discovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		dw := &discoveryWriter{w: w, m: m, r: r, head: r.Method == http.MethodHead}
		next.ServeHTTP(dw, r)
		dw.finish()
	})
}

// Methods returns the enabled challenge methods, S256 first. Safe for
// concurrent use.
func (m *Middleware) Methods() []Method {
	if m.allowPlain {
		return []Method{S256, Plain}
	}
	return []Method{S256}
}

// SetMetadata sets code_challenge_methods_supported in a metadata document a
// server builds itself as a map before encoding it. Safe for concurrent use
// (on distinct maps).
func (m *Middleware) SetMetadata(doc map[string]any) {
	methods := m.Methods()
	names := make([]string, len(methods))
	for i, mt := range methods {
		names[i] = string(mt)
	}
	doc[MetadataMember] = names
}

// RewriteMetadata returns doc, an encoded JSON object, with
// code_challenge_methods_supported set to the enabled methods: a value
// already there is replaced in place, otherwise the member is added last.
// Every other member keeps its bytes and its order. The error says why doc
// is not a JSON object. Safe for concurrent use.
func (m *Middleware) RewriteMetadata(doc []byte) ([]byte, error) {
	return rewriteMetadata(doc, m.methodsJSON)
}

var errNotObject = errors.New("pkce: metadata is not a single JSON object")

// rewriteMetadata sets the member to value in doc. doc is checked with
// json.Valid first, so the scan below walks well-formed JSON only: it
// finds the top-level members without decoding them.
func rewriteMetadata(doc, value []byte) ([]byte, error) {
	if !json.Valid(doc) {
		return nil, errNotObject
	}
	i := skipJSONSpace(doc, 0)
	if doc[i] != '{' {
		return nil, errNotObject
	}
	type span struct{ start, end int }
	var replace []span
	lastEnd := -1
	for i++; ; {
		i = skipJSONSpace(doc, i)
		if doc[i] == ',' {
			i = skipJSONSpace(doc, i+1)
		}
		if doc[i] == '}' {
			break
		}
		keyStart := i
		i = skipJSONString(doc, i)
		key := doc[keyStart:i]
		i = skipJSONSpace(doc, i) + 1 // the colon
		start := skipJSONSpace(doc, i)
		i = skipJSONValue(doc, start)
		lastEnd = i
		if isMemberName(key) {
			replace = append(replace, span{start, i})
		}
	}
	closing := i

	out := make([]byte, 0, len(doc)+len(MetadataMember)+len(value)+4)
	at := 0
	for _, s := range replace {
		out = append(out, doc[at:s.start]...)
		out = append(out, value...)
		at = s.end
	}
	if len(replace) == 0 {
		insert := closing
		if lastEnd >= 0 {
			insert = lastEnd
		}
		out = append(out, doc[:insert]...)
		if lastEnd >= 0 {
			out = append(out, ',')
		}
		out = append(out, `"`+MetadataMember+`":`...)
		out = append(out, value...)
		at = insert
	}
	return append(out, doc[at:]...), nil
}

// isMemberName reports whether the quoted JSON string key names
// code_challenge_methods_supported, escapes decoded.
func isMemberName(key []byte) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key[1:len(key)-1]) == MetadataMember
	}
	var name string
	return json.Unmarshal(key, &name) == nil && name == MetadataMember
}

func skipJSONSpace(doc []byte, i int) int {
	for i < len(doc) && isJSONSpace(doc[i]) {
		i++
	}
	return i
}

// skipJSONString returns the index after the string that starts at doc[i].
func skipJSONString(doc []byte, i int) int {
	for i++; doc[i] != '"'; i++ {
		if doc[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipJSONValue returns the index after the value that starts at doc[i].
func skipJSONValue(doc []byte, i int) int {
	switch doc[i] {
	case '"':
		return skipJSONString(doc, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch doc[i] {
			case '"':
				i = skipJSONString(doc, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(doc) && !isJSONSpace(doc[i]) && doc[i] != ',' && doc[i] != '}' && doc[i] != ']' {
		i++ // a number, true, false or null
	}
	return i
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// discoveryWriter holds back a JSON metadata response to rewrite it.
type discoveryWriter struct {
	w    http.ResponseWriter
	m    *Middleware
	r    *http.Request
	head bool
	// dropBody discards the body of a HEAD response whose Content-Length was
	// dropped: net/http would compute one again from the bytes written.
	dropBody bool

	state  captureState // pending, holding (buffering the document) or passing
	status int
	held   heldHeader
	buf    []byte
}

func (dw *discoveryWriter) Header() http.Header {
	if dw.state == holding {
		return dw.held.late
	}
	return dw.w.Header()
}

func (dw *discoveryWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		dw.w.WriteHeader(code)
		return
	}
	if dw.state != pending {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		dw.w.WriteHeader(code)
		return
	}
	dw.status = code
	h := dw.w.Header()
	ct := h.Get("Content-Type")
	rewritable := code >= 200 && code <= 299 && code != http.StatusNoContent &&
		h.Get("Content-Encoding") == "" && (ct == "" || isJSONType(ct))
	switch {
	case rewritable && dw.head:
		h.Del("Content-Length") // it would not match the rewritten GET body
		h.Del("ETag")           // nor would the ETag
		dw.dropBody = true
	case rewritable:
		dw.state = holding
		dw.held = holdHeader(h)
		return
	}
	dw.state = passing
	dw.w.WriteHeader(code)
}

func (dw *discoveryWriter) Write(b []byte) (int, error) {
	if dw.state == pending {
		dw.WriteHeader(http.StatusOK)
	}
	if dw.dropBody {
		return len(b), nil
	}
	if dw.state == passing {
		return dw.w.Write(b)
	}
	if len(dw.buf)+len(b) > maxMetadataBytes {
		dw.m.log.LogAttrs(dw.r.Context(), slog.LevelWarn, "pkce: metadata document too large to rewrite; code_challenge_methods_supported not added",
			slog.Int("limit", maxMetadataBytes))
		dw.send(dw.buf, false)
		return dw.w.Write(b)
	}
	dw.buf = append(dw.buf, b...)
	return len(b), nil
}

func (dw *discoveryWriter) WriteString(s string) (int, error) {
	if dw.state == passing && !dw.dropBody {
		return io.WriteString(dw.w, s)
	}
	return dw.Write([]byte(s))
}

// Flush does nothing while the document is held.
func (dw *discoveryWriter) Flush() { _ = dw.FlushError() }

func (dw *discoveryWriter) FlushError() error {
	if dw.state == pending {
		dw.WriteHeader(http.StatusOK)
	}
	if dw.state != passing {
		return nil
	}
	return http.NewResponseController(dw.w).Flush()
}

func (dw *discoveryWriter) Unwrap() http.ResponseWriter { return dw.w }

func (dw *discoveryWriter) finish() {
	if dw.state != holding {
		return
	}
	dw.send(dw.buf, true)
}

// send ends holding and writes body, rewritten when rewrite is set and the
// body is a JSON object.
func (dw *discoveryWriter) send(body []byte, rewrite bool) {
	h := dw.w.Header()
	trailers := dw.held.restore(h)
	ct := h.Get("Content-Type")
	if rewrite && (ct != "" || firstNonSpace(body) == '{') {
		if out, err := rewriteMetadata(body, dw.m.methodsJSON); err == nil {
			body = out
			h.Set("Content-Length", strconv.Itoa(len(body)))
			h.Del("ETag")
		}
	}
	dw.state = passing
	dw.w.WriteHeader(dw.status)
	if len(body) > 0 {
		_, _ = dw.w.Write(body)
	}
	dw.buf = nil
	for k, vs := range trailers {
		h[k] = vs
	}
}

// isJSONType reports whether a Content-Type is application/json or a
// structured syntax …+json type.
func isJSONType(ct string) bool {
	mt := mediaType(ct)
	return mt == mediaJSON || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
