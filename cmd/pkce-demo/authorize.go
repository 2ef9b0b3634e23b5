package main

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// authorize consents at once, without a login page, and sends the client
// back to its redirect URI with a code (RFC 6749 §4.1.2), and an ID token
// beside it for response_type "code id_token" (OpenID Connect Core §3.3).
func (s *server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, r, http.StatusMethodNotAllowed, "invalid_request", "the authorization endpoint accepts GET and POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", "the request parameters cannot be read: "+err.Error())
		return
	}
	// RFC 9126 §4: the parameters of a request_uri are the pushed ones.
	requestURI, err := s.resolvePushed(r)
	if err != nil {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	// RFC 6749 §4.1.2.1: with a missing or invalid client or redirect URI
	// the server informs the user and must not redirect.
	clientID := r.FormValue("client_id")
	if clientID == "" {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", "client_id is required: use demo-app or demo-service")
		return
	}
	if _, ok := clients[clientID]; !ok {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", "unknown client_id "+quoteParam(clientID)+": use demo-app or demo-service")
		return
	}
	redirectURI := r.FormValue("redirect_uri")
	if err := checkRedirectURI(redirectURI); err != nil {
		errorPage(w, r, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}

	// From here on errors go back to the client (RFC 6749 §4.1.2.1).
	resp := authzResponse{redirectURI: redirectURI, state: r.FormValue("state")}
	types := strings.Fields(r.FormValue("response_type"))
	slices.Sort(types)
	hybrid := slices.Equal(types, []string{"code", "id_token"})
	mode := r.FormValue("response_mode")
	switch mode {
	case "query", "fragment", "form_post":
		resp.mode = mode
	default:
		// OAuth 2.0 Multiple Response Types §5: a response that carries
		// a token or an ID token defaults to the fragment.
		resp.mode = "query"
		if slices.Contains(types, "token") || slices.Contains(types, "id_token") {
			resp.mode = "fragment"
		}
	}
	switch {
	case mode != "" && mode != resp.mode:
		resp.fail(w, r, "invalid_request", "response_mode "+quoteParam(mode)+" is not supported: use query, fragment or form_post")
		return
	case len(types) == 0:
		resp.fail(w, r, "invalid_request", "response_type is required: use code, or code id_token")
		return
	case !hybrid && !slices.Equal(types, []string{"code"}):
		resp.fail(w, r, "unsupported_response_type", "response_type "+quoteParam(r.FormValue("response_type"))+" is not supported: use code, or code id_token")
		return
	case hybrid && resp.mode == "query":
		// OAuth 2.0 Multiple Response Types §5: the query encoding must
		// not carry an ID token, so neither does the error about it.
		resp.mode = "fragment"
		resp.fail(w, r, "invalid_request", "response_mode query cannot carry an ID token: use fragment or form_post with code id_token")
		return
	}

	code := randomToken()
	now := s.now()
	g := &codeGrant{
		grant: grant{
			clientID: clientID,
			scope:    r.FormValue("scope"),
			nonce:    r.FormValue("nonce"),
			authTime: now,
			expires:  now.Add(codeLifetime),
		},
		redirectURI: redirectURI,
	}
	if !s.saveCode(code, g, now) {
		resp.fail(w, r, "temporarily_unavailable", "the demo server holds too many unused codes; try again in a minute")
		return
	}
	s.usePushed(requestURI) // single use at code issuance
	params := []param{{"code", code}}
	if hybrid {
		idToken, err := s.signer.sign(s.idClaims(g.grant, now, codeHash(code)))
		if err != nil {
			resp.fail(w, r, "server_error", "the ID token could not be signed")
			return
		}
		params = append(params, param{"id_token", idToken})
	}
	resp.send(w, r, params)
}

// callbackPath is the path of every redirect URI the demo's clients use.
const callbackPath = "/callback"

// checkRedirectURI accepts the demo clients' redirect URIs: http on a
// loopback host with any port and the path /callback (RFC 8252 §7.3: only
// the port may vary; RFC 9700 §4.1.3: host and path are compared exactly),
// with any query the client adds (RFC 6749 §3.1.2), which the response
// keeps.
func checkRedirectURI(raw string) error {
	const use = "use http://127.0.0.1:PORT/callback, http://[::1]:PORT/callback or http://localhost:PORT/callback"
	if raw == "" {
		return fmt.Errorf("redirect_uri is required: %s", use)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("redirect_uri is not a valid URL: %s", use)
	case u.Scheme != "http" || u.Opaque != "" || u.User != nil:
		return fmt.Errorf("redirect_uri %s is not a loopback URL: %s", quoteParam(raw), use)
	case strings.Contains(raw, "#"):
		return fmt.Errorf("redirect_uri must not have a fragment (RFC 6749 section 3.1.2)")
	}
	switch u.Hostname() {
	case "127.0.0.1", "::1", "localhost":
	default:
		return fmt.Errorf("redirect_uri %s is not a loopback URL: %s", quoteParam(raw), use)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("redirect_uri %s has an invalid port", quoteParam(raw))
		}
	}
	// The path as sent: /callback spelt another way (%63allback) is
	// another path to a strict comparison, so it is refused too.
	if u.EscapedPath() != callbackPath {
		return fmt.Errorf("redirect_uri %s is not registered: the path must be %s (only the port may vary, RFC 8252 section 7.3): %s", quoteParam(raw), callbackPath, use)
	}
	return nil
}

// authzResponse sends an authorization response back to the client's
// validated redirect URI.
type authzResponse struct {
	redirectURI string
	mode        string // query, fragment or form_post
	state       string
}

type param struct{ name, value string }

// fail sends an error response (RFC 6749 §4.1.2.1).
func (a authzResponse) fail(w http.ResponseWriter, r *http.Request, code, desc string) {
	a.send(w, r, []param{{"error", code}, {"error_description", desc}})
}

// send delivers params and state, when the request had one, in the
// response mode: a redirect with a query or a fragment, or an
// auto-submitting form (OAuth 2.0 Form Post Response Mode).
func (a authzResponse) send(w http.ResponseWriter, r *http.Request, params []param) {
	if a.state != "" {
		params = append(params, param{"state", a.state})
	}
	w.Header().Set("Cache-Control", "no-store")
	if a.mode == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = formPostPage.Execute(w, struct {
			Action string
			Params []param
		}{a.redirectURI, params})
		return
	}
	u, _ := url.Parse(a.redirectURI) // checked by checkRedirectURI
	q := make([]string, len(params))
	for i, p := range params {
		q[i] = url.QueryEscape(p.name) + "=" + url.QueryEscape(p.value)
	}
	encoded := strings.Join(q, "&")
	if a.mode == "fragment" {
		u.Fragment, u.RawFragment = "", ""
		w.Header().Set("Location", u.String()+"#"+encoded)
	} else {
		// RFC 6749 §3.1.2: keep the redirect URI's own query.
		if u.RawQuery != "" {
			encoded = u.RawQuery + "&" + encoded
		}
		u.RawQuery = encoded
		w.Header().Set("Location", u.String())
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		// RFC 9700 §4.11: 303 so the browser does not post the form again.
		status = http.StatusSeeOther
	}
	w.WriteHeader(status)
}

var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Signing you in</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{- range .Params}}
<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{- end}}
<noscript><p>JavaScript is off: press the button to go back to the application.</p><button type="submit">Continue</button></noscript>
</form>
</body>
</html>
`))

// Name and Value let the form template read a param.
func (p param) Name() string  { return p.name }
func (p param) Value() string { return p.value }

var errorPageHTML = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Authorization error</title></head>
<body>
<h1>{{.Error}}</h1>
<p>{{.Description}}</p>
</body>
</html>
`))

// errorPage answers an authorization request that cannot be redirected:
// an HTML page for a browser, JSON for anything else.
func errorPage(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = errorPageHTML.Execute(w, struct{ Error, Description string }{code, desc})
		return
	}
	writeJSON(w, status, errorBody{code, desc})
}
