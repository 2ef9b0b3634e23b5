package pkce

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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
//
// Only a code the handler issued is bound (DESIGN.md Authorize 7): see
// codeFinder for what counts as one.
type captureWriter struct {
	w         http.ResponseWriter
	m         *Middleware
	ctx       context.Context // the authorization request's
	challenge Challenge       // ExpiresAt zero, as FromContext returns it
	head      bool            // a HEAD request: no body to look at
	req       carried         // what the request carried: never an issued code

	state   captureState
	status  int
	refusal *refusal   // what bind refused, sent or (ReportOnly) only reported
	ended   bool       // finish ran: the handler returned
	held    heldHeader // the header while a page is held
	buf     []byte     // the held page

	handlerCtx challengeCtx // the wrapped handler's context (withChallenge)
}

// challengeCtx is the context the wrapped handler gets: the request's,
// with the captureWriter as its challengeKey value, as context.WithValue
// would make it, held in the captureWriter's allocation.
type challengeCtx struct {
	context.Context
	cw *captureWriter
}

// Value returns the captureWriter for challengeKey, else the request
// context's value.
func (c *challengeCtx) Value(key any) any {
	if _, ok := key.(challengeKey); ok {
		return c.cw
	}
	return c.Context.Value(key)
}

// withChallenge returns ctx with cw as its challengeKey value
// (FromContext).
func (cw *captureWriter) withChallenge(ctx context.Context) context.Context {
	cw.handlerCtx = challengeCtx{Context: ctx, cw: cw}
	return &cw.handlerCtx
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
	f := codeFinder{req: &cw.req}
	for k, vs := range h {
		if !strings.EqualFold(k, "Location") {
			continue
		}
		for _, loc := range vs {
			f.location(loc)
		}
	}
	if !cw.bind(&f) {
		return
	}
	if f.found() {
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
// must be held back: a 2xx with a body that is HTML (text/html or
// application/xhtml+xml) or untyped, not content-encoded. Servers pick
// form_post per client, so any such page may carry a code.
func (cw *captureWriter) mayBeFormPost(h http.Header) bool {
	if cw.head || cw.status < 200 || cw.status > 299 || cw.status == http.StatusNoContent ||
		h.Get("Content-Encoding") != "" || cw.m.maxCaptureBytes == 0 {
		return false
	}
	ct := h.Get("Content-Type")
	switch mediaType(ct) {
	case "", "text/html", "application/xhtml+xml":
		return true
	}
	return false
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
	cw.ended = true
	if cw.state == pending {
		// Nothing was written: net/http would send 200 with the header as it
		// is, so the header is checked as for any 200.
		cw.WriteHeader(http.StatusOK)
	}
	if cw.state == holding {
		cw.release(false)
	}
}

// done runs when the handler returns or panics, and reports the request's
// event. After a panic nothing was decided: a Location left in the header
// (a code not yet bound) is removed, so a recovering middleware outside
// cannot send it with its 500, and the event carries the status sent
// before the panic, 0 if none.
func (cw *captureWriter) done() {
	if cw.state == pending {
		takeLocations(cw.w.Header())
	}
	if cw.m.onEvent == nil {
		return
	}
	ev := Event{Endpoint: "authorize", ClientID: cw.challenge.ClientID, PKCE: true, Method: cw.challenge.Method}
	if cw.ended || cw.state == passing || cw.state == replaced {
		ev.Status = cw.status
	}
	if cw.refusal != nil {
		ev.Refusal, ev.Enforced = cw.refusal.reason, !cw.m.reportOnly
	}
	cw.m.emit(cw.ctx, ev)
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
	f := codeFinder{req: &cw.req}
	f.page(cw.buf)
	if !cw.bind(&f) {
		return false
	}
	if f.elsewhere {
		cw.m.log.LogAttrs(cw.ctx, slog.LevelWarn, "pkce: a page carries a code input in a form that does not post to the request's redirect_uri; it is not bound: a server that mints the code before such a page (a consent form) binds it with Record",
			slog.String("client_id", cw.challenge.ClientID))
	}
	if truncated && !f.found() && indexFold(cw.buf, "<form") >= 0 {
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

// bind saves the challenge for the one code f found, if any. It fails
// closed, replacing the response with an error, when f found several codes
// or an encrypted JARM response, or when the save fails. It reports false
// when the response was replaced.
func (cw *captureWriter) bind(f *codeFinder) bool {
	if f.echoed {
		cw.m.log.LogAttrs(cw.ctx, slog.LevelWarn, "pkce: the response carries a code that the request itself carried (an echo of its parameters or of its redirect_uri's query); it is not bound",
			slog.String("client_id", cw.challenge.ClientID))
	}
	var reason, desc string
	switch {
	case f.encrypted:
		reason = ReasonResponseUnreadable
		desc = "the authorization response is an encrypted JARM response (JWE): its code cannot be read, so its PKCE challenge could never be checked; it was not sent. Use a signed, unencrypted JARM response mode with PKCE"
	case f.several:
		reason = ReasonMultipleCodes
		desc = "the authorization response carried several codes; a response may carry one code only, so none was sent"
	case f.code != "":
		return cw.save(f.code)
	default:
		return true
	}
	return cw.fail(failClosed(reason, desc))
}

// fail refuses the response for e: it replaces it with e and reports
// false; under Config.ReportOnly it only reports e (the response goes out
// as the handler wrote it, its code unbound) and reports true. Either way
// e is logged and becomes the request's event.
func (cw *captureWriter) fail(e *refusal) bool {
	cw.m.logRefusal(cw.ctx, "authorize", cw.challenge.ClientID, e)
	cw.refusal = e
	if cw.m.reportOnly {
		return true
	}
	cw.replace(e)
	return false
}

// save binds the challenge to code. If the store fails, it replaces the
// response with an error, so the code never reaches the client (under
// Config.ReportOnly the response goes out, the code unbound, and the fault
// is reported). A code
// whose key is already bound to another challenge (ErrExists) or used
// (ErrUsed) is never rebound: the response fails closed, logged at Error
// as a possible attack (a stolen code echoed back through this request).
func (cw *captureWriter) save(code string) bool {
	c := cw.challenge
	c.ExpiresAt = cw.m.now().Add(cw.m.ttl)
	c.RedirectURI = "" // kept for the pushed request only
	err := cw.m.save(cw.ctx, storeKey(code), c)
	if err == nil {
		return cw.usePushed() // a request_uri is single use (indirect.go)
	}
	if errors.Is(err, ErrUsed) || errors.Is(err, ErrExists) {
		what := "is already bound to another code_challenge"
		if errors.Is(err, ErrUsed) {
			what = "was already redeemed"
		}
		return cw.fail(failClosed(ReasonRebind,
			"the authorization code issued for this request "+what+", so it was not sent: a code serves one authorization request only (the server issued the same code twice, or a possible attack echoed a stolen code through this request)"))
	}
	cw.m.logFault(cw.ctx, "authorize", "save", err)
	return cw.fail(storeRefusal(err, "record the code_challenge for the authorization code"))
}

// replace drops the handler's response and sends e instead: nothing of the
// handler's (Location, Set-Cookie, Content-Type, the held page) goes out.
func (cw *captureWriter) replace(e *refusal) {
	cw.state = replaced
	cw.status = e.status
	cw.buf = nil
	h := cw.w.Header()
	for k := range h {
		delete(h, k)
	}
	e.write(cw.w)
}

// jarmParam is the parameter a JARM response travels in (JWT Secured
// Authorization Response Mode for OAuth 2.0, section 2.1), in a redirect's
// query or fragment or a form_post page.
const jarmParam = "response"

// codeFinder finds the code a response carries (DESIGN.md Authorize 7).
// Only a code the wrapped handler issued counts:
//
//   - in a redirect, the code and response (JARM) parameters of the
//     Location's query and fragment, less those of the request's own
//     redirect_uri (which the server keeps, RFC 6749 §3.1.2), compared as a
//     multiset of decoded pairs, since servers re-encode and reorder;
//   - in a page, the code and response inputs of a form that posts to the
//     request's redirect_uri, or of any POST form when the request named
//     none (OAuth 2.0 Form Post Response Mode);
//   - never a value the request itself carried (carried.has): a handler
//     that echoes its request (a login redirect with the request's query,
//     a consent page with its parameters as hidden inputs) must not get a
//     stolen code bound to the attacker's challenge.
//
// The same code found twice is one code; distinct ones are several, which
// fails closed, so one response writes at most one store entry.
type codeFinder struct {
	req       *carried
	own       []param // the redirect_uri's own code and response parameters
	ownRead   bool
	code      string // the one code found
	several   bool   // distinct codes were found
	encrypted bool   // a JARM response is encrypted: its code cannot be read
	echoed    bool   // a candidate was a value the request carried: not bound
	elsewhere bool   // a code input in a form that does not post to the redirect_uri
}

// found reports whether the response carries a code (or something that
// fails closed).
func (f *codeFinder) found() bool { return f.code != "" || f.several || f.encrypted }

// add counts a candidate code.
func (f *codeFinder) add(code string) {
	switch {
	case code == "":
	case f.req.has(code):
		f.echoed = true
	case f.code == "":
		f.code = code
	case code != f.code:
		f.several = true
	}
}

// addJARM counts the codes of a JARM response.
func (f *codeFinder) addJARM(jwt string) {
	switch {
	case jwt == "":
		return
	case f.req.has(jwt):
		f.echoed = true
		return
	}
	codes, encrypted := jarmCodes(jwt)
	f.encrypted = f.encrypted || encrypted
	for _, c := range codes {
		f.add(c)
	}
}

// location counts the codes of a redirect's Location.
func (f *codeFinder) location(loc string) {
	if !f.ownRead {
		f.own, f.ownRead = f.req.ownParams(), true
	}
	var subtracted []bool
	if len(f.own) > 0 {
		subtracted = make([]bool, len(f.own))
	}
	query, fragment := splitURL(loc)
	for _, part := range [2]string{query, fragment} {
		for part != "" {
			var rawName, rawValue string
			rawName, rawValue, part = nextPair(part)
			name := queryDecode(rawName)
			if name != paramCode && name != jarmParam {
				continue
			}
			value := queryDecode(rawValue)
			if subtract(f.own, subtracted, param{name, value}) {
				continue // the redirect_uri's own, kept by the server
			}
			if name == paramCode {
				f.add(value)
			} else {
				f.addJARM(value)
			}
		}
	}
}

// subtract marks the first unmarked pair of own equal to p and reports
// whether there was one.
func subtract(own []param, marked []bool, p param) bool {
	for i, o := range own {
		if !marked[i] && o == p {
			marked[i] = true
			return true
		}
	}
	return false
}

// page counts the codes of a form_post page: the code and response inputs
// of the forms that post to the request's redirect_uri (carried.isTarget),
// whatever the order and quoting of their attributes, entity-decoded. As in
// a browser, a form start tag inside a form is ignored and a form ends at
// its end tag or the end of the page; comments are skipped. An element cut
// off by the end of the page is ignored.
func (f *codeFinder) page(page []byte) {
	inForm, target := false, false
	for {
		i := bytes.IndexByte(page, '<')
		if i < 0 {
			return
		}
		page = page[i:]
		switch {
		case len(page) >= 4 && string(page[:4]) == "<!--":
			if page = skipComment(page); page == nil {
				return
			}
		case isTag(page, "<form"):
			method, action, rest, complete := tagAttrs(page[len("<form"):], "method", "action")
			if !complete {
				return
			}
			page = rest
			if !inForm { // a form inside a form is ignored, as browsers do
				inForm = true
				target = strings.EqualFold(strings.TrimSpace(method), "post") && f.req.isTarget(action)
			}
		case isTag(page, "</form"):
			inForm = false
			page = page[len("</form"):]
		case isTag(page, "<input"):
			name, value, rest, complete := tagAttrs(page[len("<input"):], "name", "value")
			if !complete {
				return
			}
			page = rest
			f.input(name, value, inForm && target)
		default:
			page = page[1:]
		}
	}
}

// input counts an <input> of a page; inTarget says it is in a form that
// posts to the redirect_uri.
func (f *codeFinder) input(name, value string, inTarget bool) {
	switch {
	case value == "":
	case inTarget && name == paramCode:
		f.add(value)
	case inTarget && name == jarmParam:
		f.addJARM(value)
	case name == paramCode && f.req.has(value):
		f.echoed = true
	case name == paramCode:
		f.elsewhere = true
	}
}

// isTag reports whether page starts with the tag opening open (such as
// "<form"), in any case, followed by what may end a tag name.
func isTag(page []byte, open string) bool {
	if len(page) <= len(open) || !bytes.EqualFold(page[:len(open)], []byte(open)) {
		return false
	}
	c := page[len(open)]
	return isHTMLSpace(c) || c == '/' || c == '>'
}

// skipComment returns page after the comment it starts with ("<!--"), nil
// when the comment runs to the end. As in browsers, "<!-->" and "<!--->"
// are empty comments and "--!>" ends one too.
func skipComment(page []byte) []byte {
	body := page[len("<!--"):]
	switch {
	case bytes.HasPrefix(body, []byte(">")):
		return body[1:]
	case bytes.HasPrefix(body, []byte("->")):
		return body[2:]
	}
	end, n := bytes.Index(body, []byte("-->")), 3
	if alt := bytes.Index(body, []byte("--!>")); alt >= 0 && (end < 0 || alt < end) {
		end, n = alt, 4
	}
	if end < 0 {
		return nil
	}
	return body[end+n:]
}

// splitURL returns the raw query and fragment of a URL (or of a Location
// header's value, which may be relative).
func splitURL(s string) (query, fragment string) {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s, fragment = s[:i], s[i+1:]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		query = s[i+1:]
	}
	return query, fragment
}

// nextPair returns the next name=value pair of an
// application/x-www-form-urlencoded string, raw, and the rest. Empty pairs
// are skipped.
func nextPair(s string) (name, value, rest string) {
	for strings.HasPrefix(s, "&") {
		s = s[1:]
	}
	pair, rest, _ := strings.Cut(s, "&")
	name, value, _ = strings.Cut(pair, "=")
	return name, value, rest
}

// nextParam is nextPair, decoded.
func nextParam(s string) (name, value, rest string) {
	name, value, rest = nextPair(s)
	return queryDecode(name), queryDecode(value), rest
}

// queryDecode decodes a form-encoded string without allocating when there
// is nothing to decode. A malformed escape leaves it raw: a client may
// still read it so, and it is bound so.
func queryDecode(s string) string {
	if !needsDecode(s) {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// needsDecode reports whether s has a '%' or a '+', that is something
// queryDecode may change (strings.ContainsAny, without its per-call set).
func needsDecode(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return true
		}
	}
	return false
}

// jarmCodes returns the code claims of a JARM response (JWT Secured
// Authorization Response Mode for OAuth 2.0): the payload of a signed JWT
// (JWS compact serialization, RFC 7515 §7.1), read without checking the
// signature, which the server made. encrypted is true for a JWE (RFC 7516
// §7.1: five parts, or a header with "enc"), whose code cannot be read.
// A value that is not a JWT has no code.
func jarmCodes(jwt string) (codes []string, encrypted bool) {
	switch strings.Count(jwt, ".") {
	case 4:
		return nil, true
	case 2:
	default:
		return nil, false
	}
	header, rest, _ := strings.Cut(jwt, ".")
	payload, _, _ := strings.Cut(rest, ".")
	h, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(header, "="))
	if err != nil {
		return nil, false
	}
	if _, enc, ok := jsonMember(h, "enc"); !ok {
		return nil, false
	} else if enc {
		return nil, true
	}
	p, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return nil, false
	}
	codes, _, _ = jsonMember(p, paramCode)
	return codes, false
}

// jsonMember reads a JSON object and returns the string values of its
// member name (each one, should the member be repeated) and whether the
// member is there at all. ok is false when doc is not a JSON object.
func jsonMember(doc []byte, name string) (values []string, present, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false, false
		}
		if t.(string) != name { // object keys are strings
			continue
		}
		present = true
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			values = append(values, s)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, false, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, false // data after the object
	}
	return values, present, true
}

// tagAttrs reads the attributes of a tag up to its '>', returning the
// entity-decoded values of the attributes named a and b (the first of each,
// as HTML parsers keep; names in any case) and the rest of the page after
// the tag. complete is false when the tag is cut off.
func tagAttrs(s []byte, a, b string) (va, vb string, rest []byte, complete bool) {
	var haveA, haveB bool
	for {
		for len(s) > 0 && (isHTMLSpace(s[0]) || s[0] == '/') {
			s = s[1:]
		}
		if len(s) == 0 {
			return "", "", nil, false
		}
		if s[0] == '>' {
			return va, vb, s[1:], true
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
		case !haveA && bytes.EqualFold(attr, []byte(a)):
			va, haveA = html.UnescapeString(string(val)), true
		case !haveB && bytes.EqualFold(attr, []byte(b)):
			vb, haveB = html.UnescapeString(string(val)), true
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
