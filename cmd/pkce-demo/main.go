// Command pkce-demo runs a small homegrown OAuth 2.0 / OpenID Connect
// authorization server that knows nothing of PKCE, wrapped by the PKCE
// middleware of github.com/go-pkce/pkce.
//
// With no flags it starts the server on a free 127.0.0.1 port, walks a
// client through it step by step, printing each request and answer, and
// exits non-zero if any step did not behave:
//
//	go run ./cmd/pkce-demo
//
// With -serve it keeps the server up until interrupted and prints its issuer
// URL as the first line of its output:
//
//	go run ./cmd/pkce-demo -serve [-addr 127.0.0.1:8080]
//
// -unprotected serves (or walks through) the same server without the
// middleware, to see what the middleware changes. -report-only serves it
// with the middleware in report-only mode (pkce.Config.ReportOnly): every
// check runs and is reported, nothing is refused; it protects nothing.
//
//	go run ./cmd/pkce-demo -serve -report-only
//
// In every -serve mode, GET /debug/pkce serves the middleware's adoption
// report (pkce.Adoption): per client, the codes redeemed with and without
// PKCE, the refusals by reason, and whether requiring PKCE would break
// nothing seen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

const defaultServeAddr = "127.0.0.1:8080"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command: it returns the exit code. In -serve mode it serves
// until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pkce-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serve := fs.Bool("serve", false, "keep the server up until interrupted instead of walking a client through it")
	addr := fs.String("addr", defaultServeAddr, "`address` to listen on: a loopback address, port 0 for a free one (without -serve, default: a free port)")
	unprotected := fs.Bool("unprotected", false, "serve the homegrown server without the PKCE middleware")
	reportOnly := fs.Bool("report-only", false, "with -serve: the PKCE middleware in report-only mode (checks and reports, refuses nothing)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pkce-demo [-serve [-addr host:port]] [-unprotected | -report-only]\n\n")
		fmt.Fprintf(stderr, "Without -serve, starts the demo server on a free port, walks a client through it\nand exits non-zero if any step did not behave.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pkce-demo: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	switch {
	case *reportOnly && *unprotected:
		fmt.Fprintln(stderr, "pkce-demo: -report-only and -unprotected exclude each other: report-only runs the middleware, -unprotected leaves it out")
		fs.Usage()
		return 2
	case *reportOnly && !*serve:
		fmt.Fprintln(stderr, "pkce-demo: -report-only needs -serve (the walk-through shows report-only mode in its own steps)")
		fs.Usage()
		return 2
	}
	md := modeProtected
	switch {
	case *unprotected:
		md = modeUnprotected
	case *reportOnly:
		md = modeReportOnly
	}
	listenAddr := "127.0.0.1:0"
	if *serve || flagSet(fs, "addr") {
		listenAddr = *addr
	}
	if err := checkLoopback(listenAddr); err != nil {
		fmt.Fprintf(stderr, "pkce-demo: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		fmt.Fprintf(stderr, "pkce-demo: %v\n", err)
		return 1
	}
	issuer := "http://" + ln.Addr().String()

	var logger *slog.Logger
	if *serve {
		// Requests log from many goroutines; keep their lines whole.
		stderr = &lockedWriter{w: stderr}
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	h, err := newHandler(issuer, md, logger)
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "pkce-demo: %v\n", err)
		return 1
	}
	if *serve {
		h = accessLog(h, stderr)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()

	if !*serve {
		wt := &walkthrough{issuer: issuer, out: stdout, protected: !*unprotected}
		if wt.protected {
			// A second server, in report-only mode, for the walk-through's
			// last steps.
			ro, stop, err := startReportOnly()
			if err != nil {
				fmt.Fprintf(stderr, "pkce-demo: %v\n", err)
				return 1
			}
			defer stop()
			wt.reportOnlyIssuer = ro
		}
		if failed := wt.run(ctx); failed > 0 {
			return 1
		}
		return 0
	}

	// The issuer first, alone on its line: scripts read it.
	fmt.Fprintln(stdout, issuer)
	switch md {
	case modeUnprotected:
		fmt.Fprintln(stdout, "pkce-demo: serving WITHOUT the PKCE middleware (-unprotected)")
	case modeReportOnly:
		fmt.Fprintln(stdout, "pkce-demo: serving with the PKCE middleware in REPORT-ONLY mode (-report-only): every check runs and")
		fmt.Fprintln(stdout, "is logged and counted at /debug/pkce, nothing is refused: it protects nothing")
	default:
		fmt.Fprintln(stdout, "pkce-demo: serving with the PKCE middleware (S256 required)")
	}
	writeHelp(stdout, issuer)
	fmt.Fprintln(stdout, "Stop with Ctrl-C.")
	select {
	case <-ctx.Done():
		return 0
	case err := <-served:
		fmt.Fprintf(stderr, "pkce-demo: %v\n", err)
		return 1
	}
}

// writeHelp lists the clients and the endpoints.
func writeHelp(w io.Writer, issuer string) {
	fmt.Fprintf(w, `Clients (any redirect_uri on http://127.0.0.1, http://[::1] or http://localhost, any port):
  demo-app      public                            authorization_code, refresh_token
  demo-service  confidential, secret demo-secret  authorization_code, refresh_token, client_credentials
Endpoints:
  authorize  %[1]s/authorize
  token      %[1]s/token
  jwks       %[1]s/jwks.json
  metadata   %[1]s/.well-known/openid-configuration
             %[1]s/.well-known/oauth-authorization-server
  adoption   %[1]s/debug/pkce (the PKCE adoption report, per client)
`, issuer)
}

// startReportOnly starts the demo server in report-only mode on a free
// loopback port and returns its issuer and a function that stops it.
func startReportOnly() (issuer string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	issuer = "http://" + ln.Addr().String()
	h, err := newHandler(issuer, modeReportOnly, nil)
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return issuer, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkLoopback refuses to listen beyond this machine: the demo consents to
// every request without a login.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-addr %q: the demo issues codes without a login, so it listens on a loopback address only (e.g. 127.0.0.1:8080)", addr)
}

// accessLog writes one line per request to w: method, path and status.
func accessLog(h http.Handler, w io.Writer) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: rw}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		fmt.Fprintf(w, "%s %s %s -> %d\n", time.Now().Format(time.TimeOnly), r.Method, r.URL.Path, sw.status)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
