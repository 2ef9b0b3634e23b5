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
	// RedirectURI is, for a pushed authorization request (RFC 9126,
	// [Middleware.PAR]), the redirect_uri it was pushed with (its request
	// object's when it had one); "" otherwise. Nothing else of a pushed
	// request is kept. A [Store] that implements [Peeker] keeps it; the
	// middleware never compares it when a key is saved again.
	RedirectURI string
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
	// ErrExists means Save found a live, unused entry under the key with
	// another challenge. A key is never rebound: binding a code to a second
	// challenge would let whoever holds a stolen code choose its verifier.
	// The authorization response fails closed with HTTP 500.
	ErrExists = errors.New("pkce: another challenge is already recorded for this code")
)

// Store records the challenge of each authorization code between the
// authorization and the token request. Keys are derived from the code by the
// middleware (SHA-256, base64url), so a Store never holds a live code in
// clear. Implementations must be safe for concurrent use; calls are bounded
// by ctx, which carries the request's deadline and [Config.StoreTimeout].
//
// A Store never rebinds a key: Save over a live entry that is used returns
// [ErrUsed], Save over a live unused entry with another challenge (Value,
// Method or ClientID differ) returns [ErrExists], and both change nothing.
// A Save of the same challenge again (a retry, or [Middleware.Record]
// followed by the capture of the same code) succeeds. Once an entry has
// expired its key is free again. storetest.Run checks all of this.
type Store interface {
	// Save records c under key until c.ExpiresAt, unless the key holds a
	// live entry: see the type's documentation.
	Save(ctx context.Context, key string, c Challenge) error
	// Take returns the challenge saved under key and marks it used, atomically:
	// of any number of calls for one key, concurrent or not, exactly one gets
	// the challenge; the others get ErrUsed until the entry expires (or until
	// the taker puts it back through [Restorer]). A Save over a used key never
	// makes it usable again.
	Take(ctx context.Context, key string) (Challenge, error)
}

// Restorer is the optional ability of a [Store] to undo a take, so that a
// token request the wrapped handler refused after a passed PKCE check does
// not cost the client its code (a wrong client secret, say: the client's
// corrected retry gets its token, as from the bare server).
// golang.org/x/oauth2's default AuthStyle depends on it: it tries HTTP
// Basic first and, when the server refuses, retries with the credentials
// in the body.
//
// The middleware uses it when the Store implements it: it takes with
// TakeAs under an identifier unique to the request, and calls Restore with
// it when the wrapped token handler answers with a status of 400 or more,
// before that answer's first byte leaves. A Store without it keeps the
// plain behaviour: every take, refused or not, uses the code up.
//
// [MemoryStore] and the Redis store implement it. A third-party store must
// keep these semantics, which storetest.Run checks when the store
// implements the interface:
//
//   - TakeAs is Take that marks the entry as taken by take. The middleware
//     draws take at random from 1 to 2^63, so a store may reserve 0 and
//     the values above for its own marks (MemoryStore refuses 0). A
//     repeat of TakeAs with the same take for an entry that take already
//     holds returns the challenge again: a network client that re-sends a
//     command after a lost answer must not turn one take into two.
//   - Restore makes the entry under key usable again if, and only if, it is
//     live and still marked as taken by take; it changes nothing otherwise
//     (another take since, a second Restore, an expired or unknown entry),
//     and returns nil then too. It keeps the entry's expiry. Its errors are
//     faults only (a done ctx among them, returned wrapping ctx.Err()):
//     the middleware then leaves the code used up (fail closed).
//   - Both are atomic with Save and Take: of concurrent calls for one key,
//     at most one take holds the challenge at a time.
type Restorer interface {
	TakeAs(ctx context.Context, key string, take uint64) (Challenge, error)
	Restore(ctx context.Context, key string, take uint64) error
}

// Peeker is the optional ability of a [Store] to look a challenge up
// without using it up. [Middleware.PAR] needs it: a pushed authorization
// request (RFC 9126) is recorded under a key derived from its request_uri,
// and the authorization request that names the request_uri looks it up,
// once per pass (a login page in between makes two), before the code the
// wrapped handler issues is bound to it; the pushed entry is then taken
// (Take), which makes the request_uri single use (RFC 9126 §4). With a
// Store that lacks it, [Middleware.PAR] refuses every pushed request with
// HTTP 500 and an Error log saying why; nothing else changes.
//
// [MemoryStore] and the Redis store implement it. A third-party store must
// keep these semantics, which storetest.Run checks when the store
// implements the interface:
//
//   - Peek returns the challenge saved under key, every field as saved
//     (RedirectURI included), and changes nothing: the entry stays
//     unused, and any number of Peeks may precede its Take.
//   - Peek of an entry that was taken (Take, or TakeAs until a Restore)
//     returns [ErrUsed]; of a key never saved, or of an expired entry,
//     [ErrNotFound].
//   - Its errors other than those are faults (a done ctx among them,
//     returned wrapping ctx.Err()): the middleware fails closed.
//   - Keys of pushed requests have a form no code key takes ("par:" and
//     43 base64url characters): the store treats them as any other key.
type Peeker interface {
	Peek(ctx context.Context, key string) (Challenge, error)
}

// storeKey derives the Store key of an authorization code:
// BASE64URL-NOPAD(SHA256(code)), 43 characters. A store dump reveals no code
// that could be redeemed.
func storeKey(code string) string {
	return S256Challenge(code)
}
