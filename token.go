package pkce

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
)

const grantAuthorizationCode = "authorization_code"

// Token wraps the token endpoint. Requests with
// grant_type=authorization_code are checked against the challenge recorded
// for their code (RFC 7636 §4.5, §4.6); every other grant passes through
// with its body byte for byte. A request without grant_type is refused
// (RFC 6749 §4.1.3 makes it REQUIRED), so nothing passes as "another grant"
// because its parameters could not be seen.
//
// A challenge is taken once. A failed check (a wrong, missing or malformed
// verifier, another client's code) uses it up: a code that failed its check
// can never be redeemed. A request that passed the check and that next then
// refuses, with a final status of 400 or more (client authentication, a
// wrong redirect_uri), does not cost the code when the [Store] implements
// [Restorer]: the challenge is put back before the refusal's first byte
// leaves, so the client's corrected retry gets its token, as from the bare
// server. It is never put back after a panic in next, once the request's
// context is done (a timeout, the client gone), or for a status the
// middleware did not see (a hijacked connection), and a put-back that fails
// is logged at Error and leaves the code used up. With a Store that does not
// implement Restorer every check uses the code up. Put a recovery handler
// and [http.TimeoutHandler] outside the middleware, not between it and
// next: a status written for a panic or a timeout inside would count as
// next's refusal.
//
// The body is read by the middleware, so put Token before anything that
// reads it (a logger, a rate limiter). A form that was parsed before it (an
// outer r.ParseForm or r.FormValue) is checked as it was parsed: r.PostForm
// and the URL query, under the same rules, and handed on as is. A body that
// was read without being parsed (fewer bytes left than its Content-Length)
// is refused with 500 server_error and logged at Error, naming the
// misordering.
//
// Under [Config.ReportOnly] nothing is refused: a request that would be is
// reported and passed to next as it came, its challenge taken as enforcing
// would take it.
//
// The returned handler is safe for concurrent use.
func (m *Middleware) Token(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var read params
		ck := m.checkToken(&read, r)
		switch {
		case ck.refusal != nil:
			m.refuseToken(w, r, &read, ck, next)
		case !ck.business:
			next.ServeHTTP(w, ck.r2) // other grants: no event
		case ck.take.id == 0 && m.onEvent == nil:
			next.ServeHTTP(w, ck.r2)
		default:
			pw := &putBackWriter{w: w, m: m, ctx: r.Context(), client: ck.client, take: ck.take, pkce: ck.pkce, method: ck.method}
			defer pw.close() // a panic included: no put-back after it
			next.ServeHTTP(pw, ck.r2)
			pw.returned()
		}
	})
}

// refuseToken answers a refused token request, or under Config.ReportOnly
// passes it to next as it came. Either way the refusal is logged and
// reported.
func (m *Middleware) refuseToken(w http.ResponseWriter, r *http.Request, p *params, ck tokenCheck, next http.Handler) {
	e := ck.refusal
	m.logRefusal(r.Context(), "token", ck.client, e)
	ev := Event{Endpoint: "token", ClientID: ck.client, PKCE: ck.pkce, Method: ck.method, Refusal: e.reason, Enforced: !m.reportOnly}
	if m.reportOnly {
		// What enforcing took stays taken, so a later request is judged
		// as enforcing would judge it; the answer is the bare server's.
		m.serve(next, w, p.original(r), ev)
		return
	}
	e.write(w)
	if m.onEvent != nil {
		ev.Status = e.status
		m.emit(r.Context(), ev)
	}
}

// tokenCheck is what checkToken decided of a token request.
type tokenCheck struct {
	r2       *http.Request // the request to hand on, nil when refused
	client   string        // the request's client, "" when it names none
	take     tokenTake     // the take to put back if next refuses the request
	refusal  *refusal
	business bool   // grant_type=authorization_code: PKCE's business
	pkce     bool   // the code was bound to a challenge
	method   Method // the challenge's method, when it is known
}

// tokenTake is the take a passed check holds: the key and the identifier
// it was taken under ([Restorer]). id is 0 when nothing can be put back.
type tokenTake struct {
	key string
	id  uint64
}

// checkToken decides a token request, reading it into p: the request to
// hand on, or a refusal.
func (m *Middleware) checkToken(p *params, r *http.Request) (ck tokenCheck) {
	// The grant must be known before anything passes, so every token
	// request's body is read: what cannot be read is refused.
	refuse := func(e *refusal) tokenCheck {
		if ck.client == "" {
			ck.client = p.namedClient(r)
		}
		ck.r2, ck.take, ck.refusal = nil, tokenTake{}, e
		return ck
	}
	if e := readParams(p, r, m.maxBodyBytes, true); e != nil {
		return refuse(e)
	}
	for name := range p.values {
		if canon := caseVariant(name, tokenParams...); canon != "" {
			return refuse(badRequest(ReasonParameterCase, "parameter names are case-sensitive: send "+canon+", not "+quoteParam(name)))
		}
	}
	if len(p.values[paramGrantType]) > 1 {
		return refuse(badRequest(ReasonDuplicateParameter, "grant_type is given more than once (RFC 6749 section 3.1)"))
	}
	switch grant := p.get(paramGrantType); {
	case grant == "":
		// RFC 6749 §4.1.3: REQUIRED. Passed on as "another grant", a
		// request whose body the middleware could not see would reach a
		// handler that can (a framework's body cache) unchecked.
		return refuse(badRequest(ReasonBadRequest, "no grant_type: RFC 6749 section 4.1.3 requires one; send grant_type=authorization_code to redeem a code, or the grant the request is for"))
	case grant == grantAuthorizationCode:
		ck.business = true
	case strings.EqualFold(strings.TrimSpace(grant), grantAuthorizationCode):
		// A lenient handler could take it for authorization_code.
		return refuse(badRequest(ReasonParameterCase, "grant_type values are case-sensitive: send grant_type=authorization_code"))
	default:
		ck.r2 = p.request(r, nil) // PKCE says nothing about other grants
		return ck
	}

	// RFC 6749 §4.1.3: the token request is a POST with a form body.
	if r.Method != http.MethodPost {
		return refuse(badRequest(ReasonBadRequest, "an authorization_code token request must be sent with POST (RFC 6749 section 4.1.3)"))
	}
	// RFC 6749 §3.2: parameters go in the body. A server that reads the query
	// must not be fed values the middleware did not check.
	for _, name := range queryForbidden {
		if _, ok := p.query[name]; ok {
			return refuse(badRequest(ReasonBadRequest, name+" must be sent in the request body, not in the URL query (RFC 6749 section 3.2)"))
		}
	}
	// RFC 8707: resource may repeat.
	if name := p.repeated(func(name string) bool { return name != paramResource }); name != "" {
		return refuse(badRequest(ReasonDuplicateParameter, "the parameter "+quoteParam(name)+" is given more than once (RFC 6749 section 3.1)"))
	}
	client, e := tokenClient(r, p)
	ck.client = client
	if e != nil {
		return refuse(e)
	}
	code := p.get(paramCode)
	if code == "" {
		return refuse(badRequest(ReasonBadRequest, "code is missing: send the authorization code the client received"))
	}
	verifier := p.get(paramCodeVerifier)

	key := storeKey(code)
	var c Challenge
	var err error
	if rs := m.restorer; rs != nil {
		// Taken under an identifier of this request, so that a refusal by
		// next can put back this take and no other.
		ck.take = tokenTake{key: key, id: newTakeID()}
		c, err = m.takeAs(r.Context(), rs, key, ck.take.id)
	} else {
		c, err = m.take(r.Context(), key)
	}
	switch {
	case err == nil:
		ck.pkce, ck.method = true, knownMethod(c.Method)
		if e := m.checkVerifier(c, verifier, client); e != nil {
			return refuse(e) // the failed check uses the code up
		}
		ck.r2 = p.request(r, nil)
		return ck
	case errors.Is(err, ErrUsed):
		// A code is checked once: a replay, or a retry after a failed check,
		// never reaches the wrapped handler, verifier or not. Only a code
		// bound to a challenge can be used.
		ck.pkce = true
		return refuse(badGrant(ReasonCodeReused, "this authorization code was already presented once; a code can be redeemed, or fail its PKCE check, only once; start a new authorization request"))
	case errors.Is(err, ErrNotFound):
		if verifier != "" {
			// RFC 9700 §4.8.2: a verifier without a recorded challenge is a
			// downgrade attempt.
			return refuse(badGrant(ReasonDowngrade, noChallenge+"; a code_verifier cannot be checked without one (RFC 9700 section 4.8.2): start a new authorization request with code_challenge and code_challenge_method=S256"))
		}
		if m.require(r, client) {
			return refuse(badGrant(ReasonChallengeMissing, "PKCE is required and "+noChallenge+"; start a new authorization request with code_challenge and code_challenge_method=S256, and redeem its code with the matching code_verifier"))
		}
		// Issued without PKCE under a policy that allows it.
		ck.r2, ck.take = p.request(r, nil), tokenTake{}
		return ck
	default:
		m.logFault(r.Context(), "token", "take", err)
		return refuse(storeRefusal(err, "check the code_verifier"))
	}
}

// knownMethod returns m when it is S256 or plain, else "": an event
// carries no method a store made up.
func knownMethod(m Method) Method {
	if m == S256 || m == Plain {
		return m
	}
	return ""
}

// noChallenge is why a code has no challenge to check, in words that do not
// suggest dropping the verifier.
const noChallenge = "no code_challenge was recorded for this code: the authorization request carried none, the code expired, " +
	"or the server issued it where the PKCE middleware could not see it (a server that mints codes outside the wrapped " +
	"authorization handler must call Record)"

// newTakeID returns a random take identifier: never 0, never the largest
// uint64 (which stores may keep for a plain Take).
func newTakeID() uint64 { return rand.Uint64()>>1 + 1 }

// tokenParams are the token request parameters the middleware reads.
var tokenParams = []string{paramGrantType, paramCode, paramCodeVerifier, paramClientID, paramClientSecret, paramRedirectURI}

// queryForbidden are the parameters an authorization_code request must not
// carry in its URL query.
var queryForbidden = []string{paramGrantType, paramCode, paramCodeVerifier, paramRedirectURI, paramClientID, paramClientSecret}

// checkVerifier checks the verifier against the recorded challenge c
// (RFC 7636 §4.6) and the client against the one that asked for the code.
// Every failure is invalid_grant.
func (m *Middleware) checkVerifier(c Challenge, verifier, client string) *refusal {
	if verifier == "" {
		return badGrant(ReasonVerifierMissing, "code_verifier is missing: this code was issued for a code_challenge, so the token request must carry the matching code_verifier")
	}
	if m.checkMethod(c.Method) != nil {
		// A store shared with a differently configured instance, or one
		// that lost the method: never verify under a method not accepted.
		return badGrant(ReasonMethodNotAllowed, "the code_challenge recorded for this code uses a method this server does not accept; start a new authorization request with code_challenge_method=S256")
	}
	if err := ValidateVerifier(verifier); err != nil {
		return badGrant(ReasonVerifierMalformed, strings.TrimPrefix(err.Error(), "pkce: "))
	}
	if client != "" && c.ClientID != "" && client != c.ClientID {
		return badGrant(ReasonClientMismatch, "this authorization code was issued to another client")
	}
	// RFC 7636 §4.6: compare in constant time.
	if !verify(c.Method, c.Value, verifier) {
		return badGrant(ReasonVerifierMismatch, "code_verifier does not match the code_challenge of the authorization request (method "+string(c.Method)+"); send the verifier the challenge was computed from")
	}
	return nil
}

// tokenClient returns the client of a token request: the HTTP Basic user
// name, form-decoded (RFC 6749 §2.3.1), else the body's client_id.
func tokenClient(r *http.Request, p *params) (string, *refusal) {
	body := p.get(paramClientID)
	basic, ok, err := basicClientID(r.Header)
	switch {
	case err != nil:
		return body, fromError(ReasonBadRequest, err)
	case !ok:
		return body, nil
	case body != "" && body != basic:
		return basic, badRequest(ReasonClientMismatch, "client_id in the body differs from the client authenticated by HTTP Basic")
	}
	return basic, nil
}

// putBackWriter is the response writer of a token request that passed its
// check with a take that can be put back. When next's final status is 400
// or more, it puts the challenge back before it passes the status on, so the
// put-back is done before the refusal's first byte leaves: a client that
// retries at once (golang.org/x/oauth2) finds the code usable. As net/http,
// it takes Write, WriteString, ReadFrom and Flush without a status for 200;
// 1xx statuses pass through; the first final status decides.
type putBackWriter struct {
	w      http.ResponseWriter
	m      *Middleware
	ctx    context.Context // the token request's
	client string
	take   tokenTake // id 0: nothing to put back, the writer only notes the status
	pkce   bool      // for the event: the code was bound to a challenge
	method Method
	// decided is set once a final status went out, or once the middleware
	// can no longer see the status (Hijack, or next returned or panicked).
	decided bool
	status  int // the final status, for the event; 0 if the middleware did not see one
}

// Header returns the header map of the underlying writer.
func (pw *putBackWriter) Header() http.Header { return pw.w.Header() }

// WriteHeader puts the challenge back if code is the first final status and
// is 400 or more, then passes code on.
func (pw *putBackWriter) WriteHeader(code int) {
	// 1xx but 101 are informational and pass through; out-of-range codes
	// go on for net/http to reject.
	if !pw.decided && (code >= 200 && code <= 999 || code == http.StatusSwitchingProtocols) {
		pw.decided, pw.status = true, code
		if code >= 400 && pw.take.id != 0 {
			pw.putBack(code)
		}
	}
	pw.w.WriteHeader(code)
}

// putBack undoes the take, unless the request's context is done (a timeout:
// next may still be redeeming; the client gone). A failure leaves the code
// used up (fail closed) and is logged.
func (pw *putBackWriter) putBack(status int) {
	if pw.ctx.Err() != nil {
		return
	}
	if err := pw.m.restore(pw.ctx, pw.m.restorer, pw.take.key, pw.take.id); err != nil {
		pw.m.logFault(pw.ctx, "token", "restore", err)
		return
	}
	if pw.m.log.Enabled(pw.ctx, slog.LevelInfo) {
		pw.m.log.LogAttrs(pw.ctx, slog.LevelInfo, "pkce: the token handler refused a request that passed its PKCE check; its code can be redeemed again",
			slog.String("endpoint", "token"),
			slog.String("client_id", pw.client),
			slog.Int("status", status))
	}
}

// implied notes the 200 that a write without a status implies.
func (pw *putBackWriter) implied() {
	if !pw.decided {
		pw.decided, pw.status = true, http.StatusOK
	}
}

// Write implies a 200 status, as net/http does.
func (pw *putBackWriter) Write(b []byte) (int, error) {
	pw.implied()
	return pw.w.Write(b)
}

// WriteString implies a 200 status, as net/http does.
func (pw *putBackWriter) WriteString(s string) (int, error) {
	pw.implied()
	return io.WriteString(pw.w, s)
}

// ReadFrom implies a 200 status, as net/http does.
func (pw *putBackWriter) ReadFrom(src io.Reader) (int64, error) {
	pw.implied()
	return io.Copy(pw.w, src)
}

// Flush implies a 200 status, as net/http does.
func (pw *putBackWriter) Flush() { _ = pw.FlushError() }

// FlushError is Flush for http.ResponseController, reporting the error.
func (pw *putBackWriter) FlushError() error {
	pw.implied()
	return http.NewResponseController(pw.w).Flush()
}

// Hijack hands the connection over: whatever is written to it next is a
// status the middleware does not see, so nothing is put back after it.
// http.ResponseController finds this method before it follows Unwrap; an
// underlying writer that cannot hijack answers an error, as without the
// middleware.
func (pw *putBackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	pw.decided = true
	return http.NewResponseController(pw.w).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (pw *putBackWriter) Unwrap() http.ResponseWriter { return pw.w }

// returned notes that next returned: net/http sends 200 for a handler that
// wrote nothing.
func (pw *putBackWriter) returned() { pw.implied() }

// close ends the put-back window when next returns or panics: a status
// written after that (by a recovery handler holding this writer, say) is
// not next's refusal. It reports the request's event, with the status sent
// (after a panic: before it, 0 if none).
func (pw *putBackWriter) close() {
	pw.decided = true
	if pw.m.onEvent != nil {
		pw.m.emit(pw.ctx, Event{Endpoint: "token", ClientID: pw.client, PKCE: pw.pkce, Method: pw.method, Status: pw.status})
	}
}
