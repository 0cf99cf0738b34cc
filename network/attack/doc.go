// Package attack holds the adversarial integration tests of the consortium
// (issue 11): each test mounts one attack that a department, or a
// coalition of departments holding its own peers' keys, can mount through
// the real network with package forge, then checks every peer's state,
// every indexer's mirror and the audit answers for any trace of the
// forgery, and that the honest path still works. Built with the
// "integration" tag; the consortium is found through GOVSHARE_RUN, as in
// network/e2e.
package attack
