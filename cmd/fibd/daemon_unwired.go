//go:build !fibd_wiring

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/fibd/fibd/internal/config"
	"github.com/fibd/fibd/internal/logging"
	"github.com/fibd/fibd/internal/sdnotify"
)

// daemon is the stand-in used until the components build together; see
// daemon.go, which is built with -tags fibd_wiring.
type daemon struct {
	configPath string
	cfg        *config.Config
	logger     *logging.Logger
	log        *slog.Logger
	notifier   *sdnotify.Notifier
	reloads    <-chan struct{}
}

func (d *daemon) run(context.Context) error {
	return errors.New("run daemon: this build has no components: build with -tags fibd_wiring")
}
