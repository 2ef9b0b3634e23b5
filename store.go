package pkce

import (
	"context"
	"errors"
	"time"
)

// Challenge is the PKCE binding of one authorization code: the code_challenge
// the client sent, its method, and the client it was sent by (RFC 7636 §4.4).
type Challenge struct {
	// Value is the code_challenge as the client sent it.
	Value string
	// Method is the code_challenge_method; absent in the request means Plain
	// (RFC 7636 §4.3).
	Method Method
	// ClientID is the client_id of the authorization request, "" if none.
	ClientID string
	// ExpiresAt is when the store may forget the challenge and the mark that
	// it was used.
	ExpiresAt time.Time
}

// Errors a [Store] returns. Any other error from a Store is a fault: the
// middleware fails closed with HTTP 500 server_error.
var (
	// ErrNotFound means no challenge was ever saved under the key, or it
	// expired.
	ErrNotFound = errors.New("pkce: no challenge recorded for this code")
	// ErrUsed means the challenge was already taken once.
	ErrUsed = errors.New("pkce: challenge already used")
	// ErrStoreFull means the store holds as many live challenges as it may.
	// The authorization request fails closed with HTTP 503.
	ErrStoreFull = errors.New("pkce: challenge store is full")
)

// Store records the challenge of each authorization code between the
// authorization and the token request. Keys are derived from the code by the
// middleware (SHA-256, base64url), so a Store never holds a live code in
// clear. Implementations must be safe for concurrent use; calls are bounded
// by ctx, which carries the request's deadline and [Config.StoreTimeout].
type Store interface {
	// Save records c under key until c.ExpiresAt.
	Save(ctx context.Context, key string, c Challenge) error
	// Take returns the challenge saved under key and marks it used, atomically:
	// of any number of calls for one key, concurrent or not, exactly one gets
	// the challenge; the others get ErrUsed until the entry expires. A Save
	// over a used key never makes it usable again.
	Take(ctx context.Context, key string) (Challenge, error)
}

// storeKey derives the Store key of an authorization code:
// BASE64URL-NOPAD(SHA256(code)), 43 characters. A store dump reveals no code
// that could be redeemed.
func storeKey(code string) string {
	return S256Challenge(code)
}
