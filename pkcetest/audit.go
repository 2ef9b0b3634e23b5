package pkcetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Target describes the authorization server under audit and the client the
// audit acts as. Issuer, ClientID and RedirectURI are required; every other
// zero value is a safe default. Audit only reads a Target, so one may serve
// concurrent audits.
type Target struct {
	// Issuer is the server's issuer identifier, e.g. "https://auth.example".
	// Metadata is read from /.well-known/oauth-authorization-server (RFC
	// 8414 §3) and /.well-known/openid-configuration (OpenID Connect
	// Discovery §4) of it.
	Issuer string
	// ClientID is a client registered for the authorization code grant with
	// RedirectURI among its redirect URIs.
	ClientID string
	// ClientSecret is the client's secret, sent with HTTP Basic
	// authentication, form-encoded before base64 as RFC 6749 §2.3.1 says.
	// Empty: a public client, whose client_id goes in the token request body.
	ClientSecret string
	// OtherClientID and OtherClientSecret name a second registered client
	// (secret "" if public), which tries to redeem codes issued to ClientID:
	// the attack of a malicious registered client holding a stolen code.
	// Empty: an unregistered client_id, which a server may refuse merely
	// as unknown.
	OtherClientID     string
	OtherClientSecret string
	// RedirectURI is a redirect URI registered for ClientID. The audit never
	// sends a request to it: it only reads the redirects that point there.
	RedirectURI string
	// Scope, if set, is sent as the scope of every authorization request
	// (e.g. "openid" for servers that insist on one). Empty: no scope.
	Scope string
	// Client sends every request. nil: a new client with no cookies. A copy
	// of it is used that never follows redirects, so a client carrying a
	// logged-in session's cookies (a cookie jar) can be passed as it is.
	Client *http.Client
	// Authorize turns an authorization request URL into the response that
	// sends the user agent back to the client: a redirect whose Location
	// carries code (or error) in its query or fragment, or a form_post HTML
	// page with a code input. Servers with a login or consent page in
	// between need one that drives those pages. The audit reads at most
	// 1 MiB of the returned body and closes it; each call is bounded by
	// Timeout. nil: a plain GET of the URL with Client that does not follow
	// redirects, which serves servers that consent at once or through the
	// client's cookies. The two checks that send the authorization request
	// as a form POST always send it with Client.
	Authorize func(ctx context.Context, authURL string) (*http.Response, error)
	// AuthorizationEndpoint and TokenEndpoint override the endpoints read
	// from the metadata. The audit only talks to the issuer's host unless an
	// endpoint on another host is named here. Empty: from the metadata.
	AuthorizationEndpoint string
	TokenEndpoint         string
	// PAREndpoint overrides the pushed_authorization_request_endpoint read
	// from the metadata (RFC 9126 §5), on the same terms. The par checks
	// push the authorization request there, authenticated as the token
	// requests are (HTTP Basic for a confidential client, client_id in the
	// body for a public one). Empty: from the metadata; a server that
	// advertises none skips the par checks.
	PAREndpoint string
	// Timeout bounds every single request of the audit, reading its body
	// included. Zero: 10 seconds.
	Timeout time.Duration
}

// DefaultTimeout is the per-request timeout of a [Target] whose Timeout is
// zero.
const DefaultTimeout = 10 * time.Second

// Outcome is the verdict of one check.
//
// The severity rule, applied to every check: [Fail] means the check
// demonstrated harm; [Warn] a deviation from RFC 7636, RFC 9700 or RFC 6749
// that the check could not turn into harm; [Skip] a precondition that is
// not met, with the reason; [Info] a client's duty the server need not
// enforce. Each check's [Check.FailWhen] says what evidence makes it fail.
type Outcome int

// The outcomes of a check. The zero Outcome is none of them, so a Result
// that was never filled in cannot pass for a verdict.
const (
	// Pass: the server did what the rule requires.
	Pass Outcome = iota + 1
	// Fail: the check demonstrated harm: a token issued where PKCE should
	// have stopped it (a wrong, missing, malformed or foreign verifier, a
	// downgrade, a replay or a second concurrent redemption, a code
	// redeemable without a verifier after a failed attempt, a stolen code
	// rebound through an echo), a code or token sent to a redirect URI
	// that is not registered, a 5xx or no answer to a client's malformed
	// input, or metadata or behaviour that makes conforming PKCE clients
	// refuse the server or be refused by it.
	Fail
	// Warn: a deviation from RFC 7636, RFC 9700 or RFC 6749 that the check
	// could not turn into harm: a refusal in the wrong shape (another error
	// code, no Cache-Control: no-store), a malformed challenge or verifier
	// accepted while the codes stay checked, a duplicated parameter read
	// consistently, a code that survives a failed attempt while verifiers
	// are enforced.
	Warn
	// Skip: a precondition of the check is not met; its Detail says which.
	Skip
	// Info: something the server need not enforce, a client's duty (RFC
	// 7636 §7.1: a fresh verifier per request); never counted against the
	// server.
	Info
)

var outcomeWords = [...]string{Pass: "pass", Fail: "fail", Warn: "warn", Skip: "skip", Info: "info"}

func (o Outcome) valid() bool { return o >= Pass && int(o) < len(outcomeWords) }

// String returns "pass", "fail", "warn", "skip" or "info".
func (o Outcome) String() string {
	if o.valid() {
		return outcomeWords[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText encodes the outcome as its word, so that JSON carries
// "pass", "fail", "warn", "skip" or "info"; any other Outcome is an error.
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.valid() {
		return nil, fmt.Errorf("pkcetest: unknown outcome %d", int(o))
	}
	return []byte(outcomeWords[o]), nil
}

// UnmarshalText decodes one of the words MarshalText produces.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, w := range outcomeWords {
		if w != "" && string(b) == w {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("pkcetest: unknown outcome %q", b)
}

// Result is the verdict of one check.
type Result struct {
	// ID is stable across releases, e.g. "token.retry-wrong-then-none".
	// Its prefix before the dot is the group: metadata, authorize, token,
	// par, hygiene.
	ID string `json:"id"`
	// Title says in one line what the check expects of the server.
	Title string `json:"title"`
	// Rule is the RFC section the check tests, or the peer bug it guards
	// against.
	Rule string `json:"rule"`
	// FailWhen says what evidence makes the check fail.
	FailWhen string `json:"fail_when"`
	// Outcome is the verdict.
	Outcome Outcome `json:"outcome"`
	// Detail says in plain words what the server did.
	Detail string `json:"detail"`
}

// Audit runs every check against t, in a fixed order, and returns one
// Result per check. Each check mints its own authorization codes with its
// own verifiers, so checks do not disturb one another. Every request is
// bounded by t.Timeout and ctx; the audit follows no redirect and sends
// nothing anywhere but the target's endpoints.
//
// The error is for a Target that cannot be audited (a missing or malformed
// field), a ctx that ends, or a *[LoginRequiredError] when the first
// authorization request, a valid one, lands on a login or consent page
// instead of getting a code: then Audit stops at once rather than skip
// every check that needs a code. What the server does, however broken,
// is a Result. Audit is safe for concurrent use with different or equal Targets,
// though auditing one server twice at once doubles its load.
func Audit(ctx context.Context, t Target) ([]Result, error) {
	a, err := newAuditor(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := a.loginWall(ctx); err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(catalogue))
	for _, c := range catalogue {
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("pkcetest: audit interrupted: %w", err)
		}
		results = append(results, a.run(ctx, c))
	}
	return results, nil
}

// Run audits target from a test: each check is a subtest named by its ID
// that fails on [Fail], is skipped on [Skip] and logs its detail otherwise.
// A target that cannot be audited (see [Audit]) fails t at once.
func Run(t *testing.T, target Target) {
	t.Helper()
	ctx := t.Context()
	a, err := newAuditor(ctx, target)
	if err == nil {
		err = a.loginWall(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range catalogue {
		t.Run(c.id, func(t *testing.T) {
			r := a.run(ctx, c)
			switch r.Outcome {
			case Fail:
				t.Errorf("%s (%s): %s", r.Title, r.Rule, r.Detail)
			case Skip:
				t.Skip(r.Detail)
			case Warn:
				t.Logf("warn: %s (%s): %s", r.Title, r.Rule, r.Detail)
			case Info:
				t.Logf("info: %s (%s): %s", r.Title, r.Rule, r.Detail)
			default:
				t.Logf("pass: %s", r.Detail)
			}
		})
	}
}

// LoginRequiredError is the error of an audit that stopped at once: the
// first authorization request, a valid one, got a login or consent page
// (or an OAuth error asking for one, such as login_required) instead of a
// code, so every check that needs a code would only skip. Give the audit a
// logged-in session ([Target.Client] carrying its cookies) or a
// [Target.Authorize] that drives those pages.
type LoginRequiredError struct {
	// Got says what the server answered, e.g. "HTTP 302: sent the user
	// agent to https://auth.example/login".
	Got string
}

func (e *LoginRequiredError) Error() string {
	return "pkcetest: the first authorization request got a login or consent page instead of a code (" + e.Got +
		"): give the audit a logged-in session (Target.Client with its cookies) or a Target.Authorize that drives those pages"
}

// loginWall returns a *LoginRequiredError when the baseline authorization
// request landed on a login or consent page.
func (a *auditor) loginWall(ctx context.Context) error {
	r := a.baseline(ctx).g.auth
	switch {
	case r.kind == authPage,
		r.kind == authElsewhere && !sameEndpoint(r.where, a.attacker),
		r.kind == authError && contains(interactionErrors, r.params.Get("error")):
		return &LoginRequiredError{Got: r.describe()}
	}
	return nil
}

// interactionErrors are the OAuth errors that ask for a user in front of
// the browser (OpenID Connect Core §3.1.2.6; RFC 6749 §4.1.2.1).
var interactionErrors = []string{"login_required", "consent_required", "interaction_required",
	"account_selection_required"}

// Check names one check of the catalogue.
type Check struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Rule  string `json:"rule"`
	// FailWhen says what evidence makes the check fail (the severity
	// rule of [Outcome]).
	FailWhen string `json:"fail_when"`
}

// Checks returns the catalogue, in the order Audit runs and reports it.
// Safe for concurrent use.
func Checks() []Check {
	out := make([]Check, len(catalogue))
	for i, c := range catalogue {
		out[i] = Check{ID: c.id, Title: c.title, Rule: c.rule, FailWhen: c.fail}
	}
	return out
}

// check is one entry of the catalogue.
type check struct {
	id, title, rule string
	fail            string // what evidence makes it fail
	run             func(ctx context.Context, a *auditor) (Outcome, string)
}

// run runs c, turning a panic of the kit itself into a Skip so that no
// server, however odd its answers, can crash the caller.
func (a *auditor) run(ctx context.Context, c check) (r Result) {
	r = Result{ID: c.id, Title: c.title, Rule: c.rule, FailWhen: c.fail}
	defer func() {
		if v := recover(); v != nil {
			r.Outcome, r.Detail = Skip, fmt.Sprintf("pkcetest internal error, please report it: %v", v)
		}
	}()
	r.Outcome, r.Detail = c.run(ctx, a)
	if !r.Outcome.valid() {
		r.Outcome, r.Detail = Skip, "pkcetest internal error, please report it: no verdict"
	}
	return r
}

// validate reports what makes t unusable.
func (t Target) validate() error {
	var problems []string
	if _, err := absoluteURL(t.Issuer); err != nil {
		problems = append(problems, "Issuer "+err.Error())
	}
	if t.ClientID == "" {
		problems = append(problems, "ClientID is empty")
	}
	if _, err := absoluteURL(t.RedirectURI); err != nil {
		problems = append(problems, "RedirectURI "+err.Error())
	}
	for _, e := range [...]struct{ name, v string }{
		{"AuthorizationEndpoint", t.AuthorizationEndpoint},
		{"TokenEndpoint", t.TokenEndpoint},
		{"PAREndpoint", t.PAREndpoint},
	} {
		if e.v == "" {
			continue
		}
		if _, err := absoluteURL(e.v); err != nil {
			problems = append(problems, e.name+" "+err.Error())
		}
	}
	if t.Timeout < 0 {
		problems = append(problems, "Timeout is negative")
	}
	if len(problems) > 0 {
		return errors.New("pkcetest: unusable Target: " + strings.Join(problems, "; "))
	}
	return nil
}

func absoluteURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("is not a URL: %v", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute URL", s)
	}
	return u, nil
}
