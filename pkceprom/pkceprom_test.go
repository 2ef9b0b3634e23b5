package pkceprom_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkceprom"
)

// serve registers m in a new registry and serves it as a Prometheus server
// scrapes it: promhttp over HTTP.
func serve(t *testing.T, m *pkceprom.Metrics) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func newMetrics(t *testing.T, o pkceprom.Options) *pkceprom.Metrics {
	t.Helper()
	m, err := pkceprom.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const decisionsHelp = `# HELP pkce_decisions_total Decisions of the PKCE middleware, one per request it reported: accepted, refused, or reported (would be refused; report-only mode).
# TYPE pkce_decisions_total counter
`

const clientHelp = `# HELP pkce_client_decisions_total Decisions of the PKCE middleware for the clients the operator listed.
# TYPE pkce_client_decisions_total counter
`

// TestScrape: each kind of event lands in its series, with the labels of
// the fixed sets, as a Prometheus server scrapes them.
func TestScrape(t *testing.T) {
	m := newMetrics(t, pkceprom.Options{})
	url := serve(t, m)
	events := []pkce.Event{
		{Endpoint: "authorize", ClientID: "app", PKCE: true, Method: pkce.S256, Status: 302},
		{Endpoint: "token", ClientID: "app", PKCE: true, Method: pkce.S256, Status: 200},
		{Endpoint: "token", ClientID: "app", PKCE: true, Method: pkce.S256, Status: 200},
		{Endpoint: "authorize", ClientID: "legacy", Refusal: pkce.ReasonChallengeMissing, Status: 302},
		{Endpoint: "token", ClientID: "legacy", Refusal: pkce.ReasonChallengeMissing, Status: 200},
		{Endpoint: "token", ClientID: "app", PKCE: true, Method: pkce.Plain, Refusal: pkce.ReasonVerifierMismatch, Enforced: true, Status: 400},
		{Endpoint: "authorize", ClientID: "x", PKCE: true, Method: "s256", Refusal: pkce.ReasonMethodNotAllowed, Enforced: true, Status: 400},
		{Endpoint: "par", ClientID: "app", PKCE: true, Method: pkce.S256, Status: 201},
		{Endpoint: "userinfo", Refusal: "made_up", Enforced: true, Status: 400},
	}
	for _, e := range events {
		m.Observe(e)
	}
	want := decisionsHelp + `pkce_decisions_total{endpoint="authorize",method="S256",outcome="accepted",pkce="true",reason="none"} 1
pkce_decisions_total{endpoint="authorize",method="none",outcome="reported",pkce="false",reason="challenge_missing"} 1
pkce_decisions_total{endpoint="authorize",method="other",outcome="refused",pkce="true",reason="method_not_allowed"} 1
pkce_decisions_total{endpoint="other",method="none",outcome="refused",pkce="false",reason="other"} 1
pkce_decisions_total{endpoint="par",method="S256",outcome="accepted",pkce="true",reason="none"} 1
pkce_decisions_total{endpoint="token",method="S256",outcome="accepted",pkce="true",reason="none"} 2
pkce_decisions_total{endpoint="token",method="none",outcome="reported",pkce="false",reason="challenge_missing"} 1
pkce_decisions_total{endpoint="token",method="plain",outcome="refused",pkce="true",reason="verifier_mismatch"} 1
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want), "pkce_decisions_total"); err != nil {
		t.Error(err)
	}
	// No client ID anywhere: none was listed.
	body := scrape(t, url)
	for _, id := range []string{"app", "legacy", `"x"`} {
		if strings.Contains(body, id) {
			t.Errorf("the scrape names client %s, which no one listed:\n%s", id, body)
		}
	}
	if strings.Contains(body, "pkce_client_decisions_total") {
		t.Errorf("a per-client metric without a list:\n%s", body)
	}
}

// TestScrapeClients: only the listed client IDs become label values; the
// attacker's IDs, however many, add no series.
func TestScrapeClients(t *testing.T) {
	m := newMetrics(t, pkceprom.Options{ClientIDs: []string{"legacy-ios", "web", "", "web"}})
	url := serve(t, m)
	m.Observe(pkce.Event{Endpoint: "token", ClientID: "legacy-ios", Refusal: pkce.ReasonChallengeMissing, Status: 200})
	m.Observe(pkce.Event{Endpoint: "authorize", ClientID: "legacy-ios", Refusal: pkce.ReasonChallengeMissing, Status: 302})
	m.Observe(pkce.Event{Endpoint: "token", ClientID: "web", PKCE: true, Method: pkce.S256, Status: 200})
	m.Observe(pkce.Event{Endpoint: "token", ClientID: "", Refusal: pkce.ReasonBadRequest, Enforced: true, Status: 400})
	for i := range 1000 {
		m.Observe(pkce.Event{Endpoint: "authorize", ClientID: "attacker-" + strconv.Itoa(i), Refusal: pkce.ReasonChallengeMalformed, Enforced: true, Status: 400})
	}
	want := clientHelp + `pkce_client_decisions_total{client_id="",endpoint="token",outcome="refused",pkce="false",reason="bad_request"} 1
pkce_client_decisions_total{client_id="legacy-ios",endpoint="authorize",outcome="reported",pkce="false",reason="challenge_missing"} 1
pkce_client_decisions_total{client_id="legacy-ios",endpoint="token",outcome="reported",pkce="false",reason="challenge_missing"} 1
pkce_client_decisions_total{client_id="web",endpoint="token",outcome="accepted",pkce="true",reason="none"} 1
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want), "pkce_client_decisions_total"); err != nil {
		t.Error(err)
	}
	want = decisionsHelp + `pkce_decisions_total{endpoint="authorize",method="none",outcome="refused",pkce="false",reason="challenge_malformed"} 1000
pkce_decisions_total{endpoint="authorize",method="none",outcome="reported",pkce="false",reason="challenge_missing"} 1
pkce_decisions_total{endpoint="token",method="S256",outcome="accepted",pkce="true",reason="none"} 1
pkce_decisions_total{endpoint="token",method="none",outcome="refused",pkce="false",reason="bad_request"} 1
pkce_decisions_total{endpoint="token",method="none",outcome="reported",pkce="false",reason="challenge_missing"} 1
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want), "pkce_decisions_total"); err != nil {
		t.Error(err)
	}
	if body := scrape(t, url); strings.Contains(body, "attacker") {
		t.Errorf("an unlisted client ID became a label value:\n%s", body)
	}
}

// TestScrapeEmpty: before any event, the metrics are registered and the
// scrape holds no series of theirs.
func TestScrapeEmpty(t *testing.T) {
	url := serve(t, newMetrics(t, pkceprom.Options{ClientIDs: []string{"web"}}))
	if body := scrape(t, url); strings.Contains(body, "pkce_") {
		t.Errorf("series before any event:\n%s", body)
	}
}

// TestEveryReason: every reason ID of the core's table (event.go) is a
// reason label of its own, refused and reported.
func TestEveryReason(t *testing.T) {
	reasons := reasonConstants(t)
	if len(reasons) < 21 {
		t.Fatalf("found %d reason constants in ../event.go", len(reasons))
	}
	m := newMetrics(t, pkceprom.Options{})
	url := serve(t, m)
	var want strings.Builder
	want.WriteString(decisionsHelp)
	var lines []string
	for _, r := range reasons {
		m.Observe(pkce.Event{Endpoint: "token", Refusal: r, Enforced: true, Status: 400})
		m.Observe(pkce.Event{Endpoint: "token", Refusal: r, Status: 200})
		for _, outcome := range []string{"refused", "reported"} {
			lines = append(lines, `pkce_decisions_total{endpoint="token",method="none",outcome="`+outcome+`",pkce="false",reason="`+r+`"} 1`)
		}
	}
	for _, l := range lines {
		want.WriteString(l + "\n")
	}
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want.String()), "pkce_decisions_total"); err != nil {
		t.Error(err)
	}
}

// reasonConstants returns the values of the Reason constants of the core's
// event.go.
func reasonConstants(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Reason") || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok {
			t.Fatalf("%s is not a literal", vs.Names[0].Name)
		}
		v, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
		return true
	})
	return out
}

func TestNewRefusesBadIDs(t *testing.T) {
	if _, err := pkceprom.New(pkceprom.Options{ClientIDs: []string{"ok", "bad\xff"}}); err == nil {
		t.Error("New accepted a client ID that is not UTF-8")
	}
}

// TestConcurrent: Observe from many goroutines while a Prometheus server
// scrapes (run with -race); every event is counted.
func TestConcurrent(t *testing.T) {
	m := newMetrics(t, pkceprom.Options{ClientIDs: []string{"web"}})
	url := serve(t, m)
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				m.Observe(pkce.Event{Endpoint: "token", ClientID: "web", PKCE: true, Method: pkce.S256, Status: 200})
			}
		}()
	}
	for range 5 {
		scrape(t, url)
	}
	wg.Wait()
	want := decisionsHelp + `pkce_decisions_total{endpoint="token",method="S256",outcome="accepted",pkce="true",reason="none"} ` + strconv.Itoa(workers*each) + "\n"
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want), "pkce_decisions_total"); err != nil {
		t.Error(err)
	}
}

func TestObserveAllocs(t *testing.T) {
	m := newMetrics(t, pkceprom.Options{ClientIDs: []string{"web"}})
	e := pkce.Event{Endpoint: "token", ClientID: "web", PKCE: true, Method: pkce.S256, Refusal: pkce.ReasonVerifierMismatch, Enforced: true, Status: 400}
	if n := testing.AllocsPerRun(100, func() { m.Observe(e) }); n != 0 {
		t.Errorf("Observe allocates %v times", n)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d\n%s", resp.StatusCode, b)
	}
	return string(b)
}

func BenchmarkObserve(b *testing.B) {
	m, _ := pkceprom.New(pkceprom.Options{ClientIDs: []string{"web", "legacy-ios"}})
	e := pkce.Event{Endpoint: "token", ClientID: "web", PKCE: true, Method: pkce.S256, Status: 200}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(e)
		}
	})
}

// TestMiddlewareEvents: the counts of a real enforcing middleware's
// decisions, scraped: a redemption with S256, a wrong verifier, a replay,
// and an authorization request without PKCE.
func TestMiddlewareEvents(t *testing.T) {
	metrics := newMetrics(t, pkceprom.Options{})
	m, err := pkce.New(pkce.Config{OnEvent: metrics.Observe})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/authorize", m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.FormValue("redirect_uri")+"?code="+pkce.GenerateVerifier(), http.StatusFound)
	})))
	mux.Handle("/token", m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := func(challenge string) string {
		q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"https://app.example/cb"}}
		if challenge != "" {
			q.Set("code_challenge", challenge)
			q.Set("code_challenge_method", "S256")
		}
		resp, err := noRedirect.Get(srv.URL + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query().Get("code")
	}
	token := func(code, verifier string) int {
		resp, err := http.PostForm(srv.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {"app"}, "code_verifier": {verifier}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	verifier := pkce.GenerateVerifier()
	code := authorize(pkce.S256Challenge(verifier))
	got := []int{token(code, verifier), token(code, verifier)} // redeemed, replayed
	code = authorize(pkce.S256Challenge(verifier))
	got = append(got, token(code, pkce.GenerateVerifier())) // wrong verifier
	if authorize("") != "" {
		t.Error("an authorization request without PKCE got a code")
	}
	if want := []int{200, 400, 400}; !slices.Equal(got, want) {
		t.Errorf("token statuses %v, want %v", got, want)
	}

	want := decisionsHelp + `pkce_decisions_total{endpoint="authorize",method="S256",outcome="accepted",pkce="true",reason="none"} 2
pkce_decisions_total{endpoint="authorize",method="none",outcome="refused",pkce="false",reason="challenge_missing"} 1
pkce_decisions_total{endpoint="token",method="S256",outcome="accepted",pkce="true",reason="none"} 1
pkce_decisions_total{endpoint="token",method="S256",outcome="refused",pkce="true",reason="verifier_mismatch"} 1
pkce_decisions_total{endpoint="token",method="none",outcome="refused",pkce="true",reason="code_reused"} 1
`
	if err := testutil.ScrapeAndCompare(serve(t, metrics), strings.NewReader(want), "pkce_decisions_total"); err != nil {
		t.Error(err)
	}
}
