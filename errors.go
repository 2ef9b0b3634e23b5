package pkce

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// OAuth error codes (RFC 6749 §4.1.2.1, §5.2).
const (
	errInvalidRequest         = "invalid_request"
	errInvalidRequestURI      = "invalid_request_uri"    // RFC 9101 §7, OpenID Connect Core §3.1.2.6
	errInvalidRequestObject   = "invalid_request_object" // RFC 9101 §7
	errInvalidGrant           = "invalid_grant"
	errServerError            = "server_error"
	errTemporarilyUnavailable = "temporarily_unavailable"
)

// refusal is an OAuth error the middleware answers instead of the wrapped
// handler (or, under Config.ReportOnly, reports and lets pass).
type refusal struct {
	status int
	code   string
	desc   string // error_description, in words a client developer can act on
	reason string // the stable reason ID of Event.Refusal: one of the Reason constants
}

// badRequest is an invalid_request refusal (HTTP 400) for reason.
func badRequest(reason, desc string) *refusal {
	return &refusal{http.StatusBadRequest, errInvalidRequest, desc, reason}
}

// badRequestURI is an invalid_request_uri refusal (HTTP 400) for reason:
// the request_uri of an authorization request cannot be used (RFC 9101 §7).
func badRequestURI(reason, desc string) *refusal {
	return &refusal{http.StatusBadRequest, errInvalidRequestURI, desc, reason}
}

// badRequestObject is an invalid_request_object refusal (HTTP 400) for
// reason: a request object that cannot be read (RFC 9101 §7).
func badRequestObject(reason, desc string) *refusal {
	return &refusal{http.StatusBadRequest, errInvalidRequestObject, desc, reason}
}

// badGrant is an invalid_grant refusal (HTTP 400) for reason.
func badGrant(reason, desc string) *refusal {
	return &refusal{http.StatusBadRequest, errInvalidGrant, desc, reason}
}

// fromError turns a validation error into an invalid_request refusal for
// reason, dropping the "pkce: " prefix that Go errors carry.
func fromError(reason string, err error) *refusal {
	return badRequest(reason, strings.TrimPrefix(err.Error(), "pkce: "))
}

// misordered is the answer to a request whose body was read or changed
// before the middleware could read it: a server misconfiguration, so a 500,
// logged at Error (logRefusal) with desc naming it.
func misordered(desc string) *refusal {
	return &refusal{http.StatusInternalServerError, errServerError, desc, ReasonBodyConsumed}
}

// bodyConsumed is misordered for a body read before the middleware.
func bodyConsumed() *refusal {
	return misordered("the request body was read before the PKCE middleware; put the middleware before anything that reads the body")
}

// failClosed is the answer to an authorization response the middleware
// will not let out (several codes, a rebind, an encrypted JARM response):
// HTTP 500 server_error for reason.
func failClosed(reason, desc string) *refusal {
	return &refusal{http.StatusInternalServerError, errServerError, desc, reason}
}

// storeRefusal is the answer to a failed Store call: 503 when the store is
// full, 500 otherwise. Fail closed: nothing passes and no code is issued.
func storeRefusal(err error, doing string) *refusal {
	if errors.Is(err, ErrStoreFull) {
		return &refusal{http.StatusServiceUnavailable, errTemporarilyUnavailable,
			"the server holds too many pending authorization requests to record this one; try again shortly", ReasonStoreFull}
	}
	return &refusal{http.StatusInternalServerError, errServerError,
		"the server could not " + doing + " (its PKCE store failed); try again, and contact the server operator if it persists", ReasonStoreError}
}

// write sends the refusal as RFC 6749 §5.2 JSON with Cache-Control: no-store.
func (e *refusal) write(w http.ResponseWriter) {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{e.code, sanitizeDescription(e.desc)})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Del("Content-Length")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// logRefusal records a refusal, sent or, under Config.ReportOnly, only
// reported: the same line but for its message, and enforced. Only the
// client, the endpoint and the reason are logged: never a verifier,
// challenge or code. status and error are what enforcing sends.
func (m *Middleware) logRefusal(ctx context.Context, endpoint, clientID string, e *refusal) {
	level := slog.LevelInfo
	if e.status >= 500 {
		level = slog.LevelError
	}
	if !m.log.Enabled(ctx, level) {
		return
	}
	msg := "pkce: request refused"
	if m.reportOnly {
		msg = "pkce: request would be refused (report only: passed on)"
	}
	m.log.LogAttrs(ctx, level, msg,
		slog.String("endpoint", endpoint),
		slog.String("client_id", clientID),
		slog.String("reason", e.reason),
		slog.Bool("enforced", !m.reportOnly),
		slog.Int("status", e.status),
		slog.String("error", e.code),
		slog.String("error_description", e.desc))
}

// logFault records a store failure. The key is derived from a code and is
// not logged either.
func (m *Middleware) logFault(ctx context.Context, endpoint, op string, err error) {
	m.log.LogAttrs(ctx, slog.LevelError, "pkce: store failed",
		slog.String("endpoint", endpoint),
		slog.String("op", op),
		slog.String("err", err.Error()))
}

// sanitizeDescription keeps error_description within the characters RFC 6749
// §5.2 allows (%x20-21 / %x23-5B / %x5D-7E): a double quote becomes a single
// one, a backslash a slash, anything else outside the set a question mark.
func sanitizeDescription(s string) string {
	ok := true
	for i := 0; i < len(s) && ok; i++ {
		ok = allowedInDescription(s[i])
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '"':
			b[i] = '\''
		case c == '\\':
			b[i] = '/'
		case !allowedInDescription(c):
			b[i] = '?'
		}
	}
	return string(b)
}

func allowedInDescription(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'
}

// quoteParam quotes a client-supplied value for an error description:
// single quotes, at most 40 characters, characters an error_description may
// not carry replaced.
func quoteParam(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "'" + sanitizeDescription(s) + "'"
}

// asciiUpper upper-cases ASCII letters only.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
