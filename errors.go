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
	errInvalidGrant           = "invalid_grant"
	errServerError            = "server_error"
	errTemporarilyUnavailable = "temporarily_unavailable"
)

// refusal is an OAuth error the middleware answers instead of the wrapped
// handler.
type refusal struct {
	status int
	code   string
	desc   string // error_description, in words a client developer can act on
}

func badRequest(desc string) *refusal {
	return &refusal{http.StatusBadRequest, errInvalidRequest, desc}
}
func badGrant(desc string) *refusal { return &refusal{http.StatusBadRequest, errInvalidGrant, desc} }

// fromError turns a validation error into an invalid_request refusal,
// dropping the "pkce: " prefix that Go errors carry.
func fromError(err error) *refusal {
	return badRequest(strings.TrimPrefix(err.Error(), "pkce: "))
}

// misordered is the answer to a request whose body was read or changed
// before the middleware could read it: a server misconfiguration, so a 500,
// logged at Error (logRefusal) with desc naming it.
func misordered(desc string) *refusal {
	return &refusal{http.StatusInternalServerError, errServerError, desc}
}

// bodyConsumed is misordered for a body read before the middleware.
func bodyConsumed() *refusal {
	return misordered("the request body was read before the PKCE middleware; put the middleware before anything that reads the body")
}

// storeRefusal is the answer to a failed Store call: 503 when the store is
// full, 500 otherwise. Fail closed: nothing passes and no code is issued.
func storeRefusal(err error, doing string) *refusal {
	if errors.Is(err, ErrStoreFull) {
		return &refusal{http.StatusServiceUnavailable, errTemporarilyUnavailable,
			"the server holds too many pending authorization requests to record this one; try again shortly"}
	}
	return &refusal{http.StatusInternalServerError, errServerError,
		"the server could not " + doing + " (its PKCE store failed); try again, and contact the server operator if it persists"}
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

// logRefusal records a refusal. Only the client, the endpoint and the
// reason are logged: never a verifier, challenge or code.
func (m *Middleware) logRefusal(ctx context.Context, endpoint, clientID string, e *refusal) {
	level := slog.LevelInfo
	if e.status >= 500 {
		level = slog.LevelError
	}
	if !m.log.Enabled(ctx, level) {
		return
	}
	m.log.LogAttrs(ctx, level, "pkce: request refused",
		slog.String("endpoint", endpoint),
		slog.String("client_id", clientID),
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
