// Package cli gives every program the same command line: -h and --help print its
// usage (what it does, its flags, the environment variables it reads with their
// defaults) and exit 0; -version prints its build; an unknown flag or argument prints
// the usage and exits 2. All of it happens before the program connects to anything.
package cli

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/streampipe/streampipe/internal/buildinfo"
	"github.com/streampipe/streampipe/internal/envvar"
	"github.com/streampipe/streampipe/internal/misconfig"
)

// Exit codes of the programs.
const (
	ExitOK    = 0
	ExitError = 1
	// ExitUsage is a command line or a configuration the program cannot take.
	ExitUsage = 2
)

// Usage describes a program (or a command of one) for -h.
type Usage struct {
	// Command is how it is called, e.g. "starter run [flags]".
	Command string
	// About says what it does, in a paragraph or two.
	About string
	// Env are the environment variables it reads, with their defaults and meanings:
	// what its configuration loader read from an empty environment.
	Env []envvar.Var
	// More is printed last (e.g. a list of commands).
	More string
}

// Write prints the usage, with fs's flags, to w.
func (u Usage) Write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", u.Command, strings.TrimSpace(u.About))
	if u.More != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(u.More))
	}
	if fs != nil {
		fmt.Fprintln(w, "\nFlags:")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	if len(u.Env) > 0 {
		fmt.Fprintln(w, "\nEnvironment:")
		for _, v := range u.Env {
			fmt.Fprintf(w, "  %s (default %s)\n", v.Name, cmp.Or(v.Default, "unset"))
			wrap(w, "    \t", plain(v.Help), 76)
		}
	}
}

// markup is the Markdown of the variables' meanings: `code` and [text](link).
var markup = regexp.MustCompile("`([^`]*)`|\\[([^]]*)\\]\\(([^)#]*)[^)]*\\)")

// plain is help without its Markdown, for a terminal: a link to a page of docs/
// names the page.
func plain(help string) string {
	return markup.ReplaceAllStringFunc(help, func(m string) string {
		g := markup.FindStringSubmatch(m)
		code, text, page := g[1], g[2], g[3]
		switch {
		case strings.HasPrefix(m, "`"):
			return code
		case !strings.HasSuffix(page, ".md"):
			return text
		case text == page:
			return "docs/" + page
		}
		return text + " (docs/" + page + ")"
	})
}

// wrap writes text in lines of about width characters, each after indent.
func wrap(w io.Writer, indent, text string, width int) {
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			fmt.Fprintf(w, "%s%s\n", indent, line)
			line = ""
		}
		line = strings.TrimPrefix(line+" "+word, " ")
	}
	fmt.Fprintf(w, "%s%s\n", indent, line)
}

// Parse parses args into fs, which holds the program's flags, adding -version. It
// returns exit = true when the program must stop now with code: 0 after -h, --help or
// -version (printed on stdout), 2 after a flag or argument it does not know (the
// error and the usage on stderr). Positional arguments are refused unless
// allowArgs.
func Parse(fs *flag.FlagSet, u Usage, program string, args []string, allowArgs bool, stdout, stderr io.Writer) (exit bool, code int) {
	version := fs.Bool("version", false, "print the program's version and commit, and the versions of the Temporal, Kafka and Cassandra clients it is built with, then exit")
	fs.SetOutput(io.Discard) // the errors are printed below, with the usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		u.Write(stdout, fs)
		return true, ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n\n", program, err)
		u.Write(stderr, fs)
		return true, ExitUsage
	case *version:
		fmt.Fprint(stdout, buildinfo.String(program))
		return true, ExitOK
	case fs.NArg() > 0 && !allowArgs:
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n\n", program, fs.Arg(0))
		u.Write(stderr, fs)
		return true, ExitUsage
	}
	return false, ExitOK
}

// BadConfig prints every configuration error of err (errors.Join'ed, one a line)
// and returns ExitUsage, the code the program exits with.
func BadConfig(stderr io.Writer, program string, err error) int {
	fmt.Fprintf(stderr, "%s: bad configuration:\n", program)
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "  %s\n", line)
	}
	fmt.Fprintf(stderr, "Run '%s -h' for the variables it reads.\n", program)
	return ExitUsage
}

// ExitCode is the code of a program that stops with err: ExitUsage for a
// misconfiguration a server revealed (misconfig), ExitError for any other failure.
func ExitCode(err error) int {
	if misconfig.Is(err) {
		return ExitUsage
	}
	return ExitError
}
