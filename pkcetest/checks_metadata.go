package pkcetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// catalogue is every check, in the order Audit runs and reports them.
// The destructive checks run last: a correct server revokes the grant of
// a replayed code (RFC 6749 §4.1.2), after which later authorization
// requests may land on a consent page.
var catalogue = concat(metadataChecks, authorizeChecks, tokenChecks, parChecks, hygieneChecks, destructiveChecks)

func concat(groups ...[]check) []check {
	var all []check
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

var metadataChecks = []check{
	{"metadata.oauth-authorization-server", "RFC 8414 metadata is served at /.well-known/oauth-authorization-server",
		"RFC 8414 §3; RFC 9700 §2.1.1",
		"neither metadata document is served, or this one lacks issuer or an endpoint: no client can discover PKCE support", checkDocument(0)},
	{"metadata.openid-configuration", "OpenID metadata is served at /.well-known/openid-configuration",
		"OpenID Connect Discovery 1.0 §4",
		"neither metadata document is served, or this one lacks issuer or an endpoint; skip for an OAuth-only server that serves RFC 8414 metadata", checkDocument(1)},
	{"metadata.issuer", "each metadata document names the audited issuer",
		"RFC 8414 §3.3; OpenID Connect Discovery 1.0 §4.3",
		"a document names another issuer, which conforming clients must refuse", checkIssuer},
	{"metadata.identical", "both metadata documents agree on issuer, endpoints and PKCE methods",
		"RFC 8414 §3 (clients read one or the other)",
		"never: a disagreement is a warn (metadata.issuer and metadata.s256-listed fail what makes clients refuse)", checkIdentical},
	{"metadata.methods-listed", "code_challenge_methods_supported is published",
		"RFC 9700 §2.1.1; RFC 8414 §2",
		"a document lacks code_challenge_methods_supported, or it is not an array of strings: clients conclude there is no PKCE", checkMethodsListed},
	{"metadata.s256-listed", "S256 is among the advertised methods",
		"RFC 7636 §4.2; RFC 9700 §2.1.1",
		"a document lists methods without S256, so S256 clients refuse the server", checkS256Listed},
	{"metadata.plain-not-listed", "plain is not advertised",
		"RFC 7636 §7.2; RFC 9700 §2.1.1",
		"never: advertising plain is a warn", checkPlainNotListed},
	{"metadata.plain-consistent", "plain is accepted if and only if it is advertised",
		"RFC 8414 §2; peers advertised plain they refused, or accepted plain they never advertised",
		"plain is advertised but a plain request or its verifier is refused (conforming plain clients are locked out), or a 5xx; plain accepted without being advertised is a warn", checkPlainConsistent},
}

func checkDocument(i int) func(context.Context, *auditor) (Outcome, string) {
	return func(_ context.Context, a *auditor) (Outcome, string) {
		d, other := a.docs[i], a.docs[1-i]
		if d.obj == nil {
			detail := fmt.Sprintf("not served: GET %s: %s", d.url, d.problem)
			switch {
			case other.obj == nil:
				return Fail, detail + "; and the other path serves no metadata either, so no client can discover PKCE support"
			case i == 1 && !looksOpenID(other.obj):
				return Skip, detail + "; an OAuth-only server (its RFC 8414 metadata shows no OpenID Connect) need not serve it"
			}
			return Warn, detail + "; clients that read only this path will not find the server's PKCE support"
		}
		var missing []string
		for _, m := range []string{"issuer", "authorization_endpoint", "token_endpoint"} {
			if s, _ := d.obj[m].(string); s == "" {
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			return Fail, fmt.Sprintf("incomplete: GET %s: a JSON object without %s", d.url, strings.Join(missing, ", "))
		}
		return Pass, fmt.Sprintf("served: GET %s: a JSON object with issuer and endpoints", d.url)
	}
}

// looksOpenID reports whether RFC 8414 metadata shows an OpenID Connect
// provider: members only OpenID Connect Discovery defines, or the openid
// scope.
func looksOpenID(obj map[string]any) bool {
	for _, m := range []string{"userinfo_endpoint", "id_token_signing_alg_values_supported", "subject_types_supported"} {
		if _, ok := obj[m]; ok {
			return true
		}
	}
	scopes, _ := obj["scopes_supported"].([]any)
	for _, s := range scopes {
		if s == "openid" {
			return true
		}
	}
	return false
}

func checkIssuer(_ context.Context, a *auditor) (Outcome, string) {
	var good, bad []string
	for _, d := range a.docs {
		if d.obj == nil {
			continue
		}
		if got, _ := d.obj["issuer"].(string); got != a.t.Issuer {
			bad = append(bad, fmt.Sprintf("%s says issuer %q", d.name, got))
		} else {
			good = append(good, d.name)
		}
	}
	switch {
	case len(bad) > 0:
		return Fail, "another issuer: " + strings.Join(bad, "; ") + fmt.Sprintf(", not %q: clients must refuse such metadata", a.t.Issuer)
	case len(good) == 0:
		return Skip, "no metadata document could be read"
	}
	return Pass, fmt.Sprintf("the audited issuer: %s name issuer %q", strings.Join(good, " and "), a.t.Issuer)
}

func checkIdentical(_ context.Context, a *auditor) (Outcome, string) {
	x, y := a.docs[0].obj, a.docs[1].obj
	if x == nil || y == nil {
		return Skip, "only one metadata document (or none) could be read"
	}
	var differ []string
	for _, m := range []string{"issuer", "authorization_endpoint", "token_endpoint", "code_challenge_methods_supported"} {
		xb, _ := json.Marshal(x[m])
		yb, _ := json.Marshal(y[m])
		if string(xb) != string(yb) {
			differ = append(differ, fmt.Sprintf("%s is %s in one and %s in the other", m, xb, yb))
		}
	}
	if len(differ) > 0 {
		return Warn, "the documents disagree: " + strings.Join(differ, "; ") + ": clients reading one see another server than those reading the other"
	}
	return Pass, "the same issuer, authorization_endpoint, token_endpoint and code_challenge_methods_supported are the same in both"
}

// methodList is one document's code_challenge_methods_supported.
type methodList struct {
	doc     string
	present bool
	methods []string
	problem string // the member is not an array of strings
}

// methodLists returns the member of every document that could be read.
func (a *auditor) methodLists() []methodList {
	var out []methodList
	for _, d := range a.docs {
		if d.obj == nil {
			continue
		}
		l := methodList{doc: d.name}
		v, ok := d.obj["code_challenge_methods_supported"]
		if ok {
			l.present = true
			arr, isArr := v.([]any)
			if !isArr {
				l.problem = fmt.Sprintf("%s's code_challenge_methods_supported is not a JSON array", d.name)
			}
			for _, e := range arr {
				s, isStr := e.(string)
				if !isStr {
					l.problem = fmt.Sprintf("%s's code_challenge_methods_supported holds a non-string", d.name)
					continue
				}
				l.methods = append(l.methods, s)
			}
		}
		out = append(out, l)
	}
	return out
}

// advertises reports whether any document lists method.
func (a *auditor) advertises(method string) bool {
	for _, l := range a.methodLists() {
		if contains(l.methods, method) {
			return true
		}
	}
	return false
}

func checkMethodsListed(_ context.Context, a *auditor) (Outcome, string) {
	lists := a.methodLists()
	if len(lists) == 0 {
		return Skip, "no metadata document could be read"
	}
	var absent, bad, fine []string
	for _, l := range lists {
		switch {
		case !l.present:
			absent = append(absent, l.doc)
		case l.problem != "":
			bad = append(bad, l.problem)
		default:
			fine = append(fine, fmt.Sprintf("%s lists %s", l.doc, strings.Join(l.methods, ", ")))
		}
	}
	if len(absent)+len(bad) > 0 {
		d := strings.Join(bad, "; ")
		if len(absent) > 0 {
			if d != "" {
				d += "; "
			}
			d += "no code_challenge_methods_supported in " + strings.Join(absent, " and ") +
				": clients conclude the server has no PKCE, and some refuse to go on"
		}
		return Fail, "not published: " + d
	}
	return Pass, "published: " + strings.Join(fine, "; ")
}

func checkS256Listed(_ context.Context, a *auditor) (Outcome, string) {
	var listed, without []string
	for _, l := range a.methodLists() {
		if !l.present {
			continue
		}
		if contains(l.methods, "S256") {
			listed = append(listed, l.doc)
		} else {
			without = append(without, fmt.Sprintf("%s lists %q", l.doc, l.methods))
		}
	}
	switch {
	case len(without) > 0:
		return Fail, "S256 missing: " + strings.Join(without, "; ") + " without S256, the one method every PKCE server must support"
	case len(listed) == 0:
		return Skip, "no document lists code_challenge_methods_supported (see metadata.methods-listed)"
	}
	return Pass, "listed: S256 is in " + strings.Join(listed, " and ")
}

func checkPlainNotListed(_ context.Context, a *auditor) (Outcome, string) {
	var with []string
	present := false
	for _, l := range a.methodLists() {
		present = present || l.present
		if contains(l.methods, "plain") {
			with = append(with, l.doc)
		}
	}
	switch {
	case len(with) > 0:
		return Warn, "advertised: plain is in " + strings.Join(with, " and ") +
			": it protects nothing against an attacker who can read the authorization request"
	case !present:
		return Skip, "no document lists code_challenge_methods_supported (see metadata.methods-listed)"
	}
	return Pass, "not advertised"
}

func checkPlainConsistent(ctx context.Context, a *auditor) (Outcome, string) {
	if s := a.needAuthorize(ctx); s != "" {
		return Skip, s
	}
	advertised := a.advertises("plain")
	said := "does not advertise plain"
	if advertised {
		said = "advertises plain"
	}
	v := newVerifier()
	code, r := a.mint(ctx, v, "plain")
	if code == "" {
		switch r.kind {
		case authRefused, authError:
			if advertised {
				return Fail, fmt.Sprintf("plain refused though advertised: the server %s but refused a plain authorization request (%s), so clients that pick plain are locked out", said, r.describe())
			}
			return Pass, fmt.Sprintf("plain refused, as not advertised: the server %s and refused a plain authorization request: %s", said, r.describe())
		case authServerError, authNoAnswer:
			return Fail, "no usable answer: a plain authorization request got " + r.describe()
		}
		return Skip, "cannot tell: " + r.describe()
	}
	t := a.redeem(ctx, code, v)
	got, why := t.issuedToken()
	if !advertised {
		if got {
			return Warn, "plain accepted though not advertised: the server does not advertise plain, yet issued a code for a plain challenge and a token for its verifier"
		}
		return Warn, "a code for plain though not advertised: the server does not advertise plain, yet issued a code for a plain challenge (its token request got " + why + ")"
	}
	if !got {
		return Fail, "plain verifier refused though advertised: the server advertises plain and issued a code for a plain challenge, but refused the matching verifier: " + why
	}
	return Pass, "plain works as advertised: the server advertises plain and redeemed a plain challenge with its verifier"
}
