package pkcetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// parallelRedemptions is how many concurrent token requests race for one
// code in token.parallel.
const parallelRedemptions = 8

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

var tokenChecks = []check{
	{"token.valid", "the correct verifier redeems its code",
		"RFC 7636 §4.5, §4.6", checkTokenValid},
	{"token.basic-form-encoded", "HTTP Basic credentials form-encoded in full, as openid-client sends them, are accepted",
		"RFC 6749 §2.3.1 (decode the user name and password before comparing)", checkBasicEncoded},
	{"token.rfc7636-vector", "the RFC 7636 Appendix B verifier redeems its challenge",
		"RFC 7636 Appendix B", checkVector},
	{"token.verifier-missing", "a code issued with a challenge is refused without code_verifier",
		"RFC 7636 §4.6; OAuth 2.1 §4.1.3", refuseRedeem(func(a *auditor, g grant) tokenCall {
			return a.formCall(a.codeForm(g.code, ""))
		}, "invalid_grant")},
	{"token.verifier-blank", "a blank code_verifier= is refused as a missing one",
		"OAuth 2.1 §1.4.1; RFC 7636 §4.6", refuseRedeem(func(a *auditor, g grant) tokenCall {
			f := a.codeForm(g.code, "")
			f.Set("code_verifier", "")
			return a.formCall(f)
		}, "invalid_grant")},
	{"token.verifier-wrong", "a wrong code_verifier is refused",
		"RFC 7636 §4.6", refuseRedeem(func(a *auditor, g grant) tokenCall {
			return a.formCall(a.codeForm(g.code, newVerifier()))
		}, "invalid_grant")},
	{"token.verifier-malformed", "a verifier with characters outside [A-Za-z0-9-._~] is refused even when its hash matches",
		"RFC 7636 §4.1", refuseMalformed(func() string { return newVerifier()[:40] + "!$ " })},
	{"token.verifier-short", "a 42-character verifier is refused even when its hash matches",
		"RFC 7636 §4.1 (43 to 128 characters)", refuseMalformed(func() string { return newVerifier()[:42] })},
	{"token.verifier-long", "a 129-character verifier is refused even when its hash matches",
		"RFC 7636 §4.1 (43 to 128 characters)", refuseMalformed(func() string {
			return (newVerifier() + newVerifier() + newVerifier() + newVerifier())[:129]
		})},
	{"token.verifier-non-ascii", "a non-ASCII verifier is refused even when its hash matches",
		"RFC 7636 §4.1 (ASCII unreserved characters)", refuseMalformed(func() string { return newVerifier()[:41] + "é" })},
	{"token.verifier-is-challenge", "the S256 challenge sent back as the verifier is refused",
		"RFC 7636 §4.6 (an S256 code is never redeemed as plain)", refuseRedeem(func(a *auditor, g grant) tokenCall {
			return a.formCall(a.codeForm(g.code, g.challenge))
		}, "invalid_grant")},
	{"token.retry-wrong-then-none", "after a wrong verifier, the code is refused without a verifier",
		"peer bug: a failed check burned the PKCE binding but left the code valid, so a retry without verifier got a token",
		checkRetry(false)},
	{"token.retry-wrong-then-correct", "after a wrong verifier, the code is refused even with the right one",
		"RFC 6749 §4.1.2 (single use); OAuth 2.1 §4.1.3 (after an error the client starts over)", checkRetry(true)},
	{"token.retry-bad-auth-then-correct", "after a request refused for client authentication, the correct request still gets a token (warn when not)",
		"RFC 6749 §2.3, §5.2; golang.org/x/oauth2's default AuthStyle tries HTTP Basic, then the body, on one code", checkRetryBadAuth},
	{"token.replay", "a code is redeemed once; a replay with the correct verifier is refused",
		"RFC 6749 §4.1.2, §10.5", checkReplay},
	{"token.parallel", fmt.Sprintf("of %d concurrent redemptions of one code exactly one wins", parallelRedemptions),
		"RFC 6749 §4.1.2 (single use), under concurrency", checkParallel},
	{"token.downgrade", "a verifier for a code issued without a challenge is refused",
		"RFC 9700 §4.8.2 (PKCE downgrade); several CVEs", checkDowngrade},
	{"token.rebind-echo-redirect-query", "a stolen code echoed through the redirect_uri's own query cannot be redeemed with the attacker's verifier",
		"RFC 7636 §1, §4.4 (the code is bound to the challenge of its own request); RFC 6749 §3.1.2 (a redirect URI may carry a query)",
		checkRebindEcho(echoRedirectQuery)},
	{"token.rebind-echo-code-param", "a stolen code echoed through an extra code parameter cannot be redeemed with the attacker's verifier",
		"RFC 7636 §1, §4.4; a PKCE layer binding every code in a response, such as a login redirect carrying the request's query",
		checkRebindEcho(echoCodeParam)},
	{"token.other-client-body", "another client_id in the body cannot redeem the code",
		"RFC 6749 §4.1.3; RFC 7636 §4.4", refuseRedeem(func(a *auditor, g grant) tokenCall {
			id, secret := a.otherClient()
			f := a.codeForm(g.code, g.verifier)
			f.Set("client_id", id)
			if secret != "" {
				f.Set("client_secret", secret) // RFC 6749 §2.3.1 client_secret_post
			}
			return tokenCall{body: f.Encode()}
		}, clientMismatch...)},
	{"token.other-client-basic", "another client in HTTP Basic cannot redeem the code",
		"RFC 6749 §4.1.3, §2.3.1", refuseRedeem(func(a *auditor, g grant) tokenCall {
			id, secret := a.otherClient()
			f := a.codeForm(g.code, g.verifier)
			f.Del("client_id")
			return tokenCall{body: f.Encode(), authorization: basicAuth(id, secret)}
		}, clientMismatch...)},
	{"token.basic-undecodable", "an Authorization header that is not valid HTTP Basic gets no token",
		"RFC 6749 §2.3.1, §5.2 (invalid_client); the client must be known before the code is checked", refuseRedeem(func(a *auditor, g grant) tokenCall {
			c := a.formCall(a.codeForm(g.code, g.verifier))
			c.authorization = "Basic !!not-base64!!"
			return c
		}, "invalid_request", "invalid_client")},
	{"token.client-conflict", "a body client_id that differs from the HTTP Basic client gets no token",
		"RFC 6749 §2.3.1 (one client per request); a front layer checking one while the server trusts the other", refuseRedeem(func(a *auditor, g grant) tokenCall {
			f := a.codeForm(g.code, g.verifier)
			id, secret := a.otherClient()
			if a.t.ClientSecret != "" {
				f.Set("client_id", id)
				return tokenCall{body: f.Encode(), authorization: a.clientAuth()}
			}
			f.Set("client_id", a.t.ClientID)
			return tokenCall{body: f.Encode(), authorization: basicAuth(id, secret)}
		}, clientMismatch...)},
	{"token.duplicate-verifier", "code_verifier twice in the body is refused, in either order",
		"RFC 6749 §3.1; a front layer reading the first while the server reads the last", checkDuplicateVerifier},
	{"token.duplicate-grant-type", "grant_type twice (authorization_code and client_credentials) is refused",
		"RFC 6749 §3.1; a front layer passing client_credentials while the server redeems the code", checkDuplicateGrantType},
	{"token.verifier-in-query", "a code_verifier in the token URL's query is refused",
		"RFC 6749 §3.2 (parameters go in the body); r.FormValue merges the query", refuseRedeem(func(a *auditor, g grant) tokenCall {
			c := a.formCall(a.codeForm(g.code, ""))
			c.query = url.Values{"code_verifier": {g.verifier}}.Encode()
			return c
		}, "invalid_request", "invalid_grant")},
	{"token.content-type-multipart", "a multipart/form-data token request without verifier gets no token",
		"RFC 6749 §3.2 (application/x-www-form-urlencoded); r.FormValue parses multipart", refuseRedeem(func(a *auditor, g grant) tokenCall {
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
		"RFC 6749 §3.2", refuseRedeem(func(a *auditor, g grant) tokenCall {
			c := a.formCall(a.codeForm(g.code, ""))
			c.contentType = "text/plain"
			return c
		}, "invalid_request", "invalid_grant")},
	{"token.content-type-missing", "a form sent with no Content-Type and no verifier gets no token",
		"RFC 6749 §3.2", refuseRedeem(func(a *auditor, g grant) tokenCall {
			c := a.formCall(a.codeForm(g.code, ""))
			c.contentType = "-"
			return c
		}, "invalid_request", "invalid_grant")},
	{"token.oversized-body", "an oversized token request without verifier gets no token",
		"fail closed: a body too large to check must not pass unchecked", checkOversized},
	{"token.get-method", "an authorization_code request by GET is refused",
		"RFC 6749 §3.2 (POST only)", refuseRedeem(func(a *auditor, g grant) tokenCall {
			return tokenCall{method: http.MethodGet, query: a.codeForm(g.code, g.verifier).Encode(), authorization: a.clientAuth()}
		}, "invalid_request")},
	{"token.code-without-grant-type", "a code and verifier without grant_type are refused",
		"RFC 6749 §4.1.3 (grant_type is required)", refuseRedeem(func(a *auditor, g grant) tokenCall {
			f := a.codeForm(g.code, g.verifier)
			f.Del("grant_type")
			return a.formCall(f)
		}, "invalid_request")},
}

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
// verifier's form is wrong.
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
		return judgeRefusal(a.redeem(ctx, code, v), "invalid_grant", "invalid_request")
	}
}

func checkTokenValid(ctx context.Context, a *auditor) (Outcome, string) {
	b := a.baseline(ctx)
	if !b.tokOK {
		return Fail, "the correct exchange got no token: " + b.tokWhy
	}
	return Pass, b.tokWhy
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
		return Fail, "the Appendix B verifier did not redeem its challenge, so the server computes S256 differently: " + why
	}
	return Pass, "the Appendix B verifier redeemed its challenge"
}

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
			return Fail, "the first request, with a wrong verifier, already got through: " + first.describe()
		}
		retry, what := "", "without a verifier"
		if correct {
			retry, what = g.verifier, "with the correct verifier"
		}
		o, d := judgeRefusal(a.redeem(ctx, g.code, retry), "invalid_grant")
		return o, fmt.Sprintf("a wrong verifier got %s; the retry %s: %s", first.describe(), what, d)
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
		return Warn, fmt.Sprintf("%s was refused (%s), then the correct request for the same code got no token (%s): "+
			"the refusal cost the code, so clients that retry with another authentication method "+
			"(golang.org/x/oauth2's default AuthStyle) cannot log in", what, first.describe(), why)
	}
	return Pass, fmt.Sprintf("%s was refused (%s); the correct request for the same code then got a token", what, first.describe())
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
	return o, "the replay: " + d
}

func checkParallel(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	results := make([]tokenResult, parallelRedemptions)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = a.redeem(ctx, g.code, g.verifier)
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	losers := map[string]int{}
	var order []string
	bad := false
	for _, r := range results {
		if r.accepted() {
			winners++
			continue
		}
		if r.err != nil || r.status >= 500 {
			bad = true
		}
		d := r.describe()
		if losers[d] == 0 {
			order = append(order, d)
		}
		losers[d]++
	}
	var parts []string
	for _, d := range order {
		parts = append(parts, fmt.Sprintf("%d× %s", losers[d], d))
	}
	rest := strings.Join(parts, "; ")
	switch {
	case winners == 0:
		return Fail, fmt.Sprintf("none of %d concurrent redemptions got a token: %s", parallelRedemptions, rest)
	case winners > 1:
		d := fmt.Sprintf("%d of %d concurrent redemptions of one code got a token", winners, parallelRedemptions)
		if rest != "" {
			d += "; the others: " + rest
		}
		return Fail, d
	case bad:
		return Warn, fmt.Sprintf("exactly one of %d got a token, but the others got: %s", parallelRedemptions, rest)
	}
	return Pass, fmt.Sprintf("exactly one of %d concurrent redemptions got a token; the others: %s", parallelRedemptions, rest)
}

func checkDowngrade(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	code, r := a.mint(ctx, "", "")
	if code == "" {
		switch r.kind {
		case authRefused, authError:
			return Pass, "the server issues no code without a challenge (" + r.describe() + "), so there is no code to downgrade"
		}
		return Skip, "no code for a request without a challenge: " + r.describe()
	}
	o, d := judgeRefusal(a.redeem(ctx, code, newVerifier()), "invalid_grant")
	return o, "a code issued without a challenge, redeemed with a verifier: " + d
}

func checkDuplicateVerifier(ctx context.Context, a *auditor) (Outcome, string) {
	return duplicated(ctx, a, func(g grant, first bool) string {
		right, wrong := g.verifier, newVerifier()
		if !first {
			right, wrong = wrong, right
		}
		return a.codeForm(g.code, "").Encode() + "&" +
			url.Values{"code_verifier": {right}}.Encode() + "&" + url.Values{"code_verifier": {wrong}}.Encode()
	}, "correct verifier first", "wrong verifier first")
}

func checkDuplicateGrantType(ctx context.Context, a *auditor) (Outcome, string) {
	return duplicated(ctx, a, func(g grant, first bool) string {
		f := a.codeForm(g.code, "")
		f.Del("grant_type")
		grants := "grant_type=authorization_code&grant_type=client_credentials"
		if !first {
			grants = "grant_type=client_credentials&grant_type=authorization_code"
		}
		return grants + "&" + f.Encode()
	}, "authorization_code first", "client_credentials first")
}

// duplicated runs two token requests with a repeated parameter, each on a
// fresh code, and returns the worse verdict.
func duplicated(ctx context.Context, a *auditor, body func(g grant, first bool) string, names ...string) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	worst, details := Pass, ""
	for i, name := range names {
		g, skip := a.freshGrant(ctx)
		if skip != "" {
			return Skip, skip
		}
		o, d := judgeRefusal(a.token(ctx, tokenCall{body: body(g, i == 0), authorization: a.clientAuth()}), "invalid_request")
		worst = worse(worst, o)
		if details != "" {
			details += "; "
		}
		details += name + ": " + d
	}
	return worst, details
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
		return Warn, fmt.Sprintf("the server dropped the connection on a %d KiB body instead of answering: %v", len(body)>>10, t.err)
	}
	o, d := judgeRefusal(t, "invalid_request", "invalid_grant")
	return o, fmt.Sprintf("a %d KiB body: %s", len(body)>>10, d)
}
