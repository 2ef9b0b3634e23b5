package pkce_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// White-box rows for issue 8 items 1, 3 and 5 (capture): a stolen,
// unredeemed code V echoed back through the attacker's own authorization
// request is never bound to the attacker's challenge; one response writes
// at most one store entry; JARM and xhtml form_post responses are read.
// They run in the rig of attack_test.go (real servers, wire spy, thief,
// log checks); to be merged into TestAttacks.

func TestCaptureAttacks(t *testing.T) {
	cases := []attackCase{
		{
			name:    "echo (a): V in the redirect URI's own query is not rebound; the server's new code is bound",
			handler: trick(issueKeepingQuery),
			tokens:  2,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, nil)
				v := rig.codeOf(t, victim)
				attacker := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?code=" + v}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				codes := responseCodes(t, attacker)
				require.Len(t, codes, 2, "the redirect keeps the redirect URI's code=V and adds the new one")
				assert.Equal(t, v, codes[0])
				rig.assertVictimKeeps(t, victim, v)
				// The attacker's own flow works: its new code is bound to its challenge.
				got := rig.exchange(t, codes[1], attacker.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "echo (a), server re-encoding and reordering the redirect URI's query: not rebound",
			handler: trick(issueReencoding),
			tokens:  2,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, nil)
				v := rig.codeOf(t, victim)
				// %-encoded in the request; url.Values writes it back plain.
				attacker := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?z=1&c%6fde=" + url.QueryEscape(v)}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.resp.Header.Get("Location"), "code="+v)
				rig.assertVictimKeeps(t, victim, v)
				var issued string
				for _, c := range responseCodes(t, attacker) {
					if c != v {
						issued = c
					}
				}
				got := rig.exchange(t, issued, attacker.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "echo (b): an extra code=V redirected to /login with the request's query is not rebound",
			handler: trick(loginFirst),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"session": {"ok"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.True(t, strings.HasPrefix(attacker.resp.Header.Get("Location"), "/login?"))
				assert.Contains(t, attacker.resp.Header.Get("Location"), "code="+v)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				assert.Contains(t, rig.logText(), "the request itself carried", "the echo is logged")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name: "echo (b) through a POST body: not rebound",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				if r.Form.Get("session") != "ok" {
					http.Redirect(w, r, "/login?"+r.Form.Encode(), http.StatusFound) // body and query
					return
				}
				issueKeepingQuery(rig, w, r)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"session": {"ok"}})
				v := rig.codeOf(t, victim)
				verifier := pkce.GenerateVerifier()
				rig.addSecrets(verifier, pkce.S256Challenge(verifier))
				target := rig.authorizeURL(verifier, nil)
				resp, err := noRedirect.PostForm(target, url.Values{"code": {v}})
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusFound, resp.StatusCode)
				assert.Contains(t, resp.Header.Get("Location"), "code="+v)
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo (b) of a code the store does not know: never bound (a request value is no issued code)",
			handler: trick(loginFirst),
			attack: func(t *testing.T, rig *attackRig) {
				unknown := randomCode()
				attacker := rig.authorize(t, url.Values{"code": {unknown}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.resp.Header.Get("Location"), "code="+unknown)
				assert.False(t, rig.store.bound(unknown))
				assert.Zero(t, rig.entries())
			},
		},
		{
			name:    "echo (c): a consent page carrying the request's parameters as hidden inputs binds nothing",
			handler: trick(consentFirst("/consent")),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"consent": {"yes"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}})
				require.Equal(t, http.StatusOK, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.body, `name="code" value="`+v+`"`)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo (c) without redirect_uri, where any POST form counts: the echoed value is still not bound",
			handler: trick(consentFirst("/consent")),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"consent": {"yes"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}, "redirect_uri": {""}}) // empty: absent
				require.Equal(t, http.StatusOK, attacker.resp.StatusCode, attacker.body)
				assert.Contains(t, attacker.body, `name="code" value="`+v+`"`)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo (c) in a form posting to the redirect_uri itself: the echoed value is not bound",
			handler: trick(consentFirst(testRedirect)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"consent": {"yes"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"code": {v}})
				require.Equal(t, http.StatusOK, attacker.resp.StatusCode, attacker.body)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "echo of a JARM response carrying V: not read, not bound",
			handler: trick(loginFirst),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				victim := rig.authorize(t, url.Values{"session": {"ok"}})
				v := rig.codeOf(t, victim)
				before := rig.entries()
				attacker := rig.authorize(t, url.Values{"response": {jws(map[string]string{"code": v})}})
				require.Equal(t, http.StatusFound, attacker.resp.StatusCode, attacker.body)
				assert.Equal(t, before, rig.entries(), "nothing was bound")
				rig.assertVictimKeeps(t, victim, v)
			},
		},
		{
			name:    "DoS: thousands of codes in the redirect URI's query write one store entry",
			handler: trick(issueKeepingQuery),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				var q strings.Builder
				for i := range 2000 {
					fmt.Fprintf(&q, "&code=junk%d", i)
				}
				a := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?" + q.String()[1:]}})
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				assert.Equal(t, 1, rig.entries(), "one response, one entry")
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "DoS: thousands of code parameters echoed to /login write no store entry",
			handler: trick(loginFirst),
			attack: func(t *testing.T, rig *attackRig) {
				extra := url.Values{}
				for i := range 2000 {
					extra.Add("code", fmt.Sprintf("junk%d", i))
				}
				a := rig.authorize(t, extra)
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name:    "DoS: thousands of hidden code inputs on a consent page write no store entry",
			handler: trick(consentFirst("")),
			attack: func(t *testing.T, rig *attackRig) {
				extra := url.Values{"redirect_uri": {""}}
				for i := range 2000 {
					extra.Add("code", fmt.Sprintf("junk%d", i))
				}
				a := rig.authorize(t, extra)
				require.Equal(t, http.StatusOK, a.resp.StatusCode, a.body)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name: "several distinct codes in one redirect: 500, no code leaves, no entry written",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, testRedirect+"?code="+rig.mint()+"&code="+rig.mint(), http.StatusFound)
			}),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "several codes")
				rig.assertNoCode(t, a)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name: "several distinct codes in a form_post page: 500, no code leaves",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, formPost(testRedirect, "code", rig.mint())+formPost(testRedirect, "code", rig.mint()))
			}),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				rig.assertNoCode(t, a)
				assert.Zero(t, rig.entries())
			},
		},
		{
			name: "the same code twice in one redirect (query and fragment) is one code",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				code := rig.mint()
				http.Redirect(w, r, testRedirect+"?code="+code+"#code="+code, http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
				assert.Equal(t, 1, rig.entries())
			},
		},
		{
			name:    "rebind of a used code (a server reissuing it): 500, logged at Error, the code never leaves again",
			handler: reissue(),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "already redeemed")
				rig.assertNoCode(t, a)
				rig.assertRebindLogged(t)
			},
		},
		{
			name:    "rebind of a live code to another challenge: 500, logged at Error; the first binding stands",
			handler: reissue(),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				first := rig.authorize(t, nil)
				a := rig.authorize(t, nil)
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "already bound")
				rig.assertNoCode(t, a)
				rig.assertRebindLogged(t)
				rig.redeemOnce(t, first) // bound to the first challenge still
			},
		},
		{
			name: "Record, then the capture of the same code: bound once, redeemed",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				code := rig.mint()
				c, _ := pkce.FromContext(r.Context())
				if err := rig.m.Record(r.Context(), code, c); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				http.Redirect(w, r, testRedirect+"?code="+code, http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
			},
		},
		{
			name:    "JARM query.jwt: the signed response's code is bound",
			handler: trick(jarm("query", nil)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"query.jwt"}})
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				rig.redeemJARM(t, a)
			},
		},
		{
			name:    "JARM fragment.jwt: the signed response's code is bound",
			handler: trick(jarm("fragment", nil)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"fragment.jwt"}})
				require.Equal(t, http.StatusFound, a.resp.StatusCode, a.body)
				rig.redeemJARM(t, a)
			},
		},
		{
			name:    "JARM form_post.jwt: the signed response's code is bound",
			handler: trick(jarm("form_post", nil)),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"form_post.jwt"}})
				require.Equal(t, http.StatusOK, a.resp.StatusCode, a.body)
				rig.redeemJARM(t, a)
			},
		},
		{
			name: "JARM encrypted (JWE): 500 with a description, no code leaves",
			handler: trick(jarm("query", func(string) string {
				return "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.a2V5.aXY.Y2lwaGVy.dGFn"
			})),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"jwt"}})
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "encrypted JARM response")
				assert.Empty(t, a.resp.Header.Get("Location"))
				assert.Zero(t, rig.entries())
			},
		},
		{
			name:    "JARM encrypted in a form_post.jwt page: 500",
			handler: trick(jarm("form_post", func(string) string { return "h.k.iv.ct.tag" })),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"response_mode": {"form_post.jwt"}})
				rig.assertRefused(t, a, http.StatusInternalServerError, "server_error")
				assert.Contains(t, a.body, "encrypted JARM response")
			},
		},
		{
			name: "form_post page served as application/xhtml+xml: bound",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xhtml+xml; charset=utf-8")
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body onload="document.forms[0].submit()">`+
					formPost(testRedirect, "code", rig.mint())+`</body></html>`)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, nil))
			},
		},
		{
			name: "a code minted before a consent page, in a form posting elsewhere: not bound (Record's job), its token request fails closed",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, formPost("/consent", "code", rig.mint()))
			}),
			unbound: true,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				require.Equal(t, http.StatusOK, a.resp.StatusCode)
				assert.Zero(t, rig.entries())
				assert.Contains(t, rig.logText(), "binds it with Record", "the unbound code is logged with the remedy")
				got := rig.exchange(t, rig.codeOf(t, a), a.verifier)
				rig.assertTokenRefused(t, got, http.StatusBadRequest, "invalid_grant")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rig := newAttackRig(t, tc)
			tc.attack(t, rig)
			rig.assertNothingPassed(t, tc)
		})
	}
}

// entries returns how many store entries the row wrote.
func (rig *attackRig) entries() int {
	rig.store.mu.Lock()
	defer rig.store.mu.Unlock()
	return len(rig.store.saved)
}

// assertVictimKeeps checks that the victim's code v is still bound to the
// victim's challenge: the victim redeems it with its verifier.
func (rig *attackRig) assertVictimKeeps(t *testing.T, victim authorizeResult, v string) {
	t.Helper()
	got := rig.exchange(t, v, victim.verifier)
	assert.Equal(t, http.StatusOK, got.Status, "the victim's code was rebound: %s", got.Description)
}

// assertRebindLogged checks the Error log of a rebind.
func (rig *attackRig) assertRebindLogged(t *testing.T) {
	t.Helper()
	for _, line := range strings.Split(rig.logText(), "\n") {
		if strings.Contains(line, "possible attack") {
			assert.Contains(t, line, `"level":"ERROR"`)
			return
		}
	}
	t.Errorf("no Error log names a possible attack: %s", rig.logText())
}

// redeemJARM redeems the code of a's JARM response with a's verifier.
func (rig *attackRig) redeemJARM(t *testing.T, a authorizeResult) {
	t.Helper()
	codes := responseCodes(t, a)
	require.Len(t, codes, 1)
	got := rig.exchange(t, codes[0], a.verifier)
	assert.Equal(t, http.StatusOK, got.Status, got.Description)
	assert.NotEmpty(t, got.AccessToken)
}

// responseCodes returns the codes of a redirect or form_post response, in
// order: code parameters of the Location's query then fragment, or code
// claims of its JARM response.
func responseCodes(t *testing.T, a authorizeResult) []string {
	t.Helper()
	var params []url.Values
	if loc := a.resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		require.NoError(t, err)
		q, err := url.ParseQuery(u.RawQuery)
		require.NoError(t, err)
		f, err := url.ParseQuery(u.EscapedFragment())
		require.NoError(t, err)
		params = append(params, q, f)
	}
	if i := strings.Index(a.body, `name="response" value="`); i >= 0 {
		v := a.body[i+len(`name="response" value="`):]
		params = append(params, url.Values{"response": {html.UnescapeString(v[:strings.IndexByte(v, '"')])}})
	}
	var codes []string
	for _, p := range params {
		codes = append(codes, p["code"]...)
		for _, jwt := range p["response"] {
			parts := strings.Split(jwt, ".")
			require.Len(t, parts, 3)
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err)
			var claims struct{ Code string }
			require.NoError(t, json.Unmarshal(payload, &claims))
			codes = append(codes, claims.Code)
		}
	}
	return codes
}

// redirectWith sends params to the request's redirect_uri in its query,
// kept as the client wrote it (RFC 6749 §3.1.2), as careful servers do.
func redirectWith(w http.ResponseWriter, r *http.Request, params string) {
	redirect := r.FormValue("redirect_uri")
	if redirect == "" {
		redirect = testRedirect // the registered one
	}
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, redirect+sep+params, http.StatusFound)
}

// issueKeepingQuery issues a code to the redirect URI, its own query kept.
func issueKeepingQuery(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	redirectWith(w, r, "code="+rig.mint()+"&state="+url.QueryEscape(r.FormValue("state")))
}

// issueReencoding issues a code as servers that rebuild the redirect URI
// with url.Values do: its query decoded, sorted and encoded anew.
func issueReencoding(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	u, err := url.Parse(r.FormValue("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Add("code", rig.mint())
	q.Set("state", r.FormValue("state"))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// loginFirst sends a request without a session to the login page with the
// request's query (README integration pattern 2), and issues a code to one
// with a session.
func loginFirst(rig *attackRig, w http.ResponseWriter, r *http.Request) {
	if r.FormValue("session") != "ok" {
		http.Redirect(w, r, "/login?"+r.URL.RawQuery, http.StatusFound)
		return
	}
	issueKeepingQuery(rig, w, r)
}

// consentFirst shows a consent page that carries the request's parameters
// as hidden inputs, posting to action, until the request says consent=yes.
func consentFirst(action string) func(*attackRig, http.ResponseWriter, *http.Request) {
	return func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("consent") == "yes" {
			issueKeepingQuery(rig, w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		fmt.Fprintf(&b, `<html><body><p>Allow app?</p><form method="post" action="%s">`, html.EscapeString(action))
		for k, vs := range r.Form {
			for _, v := range vs {
				fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
			}
		}
		b.WriteString(`<button name="consent" value="yes">Allow</button></form></body></html>`)
		io.WriteString(w, b.String())
	}
}

// reissue is a buggy server that issues the same code for every request.
func reissue() func(*attackRig) http.Handler {
	var once sync.Once
	var code string
	return trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
		once.Do(func() { code = rig.mint() })
		rig.homegrown.mu.Lock()
		rig.codes[code] = "app" // valid again for the careless server
		rig.homegrown.mu.Unlock()
		redirectWith(w, r, "code="+code)
	})
}

// jarm issues a code in a JARM response (a JWS; its signature is the
// server's business, not the middleware's) in the query, the fragment or a
// form_post page; wrap, when set, replaces the JWT (to encrypt it, say).
func jarm(mode string, wrap func(string) string) func(*attackRig, http.ResponseWriter, *http.Request) {
	return func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
		token := jws(map[string]string{"iss": "https://as.example", "aud": "app", "code": rig.mint(), "state": r.FormValue("state")})
		if wrap != nil {
			token = wrap(token)
		}
		switch mode {
		case "query":
			http.Redirect(w, r, testRedirect+"?response="+token, http.StatusFound)
		case "fragment":
			http.Redirect(w, r, testRedirect+"#response="+token, http.StatusFound)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, formPost(testRedirect, "response", token))
		}
	}
}

// jws returns a compact JWS of claims, with a signature the middleware
// does not check.
func jws(claims map[string]string) string {
	payload, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString([]byte("signature"))
}

// formPost is an auto-submitting form_post page posting name=value and a
// state to action.
func formPost(action, name, value string) string {
	return `<form method="post" action="` + html.EscapeString(action) + `"><input type="hidden" name="` + name + `" value="` +
		html.EscapeString(value) + `"><input type="hidden" name="state" value="xyz"></form>`
}
