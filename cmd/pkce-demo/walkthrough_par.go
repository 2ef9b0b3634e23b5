package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-pkce/pkce"
)

// parStep is the walk-through's pushed authorization request (RFC 9126):
// the client pushes its parameters with an S256 challenge to /par, sends
// only client_id and the request_uri to /authorize, and the code it gets is
// bound to the pushed challenge: a wrong verifier is refused, and on a
// fresh push the right one gets the tokens.
func (wt *walkthrough) parStep(ctx context.Context) error {
	wrong := pkce.GenerateVerifier()
	code, _, err := wt.pushAndAuthorize(ctx)
	if err != nil {
		return err
	}
	wt.note("sending code_verifier %s, which is not the one of the pushed challenge", wrong)
	ans, err := wt.token(ctx, "", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {walkRedirectURI},
		"client_id": {demoApp}, "code_verifier": {wrong},
	})
	if err != nil {
		return err
	}
	if err := ans.wantError(http.StatusBadRequest, "invalid_grant"); err != nil {
		return err
	}
	code, verifier, err := wt.pushAndAuthorize(ctx)
	if err != nil {
		return err
	}
	ans, err = wt.token(ctx, "", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {walkRedirectURI},
		"client_id": {demoApp}, "code_verifier": {verifier},
	})
	if err != nil {
		return err
	}
	return ans.wantTokens()
}

// pushAndAuthorize pushes a demo-app authorization request with the S256
// challenge of a fresh verifier, then authorizes with its request_uri, and
// returns the code and the verifier.
func (wt *walkthrough) pushAndAuthorize(ctx context.Context) (code, verifier string, err error) {
	verifier = pkce.GenerateVerifier()
	state := fmt.Sprintf("step-%d", wt.step)
	resp, err := wt.do(ctx, http.MethodPost, wt.issuer+pathPAR, "", url.Values{
		"response_type": {"code"}, "client_id": {demoApp}, "redirect_uri": {walkRedirectURI}, "state": {state},
		"code_challenge": {pkce.S256Challenge(verifier)}, "code_challenge_method": {string(pkce.S256)},
	})
	if err != nil {
		return "", "", err
	}
	ans := wt.answer(resp)
	var pushed struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	if ans.status != http.StatusCreated || json.Unmarshal(ans.body, &pushed) != nil || pushed.RequestURI == "" {
		return "", "", fmt.Errorf("want 201 with a request_uri, got %d %s", ans.status, ans.oauth.Error)
	}
	wt.note("request_uri %s, expires_in %d", pushed.RequestURI, pushed.ExpiresIn)
	q := url.Values{"client_id": {demoApp}, "request_uri": {pushed.RequestURI}}
	resp, err = wt.do(ctx, http.MethodGet, wt.issuer+pathAuthorize+"?"+q.Encode(), "", nil)
	if err != nil {
		return "", "", err
	}
	ans = wt.answer(resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if ans.status != http.StatusFound || err != nil {
		return "", "", fmt.Errorf("want a 302 redirect with a code, got %d", ans.status)
	}
	if code = loc.Query().Get("code"); code == "" {
		return "", "", errors.New("the redirect carries no code")
	}
	return code, verifier, nil
}
