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
// fragment, a form_post page, or a signed JARM response) and records the
// challenge in the [Store] before the code leaves the server. [Middleware.Token] checks the
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
// code is sent. If Record fails, do not send the code. The same holds for a
// server that mints the code before a consent page and carries it through
// the consent form: a code that arrives in the request is never taken for
// one the handler issued (see below), so bind it with Record when it is
// minted.
//
// # Which codes are bound
//
// Only a code the wrapped handler issued is bound. Every value a client
// sends may come back in the handler's response: a redirect URI's own
// query, a login redirect that carries the request's parameters, a consent
// page with them as hidden inputs. So a value the request itself carried
// (its parameters, the parameters inside its redirect_uri) is never taken
// for an issued code; in a redirect, the response parameters are the
// Location's less those of the request's redirect_uri; a page is a
// form_post response only when it holds a form posting to the request's
// redirect_uri (any POST form when the request named none). One response
// binds at most one code: several distinct codes fail closed (500). A key
// is never rebound: a captured code that is already bound to a challenge,
// used or not, fails closed (500) and is logged at Error as a possible
// attack; binding the same challenge again (Record, then the capture of
// the same code) is a harmless retry. A JARM response (response_mode jwt,
// query.jwt, fragment.jwt, form_post.jwt) is read when it is signed; an
// encrypted one cannot be, and fails closed at the authorization endpoint
// with a description saying so.
//
// # Security model
//
// The middleware fails closed. A code is checked once: a failed check (a
// wrong, missing or malformed verifier, another client's code) uses the
// challenge up, so a code that failed its check can never be redeemed, with
// or without a verifier, and a code the token handler redeemed cannot be
// replayed. A request that passed the check and that the wrapped token
// handler then refused (a final status of 400 or more: client
// authentication, a wrong redirect_uri) does not cost the code: the
// challenge is put back before the refusal leaves, so the client's
// corrected retry gets its token, as from the bare server
// (golang.org/x/oauth2's default AuthStyle tries HTTP Basic, then the body).
// This needs a Store that implements [Restorer], as [MemoryStore] and the
// Redis store do; with any other Store every check uses the code up. A verifier
// for a code without a recorded challenge is refused (the downgrade of RFC
// 9700 §4.8.2). A store error or timeout refuses the request (500
// server_error; 503 temporarily_unavailable when the store is full): a code
// whose challenge could not be recorded never reaches the client, and a
// token request that could not be checked never reaches the token handler.
// A parameter given twice or named in another case, a token request
// without grant_type, a token request body the middleware cannot read
// (unknown or mislabelled type, content-encoded, oversized) and OAuth
// parameters smuggled into the token request's URL query are refused rather
// than passed on; so is an authorization request for a code whose body
// cannot be read.
//
// The middleware must be the first to read the request body: put anything
// that reads it (a logger calling ParseForm, a rate limiter) inside it, and
// compression outside it. A body parsed before the middleware is checked
// from what was parsed; a body read and thrown away is refused with 500
// server_error and an Error log that names the misordering. Verifiers are compared in constant
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
// # Rolling out
//
// A server that already has clients cannot require PKCE of all of them on
// the first day. The path:
//
//  1. Observe. [Config.ReportOnly] runs every check and records every
//     challenge, but refuses nothing: each refusal enforcement would make is
//     reported through [Config.OnEvent] and the Logger. It protects nothing.
//     An [Adoption] passed as OnEvent says, per client, how many codes were
//     redeemed with and without PKCE and which refusals it would get
//     (serve it on an internal address: it is an [http.Handler]).
//  2. Enforce client by client. Enforce, with Require returning false for
//     the clients not ready yet. That already protects every client that
//     sends PKCE: its verifier is checked and its code cannot be
//     downgraded.
//  3. Require for all: drop Require.
//
// Drive Require from a list an operator reviewed, or from the server's own
// client registry (public clients first), never from [ClientReport.Ready]
// automatically: a client ID is whatever a request says, and any user of
// the server can redeem a code with PKCE under a public client's ID.
//
//	notReady := map[string]bool{"legacy-ios": true} // reviewed
//	m, err := pkce.New(pkce.Config{
//		Require: func(r *http.Request, clientID string) bool { return !notReady[clientID] },
//	})
//
// The examples of [Config] show each way (ExampleConfig_reviewedList,
// ExampleConfig_registry, ExampleAdoption).
//
// # Pushed authorization requests and request objects
//
// Servers with a pushed authorization request endpoint (RFC 9126) wrap it
// too:
//
//	mux.Handle("/par", rateLimit(m.PAR(parHandler)))
//
// [Middleware.PAR] checks the pushed code_challenge under the same policy as
// Authorize and records it, with the client and the pushed redirect_uri,
// under a key derived from the request_uri of the handler's 201 answer,
// before that answer leaves. The authorization request that names the
// request_uri is checked against it by [Middleware.Authorize]: the client
// must match, an outer challenge must not differ, and the code the handler
// issues is bound to the pushed challenge, which is then used up (a
// request_uri is single use). Request objects (request=, RFC 9101) are read
// in both places: their payload's PKCE parameters, client_id,
// response_type and redirect_uri count; the signature is the server's to
// check. The look-up needs a Store that implements [Peeker] ([MemoryStore]
// and the Redis store do); with another, PAR refuses every pushed request
// with HTTP 500 and an Error log. Rate-limit the PAR endpoint: each
// accepted push writes a store entry with no user in the loop. See
// docs/par.md.
//
// # Known limits
//
// A request_uri the middleware did not record (a request URI by reference,
// or one pushed to an endpoint PAR does not wrap) and an encrypted (JWE)
// request object cannot be read: under a policy that requires PKCE they are
// refused with a description that says so; under an optional one their
// code is not bound, and a verifier for it is refused as a downgrade.
// Record does not use a pushed request up: a server minting codes with
// Record keeps its own single-use rule for request_uri. A form_post page
// whose code input lies past [Config.MaxCaptureBytes] is not captured (this
// is logged); under a requiring policy its token request fails closed. Put
// compression outside the middleware: an encoded page or metadata document
// cannot be read.
//
// # Running more than one instance
//
// The default [MemoryStore] serves one process. When authorization and
// token requests may reach different instances, use a shared Store (the
// module github.com/go-pkce/pkce/redisstore provides one for Redis, on a
// single server, Sentinel or Cluster), checked with storetest.Run.
//
// # More
//
// The repository's docs folder has the details a package comment cannot
// hold: the frameworks and the ordering rule
// (https://github.com/go-pkce/pkce/blob/main/docs/frameworks.md), the demo
// server and a curl walk-through (docs/demo.md), the audit kit and its
// checks (docs/audit.md), rolling PKCE out to existing clients
// (docs/rollout.md), stores (docs/stores.md) and performance
// (docs/performance.md). SECURITY.md holds the threat model and the tests
// that prove each guarantee.
package pkce
