package main

import "github.com/fibd/fibd/internal/cli"

func init() {
	clientCommands["route"] = cli.Route
	clientCommands["nexthop"] = cli.Nexthop
	clientCommands["status"] = cli.Status
	clientCommands["verify"] = cli.Verify
}
