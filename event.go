package pkce

// Event is what the middleware reports, through [Config.OnEvent], of one
// request that is PKCE's business (authorize: a response_type with code, or
// a request or request_uri; token: grant_type=authorization_code; par:
// every pushed request) and of every refusal of any other request (a
// grant_type repeated, missing or in another case, say), once its response
// is decided. Accepted requests that are not PKCE's business (other grants,
// implicit flows) make no event.
//
// An Event never carries a code, a verifier or a challenge.
type Event struct {
	// Endpoint is "authorize", "token" or "par".
	Endpoint string
	// ClientID is the request's client, "" when it named none. It is what
	// the request says: anyone can send any client_id.
	ClientID string
	// PKCE is, at authorize and par, whether the request carried a
	// code_challenge (or its request_uri or request object did); at token,
	// whether the code was bound to a challenge.
	PKCE bool
	// Method is the challenge's method (S256 or plain), "" otherwise.
	Method Method
	// Refusal is "" when the middleware accepted the request, else a
	// stable reason ID: one of the Reason constants.
	Refusal string
	// Enforced reports whether the refusal was sent: false under
	// [Config.ReportOnly], where the request went on to the wrapped
	// handler.
	Enforced bool
	// Status is the response's final HTTP status: the refusal's, or the
	// wrapped handler's; 0 if none was written.
	Status int
}

// Reason IDs: the stable values of [Event.Refusal]. The same request gets
// the same ID whether the middleware enforces or only reports.
const (
	// ReasonChallengeMissing: PKCE is required and the authorization
	// request sent no code_challenge (or a code_challenge_method without
	// one); at the token endpoint, the code has no challenge and no
	// verifier came.
	ReasonChallengeMissing = "challenge_missing"
	// ReasonMethodNotAllowed: a code_challenge_method this server does not
	// accept (plain while only S256 is, an unknown one, another case).
	ReasonMethodNotAllowed = "method_not_allowed"
	// ReasonChallengeMalformed: a code_challenge of the wrong shape.
	ReasonChallengeMalformed = "challenge_malformed"
	// ReasonChallengeConflict: an outer challenge differs from the pushed
	// or request object's one.
	ReasonChallengeConflict = "challenge_conflict"
	// ReasonVerifierMissing: the code has a challenge, the token request
	// no code_verifier.
	ReasonVerifierMissing = "verifier_missing"
	// ReasonVerifierMalformed: a code_verifier outside RFC 7636 §4.1.
	ReasonVerifierMalformed = "verifier_malformed"
	// ReasonVerifierMismatch: the code_verifier does not match the
	// challenge.
	ReasonVerifierMismatch = "verifier_mismatch"
	// ReasonClientMismatch: another client's code, or a body client_id
	// that differs from the HTTP Basic one.
	ReasonClientMismatch = "client_mismatch"
	// ReasonCodeReused: a replay, or a retry after a failed check.
	ReasonCodeReused = "code_reused"
	// ReasonDowngrade: a code_verifier for a code with no recorded
	// challenge (RFC 9700 §4.8.2).
	ReasonDowngrade = "downgrade"
	// ReasonDuplicateParameter: a parameter given more than once.
	ReasonDuplicateParameter = "duplicate_parameter"
	// ReasonParameterCase: a parameter name or value in another case.
	ReasonParameterCase = "parameter_case"
	// ReasonBodyConsumed: the request body was read before the middleware.
	ReasonBodyConsumed = "body_consumed"
	// ReasonRequestURIUnknown: a request_uri this middleware did not
	// record, or that expired.
	ReasonRequestURIUnknown = "request_uri_unknown"
	// ReasonRequestUnreadable: an encrypted or malformed request object.
	ReasonRequestUnreadable = "request_unreadable"
	// ReasonResponseUnreadable: an encrypted JARM response, whose code
	// could never be checked.
	ReasonResponseUnreadable = "response_unreadable"
	// ReasonMultipleCodes: one authorization response carried several
	// distinct codes.
	ReasonMultipleCodes = "multiple_codes"
	// ReasonRebind: a captured code already bound to a challenge, used or
	// not (a possible attack).
	ReasonRebind = "rebind"
	// ReasonBadRequest: other request-shape refusals: an oversized or
	// unreadable body, an unsupported content type, parameters in the
	// token request's query, a missing grant_type.
	ReasonBadRequest = "bad_request"
	// ReasonStoreError: the store failed or did not answer in time.
	ReasonStoreError = "store_error"
	// ReasonStoreFull: the store holds as many challenges as it may.
	ReasonStoreFull = "store_full"
)
