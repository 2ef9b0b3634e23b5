// Package auditpanel is a test-only module: it runs the pkcetest audit
// in-process against real authorization servers nobody here wrote and pins
// the verdicts that are deterministic (issue 9). It is not a public module
// and holds no code outside its tests.
package auditpanel
