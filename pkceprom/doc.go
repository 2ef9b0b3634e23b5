// Package pkceprom turns the events of the PKCE middleware
// (github.com/go-pkce/pkce) into Prometheus counters, so that a rollout is
// watched on a dashboard: how many requests send PKCE, how many the
// middleware refused or, in report-only mode, would have refused, and why.
//
//	metrics, err := pkceprom.New(pkceprom.Options{})
//	if err != nil { ... }
//	prometheus.MustRegister(metrics)
//	m, err := pkce.New(pkce.Config{ReportOnly: true, OnEvent: metrics.Observe})
//
// To feed an [pkce.Adoption] report too, call both from one function:
//
//	OnEvent: func(e pkce.Event) { adoption.Observe(e); metrics.Observe(e) },
//
// # Metrics
//
// pkce_decisions_total counts the middleware's decisions ([pkce.Event]),
// one per request it reports, with these labels, each from a fixed set so
// that no request can add a series:
//
//   - endpoint: authorize, token, par; other for anything else.
//   - outcome: accepted; refused (the refusal was sent); reported (under
//     report-only, the request went on to the server).
//   - reason: the refusal's reason ID, one of the pkce.Reason constants
//     (challenge_missing, verifier_mismatch, ...); none when accepted;
//     other for an ID outside the table.
//   - pkce: true when the request carried a code_challenge (authorize,
//     par) or its code was bound to one (token); else false.
//   - method: S256, plain; none when the event names no method; other for
//     anything else.
//
// pkce_client_decisions_total counts the same decisions of the clients the
// operator listed in [Options.ClientIDs], with the labels client_id,
// endpoint, outcome, reason and pkce. A client ID is whatever a request
// says, so only the listed IDs ever become label values: the events of
// every other client are counted in pkce_decisions_total only. Without a
// list, there is no per-client metric.
//
// A series appears at its first count, as with a CounterVec.
//
// The counts live in fixed arrays: [Metrics.Observe] is a few atomic
// additions, with no lock and no allocation, and memory does not grow
// with traffic.
package pkceprom
