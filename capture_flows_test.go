package pkce_test

import (
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Honest flows that the rule "only a code the wrapped handler issued is
// bound" must leave working, each through a real server in the attack rig
// (so a thief still gets nothing and no code leaves unbound).
func TestCaptureHonestFlows(t *testing.T) {
	cases := []attackCase{
		{
			name:    "login redirect with the request's query, then back to /authorize with a session",
			handler: trick(loginFirst),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				first := rig.authorize(t, nil)
				require.Equal(t, http.StatusFound, first.resp.StatusCode)
				loc := first.resp.Header.Get("Location")
				require.True(t, strings.HasPrefix(loc, "/login?"), loc)
				assert.Zero(t, rig.entries())
				// After login, the browser comes back with the same parameters.
				back, err := url.ParseQuery(strings.TrimPrefix(loc, "/login?"))
				require.NoError(t, err)
				back.Set("session", "ok")
				resp, err := noRedirect.Get(rig.srv.URL + "/authorize?" + back.Encode())
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusFound, resp.StatusCode)
				u, err := url.Parse(resp.Header.Get("Location"))
				require.NoError(t, err)
				got := rig.exchange(t, u.Query().Get("code"), first.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "consent page, then the consent form posted back to /authorize",
			handler: trick(consentFirst("/authorize")),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				page := rig.authorize(t, nil)
				require.Equal(t, http.StatusOK, page.resp.StatusCode)
				assert.Zero(t, rig.entries(), "a consent page binds nothing")
				// The browser posts the hidden inputs and the button.
				form := url.Values{}
				for _, m := range hiddenInputs(page.body) {
					form.Add(m[0], m[1])
				}
				form.Set("consent", "yes")
				resp, err := noRedirect.PostForm(rig.srv.URL+"/authorize", form)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusFound, resp.StatusCode)
				u, err := url.Parse(resp.Header.Get("Location"))
				require.NoError(t, err)
				got := rig.exchange(t, u.Query().Get("code"), page.verifier)
				assert.Equal(t, http.StatusOK, got.Status, got.Description)
			},
		},
		{
			name:    "redirect URI with its own query (?tenant=a), kept by the server",
			handler: trick(issueKeepingQuery),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?tenant=a"}})
				assert.True(t, strings.HasPrefix(a.resp.Header.Get("Location"), testRedirect+"?tenant=a&code="))
				rig.redeemOnce(t, a)
			},
		},
		{
			name:    "redirect URI with its own query, re-encoded and reordered by the server",
			handler: trick(issueReencoding),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?z=a%20b&tenant=%41"}})
				assert.Contains(t, a.resp.Header.Get("Location"), "tenant=A")
				rig.redeemOnce(t, a)
			},
		},
		{
			name:    "no redirect_uri in the request: the server uses the registered one",
			handler: trick(issueKeepingQuery),
			tokens:  1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, url.Values{"redirect_uri": {""}}))
			},
		},
		{
			name: "no redirect_uri in the request, form_post to the registered one",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, formPost("https://registered.example/cb", "code", rig.mint()))
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, url.Values{"redirect_uri": {""}}))
			},
		},
		{
			name: "form_post page written by html/template, whose URL escaping differs from the request's",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				err := formPostTemplate.Execute(w, struct{ Action, Code, State string }{r.FormValue("redirect_uri"), rig.mint(), r.FormValue("state")})
				if err != nil {
					panic(err)
				}
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				redirect := testRedirect + "?a=x y&b=é&c=1%2B1"
				a := rig.authorize(t, url.Values{"redirect_uri": {redirect}})
				require.Equal(t, http.StatusOK, a.resp.StatusCode)
				assert.NotContains(t, a.body, `action="`+redirect, "the template re-encoded the action")
				rig.redeemOnce(t, a)
			},
		},
		{
			name:   "form_post page of the homegrown server",
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, url.Values{"response_mode": {"form_post"}}))
			},
		},
		{
			name:   "hybrid: code id_token in the fragment",
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, url.Values{"response_type": {"code id_token"}, "nonce": {"n"}}))
			},
		},
		{
			name: "hybrid with a redirect URI query kept: the code in the fragment is bound",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.FormValue("redirect_uri")+"#code="+rig.mint()+"&id_token=h.p.s", http.StatusFound)
			}),
			tokens: 1,
			attack: func(t *testing.T, rig *attackRig) {
				rig.redeemOnce(t, rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?tenant=a"}}))
			},
		},
		{
			name: "an error redirect carries no code and binds nothing",
			handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
				redirectWith(w, r, "error=access_denied&state=xyz")
			}),
			attack: func(t *testing.T, rig *attackRig) {
				a := rig.authorize(t, nil)
				assert.Equal(t, http.StatusFound, a.resp.StatusCode)
				assert.Zero(t, rig.entries())
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

var formPostTemplate = template.Must(template.New("").Parse(`<!DOCTYPE html><html><body onload="document.forms[0].submit()">` +
	`<form method="post" action="{{.Action}}"><input type="hidden" name="code" value="{{.Code}}"><input type="hidden" name="state" value="{{.State}}"></form></body></html>`))

// hiddenInputs returns the name and value of each hidden input of a page
// written by consentFirst.
func hiddenInputs(page string) [][2]string {
	var out [][2]string
	for _, tag := range strings.Split(page, `<input type="hidden" name="`)[1:] {
		name, rest, _ := strings.Cut(tag, `" value="`)
		value, _, _ := strings.Cut(rest, `"`)
		out = append(out, [2]string{unescapeHTML(name), unescapeHTML(value)})
	}
	return out
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// A redirect URI with its own query survives a Record pattern too: the
// code minted elsewhere is bound by Record, and the capture of a later
// redirect carrying it (the same challenge) is a harmless retry.
func TestCaptureRecordThenRedirectWithQuery(t *testing.T) {
	rig := newAttackRig(t, attackCase{
		handler: trick(func(rig *attackRig, w http.ResponseWriter, r *http.Request) {
			code := rig.mint()
			c, ok := pkce.FromContext(r.Context())
			require.True(t, ok)
			require.NoError(t, rig.m.Record(r.Context(), code, c))
			redirectWith(w, r, "code="+code)
		}),
	})
	a := rig.authorize(t, url.Values{"redirect_uri": {testRedirect + "?tenant=a"}})
	rig.redeemOnce(t, a)
	rig.assertNothingPassed(t, attackCase{tokens: 1})
}
