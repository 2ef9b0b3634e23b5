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
//     the registered redirect_uri), never a 5xx, and never a redirect to an
//     unregistered redirect_uri;
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
//   - hygiene: a reused challenge, an exposed challenge, state, caching.
//
// A refusal proves nothing if the server refuses everything, so each
// refusal check first needs the baseline (a valid S256 flow) to work, and is
// skipped with the reason when it does not. Every token check mints its own
// codes with its own verifiers.
//
// # Outcomes
//
// [Fail] is a bypass, a 5xx, or no answer; [Warn] is a refusal in the wrong
// shape (another error code, no Cache-Control: no-store, no
// error_description) or a weakness that is not a bypass; [Skip] says why a
// check could not run.
//
// # Safety of the audit itself
//
// The audit is a client of a server it does not trust. Every request has a
// timeout ([Target.Timeout]); no redirect is followed; bodies are read up to
// 1 MiB; after three unanswered requests no more are sent; the concurrent
// check uses a fixed 8 requests. Nothing is sent anywhere but the issuer's
// host (or endpoints named in the Target): redirects to the client's
// redirect_uri are read, never followed.
//
// # Requirements on the target
//
// The server must issue a code to a plain GET of the authorization URL (it
// consents at once, or the [Target.Client] carries a logged-in session's
// cookies), or [Target.Authorize] must drive its login and consent pages.
// The audit sends about 110 requests and mints about 50 codes; run it
// against a test or staging deployment.
package pkcetest
