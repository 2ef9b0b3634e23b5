// Package interop holds the tests that put the pkce middleware in front of
// servers built on net/http, chi and Echo, drive it with real clients
// (golang.org/x/oauth2), and compare its decisions with those of
// github.com/ory/fosite. It has no API: everything is in its tests and
// runnable examples, and it is its own module so that the core pulls in none
// of these dependencies.
package interop
