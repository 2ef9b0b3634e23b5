package pkce_test

import (
	"net/http"
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmokeHappyPath(t *testing.T) {
	s := newStack(t, pkce.Config{})
	v := pkce.GenerateVerifier()
	code := s.code(t, v)
	got := s.exchange(t, code, v)
	require.Equal(t, http.StatusOK, got.Status, got.Description)
	assert.NotEmpty(t, got.AccessToken)
	again := s.exchange(t, code, v)
	assert.Equal(t, "invalid_grant", again.Error)
	t.Log(again.Description)
}
