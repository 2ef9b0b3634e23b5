package pkce

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of an [Adoption] report.
const (
	// MaxAdoptionClients is how many rows an Adoption tracks at most, the
	// row "" of requests that named no client included. Events of clients
	// past it count in [Adoption.Dropped].
	MaxAdoptionClients = 10000
	// MaxAdoptionClientIDBytes is the longest client ID an Adoption gives a
	// row; the events of a longer one count in [Adoption.Dropped].
	MaxAdoptionClientIDBytes = 256
)

// Adoption turns the middleware's events into a per-client report of who
// sends PKCE and who would break if it were required: pass its
// [Adoption.Observe] as [Config.OnEvent], and serve it (it is an
// [http.Handler]) to operators, or read [Adoption.Report].
//
//	a := pkce.NewAdoption()
//	m, err := pkce.New(pkce.Config{ReportOnly: true, OnEvent: a.Observe})
//	// ...
//	adminMux.Handle("/debug/pkce", a) // behind the operators' authentication
//
// Client IDs are whatever a request says, so an Adoption gives a client a
// row of its own only once the server recognised it, and never from an
// authorization request alone:
//
//   - a token or pushed authorization request of that client that the
//     wrapped server answered with a success (2xx): a server issues tokens
//     only for a code it issued to that client, and accepts a pushed
//     request only from a client it knows;
//   - or a token request of that client whose code the middleware found
//     bound to a challenge of that same client ([Event.PKCE] at the token
//     endpoint, accepted or refused for a wrong verifier: a code_verifier
//     is compared only once the client matched).
//
// An authorization request's answer is not taken as recognition, whatever
// its status: many servers answer any client_id with a login page (200) or
// a redirect to one (302) before they check it, and an [Event] cannot tell
// such a redirect from one that carries a code. So the events of a client
// before its first redemption, and every event of a client ID longer than
// [MaxAdoptionClientIDBytes] bytes, not valid UTF-8 or holding a control
// character, count in [Adoption.Dropped] and in no row. Once
// [MaxAdoptionClients] rows are tracked, new clients are dropped too; rows
// are never evicted, so a tracked client stays in the report. Requests that
// named no client have the row "" from their first event. Memory is bounded
// by these limits: about 1 KiB per row at most.
//
// An Adoption is safe for concurrent use. Observe takes no lock for a client
// that has its row, and allocates nothing then.
type Adoption struct {
	rows  sync.Map     // client ID → *adoptionRow
	count atomic.Int64 // rows in rows, and reservations for rows being added
	// dropped counts the events no row holds.
	dropped atomic.Int64
	now     func() time.Time
}

// NewAdoption returns an empty Adoption.
func NewAdoption() *Adoption {
	return &Adoption{now: time.Now}
}

// ClientReport is what an [Adoption] saw of one client.
type ClientReport struct {
	// ClientID is the client's ID; "" for requests that named no client.
	ClientID string `json:"client_id"`
	// WithPKCE counts the token requests that the middleware accepted with
	// a code bound to a challenge, and that the wrapped server answered
	// with a success (2xx): codes redeemed with PKCE.
	WithPKCE int64 `json:"with_pkce"`
	// WithoutPKCE counts the token requests whose code had no challenge,
	// passed on to the wrapped server (accepted, or refused in report-only
	// mode) and answered with a success (2xx): codes redeemed without
	// PKCE, which would break if it were required.
	WithoutPKCE int64 `json:"without_pkce"`
	// Refusals counts the refusals by reason ID ([Event.Refusal]), enforced
	// or reported, at every endpoint; an empty map when there were none.
	Refusals map[string]int64 `json:"refusals"`
	// LastSeen is when the client's latest event was observed.
	LastSeen time.Time `json:"last_seen"`
	// Ready reports whether requiring PKCE of this client would have broken
	// nothing seen: WithPKCE > 0, WithoutPKCE == 0, and no refusal at the
	// token endpoint of a request whose code was found (bound to a
	// challenge, or used already). Other refusals (at authorize, of a
	// token request whose code was unknown) are counted but do not decide
	// Ready: anyone can send them naming any client.
	//
	// Ready is evidence, not proof: a user of the server can redeem a code
	// with PKCE under any public client's ID. Decide Config.Require from a
	// list an operator reviewed, never from Ready automatically.
	Ready bool `json:"ready"`
}

// Observe counts e in its client's row, or in [Adoption.Dropped] (see
// [Adoption] for the rules). Pass it as [Config.OnEvent]. It is safe for
// concurrent use, takes no lock for a client that has its row and never
// blocks.
func (a *Adoption) Observe(e Event) {
	row := a.row(e)
	if row == nil {
		a.dropped.Add(1)
		return
	}
	row.count(e, a.now().UnixNano())
}

// Report returns a row per tracked client, sorted by ClientID. It is safe
// for concurrent use; rows counted while it runs may or may not be in it.
func (a *Adoption) Report() []ClientReport {
	var out []ClientReport
	a.rows.Range(func(k, v any) bool {
		out = append(out, v.(*adoptionRow).report(k.(string)))
		return true
	})
	slices.SortFunc(out, func(x, y ClientReport) int { return strings.Compare(x.ClientID, y.ClientID) })
	if out == nil {
		out = []ClientReport{}
	}
	return out
}

// Dropped returns how many events no row holds: those of clients not
// recognised yet, of client IDs too long or malformed, and of new clients
// once [MaxAdoptionClients] rows are tracked. It is safe for concurrent use.
func (a *Adoption) Dropped() int64 { return a.dropped.Load() }

// ServeHTTP answers GET and HEAD with the report as JSON:
// {"clients":[ClientReport...],"dropped":N}. Other methods get 405. The
// report names clients and their traffic: serve it to operators only. It
// is safe for concurrent use.
func (a *Adoption) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := json.Marshal(struct {
		Clients []ClientReport `json:"clients"`
		Dropped int64          `json:"dropped"`
	}{a.Report(), a.Dropped()})
	if err != nil { // cannot happen: strings, numbers and times only
		http.Error(w, "pkce: cannot encode the adoption report", http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write(body)
}

// row returns e's row, adding it when e recognises its client; nil when e
// counts in Dropped.
func (a *Adoption) row(e Event) *adoptionRow {
	if v, ok := a.rows.Load(e.ClientID); ok {
		return v.(*adoptionRow)
	}
	if e.ClientID != "" && (!adoptionRecognises(e) || !adoptionValidID(e.ClientID)) {
		return nil
	}
	// Reserve a place first, so that concurrent additions never go past
	// the cap.
	if a.count.Add(1) > MaxAdoptionClients {
		a.count.Add(-1)
		return nil
	}
	v, loaded := a.rows.LoadOrStore(e.ClientID, new(adoptionRow))
	if loaded {
		a.count.Add(-1)
	}
	return v.(*adoptionRow)
}

// adoptionRecognises reports whether e shows that the server knows its client:
// a token or pushed request the wrapped server answered with a success, or
// a token request whose code was bound to a challenge of that client (the
// middleware compares the verifier only once the client matched).
func adoptionRecognises(e Event) bool {
	switch e.Endpoint {
	case adoptionToken:
		return adoptionSuccess(e.Status) || e.PKCE && (e.Refusal == "" || e.Refusal == ReasonVerifierMismatch)
	case adoptionPAR:
		return adoptionSuccess(e.Status)
	}
	return false
}

// adoptionValidID reports whether id may have a row: at most
// MaxAdoptionClientIDBytes bytes of UTF-8 without a control character.
func adoptionValidID(id string) bool {
	if len(id) > MaxAdoptionClientIDBytes || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// adoptionSuccess reports whether status is 2xx.
func adoptionSuccess(status int) bool { return status >= 200 && status <= 299 }

// The endpoints of [Event.Endpoint] that can recognise a client.
const (
	adoptionToken = "token"
	adoptionPAR   = "par"
)

// adoptionReasons are the reason IDs an adoptionRow counts, in the order of
// its refusals array; a Refusal outside the table counts as
// adoptionOtherReason.
var adoptionReasons = [...]string{
	ReasonChallengeMissing, ReasonMethodNotAllowed, ReasonChallengeMalformed,
	ReasonChallengeConflict, ReasonVerifierMissing, ReasonVerifierMalformed,
	ReasonVerifierMismatch, ReasonClientMismatch, ReasonCodeReused,
	ReasonDowngrade, ReasonDuplicateParameter, ReasonParameterCase,
	ReasonBodyConsumed, ReasonRequestURIUnknown, ReasonRequestUnreadable,
	ReasonResponseUnreadable, ReasonMultipleCodes, ReasonRebind,
	ReasonBadRequest, ReasonStoreError, ReasonStoreFull,
}

// adoptionOtherReason is the key of refusals whose ID is not in the table
// (an Event made by hand): memory stays bounded whatever Observe is given.
const adoptionOtherReason = "other"

// adoptionRow is one client's counters, updated without a lock.
type adoptionRow struct {
	withPKCE    atomic.Int64
	withoutPKCE atomic.Int64
	// tokenRefusals counts the refusals that decide Ready.
	tokenRefusals atomic.Int64
	lastSeen      atomic.Int64 // Unix nanoseconds
	refusals      [len(adoptionReasons) + 1]atomic.Int64
}

func (r *adoptionRow) count(e Event, now int64) {
	passed := e.Refusal == "" || !e.Enforced
	switch {
	case e.Endpoint != adoptionToken:
	case e.Refusal != "" && (e.PKCE || e.Refusal == ReasonCodeReused):
		// A token request whose code was found, bound or used.
		r.tokenRefusals.Add(1)
	case adoptionSuccess(e.Status) && e.PKCE && e.Refusal == "":
		r.withPKCE.Add(1)
	case adoptionSuccess(e.Status) && !e.PKCE && passed:
		r.withoutPKCE.Add(1)
	}
	if e.Refusal != "" {
		r.refusals[adoptionReasonIndex(e.Refusal)].Add(1)
	}
	for {
		seen := r.lastSeen.Load()
		if seen >= now || r.lastSeen.CompareAndSwap(seen, now) {
			return
		}
	}
}

func adoptionReasonIndex(id string) int {
	for i, r := range adoptionReasons {
		if r == id {
			return i
		}
	}
	return len(adoptionReasons)
}

func (r *adoptionRow) report(clientID string) ClientReport {
	c := ClientReport{
		ClientID:    clientID,
		WithPKCE:    r.withPKCE.Load(),
		WithoutPKCE: r.withoutPKCE.Load(),
		Refusals:    map[string]int64{},
	}
	if ns := r.lastSeen.Load(); ns != 0 {
		c.LastSeen = time.Unix(0, ns).UTC()
	}
	for i := range r.refusals {
		if n := r.refusals[i].Load(); n > 0 {
			id := adoptionOtherReason
			if i < len(adoptionReasons) {
				id = adoptionReasons[i]
			}
			c.Refusals[id] = n
		}
	}
	c.Ready = c.WithPKCE > 0 && c.WithoutPKCE == 0 && r.tokenRefusals.Load() == 0
	return c
}
