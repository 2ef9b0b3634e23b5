// Package pkcetest audits a running OAuth 2.0 / OpenID Connect
// authorization server for PKCE (RFC 7636) bypasses, black-box: it speaks
// HTTP to the server and needs nothing of its code, so it audits any
// server, wrapped by this module's middleware or not.
//
// # Usage
//
// Describe the server and a client registered on it, then run the
// catalogue from a test:
//
//	func TestPKCE(t *testing.T) {
//		pkcetest.Run(t, pkcetest.Target{
//			Issuer:      "https://auth.example",
//			ClientID:    "my-app",
//			RedirectURI: "http://127.0.0.1:8765/callback",
//		})
//	}
//
// or from a program with [Audit], which returns one [Result] per check.
// The command cmd/pkce-audit prints the same results as a table or JSON.
//
// # The catalogue
//
// Each check has a stable ID whose prefix is its group:
//
//   - metadata: both well-known documents are served and agree, list S256,
//     and advertise plain if and only if the server accepts it;
//   - authorize: malformed challenges and methods, duplicated parameters and
//     a missing challenge are refused with a 4xx (or an OAuth error sent to
//     the registered redirect_uri), never a 5xx; no code goes to an
//     unregistered redirect_uri (another path, another scheme, a look-alike
//     host); the implicit flow issues no access token;
//   - token: missing, blank, wrong and malformed verifiers, retries after a
//     failure, replays, concurrent redemptions, the downgrade attack,
//     another client redeeming the code, duplicated and smuggled
//     parameters, wrong content types and oversized bodies are refused as
//     RFC 6749 §5.2 JSON with Cache-Control: no-store and an
//     error_description, never a 5xx; a stolen code the attacker makes
//     the server echo in the response to an authorization request of its
//     own (through the redirect_uri's own query, or an extra code
//     parameter that a login redirect carries along) is not rebound to the
//     attacker's challenge (token.rebind-echo-redirect-query,
//     token.rebind-echo-code-param); and a token request refused for
//     client authentication does not cost the code, so the correct retry
//     still gets a token (token.retry-bad-auth-then-correct, a warn when
//     it does not: golang.org/x/oauth2's default AuthStyle retries so);
//   - par, on a server that advertises a
//     pushed_authorization_request_endpoint (RFC 9126; or
//     [Target.PAREndpoint]): a valid pushed S256 request gets a
//     request_uri, a code for it and a token (par.valid); a pushed request
//     without a challenge is refused where a direct one is
//     (par.no-challenge); the code of a pushed request is refused with a
//     wrong verifier and without one (par.verifier-wrong,
//     par.verifier-missing); a code_challenge sent beside the request_uri
//     cannot replace the pushed one (par.outer-challenge). The audit pushes
//     authenticated as at the token endpoint (HTTP Basic for a
//     confidential client, client_id in the body for a public one) and
//     sends the authorization request with client_id and request_uri
//     only. A server that advertises no PAR endpoint skips them, and says
//     so;
//   - hygiene: a reused challenge (info), an exposed challenge, state,
//     caching.
//
// A refusal proves nothing if the server refuses everything, so each
// refusal check first needs the baseline (a valid S256 flow) to work, and is
// skipped with the reason when it does not. Every token check mints its own
// codes with its own verifiers.
//
// # Outcomes
//
// One severity rule holds for every check, and each check's
// [Check.FailWhen] says what evidence makes it fail:
//
//   - [Fail]: the check demonstrated harm: a token issued where PKCE should
//     have stopped it (a wrong, missing, malformed or foreign verifier, a
//     downgrade, a replay or a second concurrent redemption, a code
//     redeemable without a verifier after a failed attempt, a stolen code
//     rebound through an echo, the code of a pushed request not bound to
//     its pushed challenge, a pushed request without a challenge that
//     sidesteps a requirement), a code or token sent to a redirect URI that
//     is not registered, a 5xx (or no answer) to a client's malformed
//     input, or metadata that makes conforming PKCE clients refuse the
//     server;
//   - [Warn]: a deviation from RFC 7636, RFC 9700 or RFC 6749 that the check
//     could not turn into harm: a malformed challenge accepted while its
//     code stays checked, a code that survives a failed attempt while
//     verifiers are enforced, a correct verifier in the wrong place, a
//     duplicated parameter read consistently, a refusal in the wrong shape;
//   - [Skip]: a precondition is not met, and the detail says which (POST to
//     the authorization endpoint not supported, no confidential client, an
//     OAuth-only server without an OpenID document, no PAR endpoint
//     advertised);
//   - [Info]: a client's duty the server need not enforce (a fresh verifier
//     per request, RFC 7636 §7.1).
//
// Where a malformed request gets through, the check goes on until it can
// tell harm from deviation: a code issued for a malformed challenge is
// redeemed with a verifier that does not hash to it; an accepted malformed
// verifier is weighed against a probe of whether verifiers can be guessed
// (a code surviving a failed attempt while 8-character verifiers are
// accepted). Each detail starts with what happened.
//
// When the first authorization request, a valid one, lands on a login or
// consent page instead of getting a code, [Audit] stops at once with a
// *[LoginRequiredError] rather than skip every check.
//
// # Safety of the audit itself
//
// The audit is a client of a server it does not trust. Every request has a
// timeout ([Target.Timeout]); no redirect is followed; bodies are read up to
// 1 MiB; after three unanswered requests no more are sent; the concurrent
// check (token.parallel) races 8 requests per code for up to 30 codes
// within 5 seconds, on 8 connections it opens and warms first. The
// destructive checks, token.replay and token.parallel, run last: a correct
// server may revoke the grant of a replayed code (RFC 6749 §4.1.2). Nothing is sent anywhere but the issuer's
// host (or endpoints named in the Target): redirects to the client's
// redirect_uri are read, never followed.
//
// # Requirements on the target
//
// The server must issue a code to a plain GET of the authorization URL (it
// consents at once, or the [Target.Client] carries a logged-in session's
// cookies), or [Target.Authorize] must drive its login and consent pages.
// The audit sends about 400 requests and mints about 110 codes (most of
// them raced by token.parallel); run it against a test or staging
// deployment.
package pkcetest
