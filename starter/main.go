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
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/streampipe/streampipe/internal/cli"
	"github.com/streampipe/streampipe/internal/config"
	"github.com/streampipe/streampipe/internal/misconfig"
	"github.com/streampipe/streampipe/workflows"
)

var usage = cli.Usage{
	Command: "starter <command> [flags]",
	About: `Starts and follows runs of the UserAutomation workflow, which publishes records
(randomuser.me users by default, or gofakeit's when the API fails) to Kafka, and
manages its daily schedule. A worker (the worker program) must be running to
execute the runs.`,
	More: `Commands:
  run                 start one run now and follow it with a progress bar until it
                      ends; Ctrl-C stops following, the run goes on
  schedule create     create the daily schedule, paused, unless it exists
  schedule pause      pause the schedule
  schedule unpause    unpause the schedule
  schedule trigger    start a run from the schedule now
  schedule describe   show the schedule: state, note, input, next and recent runs
  schedule delete     delete the schedule (runs it started go on)
  verify              count a finished run's records among its dataset's rows in
                      Cassandra, waiting for the last ones
  dlq stats           count a dataset's dead letters by reason and by source
                      partition, read from its dead-letter topic (KAFKA_BROKERS)
  dlq replay          re-publish selected dead letters to their source topic, as
                      a resumable DLQReplay workflow, and follow it
  cutover             start streampipe where the Spark job stopped: commit the
                      offsets of a Spark checkpoint's last finished batch as the
                      streaming worker's consumer group offsets (KAFKA_BROKERS)

Every command takes -dataset: users (the default), registered_users or
transactions. Each dataset has a schedule of its own: user-automation for users,
<dataset>-automation for another.

Run 'starter <command> -h' for the flags of a command.`,
	Env: config.StarterVars(),
}

// errUsage reports a command line, configuration or input the starter refuses;
// what is wrong has been printed. It exits 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, cfgErr := config.LoadStarter(os.LookupEnv)
	err := dispatch(ctx, os.Args[1:], cfg, cfgErr, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(cli.ExitUsage)
	case errors.Is(err, errStoppedFollowing):
		os.Exit(130)
	default:
		fmt.Fprintf(os.Stderr, "starter: %v\n", err)
		os.Exit(cli.ExitCode(err))
	}
}

// dispatch runs the command that args name, with the configuration read from the
// environment (cfgErr: what is wrong with it). Nothing connects before the command
// line, the configuration and a run's input are found good.
func dispatch(ctx context.Context, args []string, cfg config.Producer, cfgErr error, stdout, stderr io.Writer) error {
	top := flag.NewFlagSet("starter", flag.ContinueOnError)
	if exit, code := cli.Parse(top, usage, "starter", args, true, stdout, stderr); exit {
		return exitErr(code)
	}
	args = top.Args()
	if len(args) == 0 {
		fmt.Fprint(stderr, "starter: name a command\n\n")
		usage.Write(stderr, nil)
		return errUsage
	}
	name, args := args[0], args[1:]
	if name == "help" {
		usage.Write(stdout, nil)
		return nil
	}
	if sub, ok := groups[name]; ok {
		switch {
		case len(args) == 0:
			fmt.Fprintf(stderr, "starter %s: name a command: %s\n\n", name, sub)
			usage.Write(stderr, nil)
			return errUsage
		case args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
			usage.Write(stdout, nil)
			return nil
		}
		name, args = name+" "+args[0], args[1:]
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "starter: unknown command %q\n\n", name)
		usage.Write(stderr, nil)
		return errUsage
	}
	fs := flag.NewFlagSet("starter "+name, flag.ContinueOnError)
	connectionFlags(fs, &cfg)
	act := cmd.setup(fs, &cfg)
	cmdUsage := cli.Usage{Command: "starter " + name + " [flags]", About: cmd.help, Env: usage.Env}
	if exit, code := cli.Parse(fs, cmdUsage, "starter "+name, args, false, stdout, stderr); exit {
		return exitErr(code)
	}
	if cfgErr != nil {
		cli.BadConfig(stderr, "starter", cfgErr)
		return errUsage
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "starter: warning: unsafe setting: %s\n", w)
	}
	if act.input != nil {
		if err := act.input().Validate(); err != nil {
			badInput(stderr, "starter "+name, err)
			return errUsage
		}
	}
	if act.check != nil {
		if err := act.check(); err != nil {
			badInput(stderr, "starter "+name, err)
			return errUsage
		}
	}
	if act.offline {
		return act.run(ctx, nil, stdout, stderr)
	}
	c, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	return act.run(ctx, c, stdout, stderr)
}

// exitErr is what dispatch returns for cli.Parse's exit code.
func exitErr(code int) error {
	if code == cli.ExitOK {
		return nil
	}
	return errUsage
}

// inputFlags maps a run input's fields (their JSON names, as workflows.InputError
// names them) to the flags that set them.
var inputFlags = map[string]string{
	"dataset": "-dataset", "duration": "-duration", "interval": "-interval",
	"users_per_tick": "-records-per-tick (or -users-per-tick)", "topic": "-topic",
	"dlq_topic": "-dlq-topic", "since": "-since", "max_replays": "-max-replays or -page-size",
}

// badInput prints why a run's input is refused, naming the flag that set the field.
func badInput(w io.Writer, program string, err error) {
	var in *workflows.InputError
	if errors.As(err, &in) {
		fmt.Fprintf(w, "%s: invalid input: %s (flag %s): %s\n", program, in.Field, inputFlags[in.Field], in.Problem)
		return
	}
	fmt.Fprintf(w, "%s: %v\n", program, err)
}

// command is one of the starter's commands: setup declares its flags and returns
// what it does once they are parsed.
type command struct {
	help  string
	setup func(fs *flag.FlagSet, cfg *config.Producer) action
}

// action is a command with its flags parsed.
type action struct {
	// input, if set, is the run input the command sends: it is validated before
	// anything connects.
	input func() workflows.UserAutomationInput
	// check, if set, validates the rest of the command's input before anything
	// connects.
	check func() error
	// offline commands do not talk to Temporal: run gets a nil client.
	offline bool
	run     func(ctx context.Context, c client.Client, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"run":               runCommand,
	"schedule create":   scheduleCreate,
	"schedule pause":    schedulePause,
	"schedule unpause":  scheduleUnpause,
	"schedule trigger":  scheduleTrigger,
	"schedule describe": scheduleDescribe,
	"schedule delete":   scheduleDelete,
	"verify":            verifyCommand,
	"dlq stats":         dlqStats,
	"dlq replay":        dlqReplay,
	"cutover":           cutoverCommand,
}

// groups are the commands that take a command of their own, with those commands.
var groups = map[string]string{
	"schedule": "create, pause, unpause, trigger, describe or delete",
	"dlq":      "stats or replay",
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
	c, err := config.DialTemporal(ctx, cfg, quietLogger(cfg.LogFormat))
	if misconfig.Is(err) {
		return nil, fmt.Errorf("connecting to Temporal at %s (namespace %s): %w", cfg.TemporalAddress, cfg.TemporalNamespace, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w\n"+
			"Check that the server runs (`make stack-up` starts the local one) and that "+
			"-address or TEMPORAL_ADDRESS points at it", cfg.TemporalAddress, cfg.TemporalNamespace, err)
	}
	return c, nil
}
