// Package pkce adds PKCE (RFC 7636) to an existing OAuth 2.0 or OpenID
// Connect authorization server by wrapping three of its net/http handlers:
// correct, fast and fail-closed, with no framework to adopt and no rewrite.
//
//	m, err := pkce.New(pkce.Config{}) // S256 required, in-memory store
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("/authorize", m.Authorize(authorizeHandler))
//	mux.Handle("/token", m.Token(tokenHandler))
//	mux.Handle("/.well-known/openid-configuration", m.Discovery(discoveryHandler))
//	mux.Handle("/.well-known/oauth-authorization-server", m.Discovery(discoveryHandler))
//
// [Middleware.Authorize] validates code_challenge and code_challenge_method,
// learns the code the wrapped handler issues (from the redirect's query or
// fragment, or a form_post page) and records the challenge in the [Store]
// before the code leaves the server. [Middleware.Token] checks the
// code_verifier of every grant_type=authorization_code request against the
// recorded challenge; every other grant passes through untouched.
// [Middleware.Discovery] adds code_challenge_methods_supported to the
// metadata, listing exactly the methods accepted: clients such as Model
// Context Protocol clients refuse a server without it. Wrap both well-known
// paths.
//
// # Integration patterns
//
// Plain wrap. The authorization handler consents at once (or through a
// session cookie) and redirects with the code: wrap it and nothing else
// changes. The code is found in the Location header, in its query or its
// fragment (hybrid response types such as "code id_token"), or in the
// hidden code input of a 2xx HTML form_post page.
//
// Login page in between, redirecting back. The authorization handler shows
// a login or consent page (no code yet), and after login the browser is
// redirected back to the same /authorize URL with its parameters, now with a
// session: the wrapped handler issues the code on that second pass and the
// middleware captures it as in the plain wrap. Nothing to change.
//
// Code minted elsewhere. When another handler (a POST /login or /consent)
// mints the code, carry the challenge there yourself: read it with
// [FromContext] in the wrapped authorization handler, keep it with the
// pending authorization (the server's session or its database row), and
// bind it with [Middleware.Record] when the code is minted, before the
// code is sent. If Record fails, do not send the code.
//
// # Security model
//
// The middleware fails closed. A code is checked once: the first token
// request for it uses the challenge up, pass or fail, so a code that failed
// its check can never be redeemed, with or without a verifier. A verifier
// for a code without a recorded challenge is refused (the downgrade of RFC
// 9700 §4.8.2). A store error or timeout refuses the request (500
// server_error; 503 temporarily_unavailable when the store is full): a code
// whose challenge could not be recorded never reaches the client, and a
// token request that could not be checked never reaches the token handler.
// A parameter given twice or named in another case, a token request body
// the middleware cannot read (unknown or mislabelled type, content-encoded,
// oversized) and OAuth parameters smuggled into the token request's URL
// query are refused rather than passed on; so is an authorization request
// for a code whose body cannot be read. Verifiers are compared in constant
// time. Store
// keys are SHA-256 hashes of the codes, so no store holds a live code.
// Nothing secret is logged: not a verifier, a challenge or a code. Every
// refusal carries an error_description that says what the client must fix.
//
// The wrapped server keeps its own duties: validating client_id and
// redirect_uri, authenticating clients, and keeping codes short-lived and
// single-use. [Config.TTL] must be at least its code lifetime.
//
// # Policy
//
// By default PKCE with S256 is required of every client (OAuth 2.1, RFC
// 9700 §2.1.1). [Config.Require] makes it optional per client while their
// apps are updated; [Config.AllowPlain] accepts the plain method for
// clients that cannot compute SHA-256.
//
// # Known limits
//
// Pushed authorization requests (RFC 9126) and request objects (RFC 9101)
// carry the challenge outside the authorization request's own parameters,
// and the middleware does not read them yet. Under a policy that requires
// PKCE, such a request without a code_challenge parameter of its own is
// refused with a description that says so. Under an optional policy its
// code has no recorded challenge, so its verifier is refused as a
// downgrade. A form_post page whose code input lies past
// [Config.MaxCaptureBytes] is not captured (this is logged); under a
// requiring policy its token request fails closed. Put compression outside
// the middleware: an encoded page or metadata document cannot be read.
//
// # Running more than one instance
//
// The default [MemoryStore] serves one process. When authorization and
// token requests may reach different instances, use a shared Store (the
// module github.com/go-pkce/pkce/redisstore provides one for Redis).
package pkce
