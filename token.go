package pkce

import (
	"errors"
	"net/http"
	"strings"
)

const grantAuthorizationCode = "authorization_code"

// Token wraps the token endpoint. Requests with
// grant_type=authorization_code are checked against the challenge recorded
// for their code (RFC 7636 §4.5, §4.6); every other grant passes through
// with its body byte for byte. The challenge is used up by the first check of
// a code, pass or fail: a code that failed a check can never be redeemed.
// The returned handler is safe for concurrent use.
func (m *Middleware) Token(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, client, e := m.checkToken(r)
		if e != nil {
			m.logRefusal(r.Context(), "token", client, e)
			e.write(w)
			return
		}
		next.ServeHTTP(w, r2)
	})
}

// checkToken decides a token request: the request to hand on, or a refusal.
func (m *Middleware) checkToken(r *http.Request) (r2 *http.Request, client string, e *refusal) {
	// The grant must be known before anything passes, so every token
	// request's body is read: what cannot be read is refused.
	var read params
	p := &read
	if e := readParams(p, r, m.maxBodyBytes, true); e != nil {
		return nil, "", e
	}
	for name := range p.values {
		if canon := caseVariant(name, tokenParams...); canon != "" {
			return nil, "", badRequest("parameter names are case-sensitive: send " + canon + ", not " + quoteParam(name))
		}
	}
	if len(p.values[paramGrantType]) > 1 {
		return nil, "", badRequest("grant_type is given more than once (RFC 6749 section 3.1)")
	}
	if grant := p.get(paramGrantType); grant != grantAuthorizationCode {
		if strings.EqualFold(strings.TrimSpace(grant), grantAuthorizationCode) {
			// A lenient handler could take it for authorization_code.
			return nil, "", badRequest("grant_type values are case-sensitive: send grant_type=authorization_code")
		}
		if grant == "" && p.get(paramCode) != "" {
			return nil, "", badRequest("the request has a code but no grant_type; send grant_type=authorization_code")
		}
		return p.request(r, nil), "", nil // PKCE says nothing about other grants
	}

	// RFC 6749 §4.1.3: the token request is a POST with a form body.
	if r.Method != http.MethodPost {
		return nil, "", badRequest("an authorization_code token request must be sent with POST (RFC 6749 section 4.1.3)")
	}
	// RFC 6749 §3.2: parameters go in the body. A server that reads the query
	// must not be fed values the middleware did not check.
	for _, name := range queryForbidden {
		if _, ok := p.query[name]; ok {
			return nil, "", badRequest(name + " must be sent in the request body, not in the URL query (RFC 6749 section 3.2)")
		}
	}
	// RFC 8707: resource may repeat.
	if name := p.repeated(func(name string) bool { return name != paramResource }); name != "" {
		return nil, "", badRequest("the parameter " + quoteParam(name) + " is given more than once (RFC 6749 section 3.1)")
	}
	client, e = tokenClient(r, p)
	if e != nil {
		return nil, client, e
	}
	code := p.get(paramCode)
	if code == "" {
		return nil, client, badRequest("code is missing: send the authorization code the client received")
	}
	verifier := p.get(paramCodeVerifier)

	c, err := m.take(r.Context(), storeKey(code))
	switch {
	case err == nil:
		if e := m.checkVerifier(c, verifier, client); e != nil {
			return nil, client, e
		}
	case errors.Is(err, ErrUsed):
		// A code is checked once: a replay, or a retry after a failed check,
		// never reaches the wrapped handler, verifier or not.
		return nil, client, badGrant("this authorization code was already presented once; a code can be redeemed, or fail its PKCE check, only once; start a new authorization request")
	case errors.Is(err, ErrNotFound):
		if verifier != "" {
			// RFC 9700 §4.8.2: a verifier without a recorded challenge is a
			// downgrade attempt.
			return nil, client, badGrant("code_verifier was sent but no code_challenge was recorded for this code; send a code_challenge in the authorization request, or no code_verifier")
		}
		if m.require(r, client) {
			return nil, client, badGrant("PKCE is required but no code_challenge was recorded for this code: the authorization request must carry code_challenge and code_challenge_method=S256, and the code must be redeemed within its lifetime")
		}
		// Issued without PKCE under a policy that allows it.
	default:
		m.logFault(r.Context(), "token", "take", err)
		return nil, client, storeRefusal(err, "check the code_verifier")
	}
	return p.request(r, nil), client, nil
}

// tokenParams are the token request parameters the middleware reads.
var tokenParams = []string{paramGrantType, paramCode, paramCodeVerifier, paramClientID, paramClientSecret, paramRedirectURI}

// queryForbidden are the parameters an authorization_code request must not
// carry in its URL query.
var queryForbidden = []string{paramGrantType, paramCode, paramCodeVerifier, paramRedirectURI, paramClientID, paramClientSecret}

// checkVerifier checks the verifier against the recorded challenge c
// (RFC 7636 §4.6) and the client against the one that asked for the code.
// Every failure is invalid_grant.
func (m *Middleware) checkVerifier(c Challenge, verifier, client string) *refusal {
	if verifier == "" {
		return badGrant("code_verifier is missing: this code was issued for a code_challenge, so the token request must carry the matching code_verifier")
	}
	if m.checkMethod(c.Method) != nil {
		// A store shared with a differently configured instance, or one
		// that lost the method: never verify under a method not accepted.
		return badGrant("the code_challenge recorded for this code uses a method this server does not accept; start a new authorization request with code_challenge_method=S256")
	}
	if err := ValidateVerifier(verifier); err != nil {
		return badGrant(fromError(err).desc)
	}
	if client != "" && c.ClientID != "" && client != c.ClientID {
		return badGrant("this authorization code was issued to another client")
	}
	// RFC 7636 §4.6: compare in constant time.
	if !verify(c.Method, c.Value, verifier) {
		return badGrant("code_verifier does not match the code_challenge of the authorization request (method " + string(c.Method) + "); send the verifier the challenge was computed from")
	}
	return nil
}

// tokenClient returns the client of a token request: the HTTP Basic user
// name, form-decoded (RFC 6749 §2.3.1), else the body's client_id.
func tokenClient(r *http.Request, p *params) (string, *refusal) {
	body := p.get(paramClientID)
	basic, ok, err := basicClientID(r.Header)
	switch {
	case err != nil:
		return body, fromError(err)
	case !ok:
		return body, nil
	case body != "" && body != basic:
		return basic, badRequest("client_id in the body differs from the client authenticated by HTTP Basic")
	}
	return basic, nil
}
