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
// challenge; a key is never rebound to another challenge. It implements
// [pkce.Restorer], so a token request that passed the PKCE check and that
// the wrapped handler then refused (a client authentication retry, say)
// does not cost the client its code, whichever instance the retry reaches.
//
// # Redis Cluster, Sentinel and failover
//
// Give New a [redis.NewClusterClient] for a Redis Cluster, a
// [redis.NewFailoverClient] for Sentinel: each key lives on one master,
// and the store's tests run it on a real cluster of three masters with a
// replica each, through slot migrations (the client follows ASK and MOVED)
// and failovers. While a master is down and until its replica takes over,
// the requests whose codes it holds fail closed (HTTP 500, never a pass);
// then they work again on the same client. After a fault the store asks a
// cluster client to reload the cluster's layout, which go-redis would
// otherwise keep for ClusterStateReloadInterval (60 s) when a master stops
// answering.
//
// Redis replicates asynchronously. A master that dies right after a write
// can lose it: a lost Take lets a used code pass its PKCE check once more,
// a lost Save leaves a code without its challenge (under an optional
// policy, it then passes without a verifier). [WithReplicaAck] closes that
// window: each write waits for its replicas (WAIT, on the connection of the
// write) and fails closed when they do not acknowledge it in time, so a
// code passes its check at most once across a failover. See
// docs/stores.md for what each setting survives.
//
// # Redis commands
//
// Every operation is one round trip: an EVAL of a short Lua script on one
// key, atomic in Redis, so the store works with Redis Cluster as well as a
// single server, Sentinel or a Ring. It needs Redis 6.2 or newer. Under
// [WithReplicaAck] the EVAL and a WAIT go together in one pipeline to the
// key's master: still one round trip.
//
//   - Save: if the key holds a used entry it answers [pkce.ErrUsed]; if it
//     holds a live entry with another challenge (Value, Method or ClientID
//     differ) [pkce.ErrExists]; with the same challenge, nil; and in all
//     three cases it changes nothing. Only a free key (no entry, or an
//     expired one) is SET, with a TTL (PX) of ExpiresAt less now, in
//     milliseconds rounded up. The TTL is computed on the instance, so the
//     Redis server's clock need not agree with the instances'.
//   - Take and TakeAs: a live entry is replaced, keeping its TTL (KEEPTTL),
//     by a used entry that holds the take's mark and the live entry as it
//     was, and the challenge is returned; an entry this take already marked
//     returns the challenge again; one another take marked answers
//     [pkce.ErrUsed]; no entry, [pkce.ErrNotFound]. TakeAs marks with the
//     caller's take identifier; Take with a random one of its own.
//   - Restore: if the entry is marked by TakeAs with this take, the live
//     entry it holds is put back, keeping the TTL; otherwise nothing
//     changes.
//
// go-redis re-sends a command whose answer it did not get (EOF, a read
// timeout), up to MaxRetries times, though Redis may have run it. Each
// script gives the same answer, and leaves the same entry, when it runs
// again: a re-sent Save finds its own challenge, a re-sent Take or TakeAs
// its own mark, a re-sent Restore no longer finds its mark. So retries need
// not be turned off, and one request never acts twice. Under
// [WithReplicaAck] a re-sent Save or take that finds its entry writes it
// again, unchanged, so that the WAIT after it, on a connection that may
// have written nothing, still waits for that entry.
//
// # Key layout
//
// One Redis string per authorization code:
//
//	key:   <prefix><store key>   e.g. "pkce:" + 43 base64url characters
//	value: live entry  0x01 <method> <expires> <len> <challenge> <client_id>
//	       used entry  0x02 <take> <live entry>   used by Take: final
//	                   0x03 <take> <live entry>   used by TakeAs(take): Restore(take) undoes it
//	TTL:   until Challenge.ExpiresAt (Config.TTL after the code was issued)
//
// The store key is BASE64URL(SHA-256(code)), derived by the middleware, so
// Redis never holds a code that could be redeemed. In a live entry (format
// 1), <method> is one byte ('s' S256, 'p' plain, or 'x' followed by a
// length-prefixed name), <expires> is ExpiresAt in Unix milliseconds as a
// zig-zag varint (6 bytes), <len> a uvarint; the client_id fills the rest.
// A pushed authorization request's entry (key "<prefix>par:" + 43
// base64url characters, read by [Store.Peek]) has an upper-case method
// byte ('S', 'P', 'X') followed, after the method, by its length-prefixed
// redirect URI, which is then part of what Save compares; earlier versions
// do not read such entries, so let every instance run this version before
// the PAR endpoint is wrapped.
// An S256 challenge of client "demo-app" is 60 bytes. The live entry less
// <expires> identifies the challenge: it is what Save compares. In a used
// entry, <take> is the take identifier, 8 bytes big-endian; such an entry
// of a "demo-app" challenge is 69 bytes.
//
// # Rolling upgrades
//
// Versions before this one wrote live entries in the same format 1, and
// marked a used entry by replacing it with the one-byte tombstone "u". This
// version reads both: a tombstone is a used entry that nothing restores.
// An earlier instance still reads the live entries this version writes, so
// codes issued on either redeem on either. An earlier instance answers a
// server error, not [pkce.ErrUsed], for a used entry of this version, and
// its Save replaces any entry but a tombstone, used entries of this
// version included: the no-rebind rule holds once every instance runs this
// version. Finish a rollout within minutes, not days.
//
// # Memory
//
// Redis 7.0 on 64-bit Linux reports (MEMORY USAGE) 168 bytes for a live
// entry of an S256 challenge with an 8-byte client_id under the default
// prefix, and 184 bytes once it is used. Counting the expiry table and the
// allocator (used_memory over 100,000 entries, BenchmarkMemoryPerEntry), an
// entry takes about 240 bytes live and 255 used: a million codes issued
// within one TTL need about 255 MB. Entries expire by themselves: there is
// nothing to sweep.
//
// # Failures
//
// A Redis or network error, a done context and an entry this package did
// not write are errors, never [pkce.ErrNotFound], so the middleware fails
// closed: the authorization request gets HTTP 500 and no code, the token
// request HTTP 500 and never reaches the wrapped handler. Under
// [WithReplicaAck] so is a write its replicas did not acknowledge in time
// ([ErrReplicaAck]): it did happen on the master, so a Take that failed
// this way leaves the code used there. Save never writes
// over an entry it cannot read. When Take fails the challenge may have been
// used up, never handed out twice; when Restore fails the code may stay
// used up (fail closed), and a Restore never undoes another take.
package redisstore
