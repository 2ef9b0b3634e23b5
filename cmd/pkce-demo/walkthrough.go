package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-pkce/pkce"
)

// walkRedirectURI is the walkthrough client's redirect URI. Nothing listens
// there: the client reads the code from the redirect's Location instead of
// following it.
const walkRedirectURI = "http://127.0.0.1:9/callback"

// walkthrough plays an OAuth client against the demo server at issuer and
// prints each request and answer to out, step by step.
type walkthrough struct {
	issuer    string
	out       io.Writer
	protected bool // whether the server is expected to enforce PKCE
	// reportOnlyIssuer, when set, is the same server in report-only mode,
	// which the last steps walk through.
	reportOnlyIssuer string
	client           *http.Client

	step   int
	failed []int
	// carried from step to step
	refreshToken string
}

// walkStep is one step: a title and a check that prints its exchanges
// and returns why the step did not behave, or nil.
type walkStep struct {
	title string
	check func(ctx context.Context) error
}

// run walks through every step and prints a summary. It returns the
// number of steps that did not behave.
func (wt *walkthrough) run(ctx context.Context) int {
	if wt.client == nil {
		wt.client = &http.Client{Timeout: 10 * time.Second}
	}
	client := *wt.client
	// Read each redirect's Location instead of following it.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	wt.client = &client

	if wt.protected {
		fmt.Fprintf(wt.out, "pkce-demo: a homegrown authorization server at %s,\nwrapped by the PKCE middleware (S256 required). A client walks through it.\n", wt.issuer)
	} else {
		fmt.Fprintf(wt.out, "pkce-demo: a homegrown authorization server at %s,\nWITHOUT the PKCE middleware (-unprotected). A client walks through it; watch what slips through.\n", wt.issuer)
	}

	steps := []walkStep{
		{"read the OpenID Connect metadata", func(ctx context.Context) error {
			return wt.discovery(ctx, pathOpenIDConf)
		}},
		{"read the OAuth 2.0 authorization server metadata (RFC 8414)", func(ctx context.Context) error {
			return wt.discovery(ctx, pathOAuthServer)
		}},
	}
	var code, verifier string
	steps = append(steps,
		walkStep{"authorize with an S256 code challenge", func(ctx context.Context) error {
			var err error
			verifier = pkce.GenerateVerifier()
			wt.note("code_verifier  %s (kept by the client)", verifier)
			wt.note("code_challenge %s (S256 of the verifier, sent now)", pkce.S256Challenge(verifier))
			code, err = wt.authorize(ctx, pkce.S256Challenge(verifier))
			return err
		}},
		walkStep{"exchange the code with the right verifier", func(ctx context.Context) error {
			if code == "" {
				return errors.New("no code: the authorize step failed")
			}
			ans, err := wt.token(ctx, "", url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {walkRedirectURI},
				"client_id": {demoApp}, "code_verifier": {verifier},
			})
			if err != nil {
				return err
			}
			if err := ans.wantTokens(); err != nil {
				return err
			}
			if ans.oauth.RefreshToken == "" {
				return errors.New("the answer has no refresh_token")
			}
			wt.refreshToken = ans.oauth.RefreshToken
			return nil
		}},
		walkStep{"refresh the tokens (grant_type refresh_token passes through)", func(ctx context.Context) error {
			if wt.refreshToken == "" {
				return errors.New("no refresh token: the exchange step failed")
			}
			ans, err := wt.token(ctx, "", url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {wt.refreshToken}, "client_id": {demoApp},
			})
			if err != nil {
				return err
			}
			return ans.wantTokens()
		}},
		walkStep{"replay the same code and verifier", func(ctx context.Context) error {
			if code == "" {
				return errors.New("no code: the authorize step failed")
			}
			ans, err := wt.token(ctx, "", url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {walkRedirectURI},
				"client_id": {demoApp}, "code_verifier": {verifier},
			})
			if err != nil {
				return err
			}
			return ans.wantError(http.StatusBadRequest, "invalid_grant")
		}},
	)
	var code2 string
	steps = append(steps,
		walkStep{"get a new code, then send a wrong verifier", func(ctx context.Context) error {
			var err error
			verifier := pkce.GenerateVerifier()
			if code2, err = wt.authorize(ctx, pkce.S256Challenge(verifier)); err != nil {
				return err
			}
			wrong := pkce.GenerateVerifier()
			wt.note("sending code_verifier %s, which is not the one of the challenge", wrong)
			ans, err := wt.token(ctx, "", url.Values{
				"grant_type": {"authorization_code"}, "code": {code2}, "redirect_uri": {walkRedirectURI},
				"client_id": {demoApp}, "code_verifier": {wrong},
			})
			if err != nil {
				return err
			}
			return ans.wantError(http.StatusBadRequest, "invalid_grant")
		}},
		walkStep{"retry that code without any verifier", func(ctx context.Context) error {
			if code2 == "" {
				return errors.New("no code: the previous step's authorize failed")
			}
			ans, err := wt.token(ctx, "", url.Values{
				"grant_type": {"authorization_code"}, "code": {code2}, "redirect_uri": {walkRedirectURI},
				"client_id": {demoApp},
			})
			if err != nil {
				return err
			}
			return ans.wantError(http.StatusBadRequest, "invalid_grant")
		}},
		walkStep{"authorize without PKCE", func(ctx context.Context) error {
			resp, err := wt.do(ctx, http.MethodGet, wt.authorizeURL("", fmt.Sprintf("step-%d", wt.step)), "", nil)
			if err != nil {
				return err
			}
			ans := wt.answer(resp)
			if loc := resp.Header.Get("Location"); loc != "" {
				return fmt.Errorf("the server redirected to %s: an authorization request without a code_challenge got through", loc)
			}
			return ans.wantError(http.StatusBadRequest, "invalid_request")
		}},
		walkStep{"demo-service gets a token with client_credentials (passes through)", func(ctx context.Context) error {
			ans, err := wt.token(ctx, wt.serviceBasic(), url.Values{"grant_type": {"client_credentials"}})
			if err != nil {
				return err
			}
			return ans.wantTokens()
		}},
	)

	if wt.reportOnlyIssuer != "" {
		steps = append(steps, wt.reportOnlySteps()...)
	}
	steps = append(steps, walkStep{"push the request (PAR, RFC 9126), authorize with its request_uri: a wrong verifier, then the right one", wt.parStep})

	for _, s := range steps {
		wt.step++
		fmt.Fprintf(wt.out, "\nstep %d: %s\n", wt.step, s.title)
		if err := s.check(ctx); err != nil {
			wt.failed = append(wt.failed, wt.step)
			fmt.Fprintf(wt.out, "step %d: %s ... FAILED: %v\n", wt.step, s.title, err)
			continue
		}
		fmt.Fprintf(wt.out, "step %d: %s ... ok\n", wt.step, s.title)
	}

	fmt.Fprintln(wt.out)
	if len(wt.failed) == 0 {
		fmt.Fprintf(wt.out, "PASS: all %d steps behaved.\n", len(steps))
		return 0
	}
	list := make([]string, len(wt.failed))
	for i, n := range wt.failed {
		list[i] = fmt.Sprint(n)
	}
	fmt.Fprintf(wt.out, "FAIL: %d of %d steps did not behave (steps %s).\n", len(wt.failed), len(steps), strings.Join(list, ", "))
	return len(wt.failed)
}

// serviceBasic returns demo-service's HTTP Basic credentials. RFC 6749
// §2.3.1: the credentials are form-encoded before base64, so demo-service
// is sent as demo%2Dservice, as common clients do.
func (wt *walkthrough) serviceBasic() string {
	user := strings.ReplaceAll(url.QueryEscape(demoService), "-", "%2D")
	wt.note("HTTP Basic credentials: %s:%s", user, url.QueryEscape(demoSecret))
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+url.QueryEscape(demoSecret)))
}

// discovery reads a metadata document and checks it advertises S256.
func (wt *walkthrough) discovery(ctx context.Context, path string) error {
	resp, err := wt.do(ctx, http.MethodGet, wt.issuer+path, "", nil)
	if err != nil {
		return err
	}
	ans := wt.answer(resp)
	if ans.status != http.StatusOK {
		return fmt.Errorf("want 200, got %d", ans.status)
	}
	var doc struct {
		Issuer  string   `json:"issuer"`
		Methods []string `json:"code_challenge_methods_supported"`
	}
	if err := json.Unmarshal(ans.body, &doc); err != nil {
		return fmt.Errorf("the document is not JSON: %v", err)
	}
	wt.note("issuer %q, code_challenge_methods_supported %q", doc.Issuer, doc.Methods)
	switch {
	case doc.Issuer != wt.issuer:
		return fmt.Errorf("issuer is %q, want %q", doc.Issuer, wt.issuer)
	case doc.Methods == nil:
		return errors.New("code_challenge_methods_supported is missing: clients cannot tell the server supports PKCE")
	case !slices.Contains(doc.Methods, string(pkce.S256)):
		return fmt.Errorf("code_challenge_methods_supported %q does not list S256", doc.Methods)
	}
	return nil
}

// authorize sends an authorization request for demo-app with challenge
// (none if "") and returns the code of the redirect.
func (wt *walkthrough) authorize(ctx context.Context, challenge string) (string, error) {
	return wt.authorizeAt(ctx, wt.issuer, demoApp, challenge)
}

// authorizeAt sends an authorization request for clientID to the server at
// issuer with challenge (none if "") and returns the code of the redirect.
func (wt *walkthrough) authorizeAt(ctx context.Context, issuer, clientID, challenge string) (string, error) {
	state := fmt.Sprintf("step-%d", wt.step)
	resp, err := wt.do(ctx, http.MethodGet, authorizeURL(issuer, clientID, challenge, state), "", nil)
	if err != nil {
		return "", err
	}
	ans := wt.answer(resp)
	if ans.status != http.StatusFound {
		return "", fmt.Errorf("want a 302 redirect with a code, got %d", ans.status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", fmt.Errorf("the Location is not a URL: %v", err)
	}
	q := loc.Query()
	switch {
	case q.Get("error") != "":
		return "", fmt.Errorf("the server answered error %s: %s", q.Get("error"), q.Get("error_description"))
	case q.Get("code") == "":
		return "", errors.New("the redirect carries no code")
	case q.Get("state") != state:
		return "", fmt.Errorf("state %q came back as %q", state, q.Get("state"))
	}
	return q.Get("code"), nil
}

func (wt *walkthrough) authorizeURL(challenge, state string) string {
	return authorizeURL(wt.issuer, demoApp, challenge, state)
}

func authorizeURL(issuer, clientID, challenge, state string) string {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"redirect_uri":  {walkRedirectURI},
		"scope":         {"openid"},
		"state":         {state},
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", string(pkce.S256))
	}
	return issuer + pathAuthorize + "?" + q.Encode()
}

// token sends a token request with form and, if not "", an Authorization
// header.
func (wt *walkthrough) token(ctx context.Context, authorization string, form url.Values) (*answer, error) {
	return wt.tokenAt(ctx, wt.issuer, authorization, form)
}

// tokenAt sends a token request to the server at issuer.
func (wt *walkthrough) tokenAt(ctx context.Context, issuer, authorization string, form url.Values) (*answer, error) {
	resp, err := wt.do(ctx, http.MethodPost, issuer+pathToken, authorization, form)
	if err != nil {
		return nil, err
	}
	return wt.answer(resp), nil
}

func (wt *walkthrough) do(ctx context.Context, method, target, authorization string, form url.Values) (*http.Response, error) {
	var body io.Reader
	fmt.Fprintf(wt.out, "  > %s %s\n", method, target)
	if form != nil {
		encoded := form.Encode()
		fmt.Fprintf(wt.out, "    %s\n", encoded)
		body = strings.NewReader(encoded)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := wt.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the request failed: %w", err)
	}
	return resp, nil
}

// answer is a response read in full.
type answer struct {
	status int
	body   []byte
	oauth  struct {
		Error        string `json:"error"`
		Description  string `json:"error_description"`
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
}

// answer reads resp and prints its status and what matters in it.
func (wt *walkthrough) answer(resp *http.Response) *answer {
	defer resp.Body.Close()
	a := &answer{status: resp.StatusCode}
	a.body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = json.Unmarshal(a.body, &a.oauth)
	line := fmt.Sprintf("  < %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if loc := resp.Header.Get("Location"); loc != "" {
		line += "\n    Location: " + loc
	}
	switch {
	case a.oauth.Error != "":
		line += fmt.Sprintf("\n    error %s: %s", a.oauth.Error, a.oauth.Description)
	case a.oauth.AccessToken != "":
		line += fmt.Sprintf("\n    access_token %s, token_type %s", abbreviate(a.oauth.AccessToken), a.oauth.TokenType)
		if a.oauth.RefreshToken != "" {
			line += ", refresh_token " + abbreviate(a.oauth.RefreshToken)
		}
	}
	fmt.Fprintln(wt.out, line)
	return a
}

func (a *answer) wantTokens() error {
	switch {
	case a.status != http.StatusOK:
		return fmt.Errorf("want 200 with tokens, got %d %s", a.status, a.oauth.Error)
	case a.oauth.AccessToken == "":
		return errors.New("the answer has no access_token")
	case !strings.EqualFold(a.oauth.TokenType, "Bearer"):
		return fmt.Errorf("token_type is %q, want Bearer", a.oauth.TokenType)
	}
	return nil
}

func (a *answer) wantError(status int, code string) error {
	if a.status != status || a.oauth.Error != code {
		got := fmt.Sprint(a.status)
		if a.oauth.Error != "" {
			got += " " + a.oauth.Error
		}
		if a.status == http.StatusOK && a.oauth.AccessToken != "" {
			got += " with tokens"
		}
		return fmt.Errorf("want %d %s, got %s", status, code, got)
	}
	return nil
}

func (wt *walkthrough) note(format string, args ...any) {
	fmt.Fprintf(wt.out, "  . "+format+"\n", args...)
}

// abbreviate shortens a token for display.
func abbreviate(s string) string {
	if len(s) <= 12 {
		return s
	}
	return s[:8] + "..."
}
