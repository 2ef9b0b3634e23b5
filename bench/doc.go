// Package bench compares, in one benchmark run, the per-request cost of
// PKCE (RFC 7636) enforcement in github.com/go-pkce/pkce with the PKCE code
// of other Go authorization server libraries:
//
//   - github.com/ory/fosite's handler/pkce, its authorize-side
//     HandleAuthorizeEndpointRequest (validate the challenge, store it in
//     fosite's in-memory storage) and token-side HandleTokenEndpointRequest
//     (look the challenge up, delete it, check the verifier);
//   - github.com/zitadel/oidc/v3's op.AuthorizeCodeChallenge, the check its
//     OP runs at the token endpoint. Its authorization endpoint does no PKCE
//     work of its own (the challenge is saved with the auth request by the
//     application's Storage), so it has no authorize row.
//
// The package holds benchmarks and their tests only; it is its own module so
// that the core module depends on nothing. Every peer is given the same
// verifier and S256 challenge and the same codes, each benchmark fails if a
// request is refused, and TestPeers checks that each setup accepts the right
// verifier and refuses a wrong one.
//
// # Running
//
//	cd bench
//	GOWORK=off go test -run '^$' -bench . -benchmem -count 5
//
// What each row includes, and what it does not, is said on BenchmarkToken
// and BenchmarkAuthorize. Each peer works on a store of the same size: a new
// one every 65,536 operations, set up with the timer stopped.
package bench
