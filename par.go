package pkce

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"time"
)

// Pushed authorization requests (RFC 9126).
const (
	// DefaultPushedLifetime is how long a pushed request lives when the
	// wrapped PAR endpoint's answer has no expires_in.
	DefaultPushedLifetime = 60 * time.Second
	// MaxPushedRedirectURI is the longest redirect_uri a pushed request may
	// carry: it is the one part of the pushed body the store keeps.
	MaxPushedRedirectURI = 2048
)

// PAR wraps the pushed authorization request endpoint (RFC 9126). The
// pushed request is checked as [Middleware.Authorize] checks an
// authorization request, under the same policy: its code_challenge and
// code_challenge_method, or those of the request object it carries
// (request, RFC 9101), whose client_id, response_type and redirect_uri
// count too. The client is read as [Middleware.Token] reads it: the HTTP
// Basic user name, form-decoded (RFC 6749 §2.3.1), else the body's
// client_id. Client authentication stays the wrapped server's. Refusals are
// RFC 9126 §2.3 JSON, invalid_request with HTTP 400 (405 for a method other
// than POST): a request that names no client, a redirect_uri longer than
// [MaxPushedRedirectURI] bytes, a request_uri in the pushed body (RFC 9126
// §2.1), a repeated parameter, and whatever Authorize refuses.
//
// When the wrapped handler accepts the request (a 2xx JSON answer, RFC 9126
// §2.2: 201), the middleware reads request_uri and expires_in from it and
// records the challenge, the client and the redirect_uri under a key
// derived from the request_uri, for expires_in ([DefaultPushedLifetime]
// when absent), before any byte of the answer leaves. If that fails (a
// store fault, an answer it cannot read) the client gets HTTP 500
// server_error (503 when the store is full) and never sees the
// request_uri. Nothing else of the pushed body is kept. The authorization
// request that names the request_uri is then checked against the recorded
// challenge by [Middleware.Authorize].
//
// The non-consuming look-up this needs is a [Peeker]: with a [Store] that
// does not implement it, every pushed request is refused with HTTP 500
// server_error and an Error log that says why. Rate-limit the PAR endpoint
// (per client and per address): each accepted pushed request writes a
// store entry with no user in the loop.
//
// Under [Config.ReportOnly] nothing is refused: what would be is reported
// and the request passed to next as it came. Every pushed request makes
// one [Event] with Endpoint "par". The returned handler is safe for
// concurrent use.
func (m *Middleware) PAR(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := m.store.(Peeker); !ok {
			m.parWithoutPeeker(w, r, next)
			return
		}
		var read params
		p := &read
		ck := m.checkPAR(p, r)
		switch {
		case ck.refusal != nil:
			m.refusePAR(w, r, p, ck, next)
		case !ck.bind:
			m.serve(next, w, p.request(r, nil), ck.event())
		default:
			pw := &parWriter{w: w, m: m, ctx: r.Context(), challenge: ck.challenge}
			defer pw.done()
			next.ServeHTTP(pw, p.request(r, nil))
			pw.finish()
		}
	})
}

// parCheck is what checkPAR decided of a pushed request.
type parCheck struct {
	client    string
	challenge Challenge // to record, when bind
	bind      bool
	pkce      bool   // the request carried a code_challenge (or its request object did)
	method    Method // for the event: S256, plain or ""
	refusal   *refusal
}

// event returns the event of an accepted pushed request, its status to
// come.
func (ck *parCheck) event() Event {
	return Event{Endpoint: "par", ClientID: ck.client, PKCE: ck.pkce, Method: ck.method}
}

// checkPAR checks a pushed authorization request, reading it into p.
func (m *Middleware) checkPAR(p *params, r *http.Request) (ck parCheck) {
	refuse := func(e *refusal) parCheck {
		if ck.client == "" && p.values != nil {
			ck.client = p.namedClient(r)
		}
		ck.refusal = e
		return ck
	}
	// RFC 9126 §2.1, §2.3.
	if r.Method != http.MethodPost {
		return refuse(&refusal{http.StatusMethodNotAllowed, errInvalidRequest, "a pushed authorization request must be sent with POST (RFC 9126 section 2.1)", ReasonBadRequest})
	}
	if e := readParams(p, r, m.maxBodyBytes, false); e != nil {
		return refuse(e)
	}
	for name := range p.values {
		if canon := caseVariant(name, paramResponseType, paramClientID, paramCodeChallenge, paramCodeChallengeMethod, paramRequest, paramRequestURI, paramRedirectURI); canon != "" {
			return refuse(badRequest(ReasonParameterCase, "parameter names are case-sensitive: send "+canon+", not "+quoteParam(name)))
		}
	}
	if name := p.repeated(authorizeSingle); name != "" {
		return refuse(badRequest(ReasonDuplicateParameter, name+" is given more than once (RFC 6749 section 3.1)"))
	}
	if p.get(paramRequestURI) != "" {
		return refuse(badRequest(ReasonBadRequest, "a pushed authorization request must not carry request_uri (RFC 9126 section 2.1)"))
	}
	client, e := tokenClient(r, p)
	ck.client = client
	if e != nil {
		return refuse(e)
	}
	if client == "" {
		return refuse(badRequest(ReasonBadRequest, "the pushed authorization request names no client: authenticate with HTTP Basic or send client_id (RFC 9126 section 2.1)"))
	}
	challenge, method := p.get(paramCodeChallenge), p.get(paramCodeChallengeMethod)
	responseType, redirectURI := p.get(paramResponseType), p.get(paramRedirectURI)
	if len(redirectURI) > MaxPushedRedirectURI {
		return refuse(badRequest(ReasonBadRequest, fmt.Sprintf("redirect_uri is longer than %d bytes", MaxPushedRedirectURI)))
	}
	ck.noteChallenge(challenge, method)
	if object := p.get(paramRequest); object != "" {
		// FAPI 2.0: a request object inside the pushed body.
		ro, e := readRequestObject(object)
		switch {
		case e != nil && e.reason == ReasonRequestUnreadable && !m.require(r, client):
			return ck // passes, nothing recorded: its challenge is elsewhere
		case e != nil:
			return refuse(e)
		case ro.clientID != "" && ro.clientID != client:
			return refuse(badRequest(ReasonClientMismatch, "the request object's client_id differs from the client of the pushed request (RFC 9101 section 5)"))
		case ro.responseType != "" && responseType != "" && ro.responseType != responseType:
			return refuse(badRequest(ReasonBadRequest, "response_type differs from the request object's response_type (RFC 9101 section 5)"))
		}
		if e := conflict(p, ro.challenge, ro.method, "the request object's"); e != nil {
			return refuse(e)
		}
		challenge, method = ro.challenge, ro.method
		ck.pkce, ck.method = false, ""
		ck.noteChallenge(challenge, method)
		if ro.responseType != "" {
			responseType = ro.responseType
		}
		if ro.redirectURI != "" {
			redirectURI = ro.redirectURI
		}
		if len(redirectURI) > MaxPushedRedirectURI {
			return refuse(badRequest(ReasonBadRequest, fmt.Sprintf("the request object's redirect_uri is longer than %d bytes", MaxPushedRedirectURI)))
		}
	}
	if responseType != "" && !hasValue(responseType, "code") {
		if hasValueFold(responseType, "code") {
			return refuse(badRequest(ReasonParameterCase, "response_type values are case-sensitive: send response_type=code"))
		}
		return ck // no code will be issued for it: not PKCE's business
	}
	c, bind, e := m.checkChallenge(r, client, challenge, method)
	if e != nil {
		return refuse(e)
	}
	c.RedirectURI = redirectURI
	ck.challenge, ck.bind = c, bind
	return ck
}

// noteChallenge notes, for the event, the challenge the request carries.
func (ck *parCheck) noteChallenge(challenge, method string) {
	if challenge == "" {
		return
	}
	ck.pkce = true
	switch Method(method) {
	case S256:
		ck.method = S256
	case Plain, "":
		ck.method = Plain
	}
}

// refusePAR answers a refused pushed request, or under Config.ReportOnly
// passes it to next as it came. Either way it is logged and reported.
func (m *Middleware) refusePAR(w http.ResponseWriter, r *http.Request, p *params, ck parCheck, next http.Handler) {
	e := ck.refusal
	m.logRefusal(r.Context(), "par", ck.client, e)
	ev := ck.event()
	ev.Refusal, ev.Enforced = e.reason, !m.reportOnly
	if m.reportOnly {
		m.serve(next, w, p.original(r), ev)
		return
	}
	e.write(w)
	if m.onEvent != nil {
		ev.Status = e.status
		m.emit(r.Context(), ev)
	}
}

// parWithoutPeeker answers every pushed request when the store cannot look
// a pushed request up: nothing pushed could be checked at authorize.
func (m *Middleware) parWithoutPeeker(w http.ResponseWriter, r *http.Request, next http.Handler) {
	m.log.LogAttrs(r.Context(), slog.LevelError, "pkce: the store does not implement pkce.Peeker, which pushed authorization requests need (the authorization request looks its pushed challenge up without using it); every pushed request is refused: use a store that implements it (MemoryStore, redisstore)",
		slog.String("endpoint", "par"),
		slog.String("store", fmt.Sprintf("%T", m.store)))
	e := &refusal{http.StatusInternalServerError, errServerError,
		"this server cannot accept pushed authorization requests: its PKCE store cannot look them up; send the authorization request with code_challenge directly, and contact the server operator", ReasonStoreError}
	client := ""
	if id, ok, err := basicClientID(r.Header); ok && err == nil {
		client = id
	}
	ev := Event{Endpoint: "par", ClientID: client, Refusal: e.reason, Enforced: !m.reportOnly}
	if m.reportOnly {
		m.serve(next, w, r, ev)
		return
	}
	e.write(w)
	if m.onEvent != nil {
		ev.Status = e.status
		m.emit(r.Context(), ev)
	}
}

// parWriter is the response writer of a pushed request that carries a
// challenge. It holds a 2xx answer back, reads request_uri and expires_in
// from it, records the challenge, and only then lets the answer go; other
// answers (the server's refusals) pass at once. As net/http, it takes
// Write, WriteString, ReadFrom and Flush without a status for 200; 1xx
// statuses pass through; the first final status decides.
type parWriter struct {
	w         http.ResponseWriter
	m         *Middleware
	ctx       context.Context
	challenge Challenge // ExpiresAt zero

	state   captureState
	status  int
	held    heldHeader
	buf     []byte
	refusal *refusal
	ended   bool
}

// Header returns the header map the handler writes; while the answer is
// held back, a copy (see captureWriter.Header).
func (pw *parWriter) Header() http.Header {
	if pw.state == holding {
		return pw.held.late
	}
	return pw.w.Header()
}

// WriteHeader records the status: a 2xx answer is held back until the
// challenge is recorded.
func (pw *parWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		pw.w.WriteHeader(code)
		return
	}
	if pw.state != pending {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		pw.w.WriteHeader(code)
		return
	}
	pw.status = code
	if code >= 200 && code <= 299 {
		pw.state = holding
		pw.held = holdHeader(pw.w.Header())
		return
	}
	pw.state = passing
	pw.w.WriteHeader(code)
}

// Write implies a 200 status, as net/http does.
func (pw *parWriter) Write(b []byte) (int, error) {
	if pw.state == pending {
		pw.WriteHeader(http.StatusOK)
	}
	switch pw.state {
	case passing:
		return pw.w.Write(b)
	case replaced:
		return 0, errResponseReplaced
	}
	if len(pw.buf)+len(b) > pw.m.maxCaptureBytes {
		pw.fail(failClosed(ReasonBadRequest, "the pushed authorization response is too long for the PKCE middleware to read its request_uri, so it was not sent"))
		if pw.state == replaced {
			return 0, errResponseReplaced
		}
		pw.release()
		return pw.w.Write(b)
	}
	pw.buf = append(pw.buf, b...)
	return len(b), nil
}

// WriteString implies a 200 status, as net/http does.
func (pw *parWriter) WriteString(s string) (int, error) {
	return pw.Write([]byte(s))
}

// ReadFrom implies a 200 status, as net/http does.
func (pw *parWriter) ReadFrom(src io.Reader) (int64, error) {
	return io.Copy(writerOnly{pw}, src)
}

// Flush implies a 200 status. While the answer is held back it does
// nothing until the decision is made.
func (pw *parWriter) Flush() { _ = pw.FlushError() }

// FlushError is Flush for http.ResponseController, reporting the error.
func (pw *parWriter) FlushError() error {
	if pw.state == pending {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.state != passing {
		return nil
	}
	return http.NewResponseController(pw.w).Flush()
}

// Hijack hands the connection over only once the answer is decided.
func (pw *parWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if pw.state != passing {
		return nil, nil, errors.New("pkce: the pushed authorization response cannot be hijacked before its status is written: the middleware must record its request_uri")
	}
	return http.NewResponseController(pw.w).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (pw *parWriter) Unwrap() http.ResponseWriter { return pw.w }

// finish completes the answer after the handler returned: a held answer
// is read, its challenge recorded, then sent.
func (pw *parWriter) finish() {
	pw.ended = true
	if pw.state == pending {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.state != holding {
		return
	}
	if !pw.record() {
		return
	}
	pw.release()
}

// record reads the held answer and records the challenge under its
// request_uri. It reports false when the answer was replaced.
func (pw *parWriter) record() bool {
	if enc := pw.held.sent.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return pw.fail(failClosed(ReasonBadRequest, "the pushed authorization response is content-encoded, so the PKCE middleware cannot read its request_uri; it was not sent"))
	}
	requestURI, lifetime, err := readPushedAnswer(pw.buf)
	if err != nil {
		pw.m.log.LogAttrs(pw.ctx, slog.LevelError, "pkce: the PAR endpoint's success answer cannot be read",
			slog.String("client_id", pw.challenge.ClientID),
			slog.Int("status", pw.status),
			slog.String("err", err.Error()))
		return pw.fail(failClosed(ReasonBadRequest, "the pushed authorization response has no request_uri the PKCE middleware can read (RFC 9126 section 2.2), so it was not sent"))
	}
	if lifetime == 0 {
		lifetime = DefaultPushedLifetime
	}
	c := pw.challenge
	c.ExpiresAt = pw.m.now().Add(lifetime)
	err = pw.m.save(pw.ctx, pushedKey(requestURI), c)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUsed), errors.Is(err, ErrExists):
		return pw.fail(failClosed(ReasonRebind, "the server answered with a request_uri it had issued before, so it was not sent: a request_uri serves one pushed request only"))
	}
	pw.m.logFault(pw.ctx, "par", "save", err)
	return pw.fail(storeRefusal(err, "record the pushed code_challenge"))
}

// fail refuses the answer for e: it replaces it with e and reports false;
// under Config.ReportOnly it only reports e and reports true.
func (pw *parWriter) fail(e *refusal) bool {
	pw.m.logRefusal(pw.ctx, "par", pw.challenge.ClientID, e)
	pw.refusal = e
	if pw.m.reportOnly {
		return true
	}
	pw.state = replaced
	pw.status = e.status
	pw.buf = nil
	clear(pw.w.Header())
	e.write(pw.w)
	return false
}

// release sends the held answer.
func (pw *parWriter) release() {
	pw.state = passing
	h := pw.w.Header()
	trailers := pw.held.restore(h)
	pw.w.WriteHeader(pw.status)
	if len(pw.buf) > 0 {
		_, _ = pw.w.Write(pw.buf)
	}
	pw.buf = nil
	for k, vs := range trailers {
		h[k] = vs
	}
}

// done reports the request's event when the handler returns or panics
// (after a panic, with the status sent before it, 0 if none; a held answer
// is dropped).
func (pw *parWriter) done() {
	if pw.m.onEvent == nil {
		return
	}
	ev := Event{Endpoint: "par", ClientID: pw.challenge.ClientID, PKCE: true, Method: knownMethod(pw.challenge.Method)}
	if pw.ended || pw.state == passing || pw.state == replaced {
		ev.Status = pw.status
	}
	if pw.refusal != nil {
		ev.Refusal, ev.Enforced = pw.refusal.reason, !pw.m.reportOnly
	}
	pw.m.emit(pw.ctx, ev)
}

// maxPushedLifetime bounds the expires_in the middleware accepts.
const maxPushedLifetime = 366 * 24 * time.Hour

// readPushedAnswer reads request_uri and expires_in from a PAR endpoint's
// success answer (RFC 9126 §2.2): a JSON object, request_uri a non-empty
// string, expires_in a positive number of seconds when present (0 when
// absent). A member given twice is an error: which one a client reads is
// unknown.
func readPushedAnswer(body []byte) (requestURI string, lifetime time.Duration, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", 0, errors.New("pkce: the answer is not a JSON object")
	}
	var haveURI, haveLifetime bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", 0, errors.New("pkce: the answer is not valid JSON")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", 0, errors.New("pkce: the answer is not valid JSON")
		}
		switch t.(string) {
		case paramRequestURI:
			if haveURI {
				return "", 0, errors.New("pkce: request_uri is given twice")
			}
			haveURI = true
			if json.Unmarshal(raw, &requestURI) != nil || requestURI == "" {
				return "", 0, errors.New("pkce: request_uri is not a non-empty string")
			}
		case "expires_in":
			if haveLifetime {
				return "", 0, errors.New("pkce: expires_in is given twice")
			}
			haveLifetime = true
			var secs float64
			if json.Unmarshal(raw, &secs) != nil || !(secs > 0) || math.IsInf(secs, 0) {
				return "", 0, errors.New("pkce: expires_in is not a positive number")
			}
			if secs > maxPushedLifetime.Seconds() {
				return "", 0, errors.New("pkce: expires_in is more than a year")
			}
			lifetime = time.Duration(math.Ceil(secs)) * time.Second
		}
	}
	if _, err := dec.Token(); err != nil {
		return "", 0, errors.New("pkce: the answer is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", 0, errors.New("pkce: the answer has data after the JSON object")
	}
	if !haveURI {
		return "", 0, errors.New("pkce: the answer has no request_uri")
	}
	return requestURI, lifetime, nil
}
