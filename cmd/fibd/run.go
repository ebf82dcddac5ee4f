package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/fibd/fibd/internal/config"
	"github.com/fibd/fibd/internal/logging"
	"github.com/fibd/fibd/internal/sdnotify"
)

const runUsage = `usage: fibd run --config FILE [--check]

Runs the daemon with the configuration in FILE. SIGINT or SIGTERM stops it
and keeps its routes in the kernel unless fib.flush-on-exit is true; a
second signal exits at once. SIGHUP reloads the configuration.

Flags:
`

// runCommand implements `fibd run`.
func runCommand(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("fibd run", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "read the configuration from `FILE` (required)")
	check := flags.Bool("check", false, "validate the configuration and exit")
	flags.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		flags.PrintDefaults()
	}

	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}

		return exitUsage
	}

	switch {
	case flags.NArg() > 0:
		return runUsageError(stderr, flags, fmt.Sprintf("unexpected argument %q", flags.Arg(0)))
	case *configPath == "":
		return runUsageError(stderr, flags, "missing --config FILE")
	}

	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "fibd: %v\n", err)

		return exitError
	}

	if *check {
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(stderr, "fibd: warning: %s\n", w)
		}

		fmt.Fprintf(stdout, "configuration %s is valid\n", *configPath)

		return exitOK
	}

	return runDaemon(*configPath, cfg, stderr)
}

// loadConfig loads and validates the file, including the bgp section.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}

	if err := checkBGP(cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}

	return cfg, nil
}

func runUsageError(stderr io.Writer, flags *flag.FlagSet, problem string) int {
	fmt.Fprintf(stderr, "fibd run: %s\n\n", problem)
	flags.Usage()

	return exitUsage
}

// runDaemon runs the daemon until a signal stops it, and returns the exit
// code.
func runDaemon(configPath string, cfg *config.Config, stderr io.Writer) int {
	logger, err := logging.New(stderr, logging.Options{Level: cfg.Log.Level, Format: cfg.Log.Format})
	if err != nil {
		fmt.Fprintf(stderr, "fibd: %v\n", err)

		return exitError
	}
	defer logger.Flush()

	log := logger.Logger
	notifier := sdnotify.New()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sig := watchSignals(cancel, log, notifier)
	defer sig.stop()

	log.Info("fibd starting", "version", buildVersion(), "config", configPath, "protocol", cfg.Kernel.Protocol)
	for _, w := range cfg.Warnings() {
		log.Warn("configuration warning", "warning", w)
	}

	d := &daemon{
		configPath: configPath,
		cfg:        cfg,
		logger:     logger,
		log:        log,
		notifier:   notifier,
		reloads:    sig.reload,
	}

	if err := d.run(ctx); err != nil {
		log.Error("fibd stopped with an error", logging.Err(err))

		return exitError
	}

	log.Info("fibd stopped")

	return exitOK
}

// componentLogger returns the logger of one part of the daemon.
func componentLogger(log *slog.Logger, name string) *slog.Logger {
	return log.With(logging.KeyComponent, name)
}
