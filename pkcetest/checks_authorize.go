package pkcetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// malformedAuthorizeFails is the fail evidence of a check whose request
// the server should refuse at the authorization endpoint.
const malformedAuthorizeFails = "a code issued for it that a verifier not hashing to any challenge of the request redeems, a 5xx, no answer, or a code sent elsewhere"

var authorizeChecks = []check{
	{"authorize.valid-s256", "a valid S256 authorization request gets a code at the redirect_uri",
		"RFC 7636 §4.3, §4.4", "no code: conforming PKCE clients are refused", checkValidS256},
	{"authorize.no-challenge", "a request without code_challenge is refused (warn when PKCE is optional)",
		"RFC 9700 §2.1.1; OAuth 2.1 §4.1.1", "a 5xx, no answer, or a redirect to an unregistered URI; a code is a warn", checkNoChallenge},
	{"authorize.method-absent", "a challenge without code_challenge_method is taken as plain",
		"RFC 7636 §4.3", "the server advertises plain yet refuses a challenge without method, or its verifier (the challenge itself); a 5xx", checkMethodAbsent},
	{"authorize.method-case", "code_challenge_method=s256 (wrong case) is refused",
		"RFC 7636 §4.3, §4.4.1 (methods are case-sensitive)", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p.Set("code_challenge", s256(v))
			p.Set("code_challenge_method", "s256")
		})},
	{"authorize.method-unknown", "an unknown code_challenge_method is refused",
		"RFC 7636 §4.4.1 (transform algorithm not supported)", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p.Set("code_challenge", s256(v))
			p.Set("code_challenge_method", "S512")
		})},
	{"authorize.method-without-challenge", "code_challenge_method without code_challenge is refused (as authorize.no-challenge when taken as no PKCE)",
		"RFC 7636 §4.3, §4.4.1", noPKCEFails, refuseAsNoPKCE(func(p url.Values) {
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-blank", "a blank code_challenge= with S256 is refused (as authorize.no-challenge when taken as no PKCE)",
		"OAuth 2.1 §1.4.1 (a blank parameter is an omitted one); RFC 7636 §4.4.1", noPKCEFails, refuseAsNoPKCE(func(p url.Values) {
			p.Set("code_challenge", "")
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-hex", "a hex-encoded SHA-256 challenge is refused (warn when its code stays checked)",
		"RFC 7636 §4.2 (base64url, 43 characters); peers failed such codes only at the token endpoint", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			h := sha256.Sum256([]byte(v))
			p.Set("code_challenge", hex.EncodeToString(h[:]))
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-padded", "a padded S256 challenge (44 characters ending in =) is refused (warn when its code stays checked)",
		"RFC 7636 §4.2, Appendix A (no padding)", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p.Set("code_challenge", s256(v)+"=")
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-short", "a 42-character S256 challenge is refused (warn when its code stays checked)",
		"RFC 7636 §4.2 (an S256 challenge is 43 characters)", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p.Set("code_challenge", s256(v)[:42])
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-long", "a 44-character S256 challenge is refused (warn when its code stays checked)",
		"RFC 7636 §4.2 (an S256 challenge is 43 characters)", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p.Set("code_challenge", s256(v)+"A")
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-std-base64", "an S256 challenge in standard base64 (+ and /) is refused (warn when its code stays checked)",
		"RFC 7636 §4.2, Appendix A (base64url)", malformedAuthorizeFails, refuseAuthorizeWith(stdBase64Verifier, func(p url.Values, v string) {
			h := sha256.Sum256([]byte(v))
			p.Set("code_challenge", strings.TrimRight(base64.StdEncoding.EncodeToString(h[:]), "="))
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.duplicate-query", "code_challenge twice in the query is refused (warn when read consistently)",
		"RFC 6749 §3.1 (parameters must not repeat)", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p["code_challenge"] = []string{s256(v), s256(newVerifier())}
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.duplicate-empty", "code_challenge repeated with an empty value is refused as repeated (warn when read consistently)",
		"RFC 6749 §3.1 (a repeated key is repeated whatever its value)", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p["code_challenge"] = []string{s256(v), ""}
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.duplicate-method", "code_challenge_method twice (plain and S256) is refused (warn when read consistently)",
		"RFC 6749 §3.1; a front layer reading S256 while the server records plain", malformedAuthorizeFails, refuseAuthorize(func(p url.Values, v string) {
			p.Set("code_challenge", s256(v))
			p["code_challenge_method"] = []string{"plain", "S256"}
		})},
	{"authorize.duplicate-form", "code_challenge twice in a POST form is refused (skip when POST gets no code)",
		"RFC 6749 §3.1; OpenID Connect Core §3.1.2.1 (POST)", malformedAuthorizeFails, checkDuplicateForm},
	{"authorize.duplicate-query-form", "code_challenge in both the query and the POST form is refused (skip when POST gets no code)",
		"RFC 6749 §3.1; a front layer reading one place while the server reads the other", malformedAuthorizeFails, checkDuplicateQueryForm},
	{"authorize.unregistered-redirect", "no code goes to an unregistered redirect_uri: another path, scheme or look-alike host, or a refused request",
		"RFC 6749 §3.1.2.2, §4.1.2.1, §10.15 (open redirector); RFC 9700 §4.1.3 (exact matching)",
		"a code or token sent to an unregistered redirect URI, a 5xx, or no answer; an error sent there is a warn", checkUnregisteredRedirect},
	{"authorize.implicit-flow", "response_type=token issues no access token (warn when it does)",
		"RFC 9700 §2.1.2 (implicit grant SHOULD NOT be used); OAuth 2.1 removes it: its tokens sidestep PKCE",
		"never: an implicit access token is a warn", checkImplicitFlow},
}

// noPKCEFails is the fail evidence of the checks whose request a server
// may take as one without PKCE.
const noPKCEFails = "the code redeems without a verifier though the server refuses requests without a challenge, a 5xx, or no answer"

// refuseAuthorize is a check that a GET authorization request, set up by
// mutate from the client's usual parameters and a verifier v its
// challenge derives from, is refused. A code is graded by judgeIssued.
func refuseAuthorize(mutate func(p url.Values, v string)) func(context.Context, *auditor) (Outcome, string) {
	return refuseAuthorizeWith(newVerifier, mutate)
}

// refuseAuthorizeWith is refuseAuthorize with the verifier drawn by
// verifier.
func refuseAuthorizeWith(verifier func() string, mutate func(p url.Values, v string)) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needAuthorize(ctx); s != "" {
			return Skip, s
		}
		v := verifier()
		send := func() authResult {
			p := a.authParams()
			mutate(p, v)
			return a.authorizeGET(ctx, p)
		}
		r := send()
		if r.kind != authCode {
			return a.judgeAuthorizeRefusal(r)
		}
		return a.judgeIssued(ctx, r, send, v)
	}
}

// refuseAsNoPKCE is a check that a GET authorization request carrying
// PKCE parameters but no challenge is refused. A code is what
// authorize.no-challenge makes of a request without PKCE when the code
// redeems without a verifier: a Warn where the server issues codes without
// a challenge anyway, a Fail where it refuses them (this request sidesteps
// the requirement). A code that does not redeem without a verifier is a
// Warn: unusable, or bound to something.
func refuseAsNoPKCE(mutate func(url.Values)) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needAuthorize(ctx); s != "" {
			return Skip, s
		}
		p := a.authParams()
		mutate(p)
		r := a.authorizeGET(ctx, p)
		if r.kind != authCode {
			return a.judgeAuthorizeRefusal(r)
		}
		issued := "code issued (" + r.describe() + ")"
		t := a.redeem(ctx, r.params.Get("code"), "")
		if ok, why := t.issuedToken(); !ok {
			return Warn, issued + ", which does not redeem without a verifier (" + why + "); RFC 7636 §4.4.1 says refuse the request"
		}
		optional, nr := a.optionalPKCE(ctx)
		if optional {
			return Warn, issued + " and redeemed without a verifier: taken as a request without PKCE, which the server allows (see authorize.no-challenge)"
		}
		return Fail, issued + " and redeemed without a verifier, though the server refuses requests without a challenge (" + nr.describe() +
			"): these PKCE parameters sidestep the requirement"
	}
}

func checkValidS256(ctx context.Context, a *auditor) (Outcome, string) {
	b := a.baseline(ctx)
	if !b.authOK {
		d := "no code for a valid request: " + b.authWhy
		if b.g.auth.kind == authElsewhere {
			d += "; if that is a login or consent page, give the audit a logged-in session's cookie (pkce-audit -cookie, Target.Client) or set Target.Authorize"
		}
		return Fail, d
	}
	return Pass, "code issued: " + b.g.auth.describe()
}

func checkNoChallenge(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	if optional, r := a.optionalPKCE(ctx); optional {
		return Warn, "code issued without a code_challenge (" + r.describe() +
			"): PKCE is optional for this client; RFC 9700 §2.1.1 requires it of public clients, OAuth 2.1 of all"
	} else {
		return a.judgeAuthorizeRefusal(r)
	}
}

// stdBase64Verifier returns a verifier whose S256 hash in standard base64
// has a + or a /, so that it differs from the base64url one.
func stdBase64Verifier() string {
	for {
		v := newVerifier()
		if strings.ContainsAny(s256(v), "-_") {
			return v
		}
	}
}

func checkMethodAbsent(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	// The challenge is a valid S256 value and a valid plain one: only the
	// missing method says which.
	challenge := s256(newVerifier())
	advertised := a.advertises("plain")
	code, r := a.mint(ctx, challenge, "")
	if code == "" {
		switch r.kind {
		case authRefused, authError:
			if advertised {
				return Fail, "refused though plain is advertised: a challenge without method, which means plain, got " + r.describe() +
					", so clients that omit the method are locked out"
			}
			return Pass, "refused, as plain is not enabled: " + r.describe()
		}
		return a.judgeAuthorizeRefusal(r)
	}
	t := a.redeem(ctx, code, challenge)
	ok, why := t.issuedToken()
	switch {
	case !advertised && ok:
		return Warn, "taken as plain, which is not advertised: a code for a challenge without method, and the challenge itself redeemed it (RFC 7636 §4.3); RFC 7636 §4.4.1 says refuse a method the server does not support"
	case !advertised:
		return Warn, "code issued for a challenge without method, which means plain (RFC 7636 §4.3), a method the server does not advertise; its token request got " + why
	case !ok:
		return Fail, "not taken as plain: the server advertises plain and issued a code, but refused the challenge itself as the verifier, so clients that omit the method are locked out: " + why
	}
	return Pass, "taken as plain: the challenge itself redeemed the code"
}

func checkDuplicateForm(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	if s := a.postSkip(ctx); s != "" {
		return Skip, s
	}
	v := newVerifier()
	send := func() authResult {
		p := a.authParams()
		p["code_challenge"] = []string{s256(v), s256(newVerifier())}
		p.Set("code_challenge_method", "S256")
		return a.authorizePOST(ctx, nil, p.Encode())
	}
	if r := send(); r.kind == authCode {
		return a.judgeIssued(ctx, r, send, v)
	} else {
		return a.judgeAuthorizeRefusal(r)
	}
}

func checkDuplicateQueryForm(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	if s := a.postSkip(ctx); s != "" {
		return Skip, s
	}
	v := newVerifier()
	send := func() authResult {
		q := a.authParams()
		q.Set("code_challenge", s256(v))
		q.Set("code_challenge_method", "S256")
		body := url.Values{"code_challenge": {s256(newVerifier())}}
		return a.authorizePOST(ctx, q, body.Encode())
	}
	if r := send(); r.kind == authCode {
		return a.judgeIssued(ctx, r, send, v)
	} else {
		return a.judgeAuthorizeRefusal(r)
	}
}

// checkUnregisteredRedirect sends authorization requests whose
// redirect_uri is not the registered one: valid requests to another path,
// another scheme and a look-alike host (the registered host with "evil" in
// front, which a server matching by suffix accepts), and refused requests
// (a hex challenge, an unknown method) to an unrelated host. A code or
// token sent to any of them is a Fail; an error sent there a Warn (an
// open redirector); a refusal page a Pass.
func checkUnregisteredRedirect(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	other := func(change func(u *url.URL)) string {
		u := *a.redirect
		change(&u)
		return u.String()
	}
	h := sha256.Sum256([]byte(newVerifier()))
	cases := []struct {
		what, redirect  string
		challenge, meth string
	}{
		{"another path", other(func(u *url.URL) { u.Path = strings.TrimSuffix(u.Path, "/") + "/pkcetest-elsewhere"; u.RawPath = "" }),
			s256(newVerifier()), "S256"},
		{"another scheme", other(func(u *url.URL) {
			u.Scheme = map[bool]string{true: "http", false: "https"}[strings.EqualFold(u.Scheme, "https")]
		}), s256(newVerifier()), "S256"},
		{"a look-alike host", other(func(u *url.URL) { u.Host = "evil" + u.Host }), s256(newVerifier()), "S256"},
		{"another host, with a hex challenge", attackerRedirect, hex.EncodeToString(h[:]), "S256"},
		{"another host, with an unknown method", attackerRedirect, s256(newVerifier()), "S512"},
	}
	worst := Pass
	var fails, warns, rest []string
	for _, c := range cases {
		p := a.authParams()
		p.Set("redirect_uri", c.redirect)
		p.Set("code_challenge", c.challenge)
		p.Set("code_challenge_method", c.meth)
		r := a.authorizeGET(ctx, p)
		target, _ := url.Parse(c.redirect)
		var o Outcome
		var d string
		switch {
		case r.kind == authElsewhere && sameEndpoint(r.where, target):
			if r.params.Get("code") != "" || r.params.Get("access_token") != "" {
				o, d = Fail, r.describe()
			} else {
				o, d = Warn, r.describe()+" (an open redirector, RFC 6749 §4.1.2.1)"
			}
		case r.kind == authCode || r.kind == authError || r.kind == authToken:
			o, d = Warn, "the registered redirect_uri got the answer instead: "+r.describe()+"; RFC 6749 §4.1.2.1 says refuse"
		default:
			o, d = a.judgeAuthorizeRefusal(r)
		}
		d = fmt.Sprintf("%s %s: %s", c.what, oneLine(c.redirect, 80), d)
		switch o {
		case Fail:
			fails = append(fails, d)
		case Warn:
			warns = append(warns, d)
		default:
			rest = append(rest, d)
		}
		worst = worse(worst, o)
	}
	switch {
	case len(fails) > 0:
		return Fail, "code sent to an unregistered redirect_uri: " + strings.Join(append(fails, append(warns, rest...)...), "; ")
	case len(warns) > 0:
		return worst, "answer sent to an unregistered redirect_uri: " + strings.Join(append(warns, rest...), "; ")
	}
	return worst, "none went to an unregistered redirect_uri: " + strings.Join(rest, "; ")
}

// checkImplicitFlow asks for an access token straight from the
// authorization endpoint (response_type=token, RFC 6749 §4.2), which no
// PKCE check can guard: the token comes without any code to redeem.
func checkImplicitFlow(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	p := a.authParams()
	p.Set("response_type", "token")
	r := a.authorizeGET(ctx, p)
	switch r.kind {
	case authToken:
		d := "access token issued by the implicit flow: " + r.describe() + "; it sidesteps PKCE entirely (RFC 9700 §2.1.2: SHOULD NOT; OAuth 2.1 removes it)"
		if optional, _ := a.optionalPKCE(ctx); !optional {
			d += ", though the server requires PKCE of the code flow"
		}
		return Warn, d
	case authRefused, authError:
		return Pass, "refused: " + r.describe()
	case authCode:
		return Pass, "no access token: " + r.describe()
	}
	return a.judgeAuthorizeRefusal(r)
}

// worse returns the more severe outcome: Fail, then Warn, then Skip, then
// Info, then Pass.
func worse(x, y Outcome) Outcome {
	rank := map[Outcome]int{Pass: 0, Info: 1, Skip: 2, Warn: 3, Fail: 4}
	if rank[y] > rank[x] {
		return y
	}
	return x
}
