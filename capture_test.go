package pkce_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// events is the order in which things happened during one request.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

// spyWriter records what reaches the real response writer.
type spyWriter struct {
	http.ResponseWriter
	ev *events
}

func (s spyWriter) WriteHeader(code int) {
	s.ev.add("header " + http.StatusText(code))
	s.ResponseWriter.WriteHeader(code)
}

func (s spyWriter) Write(b []byte) (int, error) {
	s.ev.add("write")
	return s.ResponseWriter.Write(b)
}

func (s spyWriter) Flush() {
	s.ev.add("flush")
	http.NewResponseController(s.ResponseWriter).Flush()
}

func (s spyWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// eventStore is a MemoryStore that records each Save.
type eventStore struct {
	*pkce.MemoryStore
	ev *events
}

func (s eventStore) Save(ctx context.Context, key string, c pkce.Challenge) error {
	s.ev.add("save")
	return s.MemoryStore.Save(ctx, key, c)
}

// captureRig runs handler behind Authorize with a spy around it.
type captureRig struct {
	ev   *events
	srv  *httptest.Server
	logs *bytes.Buffer
}

func newCaptureRig(t *testing.T, cfg pkce.Config, handler http.HandlerFunc) *captureRig {
	t.Helper()
	rig := &captureRig{ev: &events{}, logs: &bytes.Buffer{}}
	cfg.Store = eventStore{pkce.NewMemoryStore(), rig.ev}
	var mu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, rig.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := pkce.New(cfg)
	require.NoError(t, err)
	wrapped := m.Authorize(handler)
	rig.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wrapped.ServeHTTP(spyWriter{w, rig.ev}, r)
		rig.ev.add("handler returned")
	}))
	t.Cleanup(rig.srv.Close)
	return rig
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (rig *captureRig) do(t *testing.T, method string) (*http.Response, string) {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {testRedirect},
		"code_challenge": {pkce.S256Challenge(pkce.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	req, err := http.NewRequest(method, rig.srv.URL+"/authorize?"+q.Encode(), nil)
	require.NoError(t, err)
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

const withCode = testRedirect + "?code=the-code&state=s"

func TestCapturePitfalls(t *testing.T) {
	page := func(w io.Writer) {
		io.WriteString(w, `<html><body><form method="post" action="`+testRedirect+`">`)
		io.WriteString(w, `<input type="hidden" name="code" value="the-code"></form></body></html>`)
	}
	tests := []struct {
		name       string
		method     string
		handler    http.HandlerFunc
		wantStatus int
		want       []string // events, in order
		check      func(t *testing.T, resp *http.Response, body string)
	}{
		{
			name: "redirect",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, withCode, http.StatusFound)
			},
			wantStatus: http.StatusFound,
			want:       []string{"save", "header Found", "write", "handler returned"},
		},
		{
			name: "WriteHeader twice: the first status wins",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", withCode)
				w.WriteHeader(http.StatusSeeOther)
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: http.StatusSeeOther,
			want:       []string{"save", "header See Other", "handler returned"},
		},
		{
			name: "1xx first passes through",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Set("Location", withCode)
				w.WriteHeader(http.StatusFound)
			},
			wantStatus: http.StatusFound,
			want:       []string{"header Early Hints", "save", "header Found", "handler returned"},
		},
		{
			name: "flush before redirecting implies 200 and still binds the code",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", withCode)
				w.(http.Flusher).Flush()
			},
			wantStatus: http.StatusOK,
			want:       []string{"save", "header OK", "flush", "handler returned"},
		},
		{
			name: "form_post page held through a flush until the code is bound",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body>")
				require.NoError(t, http.NewResponseController(w).Flush())
				page(w)
			},
			wantStatus: http.StatusOK,
			want:       []string{"save", "header OK", "write", "handler returned"},
		},
		{
			name: "untyped page is looked at too",
			handler: func(w http.ResponseWriter, r *http.Request) {
				page(w)
			},
			wantStatus: http.StatusOK,
			want:       []string{"save", "header OK", "write", "handler returned"},
			check: func(t *testing.T, resp *http.Response, body string) {
				assert.Contains(t, resp.Header.Get("Content-Type"), "text/html", "net/http still sniffs the type")
			},
		},
		{
			name: "Location set after the body started is not sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "<p>hello</p>")
				w.Header().Set("Location", withCode)
			},
			wantStatus: http.StatusOK,
			want:       []string{"header OK", "write", "handler returned"},
			check: func(t *testing.T, resp *http.Response, body string) {
				assert.Empty(t, resp.Header.Get("Location"))
			},
		},
		{
			name: "Location without a code is not bound",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, testRedirect+"?error=access_denied", http.StatusFound)
			},
			wantStatus: http.StatusFound,
			want:       []string{"header Found", "write", "handler returned"},
		},
		{
			name: "an error page streams",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, "bad")
				w.(http.Flusher).Flush()
				io.WriteString(w, "request")
			},
			wantStatus: http.StatusBadRequest,
			want:       []string{"header Bad Request", "write", "flush", "write", "handler returned"},
		},
		{
			name: "an encoded page streams",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Content-Encoding", "br")
				io.WriteString(w, "opaque")
			},
			wantStatus: http.StatusOK,
			want:       []string{"header OK", "write", "handler returned"},
		},
		{
			name: "JSON streams",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{}`)
			},
			wantStatus: http.StatusOK,
			want:       []string{"header OK", "write", "handler returned"},
		},
		{
			name:   "HEAD redirect with a code is bound",
			method: http.MethodHead,
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, withCode, http.StatusFound)
			},
			wantStatus: http.StatusFound,
			want:       []string{"save", "header Found", "handler returned"},
		},
		{
			name: "several codes: 500 before anything leaves, nothing saved",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, withCode+"&code=another", http.StatusFound)
			},
			wantStatus: http.StatusInternalServerError,
			want:       []string{"header Internal Server Error", "write", "handler returned"},
			check: func(t *testing.T, resp *http.Response, body string) {
				assert.Empty(t, resp.Header.Get("Location"))
				assert.Contains(t, body, "several codes")
			},
		},
		{
			name: "encrypted JARM response: 500 before anything leaves, nothing saved",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, testRedirect+"?response=h.k.iv.ct.tag", http.StatusFound)
			},
			wantStatus: http.StatusInternalServerError,
			want:       []string{"header Internal Server Error", "write", "handler returned"},
			check: func(t *testing.T, resp *http.Response, body string) {
				assert.Empty(t, resp.Header.Get("Location"))
				assert.Contains(t, body, "encrypted JARM response")
			},
		},
		{
			name: "xhtml form_post page held until the code is bound",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xhtml+xml")
				page(w)
			},
			wantStatus: http.StatusOK,
			want:       []string{"save", "header OK", "write", "handler returned"},
		},
		{
			name: "a page whose form posts elsewhere is held, then sent, nothing saved",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, `<form method="post" action="/consent"><input type="hidden" name="code" value="the-code"></form>`)
			},
			wantStatus: http.StatusOK,
			want:       []string{"header OK", "write", "handler returned"},
		},
		{
			name: "nothing written",
			handler: func(w http.ResponseWriter, r *http.Request) {
			},
			wantStatus: http.StatusOK,
			want:       []string{"header OK", "handler returned"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newCaptureRig(t, pkce.Config{}, tt.handler)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			resp, body := rig.do(t, method)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			got := rig.ev.list()
			// http.Redirect on HEAD writes no body.
			assert.Equal(t, tt.want, got)
			if tt.check != nil {
				tt.check(t, resp, body)
			}
		})
	}
}

func TestCaptureResponseController(t *testing.T) {
	rig := newCaptureRig(t, pkce.Config{}, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		assert.NoError(t, rc.SetWriteDeadline(time.Now().Add(time.Minute)), "reached through Unwrap")
		w.Header().Set("Location", withCode)
		w.WriteHeader(http.StatusFound)
		assert.NoError(t, rc.Flush())
	})
	resp, _ := rig.do(t, http.MethodGet)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, []string{"save", "header Found", "flush", "handler returned"}, rig.ev.list())
}

func TestCaptureBound(t *testing.T) {
	padding := strings.Repeat("<p>lorem ipsum</p>", 100) // 1,800 bytes
	tests := []struct {
		name     string
		page     string
		captured bool
	}{
		{"code within the bound, page longer", `<form method="post" action="` + testRedirect + `"><input name="code" value="the-code"></form>` + padding, true},
		{"code past the bound", `<form method="post" action="` + testRedirect + `">` + padding + `<input name="code" value="the-code"></form>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newCaptureRig(t, pkce.Config{MaxCaptureBytes: 1024}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				for chunk := range slices(tt.page, 100) {
					io.WriteString(w, chunk)
				}
			})
			resp, body := rig.do(t, http.MethodGet)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tt.page, body, "the page arrives whole")
			saved := false
			for _, e := range rig.ev.list() {
				saved = saved || e == "save"
			}
			assert.Equal(t, tt.captured, saved)
			if !tt.captured {
				assert.Contains(t, rig.logs.String(), "longer than the capture bound")
			}
		})
	}
}

// slices cuts s into pieces of n bytes.
func slices(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// A handler that panics after setting a Location with a code: a recovering
// middleware outside must not send that unbound code with its 500.
func TestCapturePanicDropsUnboundLocation(t *testing.T) {
	m, err := pkce.New(pkce.Config{})
	require.NoError(t, err)
	wrapped := m.Authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", withCode)
		panic("handler bug")
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if recover() != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		wrapped.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rig := &captureRig{srv: srv}
	resp, _ := rig.do(t, http.MethodGet)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Location"))
}
