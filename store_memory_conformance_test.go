package pkce_test

import (
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/storetest"
)

// TestMemoryStoreConformance runs the Store conformance suite against
// MemoryStore, a fresh store per subtest.
func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pkce.Store {
		return pkce.NewMemoryStore()
	})
}

// TestMemoryStoreConformanceShared runs the suite against one MemoryStore
// shared by every subtest, as a store with one backend is run.
func TestMemoryStoreConformanceShared(t *testing.T) {
	s := pkce.NewMemoryStore()
	storetest.Run(t, func(t *testing.T) pkce.Store { return s })
}
