package pkce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockingStore blocks every call until released, ignoring its context.
type blockingStore struct{ release chan struct{} }

func (s blockingStore) Save(context.Context, string, Challenge) error {
	<-s.release
	return nil
}

func (s blockingStore) Take(context.Context, string) (Challenge, error) {
	<-s.release
	return Challenge{}, ErrNotFound
}

// A store that stopped answering and ignores its context cannot pile up
// goroutines: past the bound, requests fail at once.
func TestStoreCallsAreBounded(t *testing.T) {
	st := blockingStore{make(chan struct{})}
	m, err := New(Config{Store: st, StoreTimeout: 10 * time.Millisecond})
	require.NoError(t, err)
	m.maxStoreCalls = 2
	h := m.Token(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("passed") }))
	token := func() int {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=authorization_code&code=c&client_id=app"))
		r.Header.Set("Content-Type", mediaForm)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for range 2 {
		assert.Equal(t, http.StatusInternalServerError, token(), "abandoned at the timeout")
	}
	assert.Equal(t, int64(2), m.storeCalls.Load(), "both calls still run")
	assert.Equal(t, http.StatusInternalServerError, token())
	assert.Equal(t, int64(2), m.storeCalls.Load(), "no third goroutine")

	close(st.release)
	require.Eventually(t, func() bool { return m.storeCalls.Load() == 0 }, 5*time.Second, time.Millisecond)
}

// A token request whose challenge is taken under a Restorer costs one
// allocation more than a plain take: the put-back writer. Other requests
// (other grants, codes without a challenge) get no wrapper at all.
func TestTokenPutBackAllocations(t *testing.T) {
	verifier := GenerateVerifier()
	challenge := Challenge{Value: S256Challenge(verifier), Method: S256, ClientID: "app"}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"at"}`))
	})
	body := strings.NewReader("")
	r := httptest.NewRequest(http.MethodPost, "/token", body)
	r.Header.Set("Content-Type", mediaForm)
	w := &statusWriter{h: http.Header{}}
	allocs := func(restore bool, form func(code string) string) float64 {
		m, err := New(Config{})
		require.NoError(t, err)
		if !restore {
			m.restorer = nil
		}
		h := m.Token(ok)
		codes := make([]string, 200)
		for i := range codes {
			codes[i] = "code-" + string(rune('a'+i%26)) + strings.Repeat("x", i)
			require.NoError(t, m.Record(context.Background(), codes[i], challenge))
		}
		i := 0
		return testing.AllocsPerRun(100, func() {
			b := form(codes[i])
			i++
			body.Reset(b)
			r.ContentLength = int64(len(b))
			r.Form, r.PostForm = nil, nil
			w.code = 0
			h.ServeHTTP(w, r)
			if w.code != http.StatusOK {
				t.Fatalf("status %d", w.code)
			}
		})
	}
	checked := func(code string) string {
		return "grant_type=authorization_code&code=" + code + "&client_id=app&code_verifier=" + verifier
	}
	assert.Equal(t, allocs(false, checked)+1, allocs(true, checked), "a checked request: one allocation for the put-back writer")
	refresh := func(string) string { return "grant_type=refresh_token&refresh_token=rt&client_id=app" }
	assert.Equal(t, allocs(false, refresh), allocs(true, refresh), "another grant: no wrapper")
}

// statusWriter keeps the status and nothing else.
type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header { return w.h }
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *statusWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}
