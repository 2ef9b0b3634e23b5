package pkce

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

// The in-place read of an authorization query (scanAuthorizeQuery) must
// only ever skip work for requests the full way passes: whenever it
// answers ok, readParams and checkAuthorize read the same request without a
// refusal, as a plain code request, with the same values, and what the
// request carried is the same either way.

var scanSeeds = []string{
	"response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
	"response_type=code+id_token&client_id=a%20b&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&nonce=n",
	"response_type=code&response_type=code&code_challenge=x",
	"response_type=code&Client_ID=a&code_challenge=x",
	"response_type=code&client_id=a;b",
	"response_type=code&client_id=%zz",
	"response_type=code&client%5Fid=a&client_id=b",
	"response_type=code&request_uri=urn:x&code_challenge=x",
	"response_type=code&request=&code_challenge=x",
	"response_type=Code&code_challenge=x",
	"=x&response_type=code",
	"response_type=code&&state=&state=",
	"response_type=code&redirect_uri=http%3A%2F%2Fc%2Fcb%3Fcode%3Dstolen&code=stolen",
	"response_type=code&resource=a&resource=b&code_challenge_method=S256",
	"response_type=code&ſtate=x",
}

func TestScanAuthorizeQuery(t *testing.T) {
	for _, raw := range scanSeeds {
		t.Run(raw, func(t *testing.T) { checkScan(t, raw) })
	}
	for _, tc := range []struct {
		raw string
		ok  bool
	}{
		{scanSeeds[0], true},
		{scanSeeds[1], true},
		{scanSeeds[2], false},  // duplicate
		{scanSeeds[3], false},  // case variant
		{scanSeeds[4], false},  // semicolon
		{scanSeeds[5], false},  // bad escape
		{scanSeeds[6], false},  // escaped key
		{scanSeeds[7], false},  // request_uri
		{scanSeeds[9], false},  // response_type in another case
		{scanSeeds[11], false}, // a repeat with empty values is a repeat
	} {
		if _, ok := scanAuthorizeQuery(tc.raw); ok != tc.ok {
			t.Errorf("scanAuthorizeQuery(%q) ok = %v, want %v", tc.raw, ok, tc.ok)
		}
	}
	for _, name := range []string{paramResponseType, paramClientID, paramRedirectURI, paramState, paramResponseMode,
		paramNonce, paramCodeChallenge, paramCodeChallengeMethod, paramRequest, paramRequestURI, paramResource, "scope", ""} {
		if (authorizeSingleBit(name) != 0) != authorizeSingle(name) {
			t.Errorf("authorizeSingleBit(%q) and authorizeSingle disagree", name)
		}
	}
}

func FuzzScanAuthorizeQuery(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add(s)
	}
	f.Fuzz(checkScan)
}

// checkScan compares the in-place read of raw with the full one.
func checkScan(t *testing.T, raw string) {
	q, ok := scanAuthorizeQuery(raw)
	if !ok {
		return
	}
	m, err := New(Config{AllowPlain: true})
	if err != nil {
		t.Fatal(err)
	}
	r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/authorize", RawQuery: raw}, Header: http.Header{}}
	var p params
	if e := readParams(&p, r, m.maxBodyBytes, false); e != nil {
		t.Fatalf("scanned %q, but readParams refuses it: %s", raw, e.desc)
	}
	if got, want := q, (authorizeQuery{p.get(paramClientID), p.get(paramRedirectURI), p.get(paramCodeChallenge), p.get(paramCodeChallengeMethod)}); got != want {
		t.Fatalf("scanned %q as %+v, the full read gives %+v", raw, got, want)
	}
	c, bind, business, ind, e := m.checkAuthorize(r, &p)
	if !business || ind != nil {
		t.Fatalf("scanned %q, but checkAuthorize: business %v, indirect %v", raw, business, ind != nil)
	}
	// Authorize takes the in-place way only when the challenge passes:
	// the full way must then pass with the same challenge, and refuse
	// exactly when the challenge check refuses.
	c2, bind2, e2 := m.checkChallenge(r, q.clientID, q.challenge, q.method)
	switch {
	case (e == nil) != (e2 == nil) || (e != nil && *e != *e2):
		t.Fatalf("scanned %q: challenge refusal %v, the full way %v", raw, e2, e)
	case e == nil && (bind2 != bind || c2 != c):
		t.Fatalf("scanned %q: challenge %+v %v, the full way %+v %v", raw, c2, bind2, c, bind)
	}
	in, full := carried{raw: raw}, ind.carriedBy(&p)
	for _, vs := range p.values {
		for _, v := range vs {
			for _, x := range []string{v, v + "x", "stolen"} {
				if in.has(x) != full.has(x) {
					t.Fatalf("scanned %q: carried.has(%q) is %v in place, %v the full way", raw, x, in.has(x), full.has(x))
				}
			}
		}
	}
}

// parseForm must read every query exactly as url.ParseQuery does.
func FuzzParseForm(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add(s)
	}
	f.Add("a=1&a=2&b=%41+c&=x&c")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseForm(s)
		want, werr := url.ParseQuery(s)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("parseForm(%q): error %v, url.ParseQuery: %v", s, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseForm(%q) = %v, url.ParseQuery: %v", s, got, want)
		}
	})
}

func FuzzDecodesTo(f *testing.F) {
	f.Add("http%3A%2F%2Fc%2Fcb", "http://c/cb")
	f.Add("a+b%zz", "a+b%zz")
	f.Fuzz(func(t *testing.T, raw, v string) {
		if got, want := decodesTo(raw, v), queryDecode(raw) == v; got != want {
			t.Fatalf("decodesTo(%q, %q) = %v, want %v", raw, v, got, want)
		}
		if d := queryDecode(raw); !decodesTo(raw, d) {
			t.Fatalf("decodesTo(%q, %q) = false", raw, d)
		}
	})
}
