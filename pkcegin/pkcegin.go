// Package pkcegin puts the [pkce.Middleware] in front of authorization
// servers built on Gin (github.com/gin-gonic/gin).
//
// Each function returns a gin.HandlerFunc that runs the rest of the chain as
// the handler the middleware wraps: the chain writes through the
// middleware's response writer (so a code in a redirect or a form_post page
// is bound to its challenge before the client sees it, and a discovery
// document is rewritten), reads the request the middleware hands on (the
// token request body restored and c.Request.Form already filled, so
// c.PostForm and c.ShouldBind see what the client sent), and
// [pkce.FromContext] finds the challenge in c.Request.Context(). A request
// the middleware refuses gets the same OAuth error as through net/http, and
// the chain is aborted.
//
//	m, err := pkce.New(pkce.Config{})
//	if err != nil { ... }
//	r := gin.New()
//	r.GET("/authorize", pkcegin.Authorize(m), authorize)
//	r.POST("/token", pkcegin.Token(m), token)
//	r.GET("/.well-known/openid-configuration", pkcegin.Discovery(m), metadata)
//
// # Order in the chain
//
// Put these handlers before anything that reads the request body: a
// logger, an audit or rate-limiting handler that calls c.PostForm,
// c.ShouldBind or c.GetRawData. The middleware reads the body itself and
// hands it on intact, with c.Request.Form filled, so handlers after it bind
// as usual. A body read before it is handled as follows:
//
//   - a form parsed by c.PostForm, c.GetPostForm or c.ShouldBind (Gin's
//     form binding calls ParseForm): checked from c.Request.PostForm under
//     the same rules as a body the middleware reads; it works;
//   - a body bound with c.ShouldBindBodyWith: checked from Gin's cache of
//     it (gin.BodyBytesKey), which later c.ShouldBindBodyWith calls read;
//     it works;
//   - a body read and not put back (c.GetRawData, io.ReadAll): refused
//     with 500 server_error and an Error log saying "the request body was
//     read before the PKCE middleware"; a token request sent chunked, whose
//     drained body cannot be told from an empty one, is refused for its
//     missing grant_type. Nothing passes unchecked, but the flow breaks
//     until the order is fixed.
//
// The same holds for [Authorize] with a POST authorization request: a
// drained body cannot issue a code without its challenge under a policy
// that requires PKCE, but the flow breaks.
//
// Put gin.Recovery (gin.Default does) and any timeout handler before these
// handlers too: a 500 written for a panic, or a timeout answer, from inside
// the chain after [Token] would be taken for the token handler's own
// refusal, which puts the code back for a retry.
//
// Put compression (gin-contrib/gzip and the like) before these handlers in
// the chain, so it runs outside them: behind compression the middleware
// would see encoded bytes, and neither rewrite the discovery document nor
// find a code in a form_post page.
package pkcegin

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/go-pkce/pkce"
)

// Authorize returns a gin.HandlerFunc for the authorization endpoint: the
// rest of the chain runs as the handler [pkce.Middleware.Authorize] wraps.
// It is safe for concurrent use.
func Authorize(m *pkce.Middleware) gin.HandlerFunc { return wrap(m.Authorize) }

// Token returns a gin.HandlerFunc for the token endpoint: the rest of the
// chain runs as the handler [pkce.Middleware.Token] wraps, with the body the
// middleware read restored and c.Request.Form filled from it. A request
// that passed the PKCE check and that the chain then refuses (c.JSON with a
// status of 400 or more: client authentication, say) does not cost the
// code when the store can put it back (pkce.Restorer): the client's retry
// gets its token. Put it before anything that reads the body (see "Order
// in the chain"). It is safe for concurrent use.
func Token(m *pkce.Middleware) gin.HandlerFunc { return wrap(m.Token) }

// Discovery returns a gin.HandlerFunc for a metadata endpoint
// (/.well-known/oauth-authorization-server or
// /.well-known/openid-configuration): the rest of the chain runs as the
// handler [pkce.Middleware.Discovery] wraps, and its JSON document gets
// code_challenge_methods_supported. It is safe for concurrent use.
func Discovery(m *pkce.Middleware) gin.HandlerFunc { return wrap(m.Discovery) }

// wrap runs the rest of the gin chain as the handler that mw wraps. While
// the chain runs, c.Request is the request mw hands on and c.Writer writes
// through mw's response writer; both are restored when the chain returns,
// so handlers earlier in the chain (loggers, recovery) see the response
// that really went out. If mw answers without calling its handler (a
// refusal), the chain is aborted.
func wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig, origReq := c.Writer, c.Request
		defer func() { c.Writer, c.Request = orig, origReq }()
		called := false
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			c.Request = r
			if w == http.ResponseWriter(orig) {
				c.Next() // the middleware reads the request but not the response
				return
			}
			rw := newResponseWriter(w, orig)
			c.Writer = rw
			c.Next()
			// Gin sends a status set without a body (c.Status) after the
			// chain; the middleware's writer must see it before mw returns.
			rw.WriteHeaderNow()
		})).ServeHTTP(orig, readable(c))
		if !called {
			c.Abort()
		}
	}
}

// readable returns the request for the middleware to read. A handler
// before this one that bound the body with c.ShouldBindBodyWith left it in
// Gin's cache (gin.BodyBytesKey) and the request's body empty, and the
// handlers after this one bind from that cache: the middleware then reads
// the cache, from a copy of the request whose body is the cached bytes and
// whose forms are not parsed yet, so what those handlers bind is what was
// checked. The copy keeps the client's Content-Length: a cache shorter than
// it (the body was read before the cache was filled) is refused as a
// misordering. Without a cache the request is c.Request as it is, and a
// form c.PostForm or c.ShouldBind parsed before is checked from
// c.Request.PostForm by the middleware itself.
func readable(c *gin.Context) *http.Request {
	v, ok := c.Get(gin.BodyBytesKey)
	if !ok {
		return c.Request
	}
	b, ok := v.([]byte)
	if !ok || b == nil {
		return c.Request // Gin reads the body again for such a value
	}
	r := new(http.Request)
	*r = *c.Request
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.Form, r.PostForm, r.MultipartForm = nil, nil, nil
	return r
}

// responseWriter is the gin.ResponseWriter the rest of the chain writes
// to: it behaves as gin's own (the status is held until the first write or
// WriteHeaderNow, so a handler may set headers after c.Status), and writes
// through the middleware's writer w.
type responseWriter struct {
	w      http.ResponseWriter // the middleware's writer
	gin    gin.ResponseWriter  // gin's writer, for CloseNotify and Pusher
	status int
	size   int // -1 until the header is written
}

var _ gin.ResponseWriter = (*responseWriter)(nil)

func newResponseWriter(w http.ResponseWriter, orig gin.ResponseWriter) *responseWriter {
	return &responseWriter{w: w, gin: orig, status: http.StatusOK, size: -1}
}

// errHijack is what Hijack returns: the middleware holds the response back
// to look at it, so the connection cannot be taken from under it.
var errHijack = errors.New("pkcegin: Hijack is not supported behind the PKCE middleware")

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader records the status; it is sent with the first write or by
// WriteHeaderNow, as gin does. Once sent, it can no longer change.
func (rw *responseWriter) WriteHeader(code int) {
	if code > 0 && !rw.Written() {
		rw.status = code
	}
}

// WriteHeaderNow sends the status, once.
func (rw *responseWriter) WriteHeaderNow() {
	if !rw.Written() {
		rw.size = 0
		rw.w.WriteHeader(rw.status)
	}
}

func (rw *responseWriter) Write(b []byte) (int, error) {
	rw.WriteHeaderNow()
	n, err := rw.w.Write(b)
	rw.size += n
	return n, err
}

func (rw *responseWriter) WriteString(s string) (int, error) {
	rw.WriteHeaderNow()
	n, err := io.WriteString(rw.w, s)
	rw.size += n
	return n, err
}

func (rw *responseWriter) Status() int   { return rw.status }
func (rw *responseWriter) Size() int     { return rw.size }
func (rw *responseWriter) Written() bool { return rw.size != -1 }

// Flush sends the status and flushes through the middleware's writer, which
// holds a response back until it has decided what it carries.
func (rw *responseWriter) Flush() {
	rw.WriteHeaderNow()
	_ = http.NewResponseController(rw.w).Flush()
}

// Hijack is not supported: see errHijack.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errHijack
}

// CloseNotify reports the client going away, as gin's writer does.
//
// Deprecated: as http.CloseNotifier; use c.Request.Context().
func (rw *responseWriter) CloseNotify() <-chan bool { return rw.gin.CloseNotify() }

// Pusher returns gin's HTTP/2 pusher, if any: a pushed resource is a
// response of its own, which the middleware does not look at.
func (rw *responseWriter) Pusher() http.Pusher { return rw.gin.Pusher() }

// Unwrap returns the middleware's writer, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }
