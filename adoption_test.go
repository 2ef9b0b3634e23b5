package pkce_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-pkce/pkce"
)

// Events as the middleware makes them, by what happened.
var (
	// A code redeemed with PKCE: accepted, tokens issued.
	evRedeemedS256 = pkce.Event{Endpoint: "token", PKCE: true, Method: pkce.S256, Status: 200}
	// A code issued without PKCE redeemed under a policy that allows it.
	evRedeemedNoPKCE = pkce.Event{Endpoint: "token", Status: 200}
	// The same under report-only, with PKCE required: reported, passed on.
	evReportedNoPKCE = pkce.Event{Endpoint: "token", Refusal: pkce.ReasonChallengeMissing, Status: 200}
	// An authorization request with a challenge that was answered with a
	// redirect: a code, or a login page.
	evAuthorizeRedirect = pkce.Event{Endpoint: "authorize", PKCE: true, Method: pkce.S256, Status: 302}
)

// adoptionOf returns the row of id in a's report, and whether it has one.
func adoptionOf(t testing.TB, a *pkce.Adoption, id string) (pkce.ClientReport, bool) {
	t.Helper()
	for _, c := range a.Report() {
		if c.ClientID == id {
			return c, true
		}
	}
	return pkce.ClientReport{}, false
}

func withClient(e pkce.Event, id string) pkce.Event {
	e.ClientID = id
	return e
}

// TestAdoptionRecognition: which events give a client its row. Only what
// needs the server's recognition does; the rest counts in Dropped.
func TestAdoptionRecognition(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    pkce.Event
		row  bool
	}{
		{"token: redeemed with PKCE", evRedeemedS256, true},
		{"token: redeemed without PKCE", evRedeemedNoPKCE, true},
		{"token: reported refusal the server answered 200", evReportedNoPKCE, true},
		{"token: PKCE passed, the server refused (client auth)", pkce.Event{Endpoint: "token", PKCE: true, Method: pkce.S256, Status: 401}, true},
		{"token: this client's code, wrong verifier", pkce.Event{Endpoint: "token", PKCE: true, Method: pkce.S256, Refusal: pkce.ReasonVerifierMismatch, Enforced: true, Status: 400}, true},
		{"par: pushed request accepted", pkce.Event{Endpoint: "par", PKCE: true, Method: pkce.S256, Status: 201}, true},

		{"authorize: redirect", evAuthorizeRedirect, false},
		{"authorize: 303 without PKCE", pkce.Event{Endpoint: "authorize", Status: 303}, false},
		{"authorize: 200 page", pkce.Event{Endpoint: "authorize", PKCE: true, Method: pkce.S256, Status: 200}, false},
		{"authorize: reported refusal, redirected", pkce.Event{Endpoint: "authorize", Refusal: pkce.ReasonChallengeMissing, Status: 302}, false},
		{"authorize: enforced refusal", pkce.Event{Endpoint: "authorize", Refusal: pkce.ReasonChallengeMalformed, Enforced: true, Status: 400}, false},
		{"token: another client's code", pkce.Event{Endpoint: "token", PKCE: true, Method: pkce.S256, Refusal: pkce.ReasonClientMismatch, Enforced: true, Status: 400}, false},
		{"token: a found code, no verifier (client not compared yet)", pkce.Event{Endpoint: "token", PKCE: true, Method: pkce.S256, Refusal: pkce.ReasonVerifierMissing, Enforced: true, Status: 400}, false},
		{"token: replay of a used code", pkce.Event{Endpoint: "token", Refusal: pkce.ReasonCodeReused, Enforced: true, Status: 400}, false},
		{"token: unknown code", pkce.Event{Endpoint: "token", Refusal: pkce.ReasonChallengeMissing, Enforced: true, Status: 400}, false},
		{"token: unknown code, reported, the server refused", pkce.Event{Endpoint: "token", Refusal: pkce.ReasonDowngrade, Status: 400}, false},
		{"token: no PKCE, the server refused", pkce.Event{Endpoint: "token", Status: 400}, false},
		{"token: store fault", pkce.Event{Endpoint: "token", Refusal: pkce.ReasonStoreError, Enforced: true, Status: 500}, false},
		{"par: refused by the server", pkce.Event{Endpoint: "par", PKCE: true, Method: pkce.S256, Status: 401}, false},
		{"unknown endpoint, 200", pkce.Event{Endpoint: "userinfo", Status: 200}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := pkce.NewAdoption()
			a.Observe(withClient(tc.e, "app"))
			_, has := adoptionOf(t, a, "app")
			assert.Equal(t, tc.row, has)
			if tc.row {
				assert.Zero(t, a.Dropped())
			} else {
				assert.EqualValues(t, 1, a.Dropped())
				assert.Empty(t, a.Report())
			}
		})
	}
}

// TestAdoptionEventsBeforeRecognition: a client's events before its first
// recognition count in Dropped, not in its row; after it, every event of
// the client counts, authorization requests included.
func TestAdoptionEventsBeforeRecognition(t *testing.T) {
	a := pkce.NewAdoption()
	a.Observe(pkce.Event{Endpoint: "authorize", ClientID: "app", Refusal: pkce.ReasonChallengeMissing, Status: 302})
	a.Observe(withClient(evAuthorizeRedirect, "app"))
	assert.EqualValues(t, 2, a.Dropped())
	assert.Empty(t, a.Report())

	a.Observe(withClient(evReportedNoPKCE, "app")) // recognises, and counts
	a.Observe(pkce.Event{Endpoint: "authorize", ClientID: "app", Refusal: pkce.ReasonChallengeMissing, Status: 302})
	row, has := adoptionOf(t, a, "app")
	require.True(t, has)
	assert.EqualValues(t, 1, row.WithoutPKCE)
	assert.Equal(t, map[string]int64{pkce.ReasonChallengeMissing: 2}, row.Refusals)
	assert.EqualValues(t, 2, a.Dropped())
}

// TestAdoptionNoClient: requests that named no client share the row "",
// from their first event, whatever it is.
func TestAdoptionNoClient(t *testing.T) {
	a := pkce.NewAdoption()
	a.Observe(pkce.Event{Endpoint: "authorize", Refusal: pkce.ReasonDuplicateParameter, Enforced: true, Status: 400})
	a.Observe(pkce.Event{Endpoint: "token", Refusal: pkce.ReasonBadRequest, Enforced: true, Status: 400})
	rows := a.Report()
	require.Len(t, rows, 1)
	assert.Equal(t, "", rows[0].ClientID)
	assert.Equal(t, map[string]int64{pkce.ReasonDuplicateParameter: 1, pkce.ReasonBadRequest: 1}, rows[0].Refusals)
	assert.Zero(t, a.Dropped())
}

// TestAdoptionClientIDs: IDs too long, not UTF-8 or with control
// characters never get a row, even from a redemption.
func TestAdoptionClientIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		row  bool
	}{
		{"256 bytes", strings.Repeat("a", 256), true},
		{"256 bytes of UTF-8", strings.Repeat("é", 128), true},
		{"unicode and spaces", "My App (iOS) ✓", true},
		{"257 bytes", strings.Repeat("a", 257), false},
		{"a megabyte", strings.Repeat("a", 1<<20), false},
		{"newline", "app\nFAKE LOG LINE", false},
		{"NUL", "app\x00", false},
		{"DEL", "app\x7f", false},
		{"C1 control", "app\u0085", false},
		{"escape sequence", "\x1b[31mred", false},
		{"not UTF-8", "app\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := pkce.NewAdoption()
			a.Observe(withClient(evRedeemedS256, tc.id))
			a.Observe(withClient(evRedeemedS256, tc.id))
			_, has := adoptionOf(t, a, tc.id)
			assert.Equal(t, tc.row, has)
			if tc.row {
				assert.Zero(t, a.Dropped())
			} else {
				assert.EqualValues(t, 2, a.Dropped())
				assert.Empty(t, a.Report())
			}
		})
	}
}

// TestAdoptionAttackerIDs: a flood of authorization and token requests
// under attacker-chosen IDs (refused, or answered with redirects and
// pages as a login would be) adds no row: they all count in Dropped, and
// the real clients still get theirs.
func TestAdoptionAttackerIDs(t *testing.T) {
	a := pkce.NewAdoption()
	const flood = 3 * pkce.MaxAdoptionClients
	for i := range flood {
		id := "attacker-" + strconv.Itoa(i)
		a.Observe(withClient(evAuthorizeRedirect, id))
		a.Observe(pkce.Event{Endpoint: "authorize", ClientID: id, Status: 200})
		a.Observe(pkce.Event{Endpoint: "token", ClientID: id, Refusal: pkce.ReasonDowngrade, Enforced: true, Status: 400})
		a.Observe(pkce.Event{Endpoint: "token", ClientID: id, PKCE: true, Refusal: pkce.ReasonClientMismatch, Enforced: true, Status: 400})
	}
	assert.Empty(t, a.Report())
	assert.EqualValues(t, 4*flood, a.Dropped())

	a.Observe(withClient(evRedeemedS256, "real-app"))
	rows := a.Report()
	require.Len(t, rows, 1)
	assert.Equal(t, "real-app", rows[0].ClientID)
	assert.True(t, rows[0].Ready)
}

// TestAdoptionCap: past MaxAdoptionClients rows, even recognised clients
// are dropped; tracked ones keep counting, and nothing is evicted.
func TestAdoptionCap(t *testing.T) {
	a := pkce.NewAdoption()
	for i := range pkce.MaxAdoptionClients {
		a.Observe(withClient(evRedeemedS256, fmt.Sprintf("client-%05d", i)))
	}
	require.Len(t, a.Report(), pkce.MaxAdoptionClients)
	assert.Zero(t, a.Dropped())

	a.Observe(withClient(evRedeemedS256, "one-too-many"))
	a.Observe(pkce.Event{Endpoint: "authorize", Refusal: pkce.ReasonBadRequest, Enforced: true, Status: 400}) // the row "" too
	assert.EqualValues(t, 2, a.Dropped())
	a.Observe(withClient(evRedeemedNoPKCE, "client-00000"))
	rows := a.Report()
	require.Len(t, rows, pkce.MaxAdoptionClients)
	assert.Equal(t, "client-00000", rows[0].ClientID)
	assert.EqualValues(t, 1, rows[0].WithoutPKCE)
	assert.False(t, rows[0].Ready)
	assert.Equal(t, "client-09999", rows[len(rows)-1].ClientID)
}

// TestAdoptionCapConcurrent: concurrent additions never go past the cap.
func TestAdoptionCapConcurrent(t *testing.T) {
	a := pkce.NewAdoption()
	const workers, each = 16, pkce.MaxAdoptionClients / 8 // twice the cap
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				a.Observe(withClient(evRedeemedS256, id))
				a.Observe(withClient(evRedeemedS256, id))
			}
		}()
	}
	wg.Wait()
	rows := a.Report()
	assert.Len(t, rows, pkce.MaxAdoptionClients)
	var counted int64
	for _, r := range rows {
		counted += r.WithPKCE
	}
	assert.EqualValues(t, 2*workers*each, counted+a.Dropped())
}

// TestAdoptionReady: what each kind of event does to the counts and to
// Ready.
func TestAdoptionReady(t *testing.T) {
	tokenRefusal := func(reason string, pkceBound, enforced bool, status int) pkce.Event {
		e := pkce.Event{Endpoint: "token", PKCE: pkceBound, Refusal: reason, Enforced: enforced, Status: status}
		if pkceBound {
			e.Method = pkce.S256
		}
		return e
	}
	for _, tc := range []struct {
		name          string
		events        []pkce.Event
		with, without int64
		refusals      map[string]int64
		ready         bool
	}{
		{"redeemed with S256", []pkce.Event{evRedeemedS256, evRedeemedS256}, 2, 0, nil, true},
		{"redeemed with plain", []pkce.Event{{Endpoint: "token", PKCE: true, Method: pkce.Plain, Status: 200}}, 1, 0, nil, true},
		{"redeemed without PKCE", []pkce.Event{evRedeemedNoPKCE}, 0, 1, nil, false},
		{"both", []pkce.Event{evRedeemedS256, evRedeemedNoPKCE}, 1, 1, nil, false},
		{"report-only: no PKCE, reported and passed", []pkce.Event{evRedeemedS256, evReportedNoPKCE}, 1, 1,
			map[string]int64{pkce.ReasonChallengeMissing: 1}, false},
		{"report-only: a downgrade reported and passed", []pkce.Event{evRedeemedS256, tokenRefusal(pkce.ReasonDowngrade, false, false, 200)}, 1, 1,
			map[string]int64{pkce.ReasonDowngrade: 1}, false},
		{"enforced: no PKCE refused, not redeemed", []pkce.Event{evRedeemedS256, tokenRefusal(pkce.ReasonChallengeMissing, false, true, 400)}, 1, 0,
			map[string]int64{pkce.ReasonChallengeMissing: 1}, true},
		{"a wrong verifier for its code", []pkce.Event{evRedeemedS256, tokenRefusal(pkce.ReasonVerifierMismatch, true, true, 400)}, 1, 0,
			map[string]int64{pkce.ReasonVerifierMismatch: 1}, false},
		{"report-only: a wrong verifier the server redeemed", []pkce.Event{evRedeemedS256, tokenRefusal(pkce.ReasonVerifierMismatch, true, false, 200)}, 1, 0,
			map[string]int64{pkce.ReasonVerifierMismatch: 1}, false},
		{"a found code without a verifier", []pkce.Event{evRedeemedS256, tokenRefusal(pkce.ReasonVerifierMissing, true, true, 400)}, 1, 0,
			map[string]int64{pkce.ReasonVerifierMissing: 1}, false},
		{"a replay of a used code", []pkce.Event{evRedeemedS256, tokenRefusal(pkce.ReasonCodeReused, false, true, 400)}, 1, 0,
			map[string]int64{pkce.ReasonCodeReused: 1}, false},
		{"authorize refusals do not decide", []pkce.Event{evRedeemedS256,
			{Endpoint: "authorize", Refusal: pkce.ReasonChallengeMissing, Enforced: true, Status: 400},
			{Endpoint: "authorize", Refusal: pkce.ReasonMethodNotAllowed, Enforced: true, Status: 400}}, 1, 0,
			map[string]int64{pkce.ReasonChallengeMissing: 1, pkce.ReasonMethodNotAllowed: 1}, true},
		{"token refusals of unknown codes do not decide", []pkce.Event{evRedeemedS256,
			tokenRefusal(pkce.ReasonDowngrade, false, true, 400), tokenRefusal(pkce.ReasonBadRequest, false, true, 400)}, 1, 0,
			map[string]int64{pkce.ReasonDowngrade: 1, pkce.ReasonBadRequest: 1}, true},
		{"PKCE passed, the server refused: not a redemption", []pkce.Event{{Endpoint: "token", PKCE: true, Method: pkce.S256, Status: 401}}, 0, 0, nil, false},
		{"no PKCE, the server refused: not a redemption", []pkce.Event{evRedeemedS256, {Endpoint: "token", Status: 400}}, 1, 0, nil, true},
		{"authorize successes count nothing", []pkce.Event{evRedeemedS256, evAuthorizeRedirect, {Endpoint: "authorize", Status: 200}}, 1, 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := pkce.NewAdoption()
			for _, e := range tc.events {
				a.Observe(withClient(e, "app"))
			}
			row, has := adoptionOf(t, a, "app")
			require.True(t, has)
			assert.Equal(t, tc.with, row.WithPKCE, "WithPKCE")
			assert.Equal(t, tc.without, row.WithoutPKCE, "WithoutPKCE")
			if tc.refusals == nil {
				tc.refusals = map[string]int64{}
			}
			assert.Equal(t, tc.refusals, row.Refusals)
			assert.Equal(t, tc.ready, row.Ready)
		})
	}
}

// TestAdoptionReasons: every reason ID of event.go is counted under its own
// name, and an ID outside the table under "other" (memory stays bounded
// whatever Observe is given).
func TestAdoptionReasons(t *testing.T) {
	reasons := reasonConstants(t)
	require.GreaterOrEqual(t, len(reasons), 21)
	a := pkce.NewAdoption()
	for _, r := range reasons {
		a.Observe(pkce.Event{Endpoint: "authorize", Refusal: r, Enforced: true, Status: 400})
	}
	for i := range 100 {
		a.Observe(pkce.Event{Endpoint: "authorize", Refusal: "made-up-" + strconv.Itoa(i), Status: 302})
	}
	row, has := adoptionOf(t, a, "")
	require.True(t, has)
	want := map[string]int64{"other": 100}
	for _, r := range reasons {
		want[r] = 1
	}
	assert.Equal(t, want, row.Refusals)
}

// reasonConstants returns the values of the Reason constants of event.go.
func reasonConstants(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "event.go", nil, 0)
	require.NoError(t, err)
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Reason") || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		require.True(t, ok, vs.Names[0].Name)
		v, err := strconv.Unquote(lit.Value)
		require.NoError(t, err)
		out = append(out, v)
		return true
	})
	return out
}

func TestAdoptionLastSeen(t *testing.T) {
	a := pkce.NewAdoption()
	before := time.Now()
	a.Observe(withClient(evRedeemedS256, "app"))
	first, _ := adoptionOf(t, a, "app")
	time.Sleep(2 * time.Millisecond)
	a.Observe(pkce.Event{Endpoint: "authorize", ClientID: "app", Refusal: pkce.ReasonChallengeMalformed, Enforced: true, Status: 400})
	after := time.Now()
	second, _ := adoptionOf(t, a, "app")
	assert.False(t, first.LastSeen.Before(before), "%v before %v", first.LastSeen, before)
	assert.True(t, second.LastSeen.After(first.LastSeen))
	assert.False(t, second.LastSeen.After(after))
	assert.Equal(t, time.UTC, second.LastSeen.Location())
}

func TestAdoptionReportSorted(t *testing.T) {
	a := pkce.NewAdoption()
	for _, id := range []string{"zeta", "Alpha", "alpha", "beta", "ä"} {
		a.Observe(withClient(evRedeemedS256, id))
	}
	a.Observe(pkce.Event{Endpoint: "token", Refusal: pkce.ReasonBadRequest, Enforced: true, Status: 400})
	var ids []string
	for _, r := range a.Report() {
		ids = append(ids, r.ClientID)
	}
	assert.Equal(t, []string{"", "Alpha", "alpha", "beta", "zeta", "ä"}, ids)
}

// TestAdoptionServeHTTP: the JSON of the contract, over a real server.
func TestAdoptionServeHTTP(t *testing.T) {
	a := pkce.NewAdoption()
	srv := httptest.NewServer(a)
	defer srv.Close()

	get := func(t *testing.T) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	resp, body := get(t)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.JSONEq(t, `{"clients":[],"dropped":0}`, body)
	assert.Equal(t, `{"clients":[],"dropped":0}`+"\n", body)

	a.Observe(withClient(evRedeemedS256, "ready-app"))
	a.Observe(withClient(evReportedNoPKCE, "legacy-app"))
	a.Observe(withClient(evAuthorizeRedirect, "unknown"))
	_, body = get(t)
	var doc struct {
		Clients []map[string]json.RawMessage `json:"clients"`
		Dropped int64                        `json:"dropped"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc), body)
	assert.EqualValues(t, 1, doc.Dropped)
	require.Len(t, doc.Clients, 2)
	legacy, ready := doc.Clients[0], doc.Clients[1]
	assert.Equal(t, `"legacy-app"`, string(legacy["client_id"]))
	assert.Equal(t, `0`, string(legacy["with_pkce"]))
	assert.Equal(t, `1`, string(legacy["without_pkce"]))
	assert.Equal(t, `{"challenge_missing":1}`, string(legacy["refusals"]))
	assert.Equal(t, `false`, string(legacy["ready"]))
	assert.Equal(t, `"ready-app"`, string(ready["client_id"]))
	assert.Equal(t, `{}`, string(ready["refusals"]))
	assert.Equal(t, `true`, string(ready["ready"]))
	var seen time.Time
	require.NoError(t, json.Unmarshal(ready["last_seen"], &seen))
	assert.WithinDuration(t, time.Now(), seen, time.Minute)
	assert.Len(t, ready, 6, "the fields of ClientReport, no more")

	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		req, _ := http.NewRequest(method, srv.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, method)
		assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
	}
	resp, err := http.Head(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
}

// TestAdoptionConcurrent: Observe, Report and ServeHTTP from many
// goroutines (run with -race); every event is counted once.
func TestAdoptionConcurrent(t *testing.T) {
	a := pkce.NewAdoption()
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				switch i % 4 {
				case 0:
					a.Observe(withClient(evRedeemedS256, "app-"+strconv.Itoa(i%8)))
				case 1:
					a.Observe(withClient(evReportedNoPKCE, "legacy"))
				case 2:
					a.Observe(withClient(evAuthorizeRedirect, "unknown-"+strconv.Itoa(w)))
				case 3:
					_ = a.Report()
					a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
				}
			}
		}()
	}
	wg.Wait()
	var with, without int64
	for _, r := range a.Report() {
		with += r.WithPKCE
		without += r.WithoutPKCE
	}
	assert.EqualValues(t, workers*each/4, with)
	assert.EqualValues(t, workers*each/4, without)
	assert.EqualValues(t, workers*each/4, a.Dropped())
}

// TestAdoptionObserveAllocs: counting in an existing row allocates nothing.
func TestAdoptionObserveAllocs(t *testing.T) {
	a := pkce.NewAdoption()
	e := withClient(evRedeemedS256, "app")
	a.Observe(e)
	refused := pkce.Event{Endpoint: "authorize", ClientID: "app", Refusal: pkce.ReasonRebind, Enforced: true, Status: 500}
	dropped := withClient(evAuthorizeRedirect, strings.Repeat("x", 300))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		a.Observe(e)
		a.Observe(refused)
		a.Observe(dropped)
	}))
}

func BenchmarkAdoptionObserve(b *testing.B) {
	a := pkce.NewAdoption()
	e := withClient(evRedeemedS256, "mobile-app")
	a.Observe(e)
	b.ReportAllocs()
	for b.Loop() {
		a.Observe(e)
	}
}

// BenchmarkAdoptionObserveParallel: every goroutine counts in the same
// row, the worst case for contention.
func BenchmarkAdoptionObserveParallel(b *testing.B) {
	a := pkce.NewAdoption()
	e := withClient(evRedeemedS256, "mobile-app")
	a.Observe(e)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.Observe(e)
		}
	})
}

// BenchmarkAdoptionObserveManyClients: a full report (MaxAdoptionClients
// rows), events spread over them from every core.
func BenchmarkAdoptionObserveManyClients(b *testing.B) {
	a := pkce.NewAdoption()
	events := make([]pkce.Event, pkce.MaxAdoptionClients)
	for i := range events {
		events[i] = withClient(evRedeemedS256, "client-"+strconv.Itoa(i))
		a.Observe(events[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a.Observe(events[i%len(events)])
			i += 7919
		}
	})
}

// BenchmarkAdoptionObserveDropped: a flood of events under IDs that have
// no row (an attacker's).
func BenchmarkAdoptionObserveDropped(b *testing.B) {
	a := pkce.NewAdoption()
	events := make([]pkce.Event, 1024)
	for i := range events {
		events[i] = withClient(evAuthorizeRedirect, "attacker-"+strconv.Itoa(i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a.Observe(events[i%len(events)])
			i++
		}
	})
}

func BenchmarkAdoptionReport(b *testing.B) {
	a := pkce.NewAdoption()
	for i := range 1000 {
		a.Observe(withClient(evRedeemedS256, "client-"+strconv.Itoa(i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Report()
	}
}

// BenchmarkAdoptionInMiddleware: the cost of OnEvent plus Adoption.Observe
// per request, next to the same middleware without OnEvent: an
// authorization request with S256 and the redemption of its code, for a
// client that has its row.
func BenchmarkAdoptionInMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name    string
		onEvent bool
	}{{"no OnEvent", false}, {"Adoption.Observe", true}} {
		b.Run(tc.name, func(b *testing.B) {
			a := pkce.NewAdoption()
			a.Observe(withClient(evRedeemedS256, "app"))
			cfg := pkce.Config{TTL: time.Minute}
			if tc.onEvent {
				cfg.OnEvent = a.Observe
			}
			m, err := pkce.New(cfg)
			require.NoError(b, err)
			var n int
			authorize := m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n++
				http.Redirect(w, r, "http://127.0.0.1:9/cb?code=code-"+strconv.Itoa(n), http.StatusFound)
			}))
			token := m.Token(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
			}))
			verifier := pkce.GenerateVerifier()
			authURL := "http://as.example/authorize?response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_challenge=" +
				pkce.S256Challenge(verifier) + "&code_challenge_method=S256"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				authorize.ServeHTTP(w, httptest.NewRequest(http.MethodGet, authURL, nil))
				code := strings.TrimPrefix(w.Header().Get("Location"), "http://127.0.0.1:9/cb?code=")
				body := "grant_type=authorization_code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code=" + code + "&code_verifier=" + verifier
				r := httptest.NewRequest(http.MethodPost, "http://as.example/token", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w = httptest.NewRecorder()
				token.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("token: %d %s", w.Code, w.Body)
				}
			}
			if tc.onEvent {
				row, _ := adoptionOf(b, a, "app")
				require.EqualValues(b, b.N+1, row.WithPKCE)
			}
		})
	}
}
