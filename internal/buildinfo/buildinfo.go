// Package buildinfo describes the running program's build: its version and commit,
// the Go release that built it, and the versions of the clients it talks to the
// servers with. Every program prints it for -version.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// clients are the modules whose versions a program reports: the libraries that speak
// to Temporal, Kafka and Cassandra.
var clients = []string{
	"go.temporal.io/sdk",
	"github.com/segmentio/kafka-go",
	"github.com/apache/cassandra-gocql-driver/v2",
}

// String describes the build of program, on several lines, e.g.
//
//	worker v0.0.0-20261201211120-0c569ef1a2b3 (commit 0c569ef1a2b3, 2026-12-01T21:11:20Z)
//	built with go1.26.8
//	go.temporal.io/sdk v1.50.0
//	github.com/segmentio/kafka-go v0.4.51
//	github.com/apache/cassandra-gocql-driver/v2 v2.1.2
func String(program string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return program + " (no build information)\n"
	}
	return describe(program, bi)
}

func describe(program string, bi *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", program, bi.Main.Version)
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, " (commit %.12s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, ", %s", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(", with uncommitted changes")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "\nbuilt with %s\n", bi.GoVersion)
	for _, path := range clients {
		for _, d := range bi.Deps {
			if d.Path == path {
				if d.Replace != nil {
					d = d.Replace
				}
				fmt.Fprintf(&b, "%s %s\n", path, d.Version)
			}
		}
	}
	return b.String()
}
