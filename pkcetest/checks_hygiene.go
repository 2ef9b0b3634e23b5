package pkcetest

import (
	"context"
	"strings"
)

var hygieneChecks = []check{
	{"hygiene.constant-challenge", "one code_challenge reused across two flows (info: a client's duty)",
		"RFC 7636 §4.1, §7.1 (a fresh verifier per request is the client's duty)",
		"a 5xx or no answer; two codes for one challenge are info, never held against the server", checkConstantChallenge},
	{"hygiene.challenge-not-exposed", "neither the challenge nor the verifier comes back to the client",
		"RFC 7636 §4.4 (the challenge must not be exposed in a form a client could extract)",
		"never: an exposed S256 challenge or verifier is a warn", checkNotExposed},
	{"hygiene.state-echoed", "state comes back exactly as sent",
		"RFC 6749 §4.1.2", "state missing, repeated or changed: conforming clients refuse the response", checkState},
	{"hygiene.token-no-store", "the token response carries Cache-Control: no-store",
		"RFC 6749 §5.1", "never: a missing no-store is a warn", checkTokenNoStore},
}

func checkConstantChallenge(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	first, r := a.mint(ctx, oauth21Challenge, "S256")
	if first == "" {
		return Skip, "no code for the first request: " + r.describe()
	}
	second, r := a.mint(ctx, oauth21Challenge, "S256")
	switch {
	case second != "":
		return Info, "two codes for one challenge: the server issued codes to two authorization requests with the same code_challenge; " +
			"a fresh verifier per request is the client's duty (RFC 7636 §7.1), which the server need not enforce"
	case r.kind == authRefused || r.kind == authError:
		return Pass, "refused the reused challenge: " + r.describe()
	}
	o, d := a.judgeAuthorizeRefusal(r)
	if o == Warn {
		o = Info
	}
	return o, d
}

func checkNotExposed(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needToken(ctx); s != "" {
		return Skip, s
	}
	g, skip := a.freshGrant(ctx)
	if skip != "" {
		return Skip, skip
	}
	var leaks []string
	if strings.Contains(g.auth.raw, g.challenge) {
		leaks = append(leaks, "the authorization response carries the code_challenge")
	}
	if strings.Contains(g.code, g.challenge) {
		leaks = append(leaks, "the code contains the challenge")
	}
	t := a.redeem(ctx, g.code, g.verifier)
	if ok, why := t.issuedToken(); !ok {
		return Skip, "the correct redemption got no token: " + why
	}
	if strings.Contains(t.body, g.challenge) {
		leaks = append(leaks, "the token response carries the code_challenge")
	}
	if strings.Contains(t.body, g.verifier) {
		leaks = append(leaks, "the token response carries the code_verifier")
	}
	if len(leaks) > 0 {
		return Warn, "exposed: " + strings.Join(leaks, "; ")
	}
	return Pass, "not exposed: neither the authorization response, the code nor the token response carries the challenge or the verifier"
}

func checkState(ctx context.Context, a *auditor) (Outcome, string) {
	b := a.baseline(ctx)
	if !b.authOK {
		return Skip, "no code to look at: " + b.authWhy
	}
	got := b.g.auth.params["state"]
	switch {
	case len(got) == 0:
		return Fail, "state missing: the redirect carries no state, though the request sent one"
	case len(got) > 1:
		return Fail, "state repeated: the redirect carries state more than once"
	case got[0] != b.sentState:
		return Fail, "state changed: the redirect carries a state other than the one sent: " + oneLine(got[0], 60)
	}
	return Pass, "state came back exactly"
}

func checkTokenNoStore(ctx context.Context, a *auditor) (Outcome, string) {
	b := a.baseline(ctx)
	if !b.tokOK {
		return Skip, "no token response to look at: " + b.tokWhy
	}
	if !hasNoStore(b.tok.header) {
		cc := oneLine(strings.Join(b.tok.header.Values("Cache-Control"), ", "), 60)
		if cc == "" {
			return Warn, "no Cache-Control: a shared cache could keep the tokens"
		}
		return Warn, "no no-store: the token response has Cache-Control " + cc + ": a shared cache could keep the tokens"
	}
	return Pass, "Cache-Control: no-store"
}
