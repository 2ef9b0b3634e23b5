package storetest_test

import (
	"testing"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/storetest"
)

// The conformance test of a store is one function in the store's own
// _test.go file. Here it is run against the in-memory store; a SQL, DynamoDB
// or Redis store returns itself instead, connected to a test backend and
// registering its cleanup with t.Cleanup.
func ExampleRun() {
	testConformance := func(t *testing.T) { // func TestConformance(t *testing.T) in a _test.go file
		storetest.Run(t, func(t *testing.T) pkce.Store {
			return pkce.NewMemoryStore()
		})
	}
	_ = testConformance
}
