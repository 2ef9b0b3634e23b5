package pkcetest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// The rebind checks play the PKCE threat model out: the attacker holds a
// victim's code V that has not been redeemed yet (a malicious app on the
// same redirect scheme, a log, a Referer) and must not turn it into a
// token without the victim's verifier. Their attack is an authorization
// request of their own, with their own S256 challenge, that makes the
// server echo code=V in its response: a PKCE layer that binds every code
// it sees in a response, rather than only the code the server issued,
// then binds V to the attacker's challenge (issue 8 item 1).

// echoShape is where the attacker's authorization request carries the
// stolen code for the server to echo.
type echoShape int

const (
	// echoRedirectQuery: code=V in the redirect_uri's own query, which the
	// server keeps when it adds its response parameters (RFC 6749 §3.1.2).
	echoRedirectQuery echoShape = iota
	// echoCodeParam: an extra code=V parameter, which a server echoes when
	// it sends the request on to a login or consent page
	// (/login?<the request's query>).
	echoCodeParam
)

// checkRebindEcho is a rebind check in two rounds, each on a fresh victim
// code with its own S256 verifier:
//
//   - the attack: the attacker's authorization request echoes the victim's
//     code V (shape), then the attacker redeems V with its own verifier and
//     the registered redirect_uri. A token is Fail: a stolen code was
//     redeemed without its verifier (rebound to the attacker's challenge,
//     or no verifier is checked at all, which token.verifier-wrong shows).
//     A 5xx or no answer is Fail, a refusal in the wrong shape Warn, as in
//     every token check. That refusal also uses V up (a failed check burns
//     the code), so the victim's side is tried on another code:
//   - the victim: the same echo of another victim code, then the victim
//     redeems it with its own verifier. A token is Pass. No token is Warn,
//     not Fail: the echo changed the binding of a code that was not the
//     attacker's (rebound, or burned on sight) and locked the victim out,
//     but nothing was redeemed, and an attacker holding a code can burn it
//     anyway with one wrong verifier.
//
// A server that refuses the attacker's request (for echoRedirectQuery:
// exact redirect-URI matching, RFC 9700 §4.1.3, refuses a redirect_uri
// with a query of its own) never produces the echo: with V refused to the
// attacker's verifier that is a Pass, and the detail says why. A 5xx at
// the attacker's authorization request is no verdict either way (a PKCE
// layer that finds the echoed code bound fails closed with one); the
// redemption decides. Skip: no valid flow to compare with, or no victim
// code.
func checkRebindEcho(shape echoShape) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needToken(ctx); s != "" {
			return Skip, s
		}
		victim, skip := a.freshGrant(ctx)
		if skip != "" {
			return Skip, "no victim code: " + skip
		}
		attacker := newVerifier()
		echo := a.echoRequest(ctx, shape, victim.code, attacker)
		stolen := a.redeem(ctx, victim.code, attacker)
		if stolen.accepted() {
			return Fail, fmt.Sprintf("stolen code redeemed: %s; then the victim's code, issued for the victim's challenge, was redeemed with the attacker's verifier (the server %s): "+
				"a stolen code was rebound to the attacker's challenge (or the server checks no verifier: see token.verifier-wrong)",
				describeEcho(echo, victim.code), stolen.describe())
		}
		o, d := judgeRefusal(stolen, "invalid_grant")
		detail := fmt.Sprintf("%s; the victim's code with the attacker's verifier: %s", describeEcho(echo, victim.code), d)
		if o == Pass {
			detail = "stolen code not redeemed: " + detail
		}

		second, skip := a.freshGrant(ctx)
		if skip != "" {
			return o, detail + "; the victim's side was not tried: " + skip
		}
		echo = a.echoRequest(ctx, shape, second.code, newVerifier())
		if ok, why := a.redeem(ctx, second.code, second.verifier).issuedToken(); !ok {
			return worse(o, Warn), fmt.Sprintf("victim locked out: %s; but after the same echo of another victim code (%s) the victim's own verifier no longer redeemed it (%s): "+
				"the attacker's request changed the binding of a code it was not issued (rebound or burned it)",
				detail, shortEcho(echo, second.code), why)
		}
		return o, detail + "; after the same echo of another victim code, the victim's own verifier still redeemed it"
	}
}

// echoRequest sends the attacker's authorization request: the target
// client's usual parameters with an S256 challenge of the attacker's, and
// code=stolen where shape puts it.
func (a *auditor) echoRequest(ctx context.Context, shape echoShape, stolen, attackerVerifier string) authResult {
	p := a.authParams()
	p.Set("code_challenge", s256(attackerVerifier))
	p.Set("code_challenge_method", "S256")
	switch shape {
	case echoRedirectQuery:
		// Appended, so a registered URI's own query stays as registered.
		u := *a.redirect
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += "code=" + url.QueryEscape(stolen)
		p.Set("redirect_uri", u.String())
	case echoCodeParam:
		p.Set("code", stolen)
	}
	return a.authorizeGET(ctx, p)
}

// describeEcho says what the attacker's authorization request came to.
func describeEcho(r authResult, stolen string) string {
	return "the attacker's authorization request " + shortEcho(r, stolen)
}

func shortEcho(r authResult, stolen string) string {
	switch {
	case r.kind == authNoAnswer:
		return "got no answer (" + r.describe() + ")"
	case r.kind == authRefused || r.kind == authError || r.params.Get("error") != "":
		return "was refused (" + r.describe() + "), so the server produced no echo"
	case r.kind == authServerError:
		return "failed closed (" + r.describe() + ")"
	case strings.Contains(r.raw, stolen) || strings.Contains(r.raw, url.QueryEscape(stolen)):
		return "got " + r.describe() + ", the stolen code echoed in it"
	}
	return "got " + r.describe() + ", without the stolen code in it (a page in between may have echoed it)"
}
