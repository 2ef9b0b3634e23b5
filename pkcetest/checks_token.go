package pkcetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// parallelRedemptions is how many concurrent token requests race for one
// code in token.parallel; parallelCodes how many codes it races at most,
// and parallelBudget the time after which it races no further code.
const (
	parallelRedemptions = 8
	parallelCodes       = 30
	parallelBudget      = 5 * time.Second
)

// paddingBytes is the size of the padding parameter of token.oversized-body:
// past the usual limits of a PKCE front layer (64 KiB), within what a
// server discards after refusing (Go's net/http: 256 KiB).
const paddingBytes = 192 << 10

// Test vectors from SPEC.md.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	oauth21Challenge = "6fdkQaPm51l13DSukcAH3Mdx7_ntecHYd1vi3n0hMZY" // OAuth 2.1 draft example
)

// otherClient is a client_id the audit claims when it redeems a code
// issued to the target's client.
const otherClient = "pkcetest-other-client"

// otherClient is the client that tries to redeem the target client's codes.
func (a *auditor) otherClient() (id, secret string) {
	if a.t.OtherClientID != "" {
		return a.t.OtherClientID, a.t.OtherClientSecret
	}
	return otherClient, "pkcetest-other-secret"
}

// clientMismatch are the errors that rightly refuse a code redeemed by
// another client.
var clientMismatch = []string{"invalid_grant", "invalid_client", "unauthorized_client", "invalid_request"}

// tokenFails is the fail evidence of a check whose request must get no
// token.
const tokenFails = "a token for the request, a 5xx, or no answer"

var tokenChecks = []check{
	{"token.valid", "the correct verifier redeems its code",
		"RFC 7636 §4.5, §4.6", "the correct exchange gets no token: conforming PKCE clients are refused", checkTokenValid},
	{"token.basic-form-encoded", "HTTP Basic credentials form-encoded in full, as openid-client sends them, are accepted",
		"RFC 6749 §2.3.1 (decode the user name and password before comparing)",
		"the form-encoded credentials of a registered client are refused: clients that encode them are locked out", checkBasicEncoded},
	{"token.rfc7636-vector", "the RFC 7636 Appendix B verifier redeems its challenge",
		"RFC 7636 Appendix B", "the Appendix B verifier gets no token: the server computes S256 differently from clients", checkVector},
	{"token.verifier-missing", "a code issued with a challenge is refused without code_verifier",
		"RFC 7636 §4.6; OAuth 2.1 §4.1.3; RFC 6749 §5.2 (invalid_request for a missing parameter)", tokenFails,
		refuseRedeem(func(a *auditor, g grant) tokenCall {
			return a.formCall(a.codeForm(g.code, ""))
		}, "invalid_grant", "invalid_request")},
	{"token.verifier-blank", "a blank code_verifier= is refused as a missing one",
		"OAuth 2.1 §1.4.1; RFC 7636 §4.6", tokenFails, refuseRedeem(func(a *auditor, g grant) tokenCall {
			f := a.codeForm(g.code, "")
			f.Set("code_verifier", "")
			return a.formCall(f)
		}, "invalid_grant", "invalid_request")},
	{"token.verifier-wrong", "a wrong code_verifier is refused",
		"RFC 7636 §4.6", tokenFails, refuseRedeem(func(a *auditor, g grant) tokenCall {
			return a.formCall(a.codeForm(g.code, newVerifier()))
		}, "invalid_grant")},
	{"token.verifier-malformed", "a verifier with characters outside [A-Za-z0-9-._~] is refused even when its hash matches",
		"RFC 7636 §4.1", malformedFails, refuseMalformed(func() string { return newVerifier()[:40] + "!$ " })},
	{"token.verifier-short", "a 42-character verifier is refused even when its hash matches",
		"RFC 7636 §4.1 (43 to 128 characters)", malformedFails, refuseMalformed(func() string { return newVerifier()[:42] })},
	{"token.verifier-long", "a 129-character verifier is refused even when its hash matches",
		"RFC 7636 §4.1 (43 to 128 characters)", malformedFails, refuseMalformed(func() string {
			return (newVerifier() + newVerifier() + newVerifier() + newVerifier())[:129]
		})},
	{"token.verifier-non-ascii", "a non-ASCII verifier is refused even when its hash matches",
		"RFC 7636 §4.1 (ASCII unreserved characters)", malformedFails, refuseMalformed(func() string { return newVerifier()[:41] + "é" })},
	{"token.verifier-is-challenge", "the S256 challenge sent back as the verifier is refused",
		"RFC 7636 §4.6 (an S256 code is never redeemed as plain)", tokenFails, refuseRedeem(func(a *auditor, g grant) tokenCall {
			return a.formCall(a.codeForm(g.code, g.challenge))
		}, "invalid_grant")},
	{"token.retry-wrong-then-none", "after a wrong verifier, the code is refused without a verifier",
		"peer bug: a failed check burned the PKCE binding but left the code valid, so a retry without verifier got a token",
		"the retry without a verifier gets a token (or the wrong verifier already did), a 5xx, or no answer", checkRetry(false)},
	{"token.retry-wrong-then-correct", "after a wrong verifier, the code is refused even with the right one (warn when it survives)",
		"RFC 6749 §4.1.2 (single use); OAuth 2.1 §4.1.3 (after an error the client starts over)",
		"the wrong verifier gets a token, or the code survives it while short verifiers are accepted (a brute force), a 5xx, or no answer",
		checkRetry(true)},
	{"token.retry-bad-auth-then-correct", "after a request refused for client authentication, the correct request still gets a token (warn when not)",
		"RFC 6749 §2.3, §5.2; golang.org/x/oauth2's default AuthStyle tries HTTP Basic, then the body, on one code",
		"never: a refusal that costs the code is a warn", checkRetryBadAuth},
	{"token.downgrade", "a verifier for a code issued without a challenge is refused",
		"RFC 9700 §4.8.2 (PKCE downgrade); several CVEs", tokenFails, checkDowngrade},
	{"token.rebind-echo-redirect-query", "a stolen code echoed through the redirect_uri's own query cannot be redeemed with the attacker's verifier",
		"RFC 7636 §1, §4.4 (the code is bound to the challenge of its own request); RFC 6749 §3.1.2 (a redirect URI may carry a query)",
		"the attacker's verifier redeems the victim's code, a 5xx, or no answer", checkRebindEcho(echoRedirectQuery)},
	{"token.rebind-echo-code-param", "a stolen code echoed through an extra code parameter cannot be redeemed with the attacker's verifier",
		"RFC 7636 §1, §4.4; a PKCE layer binding every code in a response, such as a login redirect carrying the request's query",
		"the attacker's verifier redeems the victim's code, a 5xx, or no answer", checkRebindEcho(echoCodeParam)},
	{"token.other-client-body", "another client_id in the body cannot redeem the code",
		"RFC 6749 §4.1.3; RFC 7636 §4.4", "another client gets a token for the code, a 5xx, or no answer", refuseRedeem(func(a *auditor, g grant) tokenCall {
			id, secret := a.otherClient()
			f := a.codeForm(g.code, g.verifier)
			f.Set("client_id", id)
			if secret != "" {
				f.Set("client_secret", secret) // RFC 6749 §2.3.1 client_secret_post
			}
			return tokenCall{body: f.Encode()}
		}, clientMismatch...)},
	{"token.other-client-basic", "another client in HTTP Basic cannot redeem the code",
		"RFC 6749 §4.1.3, §2.3.1", "another client gets a token for the code, a 5xx, or no answer", refuseRedeem(func(a *auditor, g grant) tokenCall {
			id, secret := a.otherClient()
			f := a.codeForm(g.code, g.verifier)
			f.Del("client_id")
			return tokenCall{body: f.Encode(), authorization: basicAuth(id, secret)}
		}, clientMismatch...)},
	{"token.basic-undecodable", "an Authorization header that is not valid HTTP Basic gets no token (warn when ignored for a public client)",
		"RFC 6749 §2.3.1, §5.2 (invalid_client); the client must be known before the code is checked",
		"a token for a confidential client that did not authenticate, or, for a public client, a token without a verifier; a 5xx, or no answer",
		checkBasicUndecodable},
	{"token.client-conflict", "a body client_id that differs from the HTTP Basic client gets no token (warn when the code's client gets it)",
		"RFC 6749 §2.3.1 (one client per request); a front layer checking one while the server trusts the other",
		"the token goes to the other client (its ID token names it, or the server authenticated it), a 5xx, or no answer", checkClientConflict},
	{"token.duplicate-verifier", "code_verifier twice in the body is refused, in either order (warn when read consistently)",
		"RFC 6749 §3.1; a front layer reading the first while the server reads the last",
		"a token while the server checks no verifier at all, a 5xx, or no answer", checkDuplicateVerifier},
	{"token.duplicate-grant-type", "grant_type twice (authorization_code and client_credentials) is refused (warn when only a client_credentials token is issued)",
		"RFC 6749 §3.1; a front layer passing client_credentials while the server redeems the code",
		"the code is redeemed without its verifier, a 5xx, or no answer", checkDuplicateGrantType},
	{"token.verifier-in-query", "a code_verifier in the token URL's query is refused (warn when a correct one is used)",
		"RFC 6749 §3.2 (parameters go in the body); r.FormValue merges the query",
		"a wrong verifier in the query gets a token, a 5xx, or no answer", misplaced(func(a *auditor, g grant, verifier string) tokenCall {
			c := a.formCall(a.codeForm(g.code, ""))
			c.query = url.Values{"code_verifier": {verifier}}.Encode()
			return c
		}, true, "a code_verifier in the query", "invalid_request", "invalid_grant")},
	{"token.content-type-multipart", "a multipart/form-data token request without verifier gets no token",
		"RFC 6749 §3.2 (application/x-www-form-urlencoded); r.FormValue parses multipart", tokenFails, refuseRedeem(func(a *auditor, g grant) tokenCall {
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			for k, vs := range a.codeForm(g.code, "") {
				for _, v := range vs {
					w.WriteField(k, v)
				}
			}
			w.Close()
			return tokenCall{body: b.String(), contentType: w.FormDataContentType(), authorization: a.clientAuth()}
		}, "invalid_request", "invalid_grant")},
	{"token.content-type-text", "a form sent as text/plain without verifier gets no token",
		"RFC 6749 §3.2", tokenFails, refuseRedeem(func(a *auditor, g grant) tokenCall {
			c := a.formCall(a.codeForm(g.code, ""))
			c.contentType = "text/plain"
			return c
		}, "invalid_request", "invalid_grant")},
	{"token.content-type-missing", "a form sent with no Content-Type and no verifier gets no token",
		"RFC 6749 §3.2", tokenFails, refuseRedeem(func(a *auditor, g grant) tokenCall {
			c := a.formCall(a.codeForm(g.code, ""))
			c.contentType = "-"
			return c
		}, "invalid_request", "invalid_grant")},
	{"token.oversized-body", "an oversized token request without verifier gets no token",
		"fail closed: a body too large to check must not pass unchecked", tokenFails, checkOversized},
	{"token.get-method", "an authorization_code request by GET is refused (warn when a correct one is served)",
		"RFC 6749 §3.2 (POST only); 404 or 405 is a refusal",
		"a GET without a verifier gets a token, a 5xx, or no answer", misplaced(func(a *auditor, g grant, verifier string) tokenCall {
			return tokenCall{method: http.MethodGet, query: a.codeForm(g.code, verifier).Encode(), authorization: a.clientAuth()}
		}, false, "an authorization_code request by GET", "invalid_request", "invalid_grant")},
	{"token.code-without-grant-type", "a code and verifier without grant_type are refused (warn when a correct one is served)",
		"RFC 6749 §4.1.3 (grant_type is required)",
		"a request without grant_type and without a verifier gets a token, a 5xx, or no answer", misplaced(func(a *auditor, g grant, verifier string) tokenCall {
			f := a.codeForm(g.code, verifier)
			f.Del("grant_type")
			return a.formCall(f)
		}, false, "a code without grant_type", "invalid_request", "invalid_grant")},
}

// destructiveChecks run after every other check: a correct server may
// revoke the grant of a code redeemed twice (RFC 6749 §4.1.2), and later
// authorization requests then land on a consent page.
var destructiveChecks = []check{
	{"token.replay", "a code is redeemed once; a replay with the correct verifier is refused",
		"RFC 6749 §4.1.2, §10.5", "the replay gets a token, a 5xx, or no answer", checkReplay},
	{"token.parallel", fmt.Sprintf("of %d concurrent redemptions of one code exactly one wins, for each code raced", parallelRedemptions),
		"RFC 6749 §4.1.2 (single use), under concurrency", "two or more redemptions of one code get a token", checkParallel},
}

// malformedFails is the fail evidence of the malformed-verifier checks.
const malformedFails = "the verifier gets a token while verifiers can be guessed (no verifier is checked, or codes survive failed attempts and short verifiers are accepted), a 5xx, or no answer"

// formCall is a form POST of f with the target's client authentication.
func (a *auditor) formCall(f url.Values) tokenCall {
	return tokenCall{body: f.Encode(), authorization: a.clientAuth()}
}

// refuseRedeem is a check that the token request build makes for a fresh
// code is refused with one of want.
func refuseRedeem(build func(*auditor, grant) tokenCall, want ...string) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needToken(ctx); s != "" {
			return Skip, s
		}
		g, skip := a.freshGrant(ctx)
		if skip != "" {
			return Skip, skip
		}
		return judgeRefusal(a.token(ctx, build(a, g)), want...)
	}
}

// refuseMalformed is a check that a verifier breaking RFC 7636 §4.1 is
// refused although the challenge is its true S256 hash: only the
// verifier's form is wrong. Accepting it is a Fail only where verifiers can
// be guessed (the verifier probe: no verifier is checked, or codes survive
// failed attempts and short verifiers are accepted); elsewhere a Warn.
func refuseMalformed(verifier func() string) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needToken(ctx); s != "" {
			return Skip, s
		}
		v := verifier()
		code, r := a.mint(ctx, s256(v), "S256")
		if code == "" {
			return Skip, "could not get a code for the S256 challenge of the malformed verifier: " + r.describe()
		}
		t := a.redeem(ctx, code, v)
		if !t.accepted() {
			return judgeRefusal(t, "invalid_grant", "invalid_request")
		}
		d := "accepted: the malformed verifier got a token (HTTP " + fmt.Sprint(t.status) + "); RFC 7636 §4.1 says refuse it"
		p := a.verifiers(ctx)
		switch why := p.bruteForce(); {
		case why != "":
			return Fail, d + "; and " + why
		case p.why != "":
			return Warn, d + "; whether verifiers can be guessed is unknown: " + p.why
		case !p.survives:
			return Warn, d + "; no harm shown: a wrong verifier is refused and burns the code"
		}
		return Warn, fmt.Sprintf("%s; no harm shown: a wrong verifier is refused and a %d-character one too", d, probeShortLength)
	}
}

func checkTokenValid(ctx context.Context, a *auditor) (Outcome, string) {
	b := a.baseline(ctx)
	if !b.tokOK {
		return Fail, "no token for the correct exchange: " + b.tokWhy
	}
	return Pass, "token issued: " + b.tokWhy
}

func checkBasicEncoded(ctx context.Context, a *auditor) (Outcome, string) {
	if a.t.ClientSecret == "" {
		return Skip, "the audited client is public: it sends no HTTP Basic credentials"
	}
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	user, pass := encodeAll(a.t.ClientID), encodeAll(a.t.ClientSecret)
	t := a.token(ctx, tokenCall{body: a.codeForm(g.code, g.verifier).Encode(),
		authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))})
	if ok, why := t.issuedToken(); !ok {
		return Fail, fmt.Sprintf("Basic user name %q (the form-encoding of %q) was refused, so clients that encode it are too: %s",
			user, a.t.ClientID, why)
	}
	return Pass, fmt.Sprintf("Basic user name %q was decoded to %q", user, a.t.ClientID)
}

// encodeAll percent-encodes every byte but ASCII letters and digits, a
// valid application/x-www-form-urlencoded form that strict clients send.
func encodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func checkVector(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	code, r := a.mint(ctx, rfc7636Challenge, "S256")
	if code == "" {
		return Skip, "no code for the RFC 7636 Appendix B challenge: " + r.describe()
	}
	if ok, why := a.redeem(ctx, code, rfc7636Verifier).issuedToken(); !ok {
		return Fail, "no token for the Appendix B verifier: the server computes S256 differently: " + why
	}
	return Pass, "token issued for the Appendix B verifier"
}

// checkRetry sends a wrong verifier, then retries the same code without a
// verifier or with the correct one. A token for the retry without a
// verifier is a Fail. A token for the correct retry is a Warn (the code
// survives a failed attempt, which RFC 6749 §4.1.2 forbids) unless the
// server also accepts short verifiers: then an attacker holding a code can
// try verifiers until one matches, a Fail.
func checkRetry(correct bool) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needToken(ctx); s != "" {
			return Skip, s
		}
		g, skip := a.freshGrant(ctx)
		if skip != "" {
			return Skip, skip
		}
		first := a.redeem(ctx, g.code, newVerifier())
		if first.accepted() {
			return Fail, "accepted a wrong verifier already: the first request, with a wrong verifier, got through: " + first.describe()
		}
		if !correct {
			t := a.redeem(ctx, g.code, "")
			o, d := judgeRefusal(t, "invalid_grant", "invalid_request")
			return o, fmt.Sprintf("retry without a verifier %s; after a wrong verifier got %s", d, first.describe())
		}
		t := a.redeem(ctx, g.code, g.verifier)
		if !t.accepted() {
			o, d := judgeRefusal(t, "invalid_grant")
			return o, fmt.Sprintf("retry with the correct verifier %s; after a wrong verifier got %s", d, first.describe())
		}
		d := fmt.Sprintf("the code survived a failed attempt: after a wrong verifier got %s, the correct one got a token (%s); RFC 6749 §4.1.2 says a code is used once",
			first.describe(), t.describe())
		p := a.verifiers(ctx)
		switch {
		case p.shortAccepted:
			return Fail, fmt.Sprintf("%s; and a %d-character verifier is accepted: an attacker holding a code can try verifiers until one matches", d, probeShortLength)
		case p.why != "":
			return Warn, d + "; whether short verifiers are accepted is unknown: " + p.why
		}
		return Warn, fmt.Sprintf("%s; no brute force: a %d-character verifier is refused", d, probeShortLength)
	}
}

// bogusSecret is the client secret of a token request that must be
// refused for client authentication.
const bogusSecret = "pkcetest-wrong-secret"

// checkRetryBadAuth sends a token request that carries the correct
// verifier but client authentication the server must refuse: for a
// confidential client HTTP Basic with a wrong secret; for a public client
// HTTP Basic with its client_id and a secret it does not have, and no
// client_id in the body, the way golang.org/x/oauth2's default AuthStyle
// first tries Basic. Then it sends the correct request for the same code.
// Pass: the correct request gets a token. Warn, not Fail, when it does not:
// the refusal cost the code, which is no bypass but locks out every client
// that retries with another authentication method. Skip: the first request
// was not refused with a 4xx (accepted, a 5xx, no answer), so there is no
// refusal to recover from.
func checkRetryBadAuth(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	f := a.codeForm(g.code, g.verifier)
	f.Del("client_id")
	what := "HTTP Basic with the public client's client_id and a secret it does not have"
	if a.t.ClientSecret != "" {
		what = "HTTP Basic with a wrong secret"
	}
	first := a.token(ctx, tokenCall{body: f.Encode(), authorization: basicAuth(a.t.ClientID, bogusSecret)})
	switch {
	case first.err != nil:
		return Skip, fmt.Sprintf("%s got no answer (%v), so there is no refusal to recover from", what, first.err)
	case first.accepted():
		d := fmt.Sprintf("the server accepted %s (%s), so there is no refusal to recover from", what, first.describe())
		if a.t.ClientSecret != "" {
			d += "; it does not check the client secret"
		}
		return Skip, d
	case first.status < 400 || first.status >= 500:
		return Skip, fmt.Sprintf("%s was not refused with a 4xx (%s), so there is no refusal to recover from", what, first.describe())
	}
	if ok, why := a.redeem(ctx, g.code, g.verifier).issuedToken(); !ok {
		return Warn, fmt.Sprintf("code lost to a refusal: %s was refused (%s), then the correct request for the same code got no token (%s): "+
			"the refusal cost the code, so clients that retry with another authentication method "+
			"(golang.org/x/oauth2's default AuthStyle) cannot log in", what, first.describe(), why)
	}
	return Pass, fmt.Sprintf("code kept: %s was refused (%s); the correct request for the same code then got a token", what, first.describe())
}

func checkReplay(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	if ok, why := a.redeem(ctx, g.code, g.verifier).issuedToken(); !ok {
		return Skip, "the first, correct redemption got no token: " + why
	}
	o, d := judgeRefusal(a.redeem(ctx, g.code, g.verifier), "invalid_grant")
	return o, "replay " + d
}

// checkParallel races parallelRedemptions concurrent redemptions for each
// of up to parallelCodes fresh codes, within parallelBudget, on
// connections opened and warmed before the bursts, so that the requests of
// a burst reach the server together. A server whose redemption is not
// atomic lets two win for some codes only: a pass is evidence, not proof,
// and the detail says how many codes were raced.
func checkParallel(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	client, warmed, done := a.raceClient(ctx)
	defer done()
	deadline := time.Now().Add(parallelBudget)
	losers := map[string]int{}
	var order []string
	raced, noWinner, bad := 0, 0, 0
	for raced < parallelCodes && (raced == 0 || time.Now().Before(deadline)) && ctx.Err() == nil {
		g, skip := a.freshGrant(ctx)
		if skip != "" {
			if raced == 0 {
				return Skip, skip
			}
			break
		}
		raced++
		// The connections of the last burst (or the warm-up) go back to
		// the pool as their answers are read: give them the moment.
		time.Sleep(10 * time.Millisecond)
		results := make([]tokenResult, parallelRedemptions)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := tokenCall{body: a.codeForm(g.code, g.verifier).Encode(), authorization: a.clientAuth(), client: client}
				<-start
				results[i] = a.token(ctx, c)
			}()
		}
		close(start)
		wg.Wait()
		winners := 0
		for _, r := range results {
			if r.accepted() {
				winners++
				continue
			}
			if r.err != nil || r.status >= 500 {
				bad++
			}
			d := r.describe()
			if losers[d] == 0 {
				order = append(order, d)
			}
			losers[d]++
		}
		if winners > 1 {
			return Fail, fmt.Sprintf("%d of %d concurrent redemptions of one code got a token (code %d of those raced, %s)",
				winners, parallelRedemptions, raced, warmed)
		}
		if winners == 0 {
			noWinner++
		}
	}
	var parts []string
	for _, d := range order {
		parts = append(parts, fmt.Sprintf("%d× %s", losers[d], d))
	}
	rest := strings.Join(parts, "; ")
	what := fmt.Sprintf("%d codes raced, %d concurrent redemptions each, %s", raced, parallelRedemptions, warmed)
	switch {
	case noWinner > 0:
		return Warn, fmt.Sprintf("no token for %d of %d codes: none of their concurrent redemptions won (%s); the others got: %s", noWinner, raced, what, rest)
	case bad > 0:
		return Warn, fmt.Sprintf("errors under load: exactly one redemption won for each code (%s), but the others got: %s", what, rest)
	}
	return Pass, fmt.Sprintf("exactly one won for each code (%s: evidence, not proof); the others got: %s", what, rest)
}

// raceClient returns the client of token.parallel: the audit's client on a
// transport of its own that keeps parallelRedemptions connections to the
// server open, opened and warmed by as many concurrent requests for the
// metadata (or the token endpoint) before any burst. warmed says so in
// words; done closes the connections.
func (a *auditor) raceClient(ctx context.Context) (client *http.Client, warmed string, done func()) {
	var tr *http.Transport
	switch rt := a.client.Transport.(type) {
	case nil:
		if d, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = d.Clone()
		}
	case *http.Transport:
		tr = rt.Clone()
	}
	if tr == nil {
		return a.client, "connections not warmed (Target.Client has a RoundTripper of its own)", func() {}
	}
	tr.MaxIdleConnsPerHost = parallelRedemptions
	c := *a.client
	c.Transport = tr
	warm := a.tokenEndpoint
	for _, d := range a.docs {
		if d.obj != nil {
			warm = d.url
			break
		}
	}
	// Each warm-up request holds its connection until every one has its
	// answer, so that they cannot share one: parallelRedemptions
	// connections are opened.
	wctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	resps := make([]*http.Response, parallelRedemptions)
	var wg sync.WaitGroup
	for i := range resps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(wctx, http.MethodGet, warm, nil)
			if err != nil {
				return
			}
			if resp, err := c.Do(req); err == nil {
				resps[i] = resp
			}
		}()
	}
	wg.Wait()
	for _, resp := range resps {
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
		}
	}
	return &c, fmt.Sprintf("on %d connections warmed beforehand", parallelRedemptions), tr.CloseIdleConnections
}

func checkDowngrade(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	code, r := a.mint(ctx, "", "")
	if code == "" {
		switch r.kind {
		case authRefused, authError:
			return Pass, "no code to downgrade: the server issues no code without a challenge (" + r.describe() + ")"
		}
		return Skip, "no code for a request without a challenge: " + r.describe()
	}
	o, d := judgeRefusal(a.redeem(ctx, code, newVerifier()), "invalid_grant")
	return o, "downgrade " + d + " (a code issued without a challenge, redeemed with a verifier)"
}

// checkDuplicateVerifier sends the correct and a wrong verifier together,
// in both orders. A token means the server read the correct one: a Warn (a
// front layer may read the other), a Fail only where the server checks no
// verifier at all.
func checkDuplicateVerifier(ctx context.Context, a *auditor) (Outcome, string) {
	return duplicated(ctx, a, func(g grant, first bool) string {
		right, wrong := g.verifier, newVerifier()
		if !first {
			right, wrong = wrong, right
		}
		return a.codeForm(g.code, "").Encode() + "&" +
			url.Values{"code_verifier": {right}}.Encode() + "&" + url.Values{"code_verifier": {wrong}}.Encode()
	}, func(_ grant, t tokenResult) (Outcome, string) {
		d := "accepted: the server " + t.describe()
		if p := a.verifiers(ctx); p.wrongAccepted {
			return Fail, d + "; and " + p.bruteForce()
		}
		return Warn, d + ", reading the correct one of the two; RFC 6749 §3.1 says refuse, and a front layer may read the other"
	}, "correct verifier first", "wrong verifier first")
}

// checkDuplicateGrantType sends grant_type twice (authorization_code and
// client_credentials), with the code and no verifier, in both orders. A
// token is a Fail when the code mattered: the same request with a code the
// server never issued is refused, so the token redeemed the code without
// its verifier. When that request gets a token too, the server read
// client_credentials, which a confidential client may use anyway: a Warn
// (RFC 6749 §3.1 says refuse, and a front layer may read the other value).
func checkDuplicateGrantType(ctx context.Context, a *auditor) (Outcome, string) {
	body := func(code string, first bool) string {
		f := a.codeForm(code, "")
		f.Del("grant_type")
		grants := "grant_type=authorization_code&grant_type=client_credentials"
		if !first {
			grants = "grant_type=client_credentials&grant_type=authorization_code"
		}
		return grants + "&" + f.Encode()
	}
	first := true
	return duplicated(ctx, a, func(g grant, f bool) string {
		first = f
		return body(g.code, f)
	}, func(_ grant, t tokenResult) (Outcome, string) {
		d := "accepted: the server " + t.describe()
		bogus := a.token(ctx, tokenCall{body: body("never-issued-"+newVerifier(), first), authorization: a.clientAuth()})
		if !bogus.accepted() {
			return Fail, d + ", and the same request with a code it never issued is refused: the code was redeemed without its verifier"
		}
		return Warn, d + ", as it does for a code it never issued: a client_credentials token; RFC 6749 §3.1 says refuse, and a front layer may read the other grant_type"
	}, "authorization_code first", "client_credentials first")
}

// duplicated runs two token requests with a repeated parameter, each on a
// fresh code, and returns the worse verdict. onToken grades a token; nil:
// judgeRefusal's Fail.
func duplicated(ctx context.Context, a *auditor, body func(g grant, first bool) string,
	onToken func(grant, tokenResult) (Outcome, string), names ...string) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	worst := Pass
	var parts []string
	for i, name := range names {
		g, skip := a.freshGrant(ctx)
		if skip != "" {
			return Skip, skip
		}
		t := a.token(ctx, tokenCall{body: body(g, i == 0), authorization: a.clientAuth()})
		o, d := judgeRefusal(t, "invalid_request")
		if t.accepted() && onToken != nil {
			o, d = onToken(g, t)
		}
		worst = worse(worst, o)
		parts = append(parts, d+" ("+name+")")
	}
	return worst, strings.Join(parts, "; ")
}

// checkBasicUndecodable sends an Authorization header that is not valid
// HTTP Basic. For a confidential client, whose only credentials it is, a
// token is a Fail. A public client needs no credentials: a token without a
// verifier is a Fail; a token for an otherwise correct request (the header
// ignored) a Warn.
func checkBasicUndecodable(ctx context.Context, a *auditor) (Outcome, string) {
	const bad = "Basic !!not-base64!!"
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	if a.t.ClientSecret != "" {
		c := a.formCall(a.codeForm(g.code, g.verifier))
		c.authorization = bad
		o, d := judgeRefusal(a.token(ctx, c), "invalid_request", "invalid_client")
		return o, d + " (the confidential client's only credentials undecodable)"
	}
	c := a.formCall(a.codeForm(g.code, ""))
	c.authorization = bad
	o, d := judgeRefusal(a.token(ctx, c), "invalid_request", "invalid_client", "invalid_grant")
	if o == Fail {
		return o, d + " (an undecodable Basic header and no code_verifier)"
	}
	g, skip = a.freshGrant(ctx)
	if skip != "" {
		return o, d + " (without a verifier); the request with the correct verifier was not tried: " + skip
	}
	c = a.formCall(a.codeForm(g.code, g.verifier))
	c.authorization = bad
	t := a.token(ctx, c)
	if t.accepted() {
		return worse(o, Warn), "ignored: the undecodable Basic header of a public client's otherwise correct request (" + t.describe() +
			"); RFC 6749 §2.3.1 says refuse it; without a verifier: " + d
	}
	o2, d2 := judgeRefusal(t, "invalid_request", "invalid_client")
	return worse(o, o2), d2 + " (with the correct verifier); without a verifier: " + d
}

// checkClientConflict sends a body client_id that differs from the HTTP
// Basic client: for a confidential target, Basic is the target and the
// body names the other client; for a public target, Basic is the other
// client and the body names the target. A token is a Fail only when it
// went to the other client: its ID token's aud names it, or, for a public
// target, the server authenticated the other client's Basic credentials
// (the same request with a wrong secret is refused). A token for the
// code's own client is a Warn.
func checkClientConflict(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	id, secret := a.otherClient()
	conflict := func(g grant, secret string) tokenCall {
		f := a.codeForm(g.code, g.verifier)
		if a.t.ClientSecret != "" {
			f.Set("client_id", id)
			return tokenCall{body: f.Encode(), authorization: a.clientAuth()}
		}
		f.Set("client_id", a.t.ClientID)
		return tokenCall{body: f.Encode(), authorization: basicAuth(id, secret)}
	}
	t := a.token(ctx, conflict(g, secret))
	if !t.accepted() {
		return judgeRefusal(t, clientMismatch...)
	}
	d := "accepted: the server " + t.describe()
	if aud := idTokenAudience(t); len(aud) > 0 {
		if contains(aud, id) {
			return Fail, d + fmt.Sprintf(", its ID token for %q, the other client, though the code was issued to %q", id, a.t.ClientID)
		}
		if contains(aud, a.t.ClientID) {
			return Warn, d + fmt.Sprintf(", its ID token for %q, the code's client; RFC 6749 §2.3.1 says refuse a request naming two clients", a.t.ClientID)
		}
	}
	if a.t.ClientSecret != "" {
		return Warn, d + fmt.Sprintf(" for the authenticated HTTP Basic client %q, the code's own, ignoring the body's client_id %q; RFC 6749 §2.3.1 says refuse a request naming two clients",
			a.t.ClientID, id)
	}
	g, skip = a.freshGrant(ctx)
	if skip != "" {
		return Warn, d + "; who got it is unknown: " + skip
	}
	t2 := a.token(ctx, conflict(g, bogusSecret))
	switch {
	case t2.accepted():
		return Warn, d + fmt.Sprintf(" for the body's client %q, the code's own: the HTTP Basic credentials of %q are ignored (a wrong secret got a token too); RFC 6749 §2.3.1 says refuse a request naming two clients",
			a.t.ClientID, id)
	case t2.err == nil && t2.status >= 400 && t2.status < 500:
		return Fail, d + fmt.Sprintf(" for %q, the other client, which it authenticated by HTTP Basic (a wrong secret is refused: %s), for a code issued to %q",
			id, t2.describe(), a.t.ClientID)
	}
	return Warn, d + "; who got it is unknown: the same request with a wrong secret got " + t2.describe()
}

// idTokenAudience returns the aud of the token response's id_token, read
// without checking its signature (only its audience matters here), or nil.
func idTokenAudience(t tokenResult) []string {
	raw, _ := t.obj["id_token"].(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims struct {
		Aud any `json:"aud"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return nil
	}
	switch v := claims.Aud.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// misplaced is a check of a token request in a shape RFC 6749 forbids
// (build puts verifier where the check tests). First without the correct
// verifier (a wrong one if wrongFirst, else none): a token is a Fail, the
// shape carried a request past the verifier check. Then, on another code,
// with the correct verifier: a token is a Warn (served though misplaced),
// a refusal a Pass. A 404 or 405 without a JSON body to a GET is a refusal.
func misplaced(build func(a *auditor, g grant, verifier string) tokenCall, wrongFirst bool, what string, want ...string) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needToken(ctx); s != "" {
			return Skip, s
		}
		g, skip := a.freshGrant(ctx)
		if skip != "" {
			return Skip, skip
		}
		harm, without := "", "without a verifier"
		if wrongFirst {
			harm, without = newVerifier(), "with a wrong verifier"
		}
		c := build(a, g, harm)
		o, d := judgeMisplaced(a.token(ctx, c), c.method, want)
		if o == Fail {
			return o, d + " (" + what + " " + without + ")"
		}
		g, skip = a.freshGrant(ctx)
		if skip != "" {
			return o, d + " (" + without + "); with the correct verifier not tried: " + skip
		}
		c = build(a, g, g.verifier)
		t := a.token(ctx, c)
		if t.accepted() {
			return worse(o, Warn), fmt.Sprintf("served: %s with the correct verifier got a token (%s); RFC 6749 says refuse it; %s: %s", what, t.describe(), without, d)
		}
		o2, d2 := judgeMisplaced(t, c.method, want)
		return worse(o, o2), fmt.Sprintf("%s (%s with the correct verifier); %s: %s", d2, what, without, d)
	}
}

// judgeMisplaced is judgeRefusal, where a GET may be refused by a 404 or
// 405 page too: the endpoint does not serve the method.
func judgeMisplaced(t tokenResult, method string, want []string) (Outcome, string) {
	if method == http.MethodGet && t.err == nil && (t.status == http.StatusNotFound || t.status == http.StatusMethodNotAllowed) && t.obj == nil {
		return Pass, "refused: " + t.describe()
	}
	return judgeRefusal(t, want...)
}

func checkOversized(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	body := "pkcetest_padding=" + strings.Repeat("a", paddingBytes) + "&" + a.codeForm(g.code, "").Encode()
	t := a.token(ctx, tokenCall{body: body, authorization: a.clientAuth()})
	if t.err != nil && !strings.HasPrefix(t.err.Error(), "no answer within") && !strings.HasPrefix(t.err.Error(), "not sent") {
		return Warn, fmt.Sprintf("connection dropped: the server dropped the connection on a %d KiB body instead of answering: %v", len(body)>>10, t.err)
	}
	o, d := judgeRefusal(t, "invalid_request", "invalid_grant")
	return o, fmt.Sprintf("%s (a %d KiB body without a verifier)", d, len(body)>>10)
}
