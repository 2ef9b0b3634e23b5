package pkcetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// maxBody bounds every response body the audit reads.
const maxBody = 1 << 20

// maxTimeouts is how many requests may go unanswered before the audit stops
// sending more and reports the rest as unanswered, so a hanging server costs
// a few timeouts, not one per check.
const maxTimeouts = 3

// attackerRedirect is the redirect_uri the audit sends where it must not be
// redirected to. It is never contacted (.invalid never resolves, RFC 6761).
const attackerRedirect = "https://attacker.pkcetest.invalid/callback"

// auditor holds what the checks of one audit share: the target, the
// metadata read once, the endpoints and the baseline exchange.
type auditor struct {
	t        Target
	client   *http.Client
	timeout  time.Duration
	redirect *url.URL
	attacker *url.URL

	docs [2]metadataDoc // RFC 8414, then OpenID

	authzEndpoint, tokenEndpoint string
	endpointProblem              string // why an endpoint is unknown
	parEndpoint                  string // RFC 9126; "" when none is advertised
	parProblem                   string // why parEndpoint is ""

	timeouts atomic.Int32

	baseOnce sync.Once
	base     baseline

	optOnce   sync.Once // optionalPKCE
	optIssued bool
	optResult authResult

	postOnce sync.Once // postSkip
	postWhy  string

	probeOnce sync.Once // verifierProbe
	probe     verifierProbe

	parOnce    sync.Once // parBase
	parBaseRes parBaseline
}

// metadataDoc is one metadata document as the server served it.
type metadataDoc struct {
	name    string // the well-known suffix
	url     string
	obj     map[string]any // nil unless a JSON object was served
	problem string         // why obj is nil
}

func newAuditor(ctx context.Context, t Target) (*auditor, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	a := &auditor{t: t, timeout: t.Timeout}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	c := http.Client{}
	if t.Client != nil {
		c = *t.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	a.client = &c
	a.redirect, _ = url.Parse(t.RedirectURI)
	a.attacker, _ = url.Parse(attackerRedirect)

	issuer, _ := url.Parse(t.Issuer)
	path := strings.TrimSuffix(issuer.EscapedPath(), "/")
	origin := issuer.Scheme + "://" + issuer.Host
	// RFC 8414 §3: the well-known segment goes between host and path;
	// OpenID Connect Discovery §4: it is appended to the issuer.
	a.docs[0] = a.fetchMetadata(ctx, "oauth-authorization-server", origin+"/.well-known/oauth-authorization-server"+path)
	a.docs[1] = a.fetchMetadata(ctx, "openid-configuration", origin+path+"/.well-known/openid-configuration")
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pkcetest: audit interrupted: %w", err)
	}
	a.authzEndpoint, a.tokenEndpoint = t.AuthorizationEndpoint, t.TokenEndpoint
	var problems []string
	if a.authzEndpoint == "" {
		a.authzEndpoint = a.endpointFromMetadata("authorization_endpoint", issuer, &problems)
	}
	if a.tokenEndpoint == "" {
		a.tokenEndpoint = a.endpointFromMetadata("token_endpoint", issuer, &problems)
	}
	a.endpointProblem = strings.Join(problems, "; ")
	a.parEndpoint = t.PAREndpoint
	if a.parEndpoint == "" {
		var why []string
		a.parEndpoint = a.endpointFromMetadata("pushed_authorization_request_endpoint", issuer, &why)
		a.parProblem = strings.Join(why, "; ")
	}
	return a, nil
}

// targetField is the Target field that names each endpoint of the
// metadata.
var targetField = map[string]string{
	"authorization_endpoint":                "AuthorizationEndpoint",
	"token_endpoint":                        "TokenEndpoint",
	"pushed_authorization_request_endpoint": "PAREndpoint",
}

// endpointFromMetadata returns the named endpoint of the first document
// that has a usable one on the issuer's host.
func (a *auditor) endpointFromMetadata(member string, issuer *url.URL, problems *[]string) string {
	var why []string
	for _, d := range a.docs {
		if d.obj == nil {
			continue
		}
		s, _ := d.obj[member].(string)
		if s == "" {
			why = append(why, d.name+" has no "+member)
			continue
		}
		u, err := absoluteURL(s)
		if err != nil {
			why = append(why, d.name+"'s "+member+" "+err.Error())
			continue
		}
		if !strings.EqualFold(u.Host, issuer.Host) {
			why = append(why, fmt.Sprintf("%s's %s %q is not on the issuer's host %s (set Target.%s to audit it)",
				d.name, member, s, issuer.Host, targetField[member]))
			continue
		}
		return s
	}
	if len(why) == 0 {
		why = append(why, "no metadata document could be read, so the "+member+" is unknown")
	}
	*problems = append(*problems, strings.Join(why, "; "))
	return ""
}

func (a *auditor) fetchMetadata(ctx context.Context, name, u string) metadataDoc {
	d := metadataDoc{name: name, url: u}
	res, err := a.send(ctx, http.MethodGet, u, nil, http.Header{"Accept": {"application/json"}})
	switch {
	case err != nil:
		d.problem = err.Error()
	case res.status != http.StatusOK:
		d.problem = fmt.Sprintf("HTTP %d%s", res.status, res.snippet())
	case res.truncated:
		d.problem = "the document is larger than 1 MiB"
	default:
		if err := json.Unmarshal(res.body, &d.obj); err != nil || d.obj == nil {
			d.obj = nil
			d.problem = "the body is not a JSON object" + res.snippet()
		}
	}
	return d
}

// response is a server's answer, its body read up to maxBody.
type response struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool
}

// send makes one request bounded by the target's timeout, reading at most
// maxBody of the answer, following no redirect.
func (a *auditor) send(ctx context.Context, method, rawURL string, body io.Reader, header http.Header) (*response, error) {
	return a.sendVia(ctx, a.client, method, rawURL, body, header)
}

// sendVia is send through client c.
func (a *auditor) sendVia(ctx context.Context, c *http.Client, method, rawURL string, body io.Reader, header http.Header) (*response, error) {
	if n := a.timeouts.Load(); n >= maxTimeouts {
		return nil, fmt.Errorf("not sent: %d earlier requests got no answer within %v", n, a.timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, fmt.Errorf("cannot build the request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, a.describeError(ctx, err)
	}
	return a.read(ctx, resp)
}

// read reads and closes resp's body, bounded by maxBody and ctx.
func (a *auditor) read(ctx context.Context, resp *http.Response) (*response, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, a.describeError(ctx, fmt.Errorf("reading the body of an HTTP %d answer: %w", resp.StatusCode, err))
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if len(b) > maxBody {
		r.body, r.truncated = b[:maxBody], true
	}
	return r, nil
}

// describeError words a transport error and counts timeouts.
func (a *auditor) describeError(ctx context.Context, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		a.timeouts.Add(1)
		return fmt.Errorf("no answer within %v", a.timeout)
	}
	return fmt.Errorf("no usable answer: %v", err)
}

// snippet is the start of the body on one line, for details.
func (r *response) snippet() string {
	if len(r.body) == 0 {
		return ""
	}
	return ": " + oneLine(string(r.body), 100)
}

// oneLine makes s printable on one line of at most n runes.
func oneLine(s string, n int) string {
	var b strings.Builder
	space := false
	count := 0
	for _, c := range s {
		if count >= n {
			b.WriteString("…")
			break
		}
		if unicode.IsSpace(c) || !unicode.IsPrint(c) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
				count++
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(c)
		count++
	}
	return strings.TrimSpace(b.String())
}

// newVerifier returns a fresh RFC 7636 §4.1 verifier: base64url of 32
// random bytes, 43 characters.
func newVerifier() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newState returns a fresh state value.
func newState() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// s256 is RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(verifier))).
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// basicAuth is the Authorization header value for user and password,
// each form-encoded before base64 (RFC 6749 §2.3.1).
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user)+":"+url.QueryEscape(password)))
}

// withQuery appends q to endpoint, which may carry a query already.
func withQuery(endpoint, q string) string {
	if q == "" {
		return endpoint
	}
	if strings.Contains(endpoint, "?") {
		return endpoint + "&" + q
	}
	return endpoint + "?" + q
}
