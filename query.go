package pkce

import "strings"

// authorizeQuery is what the authorization endpoint reads of a request
// whose parameters are all in its URL query, found by scanAuthorizeQuery
// without building a url.Values. Values are decoded.
type authorizeQuery struct {
	clientID, redirectURI, challenge, method string
}

// maxScannedParams bounds the pairs scanAuthorizeQuery reads; a longer query
// goes the full way (readParams), which limits them as net/url does.
const maxScannedParams = 64

// scanAuthorizeQuery reads the raw query of a GET or HEAD authorization
// request in place: the common case, a request for a code with a
// challenge, costs no url.Values. It answers ok only for a query that the
// full way (readParams, then checkAuthorize) would read without a refusal
// and take for a plain code request: every escape well formed, no ';', no
// parameter the middleware reads given twice or in another case, no key
// that needs decoding, response_type with code among its values, no
// request or request_uri (RFC 9101, RFC 9126). For anything else, ok is
// false and the request goes the full way, which makes every refusal
// exactly as it always did: the scan only ever skips work for requests
// that pass.
func scanAuthorizeQuery(raw string) (q authorizeQuery, ok bool) {
	if strings.IndexByte(raw, ';') >= 0 {
		return q, false // net/url refuses it
	}
	var seen uint16
	var responseType string
	n := 0
	for s := raw; s != ""; {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		if n++; n > maxScannedParams {
			return q, false
		}
		key, value, _ := strings.Cut(pair, "=")
		if key == "" || needsDecode(key) || !wellEscaped(value) {
			return q, false
		}
		bit := authorizeSingleBit(key)
		if bit == 0 {
			if caseVariant(key, paramResponseType, paramClientID, paramCodeChallenge, paramCodeChallengeMethod, paramRequest, paramRequestURI, paramRedirectURI) != "" {
				return q, false
			}
			continue
		}
		if seen&bit != 0 {
			return q, false // RFC 6749 §3.1: refused the full way
		}
		seen |= bit
		switch key {
		case paramResponseType:
			responseType = value
		case paramClientID:
			q.clientID = value
		case paramRedirectURI:
			q.redirectURI = value
		case paramCodeChallenge:
			q.challenge = value
		case paramCodeChallengeMethod:
			q.method = value
		case paramRequest, paramRequestURI:
			if value != "" { // an empty value counts as absent
				return q, false
			}
		}
	}
	if !hasValue(queryDecode(responseType), "code") {
		return q, false
	}
	q.clientID, q.redirectURI = queryDecode(q.clientID), queryDecode(q.redirectURI)
	q.challenge, q.method = queryDecode(q.challenge), queryDecode(q.method)
	return q, true
}

// authorizeSingleBit returns the bit of an authorization parameter that
// must not repeat (authorizeSingle), 0 for any other name.
func authorizeSingleBit(name string) uint16 {
	switch name {
	case paramResponseType:
		return 1 << 0
	case paramClientID:
		return 1 << 1
	case paramRedirectURI:
		return 1 << 2
	case paramState:
		return 1 << 3
	case paramResponseMode:
		return 1 << 4
	case paramNonce:
		return 1 << 5
	case paramCodeChallenge:
		return 1 << 6
	case paramCodeChallengeMethod:
		return 1 << 7
	case paramRequest:
		return 1 << 8
	case paramRequestURI:
		return 1 << 9
	}
	return 0
}

// wellEscaped reports whether every '%' of s starts a two-digit hex escape,
// the one thing url.QueryUnescape refuses.
func wellEscaped(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		j := strings.IndexByte(s[i+3:], '%')
		if j < 0 {
			return true
		}
		i += 3 + j
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// decodesTo reports whether queryDecode(raw) == v, without allocating.
func decodesTo(raw, v string) bool {
	if len(raw) < len(v) {
		return false // decoding never lengthens
	}
	if !wellEscaped(raw) {
		return raw == v // queryDecode leaves it raw
	}
	j := 0
	for i := 0; i < len(raw); j++ {
		if j >= len(v) {
			return false
		}
		c := raw[i]
		switch c {
		case '+':
			c, i = ' ', i+1
		case '%':
			c, i = unhex(raw[i+1])<<4|unhex(raw[i+2]), i+3
		default:
			i++
		}
		if c != v[j] {
			return false
		}
	}
	return j == len(v)
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
