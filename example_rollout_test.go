package pkce_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/go-pkce/pkce"
)

// Enforce client by client, from a list you reviewed: Require is false
// for the clients whose apps do not send PKCE yet, true for every other.
// This already protects every client that sends PKCE, listed or not: its
// challenge is bound, its verifier checked, and its code cannot be
// redeemed without one (a verifier for a code without a challenge is
// refused whatever Require says). Take clients off the list as their apps
// are updated; when it is empty, drop Require (PKCE for everyone).
func ExampleConfig_reviewedList() {
	// Reviewed by the team that owns the clients; kept in configuration.
	notReady := map[string]bool{"legacy-ios": true, "partner-portal": true}
	m, err := pkce.New(pkce.Config{
		Require: func(r *http.Request, clientID string) bool { return !notReady[clientID] },
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := rolloutServer(m)
	defer srv.Close()

	fmt.Println("legacy-ios, no PKCE:      ", rolloutFlow(srv.URL, "legacy-ios", false, ""))
	fmt.Println("legacy-ios, PKCE:         ", rolloutFlow(srv.URL, "legacy-ios", true, ""))
	fmt.Println("legacy-ios, wrong verifier:", rolloutFlow(srv.URL, "legacy-ios", true, pkce.GenerateVerifier()))
	fmt.Println("web-app, no PKCE:         ", rolloutFlow(srv.URL, "web-app", false, ""))
	fmt.Println("web-app, PKCE:            ", rolloutFlow(srv.URL, "web-app", true, ""))
	// Output:
	// legacy-ios, no PKCE:       authorize 302, token 200
	// legacy-ios, PKCE:          authorize 302, token 200
	// legacy-ios, wrong verifier: authorize 302, token 400 invalid_grant
	// web-app, no PKCE:          authorize 400 invalid_request
	// web-app, PKCE:             authorize 302, token 200
}

// Enforce from the server's own client registry: public clients first
// (they have no secret, so PKCE is what stops a stolen code, RFC 9700
// §2.1.1), confidential ones once their apps send it. A client the
// registry does not know gets PKCE required: the server refuses it anyway,
// and an unknown ID must not open a gap.
func ExampleConfig_registry() {
	type registered struct {
		public      bool
		pkceUpdated bool // the app sends PKCE: set by the team that updated it
	}
	registry := map[string]registered{
		"mobile-app":  {public: true},
		"billing":     {public: false},
		"reports-svc": {public: false, pkceUpdated: true},
	}
	require := func(r *http.Request, clientID string) bool {
		c, ok := registry[clientID]
		return !ok || c.public || c.pkceUpdated
	}
	m, err := pkce.New(pkce.Config{Require: require})
	if err != nil {
		log.Fatal(err)
	}
	srv := rolloutServer(m)
	defer srv.Close()

	for _, id := range []string{"mobile-app", "billing", "reports-svc", "unknown"} {
		fmt.Printf("%-11s without PKCE: %s\n", id, rolloutFlow(srv.URL, id, false, ""))
	}
	// Output:
	// mobile-app  without PKCE: authorize 400 invalid_request
	// billing     without PKCE: authorize 302, token 200
	// reports-svc without PKCE: authorize 400 invalid_request
	// unknown     without PKCE: authorize 400 invalid_request
}

// Observe first, in report-only mode, then enforce from a list an operator
// reviewed in the adoption report. The list is a decision written down,
// never computed from Ready: Ready is evidence, not proof. A user of the
// server can redeem a code with PKCE under any public client's ID, so a
// rarely used client can be made to look ready, and a report shows only
// the app versions that were seen. The operator reads the report, asks the
// owners, and edits the list.
func ExampleAdoption() {
	a := pkce.NewAdoption()
	m, err := pkce.New(pkce.Config{ReportOnly: true, OnEvent: a.Observe})
	if err != nil {
		log.Fatal(err)
	}
	srv := rolloutServer(m)
	defer srv.Close()

	// A week of traffic, in report-only mode: nothing is refused.
	fmt.Println("web-app, PKCE:     ", rolloutFlow(srv.URL, "web-app", true, ""))
	fmt.Println("legacy-ios, none:  ", rolloutFlow(srv.URL, "legacy-ios", false, ""))
	fmt.Println("legacy-ios, PKCE:  ", rolloutFlow(srv.URL, "legacy-ios", true, ""))

	// The report, as GET /debug/pkce serves it (here without last_seen).
	for _, c := range a.Report() {
		refusals, _ := json.Marshal(c.Refusals)
		fmt.Printf("%s: with_pkce %d, without_pkce %d, refusals %s, ready %t\n",
			c.ClientID, c.WithPKCE, c.WithoutPKCE, refusals, c.Ready)
	}
	// The two authorization requests before each client's first
	// redemption: client IDs are what requests say, so a client gets a row
	// only once the server recognised it.
	fmt.Println("dropped:", a.Dropped())

	// The operator's decision, after reading the report and asking the
	// owners: enforce, with PKCE optional for legacy-ios only until its
	// app update ships.
	notReady := map[string]bool{"legacy-ios": true}
	enforcing, err := pkce.New(pkce.Config{
		Require: func(r *http.Request, clientID string) bool { return !notReady[clientID] },
		OnEvent: a.Observe,
	})
	if err != nil {
		log.Fatal(err)
	}
	srv2 := rolloutServer(enforcing)
	defer srv2.Close()
	fmt.Println("enforcing, web-app, none:   ", rolloutFlow(srv2.URL, "web-app", false, ""))
	fmt.Println("enforcing, legacy-ios, none:", rolloutFlow(srv2.URL, "legacy-ios", false, ""))
	// Output:
	// web-app, PKCE:      authorize 302, token 200
	// legacy-ios, none:   authorize 302, token 200
	// legacy-ios, PKCE:   authorize 302, token 200
	// legacy-ios: with_pkce 1, without_pkce 1, refusals {"challenge_missing":1}, ready false
	// web-app: with_pkce 1, without_pkce 0, refusals {}, ready true
	// dropped: 2
	// enforcing, web-app, none:    authorize 400 invalid_request
	// enforcing, legacy-ios, none: authorize 302, token 200
}

// rolloutServer is a homegrown authorization server that knows nothing of
// PKCE, wrapped by m: every client is registered, every request consented.
func rolloutServer(m *pkce.Middleware) *httptest.Server {
	var mu sync.Mutex
	codes := map[string]string{} // code → client
	issued := 0
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		issued++
		code := fmt.Sprintf("code-%d", issued)
		codes[code] = r.FormValue("client_id")
		mu.Unlock()
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+code, http.StatusFound)
	})))
	mux.Handle("/token", m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		client, ok := codes[r.PostFormValue("code")]
		delete(codes, r.PostFormValue("code"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok || client != r.PostFormValue("client_id") {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	})))
	return httptest.NewServer(mux)
}

// rolloutFlow runs an authorization code flow of client against server,
// with an S256 challenge when withPKCE, and redeems the code with its
// verifier (or with wrongVerifier when not ""). It returns the statuses.
func rolloutFlow(server, client string, withPKCE bool, wrongVerifier string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {"https://app.example/cb"}}
	verifier := pkce.GenerateVerifier()
	if withPKCE {
		q.Set("code_challenge", pkce.S256Challenge(verifier))
		q.Set("code_challenge_method", "S256")
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(server + "/authorize?" + q.Encode())
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return fmt.Sprintf("authorize %d %s", resp.StatusCode, rolloutError(resp))
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"https://app.example/cb"}, "client_id": {client}}
	switch {
	case wrongVerifier != "":
		form.Set("code_verifier", wrongVerifier)
	case withPKCE:
		form.Set("code_verifier", verifier)
	}
	tok, err := http.PostForm(server+"/token", form)
	if err != nil {
		log.Fatal(err)
	}
	defer tok.Body.Close()
	out := fmt.Sprintf("authorize 302, token %d", tok.StatusCode)
	if tok.StatusCode != http.StatusOK {
		out += " " + rolloutError(tok)
	}
	return out
}

// rolloutError returns the OAuth error code of a refusal.
func rolloutError(resp *http.Response) string {
	var body struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return strings.TrimSpace(body.Error)
}
