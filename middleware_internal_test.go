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
