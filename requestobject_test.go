package pkce

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// jwsOf returns an unsigned-looking JWS (the middleware never checks the
// signature) with header and payload as written.
func jwsOf(header, payload string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
}

func TestReadRequestObject(t *testing.T) {
	const es = `{"alg":"ES256"}`
	ch := S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	tests := []struct {
		name   string
		jwt    string
		reason string // "" when read
		want   requestObject
	}{
		{"members read", jwsOf(es, `{"client_id":"app","response_type":"code","redirect_uri":"https://c/cb","code_challenge":"`+ch+`","code_challenge_method":"S256","state":"s"}`), "",
			requestObject{clientID: "app", responseType: "code", redirectURI: "https://c/cb", challenge: ch, method: "S256"}},
		{"escaped names count", jwsOf(es, `{"code\u005fchallenge":"`+ch+`"}`), "", requestObject{challenge: ch}},
		{"unsigned (alg none)", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"code_challenge":"`+ch+`"}`)) + ".", "", requestObject{challenge: ch}},
		{"padding tolerated", base64.URLEncoding.EncodeToString([]byte(es)) + "." + base64.URLEncoding.EncodeToString([]byte(`{"code_challenge":"`+ch+`"}`)) + ".c2ln", "", requestObject{challenge: ch}},
		{"nested strings collected, not read", jwsOf(es, `{"claims":{"id_token":{"code_challenge":"x"}},"code_challenge":"`+ch+`"}`), "", requestObject{challenge: ch}},
		{"duplicate member", jwsOf(es, `{"code_challenge":"a","code_challenge":"b"}`), ReasonDuplicateParameter, requestObject{}},
		{"duplicate via escape", jwsOf(es, `{"client_id":"a","client\u005fid":"b"}`), ReasonDuplicateParameter, requestObject{}},
		{"duplicate nested", jwsOf(es, `{"claims":{"a":1,"a":2}}`), ReasonDuplicateParameter, requestObject{}},
		{"duplicate unread member", jwsOf(es, `{"state":"a","state":"b"}`), ReasonDuplicateParameter, requestObject{}},
		{"case variant", jwsOf(es, `{"CODE_CHALLENGE":"a"}`), ReasonParameterCase, requestObject{}},
		{"not a string", jwsOf(es, `{"code_challenge":123}`), ReasonRequestUnreadable, requestObject{}},
		{"null", jwsOf(es, `{"code_challenge":null}`), ReasonRequestUnreadable, requestObject{}},
		{"array", jwsOf(es, `{"code_challenge":["a"]}`), ReasonRequestUnreadable, requestObject{}},
		{"object", jwsOf(es, `{"client_id":{"x":"app"}}`), ReasonRequestUnreadable, requestObject{}},
		{"nested request_uri", jwsOf(es, `{"request_uri":"urn:x"}`), ReasonRequestUnreadable, requestObject{}},
		{"JWE five parts", "a.b.c.d.e", ReasonRequestUnreadable, requestObject{}},
		{"JWE header enc", jwsOf(`{"alg":"RSA-OAEP","enc":"A256GCM"}`, `{}`), ReasonRequestUnreadable, requestObject{}},
		{"two parts", "a.b", ReasonRequestUnreadable, requestObject{}},
		{"not base64", "!!.!!.!!", ReasonRequestUnreadable, requestObject{}},
		{"payload not JSON", jwsOf(es, `code_challenge=x`), ReasonRequestUnreadable, requestObject{}},
		{"payload an array", jwsOf(es, `["a"]`), ReasonRequestUnreadable, requestObject{}},
		{"trailing data", jwsOf(es, `{"a":"b"}{"code_challenge":"x"}`), ReasonRequestUnreadable, requestObject{}},
		{"header not an object", jwsOf(`"x"`, `{}`), ReasonRequestUnreadable, requestObject{}},
		{"too deep", jwsOf(es, `{"a":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`), ReasonRequestUnreadable, requestObject{}},
		{"truncated", jwsOf(es, `{"code_challenge":"x"`), ReasonRequestUnreadable, requestObject{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro, e := readRequestObject(tt.jwt)
			switch {
			case tt.reason == "" && e != nil:
				t.Fatalf("refused (%s): %s", e.reason, e.desc)
			case tt.reason != "" && e == nil:
				t.Fatalf("read %+v, want a refusal %s", ro, tt.reason)
			case tt.reason != "":
				if e.reason != tt.reason {
					t.Fatalf("reason %s (%s), want %s", e.reason, e.desc, tt.reason)
				}
				want := errInvalidRequest
				if e.reason == ReasonRequestUnreadable {
					want = errInvalidRequestObject // RFC 9101 §7
				}
				if e.status != 400 || e.code != want || e.desc == "" {
					t.Fatalf("refusal %+v, want 400 %s with a description", e, want)
				}
				return
			}
			got := *ro
			if got.clientID != tt.want.clientID || got.responseType != tt.want.responseType || got.redirectURI != tt.want.redirectURI ||
				got.challenge != tt.want.challenge || got.method != tt.want.method {
				t.Fatalf("read %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRequestObjectStrings(t *testing.T) {
	ro, e := readRequestObject(jwsOf(`{"alg":"ES256"}`, `{"state":"V1","claims":{"userinfo":{"x":{"values":["V2",3,true]}}},"n":1}`))
	if e != nil {
		t.Fatal(e.desc)
	}
	c := carried{values: nil}
	c.values = map[string][]string{"\x00": ro.strings}
	for _, v := range []string{"V1", "V2"} {
		if !c.has(v) {
			t.Errorf("%s is a string of the request object, so it is carried", v)
		}
	}
}

func TestReadPushedAnswer(t *testing.T) {
	tests := []struct {
		body     string
		uri      string
		lifetime time.Duration
		ok       bool
	}{
		{`{"request_uri":"urn:x","expires_in":60}`, "urn:x", time.Minute, true},
		{`{"expires_in":90,"request_uri":"urn:x","other":{"a":[1]}}`, "urn:x", 90 * time.Second, true},
		{`{"request_uri":"urn:x"}`, "urn:x", 0, true},
		{` {"request_uri":"urn:x"} `, "urn:x", 0, true},
		{`{"request_uri":"urn:x","expires_in":0.2}`, "urn:x", time.Second, true},
		{`{"request_uri":""}`, "", 0, false},
		{`{"request_uri":1}`, "", 0, false},
		{`{"request_uri":"a","request_uri":"b"}`, "", 0, false},
		{`{"request_uri":"a","expires_in":1,"expires_in":2}`, "", 0, false},
		{`{"request_uri":"a","expires_in":-1}`, "", 0, false},
		{`{"request_uri":"a","expires_in":"60"}`, "", 0, false},
		{`{"request_uri":"a","expires_in":1e400}`, "", 0, false},
		{`{"request_uri":"a","expires_in":40000000}`, "", 0, false},
		{`{"expires_in":60}`, "", 0, false},
		{`[]`, "", 0, false},
		{`{"request_uri":"a"}x`, "", 0, false},
		{``, "", 0, false},
	}
	for _, tt := range tests {
		uri, lifetime, err := readPushedAnswer([]byte(tt.body))
		if (err == nil) != tt.ok || uri != tt.uri || lifetime != tt.lifetime {
			t.Errorf("readPushedAnswer(%s) = (%q, %v, %v), want (%q, %v, ok %v)", tt.body, uri, lifetime, err, tt.uri, tt.lifetime, tt.ok)
		}
	}
}

func TestPushedKeyIsNoCodeKey(t *testing.T) {
	for _, uri := range []string{"urn:ietf:params:oauth:request_uri:abc", "", "x"} {
		k := pushedKey(uri)
		if len(k) == 43 || !strings.HasPrefix(k, "par:") || strings.Contains(k, uri+"x") {
			t.Errorf("pushedKey(%q) = %q", uri, k)
		}
		if k == storeKey(uri) {
			t.Errorf("pushedKey(%q) equals the code key of the same string", uri)
		}
	}
}
