// Command pkce-audit checks a running OAuth 2.0 / OpenID Connect
// authorization server for PKCE (RFC 7636) bypasses: it runs the catalogue
// of package github.com/go-pkce/pkce/pkcetest against the server and prints
// one line per check.
//
//	go run ./cmd/pkce-audit -issuer URL -client-id ID [-client-secret S] \
//		-redirect-uri URI [-cookie 'name=value'] [-other-client-id ID [-other-client-secret S]] \
//		[-scope S] [-timeout 10s] [-json] [-v] [-checks]
//
// The client must be registered for the authorization code grant with the
// redirect URI, which is never contacted: the audit reads the redirects that
// point there. The server must issue a code to a plain GET of the
// authorization URL; -cookie (repeatable) sends a logged-in session's cookie
// to the issuer's host for servers with a login page. When the first
// authorization request gets a login page instead of a code, the audit
// stops at once with one line saying so.
//
// The severity rule: fail means the check demonstrated harm (a token where
// PKCE should have stopped it, a code sent to an unregistered redirect URI,
// a 5xx to a client's malformed input, metadata that makes conforming PKCE
// clients refuse the server); warn a deviation from the RFCs that the check
// could not turn into harm; skip a precondition not met, with the reason;
// info a client's duty the server need not enforce. -checks lists every
// check with the evidence that makes it fail.
//
// The output is a table of check, outcome and detail, the detail cut to the
// terminal's width (-v: in full), then a summary line counting outcomes by
// severity and naming the failing checks; -json prints a JSON array of
// objects with id, title, rule, fail_when, outcome and detail instead. The
// exit status is 0 when no check fails, 1 when one does, 2 when the audit
// could not run.
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
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

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
	verbose := fs.Bool("v", false, "print each detail in full instead of cutting it to the terminal's width")
	list := fs.Bool("checks", false, "list every check and the evidence that makes it fail, and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: pkce-audit -issuer URL -client-id ID [-client-secret S] -redirect-uri URI
           [-cookie 'name=value'] [-other-client-id ID] [-other-client-secret S]
           [-scope S] [-timeout 10s] [-json] [-v] [-checks]

Checks a running authorization server for PKCE bypasses, black-box.

Outcomes:
  fail  the check demonstrated harm: a token where PKCE should have stopped it,
        a code sent to an unregistered redirect URI, a 5xx to a client's
        malformed input, metadata that makes conforming PKCE clients refuse
  warn  a deviation from RFC 7636, RFC 9700 or RFC 6749 not turned into harm
  skip  a precondition is not met; the detail says which
  info  a client's duty the server need not enforce
  pass  the server did what the rule requires
-checks lists what makes each check fail.

Exit status: 0 no check failed, 1 a check failed, 2 the audit could not run
(a missing flag, or a login page instead of a code: pass -cookie).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *list {
		return listChecks(stdout)
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
	var login *pkcetest.LoginRequiredError
	switch {
	case errors.As(err, &login):
		fmt.Fprintf(stderr, "pkce-audit: stopped: the first authorization request got a login or consent page instead of a code (%s); "+
			"pass a logged-in session's cookie with -cookie 'name=value'\n", login.Got)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "pkce-audit: %v\n", err)
		return 2
	}
	counts := map[pkcetest.Outcome]int{}
	var failing []string
	for _, r := range results {
		counts[r.Outcome]++
		if r.Outcome == pkcetest.Fail {
			failing = append(failing, r.ID)
		}
	}
	summary := fmt.Sprintf("%d checks: %d fail, %d warn, %d pass, %d skip, %d info",
		len(results), counts[pkcetest.Fail], counts[pkcetest.Warn], counts[pkcetest.Pass], counts[pkcetest.Skip], counts[pkcetest.Info])
	if len(failing) > 0 {
		summary += "; failing: " + strings.Join(failing, ", ")
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(stderr, "pkce-audit: %v\n", err)
			return 2
		}
		fmt.Fprintln(stderr, summary)
	} else {
		width := 0
		if !*verbose {
			width = terminalWidth(stdout)
		}
		printTable(stdout, results, width)
		fmt.Fprintln(stdout, summary)
	}
	if counts[pkcetest.Fail] > 0 {
		return 1
	}
	return 0
}

// printTable prints one row per result: ID, outcome, detail, the detail cut
// so that each row fits width columns (0: no cut).
func printTable(w io.Writer, results []pkcetest.Result, width int) {
	idWidth := len("CHECK")
	for _, r := range results {
		idWidth = max(idWidth, len(r.ID))
	}
	const outcomeWidth = len("OUTCOME")
	room := width - idWidth - outcomeWidth - 4
	if width > 0 && room < 20 {
		room = 20
	}
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", idWidth, "CHECK", outcomeWidth, "OUTCOME", "DETAIL")
	for _, r := range results {
		d := r.Detail
		if width > 0 && utf8.RuneCountInString(d) > room {
			d = string([]rune(d)[:room-1]) + "…"
		}
		fmt.Fprintf(w, "%-*s  %-*s  %s\n", idWidth, r.ID, outcomeWidth, r.Outcome, d)
	}
}

// defaultWidth is the table's width when the terminal's is unknown or the
// output is not a terminal.
const defaultWidth = 120

// terminalWidth is the width to fit the table to: $COLUMNS when set, else
// the terminal's when out is one (asked of stty), else defaultWidth.
func terminalWidth(out io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	f, ok := out.(*os.File)
	if !ok {
		return defaultWidth
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return defaultWidth
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return defaultWidth
	}
	defer tty.Close()
	cmd := exec.Command("stty", "size")
	cmd.Stdin = tty
	b, err := cmd.Output()
	if err != nil {
		return defaultWidth
	}
	var rows, cols int
	if _, err := fmt.Sscan(string(b), &rows, &cols); err != nil || cols <= 0 {
		return defaultWidth
	}
	return cols
}

// listChecks prints the catalogue: each check's ID, what it expects, and
// the evidence that makes it fail.
func listChecks(w io.Writer) int {
	for _, c := range pkcetest.Checks() {
		fmt.Fprintf(w, "%s\n    %s\n    rule: %s\n    fail: %s\n", c.ID, c.Title, c.Rule, c.FailWhen)
	}
	return 0
}
