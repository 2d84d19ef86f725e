// Package migrations holds skillsync's database schema as plain SQL files,
// embedded in the binary and applied by store.Migrate with goose.
//
// Files are named NNNNN_description.sql and carry goose's "-- +goose Up"
// annotations. Each migration runs in its own transaction. Never edit a
// migration that has been released; add a new one instead.
//
// In the house (README, Layout; e2e/layout_test.go), it imports nothing of skillsync.
package migrations

import "embed"

// FS holds every migration file at its root, ready for goose.NewProvider.
//
//go:embed *.sql
var FS embed.FS
