package pkcetest

import (
	"context"
	"fmt"
	"net/url"
)

// The par checks audit pushed authorization requests (RFC 9126) on a
// server that advertises a pushed_authorization_request_endpoint: the
// client POSTs the authorization request's parameters there, code_challenge
// among them, authenticated as at the token endpoint (HTTP Basic for a
// confidential client, client_id in the body for a public one), and gets a
// request_uri back (§2.2); the authorization request then carries only
// client_id and request_uri (§4). The challenge is nowhere in the
// authorization request's URL, so a PKCE layer that reads it there does not
// see it: the code must still be bound to the pushed challenge.

var parChecks = []check{
	{"par.valid", "a pushed S256 request gets a request_uri, the request_uri a code, and the correct verifier a token",
		"RFC 9126 §2.2, §4; RFC 7636 §4.5, §4.6",
		"a valid pushed request gets a 5xx, no answer or a 2xx without request_uri, its request_uri is refused at the authorization endpoint, " +
			"or the correct verifier gets no token: conforming PAR clients are refused (skip when no PAR endpoint is advertised, or the client may not push)",
		checkPARValid},
	{"par.no-challenge", "a pushed request without code_challenge is refused where a direct one is (skip when PKCE is optional)",
		"RFC 9126 §2.1 (the pushed request is validated as an authorization request); RFC 9700 §2.1.1",
		"a pushed request without a challenge gets a code that redeems without a verifier while a direct request without one is refused (the requirement sidestepped), " +
			"a 5xx, or no answer; a code that stays unusable, or a refusal only at the authorization endpoint, is a warn",
		checkPARNoChallenge},
	{"par.verifier-wrong", "a code issued for a pushed challenge is refused with a wrong code_verifier",
		"RFC 9126 §4 (the code is bound to the pushed challenge); RFC 7636 §4.6", tokenFails,
		refusePARRedeem(func(g grant) string { return newVerifier() }, "invalid_grant")},
	{"par.verifier-missing", "a code issued for a pushed challenge is refused without code_verifier",
		"RFC 9126 §4; RFC 7636 §4.6; RFC 6749 §5.2 (invalid_request for a missing parameter)", tokenFails,
		refusePARRedeem(func(g grant) string { return "" }, "invalid_grant", "invalid_request")},
	{"par.outer-challenge", "a code_challenge beside request_uri cannot replace the pushed one",
		"RFC 9126 §4; RFC 9101 §6.3 (the pushed parameters are the ones that count); a PKCE layer reading the challenge from the URL",
		"the verifier of the outer challenge redeems the code of the pushed request, a 5xx, or no answer", checkPAROuterChallenge},
}

// pushResult is a PAR endpoint's answer to a pushed request.
type pushResult struct {
	answer     tokenResult // the same shape as a token endpoint's (RFC 9126 §2.2, §2.3)
	requestURI string      // "" when the answer carries none
}

// describe says in plain words what the PAR endpoint answered.
func (p pushResult) describe() string {
	if p.requestURI != "" {
		return fmt.Sprintf("HTTP %d with a request_uri", p.answer.status)
	}
	if p.answer.accepted() {
		return fmt.Sprintf("HTTP %d without a request_uri%s", p.answer.status, p.answer.snip)
	}
	return p.answer.describe()
}

// pushParams are the parameters of a pushed authorization request for the
// target's client, with a fresh state and the given challenge and method
// ("" leaves the parameter out). client_id is sent for a public client
// only: a confidential one authenticates with HTTP Basic, as at the token
// endpoint.
func (a *auditor) pushParams(challenge, method string) url.Values {
	p := a.authParams()
	if a.t.ClientSecret != "" {
		p.Del("client_id")
	}
	if challenge != "" {
		p.Set("code_challenge", challenge)
	}
	if method != "" {
		p.Set("code_challenge_method", method)
	}
	return p
}

// push sends a pushed authorization request (RFC 9126 §2.1) with params,
// authenticated as the token requests are.
func (a *auditor) push(ctx context.Context, params url.Values) pushResult {
	if a.parEndpoint == "" {
		return pushResult{answer: tokenResult{err: fmt.Errorf("not sent: %s", a.parProblem)}}
	}
	p := pushResult{answer: a.token(ctx, tokenCall{endpoint: a.parEndpoint, body: params.Encode(), authorization: a.clientAuth()})}
	if p.answer.accepted() && p.answer.obj != nil {
		p.requestURI, _ = p.answer.obj["request_uri"].(string)
	}
	return p
}

// authorizePushed sends the authorization request that names requestURI
// (RFC 9126 §4: client_id and request_uri), with extra parameters if any.
func (a *auditor) authorizePushed(ctx context.Context, requestURI string, extra url.Values) authResult {
	p := url.Values{"client_id": {a.t.ClientID}, "request_uri": {requestURI}}
	for k, v := range extra {
		p[k] = v
	}
	return a.authorizeGET(ctx, p)
}

// parGrant pushes an S256 challenge of a fresh verifier and gets a code for
// its request_uri. skip says why there is none.
func (a *auditor) parGrant(ctx context.Context) (g grant, skip string) {
	g.verifier = newVerifier()
	g.challenge = s256(g.verifier)
	p := a.push(ctx, a.pushParams(g.challenge, "S256"))
	if p.requestURI == "" {
		return g, "a valid pushed S256 request got no request_uri: " + p.describe()
	}
	g.auth = a.authorizePushed(ctx, p.requestURI, nil)
	if g.auth.kind != authCode {
		return g, "the request_uri of a valid pushed S256 request got no code: " + g.auth.describe()
	}
	g.code = g.auth.params.Get("code")
	return g, ""
}

// parBaseline is the reference pushed flow, run once per audit: a valid
// pushed S256 request, its request_uri at the authorization endpoint, and
// the correct token request. Its verdict is par.valid's; the other par
// checks prove nothing unless it passed.
type parBaseline struct {
	outcome Outcome
	detail  string
}

func (a *auditor) parBase(ctx context.Context) parBaseline {
	a.parOnce.Do(func() { a.parBaseRes = a.runParBaseline(ctx) })
	return a.parBaseRes
}

func (a *auditor) runParBaseline(ctx context.Context) parBaseline {
	if a.parEndpoint == "" {
		return parBaseline{Skip, "no PAR endpoint to audit (RFC 9126 §5): " + a.parProblem}
	}
	if s := a.needToken(ctx); s != "" {
		return parBaseline{Skip, s}
	}
	verifier := newVerifier()
	p := a.push(ctx, a.pushParams(s256(verifier), "S256"))
	t := p.answer
	switch {
	case t.err != nil:
		return parBaseline{Fail, "no answer to a valid pushed S256 request: " + t.err.Error()}
	case t.status >= 500:
		return parBaseline{Fail, "server error to a valid pushed S256 request: " + t.describe() + ": conforming PAR clients are refused"}
	case t.accepted() && p.requestURI == "":
		return parBaseline{Fail, "a valid pushed S256 request got " + p.describe() + ": not an RFC 9126 §2.2 answer, so conforming PAR clients cannot go on"}
	case t.status >= 400:
		return parBaseline{Skip, "the PAR endpoint refused a valid pushed S256 request (" + t.describe() +
			"): the audited client may not be allowed to push, so a refusal of a pushed request would prove nothing"}
	case !t.accepted():
		return parBaseline{Skip, "cannot tell: a valid pushed S256 request got " + t.describe()}
	}
	r := a.authorizePushed(ctx, p.requestURI, nil)
	switch r.kind {
	case authCode:
	case authError:
		if contains(interactionErrors, r.params.Get("error")) {
			return parBaseline{Skip, "the request_uri of a valid pushed request got a login or consent step instead of a code: " + r.describe()}
		}
		return parBaseline{Fail, "the request_uri of a valid pushed S256 request was refused at the authorization endpoint: " + r.describe() +
			": conforming PAR clients are refused (is the PAR endpoint behind the same PKCE layer as the authorization endpoint?)"}
	case authRefused:
		return parBaseline{Fail, "the request_uri of a valid pushed S256 request was refused at the authorization endpoint: " + r.describe() +
			": conforming PAR clients are refused (is the PAR endpoint behind the same PKCE layer as the authorization endpoint?)"}
	case authServerError, authNoAnswer:
		return parBaseline{Fail, "the request_uri of a valid pushed S256 request got no usable answer: " + r.describe()}
	default:
		return parBaseline{Skip, "cannot tell: the request_uri of a valid pushed S256 request got " + r.describe()}
	}
	if ok, why := a.redeem(ctx, r.params.Get("code"), verifier).issuedToken(); !ok {
		return parBaseline{Fail, "no token for the correct verifier of a pushed challenge: " + why + ": conforming PAR clients are refused"}
	}
	return parBaseline{Pass, "token issued: the pushed S256 request got a request_uri, the request_uri a code, and the correct verifier a token"}
}

// needPAR returns a skip detail unless the reference pushed flow works.
func (a *auditor) needPAR(ctx context.Context) string {
	switch b := a.parBase(ctx); b.outcome {
	case Pass:
		return ""
	case Skip:
		return b.detail
	default:
		return "the valid pushed flow does not work either (see par.valid: " + b.detail + "), so a refusal here would prove nothing"
	}
}

func checkPARValid(ctx context.Context, a *auditor) (Outcome, string) {
	b := a.parBase(ctx)
	return b.outcome, b.detail
}

// checkPARNoChallenge pushes a request without a challenge. A refusal at
// the PAR endpoint is graded as a token endpoint's (RFC 9126 §2.3: the same
// JSON). A push that is accepted proves nothing where PKCE is optional (a
// direct request without a challenge gets a code: Skip); where it is
// required, the request_uri goes to the authorization endpoint: refused
// there is a Warn (too late: RFC 9126 §2.1), a code is redeemed without a
// verifier, a token a Fail (the requirement sidestepped through PAR), a
// refusal a Warn (the code is unusable).
func checkPARNoChallenge(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needPAR(ctx); s != "" {
		return Skip, s
	}
	p := a.push(ctx, a.pushParams("", ""))
	if !p.answer.accepted() {
		return judgeRefusal(p.answer, "invalid_request")
	}
	if p.requestURI == "" {
		return Skip, "cannot tell: the pushed request without a code_challenge got " + p.describe()
	}
	if optional, r := a.optionalPKCE(ctx); optional {
		return Skip, "PKCE is optional on this server: a direct authorization request without a code_challenge got a code too (" + r.describe() +
			", see authorize.no-challenge), so a pushed one that is accepted (" + p.describe() + ") sidesteps nothing"
	}
	accepted := "the pushed request without a code_challenge was accepted (" + p.describe() + ")"
	r := a.authorizePushed(ctx, p.requestURI, nil)
	if r.kind != authCode {
		o, d := a.judgeAuthorizeRefusal(r)
		if o == Pass {
			return Warn, accepted + ", then its request_uri was " + d + "; RFC 9126 §2.1 says validate the pushed request as an authorization request and refuse it at once"
		}
		return o, accepted + ", then its request_uri: " + d
	}
	issued := fmt.Sprintf("%s and its request_uri got a code (%s), while a direct authorization request without one is refused", accepted, r.describe())
	t := a.redeem(ctx, r.params.Get("code"), "")
	if t.accepted() {
		return Fail, fmt.Sprintf("PKCE requirement sidestepped: %s; the code redeemed without a verifier (the server %s)", issued, t.describe())
	}
	if t.err != nil || t.status >= 500 {
		return Fail, fmt.Sprintf("%s; redeeming it without a verifier got no usable answer: %s", issued, t.describe())
	}
	return Warn, fmt.Sprintf("%s; the code is unusable: without a verifier it was refused (%s); RFC 9126 §2.1 says refuse the pushed request at once",
		issued, t.describe())
}

// refusePARRedeem is a check that a code issued for a pushed challenge is
// refused with the verifier verifier returns ("": none) with one of want.
func refusePARRedeem(verifier func(grant) string, want ...string) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needPAR(ctx); s != "" {
			return Skip, s
		}
		g, skip := a.parGrant(ctx)
		if skip != "" {
			return Skip, skip
		}
		t := a.redeem(ctx, g.code, verifier(g))
		o, d := judgeRefusal(t, want...)
		if t.accepted() {
			d += ": the code of a pushed request is not bound to the pushed challenge (RFC 9126 §4)"
		}
		return o, d
	}
}

// checkPAROuterChallenge pushes an S256 challenge, then sends the
// authorization request with its request_uri and another S256 challenge
// beside it, the attacker's. Refused: Pass (a conflict, as the middleware
// answers it). A code: the attacker's verifier redeems it, a token is a
// Fail (the outer challenge replaced the pushed one, or no verifier is
// checked: see par.verifier-wrong); a refusal is a Pass (the outer
// challenge was ignored, as RFC 9101 §6.3 says).
func checkPAROuterChallenge(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needPAR(ctx); s != "" {
		return Skip, s
	}
	pushedVerifier, outerVerifier := newVerifier(), newVerifier()
	p := a.push(ctx, a.pushParams(s256(pushedVerifier), "S256"))
	if p.requestURI == "" {
		return Skip, "a valid pushed S256 request got no request_uri: " + p.describe()
	}
	r := a.authorizePushed(ctx, p.requestURI, url.Values{
		"code_challenge": {s256(outerVerifier)}, "code_challenge_method": {"S256"},
	})
	if r.kind != authCode {
		o, d := a.judgeAuthorizeRefusal(r)
		return o, d + " (the request_uri with a code_challenge other than the pushed one)"
	}
	t := a.redeem(ctx, r.params.Get("code"), outerVerifier)
	if t.accepted() {
		return Fail, fmt.Sprintf("outer challenge bound: the request_uri with another code_challenge beside it got a code (%s), "+
			"which the verifier of the outer challenge redeemed (the server %s): the outer challenge replaced the pushed one "+
			"(or no verifier is checked for pushed requests: see par.verifier-wrong)", r.describe(), t.describe())
	}
	o, d := judgeRefusal(t, "invalid_grant")
	return o, fmt.Sprintf("outer challenge ignored: the request_uri with another code_challenge beside it got a code (%s); the verifier of the outer challenge %s",
		r.describe(), d)
}
