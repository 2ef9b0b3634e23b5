package pkcetest

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// authKind is what an authorization request came to.
type authKind int

const (
	authNoAnswer    authKind = iota // transport error or timeout
	authCode                        // a code sent to the registered redirect_uri
	authError                       // an OAuth error sent to the registered redirect_uri
	authRefused                     // a 4xx page
	authServerError                 // a 5xx page
	authElsewhere                   // a redirect (or form_post) to another URI
	authToken                       // an access token (implicit flow) sent to the registered redirect_uri
	authPage                        // a 2xx page carrying neither code nor error
	authOdd                         // anything else: a 3xx without Location, …
)

// authResult is an authorization response as the audit understood it.
type authResult struct {
	kind   authKind
	status int
	via    string     // "query", "fragment" or "form_post" for authCode and authError
	params url.Values // code, state, error, … sent back to the client
	where  *url.URL   // the redirect or form target, for authElsewhere
	raw    string     // Location or the page start, for hygiene checks
	why    string     // the description of authNoAnswer and authOdd
	snip   string
}

// describe says in plain words what the server did.
func (r authResult) describe() string {
	switch r.kind {
	case authNoAnswer, authOdd:
		return r.why
	case authCode:
		return fmt.Sprintf("HTTP %d: a code sent to the redirect_uri (in the %s)", r.status, r.via)
	case authError:
		d := fmt.Sprintf("HTTP %d: error=%s sent to the redirect_uri (in the %s)", r.status, r.params.Get("error"), r.via)
		if desc := r.params.Get("error_description"); desc != "" {
			d += fmt.Sprintf(" %q", oneLine(desc, 100))
		}
		return d
	case authRefused, authServerError:
		return fmt.Sprintf("HTTP %d%s", r.status, r.snip)
	case authToken:
		return fmt.Sprintf("HTTP %d: an access token sent to the redirect_uri (in the %s)", r.status, r.via)
	case authElsewhere:
		d := fmt.Sprintf("HTTP %d: sent the user agent to %s", r.status, oneLine(r.where.Redacted(), 120))
		switch {
		case r.params.Get("code") != "" && r.params.Get("access_token") != "":
			d += " with a code and an access token"
		case r.params.Get("code") != "":
			d += " with a code"
		case r.params.Get("access_token") != "":
			d += " with an access token"
		case r.params.Get("error") != "":
			d += " with error=" + oneLine(r.params.Get("error"), 40)
		}
		return d
	case authPage:
		return fmt.Sprintf("HTTP %d: a page with neither a code nor an error (a login page? set Target.Authorize)%s", r.status, r.snip)
	}
	return "unknown"
}

// authorizeGET sends an authorization request with params in the query,
// through Target.Authorize when set.
func (a *auditor) authorizeGET(ctx context.Context, params url.Values) authResult {
	if a.authzEndpoint == "" {
		return authResult{kind: authNoAnswer, why: "not sent: " + a.endpointProblem}
	}
	u := withQuery(a.authzEndpoint, params.Encode())
	if a.t.Authorize == nil {
		res, err := a.send(ctx, http.MethodGet, u, nil, nil)
		return a.classify(u, res, err)
	}
	if n := a.timeouts.Load(); n >= maxTimeouts {
		return authResult{kind: authNoAnswer, why: fmt.Sprintf("not sent: %d earlier requests got no answer within %v", n, a.timeout)}
	}
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	resp, err := a.t.Authorize(cctx, u)
	if err != nil {
		return a.classify(u, nil, a.describeError(cctx, fmt.Errorf("Target.Authorize: %w", err)))
	}
	if resp == nil {
		return authResult{kind: authOdd, why: "Target.Authorize returned no response and no error"}
	}
	res, err := a.read(cctx, resp)
	return a.classify(u, res, err)
}

// authorizePOST sends an authorization request as a form POST (OpenID
// Connect Core §3.1.2.1 allows it) with query in the URL and body as is.
func (a *auditor) authorizePOST(ctx context.Context, query url.Values, body string) authResult {
	if a.authzEndpoint == "" {
		return authResult{kind: authNoAnswer, why: "not sent: " + a.endpointProblem}
	}
	u := withQuery(a.authzEndpoint, query.Encode())
	res, err := a.send(ctx, http.MethodPost, u, strings.NewReader(body),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	return a.classify(u, res, err)
}

// classify reads an authorization response: a redirect (query or fragment),
// a form_post page, or a page.
func (a *auditor) classify(reqURL string, res *response, err error) authResult {
	if err != nil {
		return authResult{kind: authNoAnswer, why: err.Error()}
	}
	r := authResult{status: res.status, snip: res.snippet()}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(res.body, &e) == nil && e.Error != "" {
		r.snip = " " + oneLine(e.Error, 40)
		if e.Description != "" {
			r.snip += fmt.Sprintf(" %q", oneLine(e.Description, 100))
		}
	}
	base, _ := url.Parse(reqURL)
	switch {
	case res.status >= 300 && res.status < 400:
		loc := res.header.Get("Location")
		r.raw = loc
		if loc == "" {
			r.kind, r.why = authOdd, fmt.Sprintf("HTTP %d with no Location", res.status)
			return r
		}
		lu, perr := base.Parse(loc)
		if perr != nil {
			r.kind, r.why = authOdd, fmt.Sprintf("HTTP %d with an unparsable Location %q", res.status, oneLine(loc, 100))
			return r
		}
		r.params, r.via = lu.Query(), "query"
		if frag, ferr := url.ParseQuery(lu.Fragment); ferr == nil && (frag.Has("code") || frag.Has("error") || frag.Has("access_token")) {
			for k, v := range frag {
				r.params[k] = append(r.params[k], v...)
			}
			r.via = "fragment"
		}
		a.settle(&r, lu)
	case res.status >= 200 && res.status < 300:
		r.raw = string(res.body)
		if action, fields, ok := parseFormPost(string(res.body)); ok {
			target, perr := base.Parse(action)
			if perr != nil || action == "" {
				r.kind, r.why = authOdd, fmt.Sprintf("HTTP %d: a form_post page whose form action %q is unusable", res.status, oneLine(action, 100))
				return r
			}
			r.params, r.via = fields, "form_post"
			a.settle(&r, target)
			return r
		}
		r.kind = authPage
	case res.status >= 500:
		r.kind = authServerError
	case res.status >= 400:
		r.kind = authRefused
	default:
		r.kind, r.why = authOdd, fmt.Sprintf("HTTP %d", res.status)
	}
	return r
}

// settle sorts a response sent to target: to the registered redirect_uri
// with a code or an error, or elsewhere.
func (a *auditor) settle(r *authResult, target *url.URL) {
	switch {
	case !sameEndpoint(target, a.redirect):
		r.kind, r.where = authElsewhere, target
	case r.params.Get("code") != "":
		r.kind = authCode
	case r.params.Get("error") != "":
		r.kind = authError
	case r.params.Get("access_token") != "":
		r.kind = authToken
	default:
		r.kind, r.why = authOdd, fmt.Sprintf("HTTP %d: sent to the redirect_uri with neither code nor error", r.status)
	}
}

// sameEndpoint reports whether u and v name the same scheme, host and path.
func sameEndpoint(u, v *url.URL) bool {
	return strings.EqualFold(u.Scheme, v.Scheme) && strings.EqualFold(u.Host, v.Host) &&
		strings.TrimSuffix(u.EscapedPath(), "/") == strings.TrimSuffix(v.EscapedPath(), "/")
}

var (
	tagPattern  = regexp.MustCompile(`(?is)<(form|input)\b([^>]*)>`)
	attrPattern = regexp.MustCompile(`(?s)([^\s"'>/=]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?`)
)

// parseFormPost finds a form_post page's form action and its named inputs
// (OAuth 2.0 Form Post Response Mode §2), whatever the attribute order and
// quoting, values entity-decoded. ok is false without a code or error input.
func parseFormPost(page string) (action string, fields url.Values, ok bool) {
	fields = url.Values{}
	for _, m := range tagPattern.FindAllStringSubmatch(page, 64) {
		attrs := map[string]string{}
		for _, am := range attrPattern.FindAllStringSubmatch(m[2], 32) {
			attrs[strings.ToLower(am[1])] = html.UnescapeString(am[2] + am[3] + am[4])
		}
		switch strings.ToLower(m[1]) {
		case "form":
			if action == "" {
				action = attrs["action"]
			}
		case "input":
			if name := attrs["name"]; name != "" {
				fields.Add(name, attrs["value"])
			}
		}
	}
	return action, fields, fields.Get("code") != "" || fields.Get("error") != ""
}

// authParams are the parameters of an authorization request for the
// target's client, with a fresh state.
func (a *auditor) authParams() url.Values {
	v := url.Values{
		"response_type": {"code"},
		"client_id":     {a.t.ClientID},
		"redirect_uri":  {a.t.RedirectURI},
		"state":         {newState()},
	}
	if a.t.Scope != "" {
		v.Set("scope", a.t.Scope)
	}
	return v
}

// mint asks for a code with the given challenge and method ("" leaves the
// parameter out). code is "" when the server issued none.
func (a *auditor) mint(ctx context.Context, challenge, method string) (code string, r authResult) {
	p := a.authParams()
	if challenge != "" {
		p.Set("code_challenge", challenge)
	}
	if method != "" {
		p.Set("code_challenge_method", method)
	}
	r = a.authorizeGET(ctx, p)
	if r.kind == authCode {
		code = r.params.Get("code")
	}
	return code, r
}

// grant is a code minted with an S256 challenge of a fresh verifier.
type grant struct {
	code, verifier, challenge string
	auth                      authResult
}

// freshGrant mints a code for a fresh verifier. skip says why there is
// none.
func (a *auditor) freshGrant(ctx context.Context) (g grant, skip string) {
	g.verifier = newVerifier()
	g.challenge = s256(g.verifier)
	g.code, g.auth = a.mint(ctx, g.challenge, "S256")
	if g.code == "" {
		return g, "could not get a code for a valid S256 authorization request: " + g.auth.describe()
	}
	return g, ""
}

// baseline is the reference flow: a valid S256 authorization request and
// its correct token request. Refusals prove nothing unless it works.
type baseline struct {
	sentState string
	g         grant
	authOK    bool
	authWhy   string
	tok       tokenResult
	tokOK     bool
	tokWhy    string
}

func (a *auditor) baseline(ctx context.Context) *baseline {
	a.baseOnce.Do(func() {
		b := &a.base
		b.g.verifier = newVerifier()
		b.g.challenge = s256(b.g.verifier)
		p := a.authParams()
		b.sentState = p.Get("state")
		p.Set("code_challenge", b.g.challenge)
		p.Set("code_challenge_method", "S256")
		b.g.auth = a.authorizeGET(ctx, p)
		if b.g.auth.kind != authCode {
			b.authWhy = b.g.auth.describe()
			b.tokWhy = "no code to redeem: " + b.authWhy
			return
		}
		b.authOK = true
		b.g.code = b.g.auth.params.Get("code")
		b.tok = a.redeem(ctx, b.g.code, b.g.verifier)
		b.tokOK, b.tokWhy = b.tok.issuedToken()
	})
	return &a.base
}

// needAuthorize returns a skip detail unless valid authorization requests
// get codes, without which a refusal proves nothing.
func (a *auditor) needAuthorize(ctx context.Context) string {
	if b := a.baseline(ctx); !b.authOK {
		return "a valid S256 authorization request got no code either (" + b.authWhy + "), so a refusal here would prove nothing"
	}
	return ""
}

// needToken returns a skip detail unless the correct exchange works.
func (a *auditor) needToken(ctx context.Context) string {
	if b := a.baseline(ctx); !b.tokOK {
		return "the correct PKCE exchange got no token either (" + b.tokWhy + "), so a refusal here would prove nothing"
	}
	return ""
}

// judgeAuthorizeRefusal grades an authorization response that must be a
// refusal: a 4xx page, or an OAuth error sent to the registered
// redirect_uri (RFC 6749 §4.1.2.1). A 5xx, no answer, or a code or token
// sent to the unregistered redirect_uri is a Fail; an error sent there a
// Warn (an open redirector). A code at the registered redirect_uri is
// graded here as a Fail only by callers that cannot redeem it: the others
// call judgeIssued, which does.
func (a *auditor) judgeAuthorizeRefusal(r authResult) (Outcome, string) {
	switch r.kind {
	case authRefused:
		return Pass, "refused: " + r.describe()
	case authError:
		if e := r.params.Get("error"); e != "invalid_request" {
			return Warn, "refused with another error: " + r.describe() + "; RFC 7636 §4.4.1 says invalid_request"
		}
		return Pass, "refused: " + r.describe()
	case authCode:
		return Fail, "code issued: " + r.describe()
	case authServerError:
		return Fail, "server error instead of a refusal: " + r.describe()
	case authElsewhere:
		if sameEndpoint(r.where, a.attacker) {
			if r.params.Get("code") != "" || r.params.Get("access_token") != "" {
				return Fail, "code sent to the unregistered redirect_uri: " + r.describe()
			}
			return Warn, "redirected to the unregistered redirect_uri (an open redirector, RFC 6749 §4.1.2.1): " + r.describe()
		}
		return Skip, "cannot tell: " + r.describe()
	case authPage, authOdd, authToken:
		return Skip, "cannot tell: " + r.describe()
	}
	return Fail, "no answer: " + r.describe()
}

// judgeIssued grades a code r the server issued to an authorization
// request it should have refused (a malformed challenge, an unknown
// method, a duplicated parameter). The code is no harm in itself, so the
// check redeems it with a verifier that does not hash to any challenge the
// request carried: a token is a Fail (the server does not really check), as
// is a 5xx or no answer. Otherwise again sends the same request for a
// second code, which is redeemed with intended, the verifier the client
// that made the mistake holds: a token is a Warn (the server normalised the
// challenge and checks it: the client learns late that its request was
// wrong), no token a Warn too (the code is unusable).
func (a *auditor) judgeIssued(ctx context.Context, r authResult, again func() authResult, intended string) (Outcome, string) {
	issued := "code issued (" + r.describe() + ")"
	t := a.redeem(ctx, r.params.Get("code"), newVerifier())
	switch {
	case t.accepted():
		return Fail, issued + ", and a verifier that does not hash to the challenge got a token (" + t.describe() +
			"): the server does not check this code's verifier"
	case t.err != nil || t.status >= 500:
		return Fail, issued + ", and a wrong verifier for it got no usable answer: " + t.describe()
	}
	issued += ", a wrong verifier refused (" + t.describe() + ")"
	r2 := again()
	if r2.kind != authCode {
		return Warn, issued + "; the same request again got no code (" + r2.describe() + "); RFC 7636 §4.4.1 says refuse it at once"
	}
	if ok, why := a.redeem(ctx, r2.params.Get("code"), intended).issuedToken(); !ok {
		return Warn, issued + "; the code is unusable: the verifier the challenge came from was refused too (" + why +
			"), so the client learns only at the token endpoint; RFC 7636 §4.4.1 says refuse at authorize"
	}
	return Warn, issued + "; the verifier the challenge came from redeemed another such code: the server normalises the challenge and checks it, " +
		"but RFC 7636 §4.4.1 says refuse at authorize"
}

// optionalPKCE reports whether an authorization request without a
// challenge gets a code (PKCE is optional for the client), and what it got.
// The answer is read once per audit.
func (a *auditor) optionalPKCE(ctx context.Context) (bool, authResult) {
	a.optOnce.Do(func() {
		code, r := a.mint(ctx, "", "")
		a.optIssued, a.optResult = code != "", r
	})
	return a.optIssued, a.optResult
}

// postSkip returns why POST authorization requests prove nothing: a valid
// one (S256, parameters in the form body) got no code. "" when it did. The
// preflight is sent once per audit.
func (a *auditor) postSkip(ctx context.Context) string {
	a.postOnce.Do(func() {
		p := a.authParams()
		p.Set("code_challenge", s256(newVerifier()))
		p.Set("code_challenge_method", "S256")
		if r := a.authorizePOST(ctx, nil, p.Encode()); r.kind != authCode {
			a.postWhy = "POST to the authorization endpoint is not supported: a valid POST authorization request got no code (" +
				r.describe() + "), so a refusal of a malformed one proves nothing"
		}
	})
	return a.postWhy
}

func hasNoStore(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(d), "no-store") {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
