// Package redisstore is a [pkce.Store] kept in Redis, for authorization
// servers that run more than one instance: the authorization request may
// land on one instance and the token request on another, and every instance
// must see the challenge, and the mark that it was used, at once.
//
//	client := redis.NewClient(&redis.Options{
//		Addr:                  "redis:6379",
//		ContextTimeoutEnabled: true, // let each call's deadline reach the connection
//	})
//	m, err := pkce.New(pkce.Config{Store: redisstore.New(client)})
//
// It keeps every guarantee of [pkce.MemoryStore] (it passes the same
// conformance suite, package storetest) across instances: of any number of
// token requests for one code, on any instances, exactly one gets the
// challenge.
//
// # Redis commands
//
// Save and Take are one round trip each, and use single-key commands only,
// so the store works with Redis Cluster as well as a single server, Sentinel
// or a Ring. It needs Redis 6.2 or newer (SET … GET).
//
//   - Save runs a three-line Lua script: if the key holds the tombstone of a
//     used entry it answers [pkce.ErrUsed] and changes nothing; otherwise it
//     SETs the encoded challenge with a TTL (PX) of ExpiresAt less now, in
//     milliseconds rounded up. The TTL is computed on the instance, so the
//     Redis server's clock need not agree with the instances'.
//   - Take is SET key "u" XX KEEPTTL GET: atomically, it replaces a live
//     entry with the one-byte tombstone "u", keeping its TTL, and returns
//     what was there: nothing ([pkce.ErrNotFound]), the tombstone
//     ([pkce.ErrUsed]) or the challenge, which only this call gets.
//
// # Key layout
//
// One Redis string per authorization code:
//
//	key:   <prefix><store key>   e.g. "pkce:" + 43 base64url characters
//	value: live entry  0x01 <method> <expires> <len> <challenge> <client_id>
//	       used entry  "u"
//	TTL:   until Challenge.ExpiresAt (Config.TTL after the code was issued)
//
// The store key is BASE64URL(SHA-256(code)), derived by the middleware, so
// Redis never holds a code that could be redeemed. In a live entry, <method>
// is one byte ('s' S256, 'p' plain, or 'x' followed by a length-prefixed
// name), <expires> is ExpiresAt in Unix milliseconds as a zig-zag varint
// (6 bytes), <len> a uvarint; the client_id fills the rest. An S256
// challenge of client "demo-app" is 60 bytes.
//
// # Memory
//
// Redis 7.0 on 64-bit Linux reports (MEMORY USAGE) 168 bytes for a live
// entry of an S256 challenge with an 8-byte client_id under the default
// prefix, and 120 bytes once it is used. Counting the expiry table and the
// allocator (used_memory over 100,000 entries, BenchmarkMemoryPerEntry), an
// entry takes about 240 bytes live and 190 used: a million codes issued
// within one TTL need about 240 MB. Entries expire by
// themselves: there is nothing to sweep.
//
// # Failures
//
// A Redis or network error, a done context and an entry this package did
// not write are errors, never [pkce.ErrNotFound], so the middleware fails
// closed: the authorization request gets HTTP 500 and no code, the token
// request HTTP 500 and never reaches the wrapped handler. When Take fails
// the challenge may have been used up, never handed out twice.
package redisstore
