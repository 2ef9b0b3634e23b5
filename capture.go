package pkce

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// captureWriter is the response writer the wrapped authorization handler
// writes to. It holds the status and headers back until it knows whether the
// response carries a code, saves the challenge for that code, and only then
// lets the response go. As http.TimeoutHandler does, it buffers only what it
// must: a 2xx page that may be a form_post page, up to a bound.
type captureWriter struct {
	w         http.ResponseWriter
	m         *Middleware
	ctx       context.Context // the authorization request's
	challenge Challenge       // ExpiresAt zero, as FromContext returns it
	head      bool            // a HEAD request: no body to look at

	state  captureState
	status int
	held   heldHeader // the header while a page is held
	buf    []byte     // the held page
}

type captureState uint8

const (
	pending  captureState = iota // nothing decided, nothing sent
	holding                      // a 2xx page held back: it may be a form_post page
	passing                      // decided: everything goes straight through
	replaced                     // the response was replaced by an error; the handler's output is dropped
)

// errResponseReplaced is what the handler's writes return once its response
// has been replaced by an error.
var errResponseReplaced = errors.New("pkce: the response was replaced because the code's challenge could not be recorded")

// Header returns the header map the handler writes. While a page is held
// back after its status was set, changes go to a copy, as they would be
// ignored by net/http once the header is written (trailers excepted).
func (cw *captureWriter) Header() http.Header {
	if cw.state == holding {
		return cw.held.late
	}
	return cw.w.Header()
}

// WriteHeader records the status and decides. 1xx responses pass through at
// once; the first final status wins.
func (cw *captureWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		cw.w.WriteHeader(code) // let net/http reject it as it would
		return
	}
	if cw.state != pending {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		// net/http sends the whole header with a 1xx: a Location set for
		// the final response, with a code not yet bound, must not go too.
		h := cw.w.Header()
		held := takeLocations(h)
		cw.w.WriteHeader(code)
		for k, vs := range held {
			h[k] = vs
		}
		return
	}
	cw.status = code
	h := cw.w.Header()
	// A Location that carries a code is bound before it leaves, whatever the
	// status: 302/303 for query and fragment responses (hybrid flows too).
	// Header names are case-insensitive on the wire, so a key set without
	// canonicalization counts too.
	found := false
	for k, vs := range h {
		if !strings.EqualFold(k, "Location") {
			continue
		}
		for _, loc := range vs {
			f, ok := cw.saveLocationCodes(loc)
			if !ok {
				return
			}
			found = found || f
		}
	}
	if found {
		cw.state = passing
		cw.w.WriteHeader(code)
		return
	}
	if cw.mayBeFormPost(h) {
		cw.state = holding
		cw.held = holdHeader(h)
		return
	}
	cw.state = passing
	cw.w.WriteHeader(code)
}

// mayBeFormPost reports whether the response may be a form_post page, so it
// must be held back: a 2xx with a body that is text/html or untyped, not
// content-encoded. Servers pick form_post per client, so any such page may
// carry a code.
func (cw *captureWriter) mayBeFormPost(h http.Header) bool {
	if cw.head || cw.status < 200 || cw.status > 299 || cw.status == http.StatusNoContent ||
		h.Get("Content-Encoding") != "" || cw.m.maxCaptureBytes == 0 {
		return false
	}
	ct := h.Get("Content-Type")
	return ct == "" || mediaType(ct) == "text/html"
}

// Write implies a 200 status, as net/http does.
func (cw *captureWriter) Write(b []byte) (int, error) {
	if cw.state == pending {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.state {
	case passing:
		return cw.w.Write(b)
	case replaced:
		return 0, errResponseReplaced
	}
	if room := cw.m.maxCaptureBytes - len(cw.buf); len(b) > room {
		// Past the bound: decide on the prefix, then stream the rest.
		cw.buf = append(cw.buf, b[:room]...)
		if !cw.release(true) {
			return 0, errResponseReplaced
		}
		n, err := cw.w.Write(b[room:])
		return room + n, err
	}
	cw.buf = append(cw.buf, b...)
	return len(b), nil
}

// WriteString implies a 200 status, as net/http does.
func (cw *captureWriter) WriteString(s string) (int, error) {
	if cw.state == passing {
		return io.WriteString(cw.w, s)
	}
	return cw.Write([]byte(s))
}

// ReadFrom implies a 200 status, as net/http does.
func (cw *captureWriter) ReadFrom(src io.Reader) (int64, error) {
	if cw.state == pending {
		cw.WriteHeader(http.StatusOK)
	}
	if rf, ok := cw.w.(io.ReaderFrom); ok && cw.state == passing {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{cw}, src)
}

// Flush implies a 200 status. While a page is held back it does nothing
// until the decision is made, as with http.TimeoutHandler.
func (cw *captureWriter) Flush() { _ = cw.FlushError() }

// FlushError is Flush for http.ResponseController, reporting the error.
func (cw *captureWriter) FlushError() error {
	if cw.state == pending {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.state != passing {
		return nil
	}
	return http.NewResponseController(cw.w).Flush()
}

// errHijackHeld is what Hijack answers while the response is undecided.
var errHijackHeld = errors.New("pkce: the authorization response cannot be hijacked before its status is written: the middleware must see any code it carries")

// Hijack hands the connection over only once the response is decided
// (its status written, any code in it bound): bytes written to the raw
// connection before that could carry a code the middleware never saw.
// http.ResponseController finds this method before it follows Unwrap.
func (cw *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if cw.state != passing {
		return nil, nil, errHijackHeld
	}
	return http.NewResponseController(cw.w).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (cw *captureWriter) Unwrap() http.ResponseWriter { return cw.w }

// finish completes the response after the handler returned.
func (cw *captureWriter) finish() {
	if cw.state == pending {
		// Nothing was written: net/http would send 200 with the header as it
		// is, so the header is checked as for any 200.
		cw.WriteHeader(http.StatusOK)
	}
	if cw.state == holding {
		cw.release(false)
	}
}

// abandon runs when the handler returns or panics. After a panic nothing
// was decided: a Location left in the header (a code not yet bound) is
// removed, so a recovering middleware outside cannot send it with its 500.
func (cw *captureWriter) abandon() {
	if cw.state == pending {
		takeLocations(cw.w.Header())
	}
}

// takeLocations removes every Location header from h, whatever the case of
// its key, and returns them.
func takeLocations(h http.Header) http.Header {
	var taken http.Header
	for k, vs := range h {
		if strings.EqualFold(k, "Location") {
			if taken == nil {
				taken = http.Header{}
			}
			taken[k] = vs
			delete(h, k)
		}
	}
	return taken
}

// release ends holding: it saves the challenge for a code the held page
// carries, then sends the page. truncated says the page went past the
// bound. It reports false when the response was replaced by an error.
func (cw *captureWriter) release(truncated bool) bool {
	codes := formPostCodes(cw.buf)
	for _, code := range codes {
		if !cw.save(code) {
			return false
		}
	}
	if truncated && len(codes) == 0 && indexFold(cw.buf, "<form") >= 0 {
		cw.m.log.LogAttrs(cw.ctx, slog.LevelWarn, "pkce: a form page is longer than the capture bound; a code past it is not captured and its token request fails if PKCE is required",
			slog.Int("max_capture_bytes", cw.m.maxCaptureBytes))
	}
	cw.state = passing
	h := cw.w.Header()
	trailers := cw.held.restore(h)
	cw.w.WriteHeader(cw.status)
	if len(cw.buf) > 0 {
		_, _ = cw.w.Write(cw.buf)
	}
	cw.buf = nil
	for k, vs := range trailers {
		h[k] = vs
	}
	return true
}

// heldHeader is the header of a response held back after its status was
// set: what net/http would have sent then (sent), and the copy the handler
// goes on changing (late), as net/http would ignore those changes.
type heldHeader struct{ sent, late http.Header }

func holdHeader(h http.Header) heldHeader {
	return heldHeader{sent: h.Clone(), late: h.Clone()}
}

// restore makes h the header as it was when the status was set. Changes
// made since, through Header or through a map the handler kept from before
// (a Location with a code, say), are dropped, except trailers, which it
// returns to be set after the body.
func (hh heldHeader) restore(h http.Header) (trailers http.Header) {
	for _, changed := range [2]http.Header{hh.late, h} {
		for k, vs := range changed {
			if strings.HasPrefix(k, http.TrailerPrefix) || declaredTrailer(hh.sent, k) {
				if trailers == nil {
					trailers = http.Header{}
				}
				trailers[k] = vs
			}
		}
	}
	clear(h)
	for k, vs := range hh.sent {
		h[k] = vs
	}
	return trailers
}

// saveLocationCodes binds the challenge to each code in a redirect
// Location's query and fragment. ok is false when the response was
// replaced by an error.
func (cw *captureWriter) saveLocationCodes(loc string) (found, ok bool) {
	query, fragment := loc, ""
	if i := strings.IndexByte(loc, '#'); i >= 0 {
		query, fragment = loc[:i], loc[i+1:]
	}
	if i := strings.IndexByte(query, '?'); i >= 0 {
		query = query[i+1:]
	} else {
		query = ""
	}
	for _, part := range [2]string{query, fragment} {
		for part != "" {
			var code string
			code, part = nextCode(part)
			if code == "" {
				continue
			}
			found = true
			if !cw.save(code) {
				return found, false
			}
		}
	}
	return found, true
}

// save binds the challenge to code. If the store fails, it replaces the
// response with an error, so the code never reaches the client.
func (cw *captureWriter) save(code string) bool {
	c := cw.challenge
	c.ExpiresAt = cw.m.now().Add(cw.m.ttl)
	err := cw.m.save(cw.ctx, storeKey(code), c)
	if err == nil {
		return true
	}
	cw.m.logFault(cw.ctx, "authorize", "save", err)
	cw.state = replaced
	cw.buf = nil
	h := cw.w.Header()
	for k := range h {
		delete(h, k) // Location, Set-Cookie, Content-Type: none of it goes out
	}
	storeRefusal(err, "record the code_challenge for the authorization code").write(cw.w)
	return false
}

// nextCode scans an application/x-www-form-urlencoded string for the next
// "code" parameter: it returns its decoded value ("" if this pair is not
// one) and the rest of the string.
func nextCode(s string) (code, rest string) {
	pair, rest, _ := strings.Cut(s, "&")
	key, value, _ := strings.Cut(pair, "=")
	if key != paramCode {
		if !strings.ContainsAny(key, "%+") {
			return "", rest
		}
		if k, err := url.QueryUnescape(key); err != nil || k != paramCode {
			return "", rest
		}
	}
	if v, err := url.QueryUnescape(value); err == nil {
		return v, rest
	}
	return value, rest // a client may still read it raw: bind that
}

// formPostCodes returns the values of the <input> elements named code in a
// form_post page (OAuth 2.0 Form Post Response Mode), whatever the order and
// quoting of their attributes, entity-decoded. An element cut off by the end
// of page is ignored.
func formPostCodes(page []byte) []string {
	var codes []string
	for {
		i := indexFold(page, "<input")
		if i < 0 {
			return codes
		}
		page = page[i+len("<input"):]
		if len(page) == 0 || !(isHTMLSpace(page[0]) || page[0] == '/' || page[0] == '>') {
			continue // e.g. <inputs>
		}
		var name, value string
		var complete bool
		name, value, page, complete = inputAttrs(page)
		if !complete {
			return codes
		}
		if name == paramCode && value != "" {
			codes = append(codes, value)
		}
	}
}

// inputAttrs reads the attributes of a tag up to its '>', returning the
// entity-decoded name and value attributes (the first of each, as HTML
// parsers keep) and the rest of the page after the tag.
func inputAttrs(s []byte) (name, value string, rest []byte, complete bool) {
	var haveName, haveValue bool
	for {
		for len(s) > 0 && (isHTMLSpace(s[0]) || s[0] == '/') {
			s = s[1:]
		}
		if len(s) == 0 {
			return "", "", nil, false
		}
		if s[0] == '>' {
			return name, value, s[1:], true
		}
		// Attribute name: up to whitespace, '/', '>' or '='.
		j := 0
		for j < len(s) && !isHTMLSpace(s[j]) && s[j] != '/' && s[j] != '>' && (s[j] != '=' || j == 0) {
			j++
		}
		attr := s[:j]
		s = s[j:]
		for len(s) > 0 && isHTMLSpace(s[0]) {
			s = s[1:]
		}
		var val []byte
		if len(s) > 0 && s[0] == '=' {
			s = s[1:]
			for len(s) > 0 && isHTMLSpace(s[0]) {
				s = s[1:]
			}
			if len(s) == 0 {
				return "", "", nil, false
			}
			if q := s[0]; q == '"' || q == '\'' {
				end := bytes.IndexByte(s[1:], q)
				if end < 0 {
					return "", "", nil, false
				}
				val, s = s[1:1+end], s[2+end:]
			} else {
				k := 0
				for k < len(s) && !isHTMLSpace(s[k]) && s[k] != '>' {
					k++
				}
				val, s = s[:k], s[k:]
			}
		}
		switch {
		case !haveName && bytes.EqualFold(attr, []byte("name")):
			name, haveName = html.UnescapeString(string(val)), true
		case !haveValue && bytes.EqualFold(attr, []byte("value")):
			value, haveValue = html.UnescapeString(string(val)), true
		}
	}
}

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// indexFold returns the index of the first ASCII-case-insensitive match of
// pattern in b, or -1. pattern starts with a byte that has no case ('<').
func indexFold(b []byte, pattern string) int {
	for i := 0; ; i++ {
		j := bytes.IndexByte(b[i:], pattern[0])
		if j < 0 {
			return -1
		}
		i += j
		if i+len(pattern) > len(b) {
			return -1
		}
		if bytes.EqualFold(b[i:i+len(pattern)], []byte(pattern)) {
			return i
		}
	}
}

// declaredTrailer reports whether the Trailer header of h declares k.
func declaredTrailer(h http.Header, k string) bool {
	for _, v := range h.Values("Trailer") {
		for _, t := range strings.Split(v, ",") {
			if http.CanonicalHeaderKey(strings.TrimSpace(t)) == k {
				return true
			}
		}
	}
	return false
}

// writerOnly hides every method but Write, so io.Copy does not call
// ReadFrom back.
type writerOnly struct{ io.Writer }
