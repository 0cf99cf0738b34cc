// Package e2e holds the integration tests that drive a real consortium:
// Fabric orderers and peers, the chaincode as a service, every department's
// indexer and REST gateway. They are built with the "integration" tag and
// find the consortium through GOVSHARE_RUN (see scripts/integration.sh).
package e2e
