package pkce

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
)

// Event is what the middleware reports, through [Config.OnEvent], of one
// request that is PKCE's business (authorize: a response_type with code, or
// a request or request_uri; token: grant_type=authorization_code; par:
// every pushed request) and of every refusal of any other request (a
// grant_type repeated, missing or in another case, say), once its response
// is decided. Accepted requests that are not PKCE's business (other grants,
// implicit flows) make no event.
//
// An Event never carries a code, a verifier or a challenge.
type Event struct {
	// Endpoint is "authorize", "token" or "par".
	Endpoint string
	// ClientID is the request's client, "" when it named none. It is what
	// the request says: anyone can send any client_id.
	ClientID string
	// PKCE is, at authorize and par, whether the request carried a
	// code_challenge (or its request_uri or request object did); at token,
	// whether the code was bound to a challenge (true for a replay too:
	// only a bound code can be used up). A token request refused before its
	// code was looked up has false.
	PKCE bool
	// Method is the challenge's method, S256 or plain (at authorize, a
	// challenge without code_challenge_method is plain, RFC 7636 §4.3);
	// "" when there is no challenge, when its method is any other value,
	// and for a replay, whose challenge is not read again.
	Method Method
	// Refusal is "" when the middleware accepted the request, else a
	// stable reason ID: one of the Reason constants.
	Refusal string
	// Enforced reports whether the refusal was sent: false under
	// [Config.ReportOnly], where the request went on to the wrapped
	// handler.
	Enforced bool
	// Status is the response's final HTTP status: the refusal's, or the
	// wrapped handler's (200 when it wrote nothing: net/http sends that).
	// It is 0 when the middleware saw none: the handler hijacked the
	// connection, or panicked before writing a status (the event of a
	// request whose handler panicked is still reported, then the panic
	// goes on).
	Status int
}

// Reason IDs: the stable values of [Event.Refusal]. The same request gets
// the same ID whether the middleware enforces or only reports.
const (
	// ReasonChallengeMissing: PKCE is required and the authorization
	// request sent no code_challenge (or a code_challenge_method without
	// one); at the token endpoint, the code has no challenge and no
	// verifier came.
	ReasonChallengeMissing = "challenge_missing"
	// ReasonMethodNotAllowed: a code_challenge_method this server does not
	// accept (plain while only S256 is, an unknown one, another case).
	ReasonMethodNotAllowed = "method_not_allowed"
	// ReasonChallengeMalformed: a code_challenge of the wrong shape.
	ReasonChallengeMalformed = "challenge_malformed"
	// ReasonChallengeConflict: an outer challenge differs from the pushed
	// or request object's one.
	ReasonChallengeConflict = "challenge_conflict"
	// ReasonVerifierMissing: the code has a challenge, the token request
	// no code_verifier.
	ReasonVerifierMissing = "verifier_missing"
	// ReasonVerifierMalformed: a code_verifier outside RFC 7636 §4.1.
	ReasonVerifierMalformed = "verifier_malformed"
	// ReasonVerifierMismatch: the code_verifier does not match the
	// challenge.
	ReasonVerifierMismatch = "verifier_mismatch"
	// ReasonClientMismatch: another client's code, or a body client_id
	// that differs from the HTTP Basic one.
	ReasonClientMismatch = "client_mismatch"
	// ReasonCodeReused: a replay, or a retry after a failed check.
	ReasonCodeReused = "code_reused"
	// ReasonDowngrade: a code_verifier for a code with no recorded
	// challenge (RFC 9700 §4.8.2).
	ReasonDowngrade = "downgrade"
	// ReasonDuplicateParameter: a parameter given more than once.
	ReasonDuplicateParameter = "duplicate_parameter"
	// ReasonParameterCase: a parameter name or value in another case.
	ReasonParameterCase = "parameter_case"
	// ReasonBodyConsumed: the request body was read before the middleware.
	ReasonBodyConsumed = "body_consumed"
	// ReasonRequestURIUnknown: a request_uri this middleware did not
	// record, or that expired.
	ReasonRequestURIUnknown = "request_uri_unknown"
	// ReasonRequestUnreadable: an encrypted or malformed request object.
	ReasonRequestUnreadable = "request_unreadable"
	// ReasonResponseUnreadable: an encrypted JARM response, whose code
	// could never be checked.
	ReasonResponseUnreadable = "response_unreadable"
	// ReasonMultipleCodes: one authorization response carried several
	// distinct codes.
	ReasonMultipleCodes = "multiple_codes"
	// ReasonRebind: a captured code already bound to a challenge, used or
	// not (a possible attack).
	ReasonRebind = "rebind"
	// ReasonBadRequest: other request-shape refusals: an oversized or
	// unreadable body, an unsupported content type, parameters in the
	// token request's query, a missing grant_type.
	ReasonBadRequest = "bad_request"
	// ReasonStoreError: the store failed or did not answer in time.
	ReasonStoreError = "store_error"
	// ReasonStoreFull: the store holds as many challenges as it may.
	ReasonStoreFull = "store_full"
)

// emit reports e through Config.OnEvent, which must be set. The response is
// decided when it runs, so a panic in OnEvent cannot change it: the panic
// is recovered and logged at Error (to Config.Logger, or to slog.Default
// when none is set, so that it is never silent) with the panic value's
// type and the stack, not the value itself, which could hold anything
// OnEvent had at hand. The event is lost.
func (m *Middleware) emit(ctx context.Context, e Event) {
	defer func() {
		if v := recover(); v != nil {
			m.onEventPanicked(ctx, e, v)
		}
	}()
	m.onEvent(e)
}

func (m *Middleware) onEventPanicked(ctx context.Context, e Event, v any) {
	log := m.userLog
	if log == nil {
		log = slog.Default()
	}
	log.LogAttrs(ctx, slog.LevelError, "pkce: Config.OnEvent panicked; the event is lost, the response was already decided",
		slog.String("endpoint", e.Endpoint),
		slog.String("refusal", e.Refusal),
		slog.String("panic_type", fmt.Sprintf("%T", v)),
		slog.String("stack", string(debug.Stack())))
}

// refusalEvent returns the event of refusal e: sent when enforcing, then
// with its status; reported when not.
func (m *Middleware) refusalEvent(endpoint, client string, e *refusal) Event {
	return Event{Endpoint: endpoint, ClientID: client, Refusal: e.reason, Enforced: !m.reportOnly, Status: e.status}
}

// eventWriter is the response writer of a request the middleware passes on
// with nothing to hold back or undo, when OnEvent needs its final status.
// It changes nothing: as net/http, it takes Write, WriteString, ReadFrom
// and Flush without a status for 200; 1xx statuses pass through; the first
// final status is the one reported.
type eventWriter struct {
	w      http.ResponseWriter
	status int  // the first final status; 0 until then
	done   bool // the status is known, or can no longer be seen (Hijack)
}

// Header returns the header map of the underlying writer.
func (sw *eventWriter) Header() http.Header { return sw.w.Header() }

// WriteHeader notes code if it is the first final status, and passes it on.
func (sw *eventWriter) WriteHeader(code int) {
	if !sw.done && (code >= 200 && code <= 999 || code == http.StatusSwitchingProtocols) {
		sw.status, sw.done = code, true
	}
	sw.w.WriteHeader(code)
}

// implied notes the 200 that a write without a status implies.
func (sw *eventWriter) implied() {
	if !sw.done {
		sw.status, sw.done = http.StatusOK, true
	}
}

// Write implies a 200 status, as net/http does.
func (sw *eventWriter) Write(b []byte) (int, error) {
	sw.implied()
	return sw.w.Write(b)
}

// WriteString implies a 200 status, as net/http does.
func (sw *eventWriter) WriteString(s string) (int, error) {
	sw.implied()
	return io.WriteString(sw.w, s)
}

// ReadFrom implies a 200 status, as net/http does.
func (sw *eventWriter) ReadFrom(src io.Reader) (int64, error) {
	sw.implied()
	return io.Copy(sw.w, src)
}

// Flush implies a 200 status, as net/http does.
func (sw *eventWriter) Flush() { _ = sw.FlushError() }

// FlushError is Flush for http.ResponseController, reporting the error.
func (sw *eventWriter) FlushError() error {
	sw.implied()
	return http.NewResponseController(sw.w).Flush()
}

// Hijack hands the connection over: what is written to it is no status
// the middleware sees, so the event reports none (0) unless one was
// written before. An underlying writer that cannot hijack answers an
// error, as without the middleware.
func (sw *eventWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	sw.done = true
	return http.NewResponseController(sw.w).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (sw *eventWriter) Unwrap() http.ResponseWriter { return sw.w }

// returned notes that the handler returned: net/http sends 200 for a
// handler that wrote nothing.
func (sw *eventWriter) returned() { sw.implied() }

// serve runs next on w and r and reports ev, with the final status, once
// next returned (or panicked: then with the status written before, 0 if
// none; the panic goes on). With no OnEvent, next runs on w itself.
func (m *Middleware) serve(next http.Handler, w http.ResponseWriter, r *http.Request, ev Event) {
	if m.onEvent == nil {
		next.ServeHTTP(w, r)
		return
	}
	sw := &eventWriter{w: w}
	defer func() {
		ev.Status = sw.status
		m.emit(r.Context(), ev)
	}()
	next.ServeHTTP(sw, r)
	sw.returned()
}
