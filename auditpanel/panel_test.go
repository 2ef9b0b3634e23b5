package auditpanel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-pkce/pkce/pkcetest"
)

// The panel's clients, the same on every server: a public client that
// runs the audit, and a second registered public client that tries to
// redeem its codes (Target.OtherClientID).
const (
	panelClient = "panel-app"
	otherClient = "panel-other"
	// panelRedirect is registered for both clients. Nothing listens there:
	// the audit reads the redirects that point to it.
	panelRedirect = "http://127.0.0.1:9/callback"
	panelUser     = "panel-user"
)

// auditTimeout bounds one whole audit, so a server that hangs fails the
// panel instead of stalling CI.
const auditTimeout = 2 * time.Minute

// panelTarget is the audit of issuer as panelClient, with otherClient as
// the other client.
func panelTarget(issuer string) pkcetest.Target {
	return pkcetest.Target{
		Issuer:        issuer,
		ClientID:      panelClient,
		OtherClientID: otherClient,
		RedirectURI:   panelRedirect,
	}
}

// audit runs the whole catalogue against target and returns each check's
// result by ID, logging the table.
func audit(t *testing.T, target pkcetest.Target) map[string]pkcetest.Result {
	t.Helper()
	results := quietAudit(t, target)
	var table strings.Builder
	for _, c := range pkcetest.Checks() {
		r := results[c.ID]
		fmt.Fprintf(&table, "\n%-40s %-5s %s", r.ID, r.Outcome, r.Detail)
	}
	t.Logf("%d checks:%s", len(results), table.String())
	return results
}

// quietAudit is audit without the table.
func quietAudit(t *testing.T, target pkcetest.Target) map[string]pkcetest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), auditTimeout)
	defer cancel()
	if target.Client == nil {
		// Its idle connections are closed after the audit, so a server
		// shutting down gracefully need not wait for them.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		target.Client = &http.Client{Transport: tr}
	}
	results, err := pkcetest.Audit(ctx, target)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	byID := make(map[string]pkcetest.Result, len(results))
	for _, r := range results {
		byID[r.ID] = r
	}
	return byID
}

// verdicts is what the panel pins of one server. The fail set is exact:
// a check failing that is not in flaws is a false fail or a new flaw,
// either worth a look; so is the skip set (a skip is a check that proved
// nothing).
type verdicts struct {
	// flaws are the server's real flaws: checks that must fail, each with
	// the harm it demonstrates (issue 9's severity rule).
	flaws map[string]string
	// skips is every check that must skip, with the precondition missing.
	skips map[string]string
	// outcomes pins single checks to pass, warn or info.
	outcomes map[string]pkcetest.Outcome
	// notFail are checks whose outcome is left open but must not be fail.
	notFail []string
	// unpinned are checks left out of every pin, with the reason (a race
	// whose result is measured, not pinned).
	unpinned map[string]string
}

// pin checks results against v.
func pin(t *testing.T, results map[string]pkcetest.Result, v verdicts) {
	t.Helper()
	for _, id := range slices.Concat(keys(v.flaws), keys(v.skips), keys(v.outcomes), v.notFail, keys(v.unpinned)) {
		if _, ok := results[id]; !ok {
			t.Errorf("%s: no such check in the catalogue (renamed?)", id)
		}
	}
	for id, r := range results {
		if _, ok := v.unpinned[id]; ok {
			continue
		}
		_, flaw := v.flaws[id]
		_, skip := v.skips[id]
		switch {
		case r.Outcome == pkcetest.Fail && !flaw:
			t.Errorf("%s: fail, not pinned as a flaw of this server: %s", id, r.Detail)
		case r.Outcome != pkcetest.Fail && flaw:
			t.Errorf("%s: %s, want fail (%s): %s", id, r.Outcome, v.flaws[id], r.Detail)
		case r.Outcome == pkcetest.Skip && !skip:
			t.Errorf("%s: skip, not pinned as a skip on this server: %s", id, r.Detail)
		case r.Outcome != pkcetest.Skip && skip:
			t.Errorf("%s: %s, want skip (%s): %s", id, r.Outcome, v.skips[id], r.Detail)
		}
	}
	for id, o := range v.outcomes {
		if r, ok := results[id]; ok && r.Outcome != o {
			t.Errorf("%s: %s, want %s: %s", id, r.Outcome, o, r.Detail)
		}
	}
	for _, id := range v.notFail {
		if r, ok := results[id]; ok && r.Outcome == pkcetest.Fail {
			t.Errorf("%s: fail, but on this server it is a deviation, not harm: %s", id, r.Detail)
		}
	}
}

// count returns how many results have outcome o, and their IDs.
func count(results map[string]pkcetest.Result, o pkcetest.Outcome) (int, []string) {
	var ids []string
	for id, r := range results {
		if r.Outcome == o {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return len(ids), ids
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// noPAR are the skips of a server whose metadata advertises no
// pushed_authorization_request_endpoint (RFC 9126 §5): the fronts of the
// panel publish none.
var noPAR = map[string]string{
	"par.valid":            "no PAR endpoint advertised",
	"par.no-challenge":     "no PAR endpoint advertised",
	"par.verifier-wrong":   "no PAR endpoint advertised",
	"par.verifier-missing": "no PAR endpoint advertised",
	"par.outer-challenge":  "no PAR endpoint advertised",
}

// metadata is an RFC 8414 authorization server metadata document, the one
// the fronts of servers without discovery publish for them.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
}

// serveMetadata answers GET with m as JSON.
func serveMetadata(m metadata) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(m)
	}
}

// merge returns the union of ms; later maps win.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// combine returns the verdicts of base and more together; more wins where
// both pin one check.
func combine(base, more verdicts) verdicts {
	out := verdicts{
		flaws:    merge(base.flaws, more.flaws),
		skips:    merge(base.skips, more.skips),
		outcomes: map[string]pkcetest.Outcome{},
		notFail:  slices.Concat(base.notFail, more.notFail),
		unpinned: merge(base.unpinned, more.unpinned),
	}
	for _, m := range []map[string]pkcetest.Outcome{base.outcomes, more.outcomes} {
		for k, v := range m {
			out.outcomes[k] = v
		}
	}
	return out
}
