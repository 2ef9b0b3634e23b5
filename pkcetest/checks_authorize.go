package pkcetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
)

var authorizeChecks = []check{
	{"authorize.valid-s256", "a valid S256 authorization request gets a code at the redirect_uri",
		"RFC 7636 §4.3, §4.4", checkValidS256},
	{"authorize.no-challenge", "a request without code_challenge is refused (warn when PKCE is optional)",
		"RFC 9700 §2.1.1; OAuth 2.1 §4.1.1", checkNoChallenge},
	{"authorize.method-absent", "a challenge without code_challenge_method is taken as plain",
		"RFC 7636 §4.3", checkMethodAbsent},
	{"authorize.method-case", "code_challenge_method=s256 (wrong case) is refused",
		"RFC 7636 §4.3, §4.4.1 (methods are case-sensitive)", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", s256(newVerifier()))
			p.Set("code_challenge_method", "s256")
		})},
	{"authorize.method-unknown", "an unknown code_challenge_method is refused",
		"RFC 7636 §4.4.1 (transform algorithm not supported)", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", s256(newVerifier()))
			p.Set("code_challenge_method", "S512")
		})},
	{"authorize.method-without-challenge", "code_challenge_method without code_challenge is refused",
		"RFC 7636 §4.3, §4.4.1", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-blank", "a blank code_challenge= with S256 is refused",
		"OAuth 2.1 §1.4.1 (a blank parameter is an omitted one); RFC 7636 §4.4.1", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", "")
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-hex", "a hex-encoded SHA-256 challenge is refused",
		"RFC 7636 §4.2 (base64url, 43 characters); peers failed such codes only at the token endpoint", refuseAuthorize(func(p url.Values) {
			h := sha256.Sum256([]byte(newVerifier()))
			p.Set("code_challenge", hex.EncodeToString(h[:]))
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-padded", "a padded S256 challenge (44 characters ending in =) is refused",
		"RFC 7636 §4.2, Appendix A (no padding)", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", s256(newVerifier())+"=")
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-short", "a 42-character S256 challenge is refused",
		"RFC 7636 §4.2 (an S256 challenge is 43 characters)", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", s256(newVerifier())[:42])
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-long", "a 44-character S256 challenge is refused",
		"RFC 7636 §4.2 (an S256 challenge is 43 characters)", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", s256(newVerifier())+"A")
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.challenge-std-base64", "an S256 challenge in standard base64 (+ and /) is refused",
		"RFC 7636 §4.2, Appendix A (base64url)", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", "+/"+s256(newVerifier())[2:])
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.duplicate-query", "code_challenge twice in the query is refused",
		"RFC 6749 §3.1 (parameters must not repeat)", refuseAuthorize(func(p url.Values) {
			p["code_challenge"] = []string{s256(newVerifier()), s256(newVerifier())}
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.duplicate-empty", "code_challenge repeated with an empty value is refused as repeated",
		"RFC 6749 §3.1 (a repeated key is repeated whatever its value)", refuseAuthorize(func(p url.Values) {
			p["code_challenge"] = []string{s256(newVerifier()), ""}
			p.Set("code_challenge_method", "S256")
		})},
	{"authorize.duplicate-method", "code_challenge_method twice (plain and S256) is refused",
		"RFC 6749 §3.1; a front layer reading S256 while the server records plain", refuseAuthorize(func(p url.Values) {
			p.Set("code_challenge", s256(newVerifier()))
			p["code_challenge_method"] = []string{"plain", "S256"}
		})},
	{"authorize.duplicate-form", "code_challenge twice in a POST form is refused",
		"RFC 6749 §3.1; OpenID Connect Core §3.1.2.1 (POST)", checkDuplicateForm},
	{"authorize.duplicate-query-form", "code_challenge in both the query and the POST form is refused",
		"RFC 6749 §3.1; a front layer reading one place while the server reads the other", checkDuplicateQueryForm},
	{"authorize.unregistered-redirect", "a refused request never redirects to an unregistered redirect_uri",
		"RFC 6749 §4.1.2.1, §10.15 (open redirector)", checkUnregisteredRedirect},
}

// refuseAuthorize is a check that a GET authorization request, set up by
// mutate from the client's usual parameters, is refused.
func refuseAuthorize(mutate func(url.Values)) func(context.Context, *auditor) (Outcome, string) {
	return func(ctx context.Context, a *auditor) (Outcome, string) {
		if s := a.needAuthorize(ctx); s != "" {
			return Skip, s
		}
		p := a.authParams()
		mutate(p)
		return a.judgeAuthorizeRefusal(a.authorizeGET(ctx, p))
	}
}

func checkValidS256(ctx context.Context, a *auditor) (Outcome, string) {
	b := a.baseline(ctx)
	if !b.authOK {
		d := "no code: " + b.authWhy
		if b.g.auth.kind == authElsewhere {
			d += "; if that is a login or consent page, give the audit a logged-in session's cookie (pkce-audit -cookie, Target.Client) or set Target.Authorize"
		}
		return Fail, d
	}
	return Pass, b.g.auth.describe()
}

func checkNoChallenge(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	code, r := a.mint(ctx, "", "")
	if code != "" {
		return Warn, "the server issued a code without a code_challenge (" + r.describe() +
			"): PKCE is optional for this client; RFC 9700 §2.1.1 requires it of public clients, OAuth 2.1 of all"
	}
	return a.judgeAuthorizeRefusal(r)
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
				return Fail, "the server advertises plain but refused a challenge without method, which means plain: " + r.describe()
			}
			return Pass, "refused, as plain is not enabled: " + r.describe()
		}
		return a.judgeAuthorizeRefusal(r)
	}
	if !advertised {
		return Fail, "the server issued a code for a challenge without method, which means plain (RFC 7636 §4.3), a method it does not advertise"
	}
	t := a.redeem(ctx, code, challenge)
	if ok, why := t.issuedToken(); !ok {
		return Fail, "the server issued a code but refused the challenge itself as the verifier, so it did not take the missing method as plain: " + why
	}
	return Pass, "the server took the missing method as plain: the challenge itself redeemed the code"
}

func checkDuplicateForm(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	p := a.authParams()
	p["code_challenge"] = []string{s256(newVerifier()), s256(newVerifier())}
	p.Set("code_challenge_method", "S256")
	return a.judgeAuthorizeRefusal(a.authorizePOST(ctx, nil, p.Encode()))
}

func checkDuplicateQueryForm(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	q := a.authParams()
	q.Set("code_challenge", s256(newVerifier()))
	q.Set("code_challenge_method", "S256")
	body := url.Values{"code_challenge": {s256(newVerifier())}}
	return a.judgeAuthorizeRefusal(a.authorizePOST(ctx, q, body.Encode()))
}

func checkUnregisteredRedirect(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	h := sha256.Sum256([]byte(newVerifier()))
	cases := []struct {
		what            string
		challenge, meth string
	}{
		{"a hex challenge", hex.EncodeToString(h[:]), "S256"},
		{"an unknown method", s256(newVerifier()), "S512"},
	}
	worst, details := Pass, ""
	for _, c := range cases {
		p := a.authParams()
		p.Set("redirect_uri", attackerRedirect)
		p.Set("code_challenge", c.challenge)
		p.Set("code_challenge_method", c.meth)
		r := a.authorizeGET(ctx, p)
		var o Outcome
		var d string
		switch {
		case r.kind == authElsewhere && sameEndpoint(r.where, a.attacker):
			o, d = Fail, "redirected to the unregistered "+attackerRedirect+" ("+fmt.Sprint(r.status)+")"
			if r.params.Get("code") != "" {
				d += " with a code"
			} else if e := r.params.Get("error"); e != "" {
				d += " with error=" + e
			}
		case r.kind == authCode || r.kind == authError:
			o, d = Fail, "the redirect_uri was "+attackerRedirect+", yet the server answered "+r.describe()
		default:
			o, d = a.judgeAuthorizeRefusal(r)
		}
		if details != "" {
			details += "; "
		}
		details += c.what + ": " + d
		worst = worse(worst, o)
	}
	return worst, details
}

// worse returns the more severe outcome: Fail, then Warn, then Skip, then
// Pass.
func worse(x, y Outcome) Outcome {
	rank := map[Outcome]int{Pass: 0, Skip: 1, Warn: 2, Fail: 3}
	if rank[y] > rank[x] {
		return y
	}
	return x
}
