package pkcetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// tokenCall is one token request, as raw as the checks need it.
type tokenCall struct {
	endpoint      string // "": the token endpoint
	method        string // "": POST
	query         string // raw query string
	body          string
	contentType   string       // "": form-urlencoded when there is a body; "-": none
	authorization string       // Authorization header, "" for none
	client        *http.Client // nil: the audit's client
}

// tokenResult is a token endpoint's answer.
type tokenResult struct {
	status int
	header http.Header
	obj    map[string]any // the JSON object, nil if the body is none
	body   string
	snip   string
	big    bool // the body was larger than 1 MiB
	err    error
}

func (a *auditor) token(ctx context.Context, c tokenCall) tokenResult {
	if c.endpoint == "" && a.tokenEndpoint == "" {
		return tokenResult{err: fmt.Errorf("not sent: %s", a.endpointProblem)}
	}
	if c.endpoint == "" {
		c.endpoint = a.tokenEndpoint
	}
	if c.method == "" {
		c.method = http.MethodPost
	}
	h := http.Header{"Accept": {"application/json"}}
	switch {
	case c.contentType == "-":
	case c.contentType != "":
		h.Set("Content-Type", c.contentType)
	case c.body != "":
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.authorization != "" {
		h.Set("Authorization", c.authorization)
	}
	var body *strings.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	client := c.client
	if client == nil {
		client = a.client
	}
	var res *response
	var err error
	if body != nil {
		res, err = a.sendVia(ctx, client, c.method, withQuery(c.endpoint, c.query), body, h)
	} else {
		res, err = a.sendVia(ctx, client, c.method, withQuery(c.endpoint, c.query), nil, h)
	}
	if err != nil {
		return tokenResult{err: err}
	}
	t := tokenResult{status: res.status, header: res.header, body: string(res.body), snip: res.snippet(), big: res.truncated}
	if !res.truncated {
		var obj map[string]any
		if json.Unmarshal(res.body, &obj) == nil {
			t.obj = obj
		}
	}
	return t
}

// codeForm is the body of an authorization_code token request for the
// target's client (client_id in the body for a public client); verifier ""
// leaves code_verifier out.
func (a *auditor) codeForm(code, verifier string) url.Values {
	v := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {a.t.RedirectURI},
	}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	if a.t.ClientSecret == "" {
		v.Set("client_id", a.t.ClientID)
	}
	return v
}

// clientAuth is the target client's Authorization header, "" for a public
// client.
func (a *auditor) clientAuth() string {
	if a.t.ClientSecret == "" {
		return ""
	}
	return basicAuth(a.t.ClientID, a.t.ClientSecret)
}

// redeem sends the ordinary token request for code with verifier.
func (a *auditor) redeem(ctx context.Context, code, verifier string) tokenResult {
	return a.token(ctx, tokenCall{body: a.codeForm(code, verifier).Encode(), authorization: a.clientAuth()})
}

// accepted reports a 2xx answer: the server granted the request.
func (t tokenResult) accepted() bool { return t.err == nil && t.status >= 200 && t.status < 300 }

// issuedToken reports whether the answer is a token response (RFC 6749
// §5.1), and if not, why.
func (t tokenResult) issuedToken() (bool, string) {
	switch {
	case t.err != nil:
		return false, t.err.Error()
	case !t.accepted():
		return false, t.describe()
	case t.big:
		return false, fmt.Sprintf("HTTP %d but the body is larger than 1 MiB", t.status)
	case t.obj == nil:
		return false, fmt.Sprintf("HTTP %d but the body is not a JSON object%s", t.status, t.snip)
	}
	if s, _ := t.obj["access_token"].(string); s == "" {
		return false, fmt.Sprintf("HTTP %d but no access_token%s", t.status, t.snip)
	}
	return true, fmt.Sprintf("HTTP %d with an access_token", t.status)
}

// describe says in plain words what the token endpoint answered.
func (t tokenResult) describe() string {
	if t.err != nil {
		return t.err.Error()
	}
	if t.accepted() {
		if s, _ := t.obj["access_token"].(string); s != "" {
			return fmt.Sprintf("issued a token (HTTP %d with an access_token)", t.status)
		}
		return fmt.Sprintf("accepted the request (HTTP %d)%s", t.status, t.snip)
	}
	if code, _ := t.obj["error"].(string); code != "" {
		d := fmt.Sprintf("HTTP %d %s", t.status, code)
		if desc, _ := t.obj["error_description"].(string); desc != "" {
			d += fmt.Sprintf(" %q", oneLine(desc, 100))
		}
		return d
	}
	return fmt.Sprintf("HTTP %d%s", t.status, t.snip)
}

// judgeRefusal grades an answer that must be a refusal: a token or any 2xx
// is a bypass (Fail), as is a 5xx or no answer; a refusal is a Pass when it
// is RFC 6749 §5.2 JSON with one of the wanted error codes, status 400 (401
// for invalid_client), Cache-Control: no-store and an error_description,
// and a Warn naming what is missing otherwise.
func judgeRefusal(t tokenResult, want ...string) (Outcome, string) {
	switch {
	case t.err != nil:
		return Fail, "no answer: " + t.err.Error()
	case t.accepted():
		return Fail, "accepted: the server " + t.describe()
	case t.status >= 500:
		return Fail, fmt.Sprintf("server error instead of an OAuth refusal: %s", t.describe())
	}
	d := "refused: " + t.describe()
	code, _ := t.obj["error"].(string)
	if t.obj == nil || code == "" {
		return Warn, "refused, not as JSON: " + t.describe() + "; the body is not RFC 6749 §5.2 JSON with an error member"
	}
	var problems []string
	if !contains(want, code) {
		problems = append(problems, fmt.Sprintf("the error should be %s", strings.Join(want, " or ")))
	}
	if t.status != http.StatusBadRequest && !(t.status == http.StatusUnauthorized && code == "invalid_client") {
		problems = append(problems, fmt.Sprintf("the status should be 400, not %d", t.status))
	}
	if !hasNoStore(t.header) {
		problems = append(problems, "Cache-Control: no-store is missing")
	}
	if desc, _ := t.obj["error_description"].(string); strings.TrimSpace(desc) == "" {
		problems = append(problems, "there is no error_description saying what to fix")
	}
	if len(problems) > 0 {
		return Warn, "refused in the wrong shape: " + t.describe() + "; " + strings.Join(problems, ", ")
	}
	return Pass, d
}

// verifierProbe is how the server treats verifiers, found once per audit on
// codes of its own: the evidence that turns an accepted malformed verifier
// or a code that survives a failed attempt into harm.
type verifierProbe struct {
	why           string // the probe could not run: why; "" when it ran
	wrongAccepted bool   // a wrong verifier got a token: no verifier is checked
	survives      bool   // after a wrong verifier, the correct one still got a token
	shortAccepted bool   // an 8-character verifier whose hash is the challenge got a token
}

// probeShortLength is the length of the short verifier of the probe: far
// below RFC 7636's 43, within reach of a brute force.
const probeShortLength = 8

// verifiers runs the verifier probe once per audit.
func (a *auditor) verifiers(ctx context.Context) verifierProbe {
	a.probeOnce.Do(func() {
		p := &a.probe
		if s := a.needToken(ctx); s != "" {
			p.why = s
			return
		}
		g, skip := a.freshGrant(ctx)
		if skip != "" {
			p.why = skip
			return
		}
		if a.redeem(ctx, g.code, newVerifier()).accepted() {
			p.wrongAccepted = true
			return
		}
		p.survives, _ = a.redeem(ctx, g.code, g.verifier).issuedToken()
		short := newVerifier()[:probeShortLength]
		if code, _ := a.mint(ctx, s256(short), "S256"); code != "" {
			p.shortAccepted, _ = a.redeem(ctx, code, short).issuedToken()
		}
	})
	return a.probe
}

// bruteForce says why verifiers can be guessed on this server, "" when
// the probe showed they cannot: no verifier is checked, or a code survives
// failed attempts and short verifiers are accepted.
func (p verifierProbe) bruteForce() string {
	switch {
	case p.wrongAccepted:
		return "a wrong verifier gets a token, so no verifier is checked (see token.verifier-wrong)"
	case p.survives && p.shortAccepted:
		return fmt.Sprintf("a code survives a failed attempt and a %d-character verifier is accepted: an attacker holding a code can try verifiers until one matches",
			probeShortLength)
	}
	return ""
}
