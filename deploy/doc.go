// Package deploy holds skillsync's deployment files (a Helm chart, a systemd
// unit, a Grafana dashboard) and their tests. It is a Go module of its own so
// that the Helm SDK its tests render the chart with stays out of skillsync's
// main module.
package deploy
