package pkce

import (
	"html"
	"net/http"
	"net/url"
	"strings"
)

// authorizeSingle reports whether an authorization parameter must not
// repeat (RFC 6749 §3.1): the ones the middleware reads or the flow depends
// on. Others are the wrapped server's business (RFC 8707 lets resource
// repeat).
func authorizeSingle(name string) bool {
	switch name {
	case paramResponseType, paramClientID, paramRedirectURI, paramState, paramResponseMode,
		paramNonce, paramCodeChallenge, paramCodeChallengeMethod, paramRequest, paramRequestURI:
		return true
	}
	return false
}

// Authorize wraps the authorization endpoint. For a request whose
// response_type includes code it validates code_challenge and
// code_challenge_method (RFC 7636 §4.3, §4.4.1), puts the challenge in the
// request context ([FromContext]), and runs next behind a response writer
// that holds the response back until it knows whether a code is being
// issued. That code is bound to the challenge in the [Store] before any byte
// of the response reaches the client. If that fails, the client gets HTTP
// 500 server_error (503 when the store is full) and never sees the code.
//
// Only a code the wrapped handler issued is bound: the code parameter of a
// redirect's Location (query or fragment) less the parameters of the
// request's own redirect_uri, compared after decoding; the code input of a
// form_post page, that is of a form that posts to the request's
// redirect_uri (any POST form when the request names none); or the code
// claim of a signed JARM response (OpenID JWT Secured Authorization
// Response Mode: the response parameter). A value the request itself carried
// (a parameter, or a parameter inside one, such as the redirect_uri's own
// query) is never taken for an issued code, so a handler that echoes its
// request (a login redirect, a consent page) cannot have a stolen code bound
// to another challenge. One response binds at most one code. Several
// distinct codes, an encrypted (JWE) JARM response whose code cannot be
// read, and a code already bound to another challenge or already used
// (the Store returns [ErrExists] or [ErrUsed]; logged at Error as a
// possible attack) fail closed: HTTP 500 server_error, and the code never
// leaves. A server that mints the code before a consent page and carries it
// through the consent form is not captured: it binds the code with
// [Middleware.Record] when it mints it.
//
// A request object (request, RFC 9101) is read: its payload's
// code_challenge, code_challenge_method, client_id, response_type and
// redirect_uri count, and its strings are never taken for an issued code.
// A request_uri that [Middleware.PAR] recorded (RFC 9126) is looked up
// without being used up; its client must be the request's client_id, the
// code the handler issues is bound to the pushed challenge, and the pushed
// request is used up with it (single use). An outer code_challenge or
// code_challenge_method that differs from the inner or pushed one is
// refused. A request_uri the middleware did not record, or that expired,
// and an encrypted or malformed request object are refused under a policy
// that requires PKCE, and pass unbound under an optional one.
//
// Refusals are invalid_request: by default an HTTP 400 JSON response, never
// a redirect to a redirect_uri the middleware cannot vouch for; see
// [Config.RedirectErrors]. Methods other than GET, HEAD and POST pass
// through untouched, as do requests without response_type code; a request
// with request or request_uri is checked whatever its outer response_type,
// since the real one is inside. A POST whose body the
// middleware cannot read (not a form, or larger than [Config.MaxBodyBytes])
// is refused when its query asks for a code and passes through untouched
// otherwise (a login form, say). Under [Config.ReportOnly] nothing is
// refused or replaced: what would be is reported and the response is the
// wrapped handler's. The returned handler is safe for concurrent use.
func (m *Middleware) Authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost && r.Form == nil && r.PostForm == nil {
			// The common case, a request for a code with a challenge in its
			// query, is read in place; anything else goes the full way.
			if q, ok := scanAuthorizeQuery(r.URL.RawQuery); ok && q.challenge != "" {
				if c, bind, e := m.checkChallenge(r, q.clientID, q.challenge, q.method); e == nil && bind {
					m.capture(w, r, next, c, carried{raw: r.URL.RawQuery, redirectURI: q.redirectURI})
					return
				}
			}
		}
		var read params
		p := &read
		if e := readParams(p, r, m.maxBodyBytes, false); e != nil {
			if p.queryRead && !p.consumed && !maybeCodeRequest(p.query) {
				// A POST the middleware cannot read, whose query shows it
				// is no code request (a login form, say): not PKCE's
				// business. Were its body to ask for a code anyway, the
				// code would have no challenge and fail at the token
				// endpoint under a requiring policy.
				next.ServeHTTP(w, r)
				return
			}
			m.refuseAuthorize(w, r, p, e, next)
			return
		}
		c, bind, business, ind, e := m.checkAuthorize(r, p)
		switch {
		case e != nil:
			m.refuseAuthorize(w, r, p, e, next)
			return
		case !business:
			next.ServeHTTP(w, p.request(r, nil)) // implicit and others: no event
			return
		case !bind:
			m.serve(next, w, p.request(r, nil), authorizeEvent(p))
			return
		}
		cw := &captureWriter{w: w, m: m, ctx: r.Context(), challenge: c, head: r.Method == http.MethodHead,
			req: ind.carriedBy(p)}
		defer cw.done() // a panic included
		next.ServeHTTP(cw, p.request(r, cw.withChallenge(r.Context())))
		cw.finish()
	})
}

// capture runs next for a GET or HEAD request read in place
// (scanAuthorizeQuery), as Authorize does for a request with a challenge
// to bind: next gets r with the challenge in its context, its Form left for
// net/http to parse, as without the middleware.
func (m *Middleware) capture(w http.ResponseWriter, r *http.Request, next http.Handler, c Challenge, req carried) {
	cw := &captureWriter{w: w, m: m, ctx: r.Context(), challenge: c, head: r.Method == http.MethodHead, req: req}
	defer cw.done() // a panic included
	next.ServeHTTP(cw, r.WithContext(cw.withChallenge(r.Context())))
	cw.finish()
}

// checkAuthorize validates the PKCE parameters of an authorization request;
// ind is what a request with request or request_uri carries elsewhere.
// business reports whether the request is PKCE's business (response_type
// code, or a request or request_uri); bind whether it carries a challenge c
// to bind (false when it carries none under a policy that allows that).
func (m *Middleware) checkAuthorize(r *http.Request, p *params) (c Challenge, bind, business bool, ind *indirect, e *refusal) {
	for name := range p.values {
		if canon := caseVariant(name, paramResponseType, paramClientID, paramCodeChallenge, paramCodeChallengeMethod, paramRequest, paramRequestURI, paramRedirectURI); canon != "" {
			return c, false, false, nil, badRequest(ReasonParameterCase, "parameter names are case-sensitive: send "+canon+", not "+quoteParam(name))
		}
	}
	// Duplicates first, so a repeated response_type is refused too.
	if name := p.repeated(authorizeSingle); name != "" {
		return c, false, false, nil, badRequest(ReasonDuplicateParameter, name+" is given more than once (RFC 6749 section 3.1)")
	}
	// RFC 9126 and RFC 9101: a pushed request or a request object carries
	// the real parameters elsewhere (indirect.go).
	if p.get(paramRequest) != "" || p.get(paramRequestURI) != "" {
		return m.checkIndirect(r, p)
	}
	if !hasValue(p.get(paramResponseType), "code") {
		if hasValueFold(p.get(paramResponseType), "code") {
			// A lenient handler could issue a code for it.
			return c, false, false, nil, badRequest(ReasonParameterCase, "response_type values are case-sensitive: send response_type=code")
		}
		return c, false, false, nil, nil // implicit and others: no code, no PKCE
	}
	c, bind, e = m.checkChallenge(r, p.get(paramClientID), p.get(paramCodeChallenge), p.get(paramCodeChallengeMethod))
	return c, bind, true, nil, e
}

// authorizeEvent returns the event of an authorization request as far as
// the middleware read it (the query alone when the body could not be read):
// its client, and whether and how it carried a challenge. Method is S256
// or plain (also when the method is absent, RFC 7636 §4.3), "" for any
// other value: the event carries no string the client chose but its ID.
func authorizeEvent(p *params) Event {
	ev := Event{Endpoint: "authorize", ClientID: p.first(paramClientID)}
	if p.first(paramCodeChallenge) != "" {
		ev.PKCE = true
		switch Method(p.first(paramCodeChallengeMethod)) {
		case S256:
			ev.Method = S256
		case Plain, "":
			ev.Method = Plain
		}
	}
	return ev
}

// refuseAuthorize answers a refused authorization request: a 400 JSON page,
// or, when Config.RedirectErrors vouches for the redirect URI, the OAuth
// error response at that URI (RFC 6749 §4.1.2.1). Under Config.ReportOnly
// it passes the request to next as it came instead. Either way the
// refusal is logged and reported.
func (m *Middleware) refuseAuthorize(w http.ResponseWriter, r *http.Request, p *params, e *refusal, next http.Handler) {
	client := p.first(paramClientID)
	m.logRefusal(r.Context(), "authorize", client, e)
	ev := authorizeEvent(p)
	ev.Refusal, ev.Enforced = e.reason, !m.reportOnly
	if m.reportOnly {
		m.serve(next, w, p.original(r), ev)
		return
	}
	ev.Status = e.status
	redirectURI := p.get(paramRedirectURI)
	if m.redirectErrors == nil || redirectURI == "" || p.repeated(authorizeSingle) != "" ||
		!m.redirectErrors(r, client, redirectURI) {
		e.write(w)
	} else if ev.Status = redirectError(w, p, redirectURI, e); ev.Status == 0 {
		ev.Status = e.status
		e.write(w)
	}
	if m.onEvent != nil {
		m.emit(r.Context(), ev)
	}
}

// redirectError sends e to the client at redirectURI, in the query, the
// fragment or a form_post page as the response type and mode ask, and
// returns the status it wrote. It returns 0, having written nothing, when
// it cannot.
func redirectError(w http.ResponseWriter, p *params, redirectURI string, e *refusal) int {
	u, err := url.Parse(redirectURI)
	if err != nil || !u.IsAbs() || u.Fragment != "" {
		return 0
	}
	v := url.Values{"error": {e.code}, "error_description": {sanitizeDescription(e.desc)}}
	if state := p.get(paramState); state != "" {
		v.Set(paramState, state)
	}
	mode := p.get(paramResponseMode)
	if mode == "" {
		// OAuth 2.0 Multiple Response Type Encoding Practices: the default
		// mode is query for code, fragment when tokens are returned too.
		mode = "query"
		if rt := p.get(paramResponseType); hasValue(rt, "token") || hasValue(rt, "id_token") {
			mode = "fragment"
		}
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch mode {
	case "query":
		// RFC 6749 §3.1.2: the redirect URI's own query is retained as is.
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += v.Encode()
	case "fragment":
		u.Fragment = ""
		u.RawFragment = ""
		h.Set("Location", u.String()+"#"+v.Encode())
		w.WriteHeader(http.StatusFound)
		return http.StatusFound
	case "form_post":
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		var b strings.Builder
		b.WriteString(`<!DOCTYPE html><html><head><title>Submit</title></head><body onload="document.forms[0].submit()"><form method="post" action="`)
		b.WriteString(html.EscapeString(u.String()))
		b.WriteString(`">`)
		for _, k := range []string{"error", "error_description", paramState} {
			if val := v.Get(k); val != "" {
				b.WriteString(`<input type="hidden" name="` + k + `" value="` + html.EscapeString(val) + `">`)
			}
		}
		b.WriteString(`<noscript><button type="submit">Continue</button></noscript></form></body></html>`)
		_, _ = w.Write([]byte(b.String()))
		return http.StatusOK
	default:
		return 0 // e.g. JARM modes: not ours to encode
	}
	h.Set("Location", u.String())
	w.WriteHeader(http.StatusFound)
	return http.StatusFound
}

// maybeCodeRequest reports whether the parameters q may ask for a code.
func maybeCodeRequest(q url.Values) bool {
	return hasValueFold(q.Get(paramResponseType), "code") || q.Get(paramRequest) != "" || q.Get(paramRequestURI) != ""
}

// hasValueFold is hasValue ignoring case.
func hasValueFold(list, v string) bool {
	for _, item := range strings.Fields(list) {
		if strings.EqualFold(item, v) {
			return true
		}
	}
	return false
}

// hasValue reports whether the space-separated list has v among its values.
func hasValue(list, v string) bool {
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, " ")
		if item == v {
			return true
		}
	}
	return false
}

// carried is what an authorization request itself carried (DESIGN.md
// Authorize 7): its parameters, query and form body, and its redirect_uri.
// None of it is ever taken for a code the wrapped handler issued, whatever
// the handler echoes of it.
type carried struct {
	values      url.Values // the request's parameters, decoded; nil when read in place
	raw         string     // the raw query the parameters are in when values is nil
	redirectURI string     // "" when the server uses the registered one (RFC 6749 §3.1.2.3)
	pushed      string     // the store key of the pushed request its request_uri names, used up with the code; "" if none
}

// has reports whether v is a value the request carried: the value of one of
// its parameters, or of a parameter inside one (the redirect_uri's own
// query, say), decoded.
func (c *carried) has(v string) bool {
	if c.values == nil {
		for s := c.raw; s != ""; {
			var raw string
			_, raw, s = nextPair(s)
			if !decodesEq(raw) {
				// No '=' once decoded: only the value itself can match,
				// compared as it decodes, without allocating.
				if decodesTo(raw, v) {
					return true
				}
				continue
			}
			if x := queryDecode(raw); x == v || innerValue(x, v) {
				return true
			}
		}
	}
	for _, vs := range c.values {
		for _, x := range vs {
			if x == v || (strings.IndexByte(x, '=') >= 0 && innerValue(x, v)) {
				return true
			}
		}
	}
	return false
}

// decodesEq reports whether raw has an '=' once decoded: an '=' or a
// "%3D" (either case).
func decodesEq(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '=':
			return true
		case '%':
			if i+2 < len(raw) && raw[i+1] == '3' && (raw[i+2] == 'D' || raw[i+2] == 'd') {
				return true
			}
		}
	}
	return false
}

// innerValue reports whether v is the decoded value of a parameter in the
// query or fragment of the URL (or bare query) s.
func innerValue(s, v string) bool {
	query, fragment := splitURL(s)
	if strings.IndexByte(s, '?') < 0 && strings.IndexByte(s, '#') < 0 {
		query = s // a bare query, such as a parameter carrying "a=b&c=d"
	}
	for _, part := range [2]string{query, fragment} {
		for part != "" {
			var value string
			_, value, part = nextParam(part)
			if value == v {
				return true
			}
		}
	}
	return false
}

// ownParams returns the parameters of the redirect_uri's own query that a
// response carries a code in (code, and response for JARM), decoded: the
// server keeps them in its redirect (RFC 6749 §3.1.2), and they are the
// client's, not the server's. nil when there are none.
func (c *carried) ownParams() []param {
	query, _ := splitURL(c.redirectURI)
	var own []param
	for query != "" {
		var name, value string
		name, value, query = nextParam(query)
		if name == paramCode || name == jarmParam {
			own = append(own, param{name, value})
		}
	}
	return own
}

// param is one decoded name=value pair.
type param struct{ name, value string }

// isTarget reports whether a form's action (entity-decoded) posts to the
// request's redirect_uri: any action when the request named none, since the
// server then posts to the registered one.
func (c *carried) isTarget(action string) bool {
	// Browsers strip the spaces around a URL attribute.
	return c.redirectURI == "" || sameURL(strings.TrimSpace(action), strings.TrimSpace(c.redirectURI))
}

// sameURL reports whether a and b name the same resource: equal strings,
// or the same URL once both are parsed and normalised. Scheme and host are
// compared ignoring case, a default port (80 for http, 443 for https)
// counts as none, the path is compared decoded, and the query as a
// multiset of decoded pairs, since servers re-encode and reorder the
// redirect URI's query when they write it back (html/template, url.Values).
// The fragment is ignored: a browser does not send it. A relative URL
// matches only itself.
func sameURL(a, b string) bool {
	if a == b {
		return true
	}
	ua, err := url.Parse(a)
	if err != nil || !ua.IsAbs() {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil || !ub.IsAbs() {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) &&
		ua.Opaque == ub.Opaque &&
		ua.User.String() == ub.User.String() &&
		strings.EqualFold(ua.Hostname(), ub.Hostname()) &&
		effectivePort(ua) == effectivePort(ub) &&
		samePath(ua, ub) &&
		sameQuery(ua.RawQuery, ub.RawQuery)
}

// samePath compares decoded paths; with a host, an empty path is "/", as
// browsers request it.
func samePath(a, b *url.URL) bool {
	pa, pb := a.Path, b.Path
	if a.Host != "" && pa == "" {
		pa = "/"
	}
	if b.Host != "" && pb == "" {
		pb = "/"
	}
	return pa == pb
}

// effectivePort returns u's port, "" for the scheme's default one.
func effectivePort(u *url.URL) string {
	p := u.Port()
	if (p == "80" && strings.EqualFold(u.Scheme, "http")) || (p == "443" && strings.EqualFold(u.Scheme, "https")) {
		return ""
	}
	return p
}

// sameQuery reports whether two queries hold the same decoded pairs, in any
// order.
func sameQuery(a, b string) bool {
	if a == b {
		return true
	}
	var pa, pb []param
	for a != "" {
		var p param
		p.name, p.value, a = nextParam(a)
		pa = append(pa, p)
	}
	for b != "" {
		var p param
		p.name, p.value, b = nextParam(b)
		pb = append(pb, p)
	}
	if len(pa) != len(pb) {
		return false
	}
	used := make([]bool, len(pb))
next:
	for _, p := range pa {
		for i, q := range pb {
			if !used[i] && p == q {
				used[i] = true
				continue next
			}
		}
		return false
	}
	return true
}
