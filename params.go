package pkce

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
)

// OAuth parameter names.
const (
	paramResponseType        = "response_type"
	paramResponseMode        = "response_mode"
	paramClientID            = "client_id"
	paramClientSecret        = "client_secret"
	paramRedirectURI         = "redirect_uri"
	paramState               = "state"
	paramNonce               = "nonce"
	paramCodeChallenge       = "code_challenge"
	paramCodeChallengeMethod = "code_challenge_method"
	paramRequest             = "request"
	paramRequestURI          = "request_uri"
	paramGrantType           = "grant_type"
	paramCode                = "code"
	paramCodeVerifier        = "code_verifier"
	paramResource            = "resource"
)

const (
	mediaForm = "application/x-www-form-urlencoded"
	mediaJSON = "application/json"
)

// params is what the middleware read of a request: the body, once, and the
// parameters exactly as the wrapped handler can see them.
type params struct {
	body []byte
	// values are the body's parameters (form or JSON) then the query's:
	// what the middleware checks.
	values url.Values
	// form and postForm are what http.Request.ParseForm gives the handler:
	// for a JSON body, the query values and no body values.
	form, postForm url.Values
	query          url.Values // the URL query alone; nil when it is empty
	queryRead      bool       // the URL query was read whole
	consumed       bool       // the body was read from r, by the middleware or before it
	// raw is every byte the middleware read from r.Body, whatever came of
	// it, and touched says it read from r.Body at all: original hands them
	// on under Config.ReportOnly.
	raw     []byte
	touched bool
}

// readParams reads into p the query and the body of r: once, at most
// maxBody bytes. The body is read for POST, PUT and PATCH, and at the token
// endpoint (token) for any method that sends one. Form bodies are
// understood, and JSON bodies at the token endpoint. Anything else is a
// refusal: the middleware never passes on what it could not read.
//
// A body read before the middleware is never taken for an empty one: a form
// already parsed into r.PostForm is checked from there (fromParsedForm); a
// body that ends before its Content-Length, or was closed, is refused with
// 500 server_error naming the misordering. A drained body sent without a
// Content-Length (chunked) cannot be told from an empty one: at the token
// endpoint it has no grant_type and is refused for that.
func readParams(p *params, r *http.Request, maxBody int64, token bool) *refusal {
	if r.URL.RawQuery != "" {
		query, err := parseForm(r.URL.RawQuery)
		if err != nil {
			return badRequest(ReasonBadRequest, "the URL query cannot be parsed: "+err.Error())
		}
		p.query = query // only once it is known whole
	}
	p.queryRead = true
	ct := r.Header.Get("Content-Type")
	mt := mediaType(ct)
	formMethod := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
	if formMethod || (token && hasBody(r)) {
		if hasBody(r) && mt != mediaForm && (mt != mediaJSON || !token) {
			return unsupportedBody(ct, token) // refused before a byte is read
		}
		if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") && hasBody(r) {
			return badRequest(ReasonBadRequest, "the request body is content-encoded ("+quoteParam(enc)+"); send it uncompressed")
		}
		if r.ContentLength > maxBody {
			return badRequest(ReasonBadRequest, fmt.Sprintf("the request body is larger than %d bytes", maxBody))
		}
		if formMethod && mt == mediaForm && r.PostForm != nil {
			// Parsed before the middleware: the body is gone, its values
			// are in r.PostForm.
			return p.fromParsedForm(r, maxBody)
		}
		p.consumed = hasBody(r)
		p.touched = r.Body != nil && r.Body != http.NoBody
		var err error
		p.raw, err = readBody(r, maxBody)
		if err != nil {
			switch {
			case errors.Is(err, errBodyTooLarge):
				return badRequest(ReasonBadRequest, fmt.Sprintf("the request body is larger than %d bytes", maxBody))
			case errors.Is(err, http.ErrBodyReadAfterClose):
				return bodyConsumed()
			}
			return badRequest(ReasonBadRequest, "the request body could not be read")
		}
		p.body = p.raw
		// A body read before the middleware and not parsed (a logger that
		// drained it) ends early. Whatever read it may hand the request on
		// (a framework's body cache): refuse rather than check nothing.
		if r.ContentLength > 0 && int64(len(p.body)) < r.ContentLength {
			return bodyConsumed()
		}
	}
	var body url.Values
	var err error
	switch {
	case len(p.body) == 0:
		// An empty body may come with any Content-Type, or none.
	case mt == mediaForm:
		// RFC 6749 §4.1.3, appendix B. A JSON document labelled as a form
		// would parse as junk with no grant: refuse it rather than pass it.
		if c := firstNonSpace(p.body); c == '{' || c == '[' {
			return badRequest(ReasonBadRequest, "the body is JSON but its Content-Type says "+mediaForm+"; send it as "+mediaForm)
		}
		if body, err = parseForm(string(p.body)); err != nil {
			return badRequest(ReasonBadRequest, "the form body cannot be parsed: "+err.Error())
		}
	case mt == mediaJSON && token:
		if body, err = parseJSONParams(p.body); err != nil {
			return badRequest(ReasonBadRequest, "the JSON body cannot be read: "+strings.TrimPrefix(err.Error(), "pkce: "))
		}
	default:
		return unsupportedBody(ct, token)
	}
	p.values = merge(body, p.query)
	if p.values == nil {
		p.values = url.Values{} // read, and empty
	}
	// What http.Request.ParseForm would give the handler: the body's values
	// only for a form body of POST, PUT or PATCH.
	if formMethod && mt == mediaForm {
		p.form, p.postForm = p.values, body
		if len(p.query) == 0 && len(body) > 0 {
			// Form is a map of its own, as net/http makes it; its value
			// slices are PostForm's.
			p.form = maps.Clone(body)
		}
		if p.postForm == nil {
			p.postForm = url.Values{}
		}
	} else if formMethod {
		// Filled, so a later ParseForm does not read the body again.
		p.form, p.postForm = p.query, url.Values{}
	} else {
		p.form = p.query // ParseForm fills PostForm with an empty map if asked
	}
	if p.form == nil {
		p.form = url.Values{} // filled, as ParseForm leaves it
	}
	return nil
}

// fromParsedForm reads into p a form body that was parsed before the
// middleware (an outer r.ParseForm or r.FormValue, a framework's form
// binding): net/http kept its values in r.PostForm, and they are checked
// with the query under the same rules as a body the middleware reads, then
// handed on as they are, so the handler sees exactly what was checked. The
// form must be as ParseForm left it (r.Form the body's values then the
// query's), and a body put back since must say the same: anything else
// cannot be told apart from a request changed after the client sent it,
// and is refused as a misordering.
func (p *params) fromParsedForm(r *http.Request, maxBody int64) *refusal {
	p.values = merge(r.PostForm, p.query)
	if r.Form != nil && !sameValues(r.Form, p.values) {
		p.consumed = true
		return misordered("the request's form was parsed and then changed before the PKCE middleware; put the middleware before anything that reads or changes the body")
	}
	if r.Body != nil && r.Body != http.NoBody {
		// Normally nothing is left. A body put back after parsing is what
		// a handler reading it raw gets: it must agree.
		rest, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		p.raw, p.touched = rest, true
		if err == nil && len(rest) > 0 {
			body, err := url.ParseQuery(string(rest))
			if err != nil || int64(len(rest)) > maxBody || !sameValues(body, r.PostForm) {
				p.consumed = true
				return misordered("the request body differs from the form parsed from it before the PKCE middleware; put the middleware before anything that reads or changes the body")
			}
			p.body = rest
		}
	}
	p.form, p.postForm = r.Form, r.PostForm
	if p.form == nil {
		p.form = p.values
	}
	return nil
}

// sameValues reports whether a and b hold the same values in the same
// order.
func sameValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

func unsupportedBody(ct string, token bool) *refusal {
	want := mediaForm
	if token {
		want += " (or " + mediaJSON + ")"
	}
	if ct == "" {
		return badRequest(ReasonBadRequest, "the request body has no Content-Type; send it as "+want)
	}
	return badRequest(ReasonBadRequest, "the Content-Type "+quoteParam(ct)+" is not supported; send the parameters as "+want)
}

// hasBody reports whether r sends a body.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && (r.ContentLength != 0 || len(r.TransferEncoding) > 0)
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		if !isJSONSpace(c) {
			return c
		}
	}
	return 0
}

// caseVariant returns the name among names that key equals but for case
// (Unicode simple folding, as encoding/json and form binders match), or
// "". A request that spells a parameter the middleware reads in another
// case could be read by a lenient handler as the parameter the middleware
// did not check.
func caseVariant(key string, names ...string) string {
	for _, n := range names {
		if len(key) >= len(n) && key != n && strings.EqualFold(key, n) {
			return n
		}
	}
	return ""
}

// merge returns body and query values together as http.Request.ParseForm
// merges them: body values first. It returns query itself when body is
// empty, and body itself when query is.
func merge(body, query url.Values) url.Values {
	if len(body) == 0 {
		return query
	}
	if len(query) == 0 {
		return body
	}
	all := make(url.Values, len(body)+len(query))
	for k, vs := range body {
		all[k] = append(all[k], vs...)
	}
	for k, vs := range query {
		all[k] = append(all[k], vs...)
	}
	return all
}

// request returns the shallow copy of r that the wrapped handler gets: its
// body restored byte for byte, Form and PostForm already filled from the
// same read, so the handler neither re-reads nor re-parses.
func (p *params) request(r *http.Request, ctx context.Context) *http.Request {
	var r2 *http.Request
	if ctx != nil {
		r2 = r.WithContext(ctx)
		if p.body != nil {
			b := new(replayBody)
			b.Reset(p.body)
			r2.Body = b
		}
	} else {
		// One allocation for the copy and its body.
		c := new(requestCopy)
		c.r = *r
		r2 = &c.r
		if p.body != nil {
			c.body.Reset(p.body)
			r2.Body = &c.body
		}
	}
	r2.Form, r2.PostForm = p.form, p.postForm
	return r2
}

// original returns r as the wrapped handler gets it without the middleware
// (Config.ReportOnly, a refused request): r itself when the middleware read
// nothing of its body, else a shallow copy whose body gives what the
// middleware read, then the rest, and whose Form and PostForm are r's.
func (p *params) original(r *http.Request) *http.Request {
	if !p.touched {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = &replayRest{Reader: io.MultiReader(bytes.NewReader(p.raw), r.Body), rest: r.Body}
	return r2
}

// replayRest is a body the middleware read part or all of, given back whole.
type replayRest struct {
	io.Reader
	rest io.ReadCloser
}

func (b *replayRest) Close() error { return b.rest.Close() }

// first returns the first value of name among the request's parameters
// (the query alone when the body could not be read), "" if none.
func (p *params) first(name string) string {
	if p.values != nil {
		return p.get(name)
	}
	return p.query.Get(name)
}

// namedClient returns the client a token request names, for the event and
// the log line of a refusal made before its client was checked: the HTTP
// Basic user name when it decodes, else the first client_id.
func (p *params) namedClient(r *http.Request) string {
	if id, ok, err := basicClientID(r.Header); ok && err == nil {
		return id
	}
	return p.first(paramClientID)
}

// get returns the single value of name, "" if absent or empty (OAuth 2.1:
// a parameter without a value is treated as omitted).
func (p *params) get(name string) string {
	if vs := p.values[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// repeated returns a parameter given more than once, in body and query
// together, of those single selects; "" if none. RFC 6749 §3.1: request
// parameters must not be included more than once. A repeat with an empty
// value is still a repeat.
func (p *params) repeated(single func(string) bool) string {
	for name, vs := range p.values {
		if len(vs) > 1 && single(name) {
			return name
		}
	}
	return ""
}

// replayBody hands the wrapped handler the body the middleware read.
type replayBody struct{ bytes.Reader }

func (*replayBody) Close() error { return nil }

// requestCopy is a request handed on and its replayed body, allocated
// together.
type requestCopy struct {
	r    http.Request
	body replayBody
}

// parseForm is url.ParseQuery for the common case, in fewer allocations:
// the values of all keys share one backing array (each slice capped at its
// length, so an append by the handler copies). A query with ';', a
// malformed escape or many pairs goes to url.ParseQuery itself, so errors
// and limits are net/url's.
func parseForm(s string) (url.Values, error) {
	n := strings.Count(s, "&") + 1
	if n > maxScannedParams || strings.IndexByte(s, ';') >= 0 {
		return url.ParseQuery(s)
	}
	vals := make([]string, 0, n)
	m := make(url.Values, n)
	for rest := s; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		if !wellEscaped(key) || !wellEscaped(value) {
			return url.ParseQuery(s)
		}
		key, value = queryDecode(key), queryDecode(value)
		if vs, ok := m[key]; ok {
			m[key] = append(vs, value)
			continue
		}
		vals = append(vals, value)
		m[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return m, nil
}

var errBodyTooLarge = errors.New("pkce: request body too large")

// readBody reads all of r.Body, at most max bytes; one allocation when the
// Content-Length is known. On an error it returns what it read.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, errBodyTooLarge
	}
	size := int64(512)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1 // room to see EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return buf, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// mediaType returns the lower-cased media type of a Content-Type value,
// without its parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.EqualFold(ct, mediaForm):
		return mediaForm
	case strings.EqualFold(ct, mediaJSON):
		return mediaJSON
	}
	return strings.ToLower(ct)
}

// parseJSONParams reads a JSON object body into parameters: a string member
// is one value, an array of strings several (a member given twice is two
// values). Members of other types are the wrapped server's business and are
// left out, except that a parameter the middleware reads must be a string.
func parseJSONParams(body []byte) (url.Values, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("pkce: the body is not a JSON object")
	}
	vals := url.Values{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("pkce: the body is not valid JSON")
		}
		key := t.(string) // object keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("pkce: the body is not valid JSON")
		}
		var s string
		var list []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			vals[key] = append(vals[key], s)
		case json.Unmarshal(raw, &list) == nil:
			vals[key] = append(vals[key], list...)
		case readsParam(key):
			return nil, fmt.Errorf("pkce: the member %s must be a JSON string", quoteParam(key))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New("pkce: the body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("pkce: the body has data after the JSON object")
	}
	return vals, nil
}

// readsParam reports whether the token endpoint reads name itself.
func readsParam(name string) bool {
	switch name {
	case paramGrantType, paramCode, paramCodeVerifier, paramClientID, paramClientSecret, paramRedirectURI:
		return true
	}
	return false
}

var errBadBasic = errors.New("pkce: the Authorization header is not valid HTTP Basic: it must be base64 of the form-encoded client_id, a colon and the form-encoded secret (RFC 6749 section 2.3.1)")

// basicClientID returns the client of an HTTP Basic Authorization header,
// its user name form-decoded as RFC 6749 §2.3.1 requires (clients send
// demo%2Dapp for demo-app). ok is false when the request has no Basic
// credentials.
func basicClientID(h http.Header) (id string, ok bool, err error) {
	vs := h.Values("Authorization")
	if len(vs) == 0 {
		return "", false, nil
	}
	const prefix = "Basic "
	a := vs[0]
	if strings.EqualFold(strings.TrimSpace(a), "Basic") {
		return "", true, errBadBasic // the scheme without credentials
	}
	if len(a) < len(prefix) || !strings.EqualFold(a[:len(prefix)], prefix) {
		return "", false, nil // another scheme: the wrapped server's business
	}
	if len(vs) > 1 {
		return "", true, errors.New("pkce: the request has more than one Authorization header")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a[len(prefix):]))
	if err != nil {
		return "", true, errBadBasic
	}
	user, _, found := strings.Cut(string(raw), ":")
	if !found {
		return "", true, errBadBasic
	}
	if id, err = url.QueryUnescape(user); err != nil || id == "" {
		return "", true, errBadBasic
	}
	return id, true, nil
}
