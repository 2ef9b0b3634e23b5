package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-pkce/pkce"
)

// reportOnlySteps are the walk-through's last steps, against the same
// server in report-only mode (pkce.Config.ReportOnly): the path of a
// rollout, where a legacy client that sends no PKCE keeps working, the
// middleware reports what it would refuse, and the adoption report at
// /debug/pkce names the clients that are ready and those that are not.
func (wt *walkthrough) reportOnlySteps() []walkStep {
	ro := wt.reportOnlyIssuer
	return []walkStep{
		{"report-only server: demo-app with S256 gets its tokens", func(ctx context.Context) error {
			wt.note("the same server at %s, the middleware in report-only mode: it checks and reports, and refuses nothing", ro)
			verifier := pkce.GenerateVerifier()
			code, err := wt.authorizeAt(ctx, ro, demoApp, pkce.S256Challenge(verifier))
			if err != nil {
				return err
			}
			ans, err := wt.tokenAt(ctx, ro, "", url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {walkRedirectURI},
				"client_id": {demoApp}, "code_verifier": {verifier},
			})
			if err != nil {
				return err
			}
			return ans.wantTokens()
		}},
		{"report-only server: legacy demo-service without PKCE still gets its tokens (reported, not refused)", func(ctx context.Context) error {
			code, err := wt.authorizeAt(ctx, ro, demoService, "")
			if err != nil {
				return fmt.Errorf("%w: report-only mode refused a request", err)
			}
			ans, err := wt.tokenAt(ctx, ro, wt.serviceBasic(), url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {walkRedirectURI},
			})
			if err != nil {
				return err
			}
			if err := ans.wantTokens(); err != nil {
				return fmt.Errorf("%w: report-only mode refused a request", err)
			}
			wt.note("an enforcing server refuses this authorization request (challenge_missing); report-only passed both on and reported them")
			return nil
		}},
		{"the adoption report at /debug/pkce: demo-app is ready, demo-service is not", func(ctx context.Context) error {
			resp, err := wt.do(ctx, http.MethodGet, ro+pathDebugPKCE, "", nil)
			if err != nil {
				return err
			}
			ans := wt.answer(resp)
			fmt.Fprintf(wt.out, "    %s", ans.body)
			if ans.status != http.StatusOK {
				return fmt.Errorf("want 200, got %d", ans.status)
			}
			var report struct {
				Clients []pkce.ClientReport `json:"clients"`
				Dropped int64               `json:"dropped"`
			}
			if err := json.Unmarshal(ans.body, &report); err != nil {
				return fmt.Errorf("the report is not JSON: %v", err)
			}
			rows := map[string]pkce.ClientReport{}
			for _, c := range report.Clients {
				rows[c.ClientID] = c
			}
			app, service := rows[demoApp], rows[demoService]
			switch {
			case app.WithPKCE != 1 || !app.Ready:
				return fmt.Errorf("demo-app: want 1 code redeemed with PKCE and ready, got %+v", app)
			case service.WithoutPKCE != 1 || service.Ready:
				return fmt.Errorf("demo-service: want 1 code redeemed without PKCE and not ready, got %+v", service)
			case service.Refusals[pkce.ReasonChallengeMissing] == 0:
				return errors.New("demo-service: the report names no challenge_missing refusal")
			}
			wt.note("demo-service redeemed a code without PKCE: requiring PKCE of it now would break it.")
			wt.note("The authorization requests came before the server had recognised either client (by a")
			wt.note("redemption), so they count in \"dropped\": client IDs are what requests say.")
			wt.note("Next: enforce, with Config.Require false for the clients not ready yet (docs/rollout.md).")
			return nil
		}},
	}
}
