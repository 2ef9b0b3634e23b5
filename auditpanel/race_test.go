package auditpanel

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce/pkcetest"
)

// Bounds of the race measurements, so the panel stays quick on a shared
// two-core machine.
const (
	raceCodes    = 100             // codes raced directly, at most
	raceRedeems  = 8               // concurrent redemptions of each code
	raceAudits   = 10              // whole audits, at most
	raceDuration = 6 * time.Second // per measurement, at most
)

// TestRaceDetection measures, without pinning it, how often two concurrent
// redemptions of one code both get a token (the ground truth, raced
// directly), and how often the audit's token.parallel catches it. A race
// is not deterministic: the rates are logged, and only a server whose
// redemption is atomic is held to zero double redemptions.
func TestRaceDetection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		start  func(*testing.T) string
		atomic bool // no code may ever be redeemed twice
	}{
		// go-oauth2 reads the code, then deletes it, then issues: two
		// requests can both read it before either deletes it.
		{"go-oauth2", func(t *testing.T) string { return startGoOAuth2(t, false) }, false},
		{"fosite", func(t *testing.T) string { return startFosite(t, false) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := tc.start(t)
			raced, doubled := raceDirectly(t, issuer)
			t.Logf("raced directly: %d of %d codes redeemed more than once (%d concurrent redemptions each)", doubled, raced, raceRedeems)
			if tc.atomic && doubled > 0 {
				t.Errorf("%d codes redeemed more than once", doubled)
			}

			deadline := time.Now().Add(raceDuration)
			audits, caught := 0, 0
			var detail string
			for audits < raceAudits && time.Now().Before(deadline) {
				r := quietAudit(t, panelTarget(issuer))["token.parallel"]
				audits++
				if r.Outcome == pkcetest.Fail {
					caught++
				}
				detail = r.Detail
			}
			t.Logf("token.parallel failed in %d of %d audits; its last detail: %s", caught, audits, detail)
		})
	}
}

// raceDirectly mints codes one at a time and redeems each with raceRedeems
// concurrent requests over connections opened beforehand, and returns how
// many codes it raced and how many got more than one token.
func raceDirectly(t *testing.T, issuer string) (raced, doubled int) {
	t.Helper()
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: raceRedeems},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	t.Cleanup(client.CloseIdleConnections)
	deadline := time.Now().Add(raceDuration)
	for raced < raceCodes && time.Now().Before(deadline) {
		verifier := newVerifier()
		code := mintCode(t, client, issuer, verifier)
		if raced == 0 {
			warm(t, client, issuer)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		tokens := 0
		for range raceRedeems {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if redeem(client, issuer, code, verifier) {
					mu.Lock()
					tokens++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		raced++
		if tokens > 1 {
			doubled++
		}
	}
	return raced, doubled
}

// warm opens raceRedeems connections to issuer and leaves them idle.
func warm(t *testing.T, client *http.Client, issuer string) {
	t.Helper()
	var wg sync.WaitGroup
	for range raceRedeems {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(issuer + "/.well-known/oauth-authorization-server")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// mintCode runs an authorization request with an S256 challenge of
// verifier and returns the code of its redirect.
func mintCode(t *testing.T, client *http.Client, issuer, verifier string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {panelClient},
		"redirect_uri":          {panelRedirect},
		"state":                 {"race-state"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	resp, err := client.Get(issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code: HTTP %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// redeem reports whether a token request for code got an access token.
func redeem(client *http.Client, issuer, code, verifier string) bool {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {panelRedirect},
		"client_id":     {panelClient},
		"code_verifier": {verifier},
	}
	resp, err := client.Post(issuer+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func newVerifier() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
