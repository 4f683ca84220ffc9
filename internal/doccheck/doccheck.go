// Package doccheck holds the tests that keep README.md honest: every example
// in it is a piece of a file that CI builds, its commands exist, and its
// figures match assets/manifest.json.
package doccheck
