// Command pkce-audit checks a running OAuth 2.0 / OpenID Connect
// authorization server for PKCE (RFC 7636) bypasses: it runs the catalogue
// of package github.com/go-pkce/pkce/pkcetest against the server and prints
// one line per check.
//
//	go run ./cmd/pkce-audit -issuer URL -client-id ID [-client-secret S] \
//		-redirect-uri URI [-cookie 'name=value'] [-other-client-id ID [-other-client-secret S]] \
//		[-scope S] [-timeout 10s] [-json]
//
// The client must be registered for the authorization code grant with the
// redirect URI, which is never contacted: the audit reads the redirects that
// point there. The server must issue a code to a plain GET of the
// authorization URL; -cookie (repeatable) sends a logged-in session's cookie
// to the issuer's host for servers with a login page.
//
// The output is a table of check, outcome (pass, fail, warn, skip) and
// detail, then a summary line; -json prints a JSON array of objects with
// id, title, rule, outcome and detail instead. The exit status is 0 when no
// check fails, 1 when one does, 2 when the audit could not run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/go-pkce/pkce/pkcetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cookies collects repeated -cookie flags.
type cookies []*http.Cookie

func (c *cookies) String() string {
	var s []string
	for _, k := range *c {
		s = append(s, k.Name+"=…")
	}
	return strings.Join(s, "; ")
}

func (c *cookies) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return errors.New("want name=value")
	}
	*c = append(*c, &http.Cookie{Name: name, Value: strings.TrimSpace(value), Path: "/"})
	return nil
}

// run is the command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkce-audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t pkcetest.Target
	var jar cookies
	fs.StringVar(&t.Issuer, "issuer", "", "the server's issuer `URL` (metadata is read from its /.well-known/ documents)")
	fs.StringVar(&t.ClientID, "client-id", "", "a client registered for the authorization code grant")
	fs.StringVar(&t.ClientSecret, "client-secret", "", "the client's secret, sent by HTTP Basic (empty: a public client)")
	fs.StringVar(&t.OtherClientID, "other-client-id", "", "a second registered client that tries to redeem the first one's codes (empty: an unregistered one)")
	fs.StringVar(&t.OtherClientSecret, "other-client-secret", "", "the second client's secret (empty: a public client)")
	fs.StringVar(&t.RedirectURI, "redirect-uri", "", "a redirect `URI` registered for the client (never contacted)")
	fs.StringVar(&t.Scope, "scope", "", "scope to send with every authorization request (e.g. openid)")
	fs.DurationVar(&t.Timeout, "timeout", pkcetest.DefaultTimeout, "bound on every single request")
	fs.Var(&jar, "cookie", "a `name=value` cookie sent to the issuer's host (repeatable), e.g. a logged-in session")
	asJSON := fs.Bool("json", false, "print the results as a JSON array instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pkce-audit -issuer URL -client-id ID [-client-secret S] -redirect-uri URI [-cookie 'name=value'] [-json]\n\n")
		fmt.Fprintf(stderr, "Checks a running authorization server for PKCE bypasses. Exit status: 0 no check\nfailed, 1 a check failed, 2 the audit could not run.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pkce-audit: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"-issuer", t.Issuer}, {"-client-id", t.ClientID}, {"-redirect-uri", t.RedirectURI}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "pkce-audit: missing %s\n", strings.Join(missing, ", "))
		fs.Usage()
		return 2
	}
	if len(jar) > 0 {
		issuer, err := url.Parse(t.Issuer)
		if err != nil || issuer.Host == "" {
			fmt.Fprintf(stderr, "pkce-audit: -issuer %q is not an absolute URL\n", t.Issuer)
			return 2
		}
		j, _ := cookiejar.New(nil)
		j.SetCookies(&url.URL{Scheme: issuer.Scheme, Host: issuer.Host, Path: "/"}, jar)
		t.Client = &http.Client{Jar: j}
	}

	results, err := pkcetest.Audit(ctx, t)
	if err != nil {
		fmt.Fprintf(stderr, "pkce-audit: %v\n", err)
		return 2
	}
	counts := map[pkcetest.Outcome]int{}
	for _, r := range results {
		counts[r.Outcome]++
	}
	summary := fmt.Sprintf("%d checks: %d pass, %d fail, %d warn, %d skip",
		len(results), counts[pkcetest.Pass], counts[pkcetest.Fail], counts[pkcetest.Warn], counts[pkcetest.Skip])
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(stderr, "pkce-audit: %v\n", err)
			return 2
		}
		fmt.Fprintln(stderr, summary)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tOUTCOME\tDETAIL")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Outcome, r.Detail)
		}
		tw.Flush()
		fmt.Fprintln(stdout, summary)
	}
	if counts[pkcetest.Fail] > 0 {
		return 1
	}
	return 0
}
