package pkce

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// indirect is what an authorization request with a request object
// (request, RFC 9101) or a pushed request (request_uri, RFC 9126) carries
// elsewhere than in its own parameters, for the capture of its code.
type indirect struct {
	pushedKey   string   // the pushed request's store key, used up when its code is bound; "" for a request object
	redirectURI string   // the redirect_uri that counts: the pushed or inner one, else the outer one
	carried     []string // values carried elsewhere: the pushed redirect_uri, the request object's strings
}

// checkIndirect validates an authorization request that carries request or
// request_uri, once its parameters passed the checks of every authorization
// request (case, duplicates). It returns what checkAuthorize returns, and
// what the capture needs.
//
//   - request and request_uri together are refused (RFC 9101 §5).
//   - request: the request object's client_id, response_type,
//     redirect_uri, code_challenge and code_challenge_method count (RFC
//     9101 §6.3); an outer client_id or response_type that differs from
//     the inner one is refused (RFC 9101 §5), as is an outer
//     code_challenge or code_challenge_method that differs from the inner
//     one (challenge_conflict). An unreadable request object is refused
//     under a requiring policy and passes unbound under an optional one.
//   - request_uri: the pushed request is looked up without being used up
//     (a login page in between makes two passes); its client must be the
//     outer client_id, and an outer challenge that differs from the pushed
//     one is refused. The code the handler issues is bound to the pushed
//     challenge, and the pushed entry used up with it. A request_uri the
//     middleware did not record, or that expired, is refused under a
//     requiring policy and passes unbound under an optional one; one
//     already used is refused whatever the policy.
func (m *Middleware) checkIndirect(r *http.Request, p *params) (c Challenge, bind, business bool, ind *indirect, e *refusal) {
	object, requestURI := p.get(paramRequest), p.get(paramRequestURI)
	if object != "" && requestURI != "" {
		return c, false, true, nil, badRequest(ReasonBadRequest, "request and request_uri are both given; send one of them (RFC 9101 section 5)")
	}
	if requestURI != "" {
		return m.checkPushed(r, p, requestURI)
	}
	client := p.get(paramClientID)
	ro, e := readRequestObject(object)
	if e != nil {
		if e.reason == ReasonRequestUnreadable && !m.require(r, client) {
			// The outer challenge is not bound: the real one is elsewhere.
			return c, false, true, nil, nil
		}
		return c, false, true, nil, e
	}
	ind = &indirect{redirectURI: p.get(paramRedirectURI), carried: ro.strings}
	if ro.redirectURI != "" {
		ind.redirectURI = ro.redirectURI
	}
	if ro.clientID != "" {
		if client != "" && client != ro.clientID {
			return c, false, true, nil, badRequest(ReasonClientMismatch, "client_id differs from the request object's client_id (RFC 9101 section 5)")
		}
		client = ro.clientID
	}
	outerType := p.get(paramResponseType)
	if ro.responseType != "" && outerType != "" && ro.responseType != outerType {
		return c, false, true, nil, badRequest(ReasonBadRequest, "response_type differs from the request object's response_type (RFC 9101 section 5)")
	}
	responseType := ro.responseType
	if responseType == "" {
		responseType = outerType
	}
	if responseType != "" && !hasValue(responseType, "code") {
		if hasValueFold(responseType, "code") {
			return c, false, true, nil, badRequest(ReasonParameterCase, "response_type values are case-sensitive: send response_type=code")
		}
		return c, false, false, nil, nil // implicit and others: no code, no PKCE
	}
	if e := conflict(p, ro.challenge, ro.method, "the request object's"); e != nil {
		return c, false, true, nil, e
	}
	if ro.challenge == "" && ro.method == "" && m.require(r, client) {
		// RFC 7636 §4.4.1, where the challenge is looked for.
		return c, false, true, nil, badRequest(ReasonChallengeMissing, "code challenge required: this server requires PKCE, and the request object carries no code_challenge; put code_challenge (the S256 hash of a fresh code_verifier) and code_challenge_method=S256 in the request object (RFC 7636, RFC 9101)")
	}
	c, bind, e = m.checkChallenge(r, client, ro.challenge, ro.method)
	return c, bind, true, ind, e
}

// checkPushed is checkIndirect for a request_uri.
func (m *Middleware) checkPushed(r *http.Request, p *params, requestURI string) (c Challenge, bind, business bool, ind *indirect, e *refusal) {
	client := p.get(paramClientID)
	key := pushedKey(requestURI)
	err := ErrNotFound // without a Peeker, PAR records nothing
	if pk, ok := m.store.(Peeker); ok {
		c, err = m.peek(r.Context(), pk, key)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		if !m.require(r, client) {
			return Challenge{}, false, true, nil, nil // passes unbound
		}
		return Challenge{}, false, true, nil, badRequestURI(ReasonRequestURIUnknown, "the request_uri is unknown or expired: it was not pushed to this server's pushed authorization request endpoint, or its lifetime (expires_in) is over; "+
			"PKCE is required, so push the request again (RFC 9126) with code_challenge and code_challenge_method=S256, or send them in the authorization request itself")
	case errors.Is(err, ErrUsed):
		return Challenge{}, false, true, nil, badRequestURI(ReasonRequestURIUnknown, "the request_uri was already used for an authorization code; a request_uri is single use (RFC 9126 section 4): push the request again")
	case err != nil:
		m.logFault(r.Context(), "authorize", "peek", err)
		return Challenge{}, false, true, nil, storeRefusal(err, "look up the pushed authorization request")
	}
	switch {
	case client == "":
		return Challenge{}, false, true, nil, badRequest(ReasonClientMismatch, "client_id is missing: an authorization request with a request_uri names the client that pushed it (RFC 9126 section 4)")
	case client != c.ClientID:
		return Challenge{}, false, true, nil, badRequestURI(ReasonClientMismatch, "the request_uri was pushed by another client")
	}
	if e := conflict(p, c.Value, string(c.Method), "the pushed"); e != nil {
		return Challenge{}, false, true, nil, e
	}
	c.ExpiresAt = time.Time{}
	ind = &indirect{pushedKey: key, redirectURI: c.RedirectURI}
	if c.RedirectURI == "" {
		ind.redirectURI = p.get(paramRedirectURI)
	} else {
		ind.carried = []string{c.RedirectURI}
	}
	return c, true, true, ind, nil
}

// conflict refuses an outer code_challenge or code_challenge_method that
// differs from the one that counts (inner, or pushed); an equal one, or
// none, is fine.
func conflict(p *params, challenge, method, where string) *refusal {
	outer, outerMethod := p.get(paramCodeChallenge), p.get(paramCodeChallengeMethod)
	switch {
	case outer != "" && outer != challenge:
		return badRequest(ReasonChallengeConflict, "code_challenge differs from "+where+" code_challenge; send it once, in "+where+" request only")
	case outerMethod != "" && outerMethod != method:
		return badRequest(ReasonChallengeConflict, "code_challenge_method differs from "+where+" code_challenge_method; send it once, in "+where+" request only")
	}
	return nil
}

// checkChallenge validates a code_challenge and its method under the
// policy for client, as the authorization endpoint does (RFC 7636 §4.3,
// §4.4.1): bind is false when there is no challenge and the policy allows
// that.
func (m *Middleware) checkChallenge(r *http.Request, client, challenge, method string) (c Challenge, bind bool, e *refusal) {
	if challenge == "" {
		switch {
		case method != "":
			return c, false, badRequest(ReasonChallengeMissing, "code_challenge_method is given without code_challenge; send both")
		case !m.require(r, client):
			return c, false, nil
		}
		return c, false, badRequest(ReasonChallengeMissing, "code challenge required: this server requires PKCE, so send code_challenge (the S256 hash of a fresh code_verifier) and code_challenge_method=S256 (RFC 7636)")
	}
	c = Challenge{Value: challenge, Method: Method(method), ClientID: client}
	if method == "" {
		// RFC 7636 §4.3: absent means plain.
		c.Method = Plain
		if !m.allowPlain {
			return c, false, badRequest(ReasonMethodNotAllowed, "code_challenge_method is missing, which means plain (RFC 7636 section 4.3), and this server accepts only S256: send code_challenge_method=S256")
		}
	}
	if err := m.checkMethod(c.Method); err != nil {
		return c, false, fromError(ReasonMethodNotAllowed, err)
	}
	if err := validateChallenge(c.Method, c.Value); err != nil {
		return c, false, fromError(ReasonChallengeMalformed, err)
	}
	return c, true, nil
}

// carriedBy returns what the authorization request carried, for the
// capture: its own parameters, and for an indirect request the values it
// carried elsewhere, with the redirect_uri that counts. ind may be nil.
func (ind *indirect) carriedBy(p *params) carried {
	if ind == nil {
		return carried{values: p.values, redirectURI: p.get(paramRedirectURI)}
	}
	values := p.values
	if len(ind.carried) > 0 {
		// carried.has looks at values whatever their names: the extra ones
		// go under a name no parameter has.
		values = make(url.Values, len(p.values)+1)
		for k, vs := range p.values {
			values[k] = vs
		}
		values["\x00elsewhere"] = ind.carried
	}
	return carried{values: values, redirectURI: ind.redirectURI, pushed: ind.pushedKey}
}

// usePushed uses up the pushed request whose challenge was just bound to
// the code (request_uri is single use, RFC 9126 §4). Of two passes that
// both issued a code for one request_uri, only the first to get here lets
// its code out: the other code, bound but never sent, fails closed. A
// store fault fails closed too. It reports false when the response was
// replaced.
func (cw *captureWriter) usePushed() bool {
	if cw.req.pushed == "" {
		return true
	}
	_, err := cw.m.take(cw.ctx, cw.req.pushed)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUsed), errors.Is(err, ErrNotFound):
		return cw.fail(badRequestURI(ReasonRequestURIUnknown, "the request_uri was used for another authorization code meanwhile, or expired; a request_uri is single use (RFC 9126 section 4), so this code was not sent: push the request again"))
	}
	cw.m.logFault(cw.ctx, "authorize", "take pushed request", err)
	return cw.fail(storeRefusal(err, "use up the pushed authorization request"))
}

// peek calls Peeker.Peek bounded by the store timeout.
func (m *Middleware) peek(ctx context.Context, pk Peeker, key string) (Challenge, error) {
	if m.storeIsMemory {
		return pk.Peek(ctx, key)
	}
	return m.bounded(ctx, func(ctx context.Context) (Challenge, error) {
		return pk.Peek(ctx, key)
	})
}

// pushedKey derives the Store key of a pushed request from its
// request_uri: "par:" and BASE64URL-NOPAD(SHA256(request_uri)). A code key
// is 43 base64url characters, which never hold ':', so no code can be
// looked up as a request_uri, nor the reverse; and a store dump reveals no
// request_uri.
func pushedKey(requestURI string) string {
	return "par:" + S256Challenge(requestURI)
}
