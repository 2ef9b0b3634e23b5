package pkceprom

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-pkce/pkce"
)

// Options configures [New]. The zero value is ready: no per-client metric.
type Options struct {
	// ClientIDs are the clients whose decisions are also counted in
	// pkce_client_decisions_total, labelled with their ID: the clients of
	// the rollout the operator is watching. List only IDs you registered:
	// each adds series. "" stands for requests that named no client. nil:
	// no per-client metric.
	ClientIDs []string
}

// Metrics counts the middleware's events as Prometheus counters. It is a
// [prometheus.Collector]: register it, and pass [Metrics.Observe] as
// [pkce.Config.OnEvent]. Create it with [New]. It is safe for concurrent
// use.
type Metrics struct {
	decisions     *prometheus.Desc
	clientDecided *prometheus.Desc
	clientIDs     []string       // as listed, without repeats
	clientIndex   map[string]int // read-only after New
	// counts[endpoint][decision][pkce][method]
	counts [len(endpoints)][decisions][2][len(methods)]atomic.Uint64
	// clientCounts[client][endpoint][decision][pkce]
	clientCounts [][len(endpoints)][decisions][2]atomic.Uint64
}

// New returns Metrics that count per client the IDs of o.ClientIDs, or an
// error for an ID that cannot be a label value (not UTF-8).
func New(o Options) (*Metrics, error) {
	m := &Metrics{
		decisions: prometheus.NewDesc("pkce_decisions_total",
			"Decisions of the PKCE middleware, one per request it reported: accepted, refused, or reported (would be refused; report-only mode).",
			[]string{"endpoint", "outcome", "reason", "pkce", "method"}, nil),
		clientIndex: make(map[string]int, len(o.ClientIDs)),
	}
	for _, id := range o.ClientIDs {
		if !utf8.ValidString(id) {
			return nil, fmt.Errorf("pkceprom: Options.ClientIDs: %q is not valid UTF-8", id)
		}
		if _, dup := m.clientIndex[id]; dup {
			continue
		}
		m.clientIndex[id] = len(m.clientIDs)
		m.clientIDs = append(m.clientIDs, id)
	}
	if len(m.clientIDs) > 0 {
		m.clientDecided = prometheus.NewDesc("pkce_client_decisions_total",
			"Decisions of the PKCE middleware for the clients the operator listed.",
			[]string{"client_id", "endpoint", "outcome", "reason", "pkce"}, nil)
		m.clientCounts = make([][len(endpoints)][decisions][2]atomic.Uint64, len(m.clientIDs))
	}
	return m, nil
}

// Observe counts e. Pass it as [pkce.Config.OnEvent]. It takes no lock and
// allocates nothing. It is safe for concurrent use.
func (m *Metrics) Observe(e pkce.Event) {
	ep, d, p := endpointIndex(e.Endpoint), decisionIndex(e), 0
	if e.PKCE {
		p = 1
	}
	m.counts[ep][d][p][methodIndex(e.Method)].Add(1)
	if m.clientCounts != nil {
		if c, ok := m.clientIndex[e.ClientID]; ok {
			m.clientCounts[c][ep][d][p].Add(1)
		}
	}
}

// Describe sends the descriptions of the metrics. It is part of
// [prometheus.Collector].
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.decisions
	if m.clientDecided != nil {
		ch <- m.clientDecided
	}
}

// Collect sends every counter that counted something. It is part of
// [prometheus.Collector] and safe for concurrent use.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for ep := range m.counts {
		for d := range m.counts[ep] {
			outcome, reason := decisionLabels(d)
			for p := range m.counts[ep][d] {
				for mt := range m.counts[ep][d][p] {
					if n := m.counts[ep][d][p][mt].Load(); n > 0 {
						ch <- prometheus.MustNewConstMetric(m.decisions, prometheus.CounterValue, float64(n),
							endpoints[ep], outcome, reason, strconv.FormatBool(p == 1), methods[mt])
					}
				}
			}
		}
	}
	for c, id := range m.clientIDs {
		for ep := range m.clientCounts[c] {
			for d := range m.clientCounts[c][ep] {
				outcome, reason := decisionLabels(d)
				for p := range m.clientCounts[c][ep][d] {
					if n := m.clientCounts[c][ep][d][p].Load(); n > 0 {
						ch <- prometheus.MustNewConstMetric(m.clientDecided, prometheus.CounterValue, float64(n),
							id, endpoints[ep], outcome, reason, strconv.FormatBool(p == 1))
					}
				}
			}
		}
	}
}

// The label values. Each label has a fixed set, so that no request can add
// a series.
var (
	endpoints = [...]string{"authorize", "token", "par", "other"}
	methods   = [...]string{string(pkce.S256), string(pkce.Plain), "none", "other"}
	// reasons are the reason IDs of pkce.Event.Refusal; the last is for an
	// ID outside the table.
	reasons = [...]string{
		pkce.ReasonChallengeMissing, pkce.ReasonMethodNotAllowed, pkce.ReasonChallengeMalformed,
		pkce.ReasonChallengeConflict, pkce.ReasonVerifierMissing, pkce.ReasonVerifierMalformed,
		pkce.ReasonVerifierMismatch, pkce.ReasonClientMismatch, pkce.ReasonCodeReused,
		pkce.ReasonDowngrade, pkce.ReasonDuplicateParameter, pkce.ReasonParameterCase,
		pkce.ReasonBodyConsumed, pkce.ReasonRequestURIUnknown, pkce.ReasonRequestUnreadable,
		pkce.ReasonResponseUnreadable, pkce.ReasonMultipleCodes, pkce.ReasonRebind,
		pkce.ReasonBadRequest, pkce.ReasonStoreError, pkce.ReasonStoreFull,
		"other",
	}
)

// decisions is the number of (outcome, reason) pairs: accepted, then
// refused for each reason, then reported for each reason.
const decisions = 1 + 2*len(reasons)

func endpointIndex(endpoint string) int {
	switch endpoint {
	case "authorize":
		return 0
	case "token":
		return 1
	case "par":
		return 2
	}
	return 3
}

func methodIndex(m pkce.Method) int {
	switch m {
	case pkce.S256:
		return 0
	case pkce.Plain:
		return 1
	case "":
		return 2
	}
	return 3
}

func decisionIndex(e pkce.Event) int {
	if e.Refusal == "" {
		return 0
	}
	r := slices.Index(reasons[:len(reasons)-1], e.Refusal)
	if r < 0 {
		r = len(reasons) - 1
	}
	if e.Enforced {
		return 1 + r
	}
	return 1 + len(reasons) + r
}

// decisionLabels returns the outcome and reason labels of decision d.
func decisionLabels(d int) (outcome, reason string) {
	switch {
	case d == 0:
		return "accepted", "none"
	case d <= len(reasons):
		return "refused", reasons[d-1]
	}
	return "reported", reasons[d-1-len(reasons)]
}
