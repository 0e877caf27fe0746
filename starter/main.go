// Command starter starts and follows UserAutomation runs and manages their daily
// schedule. Run `starter -h` for its commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/config"
)

const usage = `Usage: starter <command> [flags]

Starts and follows runs of the UserAutomation workflow, which publishes users from
randomuser.me (or gofakeit when it fails) to Kafka, and manages its daily schedule.
A worker (the worker program) must be running to execute the runs.

Commands:
  run                 start one run now and follow it with a progress bar until it
                      ends; Ctrl-C stops following, the run goes on
  schedule create     create the daily schedule, paused, unless it exists
  schedule pause      pause the schedule
  schedule unpause    unpause the schedule
  schedule trigger    start a run from the schedule now
  schedule describe   show the schedule: state, note, next and recent runs
  schedule delete     delete the schedule (runs it started go on)

Run 'starter <command> -h' for the flags of a command.

Environment (flags override):
  TEMPORAL_ADDRESS      Temporal frontend (localhost:7233)
  TEMPORAL_NAMESPACE    namespace (default)
  TEMPORAL_TASK_QUEUE   task queue of the worker (user-automation)
  TEMPORAL_SCHEDULE_ID  schedule id (user-automation)
  TEMPORAL_UI_URL       Web UI for links (http://localhost:8233)
  KAFKA_TOPIC           topic of the runs (users_created)
`

// errUsage reports a command line that could not be understood; usage was printed.
var errUsage = errors.New("usage")

func main() {
	cfg, err := config.LoadProducer(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starter: bad configuration:\n%v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = dispatch(ctx, os.Args[1:], cfg, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, errStoppedFollowing):
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "starter: %v\n", err)
		os.Exit(1)
	}
}

// dispatch runs the command that args name.
func dispatch(ctx context.Context, args []string, cfg config.Producer, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	name, args := args[0], args[1:]
	if name == "schedule" {
		if len(args) == 0 {
			fmt.Fprintf(stderr, "starter schedule: name a command: create, pause, unpause, trigger, describe or delete\n\n%s", usage)
			return errUsage
		}
		name, args = "schedule "+args[0], args[1:]
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "starter: unknown command %q\n\n%s", name, usage)
		return errUsage
	}
	fs := flag.NewFlagSet("starter "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	connectionFlags(fs, &cfg)
	runCmd := cmd.setup(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: starter %s [flags]\n\n%s\n\nFlags:\n", name, cmd.help)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "starter %s: unexpected arguments: %s\n", name, strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	c, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	return runCmd(ctx, c, stdout, stderr)
}

// command is one of the starter's commands: setup declares its flags and returns
// what runs it once they are parsed.
type command struct {
	help  string
	setup func(fs *flag.FlagSet, cfg *config.Producer) func(ctx context.Context, c client.Client, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"run":               runCommand,
	"schedule create":   scheduleCreate,
	"schedule pause":    schedulePause,
	"schedule unpause":  scheduleUnpause,
	"schedule trigger":  scheduleTrigger,
	"schedule describe": scheduleDescribe,
	"schedule delete":   scheduleDelete,
}

// connectionFlags are the flags every command has.
func connectionFlags(fs *flag.FlagSet, cfg *config.Producer) {
	fs.StringVar(&cfg.TemporalAddress, "address", cfg.TemporalAddress, "Temporal frontend `host:port` (TEMPORAL_ADDRESS)")
	fs.StringVar(&cfg.TemporalNamespace, "namespace", cfg.TemporalNamespace, "Temporal namespace (TEMPORAL_NAMESPACE)")
	fs.StringVar(&cfg.WebUIURL, "ui-url", cfg.WebUIURL, "Temporal Web UI base `URL` for links (TEMPORAL_UI_URL)")
}

// taskQueueFlag is the flag of the commands that start runs.
func taskQueueFlag(fs *flag.FlagSet, cfg *config.Producer) {
	fs.StringVar(&cfg.TaskQueue, "task-queue", cfg.TaskQueue, "task queue the worker polls (TEMPORAL_TASK_QUEUE)")
}

func dial(ctx context.Context, cfg config.Producer) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    quietLogger(),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w\n"+
			"Check that the server runs (`make stack-up` starts the local one) and that "+
			"--address or TEMPORAL_ADDRESS points at it", cfg.TemporalAddress, cfg.TemporalNamespace, err)
	}
	return c, nil
}
