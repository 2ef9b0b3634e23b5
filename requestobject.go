package pkce

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// requestObject is what the middleware reads of a request object (RFC 9101
// §4): the members that count for PKCE and for the capture of the code,
// and every string the payload carries, which is never taken for a code
// the wrapped handler issues (DESIGN.md Authorize 7).
type requestObject struct {
	clientID, responseType, redirectURI string
	challenge, method                   string
	strings                             []string // every string value, at any depth
}

// requestObjectMembers are the members of a request object the middleware
// reads. A request object's parameters are the ones that count (RFC 9101
// §6.3), so these are checked as strictly as the outer parameters.
var requestObjectMembers = []string{paramClientID, paramResponseType, paramRedirectURI, paramCodeChallenge, paramCodeChallengeMethod}

// maxRequestObjectDepth bounds the nesting of a request object's payload.
const maxRequestObjectDepth = 32

// readRequestObject reads the payload of a request object: a JWS in
// compact serialization (RFC 7515 §7.1; RFC 9101 §4), signed or not. Its
// signature is not checked: the wrapped server verifies it, and the
// middleware only reads what the server will use.
//
// The refusal's reason says how it is refused: ReasonRequestUnreadable (an
// encrypted request object, RFC 7516, or one that is not a JWS of a JSON
// object) is refused under a policy that requires PKCE only;
// ReasonDuplicateParameter (a member given twice, at any depth: JSON
// parsers disagree on which one wins) and ReasonParameterCase (a member the
// middleware reads, spelled in another case: Go's encoding/json matches
// names case-insensitively) are refused whatever the policy.
func readRequestObject(jwt string) (*requestObject, *refusal) {
	parts := strings.Split(jwt, ".")
	switch len(parts) {
	case 5:
		return nil, requestUnreadable("the request object is encrypted (JWE)")
	case 3:
	default:
		return nil, requestUnreadable("the request object is not a JWT in compact serialization (header.payload.signature)")
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return nil, requestUnreadable("the request object's header is not base64url")
	}
	_, enc, ok := jsonMember(header, "enc")
	switch {
	case !ok:
		return nil, requestUnreadable("the request object's header is not a JSON object")
	case enc:
		return nil, requestUnreadable("the request object is encrypted (JWE)")
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, requestUnreadable("the request object's payload is not base64url")
	}
	return readRequestPayload(payload)
}

// readRequestPayload reads a request object's JSON payload.
func readRequestPayload(payload []byte) (*requestObject, *refusal) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, requestUnreadable("the request object's payload is not a JSON object")
	}
	ro := &requestObject{}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, requestUnreadable("the request object's payload is not valid JSON")
		}
		name := t.(string) // object keys are strings
		if seen[name] {
			return nil, badRequest(ReasonDuplicateParameter, "the request object has the member "+quoteParam(name)+" more than once")
		}
		seen[name] = true
		if canon := caseVariant(name, requestObjectMembers...); canon != "" {
			return nil, badRequest(ReasonParameterCase, "member names of the request object are case-sensitive: send "+canon+", not "+quoteParam(name))
		}
		if name == paramRequest || name == paramRequestURI {
			// RFC 9101 §4: a request object must not hold either.
			return nil, requestUnreadable("the request object holds a " + name + " member (RFC 9101 section 4)")
		}
		first := len(ro.strings)
		if e := ro.readValue(dec, 1); e != nil {
			return nil, e
		}
		var dst *string
		switch name {
		case paramClientID:
			dst = &ro.clientID
		case paramResponseType:
			dst = &ro.responseType
		case paramRedirectURI:
			dst = &ro.redirectURI
		case paramCodeChallenge:
			dst = &ro.challenge
		case paramCodeChallengeMethod:
			dst = &ro.method
		default:
			continue
		}
		// The value just read must be one string: a server would read
		// anything else in its own way.
		if len(ro.strings) != first+1 || !isStringValue(payload, dec) {
			return nil, requestUnreadable("the request object's member " + name + " is not a JSON string")
		}
		*dst = ro.strings[first]
	}
	if _, err := dec.Token(); err != nil {
		return nil, requestUnreadable("the request object's payload is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, requestUnreadable("the request object's payload has data after the JSON object")
	}
	return ro, nil
}

// isStringValue reports whether the value the decoder just read ends with
// a double quote: a JSON string, not an array or object holding one.
func isStringValue(doc []byte, dec *json.Decoder) bool {
	end := int(dec.InputOffset())
	return end > 0 && end <= len(doc) && doc[end-1] == '"'
}

// readValue reads one JSON value, collecting its strings and refusing a
// member repeated in any object it holds.
func (ro *requestObject) readValue(dec *json.Decoder, depth int) *refusal {
	if depth > maxRequestObjectDepth {
		return requestUnreadable("the request object's payload is nested too deeply")
	}
	t, err := dec.Token()
	if err != nil {
		return requestUnreadable("the request object's payload is not valid JSON")
	}
	switch v := t.(type) {
	case string:
		ro.strings = append(ro.strings, v)
	case json.Delim:
		object := v == '{'
		seen := map[string]bool{}
		for dec.More() {
			if object {
				k, err := dec.Token()
				if err != nil {
					return requestUnreadable("the request object's payload is not valid JSON")
				}
				name := k.(string)
				if seen[name] {
					return badRequest(ReasonDuplicateParameter, "the request object has the member "+quoteParam(name)+" more than once")
				}
				seen[name] = true
			}
			if e := ro.readValue(dec, depth+1); e != nil {
				return e
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return requestUnreadable("the request object's payload is not valid JSON")
		}
	}
	return nil
}

// decodeSegment decodes a base64url segment of a JWS; padding, which RFC
// 7515 leaves out, is tolerated.
func decodeSegment(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("pkce: empty segment")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// requestUnreadable is the refusal of a request object the middleware
// cannot read; why says what is wrong with it.
func requestUnreadable(why string) *refusal {
	return badRequestObject(ReasonRequestUnreadable, why+": its code_challenge cannot be read, and this server requires PKCE; send a signed, unencrypted request object (JWS) whose payload holds code_challenge and code_challenge_method=S256")
}
