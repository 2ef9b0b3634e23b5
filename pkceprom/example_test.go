package pkceprom_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkceprom"
)

// A server in report-only mode, its decisions counted for Prometheus and
// in an adoption report: a legacy client without PKCE passes, and the
// scrape shows what enforcing would have refused, and why.
func Example() {
	metrics, err := pkceprom.New(pkceprom.Options{ClientIDs: []string{"legacy-ios"}})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry() // or prometheus.MustRegister(metrics)
	reg.MustRegister(metrics)
	adoption := pkce.NewAdoption()
	m, err := pkce.New(pkce.Config{
		ReportOnly: true,
		OnEvent:    func(e pkce.Event) { adoption.Observe(e); metrics.Observe(e) },
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+pkce.GenerateVerifier(), http.StatusFound)
	})))
	mux.Handle("/token", m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	})))
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// legacy-ios sends no PKCE, web-app does.
	fmt.Println("legacy-ios:", flow(srv.URL, "legacy-ios", false))
	fmt.Println("web-app:", flow(srv.URL, "web-app", true))

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "pkce_") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// legacy-ios: 302 200
	// web-app: 302 200
	// pkce_client_decisions_total{client_id="legacy-ios",endpoint="authorize",outcome="reported",pkce="false",reason="challenge_missing"} 1
	// pkce_client_decisions_total{client_id="legacy-ios",endpoint="token",outcome="reported",pkce="false",reason="challenge_missing"} 1
	// pkce_decisions_total{endpoint="authorize",method="S256",outcome="accepted",pkce="true",reason="none"} 1
	// pkce_decisions_total{endpoint="authorize",method="none",outcome="reported",pkce="false",reason="challenge_missing"} 1
	// pkce_decisions_total{endpoint="token",method="S256",outcome="accepted",pkce="true",reason="none"} 1
	// pkce_decisions_total{endpoint="token",method="none",outcome="reported",pkce="false",reason="challenge_missing"} 1
}

// flow runs an authorization code flow of client, with an S256 challenge
// when withPKCE, and returns the two statuses.
func flow(server, client string, withPKCE bool) string {
	verifier := pkce.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {"https://app.example/cb"}}
	if withPKCE {
		q.Set("code_challenge", pkce.S256Challenge(verifier))
		q.Set("code_challenge_method", "S256")
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(server + "/authorize?" + q.Encode())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"https://app.example/cb"}, "client_id": {client}}
	if withPKCE {
		form.Set("code_verifier", verifier)
	}
	tok, err := http.PostForm(server+"/token", form)
	if err != nil {
		log.Fatal(err)
	}
	tok.Body.Close()
	return fmt.Sprintf("%d %d", resp.StatusCode, tok.StatusCode)
}
