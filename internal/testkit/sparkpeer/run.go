package sparkpeer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stopGrace is how long the job gets to stop its query when ctx ends.
const stopGrace = 30 * time.Second

// batchBuffer is how many finished batches Batches holds unread; beyond it the job
// waits for its reader.
const batchBuffer = 1 << 16

// Batch is a batch the query finished: its offsets are in the checkpoint's commits/.
type Batch struct {
	ID         int64
	Rows       int64
	EndOffsets map[int32]int64 // per partition: the offset after the batch's last record
}

// Run is a running Spark job: the python driver and, its child, Spark's JVM.
type Run struct {
	cmd     *exec.Cmd
	log     io.WriteCloser
	batches chan Batch
	ready   chan struct{}
	done    chan struct{} // closed when the driver has exited and err is set
	err     error
	jvmPid  atomic.Int64
	stopped sync.Once
}

// Start starts the job; the process runs until ctx ends, Stop is called, or
// StopAfterBatches is reached. It returns at once: WaitReady waits for the query.
func (p *Peer) Start(ctx context.Context, job Job) (*Run, error) {
	args, err := job.args(p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(job.Checkpoint, 0o755); err != nil {
		return nil, err
	}
	logFile, err := openLog(job.Log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.Python, args...)
	cmd.Env = append(jobEnv(os.Environ()), "JAVA_HOME="+p.JavaHome)
	cmd.Stderr = logFile
	// Its own process group: Stop's last resort kills the JVM with the driver.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting the Spark job: %w", err)
	}
	r := &Run{cmd: cmd, log: logFile, batches: make(chan Batch, batchBuffer),
		ready: make(chan struct{}), done: make(chan struct{})}
	go r.wait(stdout)
	go func() {
		select {
		case <-ctx.Done():
			_ = r.Stop(stopGrace)
		case <-r.done:
		}
	}()
	return r, nil
}

func openLog(path string) (io.WriteCloser, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
}

// jobEnv is env without what would point pyspark at another Spark than the venv's.
func jobEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SPARK_HOME", "PYSPARK_SUBMIT_ARGS", "JAVA_HOME":
		default:
			out = append(out, kv)
		}
	}
	return out
}

// wait copies the driver's stdout to the log, parsing it, until the driver exits.
func (r *Run) wait(stdout io.Reader) {
	s := bufio.NewScanner(stdout)
	for s.Scan() {
		line := s.Text()
		_, _ = fmt.Fprintln(r.log, line)
		r.handle(line)
	}
	err := r.cmd.Wait()
	if err != nil {
		err = fmt.Errorf("the Spark job (pid %d) failed: %w; its log has why", r.cmd.Process.Pid, err)
	}
	r.err = err
	_ = r.log.Close()
	close(r.batches)
	close(r.done)
}

// handle takes in one line of the job's stdout: its ready and batch lines.
func (r *Run) handle(line string) {
	what, fields, ok := strings.Cut(strings.TrimPrefix(line, "spark-peer "), " ")
	if !ok || !strings.HasPrefix(line, "spark-peer ") {
		return
	}
	switch what {
	case "ready":
		var ready struct {
			JVMPid int64 `json:"jvm_pid"`
		}
		if json.Unmarshal([]byte(fields), &ready) == nil {
			r.jvmPid.Store(ready.JVMPid)
			close(r.ready)
		}
	case "batch":
		if b, err := parseBatch(fields); err == nil {
			r.batches <- b
		}
	}
}

// parseBatch reads a batch line's JSON.
func parseBatch(fields string) (Batch, error) {
	var line struct {
		Batch      int64            `json:"batch"`
		Rows       int64            `json:"rows"`
		EndOffsets map[string]int64 `json:"end_offsets"`
	}
	if err := json.Unmarshal([]byte(fields), &line); err != nil {
		return Batch{}, err
	}
	b := Batch{ID: line.Batch, Rows: line.Rows, EndOffsets: map[int32]int64{}}
	for p, off := range line.EndOffsets {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return Batch{}, err
		}
		b.EndOffsets[int32(n)] = off
	}
	return b, nil
}

// WaitReady returns once the query has started (Spark's JVM is up and the query
// runs), or the error of a job that exited before, or ctx's.
func (r *Run) WaitReady(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	case <-r.done:
		if r.err == nil {
			return errors.New("the Spark job exited before its query started")
		}
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pid is the JVM's pid once the query is ready (it holds the memory), the python
// driver's before.
func (r *Run) Pid() int {
	if pid := r.jvmPid.Load(); pid != 0 {
		return int(pid)
	}
	return r.cmd.Process.Pid
}

// Pids are the driver's and all its descendants' (the JVM's among them): the
// processes whose RSS is the job's.
func (r *Run) Pids() []int { return descendants(r.cmd.Process.Pid) }

// Batches are the batches the query finishes, in order; closed when the job exits.
func (r *Run) Batches() <-chan Batch { return r.batches }

// Stop stops the query gracefully (SIGTERM: the driver calls query.stop()) and,
// if the job has not exited within timeout, kills the driver and the JVM.
func (r *Run) Stop(timeout time.Duration) error {
	var err error
	r.stopped.Do(func() { err = r.stop(timeout) })
	return err
}

func (r *Run) stop(timeout time.Duration) error {
	select {
	case <-r.done:
		return nil
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		return nil
	case <-time.After(timeout):
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
	return fmt.Errorf("the Spark job did not stop within %s of SIGTERM: killed", timeout)
}

// Wait waits for the job to exit and returns its error: nil when it stopped by
// StopAfterBatches or Stop.
func (r *Run) Wait() error {
	<-r.done
	return r.err
}
