package main

import (
	"errors"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Pushed authorization requests (RFC 9126).
const (
	pathPAR = "/par"
	// pushedLifetime is how long a request_uri lives (RFC 9126 §2.2:
	// expires_in).
	pushedLifetime = 60 * time.Second
	// requestURIPrefix is the URN prefix RFC 9126 §2.2 recommends.
	requestURIPrefix = "urn:ietf:params:oauth:request_uri:"
)

// pushedRequests holds the pushed authorization requests, by request_uri.
// Its zero value is ready; it is safe for concurrent use.
type pushedRequests struct {
	mu   sync.Mutex
	reqs map[string]*pushedRequest
}

type pushedRequest struct {
	params  url.Values // the pushed parameters, client_id set to the authenticated client
	expires time.Time
	used    bool
}

// par serves the pushed authorization request endpoint (RFC 9126 §2): the
// same clients and client authentication as the token endpoint; the
// parameters are kept under a fresh request_uri, single use at code
// issuance, for 60 seconds.
func (s *server) par(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "the pushed authorization request endpoint accepts POST only (RFC 9126 section 2.1)")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "send the pushed parameters as application/x-www-form-urlencoded (RFC 9126 section 2.1)")
		return
	}
	c, fail := s.authenticate(r)
	if fail != nil {
		fail.write(w)
		return
	}
	if r.PostForm.Get("request_uri") != "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "a pushed authorization request must not carry request_uri (RFC 9126 section 2.1)")
		return
	}
	params := url.Values{}
	for k, vs := range r.PostForm {
		if k != "client_secret" {
			params[k] = vs
		}
	}
	params.Set("client_id", c.id)
	now := s.now()
	uri := requestURIPrefix + randomToken()
	if !s.pushed.add(uri, &pushedRequest{params: params, expires: now.Add(pushedLifetime)}, now) {
		tokenError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the demo server holds too many pushed requests; try again in a minute")
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}{uri, int(pushedLifetime / time.Second)})
}

// add keeps p under uri, unless too many are held.
func (pr *pushedRequests) add(uri string, p *pushedRequest, now time.Time) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.reqs == nil {
		pr.reqs = make(map[string]*pushedRequest)
	}
	if len(pr.reqs) >= maxGrants {
		for k, q := range pr.reqs {
			if !now.Before(q.expires) {
				delete(pr.reqs, k)
			}
		}
		if len(pr.reqs) >= maxGrants {
			return false
		}
	}
	pr.reqs[uri] = p
	return true
}

var (
	errPushedUnknown = errors.New("the request_uri is unknown or expired: push the authorization request again")
	errPushedUsed    = errors.New("the request_uri was already used: a request_uri is single use (RFC 9126 section 4); push the authorization request again")
	errPushedClient  = errors.New("the request_uri was pushed by another client")
)

// resolvePushed replaces the parameters of an authorization request that
// names a request_uri with the pushed ones (RFC 9126 §4), once its client
// is checked. It returns the request_uri, "" when the request names none.
// r.Form must be parsed.
func (s *server) resolvePushed(r *http.Request) (string, error) {
	uri := r.Form.Get("request_uri")
	if uri == "" {
		return "", nil
	}
	s.pushed.mu.Lock()
	defer s.pushed.mu.Unlock()
	p, ok := s.pushed.reqs[uri]
	switch {
	case !ok || !s.now().Before(p.expires):
		return "", errPushedUnknown
	case p.used:
		return "", errPushedUsed
	case r.Form.Get("client_id") != p.params.Get("client_id"):
		return "", errPushedClient
	}
	r.Form = maps.Clone(p.params)
	return uri, nil
}

// usePushed makes the request_uri single use once a code was issued for it.
func (s *server) usePushed(uri string) {
	if uri == "" {
		return
	}
	s.pushed.mu.Lock()
	if p, ok := s.pushed.reqs[uri]; ok {
		p.used = true
	}
	s.pushed.mu.Unlock()
}
